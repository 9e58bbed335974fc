-- Who is working a held payout (issue #6/#9 review queue): one claimant per payout at a time.
-- A claim is ownership for the queue, not a lock: any officer may still approve, and four-eyes
-- still needs two different approvers. Taking over another officer's claim is explicit.
CREATE TABLE payouts.review_claims (
    payout_id   UUID PRIMARY KEY REFERENCES payouts.payouts (id),
    claimed_by  UUID NOT NULL REFERENCES platform.console_users (id),
    claimed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
