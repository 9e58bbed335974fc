//! Detection: the watcher records every `InvoicePaid` event (`chain.observations`, kind
//! `invoice_paid`); this job matches them to invoices by payment reference and follows each to
//! finality. Per observation, once:
//! - first sight, known invoice, right token: a payment, `incoming` (chain clearing -> the
//!   merchant's incoming), `invoice.payment_detected`; after the due date it is accepted and
//!   flagged late;
//! - final: credited (incoming -> available); the invoice becomes partially paid, paid or
//!   overpaid by what is final;
//! - orphaned before finality: reversed (incoming -> chain clearing), the invoice put back;
//! - anything else (unknown reference, a token that is not one of the invoice's options, an
//!   invoice that cannot take payments) goes to `invoicing.unmatched_receipts` for treasury.
//!
//! One observation is one row (`payments.observation_id` and `unmatched_receipts.observation_id`
//! are unique), so an event seen twice, or by two instances at once, counts once.

use crate::{
    api::{InvoiceView, PaymentView, emit},
    db::{self, PaymentRow},
};
use chrono::{DateTime, Utc};
use corridor_domain::{AssetRegistry, EvmAddress, Money, ids::MerchantId};
use corridor_ledger::{AccountKey, EntryDraft, Purpose};
use corridor_store::{StoreError, ledger};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DetectionReport {
    pub detected: u64,
    pub unmatched: u64,
    pub credited: u64,
    pub reversed: u64,
}

