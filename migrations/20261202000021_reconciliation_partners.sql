-- Ramp partners are configuration: a name, the kind of adapter that reads their reports, and
-- the bank account their fiat moves through.
CREATE TABLE reconciliation.partners (
    name             TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    kind             TEXT NOT NULL CHECK (kind IN ('csv_report')),
    bank_account_id  UUID NOT NULL REFERENCES reconciliation.bank_accounts (id),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
