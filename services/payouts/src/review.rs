//! Compliance review of held payouts: the queue and the decision. An approved payout joins the
//! next settlement; a rejected one releases its hold in the same transaction.
//!
//! Four-eyes: a payout is approved only when `CORRIDOR_REVIEW_APPROVALS` distinct reviewers
//! (2 by default) have each approved it; each approval is its own append-only row that names
//! the amount and address the reviewer saw. One rejection stops it. The final decision is
//! recorded once, names every approver, and its hash is bound into the on-chain attestation.

use crate::{
    db,
    payouts::{PayoutView, emit},
    screening::decision_hash,
};
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use corridor_domain::ids::{ConsoleUserId, HoldId, MerchantId, PayoutId};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{ConsoleAuth, Role},
    pagination::{Page, PageQuery},
};
use corridor_store::ledger;
use serde::{Deserialize, Serialize};

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

/// One reviewer's approval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    #[schema(value_type = String, example = "usr_0190...")]
    pub reviewer: ConsoleUserId,
    pub reviewer_email: String,
    pub reason: String,
    pub approved_at: DateTime<Utc>,
}

/// A payout under review and where its four-eyes decision stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub payout: PayoutView,
    /// Distinct approvals needed before the payout may settle.
    pub approvals_required: u8,
    pub approvals: Vec<ApprovalView>,
    /// How many more distinct reviewers must approve; 0 once approved or decided.
    pub approvals_missing: u8,
    /// The officer working the case, if one has claimed it.
    pub claim: Option<ClaimView>,
}

/// Who claimed a case, and when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClaimView {
    #[schema(value_type = String, example = "usr_0190...")]
    pub claimed_by: ConsoleUserId,
    pub claimed_by_email: String,
    pub claimed_at: DateTime<Utc>,
}

