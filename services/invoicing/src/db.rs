//! The invoicing schema's rows and queries. Every query that takes a merchant filters by it, so
//! another merchant's invoice is simply not found.

use chrono::{DateTime, Utc};
use corridor_domain::ids::{InvoiceId, MerchantId};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub number: Option<i64>,
    pub status: String,
    pub currency: String,
    pub buyer: serde_json::Value,
    pub line_items: serde_json::Value,
    pub payment_options: serde_json::Value,
    pub memo: Option<String>,
    pub due_at: DateTime<Utc>,
    pub subtotal: Decimal,
    pub tax_total: Decimal,
    pub total: Decimal,
    pub amount_detected: Decimal,
    pub amount_paid: Decimal,
    pub payment_ref: String,
    pub page_token: String,
    pub paid_late: bool,
    pub finalized_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields a draft is created or replaced with.
pub struct DraftFields<'a> {
    pub currency: &'a str,
    pub buyer: serde_json::Value,
    pub line_items: serde_json::Value,
    pub payment_options: serde_json::Value,
    pub memo: Option<&'a str>,
    pub due_at: DateTime<Utc>,
    pub subtotal: Decimal,
    pub tax_total: Decimal,
    pub total: Decimal,
}

pub async fn insert_draft(
    conn: &mut PgConnection,
    id: InvoiceId,
    merchant: MerchantId,
    f: &DraftFields<'_>,
    payment_ref: &str,
    page_token: &str,
) -> Result<InvoiceRow, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"INSERT INTO invoicing.invoices
               (id, merchant_id, status, currency, buyer, line_items, payment_options, memo, due_at,
                subtotal, tax_total, total, payment_ref, page_token)
           VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                     due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                     page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
        id.as_uuid(),
        merchant.as_uuid(),
        f.currency,
        f.buyer,
        f.line_items,
        f.payment_options,
        f.memo,
        f.due_at,
        f.subtotal,
        f.tax_total,
        f.total,
        payment_ref,
        page_token,
    )
    .fetch_one(conn)
    .await
}

/// Replaces a draft's fields; `None` if the invoice is not this merchant's draft.
pub async fn replace_draft(
    conn: &mut PgConnection,
    id: InvoiceId,
    merchant: MerchantId,
    f: &DraftFields<'_>,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"UPDATE invoicing.invoices
              SET currency = $3, buyer = $4, line_items = $5, payment_options = $6, memo = $7,
                  due_at = $8, subtotal = $9, tax_total = $10, total = $11, updated_at = now()
            WHERE id = $1 AND merchant_id = $2 AND status = 'draft'
           RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                     due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                     page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
        id.as_uuid(),
        merchant.as_uuid(),
        f.currency,
        f.buyer,
        f.line_items,
        f.payment_options,
        f.memo,
        f.due_at,
        f.subtotal,
        f.tax_total,
        f.total,
    )
    .fetch_optional(conn)
    .await
}

/// Marks a recurring invoice with its schedule and period (unique together: one per period).
pub async fn set_period(
    conn: &mut PgConnection,
    id: Uuid,
    schedule: Uuid,
    start: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE invoicing.invoices SET schedule_id = $2, period_start = $3 WHERE id = $1",
        id,
        schedule,
        start,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The invoice, locked for the rest of the caller's transaction.
pub async fn lock(
    conn: &mut PgConnection,
    id: Uuid,
    merchant: Option<MerchantId>,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"SELECT id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                  due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                  page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at
             FROM invoicing.invoices WHERE id = $1 AND ($2::uuid IS NULL OR merchant_id = $2) FOR UPDATE"#,
        id,
        merchant.map(|m| m.as_uuid()),
    )
    .fetch_optional(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    id: InvoiceId,
    merchant: MerchantId,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"SELECT id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                  due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                  page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at
             FROM invoicing.invoices WHERE id = $1 AND merchant_id = $2"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// A finalized invoice by its pay-page token (drafts have no public page).
pub async fn by_page_token(conn: &mut PgConnection, token: &str) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"SELECT id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                  due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                  page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at
             FROM invoicing.invoices WHERE page_token = $1 AND status <> 'draft'"#,
        token,
    )
    .fetch_optional(conn)
    .await
}

/// The merchant's invoices, newest first, optionally of one status and created in a window.
pub async fn list(
    conn: &mut PgConnection,
    merchant: MerchantId,
    status: Option<&str>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    cursor: Option<InvoiceId>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"SELECT id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                  due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                  page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at
             FROM invoicing.invoices
            WHERE merchant_id = $1 AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR created_at >= $3)
              AND ($4::timestamptz IS NULL OR created_at < $4)
              AND ($5::uuid IS NULL OR id < $5)
            ORDER BY id DESC LIMIT $6"#,
        merchant.as_uuid(),
        status,
        created_after,
        created_before,
        cursor.map(|c| c.as_uuid()),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The next invoice number of the merchant. The counter row stays locked until the caller's
/// transaction ends, so numbers are given in turn and a rolled-back finalization leaves no gap.
pub async fn next_number(conn: &mut PgConnection, merchant: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO invoicing.numbers (merchant_id, last_number) VALUES ($1, 1)
           ON CONFLICT (merchant_id) DO UPDATE SET last_number = invoicing.numbers.last_number + 1
           RETURNING last_number"#,
        merchant,
    )
    .fetch_one(conn)
    .await
}

pub async fn set_finalized(conn: &mut PgConnection, id: Uuid, number: i64) -> Result<InvoiceRow, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"UPDATE invoicing.invoices
              SET status = 'open', number = $2, finalized_at = now(), updated_at = now()
            WHERE id = $1
           RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                     due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                     page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
        id,
        number,
    )
    .fetch_one(conn)
    .await
}

pub async fn set_voided(conn: &mut PgConnection, id: Uuid) -> Result<InvoiceRow, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"UPDATE invoicing.invoices SET status = 'void', voided_at = now(), updated_at = now() WHERE id = $1
           RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                     due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                     page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Applies a payment's effect on the invoice's amounts and status.
pub async fn set_amounts(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    amount_detected: Decimal,
    amount_paid: Decimal,
    late: bool,
) -> Result<InvoiceRow, sqlx::Error> {
    sqlx::query_as!(
        InvoiceRow,
        r#"UPDATE invoicing.invoices
              SET status = $2, amount_detected = $3, amount_paid = $4, paid_late = paid_late OR $5,
                  paid_at = CASE WHEN $2 IN ('paid', 'overpaid') THEN coalesce(paid_at, now()) ELSE paid_at END,
                  updated_at = now()
            WHERE id = $1
           RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                     due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                     page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
        id,
        status,
        amount_detected,
        amount_paid,
        late,
    )
    .fetch_one(conn)
    .await
}

pub struct PaymentRow {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub chain_id: i64,
    pub tx_hash: String,
    pub payer: String,
    pub asset: String,
    pub amount: Decimal,
    pub late: bool,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn payments_of(conn: &mut PgConnection, invoice: Uuid) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentRow,
        r#"SELECT id, invoice_id, chain_id, tx_hash, payer, asset, amount, late, status, created_at, updated_at
             FROM invoicing.payments WHERE invoice_id = $1 ORDER BY id LIMIT 1000"#,
        invoice,
    )
    .fetch_all(conn)
    .await
}
