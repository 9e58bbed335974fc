//! The `yield` schema and the ledger history it reads. Functions take `&mut PgConnection`, so
//! the use case owns the transaction.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// One row of a merchant's balance history for an asset: either a current account balance
/// (`at` is `None`) or one posting made at or after the period's start.
pub struct HistoryRow {
    pub merchant_id: Uuid,
    pub at: Option<DateTime<Utc>>,
    pub amount: Decimal,
}

/// Every merchant's available and reserved balances of `asset` now, and every posting to them
/// since `from`, ordered by merchant, then balances, then postings in ledger order. One
/// statement, so one snapshot: the balances and the postings agree with each other.
pub async fn history_since(
    conn: &mut PgConnection,
    asset: &str,
    from: DateTime<Utc>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as!(
        HistoryRow,
        r#"WITH accts AS (
               SELECT id, owner_id, balance FROM ledger.accounts
                WHERE owner_kind = 'merchant' AND asset = $1 AND purpose IN ('available', 'reserved'))
           SELECT merchant_id AS "merchant_id!", at, amount AS "amount!"
             FROM (SELECT a.owner_id AS merchant_id, NULL::timestamptz AS at, a.balance AS amount, 0::bigint AS seq
                     FROM accts a
                   UNION ALL
                   SELECT a.owner_id, p.created_at, p.amount, p.id
                     FROM ledger.postings p JOIN accts a ON a.id = p.account_id
                    WHERE p.created_at >= $2) h
            ORDER BY merchant_id, at NULLS FIRST, seq"#,
        asset,
        from,
    )
    .fetch_all(conn)
    .await
}

pub struct Enrolment {
    pub merchant_id: Uuid,
    pub opted_in_at: DateTime<Utc>,
    pub jurisdiction: Option<String>,
}

/// Merchants enrolled now, with when they enrolled.
pub async fn enrolments(conn: &mut PgConnection) -> Result<Vec<Enrolment>, sqlx::Error> {
    sqlx::query_as!(
        Enrolment,
        r#"SELECT merchant_id, opted_in_at AS "opted_in_at!", jurisdiction
             FROM yield.merchant_settings WHERE opted_in_at IS NOT NULL"#
    )
    .fetch_all(conn)
    .await
}

pub struct SettingsRow {
    pub opted_in_at: Option<DateTime<Utc>>,
    pub jurisdiction: Option<String>,
}

pub async fn settings(conn: &mut PgConnection, merchant: Uuid) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        "SELECT opted_in_at, jurisdiction FROM yield.merchant_settings WHERE merchant_id = $1",
        merchant,
    )
    .fetch_optional(conn)
    .await
}

/// Enrols or leaves; enrolling again keeps the first enrolment's time.
pub async fn set_enrolled(
    conn: &mut PgConnection,
    merchant: Uuid,
    enrolled: bool,
    now: DateTime<Utc>,
) -> Result<SettingsRow, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        r#"INSERT INTO yield.merchant_settings (merchant_id, opted_in_at, updated_at)
           VALUES ($1, CASE WHEN $2 THEN $3::timestamptz END, $3)
           ON CONFLICT (merchant_id) DO UPDATE
              SET opted_in_at = CASE WHEN $2 THEN COALESCE(yield.merchant_settings.opted_in_at, $3) END,
                  updated_at = $3
           RETURNING opted_in_at, jurisdiction"#,
        merchant,
        enrolled,
        now,
    )
    .fetch_one(conn)
    .await
}

pub async fn set_jurisdiction(
    conn: &mut PgConnection,
    merchant: Uuid,
    jurisdiction: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SettingsRow, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        r#"INSERT INTO yield.merchant_settings (merchant_id, jurisdiction, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (merchant_id) DO UPDATE SET jurisdiction = $2, updated_at = $3
           RETURNING opted_in_at, jurisdiction"#,
        merchant,
        jurisdiction,
        now,
    )
    .fetch_one(conn)
    .await
}

pub struct PeriodRow {
    pub id: Uuid,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub carried_loss_out: Decimal,
}

