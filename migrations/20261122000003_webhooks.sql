-- Merchant webhook endpoints and the delivery log (Standard Webhooks).
CREATE SCHEMA webhooks;

CREATE TABLE webhooks.endpoints (
    id              UUID PRIMARY KEY,
    merchant_id     UUID NOT NULL REFERENCES platform.merchants (id),
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- Empty means every event type.
    event_types     TEXT[] NOT NULL DEFAULT '{}',
    secret          TEXT NOT NULL,
    -- During rotation the previous secret also signs, until it expires.
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);
CREATE INDEX endpoints_merchant ON webhooks.endpoints (merchant_id, id);

CREATE TABLE webhooks.deliveries (
    id              UUID PRIMARY KEY,
    -- Creation order, for the delivery log (ids are random here: they are made in SQL).
    seq             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    event_id        UUID NOT NULL REFERENCES platform.outbox (id),
    endpoint_id     UUID NOT NULL REFERENCES webhooks.endpoints (id),
    merchant_id     UUID NOT NULL REFERENCES platform.merchants (id),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_status_code SMALLINT,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT deliveries_once_per_endpoint UNIQUE (event_id, endpoint_id)
);
CREATE INDEX deliveries_due ON webhooks.deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON webhooks.deliveries (endpoint_id, seq);

-- One row per HTTP attempt: the delivery log merchants read.
CREATE TABLE webhooks.attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   UUID NOT NULL REFERENCES webhooks.deliveries (id),
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code   SMALLINT,
    error         TEXT,
    duration_ms   INT NOT NULL
);
CREATE INDEX attempts_delivery ON webhooks.attempts (delivery_id, id);
