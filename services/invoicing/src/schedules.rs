//! Recurring invoices: a schedule issues one invoice per period (every week, every month, or
//! every N days) from a template, until its end date or count. Each issue creates and finalizes
//! the invoice in the schedule's transaction, with the schedule row locked, so a period is issued
//! once even with several instances running (and `invoices_one_per_period` makes sure of it).

use crate::{
    api::{self, InvoiceView},
    model::{self, Buyer, InvoiceInput, LineItemInput},
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Duration, Months, Utc};
use corridor_domain::{AssetRegistry, ids::MerchantId};
use corridor_platform::{
    ApiError, ApiJson, AppState,
    auth::{MerchantAuth, Scope},
    idempotency::{self, Begin, IdempotentJson},
};
use corridor_store::StoreError;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An invoice body without its due date: each issued invoice is due `days_until_due` after its
/// period starts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub currency: String,
    pub buyer: Buyer,
    pub line_items: Vec<LineItemInput>,
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub chains: Option<Vec<u64>>,
    #[serde(default)]
    pub expected_total: Option<String>,
}

impl Template {
    fn input(&self, due_at: DateTime<Utc>) -> InvoiceInput {
        InvoiceInput {
            currency: self.currency.clone(),
            buyer: self.buyer.clone(),
            line_items: self.line_items.clone(),
            due_at,
            memo: self.memo.clone(),
            chains: self.chains.clone(),
            expected_total: self.expected_total.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Week,
    /// The same day of the month (clamped to the month's last day).
    Month,
    /// Every `every_days` days.
    Days,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    pub template: Template,
    #[schema(example = 14)]
    pub days_until_due: u32,
    pub every: Every,
    /// With `every: days`, the period length (1-366).
    #[serde(default)]
    pub every_days: Option<u32>,
    /// The first period's start; the first invoice is issued then (now or later).
    pub starts_at: DateTime<Utc>,
    /// No period starting at or after this is issued. One of `ends_at` and `count_max` is required.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// At most this many invoices (1-1000).
    #[serde(default)]
    pub count_max: Option<u32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub id: String,
    pub status: String,
    pub template: Template,
    pub days_until_due: i32,
    pub every: String,
    pub every_days: Option<i32>,
    pub next_run_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub count_max: Option<i32>,
    pub issued_count: i32,
    pub created_at: DateTime<Utc>,
}

struct ScheduleRow {
    id: Uuid,
    merchant_id: Uuid,
    template: serde_json::Value,
    days_until_due: i32,
    every: String,
    every_days: Option<i32>,
    next_run_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    count_max: Option<i32>,
    issued_count: i32,
    status: String,
    created_at: DateTime<Utc>,
}

impl ScheduleRow {
    fn view(self) -> Result<ScheduleView, StoreError> {
        Ok(ScheduleView {
            id: format!("isch_{}", self.id.simple()),
            status: self.status,
            template: serde_json::from_value(self.template).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            days_until_due: self.days_until_due,
            every: self.every,
            every_days: self.every_days,
            next_run_at: self.next_run_at,
            ends_at: self.ends_at,
            count_max: self.count_max,
            issued_count: self.issued_count,
            created_at: self.created_at,
        })
    }

    /// The start of the period after `from`.
    fn after(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.every.as_str() {
            "week" => from.checked_add_signed(Duration::weeks(1)),
            "month" => from.checked_add_months(Months::new(1)),
            _ => from.checked_add_signed(Duration::days(i64::from(self.every_days.unwrap_or(1)))),
        }
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.strip_prefix("isch_")
        .filter(|h| h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|h| Uuid::try_parse(h).ok())
        .ok_or_else(|| ApiError::not_found("invoice schedule"))
}

/// Create a recurring-invoice schedule. Requires an `Idempotency-Key`. The template is checked
/// as an invoice would be (so a bad template is refused now, not at the first issue).
#[utoipa::path(post, path = "/v1/invoice-schedules", tag = "invoices", request_body = CreateSchedule,
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended schedule")),
    responses((status = 201, body = ScheduleView), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_schedule(
    State(state): State<AppState>,
    auth: MerchantAuth,
    req: IdempotentJson<CreateSchedule>,
) -> Result<Response, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let IdempotentJson { key, body } = req;
    let now = state.clock().now();
    let bad = |code: &'static str, detail: &str| Err(ApiError::unprocessable(code, detail.to_owned()));
    if !(1..=365).contains(&body.days_until_due) {
        return bad("invalid_schedule", "days_until_due must be between 1 and 365");
    }
    match (body.every, body.every_days) {
        (Every::Days, Some(1..=366)) | (Every::Week | Every::Month, None) => {}
        _ => {
            return bad(
                "invalid_schedule",
                "every_days (1-366) goes with every: days, and only with it",
            );
        }
    }
    if body.ends_at.is_none() && body.count_max.is_none() {
        return bad(
            "invalid_schedule",
            "a schedule needs an end: ends_at, count_max, or both",
        );
    }
    if body.count_max.is_some_and(|c| !(1..=1000).contains(&c)) {
        return bad("invalid_schedule", "count_max must be between 1 and 1000");
    }
    if body.starts_at < now - Duration::minutes(5) {
        return bad("invalid_schedule", "starts_at must not lie in the past");
    }
    if body.ends_at.is_some_and(|e| e <= body.starts_at) {
        return bad("invalid_schedule", "ends_at must be after starts_at");
    }
    let due = body.starts_at + Duration::days(i64::from(body.days_until_due));
    model::validate(state.registry(), body.template.input(due))?;
    let claimed = match idempotency::begin(&state, auth.merchant_id, &key).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(claimed) => claimed,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = async {
        let template = serde_json::to_value(&body.template).map_err(ApiError::internal)?;
        let every = match body.every {
            Every::Week => "week",
            Every::Month => "month",
            Every::Days => "days",
        };
        let row = sqlx::query_as!(
            ScheduleRow,
            r#"INSERT INTO invoicing.schedules
                   (id, merchant_id, template, days_until_due, every, every_days, next_run_at, ends_at, count_max)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               RETURNING id, merchant_id, template, days_until_due, every, every_days, next_run_at, ends_at,
                         count_max, issued_count, status, created_at"#,
            Uuid::now_v7(),
            auth.merchant_id.as_uuid(),
            template,
            body.days_until_due as i32,
            every,
            body.every_days.map(|d| d as i32),
            body.starts_at,
            body.ends_at,
            body.count_max.map(|c| c as i32),
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
        Ok((StatusCode::CREATED, row.view()?))
    }
    .await;
    claimed.finish(tx, outcome).await
}

async fn own(conn: &mut PgConnection, id: Uuid, merchant: MerchantId) -> Result<ScheduleRow, ApiError> {
    sqlx::query_as!(
        ScheduleRow,
        r#"SELECT id, merchant_id, template, days_until_due, every, every_days, next_run_at, ends_at,
                  count_max, issued_count, status, created_at
             FROM invoicing.schedules WHERE id = $1 AND merchant_id = $2 FOR UPDATE"#,
        id,
        merchant.as_uuid(),
    )
    .fetch_optional(conn)
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(|| ApiError::not_found("invoice schedule"))
}

/// One schedule of the caller's merchant.
#[utoipa::path(get, path = "/v1/invoice-schedules/{id}", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "isch_...")),
    responses((status = 200, body = ScheduleView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<ScheduleView>, ApiError> {
    auth.require(Scope::InvoicesRead)?;
    let id = parse_id(&id)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let row = own(&mut tx, id, auth.merchant_id).await?;
    Ok(ApiJson(row.view()?))
}

/// Stop a schedule: no further invoices are issued (those issued stay). Canceling a canceled or
/// ended schedule answers with it unchanged.
#[utoipa::path(post, path = "/v1/invoice-schedules/{id}/cancel", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "isch_...")),
    responses((status = 200, body = ScheduleView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn cancel_schedule(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<ScheduleView>, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let id = parse_id(&id)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let row = own(&mut tx, id, auth.merchant_id).await?;
    if row.status != "active" {
        return Ok(ApiJson(row.view()?));
    }
    let row = sqlx::query_as!(
        ScheduleRow,
        r#"UPDATE invoicing.schedules SET status = 'canceled', updated_at = now() WHERE id = $1
           RETURNING id, merchant_id, template, days_until_due, every, every_days, next_run_at, ends_at,
                     count_max, issued_count, status, created_at"#,
        id,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(row.view()?))
}

/// Issues the invoice of every due period, up to `limit` per call, in one transaction: each
/// schedule row locked, the invoice created and finalized (`invoice.created`, `.finalized`), the
/// schedule moved to its next period or ended. Returns how many invoices were issued.
pub async fn issue_due(
    pool: &PgPool,
    registry: &AssetRegistry,
    secret: &[u8],
    now: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query_as!(
        ScheduleRow,
        r#"SELECT id, merchant_id, template, days_until_due, every, every_days, next_run_at, ends_at,
                  count_max, issued_count, status, created_at
             FROM invoicing.schedules WHERE status = 'active' AND next_run_at <= $1
            ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED"#,
        now,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut issued = 0;
    for s in due {
        let ended = s.ends_at.is_some_and(|e| s.next_run_at >= e) || s.count_max.is_some_and(|c| s.issued_count >= c);
        let template: Template =
            serde_json::from_value(s.template.clone()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // A period issued late (the job was down) is still due days_until_due from now.
        let due_at = s.next_run_at.max(now) + Duration::days(i64::from(s.days_until_due));
        let valid = if ended {
            None
        } else {
            model::validate(registry, template.input(due_at)).ok()
        };
        let Some(valid) = valid else {
            if !ended {
                tracing::warn!(schedule = %s.id, "template no longer valid (asset or chain removed?); schedule ended");
            }
            sqlx::query!(
                "UPDATE invoicing.schedules SET status = 'ended', updated_at = now() WHERE id = $1",
                s.id
            )
            .execute(&mut *tx)
            .await?;
            continue;
        };
        let merchant = MerchantId::from_uuid(s.merchant_id);
        let draft = api::insert_draft(&mut tx, secret, merchant, &valid, Some((s.id, s.next_run_at)))
            .await
            .map_err(|e| StoreError::Corrupt(e.detail))?;
        let view: InvoiceView = api::finalize_draft(&mut tx, draft).await?;
        tracing::info!(schedule = %s.id, invoice = %view.id, "recurring invoice issued");
        let next = s
            .after(s.next_run_at)
            .ok_or_else(|| StoreError::Corrupt("schedule date overflow".into()))?;
        let count = s.issued_count + 1;
        let done = s.count_max.is_some_and(|c| count >= c) || s.ends_at.is_some_and(|e| next >= e);
        sqlx::query!(
            r#"UPDATE invoicing.schedules
                  SET next_run_at = $2, issued_count = $3, status = CASE WHEN $4 THEN 'ended' ELSE status END,
                      updated_at = now()
                WHERE id = $1"#,
            s.id,
            next,
            count,
            done,
        )
        .execute(&mut *tx)
        .await?;
        issued += 1;
    }
    tx.commit().await?;
    Ok(issued)
}
