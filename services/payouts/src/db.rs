//! SQL for the `payouts` schema. Every function runs in the caller's connection or transaction.

use chrono::{DateTime, Utc};
use corridor_domain::ids::{BeneficiaryId, HoldId, MerchantId, PayoutId};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

pub struct BeneficiaryRow {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub country: String,
    pub chain_id: i64,
    pub address: String,
    pub travel_rule: Option<serde_json::Value>,
    pub usable_from: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub struct NewBeneficiary<'a> {
    pub id: BeneficiaryId,
    pub merchant: MerchantId,
    pub kind: &'a str,
    pub name: &'a str,
    pub country: &'a str,
    pub chain_id: i64,
    pub address: &'a str,
    pub travel_rule: Option<&'a serde_json::Value>,
    pub cooling_off_secs: i64,
}

pub async fn insert_beneficiary(conn: &mut PgConnection, b: NewBeneficiary<'_>) -> Result<BeneficiaryRow, sqlx::Error> {
    sqlx::query_as!(
        BeneficiaryRow,
        r#"INSERT INTO payouts.beneficiaries
               (id, merchant_id, kind, name, country, chain_id, address, travel_rule, usable_from)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9::bigint))
           RETURNING id, kind, name, country, chain_id, address, travel_rule, usable_from, created_at"#,
        b.id.as_uuid(),
        b.merchant.as_uuid(),
        b.kind,
        b.name,
        b.country,
        b.chain_id,
        b.address,
        b.travel_rule,
        b.cooling_off_secs,
    )
    .fetch_one(conn)
    .await
}

/// The merchant's own beneficiary; another merchant's is as absent as an unknown one.
pub async fn beneficiary(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: BeneficiaryId,
) -> Result<Option<BeneficiaryRow>, sqlx::Error> {
    sqlx::query_as!(
        BeneficiaryRow,
        r#"SELECT id, kind, name, country, chain_id, address, travel_rule, usable_from, created_at
             FROM payouts.beneficiaries WHERE id = $1 AND merchant_id = $2"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

pub async fn beneficiaries(
    conn: &mut PgConnection,
    merchant: MerchantId,
    before: Option<BeneficiaryId>,
    limit: i64,
) -> Result<Vec<BeneficiaryRow>, sqlx::Error> {
    sqlx::query_as!(
        BeneficiaryRow,
        r#"SELECT id, kind, name, country, chain_id, address, travel_rule, usable_from, created_at
             FROM payouts.beneficiaries
            WHERE merchant_id = $1 AND ($2::uuid IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3"#,
        merchant.as_uuid(),
        before.map(|b| b.as_uuid()),
        limit,
    )
    .fetch_all(conn)
    .await
}

pub struct PayoutRow {
    pub id: Uuid,
    pub client_reference: String,
    pub beneficiary_id: Uuid,
    pub asset: String,
    pub chain_id: i64,
    pub recipient: String,
    pub amount: Decimal,
    pub fee: Decimal,
    pub purpose: String,
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewPayout<'a> {
    pub id: PayoutId,
    pub merchant: MerchantId,
    pub client_reference: &'a str,
    pub beneficiary: BeneficiaryId,
    pub asset: &'a str,
    pub chain_id: i64,
    pub recipient: &'a str,
    pub amount: Decimal,
    pub fee: Decimal,
    pub purpose: &'a str,
    pub hold: HoldId,
}

pub async fn insert_payout(conn: &mut PgConnection, p: NewPayout<'_>) -> Result<PayoutRow, sqlx::Error> {
    let row = sqlx::query_as!(
        PayoutRow,
        r#"INSERT INTO payouts.payouts
               (id, merchant_id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee,
                purpose, status, hold_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending_screening', $11)
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at"#,
        p.id.as_uuid(),
        p.merchant.as_uuid(),
        p.client_reference,
        p.beneficiary.as_uuid(),
        p.asset,
        p.chain_id,
        p.recipient,
        p.amount,
        p.fee,
        p.purpose,
        p.hold.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    append_timeline(conn, p.id, "pending_screening", &serde_json::json!({})).await?;
    Ok(row)
}

pub async fn append_timeline(
    conn: &mut PgConnection,
    payout: PayoutId,
    status: &str,
    detail: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO payouts.timeline (payout_id, status, detail) VALUES ($1, $2, $3)",
        payout.as_uuid(),
        status,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn payout(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: PayoutId,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at
             FROM payouts.payouts WHERE id = $1 AND merchant_id = $2"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

pub async fn payouts(
    conn: &mut PgConnection,
    merchant: MerchantId,
    status: Option<&str>,
    before: Option<PayoutId>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at
             FROM payouts.payouts
            WHERE merchant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4"#,
        merchant.as_uuid(),
        status,
        before.map(|b| b.as_uuid()),
        limit,
    )
    .fetch_all(conn)
    .await
}

pub struct TimelineRow {
    pub status: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

pub async fn timeline(conn: &mut PgConnection, payout: PayoutId) -> Result<Vec<TimelineRow>, sqlx::Error> {
    sqlx::query_as!(
        TimelineRow,
        "SELECT status, detail, at FROM payouts.timeline WHERE payout_id = $1 ORDER BY seq",
        payout.as_uuid(),
    )
    .fetch_all(conn)
    .await
}

/// Locks the merchant's payout for a state change; returns its status and hold.
pub async fn lock_payout(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: PayoutId,
) -> Result<Option<(String, HoldId)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT status, hold_id FROM payouts.payouts WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.status, HoldId::from_uuid(r.hold_id))))
}

pub async fn set_status(conn: &mut PgConnection, id: PayoutId, status: &str) -> Result<PayoutRow, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts SET status = $2, updated_at = now() WHERE id = $1
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at"#,
        id.as_uuid(),
        status,
    )
    .fetch_one(conn)
    .await
}
