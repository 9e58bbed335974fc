-- SMB invoicing (issue #5): invoices, the payments the watcher saw for them, and receipts that
-- match no invoice. Money itself lives in the ledger: a detected payment moves chain clearing ->
-- the merchant's incoming, and at finality incoming -> available, once per observation.
CREATE SCHEMA invoicing;

-- The last invoice number given to each merchant. Numbers are given at finalization, so issued
-- invoices are numbered without gaps (drafts that are never sent take no number).
CREATE TABLE invoicing.numbers (
    merchant_id  UUID PRIMARY KEY REFERENCES platform.merchants (id),
    last_number  BIGINT NOT NULL CHECK (last_number > 0)
);

CREATE TABLE invoicing.invoices (
    id               UUID PRIMARY KEY,
    merchant_id      UUID NOT NULL REFERENCES platform.merchants (id),
    number           BIGINT CHECK (number > 0),
    status           TEXT NOT NULL CHECK (status IN (
                         'draft', 'open', 'partially_paid', 'paid', 'overpaid', 'expired', 'void')),
    -- The asset the invoice is denominated and paid in.
    currency         TEXT NOT NULL,
    -- {name, email, country, wallet?} as validated by the API.
    buyer            JSONB NOT NULL,
    -- [{description, quantity, unit_price, tax_rate, amount, tax}] with amounts computed by the API.
    line_items       JSONB NOT NULL,
    -- [{chain_id, asset}] the buyer may pay with.
    payment_options  JSONB NOT NULL,
    memo             TEXT CHECK (length(memo) <= 2000),
    due_at           TIMESTAMPTZ NOT NULL,
    subtotal         NUMERIC NOT NULL CHECK (subtotal >= 0),
    tax_total        NUMERIC NOT NULL CHECK (tax_total >= 0),
    total            NUMERIC NOT NULL CHECK (total > 0 AND total = subtotal + tax_total),
    -- Seen on chain, not yet final; and final (credited to the merchant).
    amount_detected  NUMERIC NOT NULL DEFAULT 0 CHECK (amount_detected >= 0),
    amount_paid      NUMERIC NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    -- bytes32 passed to InvoicePayments, an HMAC of the invoice id: unique, not guessable.
    payment_ref      TEXT NOT NULL UNIQUE CHECK (payment_ref ~ '^0x[0-9a-f]{64}$'),
    -- The public pay page's path segment, an HMAC of the invoice id under another label.
    page_token       TEXT NOT NULL UNIQUE CHECK (page_token ~ '^[0-9a-f]{32}$'),
    -- A payment was detected after the due date.
    paid_late        BOOLEAN NOT NULL DEFAULT false,
    finalized_at     TIMESTAMPTZ,
    paid_at          TIMESTAMPTZ,
    voided_at        TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT invoices_number_unique UNIQUE (merchant_id, number),
    CONSTRAINT invoices_numbered_unless_draft CHECK ((status = 'draft') = (number IS NULL))
);
CREATE INDEX invoices_by_merchant ON invoicing.invoices (merchant_id, id);
CREATE INDEX invoices_open_by_due ON invoicing.invoices (due_at) WHERE status = 'open';

-- One InvoicePaid event the watcher recorded for a known invoice, in the invoice's asset on one
-- of its payment options. One row per observation, so an event is credited at most once; an event
-- re-mined after a reorg is a new observation and a new payment.
CREATE TABLE invoicing.payments (
    id              UUID PRIMARY KEY,
    observation_id  UUID NOT NULL UNIQUE REFERENCES chain.observations (id),
    invoice_id      UUID NOT NULL REFERENCES invoicing.invoices (id),
    merchant_id     UUID NOT NULL REFERENCES platform.merchants (id),
    chain_id        BIGINT NOT NULL,
    tx_hash         TEXT NOT NULL,
    payer           TEXT NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
    asset           TEXT NOT NULL,
    amount          NUMERIC NOT NULL CHECK (amount > 0),
    -- Detected after the invoice's due date: accepted, and flagged.
    late            BOOLEAN NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('incoming', 'credited', 'reversed')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_invoice ON invoicing.payments (invoice_id, id);
CREATE INDEX payments_incoming ON invoicing.payments (id) WHERE status = 'incoming';

-- InvoicePaid events Corridor could not attribute: an unknown reference, a token that is not one
-- of the invoice's payment options, or an invoice that cannot take payments (draft or void). The
-- funds sit in the treasury; treasury decides (refund, or book by hand).
CREATE TABLE invoicing.unmatched_receipts (
    id              UUID PRIMARY KEY,
    observation_id  UUID NOT NULL UNIQUE REFERENCES chain.observations (id),
    reason          TEXT NOT NULL CHECK (reason IN ('unknown_reference', 'wrong_token', 'invoice_not_payable')),
    invoice_id      UUID REFERENCES invoicing.invoices (id),
    chain_id        BIGINT NOT NULL,
    tx_hash         TEXT NOT NULL,
    payment_ref     TEXT NOT NULL,
    payer           TEXT NOT NULL,
    token           TEXT NOT NULL,
    -- Raw base units as emitted: the token may be one the ledger does not know.
    amount_units    NUMERIC NOT NULL CHECK (amount_units >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The detection job looks for invoice payments not yet taken; without this it scans every
-- observation of every kind.
CREATE INDEX observations_invoice_paid ON chain.observations (created_at, id) WHERE kind = 'invoice_paid';