/// A distribution of `asset` whose period overlaps `[start, end)`, if any.
pub async fn overlapping(
    conn: &mut PgConnection,
    asset: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Option<PeriodRow>, sqlx::Error> {
    sqlx::query_as!(
        PeriodRow,
        r#"SELECT id, period_start, period_end, carried_loss_out FROM yield.distributions
            WHERE asset = $1 AND tstzrange(period_start, period_end) && tstzrange($2, $3)
            ORDER BY period_start LIMIT 1"#,
        asset,
        start,
        end,
    )
    .fetch_optional(conn)
    .await
}

/// The latest distribution of `asset`: where the next period may start, and its carried loss.
pub async fn latest(conn: &mut PgConnection, asset: &str) -> Result<Option<PeriodRow>, sqlx::Error> {
    sqlx::query_as!(
        PeriodRow,
        r#"SELECT id, period_start, period_end, carried_loss_out FROM yield.distributions
            WHERE asset = $1 ORDER BY period_end DESC LIMIT 1"#,
        asset,
    )
    .fetch_optional(conn)
    .await
}

/// Serialises distributions of one asset until the transaction ends.
pub async fn lock_asset(conn: &mut PgConnection, asset: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('yield.distributions:' || $1::text))",
        asset
    )
    .execute(conn)
    .await
    .map(|_| ())
}

#[derive(Debug, Clone)]
pub struct RewardRow {
    pub id: Uuid,
    pub asset: String,
    pub amount: Decimal,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub source: String,
    pub reference: String,
    pub distribution_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Rewards of `asset` not yet distributed whose period ends by `end`, locked for this
/// distribution.
pub async fn claimable_rewards(
    conn: &mut PgConnection,
    asset: &str,
    end: DateTime<Utc>,
) -> Result<Vec<RewardRow>, sqlx::Error> {
    sqlx::query_as!(
        RewardRow,
        r#"SELECT id, asset, amount, period_start, period_end, source, reference, distribution_id, created_at
             FROM yield.rewards
            WHERE asset = $1 AND distribution_id IS NULL AND period_end <= $2
            ORDER BY id FOR UPDATE"#,
        asset,
        end,
    )
    .fetch_all(conn)
    .await
}

pub struct NewReward<'a> {
    pub id: Uuid,
    pub asset: &'a str,
    pub amount: Decimal,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub source: &'a str,
    pub reference: &'a str,
    pub entered_by: Uuid,
}

/// Inserts a reward; `None` when a reward with this source and reference already exists.
pub async fn insert_reward(conn: &mut PgConnection, r: &NewReward<'_>) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as!(
        RewardRow,
        r#"INSERT INTO yield.rewards (id, asset, amount, period_start, period_end, source, reference, entered_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (source, reference) DO NOTHING
           RETURNING id, asset, amount, period_start, period_end, source, reference, distribution_id, created_at"#,
        r.id,
        r.asset,
        r.amount,
        r.period_start,
        r.period_end,
        r.source,
        r.reference,
        r.entered_by,
    )
    .fetch_optional(conn)
    .await
}

pub async fn reward_by_reference(
    conn: &mut PgConnection,
    source: &str,
    reference: &str,
) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as!(
        RewardRow,
        r#"SELECT id, asset, amount, period_start, period_end, source, reference, distribution_id, created_at
             FROM yield.rewards WHERE source = $1 AND reference = $2"#,
        source,
        reference,
    )
    .fetch_optional(conn)
    .await
}

