//! Yield endpoints. Merchants (API keys) enrol and read their statements; treasury staff
//! (console sessions) enter rewards, set jurisdictions, run and read distributions, and post
//! adjusting entries. Handlers parse at the edge and call `distribute`; every refusal is
//! problem+json with a stable code and changes nothing.

use crate::{
    allocate::{AllocateError, Bps, Waterfall},
    db,
    distribute::{self, DistributeError, Summary},
    twab::{Period, PeriodError},
};
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use corridor_domain::{
    Asset, AssetKind, Money,
    ids::{EntryId, MerchantId, YieldAdjustmentId, YieldDistributionId, YieldRewardId},
};
use corridor_ledger::{AccountKey, EntryDraft, Purpose};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{ConsoleAuth, MerchantAuth, Role, Scope},
    csv,
    error::FieldError,
    pagination::{Page, PageQuery},
};
use corridor_store::{StoreError, ledger};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

const TREASURY: [Role; 2] = [Role::Treasury, Role::PlatformAdmin];
/// Rows in one rewards CSV import.
const IMPORT_ROWS_MAX: usize = 10_000;
/// Rows in one statements export.
const EXPORT_ROWS_MAX: i64 = 10_000;
/// Decimal places of a statement's rate (a fraction of the balance for the period).
const RATE_DECIMALS: u32 = 10;

impl From<DistributeError> for ApiError {
    fn from(e: DistributeError) -> Self {
        let detail = e.to_string();
        match e {
            DistributeError::PeriodOpen { .. } => ApiError::unprocessable("period_open", detail),
            DistributeError::AlreadyDistributed { .. } => ApiError::conflict("period_already_distributed", detail),
            DistributeError::Overlaps { .. } => ApiError::conflict("period_overlaps", detail),
            DistributeError::BeforeLatest { .. } => ApiError::conflict("period_out_of_order", detail),
            DistributeError::VaultMarkMissing { .. } => ApiError::unprocessable("vault_mark_missing", detail),
            DistributeError::Allocate(AllocateError::RateOverWhole { .. }) => {
                ApiError::unprocessable("invalid_rate", detail)
            }
            DistributeError::Allocate(AllocateError::Overflow) => {
                ApiError::unprocessable("amount_out_of_range", detail)
            }
            DistributeError::Twab(e) => ApiError::internal(e),
            DistributeError::Store(e) => e.into(),
        }
    }
}

fn period_error(e: PeriodError) -> ApiError {
    ApiError::unprocessable("invalid_period", e.to_string())
}

/// An asset whose float can earn yield: a stablecoin the registry knows.
fn yield_asset(state: &AppState, code: &str) -> Result<Asset, ApiError> {
    let asset = state.registry().get(code)?;
    if asset.kind != AssetKind::Stablecoin {
        return Err(ApiError::unprocessable(
            "asset_not_yield_bearing",
            format!("{code} is not a stablecoin; only stablecoin float earns yield"),
        ));
    }
    Ok(asset.clone())
}

fn parse_jurisdiction(raw: &str) -> Result<String, String> {
    if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an ISO 3166 alpha-2 country code such as \"DE\""
        ))
    }
}

// ---- merchants -------------------------------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentView {
    pub enrolled: bool,
    /// Balance-seconds from this moment on earn yield.
    pub enrolled_since: Option<DateTime<Utc>>,
    /// Set by the platform; some jurisdictions are excluded from yield.
    pub jurisdiction: Option<String>,
}

impl EnrollmentView {
    fn from_row(row: Option<db::SettingsRow>) -> Self {
        match row {
            Some(r) => EnrollmentView {
                enrolled: r.opted_in_at.is_some(),
                enrolled_since: r.opted_in_at,
                jurisdiction: r.jurisdiction,
            },
            None => EnrollmentView {
                enrolled: false,
                enrolled_since: None,
                jurisdiction: None,
            },
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEnrollment {
    pub enrolled: bool,
}

/// Whether the caller's merchant earns yield on its balances.
#[utoipa::path(get, path = "/v1/yield/enrollment", tag = "yield", security(("api_key" = [])),
    responses((status = 200, body = EnrollmentView)))]
pub async fn get_enrollment(
    State(state): State<AppState>,
    auth: MerchantAuth,
) -> Result<ApiJson<EnrollmentView>, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::settings(&mut conn, auth.merchant_id.as_uuid())
        .await
        .map_err(ApiError::from)?;
    Ok(ApiJson(EnrollmentView::from_row(row)))
}

/// Enrol in yield on the float, or leave it. Enrolling again keeps the first enrolment time;
/// leaving means no yield for any period not yet distributed.
#[utoipa::path(put, path = "/v1/yield/enrollment", tag = "yield", security(("api_key" = [])),
    request_body = SetEnrollment, responses((status = 200, body = EnrollmentView)))]
