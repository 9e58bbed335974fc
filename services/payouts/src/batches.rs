//! `POST /v1/payout-batches`: up to 1,000 payouts in one request. Each item is validated and
//! created like a single payout (its own hold, screening, status and webhooks); cleared items
//! settle together. By default one bad item refuses the whole batch, reporting every bad item
//! by index; with `partial: true` the good items are created and the bad ones reported.

use crate::{
    db,
    payouts::{self, CreatePayout, PayoutView},
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Utc};
use corridor_domain::ids::PayoutBatchId;
use corridor_platform::{
    ApiError, ApiJson, AppState,
    auth::{MerchantAuth, Scope},
    error::FieldError,
    idempotency::{self, Begin, IdempotentJson},
};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};
use std::collections::HashSet;

pub const ITEMS_MAX: usize = 1_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    /// 1 to 1,000 payouts, each as for `POST /v1/payouts`.
    pub items: Vec<CreatePayout>,
    /// Create the valid items and report the invalid ones, instead of refusing the batch.
    #[serde(default)]
    pub partial: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    pub code: String,
    pub detail: String,
}

/// One item of a batch: its payout, or why it was not created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItemView {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout: Option<PayoutView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    #[schema(value_type = String, example = "pob_0190...")]
    pub id: PayoutBatchId,
    pub item_count: usize,
    pub accepted: usize,
    pub items: Vec<BatchItemView>,
    pub created_at: DateTime<Utc>,
}

fn item_error(index: usize, e: &ApiError) -> (usize, ItemError) {
    (
        index,
        ItemError {
            code: e.code.to_string(),
            detail: e.detail.clone(),
        },
    )
}

/// Create a batch of payouts. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/payout-batches", tag = "payouts", request_body = CreateBatch,
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended batch")),
    responses((status = 201, body = BatchView), (status = 400, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_batch(
    State(state): State<AppState>,
    auth: MerchantAuth,
    req: IdempotentJson<CreateBatch>,
) -> Result<Response, ApiError> {
    auth.require(Scope::PayoutsWrite)?;
    let IdempotentJson { key, body } = req;
    if body.items.is_empty() || body.items.len() > ITEMS_MAX {
        return Err(ApiError::unprocessable(
            "batch_size_invalid",
            format!("a batch has 1 to {ITEMS_MAX} items, got {}", body.items.len()),
        ));
    }
    let partial = body.partial;
    let count = body.items.len();
    // Parse every item before claiming the key, so a refused batch leaves no trace.
    let mut valid = Vec::with_capacity(count);
    let mut errors = Vec::new();
    let mut references = HashSet::with_capacity(count);
    for (index, item) in body.items.into_iter().enumerate() {
        match payouts::validate(&state, item) {
            Ok(v) if !references.insert(v.client_reference.clone()) => errors.push(item_error(
                index,
                &ApiError::conflict(
                    "duplicate_client_reference",
                    format!("client_reference {:?} appears twice in this batch", v.client_reference),
                ),
            )),
            Ok(v) => valid.push((index, v)),
            Err(e) => errors.push(item_error(index, &e)),
        }
    }
    if !errors.is_empty() && !partial {
        return Err(refused(errors));
    }
    let claimed = match idempotency::begin(&state, auth.merchant_id, &key).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(claimed) => claimed,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = create(&mut tx, &state, &auth, count, valid, errors, partial)
        .await
        .map(|b| (StatusCode::CREATED, b));
    claimed.finish(tx, outcome).await
}

fn refused(mut errors: Vec<(usize, ItemError)>) -> ApiError {
    errors.sort_by_key(|(i, _)| *i);
    let n = errors.len();
    ApiError::unprocessable(
        "batch_items_invalid",
        format!("{n} item(s) are invalid; nothing was created (send partial: true to create the valid ones)"),
    )
    .with_errors(
        errors
            .into_iter()
            .map(|(i, e)| FieldError {
                pointer: format!("/items/{i}"),
                code: e.code.into(),
                detail: e.detail,
            })
            .collect(),
    )
}

async fn create(
    conn: &mut PgConnection,
    state: &AppState,
    auth: &MerchantAuth,
    count: usize,
    valid: Vec<(usize, payouts::ValidPayout)>,
    mut errors: Vec<(usize, ItemError)>,
    partial: bool,
) -> Result<BatchView, ApiError> {
    let merchant = auth.merchant_id;
    let id = PayoutBatchId::new();
    let created_at = db::insert_batch(conn, id, merchant, count as i32)
        .await
        .map_err(ApiError::internal)?;
    let mut items = Vec::with_capacity(count);
    for (index, v) in valid {
        // Each item in its own savepoint: a refused item (insufficient funds, unknown
        // beneficiary, a client_reference used before) undoes only itself.
        let mut item_tx = conn.begin().await.map_err(ApiError::internal)?;
        match payouts::create(&mut item_tx, state, auth, v, Some((id.as_uuid(), index as i32))).await {
            Ok(view) => {
                item_tx.commit().await.map_err(ApiError::internal)?;
                items.push(BatchItemView {
                    index,
                    payout: Some(view),
                    error: None,
                });
            }
            Err(e) if e.status.is_client_error() => {
                item_tx.rollback().await.map_err(ApiError::internal)?;
                errors.push(item_error(index, &e));
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() && !partial {
        return Err(refused(errors));
    }
    let accepted = items.len();
    errors.sort_by_key(|(i, _)| *i);
    let rejected = serde_json::to_value(
        errors
            .iter()
            .map(|(i, e)| serde_json::json!({ "index": i, "code": e.code, "detail": e.detail }))
            .collect::<Vec<_>>(),
    )
    .map_err(ApiError::internal)?;
    db::finish_batch(conn, id, accepted as i32, &rejected)
        .await
        .map_err(ApiError::internal)?;
    items.extend(errors.into_iter().map(|(index, e)| BatchItemView {
        index,
        payout: None,
        error: Some(e),
    }));
    items.sort_by_key(|i| i.index);
    Ok(BatchView {
        id,
        item_count: count,
        accepted,
        items,
        created_at,
    })
}

/// A batch with the current state of each item.
#[utoipa::path(get, path = "/v1/payout-batches/{id}", tag = "payouts", security(("api_key" = [])),
    params(("id" = String, Path, description = "pob_...")),
    responses((status = 200, body = BatchView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_batch(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<BatchView>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let id = PayoutBatchId::parse(&id).map_err(|_| ApiError::not_found("payout batch"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let batch = db::batch(&mut conn, auth.merchant_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("payout batch"))?;
    let payouts = db::batch_payouts(&mut conn, id).await.map_err(ApiError::internal)?;
    let mut items: Vec<BatchItemView> = payouts
        .into_iter()
        .map(|p| BatchItemView {
            index: p.batch_index.unwrap_or_default() as usize,
            payout: Some(p.into()),
            error: None,
        })
        .collect();
    for r in batch.rejected.as_array().into_iter().flatten() {
        items.push(BatchItemView {
            index: r["index"].as_u64().unwrap_or_default() as usize,
            payout: None,
            error: Some(ItemError {
                code: r["code"].as_str().unwrap_or_default().to_owned(),
                detail: r["detail"].as_str().unwrap_or_default().to_owned(),
            }),
        });
    }
    items.sort_by_key(|i| i.index);
    Ok(ApiJson(BatchView {
        id,
        item_count: batch.item_count as usize,
        accepted: batch.accepted as usize,
        items,
        created_at: batch.created_at,
    }))
}
