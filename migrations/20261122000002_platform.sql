-- Tenants, credentials, idempotency and the transactional outbox shared by all services.
CREATE SCHEMA platform;

CREATE TABLE platform.merchants (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- API keys: only a SHA-256 digest of the secret is stored. The keys are 256-bit random, so a
-- fast hash is enough (a password hash would only slow every request down); the prefix is shown
-- to users so they can tell keys apart.
CREATE TABLE platform.api_keys (
    id            UUID PRIMARY KEY,
    merchant_id   UUID NOT NULL REFERENCES platform.merchants (id),
    name          TEXT NOT NULL DEFAULT '',
    prefix        TEXT NOT NULL UNIQUE,
    secret_digest BYTEA NOT NULL,
    scopes        TEXT[] NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_merchant ON platform.api_keys (merchant_id, id);

CREATE TABLE platform.console_users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('merchant_admin', 'treasury', 'compliance_officer', 'compliance_lead', 'platform_admin')),
    merchant_id   UUID REFERENCES platform.merchants (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at   TIMESTAMPTZ,
    -- A merchant admin always belongs to a merchant; staff roles never do.
    CONSTRAINT console_users_merchant_role CHECK ((role = 'merchant_admin') = (merchant_id IS NOT NULL))
);
CREATE UNIQUE INDEX console_users_email ON platform.console_users (lower(email));

-- Idempotency keys, scoped per merchant. A request first claims its key (status in_progress,
-- committed on its own, with a lease); the effect and the stored response then commit together
-- in one transaction. A crash in between leaves an expired lease that a retry may take over,
-- and since the effect never committed nothing runs twice.
CREATE TABLE platform.idempotency_keys (
    merchant_id         UUID NOT NULL REFERENCES platform.merchants (id),
    key                 TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_fingerprint BYTEA NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
    lease_token         UUID,
    lease_expires_at    TIMESTAMPTZ,
    response_status     SMALLINT,
    response_body       BYTEA,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    PRIMARY KEY (merchant_id, key),
    CONSTRAINT idempotency_completed_has_response CHECK ((status = 'completed') = (response_status IS NOT NULL))
);
CREATE INDEX idempotency_keys_created ON platform.idempotency_keys (created_at);

-- The transactional outbox: events are written in the same transaction as the change they
-- describe, and delivered afterwards (webhooks, other services). seq gives a total order.
CREATE TABLE platform.outbox (
    id           UUID PRIMARY KEY,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    merchant_id  UUID REFERENCES platform.merchants (id),
    event_type   TEXT NOT NULL,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when the webhook fan-out has created deliveries for this event.
    fanned_out_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending_fanout ON platform.outbox (seq) WHERE fanned_out_at IS NULL;
