-- The chain layer's records: what services want sent (intents), every signed transaction for
-- them, and the nonce of each sender, owned here rather than by a node or an in-memory cache.
-- Rule: a transaction is persisted (raw bytes and hash) before it is broadcast, so after any
-- crash the same bytes can be sent again and nothing is signed twice for one intent by accident.
CREATE SCHEMA chain;

-- One row per (chain, sender): the next nonce to assign and the lease of the one submitter
-- allowed to assign it. Several gateway processes may run; only the lease holder submits.
CREATE TABLE chain.senders (
    chain_id          BIGINT NOT NULL,
    address           TEXT NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    next_nonce        BIGINT NOT NULL CHECK (next_nonce >= 0),
    lease_owner       UUID,
    lease_expires_at  TIMESTAMPTZ,
    PRIMARY KEY (chain_id, address)
);

CREATE TABLE chain.intents (
    id              UUID PRIMARY KEY,
    chain_id        BIGINT NOT NULL,
    sender          TEXT NOT NULL,
    -- Who asked and why, e.g. payout po_...; unique so a service cannot ask twice.
    purpose         TEXT NOT NULL UNIQUE,
    to_address      TEXT NOT NULL CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
    calldata        BYTEA NOT NULL,
    gas_limit       BIGINT NOT NULL CHECK (gas_limit > 0),
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'pending', 'mined', 'final', 'failed', 'needs_operator')),
    nonce           BIGINT,
    mined_tx_hash   TEXT,
    mined_block     BIGINT,
    failure_reason  TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT intents_nonce_once UNIQUE (chain_id, sender, nonce),
    CONSTRAINT intents_nonce_when_sent CHECK ((status = 'queued') = (nonce IS NULL)),
    FOREIGN KEY (chain_id, sender) REFERENCES chain.senders (chain_id, address)
);
CREATE INDEX intents_queued ON chain.intents (chain_id, sender, created_at) WHERE status = 'queued';
CREATE INDEX intents_pending ON chain.intents (chain_id, sender, nonce) WHERE status = 'pending';

-- Every signed transaction. A fee bump signs a new one with the same nonce; the old row stays.
CREATE TABLE chain.transactions (
    id                  UUID PRIMARY KEY,
    intent_id           UUID NOT NULL REFERENCES chain.intents (id),
    nonce               BIGINT NOT NULL,
    tx_hash             TEXT NOT NULL UNIQUE,
    raw                 BYTEA NOT NULL,
    max_fee_per_gas     NUMERIC NOT NULL,
    max_priority_fee_per_gas NUMERIC NOT NULL,
    signed_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL until the node accepted it at least once.
    broadcast_at        TIMESTAMPTZ,
    rebroadcasts        INT NOT NULL DEFAULT 0
);
CREATE INDEX transactions_intent ON chain.transactions (intent_id, signed_at);
