-- Yield on the float (issue #8): merchants' enrolment, yield sources (issuer and partner rewards),
-- one distribution per asset and period, its allocations, and adjusting entries.
-- Money moves only through ledger entries; these tables say why and how much.
CREATE SCHEMA yield;

-- Exclusion constraints over (asset, period) need equality on text inside a GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Time-window reads of ledger history (balance-seconds of a period) start from the period's
-- first posting instead of scanning every account's whole history.
CREATE INDEX postings_created_at ON ledger.postings (created_at);

-- A merchant earns yield only while enrolled: balance-seconds before `opted_in_at` do not count.
-- The jurisdiction is set by the platform (KYC), never by the merchant, because eligibility
-- excludes some jurisdictions.
CREATE TABLE yield.merchant_settings (
    merchant_id   UUID PRIMARY KEY REFERENCES platform.merchants (id),
    opted_in_at   TIMESTAMPTZ,
    jurisdiction  TEXT CHECK (jurisdiction ~ '^[A-Z]{2}$'),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE yield.distributions (
    id                      UUID PRIMARY KEY,
    asset                   TEXT NOT NULL,
    period_start            TIMESTAMPTZ NOT NULL,
    period_end              TIMESTAMPTZ NOT NULL,
    take_rate_bps           INTEGER NOT NULL CHECK (take_rate_bps BETWEEN 0 AND 10000),
    partner_name            TEXT,
    partner_share_bps       INTEGER NOT NULL CHECK (partner_share_bps BETWEEN 0 AND 10000),
    min_balance             NUMERIC NOT NULL CHECK (min_balance >= 0),
    excluded_jurisdictions  TEXT[] NOT NULL,
    -- The sources of this period (rewards, vault); negative when the vault lost value.
    gross_yield             NUMERIC NOT NULL,
    carried_loss_in         NUMERIC NOT NULL CHECK (carried_loss_in >= 0),
    carried_loss_out        NUMERIC NOT NULL CHECK (carried_loss_out >= 0),
    distributable           NUMERIC NOT NULL CHECK (distributable >= 0),
    platform_amount         NUMERIC NOT NULL CHECK (platform_amount >= 0),
    partner_amount          NUMERIC NOT NULL CHECK (partner_amount >= 0),
    merchants_amount        NUMERIC NOT NULL CHECK (merchants_amount >= 0),
    unclaimed_amount        NUMERIC NOT NULL CHECK (unclaimed_amount >= 0),
    eligible_merchants      INTEGER NOT NULL CHECK (eligible_merchants >= 0),
    balance_seconds_total   NUMERIC NOT NULL CHECK (balance_seconds_total >= 0),
    -- The one balanced journal entry that paid this period; none when nothing was distributable.
    entry_id                UUID UNIQUE REFERENCES ledger.entries (id),
    -- SHA-256 of the canonical report (period, parameters, sources, allocations): a rerun of the
    -- same period over the same history gives the same hash.
    report_hash             BYTEA NOT NULL,
    created_by              UUID REFERENCES platform.console_users (id),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT distributions_period_forward CHECK (period_start < period_end),
    -- A period is paid once: no two distributions of one asset may overlap in time.
    CONSTRAINT distributions_no_overlap EXCLUDE USING gist (asset WITH =, tstzrange(period_start, period_end) WITH &&),
    -- The split adds up exactly (also asserted in Rust, allocate::plan).
    CONSTRAINT distributions_split_exact CHECK (platform_amount + partner_amount + merchants_amount = distributable),
    CONSTRAINT distributions_loss_or_yield CHECK (distributable = 0 OR carried_loss_out = 0),
    CONSTRAINT distributions_paid_iff_distributable CHECK ((distributable > 0) = (entry_id IS NOT NULL))
);
CREATE INDEX distributions_asset_end ON yield.distributions (asset, period_end DESC);

-- Issuer or partner rewards, entered by treasury. `reference` is the partner's own id for the
-- payment, so entering the same file twice changes nothing. A reward is distributed by the first
-- distribution of its asset whose period ends at or after the reward's period end.
CREATE TABLE yield.rewards (
    id               UUID PRIMARY KEY,
    asset            TEXT NOT NULL,
    amount           NUMERIC NOT NULL CHECK (amount > 0),
    period_start     TIMESTAMPTZ NOT NULL,
    period_end       TIMESTAMPTZ NOT NULL,
    source           TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    reference        TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    distribution_id  UUID REFERENCES yield.distributions (id),
    entered_by       UUID REFERENCES platform.console_users (id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT rewards_period_forward CHECK (period_start < period_end),
    CONSTRAINT rewards_source_reference_unique UNIQUE (source, reference)
);
CREATE INDEX rewards_undistributed ON yield.rewards (asset, period_end) WHERE distribution_id IS NULL;

-- What each eligible merchant's balance earned in a distribution (zero rows are kept: a
-- statement for a loss period still shows the time-weighted balance).
CREATE TABLE yield.allocations (
    distribution_id  UUID NOT NULL REFERENCES yield.distributions (id),
    merchant_id      UUID NOT NULL REFERENCES platform.merchants (id),
    balance_seconds  NUMERIC NOT NULL CHECK (balance_seconds >= 0),
    twab             NUMERIC NOT NULL CHECK (twab >= 0),
    fees             NUMERIC NOT NULL CHECK (fees >= 0),
    net              NUMERIC NOT NULL CHECK (net >= 0),
    PRIMARY KEY (distribution_id, merchant_id)
);
CREATE INDEX allocations_merchant ON yield.allocations (merchant_id, distribution_id);

-- Corrections after a distribution: each its own balanced ledger entry, never an edit.
CREATE TABLE yield.adjustments (
    id               UUID PRIMARY KEY,
    distribution_id  UUID NOT NULL REFERENCES yield.distributions (id),
    merchant_id      UUID NOT NULL REFERENCES platform.merchants (id),
    amount           NUMERIC NOT NULL CHECK (amount <> 0),
    reason           TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    entry_id         UUID NOT NULL UNIQUE REFERENCES ledger.entries (id),
    created_by       UUID REFERENCES platform.console_users (id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX adjustments_merchant ON yield.adjustments (merchant_id, distribution_id);

-- Distributions, allocations and adjustments are the record of money paid: never changed.
CREATE TRIGGER distributions_append_only BEFORE UPDATE OR DELETE ON yield.distributions
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER allocations_append_only BEFORE UPDATE OR DELETE ON yield.allocations
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER adjustments_append_only BEFORE UPDATE OR DELETE ON yield.adjustments
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();

-- The treasury's position in the asset's ERC-4626 vault at a moment: its value in the asset
-- (convertToAssets of the shares held) and the cumulative net amount deposited (deposits minus
-- withdrawals) up to then. The vault's yield over a period is the change in value not caused by
-- deposits and withdrawals, so a period needs a mark at each of its bounds.
CREATE TABLE yield.vault_marks (
    id                 UUID PRIMARY KEY,
    asset              TEXT NOT NULL,
    at                 TIMESTAMPTZ NOT NULL,
    position           NUMERIC NOT NULL CHECK (position >= 0),
    net_deposited      NUMERIC NOT NULL,
    entered_by         UUID REFERENCES platform.console_users (id),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT vault_marks_one_per_moment UNIQUE (asset, at)
);
CREATE TRIGGER vault_marks_append_only BEFORE UPDATE OR DELETE ON yield.vault_marks
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
