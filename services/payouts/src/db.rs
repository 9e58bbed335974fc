//! SQL for the `payouts` schema. Every function runs in the caller's connection or transaction.

use chrono::{DateTime, Utc};
use corridor_domain::ids::{BeneficiaryId, HoldId, MerchantId, PayoutBatchId, PayoutId};
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

#[derive(Clone)]
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
    pub tx_hash: Option<String>,
    pub gas_native: Option<Decimal>,
    pub batch_id: Option<Uuid>,
    pub batch_index: Option<i32>,
    pub merchant_id: Uuid,
    pub hold_id: Uuid,
    /// What the balance pays: `asset`/`amount`, or the quote's source side.
    pub debit_asset: String,
    pub debit_amount: Decimal,
    pub quote_id: Option<Uuid>,
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
    /// Set for items of a payout batch.
    pub batch: Option<(Uuid, i32)>,
    pub debit_asset: &'a str,
    pub debit_amount: Decimal,
    pub quote: Option<Uuid>,
    /// The API key that asked for it, for its mandate's daily budget.
    pub api_key: Option<Uuid>,
}

pub async fn insert_payout(conn: &mut PgConnection, p: NewPayout<'_>) -> Result<PayoutRow, sqlx::Error> {
    let row = sqlx::query_as!(
        PayoutRow,
        r#"INSERT INTO payouts.payouts
               (id, merchant_id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee,
                purpose, status, hold_id, batch_id, batch_index, debit_asset, debit_amount, quote_id, api_key_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending_screening', $11, $12, $13, $14, $15, $16, $17)
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
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
        p.batch.map(|b| b.0),
        p.batch.map(|b| b.1),
        p.debit_asset,
        p.debit_amount,
        p.quote,
        p.api_key,
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
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
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
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
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
                     status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        id.as_uuid(),
        status,
    )
    .fetch_one(conn)
    .await
}

/// Records a screening or review outcome: the new status and the decision hash to attest.
pub async fn set_decided(
    conn: &mut PgConnection,
    id: PayoutId,
    status: &str,
    decision_hash: &str,
) -> Result<PayoutRow, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts SET status = $2, decision_hash = $3, updated_at = now() WHERE id = $1
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                     tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        id.as_uuid(),
        status,
        decision_hash,
    )
    .fetch_one(conn)
    .await
}

/// Ends a payout unsuccessfully (rejected or failed) with a stable code and a reason.
pub async fn set_failure(
    conn: &mut PgConnection,
    id: PayoutId,
    status: &str,
    code: &str,
    reason: &str,
) -> Result<PayoutRow, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts SET status = $2, failure_code = $3, failure_reason = $4, updated_at = now()
            WHERE id = $1
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                     tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        id.as_uuid(),
        status,
        code,
        reason,
    )
    .fetch_one(conn)
    .await
}

/// The review queue: held payouts of every merchant, oldest first.
pub async fn held_payouts(
    conn: &mut PgConnection,
    after: Option<PayoutId>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
             FROM payouts.payouts
            WHERE status = 'held' AND ($1::uuid IS NULL OR id > $1)
            ORDER BY id LIMIT $2"#,
        after.map(|a| a.as_uuid()),
        limit,
    )
    .fetch_all(conn)
    .await
}

pub struct ReviewLock {
    pub status: String,
    pub hold_id: Uuid,
    pub merchant_id: Uuid,
    pub decision_hash: Option<String>,
    pub amount: Decimal,
    pub recipient: String,
}

