//! Compliance review of held payouts: the queue and the decision. An approved payout joins the
//! next settlement; a rejected one releases its hold in the same transaction.
//!
//! Four-eyes rules, reviewer assignment and the console screens belong to the compliance issue
//! (#6); this is the decision itself, recorded once, hashed and bound into the attestation.

use crate::{
    db,
    payouts::{PayoutView, emit},
    screening::decision_hash,
};
use axum::extract::{Path, State};
use corridor_domain::ids::{HoldId, MerchantId, PayoutId};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{ConsoleAuth, Role},
    pagination::{Page, PageQuery},
};
use corridor_store::ledger;
use serde::Deserialize;

const REVIEWERS: [Role; 2] = [Role::ComplianceOfficer, Role::ComplianceLead];

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Why; kept with the decision and hashed into it.
    #[schema(example = "Invoice and contract checked; supplier known since 2024")]
    pub reason: String,
}

/// Held payouts of every merchant, oldest first.
#[utoipa::path(get, path = "/v1/compliance/payout-reviews", tag = "compliance", params(PageQuery),
    security(("console_session" = [])),
    responses((status = 200, body = Page<PayoutView>), (status = 403, body = corridor_platform::error::Problem)))]
pub async fn list_held(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<PayoutView>>, ApiError> {
    auth.require_any(&REVIEWERS)?;
    let (limit, after) = q.parse::<PayoutId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::held_payouts(&mut conn, after, i64::from(limit) + 1)
        .await
        .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| PayoutId::from_uuid(r.id).to_string(),
        PayoutView::from,
    )))
}

/// Approve or reject a held payout. A payout is reviewed once; a second decision is a 409.
#[utoipa::path(post, path = "/v1/compliance/payout-reviews/{id}", tag = "compliance", request_body = ReviewRequest,
    params(("id" = String, Path, description = "po_...")), security(("console_session" = [])),
    responses((status = 200, body = PayoutView), (status = 403, body = corridor_platform::error::Problem),
              (status = 404, body = corridor_platform::error::Problem), (status = 409, body = corridor_platform::error::Problem)))]
pub async fn review_payout(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<ApiJson<PayoutView>, ApiError> {
    auth.require_any(&REVIEWERS)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must have 1 to 1000 characters",
        ));
    }
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let locked = db::lock_for_review(&mut tx, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    if locked.status != "held" {
        return Err(ApiError::conflict(
            "payout_not_held",
            format!("the payout is {}; only held payouts are reviewed", locked.status),
        ));
    }
    let (status, event) = match req.decision {
        ReviewDecision::Approve => ("approved", "payout.approved"),
        ReviewDecision::Reject => ("rejected", "payout.rejected"),
    };
    let reviewer = auth.user_id.to_string();
    let evidence = serde_json::json!({ "screening": locked.decision_hash, "reason": reason });
    let hash = decision_hash(id, status, &reviewer, &evidence);
    db::insert_review(&mut tx, id, status, auth.user_id.as_uuid(), reason, &hash)
        .await
        .map_err(ApiError::internal)?;
    let mut row = db::set_decided(&mut tx, id, status, &hash)
        .await
        .map_err(ApiError::internal)?;
    if let ReviewDecision::Reject = req.decision {
        ledger::void_hold(
            &mut tx,
            HoldId::from_uuid(locked.hold_id),
            &format!("payout {id} rejected by compliance"),
            state.registry(),
        )
        .await?;
        row = db::set_failure(&mut tx, id, "rejected", "rejected_by_compliance", reason)
            .await
            .map_err(ApiError::internal)?;
    }
    db::append_timeline(
        &mut tx,
        id,
        status,
        &serde_json::json!({ "reviewer": reviewer, "reason": reason, "decision_hash": hash }),
    )
    .await
    .map_err(ApiError::internal)?;
    let view = PayoutView::from(row);
    emit(&mut tx, MerchantId::from_uuid(locked.merchant_id), event, view.clone()).await?;
    corridor_store::audit::append(
        &mut tx,
        &format!("console user {}", auth.user_id),
        "payout.review_decided",
        &id.to_string(),
        &serde_json::json!({ "decision": status, "reason": reason, "decision_hash": hash }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(view))
}
