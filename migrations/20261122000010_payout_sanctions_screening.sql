-- Compliance screens every payout against the sanctions lists before the payouts service
-- decides on it: one finding per payout, written once. The payouts service waits for it (fail
-- closed) and binds it into the decision whose hash goes on chain.
CREATE TABLE compliance.payout_screenings (
    payout_id      UUID PRIMARY KEY REFERENCES payouts.payouts (id),
    -- block: a listed address; review: a listed name at or above the threshold, or no list
    -- loaded; allow: neither.
    outcome        TEXT NOT NULL CHECK (outcome IN ('allow', 'review', 'block')),
    -- Each hit with its evidence (list, entry, matched name, score breakdown, threshold).
    findings       JSONB NOT NULL,
    -- The list versions screened against: [{source, id, content_hash}].
    list_versions  JSONB NOT NULL,
    screened_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