pub async fn set_enrollment(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(body): ApiJson<SetEnrollment>,
) -> Result<ApiJson<EnrollmentView>, ApiError> {
    auth.require(Scope::YieldManage)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::set_enrolled(
        &mut conn,
        auth.merchant_id.as_uuid(),
        body.enrolled,
        state.clock().now(),
    )
    .await
    .map_err(ApiError::from)?;
    Ok(ApiJson(EnrollmentView::from_row(Some(row))))
}

/// A merchant's yield for one period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub distribution_id: String,
    pub asset: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Time-weighted average of available plus reserved balance over the period (while enrolled).
    pub twab: String,
    /// What the balance earned before the platform's and partner's take: `net + fees`.
    pub gross: String,
    pub fees: String,
    /// Credited to the available balance.
    pub net: String,
    /// `net / twab` for the period, 10 decimals, rounded toward zero.
    pub rate: String,
    /// Corrections posted after the distribution (signed).
    pub adjustments: String,
}

/// A stored amount shown at its asset's scale (Postgres gives back zero without decimals).
fn at_scale(amount: rust_decimal::Decimal, scale: u32) -> String {
    let mut a = amount;
    a.rescale(scale);
    a.to_string()
}

/// The ledger scale of a stored asset code.
fn scale_of(state: &AppState, asset: &str) -> Result<u32, ApiError> {
    state
        .registry()
        .get(asset)
        .map(|a| a.scale)
        .map_err(|e| ApiError::internal(StoreError::Corrupt(e.to_string())))
}

fn statement(state: &AppState, row: db::AllocationRow) -> Result<Statement, ApiError> {
    let scale = scale_of(state, &row.asset)?;
    let rate = if row.twab.is_zero() {
        rust_decimal::Decimal::ZERO
    } else {
        (row.net / row.twab).round_dp_with_strategy(RATE_DECIMALS, rust_decimal::RoundingStrategy::ToZero)
    };
    Ok(Statement {
        distribution_id: YieldDistributionId::from_uuid(row.distribution_id).to_string(),
        asset: row.asset,
        period_start: row.period_start,
        period_end: row.period_end,
        twab: at_scale(row.twab, scale),
        gross: at_scale(row.net + row.fees, scale),
        fees: at_scale(row.fees, scale),
        net: at_scale(row.net, scale),
        rate: at_scale(rate, RATE_DECIMALS),
        adjustments: at_scale(row.adjustments, scale),
    })
}

/// The caller's yield statements, newest period first.
#[utoipa::path(get, path = "/v1/yield/statements", tag = "yield", security(("api_key" = [])),
    params(PageQuery), responses((status = 200, body = Page<Statement>)))]
pub async fn list_statements(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<Statement>>, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let (limit, after) = q.parse::<YieldDistributionId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::statements_of(
        &mut conn,
        auth.merchant_id.as_uuid(),
        after.map(|a| a.as_uuid()),
        i64::from(limit) + 1,
    )
    .await
    .map_err(ApiError::from)?;
    let statements = rows
        .into_iter()
        .map(|r| Ok((r.distribution_id, statement(&state, r)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ApiJson(Page::from_rows(
        statements,
        limit,
        |(id, _)| YieldDistributionId::from_uuid(*id).to_string(),
        |(_, s)| s,
    )))
}

/// The caller's yield statements as CSV (at most 10,000 periods; `x-truncated` says so).
#[utoipa::path(get, path = "/v1/yield/statements/export.csv", tag = "yield", security(("api_key" = [])),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export_statements(State(state): State<AppState>, auth: MerchantAuth) -> Result<Response, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let mut rows = db::statements_of(&mut conn, auth.merchant_id.as_uuid(), None, EXPORT_ROWS_MAX + 1)
        .await
        .map_err(ApiError::from)?;
    let truncated = rows.len() as i64 > EXPORT_ROWS_MAX;
    rows.truncate(EXPORT_ROWS_MAX as usize);
    let mut out = String::new();
    csv::push_row(
        &mut out,
        &[
            "distribution_id",
            "asset",
            "period_start",
            "period_end",
            "twab",
            "rate",
            "gross",
            "fees",
            "net",
            "adjustments",
        ]
        .map(String::from),
    );
    for row in rows {
        let s = statement(&state, row)?;
        csv::push_row(
            &mut out,
            &[
                s.distribution_id,
                s.asset,
                s.period_start.to_rfc3339(),
                s.period_end.to_rfc3339(),
                s.twab,
                s.rate,
                s.gross,
                s.fees,
                s.net,
                s.adjustments,
            ],
        );
    }
    Ok(csv::response(
        "attachment; filename=\"yield-statements.csv\"",
        truncated,
        out,
    ))
}

// ---- treasury: merchants and rewards ---------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetJurisdiction {
    /// ISO 3166 alpha-2, or null when unknown.
    pub jurisdiction: Option<String>,
}

