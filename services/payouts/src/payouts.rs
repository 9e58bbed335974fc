//! `POST /v1/payouts` and reading payouts.

use crate::{
    beneficiaries::{self, CreateBeneficiary},
    db::{self, NewPayout, PayoutRow},
    fees, mandate, quotes,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Utc};
use corridor_domain::{
    EvmAddress, Money,
    ids::{BeneficiaryId, HoldId, MerchantId, PayoutBatchId, PayoutId, QuoteId},
};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{MerchantAuth, Scope},
    idempotency::{self, Begin, IdempotentJson},
    pagination::{self, Page},
};
use corridor_store::{StoreError, ledger, outbox};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayout {
    /// Your reference, unique per merchant forever: a second payout with it is refused even
    /// after the idempotency key has expired.
    #[schema(example = "supplier-inv-2026-0042")]
    pub client_reference: String,
    /// Decimal string, at most the asset's decimals.
    #[schema(example = "1250.00")]
    pub amount: String,
    #[schema(example = "USDC")]
    pub asset: String,
    #[schema(example = 8453)]
    pub chain_id: u64,
    /// An existing beneficiary (`ben_...`), or `beneficiary` inline; exactly one of the two.
    pub beneficiary_id: Option<String>,
    pub beneficiary: Option<CreateBeneficiary>,
    #[schema(example = "Invoice 42, cotton yarn")]
    pub purpose: String,
    /// A cross-asset quote (`quo_...`, from `POST /v1/quotes`): the payout pays the quote's
    /// target amount and asset (which `amount` and `asset` must repeat) and debits its source
    /// amount plus fee; after the quote's expiry it is refused with `quote_expired`.
    pub quote_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    pub status: String,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Failure {
    pub code: String,
    pub reason: String,
}

/// What the platform paid the network to send a payout (its share of the batch transaction).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NetworkFee {
    #[schema(example = "ETH")]
    pub asset: String,
    pub amount: String,
}

/// Where a payout sits in the batch request that created it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchRef {
    #[schema(value_type = String, example = "pob_0190...")]
    pub id: PayoutBatchId,
    pub index: i32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayoutView {
    #[schema(value_type = String, example = "po_0190...")]
    pub id: PayoutId,
    pub client_reference: String,
    /// pending_screening, held, approved, rejected, cleared, submitted, confirmed, completed,
    /// failed, canceled.
    pub status: String,
    /// What the beneficiary receives.
    pub amount: String,
    /// The platform fee, charged on top of the amount, in `debit_asset`.
    pub fee: String,
    /// What was reserved from the available balance in `debit_asset`: amount + fee, or with a
    /// quote, the quote's source amount + fee.
    pub total: String,
    /// The asset paid to the beneficiary.
    pub asset: String,
    /// The balance the payout is paid from: `asset`, or a quote's source asset.
    pub debit_asset: String,
    #[schema(value_type = Option<String>)]
    pub quote_id: Option<QuoteId>,
    pub chain_id: i64,
    #[schema(value_type = String)]
    pub beneficiary_id: BeneficiaryId,
    /// The address paid, EIP-55 checksummed, as it was when the payout was created.
    pub recipient: String,
    pub purpose: String,
    pub failure: Option<Failure>,
    /// The transaction that paid it, once mined.
    pub tx_hash: Option<String>,
    /// Gas, paid by the platform (not charged to the balance); known once mined.
    pub network_fee: Option<NetworkFee>,
    pub batch: Option<BatchRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Present on single-payout reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEvent>>,
}

impl From<PayoutRow> for PayoutView {
    fn from(r: PayoutRow) -> Self {
        let recipient = EvmAddress::parse(&r.recipient).map_or(r.recipient, |a| a.to_string());
        let failure = match (r.failure_code, r.failure_reason) {
            (Some(code), reason) => Some(Failure {
                code,
                reason: reason.unwrap_or_default(),
            }),
            _ => None,
        };
        Self {
            id: PayoutId::from_uuid(r.id),
            client_reference: r.client_reference,
            status: r.status,
            amount: r.amount.to_string(),
            fee: r.fee.to_string(),
            total: (r.debit_amount + r.fee).to_string(),
            asset: r.asset,
            debit_asset: r.debit_asset,
            quote_id: r.quote_id.map(QuoteId::from_uuid),
            chain_id: r.chain_id,
            beneficiary_id: BeneficiaryId::from_uuid(r.beneficiary_id),
            recipient,
            purpose: r.purpose,
            failure,
            tx_hash: r.tx_hash,
            network_fee: r.gas_native.map(|amount| NetworkFee {
                asset: corridor_domain::asset::native_asset_code(r.chain_id as u64)
                    .unwrap_or("native")
                    .to_owned(),
                amount: amount.normalize().to_string(),
            }),
            batch: r.batch_id.zip(r.batch_index).map(|(id, index)| BatchRef {
                id: PayoutBatchId::from_uuid(id),
                index,
            }),
            created_at: r.created_at,
            updated_at: r.updated_at,
            timeline: None,
        }
    }
}

