-- When a list version was last confirmed current: its import, or a later import of the same
-- files (the publisher had nothing new). Screening holds every payout when an active version
-- has not been confirmed within the configured age (CORRIDOR_SANCTIONS_MAX_AGE_HOURS).
ALTER TABLE compliance.list_versions ADD COLUMN confirmed_at TIMESTAMPTZ NOT NULL DEFAULT now();
