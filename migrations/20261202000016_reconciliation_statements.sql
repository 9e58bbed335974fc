-- Treasury reconciliation (issue #7), first part: the bank accounts treasury reconciles and the
-- bank statements imported for them, line by line. Imports are append-only: a file is stored
-- once (by its SHA-256), and a line seen before in another file is kept but marked as a
-- duplicate of the first, so the matching engine can report it instead of counting it twice.
CREATE SCHEMA reconciliation;

CREATE TABLE reconciliation.bank_accounts (
    id          UUID PRIMARY KEY,
    -- IBAN or the bank's account number, upper case without spaces.
    account     TEXT NOT NULL UNIQUE CHECK (account ~ '^[A-Z0-9/.-]{1,64}$'),
    currency    TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The ramp partner this account settles with, if any.
    partner     TEXT CHECK (length(partner) BETWEEN 1 AND 100),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reconciliation.statement_files (
    id              UUID PRIMARY KEY,
    sha256          BYTEA NOT NULL CONSTRAINT statement_files_once UNIQUE,
    file_name       TEXT NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    format          TEXT NOT NULL CHECK (format IN ('camt.052', 'camt.053', 'camt.054', 'mt940', 'bai2')),
    statements      INTEGER NOT NULL CHECK (statements > 0),
    lines           INTEGER NOT NULL CHECK (lines >= 0),
    duplicate_lines INTEGER NOT NULL CHECK (duplicate_lines >= 0 AND duplicate_lines <= lines),
    imported_by     UUID REFERENCES platform.console_users (id),
    imported_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reconciliation.bank_lines (
    id                   UUID PRIMARY KEY,
    file_id              UUID NOT NULL REFERENCES reconciliation.statement_files (id),
    bank_account_id      UUID NOT NULL REFERENCES reconciliation.bank_accounts (id),
    statement_ref        TEXT NOT NULL,
    -- Where the entry starts in its file, for people reading the file next to the report.
    file_line            INTEGER NOT NULL CHECK (file_line > 0),
    amount               NUMERIC NOT NULL,
    currency             TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    booking_date         DATE,
    value_date           DATE,
    bank_reference       TEXT,
    end_to_end_id        TEXT,
    reference            TEXT,
    counterparty_name    TEXT,
    counterparty_account TEXT,
    description          TEXT,
    type_code            TEXT,
    -- SHA-256 over what identifies the movement (see reconciliation::import::dedupe_key).
    dedupe_key           BYTEA NOT NULL,
    duplicate_of         UUID REFERENCES reconciliation.bank_lines (id),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bank_lines_one_per_file_line UNIQUE (file_id, file_line, statement_ref, dedupe_key)
);
-- The first line with a key is the original; every later one points at it.
CREATE UNIQUE INDEX bank_lines_first_of_key ON reconciliation.bank_lines (dedupe_key) WHERE duplicate_of IS NULL;
CREATE INDEX bank_lines_account_date ON reconciliation.bank_lines (bank_account_id, booking_date);

CREATE TRIGGER statement_files_append_only BEFORE UPDATE OR DELETE ON reconciliation.statement_files
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER bank_lines_append_only BEFORE UPDATE OR DELETE ON reconciliation.bank_lines
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