/// Writes a payout event for the merchant's webhooks, in the caller's transaction.
pub(crate) async fn emit(
    conn: &mut PgConnection,
    merchant: MerchantId,
    event: &str,
    view: PayoutView,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::enqueue(conn, Some(merchant), event, &payload).await?;
    Ok(())
}

enum Payee {
    Existing(BeneficiaryId),
    Inline(beneficiaries::ValidBeneficiary),
}

/// A payout request parsed at the edge.
pub(crate) struct ValidPayout {
    pub(crate) client_reference: String,
    amount: Money,
    /// The fee without a quote; a quote carries its own.
    fee: Money,
    chain_id: u64,
    payee: Payee,
    purpose: String,
    quote: Option<QuoteId>,
}

pub(crate) fn validate(state: &AppState, req: CreatePayout) -> Result<ValidPayout, ApiError> {
    let reference = req.client_reference.trim();
    if reference.is_empty() || reference.len() > 100 || reference.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_client_reference",
            "client_reference must have 1 to 100 printable characters",
        ));
    }
    let purpose = req.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 140 {
        return Err(ApiError::unprocessable(
            "invalid_purpose",
            "purpose must have 1 to 140 characters",
        ));
    }
    let quote = req
        .quote_id
        .as_deref()
        .map(|q| {
            QuoteId::parse(q).map_err(|_| {
                ApiError::unprocessable("quote_not_found", "no quote with this id belongs to this merchant")
            })
        })
        .transpose()?;
    let asset = state.registry().get(&req.asset)?;
    state.registry().deployment(&asset.code, req.chain_id)?;
    let amount = Money::parse_positive(&req.amount, asset)?;
    // The amount is valid here, so a failure is the configured fixed fee not fitting this
    // asset: the operator's to fix, not the caller's.
    let fee = fees::fee(&state.config().payouts, &amount, asset)
        .map_err(|e| ApiError::internal(format!("payout fee for {}: {e}", asset.code)))?;
    let payee = match (req.beneficiary_id, req.beneficiary) {
        (Some(id), None) => Payee::Existing(BeneficiaryId::parse(&id).map_err(|_| beneficiary_not_found())?),
        (None, Some(inline)) => {
            let valid = beneficiaries::validate(state, inline, "beneficiary.")?;
            Payee::Inline(valid)
        }
        _ => {
            return Err(ApiError::unprocessable(
                "beneficiary_required",
                "give exactly one of beneficiary_id and beneficiary",
            ));
        }
    };
    Ok(ValidPayout {
        client_reference: reference.to_owned(),
        amount,
        fee,
        chain_id: req.chain_id,
        payee,
        purpose: purpose.to_owned(),
        quote,
    })
}

fn beneficiary_not_found() -> ApiError {
    ApiError::unprocessable(
        "beneficiary_not_found",
        "no beneficiary with this id belongs to this merchant",
    )
}