impl From<db::ClaimRow> for ClaimView {
    fn from(c: db::ClaimRow) -> Self {
        ClaimView {
            claimed_by: ConsoleUserId::from_uuid(c.claimed_by),
            claimed_by_email: c.email,
            claimed_at: c.claimed_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Take the case over from the officer who claimed it.
    #[serde(default)]
    pub take_over: bool,
}

impl ReviewView {
    fn new(payout: PayoutView, required: u8, rows: Vec<db::ApprovalRow>, claim: Option<db::ClaimRow>) -> Self {
        let approvals: Vec<ApprovalView> = rows
            .into_iter()
            .map(|a| ApprovalView {
                reviewer: ConsoleUserId::from_uuid(a.reviewer),
                reviewer_email: a.email,
                reason: a.reason,
                approved_at: a.created_at,
            })
            .collect();
        let missing = if payout.status == "held" {
            usize::from(required).saturating_sub(approvals.len())
        } else {
            0
        };
        ReviewView {
            payout,
            approvals_required: required,
            approvals,
            approvals_missing: u8::try_from(missing).unwrap_or(u8::MAX),
            claim: claim.map(ClaimView::from),
        }
    }
}

/// A held (or decided) payout with its approvals so far.
#[utoipa::path(get, path = "/v1/compliance/payout-reviews/{id}", tag = "compliance",
    params(("id" = String, Path, description = "po_...")), security(("console_session" = [])),
    responses((status = 200, body = ReviewView), (status = 403, body = corridor_platform::error::Problem),
              (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_review(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<ReviewView>, ApiError> {
    auth.require_any(&REVIEWERS)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    Ok(ApiJson(current_review(&state, id).await?))
}

/// A payout's review as it stands now, read outside any transaction.
async fn current_review(state: &AppState, id: PayoutId) -> Result<ReviewView, ApiError> {
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::payout_any_merchant(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    let approvals = db::approvals(&mut conn, id).await?;
    let claim = db::claimant(&mut conn, id).await?;
    Ok(ReviewView::new(
        crate::payouts::with_timeline(&mut conn, row).await?,
        state.config().compliance.review_approvals,
        approvals,
        claim,
    ))
}

/// Locks a payout for a review action; only a held payout may be acted on.
async fn lock_held(conn: &mut sqlx::PgConnection, id: PayoutId, action: &str) -> Result<db::ReviewLock, ApiError> {
    let locked = db::lock_for_review(conn, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    if locked.status != "held" {
        return Err(ApiError::conflict(
            "payout_not_held",
            format!("the payout is {}; only held payouts are {action}", locked.status),
        ));
    }
    Ok(locked)
}

/// Claim a held payout: the officer working it, shown in the case. A claim does not stop other
/// officers from approving (four-eyes needs two); taking over another officer's claim needs
/// `take_over`, otherwise it is 409 `claimed_by_other`. Audited.
#[utoipa::path(post, path = "/v1/compliance/payout-reviews/{id}/claim", tag = "compliance", request_body = ClaimRequest,
    params(("id" = String, Path, description = "po_...")), security(("console_session" = [])),
    responses((status = 200, body = ReviewView), (status = 403, body = corridor_platform::error::Problem),
              (status = 404, body = corridor_platform::error::Problem), (status = 409, body = corridor_platform::error::Problem)))]
pub async fn claim_payout(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> Result<ApiJson<ReviewView>, ApiError> {
    auth.require_any(&REVIEWERS)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    lock_held(&mut tx, id, "claimed").await?;
    let claim = db::claim(&mut tx, id, auth.user_id.as_uuid(), req.take_over).await?;
    if claim.claimed_by != auth.user_id.as_uuid() {
        return Err(ApiError::conflict(
            "claimed_by_other",
            format!(
                "{} claimed this payout at {}; send take_over to take it",
                claim.email, claim.claimed_at
            ),
        ));
    }
    corridor_store::audit::append(
        &mut tx,
        &format!("console user {}", auth.user_id),
        "payout.review_claimed",
        &id.to_string(),
        &serde_json::json!({ "take_over": req.take_over }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(current_review(&state, id).await?))
}

/// Held payouts of every merchant, oldest first, each with its timeline (why it was held).
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
    // Each with its timeline, which says why it was held (at most a page of them).
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(crate::payouts::with_timeline(&mut conn, row).await?);
    }
    Ok(ApiJson(Page::from_rows(views, limit, |v| v.id.to_string(), |v| v)))
}

/// Approve or reject a held payout. An approval counts once per reviewer; the payout is
/// approved when enough distinct reviewers have approved it. One rejection ends it. A decided
/// payout is not reviewed again (409).
#[utoipa::path(post, path = "/v1/compliance/payout-reviews/{id}", tag = "compliance", request_body = ReviewRequest,
    params(("id" = String, Path, description = "po_...")), security(("console_session" = [])),
    responses((status = 200, body = ReviewView), (status = 403, body = corridor_platform::error::Problem),
              (status = 404, body = corridor_platform::error::Problem), (status = 409, body = corridor_platform::error::Problem)))]
pub async fn review_payout(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<ApiJson<ReviewView>, ApiError> {
    auth.require_any(&REVIEWERS)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must have 1 to 1000 characters",
        ));
    }
    let required = state.config().compliance.review_approvals;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let locked = lock_held(&mut tx, id, "reviewed").await?;
    let merchant = MerchantId::from_uuid(locked.merchant_id);
    let reviewer = auth.user_id.to_string();
    if let ReviewDecision::Approve = req.decision {
        let first_time = db::insert_approval(
            &mut tx,
            id,
            auth.user_id.as_uuid(),
            reason,
            locked.amount,
            &locked.recipient,
        )
        .await?;
        if !first_time {
            return Err(ApiError::conflict(
                "four_eyes_same_reviewer",
                "you have already approved this payout; another reviewer must approve it",
            ));
        }
        let approvals = db::approvals(&mut tx, id).await?;
        corridor_store::audit::append(
            &mut tx,
            &format!("console user {}", auth.user_id),
            "payout.review_approval_recorded",
            &id.to_string(),
            &serde_json::json!({ "reason": reason, "amount": locked.amount, "recipient": locked.recipient,
                                 "approvals": approvals.len(), "required": required }),
        )
        .await?;
        if approvals.len() < usize::from(required) {
            db::append_timeline(
                &mut tx,
                id,
                "approval_recorded",
                &serde_json::json!({ "reviewer": reviewer, "reason": reason,
                                     "approvals": approvals.len(), "required": required }),
            )
            .await
            .map_err(ApiError::internal)?;
            let row = db::payout(&mut tx, merchant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("payout"))?;
            let claim = db::claimant(&mut tx, id).await?;
            tx.commit().await.map_err(ApiError::internal)?;
            return Ok(ApiJson(ReviewView::new(
                PayoutView::from(row),
                required,
                approvals,
                claim,
            )));
        }
    }
    let (status, event) = match req.decision {
        ReviewDecision::Approve => ("approved", "payout.approved"),
        ReviewDecision::Reject => ("rejected", "payout.rejected"),
    };
    let approvals = db::approvals(&mut tx, id).await?;
    let approvers: Vec<String> = approvals
        .iter()
        .map(|a| ConsoleUserId::from_uuid(a.reviewer).to_string())
        .collect();
    let evidence = serde_json::json!({
        "screening": locked.decision_hash, "reason": reason, "approvers": approvers,
        "amount": locked.amount, "recipient": locked.recipient,
    });
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
        &serde_json::json!({ "reviewer": reviewer, "reason": reason, "approvers": approvers, "decision_hash": hash }),
    )
    .await
    .map_err(ApiError::internal)?;
    let view = PayoutView::from(row);
    emit(&mut tx, merchant, event, view.clone()).await?;
    corridor_store::audit::append(
        &mut tx,
        &format!("console user {}", auth.user_id),
        "payout.review_decided",
        &id.to_string(),
        &serde_json::json!({ "decision": status, "reason": reason, "approvers": approvers, "decision_hash": hash }),
    )
    .await?;
    let claim = db::claimant(&mut tx, id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(ReviewView::new(view, required, approvals, claim)))
}
