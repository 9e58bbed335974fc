-- Issue #4, the rest of funding and spending: agent mandates on API keys, cross-asset quotes,
-- and direct stablecoin deposits from a merchant's own wallets.

-- A spending mandate on an API key, so a key handed to an AI agent cannot overspend. Limits
-- count what leaves the balance (amount plus fee) in the mandate's asset; NULL means no limit of
-- that kind. The payout transaction locks this row, so a key's concurrent payouts are counted
-- one after the other against its daily budget.
CREATE TABLE platform.api_key_mandates (
    api_key_id             UUID PRIMARY KEY REFERENCES platform.api_keys (id),
    asset                  TEXT NOT NULL,
    per_payout_max         NUMERIC CHECK (per_payout_max > 0),
    daily_budget           NUMERIC CHECK (daily_budget > 0),
    -- NULL: any of the merchant's beneficiaries; otherwise only these.
    allowed_beneficiaries  UUID[] CHECK (cardinality(allowed_beneficiaries) BETWEEN 1 AND 1000),
    expires_at             TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A locked conversion rate for a cross-asset payout: the merchant's balance is in the source
-- asset, the beneficiary is paid in the target asset. One quote pays at most one payout.
CREATE TABLE payouts.quotes (
    id             UUID PRIMARY KEY,
    merchant_id    UUID NOT NULL REFERENCES platform.merchants (id),
    source_asset   TEXT NOT NULL,
    target_asset   TEXT NOT NULL CHECK (target_asset <> source_asset),
    -- Target units per source unit, as the rate source gave it.
    rate           NUMERIC NOT NULL CHECK (rate > 0),
    rate_source    TEXT NOT NULL,
    source_amount  NUMERIC NOT NULL CHECK (source_amount > 0),
    target_amount  NUMERIC NOT NULL CHECK (target_amount > 0),
    -- The platform fee, in the source asset.
    fee            NUMERIC NOT NULL CHECK (fee >= 0),
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX quotes_by_merchant ON payouts.quotes (merchant_id, id);

-- What a payout takes from the balance. Without a quote the debit is the paid amount in the
-- paid asset; with one it is the quote's source amount in the source asset. The fee is always
-- in the debit asset.
ALTER TABLE payouts.payouts
    ADD COLUMN debit_asset   TEXT,
    ADD COLUMN debit_amount  NUMERIC CHECK (debit_amount > 0),
    ADD COLUMN quote_id      UUID UNIQUE REFERENCES payouts.quotes (id),
    ADD COLUMN api_key_id    UUID REFERENCES platform.api_keys (id);
UPDATE payouts.payouts SET debit_asset = asset, debit_amount = amount;
ALTER TABLE payouts.payouts
    ALTER COLUMN debit_asset SET NOT NULL,
    ALTER COLUMN debit_amount SET NOT NULL,
    ADD CONSTRAINT payouts_debit_matches_quote CHECK ((quote_id IS NULL) = (debit_asset = asset));
-- A mandate's daily budget sums the key's payouts of the day.
CREATE INDEX payouts_by_api_key ON payouts.payouts (api_key_id, created_at) WHERE api_key_id IS NOT NULL;

-- Wallets a merchant pays in from. Ownership is proven by an EIP-191 signature over a fixed
-- message naming the merchant, so nobody can claim someone else's deposits; a sending address
-- belongs to at most one merchant per chain.
CREATE TABLE payouts.funding_wallets (
    id           UUID PRIMARY KEY,
    merchant_id  UUID NOT NULL REFERENCES platform.merchants (id),
    chain_id     BIGINT NOT NULL CHECK (chain_id > 0),
    address      TEXT NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    signature    TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT funding_wallets_one_owner UNIQUE (chain_id, address)
);
CREATE INDEX funding_wallets_by_merchant ON payouts.funding_wallets (merchant_id, id);

-- A transfer from a funding wallet into the treasury, as the watcher saw it. Incoming at first
-- sight, credited at finality, reversed if its block was orphaned first. One row per
-- observation, so a transfer is credited at most once; a transfer re-mined after a reorg is a
-- new observation.
CREATE TABLE payouts.deposits (
    id              UUID PRIMARY KEY,
    observation_id  UUID NOT NULL UNIQUE REFERENCES chain.observations (id),
    merchant_id     UUID NOT NULL REFERENCES platform.merchants (id),
    wallet_id       UUID NOT NULL REFERENCES payouts.funding_wallets (id),
    chain_id        BIGINT NOT NULL,
    tx_hash         TEXT NOT NULL,
    asset           TEXT NOT NULL,
    amount          NUMERIC NOT NULL CHECK (amount > 0),
    status          TEXT NOT NULL CHECK (status IN ('incoming', 'credited', 'reversed')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deposits_by_merchant ON payouts.deposits (merchant_id, id);
CREATE INDEX deposits_open ON payouts.deposits (id) WHERE status = 'incoming';