/// Create a payout. Requires an `Idempotency-Key`. In one transaction: the payout, the hold of
/// amount + fee (available to reserved) and the `payout.created` event; with insufficient
/// funds nothing is reserved (422 `insufficient_funds`).
#[utoipa::path(post, path = "/v1/payouts", tag = "payouts", request_body = CreatePayout,
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended payout")),
    responses((status = 201, body = PayoutView), (status = 400, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_payout(
    State(state): State<AppState>,
    auth: MerchantAuth,
    req: IdempotentJson<CreatePayout>,
) -> Result<Response, ApiError> {
    auth.require(Scope::PayoutsWrite)?;
    let IdempotentJson { key, body } = req;
    // Parse before claiming the key, so a malformed request leaves no trace.
    let valid = validate(&state, body)?;
    let claimed = match idempotency::begin(&state, auth.merchant_id, &key).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(claimed) => claimed,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = create(&mut tx, &state, &auth, valid, None)
        .await
        .map(|p| (StatusCode::CREATED, p));
    claimed.finish(tx, outcome).await
}

pub(crate) async fn create(
    conn: &mut PgConnection,
    state: &AppState,
    auth: &MerchantAuth,
    p: ValidPayout,
    batch: Option<(uuid::Uuid, i32)>,
) -> Result<PayoutView, ApiError> {
    let merchant = auth.merchant_id;
    let beneficiary = match &p.payee {
        Payee::Existing(id) => db::beneficiary(conn, merchant, *id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(beneficiary_not_found)?,
        Payee::Inline(valid) => beneficiaries::insert(conn, state, merchant, valid).await?,
    };
    if beneficiary.chain_id != p.chain_id as i64 {
        return Err(ApiError::unprocessable(
            "beneficiary_chain_mismatch",
            format!(
                "the beneficiary's address is on chain {}, the payout asks for chain {}",
                beneficiary.chain_id, p.chain_id
            ),
        ));
    }
    if beneficiary.usable_from > Utc::now() {
        return Err(ApiError::unprocessable(
            "beneficiary_cooling_off",
            format!(
                "this beneficiary's address can be paid from {} (cooling-off period for new addresses)",
                beneficiary.usable_from.to_rfc3339()
            ),
        ));
    }
    let (debit, fee, quote) = match p.quote {
        None => (p.amount.clone(), p.fee.clone(), None),
        Some(q) => {
            let d = quotes::take(conn, state, merchant, q, &p.amount).await?;
            (d.amount, d.fee, Some(d.quote))
        }
    };
    let total = debit.checked_add(&fee)?;
    mandate::enforce(conn, auth.key_id, &total, beneficiary.id).await?;
    let id = PayoutId::new();
    let hold = HoldId::new();
    ledger::create_hold(conn, hold, merchant, &total, &format!("payout {id}"), state.registry()).await?;
    let row = db::insert_payout(
        conn,
        NewPayout {
            id,
            merchant,
            client_reference: &p.client_reference,
            beneficiary: BeneficiaryId::from_uuid(beneficiary.id),
            asset: p.amount.asset().as_str(),
            chain_id: p.chain_id as i64,
            recipient: &beneficiary.address,
            amount: p.amount.amount(),
            fee: fee.amount(),
            purpose: &p.purpose,
            hold,
            batch,
            debit_asset: debit.asset().as_str(),
            debit_amount: debit.amount(),
            quote: quote.map(|q| q.as_uuid()),
            api_key: Some(auth.key_id.as_uuid()),
        },
    )
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Constraint(c) if c == "payouts_client_reference_unique" => ApiError::conflict(
            "duplicate_client_reference",
            format!("a payout with client_reference {:?} already exists", p.client_reference),
        ),
        StoreError::Constraint(c) if c == "payouts_quote_id_key" => ApiError::conflict(
            "quote_already_used",
            "this quote has already paid a payout; ask for a new one",
        ),
        other => other.into(),
    })?;
    let view = PayoutView::from(row);
    emit(conn, merchant, "payout.created", view.clone()).await?;
    Ok(view)
}

#[utoipa::path(get, path = "/v1/payouts/{id}", tag = "payouts", security(("api_key" = [])),
    params(("id" = String, Path, description = "po_...")),
    responses((status = 200, body = PayoutView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_payout(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<PayoutView>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::payout(&mut conn, auth.merchant_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    Ok(ApiJson(with_timeline(&mut conn, row).await?))
}

/// Statuses from which a payout can still be canceled: nothing has been signed for it yet.
const CANCELABLE: [&str; 4] = ["pending_screening", "held", "approved", "cleared"];

/// Cancel a payout that has not been submitted to the chain. The hold is released exactly
/// once; canceling a canceled payout answers with it unchanged, so a retry is safe without an
/// Idempotency-Key.
#[utoipa::path(post, path = "/v1/payouts/{id}/cancel", tag = "payouts", security(("api_key" = [])),
    params(("id" = String, Path, description = "po_...")),
    responses((status = 200, body = PayoutView), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem)))]
pub async fn cancel_payout(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<PayoutView>, ApiError> {
    auth.require(Scope::PayoutsWrite)?;
    let id = PayoutId::parse(&id).map_err(|_| ApiError::not_found("payout"))?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let (status, hold) = db::lock_payout(&mut tx, auth.merchant_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    if status == "canceled" {
        let row = db::payout(&mut tx, auth.merchant_id, id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found("payout"))?;
        return Ok(ApiJson(row.into()));
    }
    if !CANCELABLE.contains(&status.as_str()) {
        return Err(ApiError::conflict(
            "payout_not_cancelable",
            format!("a payout that is {status} can no longer be canceled"),
        ));
    }
    ledger::void_hold(&mut tx, hold, &format!("payout {id} canceled"), state.registry()).await?;
    let row = db::set_status(&mut tx, id, "canceled")
        .await
        .map_err(ApiError::internal)?;
    db::append_timeline(&mut tx, id, "canceled", &serde_json::json!({ "by": "merchant" }))
        .await
        .map_err(ApiError::internal)?;
    let view = PayoutView::from(row);
    emit(&mut tx, auth.merchant_id, "payout.canceled", view.clone()).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(view))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    PendingScreening,
    Held,
    Approved,
    Rejected,
    Cleared,
    Submitted,
    Confirmed,
    Completed,
    Failed,
    Canceled,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            Self::PendingScreening => "pending_screening",
            Self::Held => "held",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cleared => "cleared",
            Self::Submitted => "submitted",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListPayouts {
    pub status: Option<StatusFilter>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// This merchant's payouts, newest first.
#[utoipa::path(get, path = "/v1/payouts", tag = "payouts", params(ListPayouts), security(("api_key" = [])),
    responses((status = 200, body = Page<PayoutView>), (status = 400, body = corridor_platform::error::Problem)))]
pub async fn list_payouts(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<ListPayouts>,
) -> Result<ApiJson<Page<PayoutView>>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let limit = pagination::limit(q.limit)?;
    let cursor = pagination::cursor::<PayoutId>(q.cursor.as_deref())?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::payouts(
        &mut conn,
        auth.merchant_id,
        q.status.map(StatusFilter::as_str),
        cursor,
        i64::from(limit) + 1,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| PayoutId::from_uuid(r.id).to_string(),
        PayoutView::from,
    )))
}