pub async fn lock_for_review(conn: &mut PgConnection, id: PayoutId) -> Result<Option<ReviewLock>, sqlx::Error> {
    sqlx::query_as!(
        ReviewLock,
        "SELECT status, hold_id, merchant_id, decision_hash, amount, recipient
           FROM payouts.payouts WHERE id = $1 FOR UPDATE",
        id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// One reviewer's approval of a held payout. False when this reviewer already approved it.
pub async fn insert_approval(
    conn: &mut PgConnection,
    payout: PayoutId,
    reviewer: Uuid,
    reason: &str,
    amount: Decimal,
    recipient: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        r#"INSERT INTO payouts.review_approvals (payout_id, reviewer, reason, amount, recipient)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payout_id, reviewer) DO NOTHING"#,
        payout.as_uuid(),
        reviewer,
        reason,
        amount,
        recipient,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims a payout for `reviewer`: a new claim, the same claimant again, or (with `take_over`)
/// another officer's. Returns the claimant after the call.
pub async fn claim(
    conn: &mut PgConnection,
    payout: PayoutId,
    reviewer: Uuid,
    take_over: bool,
) -> Result<ClaimRow, sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO payouts.review_claims (payout_id, claimed_by) VALUES ($1, $2)
           ON CONFLICT (payout_id) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, claimed_at = now()
           WHERE payouts.review_claims.claimed_by = EXCLUDED.claimed_by OR $3"#,
        payout.as_uuid(),
        reviewer,
        take_over,
    )
    .execute(&mut *conn)
    .await?;
    claimant(conn, payout).await?.ok_or_else(|| sqlx::Error::RowNotFound)
}

pub struct ClaimRow {
    pub claimed_by: Uuid,
    pub email: String,
    pub claimed_at: DateTime<Utc>,
}

pub async fn claimant(conn: &mut PgConnection, payout: PayoutId) -> Result<Option<ClaimRow>, sqlx::Error> {
    sqlx::query_as!(
        ClaimRow,
        r#"SELECT c.claimed_by, u.email, c.claimed_at
             FROM payouts.review_claims c JOIN platform.console_users u ON u.id = c.claimed_by
            WHERE c.payout_id = $1"#,
        payout.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

pub struct ApprovalRow {
    pub reviewer: Uuid,
    pub email: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// The approvals a payout has collected, oldest first.
pub async fn approvals(conn: &mut PgConnection, payout: PayoutId) -> Result<Vec<ApprovalRow>, sqlx::Error> {
    sqlx::query_as!(
        ApprovalRow,
        r#"SELECT a.reviewer, u.email, a.reason, a.created_at
             FROM payouts.review_approvals a JOIN platform.console_users u ON u.id = a.reviewer
            WHERE a.payout_id = $1 ORDER BY a.created_at, a.reviewer"#,
        payout.as_uuid(),
    )
    .fetch_all(conn)
    .await
}

/// A payout by id whatever its merchant (for compliance staff).
pub async fn payout_any_merchant(conn: &mut PgConnection, id: PayoutId) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
             FROM payouts.payouts WHERE id = $1"#,
        id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

pub async fn insert_review(
    conn: &mut PgConnection,
    payout: PayoutId,
    decision: &str,
    reviewer: Uuid,
    reason: &str,
    decision_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO payouts.reviews (payout_id, decision, reviewer, reason, decision_hash)
           VALUES ($1, $2, $3, $4, $5)"#,
        payout.as_uuid(),
        decision,
        reviewer,
        reason,
        decision_hash,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ready payouts join a settlement (caller holds their row locks).
pub async fn set_submitted(
    conn: &mut PgConnection,
    ids: &[Uuid],
    settlement: Uuid,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts SET status = 'submitted', settlement_id = $2, updated_at = now()
            WHERE id = ANY($1) AND status IN ('cleared', 'approved')
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                     tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        ids,
        settlement,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// Moves a settlement's payouts from one status to the next; returns those that moved, so a
/// step replayed after a crash changes nothing twice.
pub async fn settle_step(
    conn: &mut PgConnection,
    settlement: Uuid,
    from: &str,
    to: &str,
    tx_hash: Option<&str>,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    let mut rows = sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts SET status = $3, tx_hash = COALESCE($4, tx_hash), updated_at = now()
            WHERE settlement_id = $1 AND status = $2
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                     tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        settlement,
        from,
        to,
        tx_hash,
    )
    .fetch_all(conn)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// A settlement's payouts still in flight, with their holds.
pub async fn settlement_payouts(conn: &mut PgConnection, settlement: Uuid) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, hold_id FROM payouts.payouts WHERE settlement_id = $1 AND status IN ('submitted', 'confirmed') ORDER BY id",
        settlement,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.hold_id)).collect())
}

pub async fn fail_settled(
    conn: &mut PgConnection,
    id: PayoutId,
    code: &str,
    reason: &str,
    tx_hash: Option<&str>,
) -> Result<PayoutRow, sqlx::Error> {
    let row = sqlx::query_as!(
        PayoutRow,
        r#"UPDATE payouts.payouts
              SET status = 'failed', failure_code = $2, failure_reason = $3, tx_hash = COALESCE($4, tx_hash), updated_at = now()
            WHERE id = $1
           RETURNING id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                     status, failure_code, failure_reason, created_at, updated_at,
                     tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id"#,
        id.as_uuid(),
        code,
        reason,
        tx_hash,
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// Each payout of a settlement shows `share` of its gas; the first (by id) also the remainder.
pub async fn set_gas_shares(
    conn: &mut PgConnection,
    settlement: Uuid,
    share: Decimal,
    remainder: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE payouts.payouts p
              SET gas_native = $2::numeric + CASE WHEN p.id = (SELECT id FROM payouts.payouts WHERE settlement_id = $1 ORDER BY id LIMIT 1)
                                                 THEN $3::numeric ELSE 0 END
            WHERE p.settlement_id = $1"#,
        settlement,
        share,
        remainder,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_batch(
    conn: &mut PgConnection,
    id: PayoutBatchId,
    merchant: MerchantId,
    item_count: i32,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO payouts.batches (id, merchant_id, item_count, accepted) VALUES ($1, $2, $3, 0) RETURNING created_at",
        id.as_uuid(),
        merchant.as_uuid(),
        item_count,
    )
    .fetch_one(conn)
    .await
}

pub async fn finish_batch(
    conn: &mut PgConnection,
    id: PayoutBatchId,
    accepted: i32,
    rejected: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE payouts.batches SET accepted = $2, rejected = $3 WHERE id = $1",
        id.as_uuid(),
        accepted,
        rejected,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub struct BatchRow {
    pub item_count: i32,
    pub accepted: i32,
    pub rejected: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn batch(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: PayoutBatchId,
) -> Result<Option<BatchRow>, sqlx::Error> {
    sqlx::query_as!(
        BatchRow,
        "SELECT item_count, accepted, rejected, created_at FROM payouts.batches WHERE id = $1 AND merchant_id = $2",
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// A batch's payouts (at most 1,000 by the batch limit), in item order.
pub async fn batch_payouts(conn: &mut PgConnection, id: PayoutBatchId) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
             FROM payouts.payouts WHERE batch_id = $1 ORDER BY batch_index"#,
        id.as_uuid(),
    )
    .fetch_all(conn)
    .await
}

/// Payouts for a CSV export, oldest first.
pub async fn export(
    conn: &mut PgConnection,
    merchant: MerchantId,
    status: Option<&str>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"SELECT id, client_reference, beneficiary_id, asset, chain_id, recipient, amount, fee, purpose,
                  status, failure_code, failure_reason, created_at, updated_at,
                  tx_hash, gas_native, batch_id, batch_index, merchant_id, hold_id, debit_asset, debit_amount, quote_id
             FROM payouts.payouts
            WHERE merchant_id = $1 AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
            ORDER BY created_at, id LIMIT $5"#,
        merchant.as_uuid(),
        status,
        created_after,
        created_before,
        limit,
    )
    .fetch_all(conn)
    .await
}
