-- The exceptions queue: treasury assigns a run's exception to a person, with a note. Append-only;
-- the latest assignment of a result is the current one.
CREATE TABLE reconciliation.assignments (
    id           UUID PRIMARY KEY,
    run_id       UUID NOT NULL,
    seq          INTEGER NOT NULL,
    assignee     UUID NOT NULL REFERENCES platform.console_users (id),
    note         TEXT NOT NULL CHECK (length(note) <= 500),
    assigned_by  UUID NOT NULL REFERENCES platform.console_users (id),
    assigned_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (run_id, seq) REFERENCES reconciliation.results (run_id, seq)
);
CREATE INDEX assignments_result ON reconciliation.assignments (run_id, seq, assigned_at DESC);
CREATE TRIGGER assignments_append_only BEFORE UPDATE OR DELETE ON reconciliation.assignments
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