pub async fn list_rewards(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RewardRow>, sqlx::Error> {
    sqlx::query_as!(
        RewardRow,
        r#"SELECT id, asset, amount, period_start, period_end, source, reference, distribution_id, created_at
             FROM yield.rewards WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn claim_rewards(conn: &mut PgConnection, ids: &[Uuid], distribution: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE yield.rewards SET distribution_id = $2 WHERE id = ANY($1) AND distribution_id IS NULL",
        ids,
        distribution,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

#[derive(Debug, Clone)]
pub struct DistributionRow {
    pub id: Uuid,
    pub asset: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub take_rate_bps: i32,
    pub partner_name: Option<String>,
    pub partner_share_bps: i32,
    pub min_balance: Decimal,
    pub excluded_jurisdictions: Vec<String>,
    pub gross_yield: Decimal,
    pub carried_loss_in: Decimal,
    pub carried_loss_out: Decimal,
    pub distributable: Decimal,
    pub platform_amount: Decimal,
    pub partner_amount: Decimal,
    pub merchants_amount: Decimal,
    pub unclaimed_amount: Decimal,
    pub eligible_merchants: i32,
    pub balance_seconds_total: Decimal,
    pub entry_id: Option<Uuid>,
    pub report_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_distribution(
    conn: &mut PgConnection,
    d: &DistributionRow,
    created_by: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO yield.distributions
               (id, asset, period_start, period_end, take_rate_bps, partner_name, partner_share_bps, min_balance,
                excluded_jurisdictions, gross_yield, carried_loss_in, carried_loss_out, distributable,
                platform_amount, partner_amount, merchants_amount, unclaimed_amount, eligible_merchants,
                balance_seconds_total, entry_id, report_hash, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                   $21, $22, $23)"#,
        d.id,
        d.asset,
        d.period_start,
        d.period_end,
        d.take_rate_bps,
        d.partner_name,
        d.partner_share_bps,
        d.min_balance,
        &d.excluded_jurisdictions,
        d.gross_yield,
        d.carried_loss_in,
        d.carried_loss_out,
        d.distributable,
        d.platform_amount,
        d.partner_amount,
        d.merchants_amount,
        d.unclaimed_amount,
        d.eligible_merchants,
        d.balance_seconds_total,
        d.entry_id,
        &d.report_hash,
        created_by,
        d.created_at,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn distribution(conn: &mut PgConnection, id: Uuid) -> Result<Option<DistributionRow>, sqlx::Error> {
    sqlx::query_as!(
        DistributionRow,
        r#"SELECT id, asset, period_start, period_end, take_rate_bps, partner_name, partner_share_bps, min_balance,
                  excluded_jurisdictions, gross_yield, carried_loss_in, carried_loss_out, distributable,
                  platform_amount, partner_amount, merchants_amount, unclaimed_amount, eligible_merchants,
                  balance_seconds_total, entry_id, report_hash, created_at
             FROM yield.distributions WHERE id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn list_distributions(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DistributionRow>, sqlx::Error> {
    sqlx::query_as!(
        DistributionRow,
        r#"SELECT id, asset, period_start, period_end, take_rate_bps, partner_name, partner_share_bps, min_balance,
                  excluded_jurisdictions, gross_yield, carried_loss_in, carried_loss_out, distributable,
                  platform_amount, partner_amount, merchants_amount, unclaimed_amount, eligible_merchants,
                  balance_seconds_total, entry_id, report_hash, created_at
             FROM yield.distributions WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub struct AllocationRows {
    pub merchant_ids: Vec<Uuid>,
    pub balance_seconds: Vec<Decimal>,
    pub twabs: Vec<Decimal>,
    pub fees: Vec<Decimal>,
    pub nets: Vec<Decimal>,
}

/// Writes every allocation of a distribution in one statement.
pub async fn insert_allocations(
    conn: &mut PgConnection,
    distribution: Uuid,
    rows: &AllocationRows,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO yield.allocations (distribution_id, merchant_id, balance_seconds, twab, fees, net)
           SELECT $1, * FROM UNNEST($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[])"#,
        distribution,
        &rows.merchant_ids,
        &rows.balance_seconds,
        &rows.twabs,
        &rows.fees,
        &rows.nets,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

pub struct AllocationRow {
    pub distribution_id: Uuid,
    pub merchant_id: Uuid,
    pub balance_seconds: Decimal,
    pub twab: Decimal,
    pub fees: Decimal,
    pub net: Decimal,
    pub adjustments: Decimal,
    pub asset: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

/// Allocations of one distribution (after `after`, by merchant id), with their adjustments.
pub async fn allocations_of(
    conn: &mut PgConnection,
    distribution: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AllocationRow>, sqlx::Error> {
    sqlx::query_as!(
        AllocationRow,
        r#"SELECT a.distribution_id, a.merchant_id, a.balance_seconds, a.twab, a.fees, a.net,
                  COALESCE((SELECT sum(j.amount) FROM yield.adjustments j
                             WHERE j.distribution_id = a.distribution_id AND j.merchant_id = a.merchant_id), 0)
                      AS "adjustments!",
                  d.asset, d.period_start, d.period_end
             FROM yield.allocations a JOIN yield.distributions d ON d.id = a.distribution_id
            WHERE a.distribution_id = $1 AND ($2::uuid IS NULL OR a.merchant_id > $2)
            ORDER BY a.merchant_id LIMIT $3"#,
        distribution,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// One merchant's statements, newest period first (after `after`, a distribution id).
pub async fn statements_of(
    conn: &mut PgConnection,
    merchant: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AllocationRow>, sqlx::Error> {
    sqlx::query_as!(
        AllocationRow,
        r#"SELECT a.distribution_id, a.merchant_id, a.balance_seconds, a.twab, a.fees, a.net,
                  COALESCE((SELECT sum(j.amount) FROM yield.adjustments j
                             WHERE j.distribution_id = a.distribution_id AND j.merchant_id = a.merchant_id), 0)
                      AS "adjustments!",
                  d.asset, d.period_start, d.period_end
             FROM yield.allocations a JOIN yield.distributions d ON d.id = a.distribution_id
            WHERE a.merchant_id = $1 AND ($2::uuid IS NULL OR a.distribution_id < $2)
            ORDER BY a.distribution_id DESC LIMIT $3"#,
        merchant,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub struct NewAdjustment<'a> {
    pub id: Uuid,
    pub distribution_id: Uuid,
    pub merchant_id: Uuid,
    pub amount: Decimal,
    pub reason: &'a str,
    pub entry_id: Uuid,
    pub created_by: Uuid,
}

pub async fn insert_adjustment(conn: &mut PgConnection, a: &NewAdjustment<'_>) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO yield.adjustments (id, distribution_id, merchant_id, amount, reason, entry_id, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at"#,
        a.id,
        a.distribution_id,
        a.merchant_id,
        a.amount,
        a.reason,
        a.entry_id,
        a.created_by,
    )
    .fetch_one(conn)
    .await
}

/// Yield by source kind and period, for treasury: every distribution's rewards grouped by
/// source, next to what the distribution paid.
pub struct SourceTotal {
    pub distribution_id: Uuid,
    pub source: String,
    pub amount: Decimal,
    pub rewards: i64,
}

pub async fn source_totals(conn: &mut PgConnection, distributions: &[Uuid]) -> Result<Vec<SourceTotal>, sqlx::Error> {
    sqlx::query_as!(
        SourceTotal,
        r#"SELECT distribution_id AS "distribution_id!", source, sum(amount) AS "amount!", count(*) AS "rewards!"
             FROM yield.rewards WHERE distribution_id = ANY($1)
            GROUP BY distribution_id, source ORDER BY distribution_id, source"#,
        distributions,
    )
    .fetch_all(conn)
    .await
}

pub struct VaultMark {
    pub at: DateTime<Utc>,
    pub position: Decimal,
    pub net_deposited: Decimal,
}

/// Whether any vault mark exists for `asset`: once one does, every period needs its bounds marked.
pub async fn has_vault_marks(conn: &mut PgConnection, asset: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM yield.vault_marks WHERE asset = $1) AS "exists!""#,
        asset
    )
    .fetch_one(conn)
    .await
}

/// The marks of `asset` at exactly these moments.
pub async fn vault_marks_at(
    conn: &mut PgConnection,
    asset: &str,
    at: &[DateTime<Utc>],
) -> Result<Vec<VaultMark>, sqlx::Error> {
    sqlx::query_as!(
        VaultMark,
        "SELECT at, position, net_deposited FROM yield.vault_marks WHERE asset = $1 AND at = ANY($2) ORDER BY at",
        asset,
        at,
    )
    .fetch_all(conn)
    .await
}

/// Records a mark; `false` when one exists for that asset and moment.
pub async fn insert_vault_mark(
    conn: &mut PgConnection,
    asset: &str,
    mark: &VaultMark,
    entered_by: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"INSERT INTO yield.vault_marks (id, asset, at, position, net_deposited, entered_by)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (asset, at) DO NOTHING"#,
        Uuid::now_v7(),
        asset,
        mark.at,
        mark.position,
        mark.net_deposited,
        entered_by,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
