-- CSV bank exports: each bank account may store the column mapping its CSV exports are read
-- with, and statement files may be CSV.
CREATE TABLE reconciliation.csv_mappings (
    bank_account_id  UUID PRIMARY KEY REFERENCES reconciliation.bank_accounts (id),
    mapping          JSONB NOT NULL,
    updated_by       UUID REFERENCES platform.console_users (id),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE reconciliation.statement_files DROP CONSTRAINT statement_files_format_check;
ALTER TABLE reconciliation.statement_files ADD CONSTRAINT statement_files_format_check
    CHECK (format IN ('camt.052', 'camt.053', 'camt.054', 'mt940', 'bai2', 'csv'));
