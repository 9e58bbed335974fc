use crate::{
    auth::{MerchantAuth, Scope},
    error::ApiError,
    idempotency::{self, Begin, IdempotentJson},
    state::AppState,
};
use axum::{extract::State, http::StatusCode, response::Response};
use corridor_domain::{
    Money,
    ids::{EntryId, MerchantId},
};
use corridor_ledger::{AccountKey, EntryDraft, Purpose};
use corridor_store::{ledger, outbox};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSandboxCredit {
    /// Decimal string, at most the asset's decimals.
    #[schema(example = "1000.00")]
    pub amount: String,
    #[schema(example = "USDC")]
    pub asset: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SandboxCredit {
    #[schema(value_type = String)]
    pub entry_id: EntryId,
    pub amount: String,
    pub asset: String,
}

/// Credit test money to the available balance. Only in the dev profile; requires an
/// Idempotency-Key like every request that moves money.
#[utoipa::path(post, path = "/v1/sandbox/credits", tag = "sandbox", request_body = CreateSandboxCredit,
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended credit")),
    responses((status = 201, body = SandboxCredit), (status = 400, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_sandbox_credit(
    State(state): State<AppState>,
    auth: MerchantAuth,
    req: IdempotentJson<CreateSandboxCredit>,
) -> Result<Response, ApiError> {
    auth.require(Scope::SandboxWrite)?;
    if !state.config().is_dev() {
        return Err(ApiError::forbidden(
            "sandbox_disabled",
            "sandbox credits exist only in the dev profile",
        ));
    }
    // Parse before claiming the key, so a malformed request leaves no trace.
    let asset = state.registry().get(&req.body.asset)?;
    let amount = Money::parse_positive(&req.body.amount, asset)?;
    let claimed = match idempotency::begin(&state, auth.merchant_id, &req.key).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(claimed) => claimed,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = credit(&mut tx, &state, auth.merchant_id, amount)
        .await
        .map(|c| (StatusCode::CREATED, c));
    claimed.finish(tx, outcome).await
}

/// Books test money from the sandbox funding account and records the event, in the caller's
/// transaction.
pub async fn credit(
    conn: &mut PgConnection,
    state: &AppState,
    merchant: MerchantId,
    amount: Money,
) -> Result<SandboxCredit, ApiError> {
    let entry = EntryDraft::transfer(
        "sandbox_credit",
        "sandbox credit",
        AccountKey::platform(amount.asset().clone(), Purpose::SandboxFunding),
        AccountKey::merchant(merchant, amount.asset().clone(), Purpose::Available),
        amount.clone(),
    );
    let entry_id = ledger::post_entry(conn, &entry, state.registry()).await?;
    let credit = SandboxCredit {
        entry_id,
        amount: amount.amount().to_string(),
        asset: amount.asset().to_string(),
    };
    outbox::enqueue(
        conn,
        Some(merchant),
        "balance.credited",
        &serde_json::json!({ "entry_id": entry_id, "amount": credit.amount, "asset": credit.asset, "reason": "sandbox_credit" }),
    )
    .await?;
    Ok(credit)
}
