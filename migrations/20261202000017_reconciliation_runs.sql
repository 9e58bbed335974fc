-- Reconciliation (issue #7), second part: ramp orders (our book of what should happen at the
-- bank and on chain) and reconciliation runs with their results. A run is a record, never
-- edited: running the same period again writes a new run whose report hash can be compared.
CREATE TABLE reconciliation.ramp_orders (
    id               UUID PRIMARY KEY,
    direction        TEXT NOT NULL CHECK (direction IN ('on', 'off')),
    partner          TEXT NOT NULL CHECK (length(partner) BETWEEN 1 AND 100),
    bank_account_id  UUID NOT NULL REFERENCES reconciliation.bank_accounts (id),
    fiat_amount      NUMERIC NOT NULL CHECK (fiat_amount > 0),
    fiat_currency    TEXT NOT NULL CHECK (fiat_currency ~ '^[A-Z]{3}$'),
    asset            TEXT NOT NULL,
    chain_id         BIGINT NOT NULL,
    token_contract   TEXT NOT NULL CHECK (token_contract ~ '^0x[0-9a-f]{40}$'),
    -- Base units of the token on that chain.
    token_units      NUMERIC NOT NULL CHECK (token_units > 0 AND token_units = trunc(token_units)),
    -- The treasury (on-ramp) or the partner's deposit address (off-ramp).
    chain_address    TEXT NOT NULL CHECK (chain_address ~ '^0x[0-9a-f]{40}$'),
    fee              NUMERIC NOT NULL DEFAULT 0 CHECK (fee >= 0),
    fx_rate          NUMERIC CHECK (fx_rate > 0),
    reference        TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
    expected_on      DATE NOT NULL,
    created_by       UUID REFERENCES platform.console_users (id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ramp_orders_reference_once UNIQUE (partner, reference)
);
CREATE INDEX ramp_orders_expected ON reconciliation.ramp_orders (expected_on);

CREATE TABLE reconciliation.runs (
    id            UUID PRIMARY KEY,
    period_from   DATE NOT NULL,
    period_to     DATE NOT NULL,
    rules         JSONB NOT NULL,
    -- SHA-256 of the canonical report: the same books, lines and transfers give the same hash.
    report_hash   BYTEA NOT NULL,
    summary       JSONB NOT NULL,
    created_by    UUID REFERENCES platform.console_users (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT runs_period_forward CHECK (period_from <= period_to)
);

CREATE TABLE reconciliation.results (
    run_id        UUID NOT NULL REFERENCES reconciliation.runs (id),
    seq           INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('matched', 'partially_matched', 'ledger_only', 'bank_only', 'chain_only')),
    exceptions    TEXT[] NOT NULL,
    order_id      UUID REFERENCES reconciliation.ramp_orders (id),
    bank_line_id  UUID REFERENCES reconciliation.bank_lines (id),
    observation_id UUID REFERENCES chain.observations (id),
    confidence    SMALLINT NOT NULL CHECK (confidence BETWEEN 0 AND 100),
    detail        TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TRIGGER ramp_orders_append_only BEFORE UPDATE OR DELETE ON reconciliation.ramp_orders
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER runs_append_only BEFORE UPDATE OR DELETE ON reconciliation.runs
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER results_append_only BEFORE UPDATE OR DELETE ON reconciliation.results
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