/// Set a merchant's jurisdiction (from KYC), which eligibility rules check.
#[utoipa::path(put, path = "/v1/treasury/yield/merchants/{merchant_id}", tag = "yield",
    security(("console_session" = [])), request_body = SetJurisdiction,
    params(("merchant_id" = String, Path, description = "mer_...")),
    responses((status = 200, body = EnrollmentView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn set_jurisdiction(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(merchant): Path<String>,
    ApiJson(body): ApiJson<SetJurisdiction>,
) -> Result<ApiJson<EnrollmentView>, ApiError> {
    auth.require_any(&TREASURY)?;
    let merchant = MerchantId::parse(&merchant).map_err(|_| ApiError::not_found("merchant"))?;
    let jurisdiction = body
        .jurisdiction
        .as_deref()
        .map(parse_jurisdiction)
        .transpose()
        .map_err(|d| ApiError::unprocessable("invalid_jurisdiction", d))?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    corridor_store::merchants::get(&mut tx, merchant).await?;
    let row = db::set_jurisdiction(
        &mut tx,
        merchant.as_uuid(),
        jurisdiction.as_deref(),
        state.clock().now(),
    )
    .await
    .map_err(ApiError::from)?;
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "yield.jurisdiction_set",
        &merchant.to_string(),
        &serde_json::json!({ "jurisdiction": jurisdiction }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(EnrollmentView::from_row(Some(row))))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReward {
    /// A stablecoin, e.g. "USDC".
    pub asset: String,
    /// A positive decimal string at most at the asset's scale.
    pub amount: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Who paid it, e.g. "paxos" or "bridge".
    pub source: String,
    /// The payer's own id for this payment; entering it again changes nothing.
    pub reference: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RewardView {
    pub id: String,
    pub asset: String,
    pub amount: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub source: String,
    pub reference: String,
    /// The distribution that shared it out, once one has.
    pub distribution_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn reward_view(state: &AppState, r: db::RewardRow) -> Result<RewardView, ApiError> {
    let scale = scale_of(state, &r.asset)?;
    Ok(RewardView {
        id: YieldRewardId::from_uuid(r.id).to_string(),
        amount: at_scale(r.amount, scale),
        asset: r.asset,
        period_start: r.period_start,
        period_end: r.period_end,
        source: r.source,
        reference: r.reference,
        distribution_id: r.distribution_id.map(|d| YieldDistributionId::from_uuid(d).to_string()),
        created_at: r.created_at,
    })
}

/// A reward checked at the edge.
struct CheckedReward {
    asset: Asset,
    amount: Money,
    period: Period,
    source: String,
    reference: String,
}

/// Checks one reward; `Err` holds (pointer suffix, code, detail).
fn check_reward(state: &AppState, r: &NewReward) -> Result<CheckedReward, (&'static str, &'static str, String)> {
    let asset = yield_asset(state, &r.asset).map_err(|e| ("asset", "unknown_asset", e.detail))?;
    let amount = Money::parse_positive(&r.amount, &asset).map_err(|e| ("amount", "invalid_amount", e.to_string()))?;
    let period =
        Period::new(r.period_start, r.period_end).map_err(|e| ("period_start", "invalid_period", e.to_string()))?;
    if r.period_end > state.clock().now() {
        return Err((
            "period_end",
            "period_open",
            "a reward is entered for a period that has ended".to_owned(),
        ));
    }
    let text = |field: &'static str, v: &str, max: usize| {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > max {
            Err((field, "invalid_text", format!("{field} must be 1-{max} characters")))
        } else {
            Ok(v.to_owned())
        }
    };
    Ok(CheckedReward {
        asset,
        amount,
        period,
        source: text("source", &r.source, 100)?,
        reference: text("reference", &r.reference, 200)?,
    })
}

enum Entered {
    New(db::RewardRow),
    Same(db::RewardRow),
}

/// Inserts one checked reward; the same (source, reference) with the same content is a replay,
/// with different content a conflict.
async fn enter_reward(
    conn: &mut sqlx::PgConnection,
    r: &CheckedReward,
    actor: Uuid,
) -> Result<Entered, Result<ApiError, StoreError>> {
    let inserted = db::insert_reward(
        conn,
        &db::NewReward {
            id: YieldRewardId::new().as_uuid(),
            asset: r.asset.code.as_str(),
            amount: r.amount.amount(),
            period_start: r.period.start(),
            period_end: r.period.end(),
            source: &r.source,
            reference: &r.reference,
            entered_by: actor,
        },
    )
    .await
    .map_err(|e| Err(StoreError::from(e)))?;
    if let Some(row) = inserted {
        return Ok(Entered::New(row));
    }
    let existing = db::reward_by_reference(conn, &r.source, &r.reference)
        .await
        .map_err(|e| Err(StoreError::from(e)))?
        .ok_or(Err(StoreError::Corrupt(
            "reward vanished after a conflicting insert".into(),
        )))?;
    let same = existing.asset == r.asset.code.as_str()
        && existing.amount == r.amount.amount()
        && existing.period_start == r.period.start()
        && existing.period_end == r.period.end();
    if same {
        Ok(Entered::Same(existing))
    } else {
        Err(Ok(ApiError::conflict(
            "reward_reference_conflict",
            format!(
                "{} already has a reward with reference {:?} and different content",
                r.source, r.reference
            ),
        )))
    }
}

/// Enter an issuer or partner reward. Entering the same source and reference again answers
/// the stored reward (200); with different content it is refused.
#[utoipa::path(post, path = "/v1/treasury/yield/rewards", tag = "yield", security(("console_session" = [])),
    request_body = NewReward,
    responses((status = 201, body = RewardView), (status = 200, body = RewardView),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_reward(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewReward>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let checked = check_reward(&state, &body).map_err(|(_, code, detail)| ApiError::unprocessable(code, detail))?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let entered = enter_reward(&mut tx, &checked, auth.user_id.as_uuid())
        .await
        .map_err(|e| e.unwrap_or_else(ApiError::from))?;
    let (status, row) = match entered {
        Entered::New(row) => (StatusCode::CREATED, row),
        Entered::Same(row) => (StatusCode::OK, row),
    };
    if status == StatusCode::CREATED {
        audit_reward(&mut tx, &auth, &row).await?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((status, ApiJson(reward_view(&state, row)?)).into_response())
}

async fn audit_reward(conn: &mut sqlx::PgConnection, auth: &ConsoleAuth, row: &db::RewardRow) -> Result<(), ApiError> {
    corridor_store::audit::append(
        conn,
        &auth.user_id.to_string(),
        "yield.reward_entered",
        &YieldRewardId::from_uuid(row.id).to_string(),
        &serde_json::json!({ "asset": row.asset, "amount": row.amount.to_string(), "source": row.source, "reference": row.reference }),
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    pub rows: usize,
    pub imported: usize,
    /// Rows whose source and reference were already entered with the same content.
    pub already_present: usize,
}

/// Import rewards from CSV (`text/csv`, header `asset,amount,period_start,period_end,source,reference`,
/// at most 10,000 rows). All or nothing: any bad row refuses the file, naming each bad line.
#[utoipa::path(post, path = "/v1/treasury/yield/rewards/import", tag = "yield", security(("console_session" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn import_rewards(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    body: Bytes,
) -> Result<ApiJson<ImportResult>, ApiError> {
    auth.require_any(&TREASURY)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_reader(&body[..]);
    let headers = reader
        .headers()
        .map_err(|e| ApiError::unprocessable("invalid_csv", format!("line 1: {e}")))?
        .clone();
    let expected = ["asset", "amount", "period_start", "period_end", "source", "reference"];
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(ApiError::unprocessable(
            "invalid_csv",
            format!("line 1: the header must be {}", expected.join(",")),
        ));
    }
    let mut checked = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.deserialize::<CsvReward>().enumerate() {
        let line = i + 2;
        if i >= IMPORT_ROWS_MAX {
            return Err(ApiError::unprocessable(
                "too_many_rows",
                format!("at most {IMPORT_ROWS_MAX} rows per file"),
            ));
        }
        let parsed = record
            .map_err(|e| ("row", "invalid_csv", e.to_string()))
            .and_then(|r| r.into_reward().map_err(|d| ("period_start", "invalid_period", d)))
            .and_then(|r| check_reward(&state, &r));
        match parsed {
            Ok(r) => checked.push((line, r)),
            Err((field, code, detail)) => errors.push(FieldError {
                pointer: format!("/lines/{line}/{field}"),
                code: code.into(),
                detail: format!("line {line}: {detail}"),
            }),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_rows",
            format!("{} bad row(s); nothing was imported", errors.len()),
        )
        .with_errors(errors));
    }
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let (mut imported, mut already_present) = (0, 0);
    for (line, r) in &checked {
        match enter_reward(&mut tx, r, auth.user_id.as_uuid()).await {
            Ok(Entered::New(row)) => {
                imported += 1;
                audit_reward(&mut tx, &auth, &row).await?;
            }
            Ok(Entered::Same(_)) => already_present += 1,
            Err(Ok(mut e)) => {
                e.detail = format!("line {line}: {}; nothing was imported", e.detail);
                return Err(e);
            }
            Err(Err(e)) => return Err(e.into()),
        }
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(ImportResult {
        rows: checked.len(),
        imported,
        already_present,
    }))
}

#[derive(Debug, Deserialize)]
struct CsvReward {
    asset: String,
    amount: String,
    period_start: String,
    period_end: String,
    source: String,
    reference: String,
}

impl CsvReward {
    fn into_reward(self) -> Result<NewReward, String> {
        let time = |v: &str| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{v:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z"))
        };
        Ok(NewReward {
            period_start: time(&self.period_start)?,
            period_end: time(&self.period_end)?,
            asset: self.asset,
            amount: self.amount,
            source: self.source,
            reference: self.reference,
        })
    }
}

/// Rewards, newest first.
#[utoipa::path(get, path = "/v1/treasury/yield/rewards", tag = "yield", security(("console_session" = [])),
    params(PageQuery), responses((status = 200, body = Page<RewardView>)))]
pub async fn list_rewards(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<RewardView>>, ApiError> {
    auth.require_any(&TREASURY)?;
    let (limit, after) = q.parse::<YieldRewardId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::list_rewards(&mut conn, after.map(|a| a.as_uuid()), i64::from(limit) + 1)
        .await
        .map_err(ApiError::from)?;
    let views = rows
        .into_iter()
        .map(|r| reward_view(&state, r))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ApiJson(Page::from_rows(views, limit, |v| v.id.clone(), |v| v)))
}

// ---- treasury: distributions -----------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    pub name: String,
    /// The partner's share of what is left after the platform's take, in basis points.
    pub share_bps: u32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDistribution {
    pub asset: String,
    /// Whole seconds; the period is `[period_start, period_end)` and must have ended.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// The platform's take of the distributable yield, in basis points (0-10000).
    pub take_rate_bps: u32,
    #[serde(default)]
    pub partner: Option<Partner>,
    /// Merchants whose time-weighted balance is below this earn nothing (default 0).
    #[serde(default)]
    pub min_balance: Option<String>,
    /// ISO 3166 alpha-2 codes whose merchants are not eligible.
    #[serde(default)]
    pub excluded_jurisdictions: Vec<String>,
    /// Plan and report without paying anything.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceTotalView {
    pub source: String,
    pub amount: String,
    pub rewards: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DistributionView {
    /// Absent for a dry run.
    pub id: Option<String>,
    #[serde(flatten)]
    pub summary: Summary,
    pub eligible_merchants: usize,
    /// Yield by source (rewards grouped by who paid them).
    pub sources: Vec<SourceTotalView>,
    /// The one journal entry that paid it; absent when nothing was distributable.
    pub entry_id: Option<String>,
    /// SHA-256 of the canonical report, hex.
    pub report_hash: String,
    pub dry_run: bool,
    pub created_at: Option<DateTime<Utc>>,
}

/// The view of a distribution just planned (or paid) in this request.
fn view_of_report(
    outcome: &distribute::Outcome,
    dry_run: bool,
    created_at: Option<DateTime<Utc>>,
) -> Result<DistributionView, ApiError> {
    let mut by_source: std::collections::BTreeMap<&str, (rust_decimal::Decimal, i64)> = Default::default();
    for s in &outcome.report.sources {
        let e = by_source.entry(&s.source).or_default();
        // The report wrote these amounts from decimals; reading one back cannot fail.
        e.0 += s.amount.parse::<rust_decimal::Decimal>().map_err(ApiError::internal)?;
        e.1 += 1;
    }
    Ok(DistributionView {
        id: outcome.id.map(|i| i.to_string()),
        summary: outcome.report.summary.clone(),
        eligible_merchants: outcome.report.allocations.len(),
        sources: by_source
            .into_iter()
            .map(|(source, (amount, rewards))| SourceTotalView {
                source: source.to_owned(),
                amount: amount.to_string(),
                rewards,
            })
            .collect(),
        entry_id: outcome.entry_id.map(|e| e.to_string()),
        report_hash: hex::encode(outcome.report_hash),
        dry_run,
        created_at,
    })
}

/// The view of a stored distribution.
fn view_of_row(
    state: &AppState,
    d: db::DistributionRow,
    sources: Vec<SourceTotalView>,
) -> Result<DistributionView, ApiError> {
    let scale = scale_of(state, &d.asset)?;
    let s = |a| at_scale(a, scale);
    Ok(DistributionView {
        id: Some(YieldDistributionId::from_uuid(d.id).to_string()),
        summary: Summary {
            period_start: d.period_start,
            period_end: d.period_end,
            take_rate_bps: d.take_rate_bps.unsigned_abs(),
            partner_name: d.partner_name,
            partner_share_bps: d.partner_share_bps.unsigned_abs(),
            min_balance: s(d.min_balance),
            excluded_jurisdictions: d.excluded_jurisdictions,
            gross_yield: s(d.gross_yield),
            carried_loss_in: s(d.carried_loss_in),
            distributable: s(d.distributable),
            carried_loss_out: s(d.carried_loss_out),
            platform: s(d.platform_amount),
            partner: s(d.partner_amount),
            merchants: s(d.merchants_amount),
            unclaimed: s(d.unclaimed_amount),
            asset: d.asset,
        },
        eligible_merchants: d.eligible_merchants.unsigned_abs() as usize,
        sources,
        entry_id: d.entry_id.map(|e| EntryId::from_uuid(e).to_string()),
        report_hash: hex::encode(&d.report_hash),
        dry_run: false,
        created_at: Some(d.created_at),
    })
}

fn parse_distribution(state: &AppState, body: &NewDistribution) -> Result<distribute::Request, ApiError> {
    let asset = yield_asset(state, &body.asset)?;
    let period = Period::new(body.period_start, body.period_end).map_err(period_error)?;
    let take_rate = Bps::new("take_rate_bps", body.take_rate_bps).map_err(DistributeError::from)?;
    let (partner_name, partner_share) = match &body.partner {
        Some(p) => {
            let name = p.name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                return Err(ApiError::unprocessable(
                    "invalid_partner",
                    "partner.name must be 1-100 characters",
                ));
            }
            (
                Some(name.to_owned()),
                Bps::new("partner.share_bps", p.share_bps).map_err(DistributeError::from)?,
            )
        }
        None => (None, Bps::new("partner.share_bps", 0).map_err(DistributeError::from)?),
    };
    let min_balance = match &body.min_balance {
        Some(m) => Money::parse(m, &asset)?,
        None => Money::zero(&asset),
    };
    let excluded: BTreeSet<String> = body
        .excluded_jurisdictions
        .iter()
        .map(|j| parse_jurisdiction(j))
        .collect::<Result<_, _>>()
        .map_err(|d| ApiError::unprocessable("invalid_jurisdiction", d))?;
    if excluded.len() > 250 {
        return Err(ApiError::unprocessable(
            "invalid_jurisdiction",
            "at most 250 excluded jurisdictions",
        ));
    }
    Ok(distribute::Request {
        asset,
        period,
        waterfall: Waterfall {
            take_rate,
            partner_share,
        },
        partner_name,
        min_balance,
        excluded_jurisdictions: excluded,
    })
}

/// Distribute one asset's yield for a closed period: sources summed, balances attributed from
/// ledger history, one balanced journal entry crediting merchants. A period is paid once;
/// `dry_run` answers the plan without paying.
#[utoipa::path(post, path = "/v1/treasury/yield/distributions", tag = "yield", security(("console_session" = [])),
    request_body = NewDistribution,
    responses((status = 201, body = DistributionView), (status = 200, description = "dry run", body = DistributionView),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_distribution(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewDistribution>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let req = parse_distribution(&state, &body)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = distribute::run(
        &mut tx,
        state.registry(),
        state.clock().now(),
        &req,
        Some(auth.user_id.as_uuid()),
        body.dry_run,
    )
    .await?;
    if body.dry_run {
        drop(tx);
        return Ok((StatusCode::OK, ApiJson(view_of_report(&outcome, true, None)?)).into_response());
    }
    corridor_store::error::commit(tx).await?;
    let view = view_of_report(&outcome, false, Some(state.clock().now()))?;
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

fn parse_distribution_id(raw: &str) -> Result<YieldDistributionId, ApiError> {
    YieldDistributionId::parse(raw).map_err(|_| ApiError::not_found("yield distribution"))
}

async fn sources_of(conn: &mut sqlx::PgConnection, ids: &[Uuid]) -> Result<Vec<db::SourceTotal>, ApiError> {
    db::source_totals(conn, ids).await.map_err(ApiError::from)
}

fn source_views(all: &[db::SourceTotal], id: Uuid) -> Vec<SourceTotalView> {
    all.iter()
        .filter(|s| s.distribution_id == id)
        .map(|s| SourceTotalView {
            source: s.source.clone(),
            amount: s.amount.to_string(),
            rewards: s.rewards,
        })
        .collect()
}

/// Distributions, newest first, with their yield by source: the treasury's view of yield by
/// source and period.
#[utoipa::path(get, path = "/v1/treasury/yield/distributions", tag = "yield", security(("console_session" = [])),
    params(PageQuery), responses((status = 200, body = Page<DistributionView>)))]
pub async fn list_distributions(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<DistributionView>>, ApiError> {
    auth.require_any(&TREASURY)?;
    let (limit, after) = q.parse::<YieldDistributionId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::list_distributions(&mut conn, after.map(|a| a.as_uuid()), i64::from(limit) + 1)
        .await
        .map_err(ApiError::from)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let sources = sources_of(&mut conn, &ids).await?;
    let views = rows
        .into_iter()
        .map(|r| {
            let s = source_views(&sources, r.id);
            view_of_row(&state, r, s)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ApiJson(Page::from_rows(
        views,
        limit,
        |v| v.id.clone().unwrap_or_default(),
        |v| v,
    )))
}

/// One distribution.
#[utoipa::path(get, path = "/v1/treasury/yield/distributions/{id}", tag = "yield", security(("console_session" = [])),
    params(("id" = String, Path, description = "ydist_...")),
    responses((status = 200, body = DistributionView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_distribution(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<DistributionView>, ApiError> {
    auth.require_any(&TREASURY)?;
    let id = parse_distribution_id(&id)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::distribution(&mut conn, id.as_uuid())
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::not_found("yield distribution"))?;
    let sources = sources_of(&mut conn, &[row.id]).await?;
    let s = source_views(&sources, row.id);
    Ok(ApiJson(view_of_row(&state, row, s)?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AllocationView {
    pub merchant_id: String,
    pub balance_seconds: String,
    #[serde(flatten)]
    pub statement: Statement,
}

/// A distribution's allocations by merchant id.
#[utoipa::path(get, path = "/v1/treasury/yield/distributions/{id}/allocations", tag = "yield",
    security(("console_session" = [])),
    params(("id" = String, Path, description = "ydist_..."), PageQuery),
    responses((status = 200, body = Page<AllocationView>)))]
pub async fn list_allocations(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<AllocationView>>, ApiError> {
    auth.require_any(&TREASURY)?;
    let id = parse_distribution_id(&id)?;
    let (limit, after) = q.parse::<MerchantId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    db::distribution(&mut conn, id.as_uuid())
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::not_found("yield distribution"))?;
    let rows = db::allocations_of(
        &mut conn,
        id.as_uuid(),
        after.map(|a| a.as_uuid()),
        i64::from(limit) + 1,
    )
    .await
    .map_err(ApiError::from)?;
    let views = rows
        .into_iter()
        .map(|r| {
            Ok(AllocationView {
                merchant_id: MerchantId::from_uuid(r.merchant_id).to_string(),
                balance_seconds: r.balance_seconds.to_string(),
                statement: statement(&state, r)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ApiJson(Page::from_rows(views, limit, |v| v.merchant_id.clone(), |v| v)))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Pay the merchant more.
    Credit,
    /// Take back from the merchant's available balance.
    Debit,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdjustment {
    pub merchant_id: String,
    pub direction: Direction,
    /// A positive decimal string in the distribution's asset.
    pub amount: String,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdjustmentView {
    pub id: String,
    pub distribution_id: String,
    pub merchant_id: String,
    /// Signed: negative for a debit.
    pub amount: String,
    pub reason: String,
    pub entry_id: String,
    pub created_at: DateTime<Utc>,
}

/// Correct a distributed period for one merchant with its own balanced journal entry (the
/// distribution itself is never edited). A debit needs the merchant's available balance.
#[utoipa::path(post, path = "/v1/treasury/yield/distributions/{id}/adjustments", tag = "yield",
    security(("console_session" = [])), request_body = NewAdjustment,
    params(("id" = String, Path, description = "ydist_...")),
    responses((status = 201, body = AdjustmentView), (status = 404, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_adjustment(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewAdjustment>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let id = parse_distribution_id(&id)?;
    let merchant = MerchantId::parse(&body.merchant_id)
        .map_err(|e| ApiError::unprocessable("invalid_merchant_id", e.to_string()))?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must be 1-500 characters",
        ));
    }
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let dist = db::distribution(&mut tx, id.as_uuid())
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::not_found("yield distribution"))?;
    let asset = state
        .registry()
        .get(&dist.asset)
        .map_err(|e| ApiError::internal(StoreError::Corrupt(e.to_string())))?
        .clone();
    let amount = Money::parse_positive(&body.amount, &asset)?;
    corridor_store::merchants::get(&mut tx, merchant).await?;
    let chain = AccountKey::platform(asset.code.clone(), Purpose::ChainClearing);
    let available = AccountKey::merchant(merchant, asset.code.clone(), Purpose::Available);
    let (from, to, signed) = match body.direction {
        Direction::Credit => (chain, available, amount.amount()),
        Direction::Debit => (available, chain, -amount.amount()),
    };
    let memo = format!("yield adjustment of {id}: {reason}");
    let entry = EntryDraft::transfer("yield_adjustment", memo, from, to, amount);
    let entry_id = ledger::post_entry(&mut tx, &entry, state.registry()).await?;
    let adj_id = YieldAdjustmentId::new();
    let created_at = db::insert_adjustment(
        &mut tx,
        &db::NewAdjustment {
            id: adj_id.as_uuid(),
            distribution_id: id.as_uuid(),
            merchant_id: merchant.as_uuid(),
            amount: signed,
            reason,
            entry_id: entry_id.as_uuid(),
            created_by: auth.user_id.as_uuid(),
        },
    )
    .await
    .map_err(ApiError::from)?;
    // The merchant's balance changed: tell it, in the same transaction as the entry.
    corridor_store::outbox::enqueue(
        &mut tx,
        Some(merchant),
        "yield.adjusted",
        &serde_json::json!({ "adjustment_id": adj_id, "distribution_id": id, "asset": asset.code.as_str(),
                             "amount": at_scale(signed, asset.scale), "reason": reason }),
    )
    .await?;
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "yield.adjusted",
        &adj_id.to_string(),
        &serde_json::json!({ "distribution_id": id, "merchant_id": merchant, "amount": signed.to_string(), "reason": reason }),
    )
    .await?;
    corridor_store::error::commit(tx).await?;
    let view = AdjustmentView {
        id: adj_id.to_string(),
        distribution_id: id.to_string(),
        merchant_id: merchant.to_string(),
        amount: at_scale(signed, asset.scale),
        reason: reason.to_owned(),
        entry_id: entry_id.to_string(),
        created_at,
    };
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVaultMark {
    pub asset: String,
    /// Whole seconds; periods are measured between marks at their bounds.
    pub at: DateTime<Utc>,
    /// The treasury's vault shares valued in the asset (`convertToAssets`).
    pub position: String,
    /// Deposits minus withdrawals into the vault up to `at`, in the asset; a leading `-` when
    /// more was withdrawn than deposited (yield taken out).
    pub net_deposited: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VaultMarkView {
    pub asset: String,
    pub at: DateTime<Utc>,
    pub position: String,
    pub net_deposited: String,
}

/// Record the treasury's vault position at a moment. A mark is written once per asset and
/// moment: the same mark again answers 200, a different one 409.
#[utoipa::path(post, path = "/v1/treasury/yield/vault-marks", tag = "yield", security(("console_session" = [])),
    request_body = NewVaultMark,
    responses((status = 201, body = VaultMarkView), (status = 200, body = VaultMarkView),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_vault_mark(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewVaultMark>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let asset = yield_asset(&state, &body.asset)?;
    if body.at.timestamp_subsec_nanos() != 0 {
        return Err(ApiError::unprocessable("invalid_time", "at must be a whole second"));
    }
    if body.at > state.clock().now() {
        return Err(ApiError::unprocessable("invalid_time", "at must not lie in the future"));
    }
    let position = Money::parse(&body.position, &asset)?.amount();
    let net_deposited = match body.net_deposited.strip_prefix('-') {
        Some(magnitude) => -Money::parse(magnitude, &asset)?.amount(),
        None => Money::parse(&body.net_deposited, &asset)?.amount(),
    };
    let mark = db::VaultMark {
        at: body.at,
        position,
        net_deposited,
    };
    let view = |m: &db::VaultMark| VaultMarkView {
        asset: asset.code.to_string(),
        at: m.at,
        position: at_scale(m.position, asset.scale),
        net_deposited: at_scale(m.net_deposited, asset.scale),
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    if db::insert_vault_mark(&mut tx, asset.code.as_str(), &mark, auth.user_id.as_uuid())
        .await
        .map_err(ApiError::from)?
    {
        corridor_store::audit::append(
            &mut tx,
            &auth.user_id.to_string(),
            "yield.vault_marked",
            asset.code.as_str(),
            &serde_json::json!({ "at": mark.at, "position": mark.position.to_string(), "net_deposited": mark.net_deposited.to_string() }),
        )
        .await?;
        tx.commit().await.map_err(ApiError::internal)?;
        return Ok((StatusCode::CREATED, ApiJson(view(&mark))).into_response());
    }
    let existing = db::vault_marks_at(&mut tx, asset.code.as_str(), &[mark.at])
        .await
        .map_err(ApiError::from)?
        .pop()
        .ok_or_else(|| ApiError::internal("vault mark vanished after a conflicting insert"))?;
    if existing.position == mark.position && existing.net_deposited == mark.net_deposited {
        Ok((StatusCode::OK, ApiJson(view(&existing))).into_response())
    } else {
        Err(ApiError::conflict(
            "vault_mark_conflict",
            format!(
                "a different mark of {} at {} exists; marks are never changed",
                asset.code, mark.at
            ),
        ))
    }
}
