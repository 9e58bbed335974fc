-- The watcher's view of each chain. Blocks are kept by hash so a reorg is seen as a changed
-- hash at a height; observations from orphaned blocks are marked, never deleted, and every
-- change of state is announced in the outbox for the services.
CREATE TABLE chain.cursors (
    chain_id    BIGINT PRIMARY KEY,
    next_block  BIGINT NOT NULL CHECK (next_block >= 0)
);

CREATE TABLE chain.blocks (
    chain_id     BIGINT NOT NULL,
    number       BIGINT NOT NULL,
    hash         TEXT NOT NULL,
    parent_hash  TEXT NOT NULL,
    canonical    BOOLEAN NOT NULL DEFAULT true,
    seen_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, hash)
);
CREATE UNIQUE INDEX blocks_one_canonical_per_height ON chain.blocks (chain_id, number) WHERE canonical;

-- Contracts whose logs matter: tokens (Transfer into or out of watched addresses), the
-- InvoicePayments contract (InvoicePaid) and the PayoutRouter (PayoutExecuted).
CREATE TABLE chain.watched_contracts (
    chain_id  BIGINT NOT NULL,
    address   TEXT NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    kind      TEXT NOT NULL CHECK (kind IN ('erc20', 'invoice_payments', 'payout_router')),
    PRIMARY KEY (chain_id, address)
);

-- Addresses whose plain ERC-20 transfers are recorded: treasury, deposit and ramp addresses.
CREATE TABLE chain.watched_addresses (
    chain_id  BIGINT NOT NULL,
    address   TEXT NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    label     TEXT NOT NULL,
    PRIMARY KEY (chain_id, address)
);

CREATE TABLE chain.observations (
    id            UUID PRIMARY KEY,
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    block_hash    TEXT NOT NULL,
    tx_hash       TEXT NOT NULL,
    log_index     INT NOT NULL,
    contract      TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('erc20_transfer', 'invoice_paid', 'payout_executed')),
    fields        JSONB NOT NULL,
    status        TEXT NOT NULL DEFAULT 'seen' CHECK (status IN ('seen', 'final', 'orphaned')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finalized_at  TIMESTAMPTZ,
    orphaned_at   TIMESTAMPTZ,
    CONSTRAINT observations_once_per_block UNIQUE (chain_id, block_hash, log_index),
    FOREIGN KEY (chain_id, block_hash) REFERENCES chain.blocks (chain_id, hash)
);
CREATE INDEX observations_open ON chain.observations (chain_id, block_number) WHERE status = 'seen';
