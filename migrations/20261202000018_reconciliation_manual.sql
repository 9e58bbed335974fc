-- Manual reconciliation decisions: treasury pins an order to a bank line or chain transfer
-- (match) or forbids that pairing (unmatch), always with a reason. Append-only: a later decision
-- on the same pair supersedes an earlier one, and every decision is also in the audit log.
CREATE TABLE reconciliation.manual_decisions (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('match', 'unmatch')),
    order_id        UUID NOT NULL REFERENCES reconciliation.ramp_orders (id),
    bank_line_id    UUID REFERENCES reconciliation.bank_lines (id),
    observation_id  UUID REFERENCES chain.observations (id),
    reason          TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    decided_by      UUID NOT NULL REFERENCES platform.console_users (id),
    decided_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT manual_decisions_one_side CHECK ((bank_line_id IS NULL) <> (observation_id IS NULL))
);
CREATE INDEX manual_decisions_order ON reconciliation.manual_decisions (order_id, decided_at);
CREATE TRIGGER manual_decisions_append_only BEFORE UPDATE OR DELETE ON reconciliation.manual_decisions
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