impl DetectionReport {
    pub fn total(&self) -> u64 {
        self.detected + self.unmatched + self.credited + self.reversed
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DetectionError {
    fn from(e: sqlx::Error) -> Self {
        DetectionError::Store(e.into())
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A payment event's webhook payload: the invoice as it now stands and the payment.
#[derive(Serialize)]
struct PaymentEvent {
    invoice: InvoiceView,
    payment: PaymentView,
}

/// The status an invoice has once `paid` is final against `total`. With nothing final it keeps
/// `open` or `expired`.
fn settled_status(current: &str, paid: Decimal, total: Decimal) -> &str {
    if paid.is_zero() {
        if current == "expired" { "expired" } else { "open" }
    } else if paid < total {
        "partially_paid"
    } else if paid == total {
        "paid"
    } else {
        "overpaid"
    }
}

const PAYABLE: [&str; 5] = ["open", "partially_paid", "paid", "overpaid", "expired"];

struct Seen {
    id: Uuid,
    chain_id: i64,
    tx_hash: String,
    reference: String,
    payer: String,
    token: String,
    amount: String,
}

async fn unmatched(conn: &mut PgConnection, o: &Seen, reason: &str, invoice: Option<Uuid>) -> Result<bool, StoreError> {
    let units = Decimal::from_str(&o.amount).map_err(corrupt)?;
    let inserted = sqlx::query!(
        r#"INSERT INTO invoicing.unmatched_receipts
               (id, observation_id, reason, invoice_id, chain_id, tx_hash, payment_ref, payer, token, amount_units)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (observation_id) DO NOTHING"#,
        Uuid::now_v7(),
        o.id,
        reason,
        invoice,
        o.chain_id,
        o.tx_hash,
        o.reference,
        o.payer,
        o.token,
        units,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        tracing::warn!(observation = %o.id, tx = %o.tx_hash, reason, "invoice payment left for treasury");
    }
    Ok(inserted == 1)
}

/// Takes one new observation: a payment, an unmatched receipt, or nothing (taken already).
async fn take(
    conn: &mut PgConnection,
    registry: &AssetRegistry,
    now: DateTime<Utc>,
    o: &Seen,
    report: &mut DetectionReport,
) -> Result<(), StoreError> {
    let invoice_id: Option<Uuid> =
        sqlx::query_scalar!("SELECT id FROM invoicing.invoices WHERE payment_ref = $1", o.reference)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(invoice_id) = invoice_id else {
        report.unmatched += u64::from(unmatched(conn, o, "unknown_reference", None).await?);
        return Ok(());
    };
    let invoice = db::lock(conn, invoice_id, None)
        .await?
        .ok_or_else(|| corrupt("invoice vanished"))?;
    if !PAYABLE.contains(&invoice.status.as_str()) {
        report.unmatched += u64::from(unmatched(conn, o, "invoice_not_payable", Some(invoice.id)).await?);
        return Ok(());
    }
    // The token must be the invoice's currency on one of its chains; anything else (another
    // stablecoin, a token the registry does not know) is not the merchant's to keep.
    let options: Vec<crate::api::PaymentOptionView> =
        serde_json::from_value(invoice.payment_options.clone()).map_err(corrupt)?;
    let deployment = EvmAddress::parse(&o.token)
        .ok()
        .and_then(|t| registry.by_token(o.chain_id as u64, &t).ok())
        .filter(|d| {
            d.asset.as_str() == invoice.currency
                && options
                    .iter()
                    .any(|p| p.chain_id == o.chain_id as u64 && p.asset == invoice.currency)
        });
    let amount = deployment.and_then(|d| {
        let asset = registry.get(d.asset.as_str()).ok()?;
        let units = alloy_primitives::U256::from_str(&o.amount).ok()?;
        Money::from_base_units(units, d.decimals, asset).ok()
    });
    let Some(amount) = amount.filter(Money::is_positive) else {
        report.unmatched += u64::from(unmatched(conn, o, "wrong_token", Some(invoice.id)).await?);
        return Ok(());
    };
    let late = now > invoice.due_at;
    let payment = sqlx::query_as!(
        PaymentRow,
        r#"INSERT INTO invoicing.payments
               (id, observation_id, invoice_id, merchant_id, chain_id, tx_hash, payer, asset, amount, late, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'incoming')
           ON CONFLICT (observation_id) DO NOTHING
           RETURNING id, invoice_id, chain_id, tx_hash, payer, asset, amount, late, status, created_at, updated_at"#,
        Uuid::now_v7(),
        o.id,
        invoice.id,
        invoice.merchant_id,
        o.chain_id,
        o.tx_hash,
        o.payer,
        invoice.currency,
        amount.amount(),
        late,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(payment) = payment else { return Ok(()) };
    let merchant = MerchantId::from_uuid(invoice.merchant_id);
    let entry = EntryDraft::transfer(
        "invoice_payment_incoming",
        format!("invoice payment {} seen in {}", payment.id, o.tx_hash),
        AccountKey::platform(amount.asset().clone(), Purpose::ChainClearing),
        AccountKey::merchant(merchant, amount.asset().clone(), Purpose::IncomingPending),
        amount.clone(),
    );
    ledger::post_entry(conn, &entry, registry).await?;
    let row = db::set_amounts(
        conn,
        invoice.id,
        &invoice.status,
        invoice.amount_detected + amount.amount(),
        invoice.amount_paid,
        late,
    )
    .await?;
    let event = PaymentEvent {
        invoice: row.into(),
        payment: payment.into(),
    };
    emit(conn, invoice.merchant_id, "invoice.payment_detected", &event).await?;
    report.detected += 1;
    Ok(())
}

/// Moves one incoming payment whose observation is final (credit) or orphaned (reverse).
async fn settle(
    conn: &mut PgConnection,
    registry: &AssetRegistry,
    payment_id: Uuid,
    final_: bool,
    report: &mut DetectionReport,
) -> Result<(), StoreError> {
    let status = if final_ { "credited" } else { "reversed" };
    let payment = sqlx::query_as!(
        PaymentRow,
        r#"UPDATE invoicing.payments SET status = $2, updated_at = now() WHERE id = $1 AND status = 'incoming'
           RETURNING id, invoice_id, chain_id, tx_hash, payer, asset, amount, late, status, created_at, updated_at"#,
        payment_id,
        status,
    )
    .fetch_one(&mut *conn)
    .await?;
    let invoice = db::lock(conn, payment.invoice_id, None)
        .await?
        .ok_or_else(|| corrupt("invoice vanished"))?;
    let asset = registry.get(&payment.asset).map_err(corrupt)?;
    let amount = Money::new(payment.amount, asset).map_err(corrupt)?;
    let merchant = MerchantId::from_uuid(invoice.merchant_id);
    let incoming = AccountKey::merchant(merchant, asset.code.clone(), Purpose::IncomingPending);
    let (kind, destination) = if final_ {
        (
            "invoice_payment_credited",
            AccountKey::merchant(merchant, asset.code.clone(), Purpose::Available),
        )
    } else {
        (
            "invoice_payment_reversed",
            AccountKey::platform(asset.code.clone(), Purpose::ChainClearing),
        )
    };
    let entry = EntryDraft::transfer(
        kind,
        format!("invoice payment {} {status}", payment.id),
        incoming,
        destination,
        amount.clone(),
    );
    ledger::post_entry(conn, &entry, registry).await?;
    let detected = invoice.amount_detected - payment.amount;
    let paid = if final_ {
        invoice.amount_paid + payment.amount
    } else {
        invoice.amount_paid
    };
    // A void invoice never has payments (voiding needs none); this keeps any other status.
    let next = if PAYABLE.contains(&invoice.status.as_str()) {
        settled_status(&invoice.status, paid, invoice.total)
    } else {
        invoice.status.as_str()
    };
    let changed = next != invoice.status;
    let row = db::set_amounts(conn, invoice.id, next, detected, paid, false).await?;
    let view = InvoiceView::from(row);
    if final_ {
        report.credited += 1;
        if changed {
            let event = format!("invoice.{next}");
            emit(conn, invoice.merchant_id, &event, &view).await?;
        }
    } else {
        report.reversed += 1;
        let event = PaymentEvent {
            invoice: view,
            payment: payment.into(),
        };
        emit(conn, invoice.merchant_id, "invoice.payment_reversed", &event).await?;
    }
    Ok(())
}

/// One round in one transaction: takes up to `limit` new `InvoicePaid` observations, then
/// settles up to `limit` incoming payments whose block is final or orphaned. `now` decides
/// lateness (the service passes its clock).
pub async fn follow_payments(
    pool: &PgPool,
    registry: &AssetRegistry,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<DetectionReport, DetectionError> {
    let mut tx = pool.begin().await?;
    let mut report = DetectionReport::default();
    let seen = sqlx::query_as!(
        Seen,
        r#"SELECT o.id, o.chain_id, o.tx_hash,
                  o.fields->>'reference' AS "reference!", o.fields->>'payer' AS "payer!",
                  o.fields->>'token' AS "token!", o.fields->>'amount' AS "amount!"
             FROM chain.observations o
            WHERE o.kind = 'invoice_paid' AND o.status <> 'orphaned'
              AND NOT EXISTS (SELECT 1 FROM invoicing.payments p WHERE p.observation_id = o.id)
              AND NOT EXISTS (SELECT 1 FROM invoicing.unmatched_receipts u WHERE u.observation_id = o.id)
            ORDER BY o.created_at, o.id LIMIT $1"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    for o in &seen {
        take(&mut tx, registry, now, o, &mut report).await?;
    }

    let settled = sqlx::query!(
        r#"SELECT p.id, o.status AS observation_status
             FROM invoicing.payments p JOIN chain.observations o ON o.id = p.observation_id
            WHERE p.status = 'incoming' AND o.status IN ('final', 'orphaned')
            ORDER BY p.id LIMIT $1 FOR UPDATE OF p SKIP LOCKED"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    for p in settled {
        settle(&mut tx, registry, p.id, p.observation_status == "final", &mut report).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Marks open invoices past their due date, with nothing detected, as expired
/// (`invoice.expired`), up to `limit` per call. A later payment is still accepted, flagged late.
pub async fn expire_overdue(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> Result<u64, DetectionError> {
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar!(
        r#"SELECT id FROM invoicing.invoices
            WHERE status = 'open' AND due_at < $1 AND amount_detected = 0
            ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED"#,
        now,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        let row = sqlx::query_as!(
            db::InvoiceRow,
            r#"UPDATE invoicing.invoices SET status = 'expired', updated_at = now() WHERE id = $1
               RETURNING id, merchant_id, number, status, currency, buyer, line_items, payment_options, memo,
                         due_at, subtotal, tax_total, total, amount_detected, amount_paid, payment_ref,
                         page_token, paid_late, finalized_at, paid_at, voided_at, created_at, updated_at"#,
            id,
        )
        .fetch_one(&mut *tx)
        .await?;
        let merchant = row.merchant_id;
        emit(&mut tx, merchant, "invoice.expired", &InvoiceView::from(row)).await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_what_is_final() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(settled_status("open", d("0"), d("10")), "open");
        assert_eq!(settled_status("expired", d("0"), d("10")), "expired");
        assert_eq!(settled_status("open", d("4"), d("10")), "partially_paid");
        assert_eq!(settled_status("expired", d("10"), d("10")), "paid");
        assert_eq!(settled_status("paid", d("10.000001"), d("10")), "overpaid");
    }
}
