-- The audit log (issue #6): every compliance-relevant action, append-only and hash-chained.
-- Each row's hash covers its fields and the previous row's hash (see corridor_store::audit), so
-- `corridor audit verify` finds an edited, deleted or reordered row; triggers refuse UPDATE,
-- DELETE and TRUNCATE, so a change needs a superuser disabling them first, and then shows.
CREATE TABLE platform.audit_log (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    at         TIMESTAMPTZ NOT NULL,
    -- Who: "console user usr_...", "api key key_...", "cli", "system".
    actor      TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    -- What, as a stable code: sanctions_list.imported, payout.review_decided ...
    action     TEXT NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    subject    TEXT NOT NULL,
    detail     JSONB NOT NULL,
    prev_hash  TEXT NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash       TEXT NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON platform.audit_log
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON platform.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.forbid_change();
