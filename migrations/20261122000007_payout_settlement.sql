-- Payout screening, review and settlement (issue #4).
--
-- A payout moves pending_screening -> (cleared | held -> approved | rejected) -> submitted ->
-- confirmed -> completed, or failed. Every decision is a row here with a hash; the hashes of a
-- batch's decisions are folded into the decision hash the compliance signer attests and the
-- PayoutRouter records next to each payout id on chain.

-- What a receipt cost: the settlement books it as a network fee.
ALTER TABLE chain.intents
    ADD COLUMN gas_used BIGINT CHECK (gas_used >= 0),
    ADD COLUMN effective_gas_price NUMERIC CHECK (effective_gas_price >= 0);

-- One row per screening run of a payout. The interim screener (rules over amount and travel
-- rule data) writes these until the compliance service (issue #6) does.
CREATE TABLE payouts.screenings (
    id             UUID PRIMARY KEY,
    payout_id      UUID NOT NULL REFERENCES payouts.payouts (id),
    decision       TEXT NOT NULL CHECK (decision IN ('cleared', 'held', 'blocked')),
    screener       TEXT NOT NULL,
    -- Each rule that fired: {rule, detail}. Empty when cleared.
    reasons        JSONB NOT NULL,
    -- keccak256 of the canonical decision record; what the attestation binds.
    decision_hash  TEXT NOT NULL CHECK (decision_hash ~ '^0x[0-9a-f]{64}$'),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX screenings_by_payout ON payouts.screenings (payout_id, created_at);

-- A reviewer's decision on a held payout. One per payout: a second decision is refused.
CREATE TABLE payouts.reviews (
    payout_id      UUID PRIMARY KEY REFERENCES payouts.payouts (id),
    decision       TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reviewer       UUID NOT NULL REFERENCES platform.console_users (id),
    reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    decision_hash  TEXT NOT NULL CHECK (decision_hash ~ '^0x[0-9a-f]{64}$'),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Attestation nonces are handed out in sequence so the router's bitmap fills word by word.
CREATE SEQUENCE payouts.attestation_nonce AS BIGINT MINVALUE 1;

-- One on-chain payBatch: the items it pays, the attestation, and the chain intent sending it.
CREATE TABLE payouts.settlements (
    id                 UUID PRIMARY KEY,
    chain_id           BIGINT NOT NULL,
    asset              TEXT NOT NULL,
    token              TEXT NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
    router             TEXT NOT NULL CHECK (router ~ '^0x[0-9a-f]{40}$'),
    attestation_nonce  BIGINT NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    decision_hash      TEXT NOT NULL CHECK (decision_hash ~ '^0x[0-9a-f]{64}$'),
    item_count         INT NOT NULL CHECK (item_count BETWEEN 1 AND 1000),
    intent_id          UUID NOT NULL UNIQUE REFERENCES chain.intents (id),
    status             TEXT NOT NULL DEFAULT 'submitted'
                       CHECK (status IN ('submitted', 'confirmed', 'completed', 'failed')),
    tx_hash            TEXT,
    -- Native-asset base units (wei) the transaction cost; booked once as a network fee.
    gas_wei            NUMERIC CHECK (gas_wei >= 0),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT settlements_nonce_once UNIQUE (chain_id, router, attestation_nonce)
);
CREATE INDEX settlements_open ON payouts.settlements (status, created_at) WHERE status IN ('submitted', 'confirmed');

-- A merchant's batch request; its items are ordinary payouts that point back to it.
CREATE TABLE payouts.batches (
    id           UUID PRIMARY KEY,
    merchant_id  UUID NOT NULL REFERENCES platform.merchants (id),
    item_count   INT NOT NULL CHECK (item_count BETWEEN 1 AND 1000),
    accepted     INT NOT NULL CHECK (accepted >= 0),
    -- Items refused under partial acceptance: [{index, code, detail}].
    rejected     JSONB NOT NULL DEFAULT '[]',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE payouts.payouts
    ADD COLUMN decision_hash TEXT CHECK (decision_hash ~ '^0x[0-9a-f]{64}$'),
    ADD COLUMN settlement_id UUID REFERENCES payouts.settlements (id),
    ADD COLUMN tx_hash TEXT CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    -- This payout's share of the settlement's gas, in the chain's native asset.
    ADD COLUMN gas_native NUMERIC CHECK (gas_native >= 0),
    ADD COLUMN batch_id UUID REFERENCES payouts.batches (id),
    ADD COLUMN batch_index INT CHECK (batch_index >= 0),
    ADD CONSTRAINT payouts_batch_index_once UNIQUE (batch_id, batch_index);
CREATE INDEX payouts_by_settlement ON payouts.payouts (settlement_id) WHERE settlement_id IS NOT NULL;
CREATE INDEX payouts_ready ON payouts.payouts (chain_id, asset, updated_at) WHERE status IN ('cleared', 'approved');
