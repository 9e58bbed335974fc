-- Four-eyes review of held payouts (issue #6): each approval is its own row, and a payout is
-- approved only when CORRIDOR_REVIEW_APPROVALS distinct reviewers have approved it. The final
-- decision still lands once in payouts.reviews.
CREATE TABLE payouts.review_approvals (
    payout_id   UUID NOT NULL REFERENCES payouts.payouts (id),
    reviewer    UUID NOT NULL REFERENCES platform.console_users (id),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    -- What the reviewer saw and approved: a later change to either would not carry the approval.
    amount      NUMERIC NOT NULL CHECK (amount > 0),
    recipient   TEXT NOT NULL CHECK (recipient ~ '^0x[0-9a-f]{40}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The same person cannot count twice.
    PRIMARY KEY (payout_id, reviewer)
);

CREATE FUNCTION payouts.review_approvals_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payouts.review_approvals is append-only: % is not allowed', TG_OP
        USING ERRCODE = '42501';
END $$;
CREATE TRIGGER review_approvals_append_only BEFORE UPDATE OR DELETE ON payouts.review_approvals
    FOR EACH ROW EXECUTE FUNCTION payouts.review_approvals_append_only();
