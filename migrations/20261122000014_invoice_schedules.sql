-- Recurring invoices: a schedule issues (creates and finalizes) one invoice per period from a
-- template until it ends. Each period is issued at most once: the invoice carries the schedule
-- and the period's start, unique together.
CREATE TABLE invoicing.schedules (
    id               UUID PRIMARY KEY,
    merchant_id      UUID NOT NULL REFERENCES platform.merchants (id),
    -- The invoice body without due_at (validated at creation, as an invoice would be).
    template         JSONB NOT NULL,
    days_until_due   INT NOT NULL CHECK (days_until_due BETWEEN 1 AND 365),
    every            TEXT NOT NULL CHECK (every IN ('week', 'month', 'days')),
    every_days       INT CHECK ((every = 'days') = (every_days IS NOT NULL) AND (every_days IS NULL OR every_days BETWEEN 1 AND 366)),
    -- The start of the next period to issue.
    next_run_at      TIMESTAMPTZ NOT NULL,
    -- No period starting at or after this is issued; NULL: no end date.
    ends_at          TIMESTAMPTZ,
    -- At most this many invoices; NULL: no count limit. One of the two ends is required.
    count_max        INT CHECK (count_max BETWEEN 1 AND 1000),
    issued_count     INT NOT NULL DEFAULT 0 CHECK (issued_count >= 0),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended', 'canceled')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT schedules_end CHECK (ends_at IS NOT NULL OR count_max IS NOT NULL)
);
CREATE INDEX schedules_by_merchant ON invoicing.schedules (merchant_id, id);
CREATE INDEX schedules_due ON invoicing.schedules (next_run_at) WHERE status = 'active';

ALTER TABLE invoicing.invoices
    ADD COLUMN schedule_id   UUID REFERENCES invoicing.schedules (id),
    ADD COLUMN period_start  TIMESTAMPTZ,
    ADD CONSTRAINT invoices_one_per_period UNIQUE (schedule_id, period_start),
    ADD CONSTRAINT invoices_period_with_schedule CHECK ((schedule_id IS NULL) = (period_start IS NULL));