/// Rows per CSV export; a larger history is exported in windows (`created_after`).
pub const EXPORT_ROWS_MAX: i64 = 10_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportPayouts {
    pub status: Option<StatusFilter>,
    /// Only payouts created at or after this instant (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Only payouts created before this instant (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
}

pub const EXPORT_COLUMNS: [&str; 16] = [
    "id",
    "client_reference",
    "status",
    "amount",
    "fee",
    "asset",
    "chain_id",
    "recipient",
    "beneficiary_id",
    "purpose",
    "tx_hash",
    "network_fee",
    "network_fee_asset",
    "failure_code",
    "created_at",
    "updated_at",
];

/// This merchant's payouts as CSV, oldest first, at most 10,000 rows (`X-Truncated: true` when
/// more matched; continue with `created_after`).
#[utoipa::path(get, path = "/v1/payouts/export.csv", tag = "payouts", params(ExportPayouts),
    security(("api_key" = [])),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 400, body = corridor_platform::error::Problem)))]
pub async fn export_payouts(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<ExportPayouts>,
) -> Result<Response, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    corridor_platform::csv::check_window(q.created_after, q.created_before)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let mut rows = db::export(
        &mut conn,
        auth.merchant_id,
        q.status.map(StatusFilter::as_str),
        q.created_after,
        q.created_before,
        EXPORT_ROWS_MAX + 1,
    )
    .await
    .map_err(ApiError::internal)?;
    let truncated = rows.len() as i64 > EXPORT_ROWS_MAX;
    rows.truncate(EXPORT_ROWS_MAX as usize);
    let mut out = EXPORT_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let v = PayoutView::from(r);
        let (fee_amount, fee_asset) = v.network_fee.map(|f| (f.amount, f.asset)).unwrap_or_default();
        let fields = [
            v.id.to_string(),
            v.client_reference,
            v.status,
            v.amount,
            v.fee,
            v.asset,
            v.chain_id.to_string(),
            v.recipient,
            v.beneficiary_id.to_string(),
            v.purpose,
            v.tx_hash.unwrap_or_default(),
            fee_amount,
            fee_asset,
            v.failure.map(|f| f.code).unwrap_or_default(),
            v.created_at.to_rfc3339(),
            v.updated_at.to_rfc3339(),
        ];
        corridor_platform::csv::push_row(&mut out, &fields);
    }
    Ok(corridor_platform::csv::response(
        "attachment; filename=\"payouts.csv\"",
        truncated,
        out,
    ))
}

/// A payout as the API shows it, with its timeline (the screening reasons and their evidence,
/// each status change).
pub async fn with_timeline(conn: &mut sqlx::PgConnection, row: db::PayoutRow) -> Result<PayoutView, ApiError> {
    let id = PayoutId::from_uuid(row.id);
    let timeline = db::timeline(conn, id)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|t| TimelineEvent {
            status: t.status,
            at: t.at,
            detail: t.detail,
        })
        .collect();
    Ok(PayoutView {
        timeline: Some(timeline),
        ..row.into()
    })
}
