-- SMB payouts (issue #4): the beneficiary address book and payouts with their timeline.
-- Money itself lives in the ledger: a payout holds its amount plus fee (available -> reserved)
-- in the same transaction that creates the row.
CREATE SCHEMA payouts;

CREATE TABLE payouts.beneficiaries (
    id           UUID PRIMARY KEY,
    merchant_id  UUID NOT NULL REFERENCES platform.merchants (id),
    kind         TEXT NOT NULL CHECK (kind IN ('individual', 'business')),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country      TEXT NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    chain_id     BIGINT NOT NULL CHECK (chain_id > 0),
    -- Lowercase hex; the API accepts EIP-55 or lowercase input and stores this form.
    address      TEXT NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    -- IVMS101-shaped originator/beneficiary identity data for the travel rule, as given.
    travel_rule  JSONB,
    -- A new or changed address can be paid only from this moment (cooling-off period).
    usable_from  TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX beneficiaries_by_merchant ON payouts.beneficiaries (merchant_id, id);

CREATE TABLE payouts.payouts (
    id                UUID PRIMARY KEY,
    merchant_id       UUID NOT NULL REFERENCES platform.merchants (id),
    -- Unique per merchant forever: an expired idempotency key still cannot pay twice.
    client_reference  TEXT NOT NULL CHECK (length(client_reference) BETWEEN 1 AND 100),
    beneficiary_id    UUID NOT NULL REFERENCES payouts.beneficiaries (id),
    asset             TEXT NOT NULL,
    chain_id          BIGINT NOT NULL,
    -- Snapshot of the beneficiary's address when the payout was created.
    recipient         TEXT NOT NULL CHECK (recipient ~ '^0x[0-9a-f]{40}$'),
    amount            NUMERIC NOT NULL CHECK (amount > 0),
    fee               NUMERIC NOT NULL CHECK (fee >= 0),
    purpose           TEXT NOT NULL CHECK (length(purpose) BETWEEN 1 AND 140),
    status            TEXT NOT NULL CHECK (status IN (
                          'pending_screening', 'held', 'approved', 'rejected', 'cleared',
                          'submitted', 'confirmed', 'completed', 'failed', 'canceled')),
    hold_id           UUID NOT NULL UNIQUE REFERENCES ledger.holds (id),
    failure_code      TEXT,
    failure_reason    TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT payouts_client_reference_unique UNIQUE (merchant_id, client_reference)
);
CREATE INDEX payouts_by_merchant ON payouts.payouts (merchant_id, id);
CREATE INDEX payouts_by_status ON payouts.payouts (status, id)
    WHERE status IN ('pending_screening', 'approved', 'cleared', 'submitted', 'confirmed');

-- Every state a payout reached, when, and why: the timeline the API shows. Append-only.
CREATE TABLE payouts.timeline (
    payout_id  UUID NOT NULL REFERENCES payouts.payouts (id),
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    status     TEXT NOT NULL,
    detail     JSONB NOT NULL DEFAULT '{}',
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (payout_id, seq)
);

CREATE FUNCTION payouts.timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payouts.timeline is append-only';
END $$;
CREATE TRIGGER timeline_append_only BEFORE UPDATE OR DELETE ON payouts.timeline
    FOR EACH ROW EXECUTE FUNCTION payouts.timeline_append_only();
