use crate::{
    auth::{MerchantAuth, Scope, api_key},
    error::ApiError,
    extract::{ApiJson, ApiQuery},
    pagination::{Page, PageQuery},
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use corridor_domain::ids::ApiKeyId;
use corridor_store::api_keys::{self, ApiKeyRow, NewApiKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String, example = "key_0190...")]
    pub id: ApiKeyId,
    pub name: String,
    /// The visible start of the key, to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            scopes: r.scopes,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The full key. It is shown this once and cannot be recovered.
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// List this merchant's API keys, newest first.
#[utoipa::path(get, path = "/v1/api-keys", tag = "merchant", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<ApiKeyView>), (status = 401, body = crate::error::Problem)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<ApiKeyView>>, ApiError> {
    auth.require(Scope::ApiKeysManage)?;
    let (limit, cursor) = q.parse::<ApiKeyId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = api_keys::list(&mut conn, auth.merchant_id, cursor, i64::from(limit) + 1).await?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| r.id.to_string(),
        ApiKeyView::from,
    )))
}

/// Create an API key. The secret is in this response only.
#[utoipa::path(post, path = "/v1/api-keys", tag = "merchant", request_body = CreateApiKey, security(("api_key" = [])),
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = crate::error::Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(req): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, ApiJson<ApiKeyCreated>), ApiError> {
    auth.require(Scope::ApiKeysManage)?;
    refuse_if_mandated(&state, &auth).await?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "a key name has 1 to 100 characters",
        ));
    }
    if req.scopes.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_scopes",
            "give the key at least one scope",
        ));
    }
    // A key cannot grant what the creating key does not hold.
    if let Some(extra) = req.scopes.iter().find(|s| !auth.scopes.contains(s)) {
        return Err(ApiError::forbidden(
            "insufficient_scope",
            format!("cannot grant {} without holding it", extra.as_str()),
        ));
    }
    let created = create(&state, auth.merchant_id, &req.name, &req.scopes).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Creates a key for a merchant (also used by the admin CLI and the console).
pub async fn create(
    state: &AppState,
    merchant: corridor_domain::ids::MerchantId,
    name: &str,
    scopes: &[Scope],
) -> Result<ApiKeyCreated, ApiError> {
    let generated = api_key::generate();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = api_keys::insert(
        &mut conn,
        NewApiKey {
            id: ApiKeyId::new(),
            merchant_id: merchant,
            name,
            prefix: &generated.prefix,
            secret_digest: &generated.digest,
            scopes: &scopes,
        },
    )
    .await?;
    Ok(ApiKeyCreated {
        key: row.into(),
        secret: generated.token.expose().clone(),
    })
}

/// Revoke an API key at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "merchant", security(("api_key" = [])),
    params(("id" = String, Path, description = "key_...")),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::ApiKeysManage)?;
    let id = parse_key_id(&id)?;
    // A mandated key may still revoke itself (an agent giving up its key), nothing else.
    if id != auth.key_id {
        refuse_if_mandated(&state, &auth).await?;
    }
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    api_keys::revoke(&mut conn, auth.merchant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A spending mandate: limits on what payouts made with one API key may spend, so a key handed
/// to an AI agent cannot overspend. Limits count what leaves the balance (amount plus fee) in
/// `asset`; an absent limit is no limit. Enforced in the transaction that reserves the money.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mandate {
    /// The only asset the key may spend.
    #[schema(example = "USDC")]
    pub asset: String,
    /// Largest single payout (amount plus fee), a decimal string.
    #[schema(example = "500.00")]
    pub per_payout_max: Option<String>,
    /// Most the key may spend per UTC day, counting payouts not rejected, canceled or failed.
    #[schema(example = "2000.00")]
    pub daily_budget: Option<String>,
    /// Only these beneficiaries (`ben_...`) may be paid; absent means any of the merchant's.
    pub allowed_beneficiaries: Option<Vec<String>>,
    /// After this moment the key can no longer pay anything.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_keys::MandateRow> for Mandate {
    fn from(m: api_keys::MandateRow) -> Self {
        Self {
            asset: m.asset,
            per_payout_max: m.per_payout_max.map(|d| d.to_string()),
            daily_budget: m.daily_budget.map(|d| d.to_string()),
            allowed_beneficiaries: m.allowed_beneficiaries.map(|ids| {
                ids.into_iter()
                    .map(|id| corridor_domain::ids::BeneficiaryId::from_uuid(id).to_string())
                    .collect()
            }),
            expires_at: m.expires_at,
        }
    }
}

/// A key under a mandate may not widen its own powers: it cannot create keys, set or lift
/// mandates, or revoke other keys.
pub async fn refuse_if_mandated(state: &AppState, auth: &MerchantAuth) -> Result<(), ApiError> {
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    if api_keys::mandate(&mut conn, auth.key_id, false).await?.is_some() {
        return Err(ApiError::forbidden(
            "mandate_restricted",
            "this API key is under a spending mandate and cannot manage API keys or mandates",
        ));
    }
    Ok(())
}

fn parse_key_id(id: &str) -> Result<ApiKeyId, ApiError> {
    ApiKeyId::parse(id).map_err(|_| ApiError::not_found("api key"))
}

/// Set or replace the spending mandate of an API key.
#[utoipa::path(put, path = "/v1/api-keys/{id}/mandate", tag = "merchant", request_body = Mandate,
    security(("api_key" = [])), params(("id" = String, Path, description = "key_...")),
    responses((status = 200, body = Mandate), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn put_mandate(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Mandate>,
) -> Result<ApiJson<Mandate>, ApiError> {
    auth.require(Scope::ApiKeysManage)?;
    refuse_if_mandated(&state, &auth).await?;
    let id = parse_key_id(&id)?;
    let asset = state.registry().get(&req.asset)?;
    let limit = |field: &str, value: &Option<String>| -> Result<Option<rust_decimal::Decimal>, ApiError> {
        value
            .as_deref()
            .map(|v| {
                corridor_domain::Money::parse_positive(v, asset)
                    .map(|m| m.amount())
                    .map_err(|e| ApiError::unprocessable("invalid_mandate", format!("{field}: {e}")))
            })
            .transpose()
    };
    let per_payout_max = limit("per_payout_max", &req.per_payout_max)?;
    let daily_budget = limit("daily_budget", &req.daily_budget)?;
    let allowed = req
        .allowed_beneficiaries
        .as_ref()
        .map(|ids| {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(ApiError::unprocessable(
                    "invalid_mandate",
                    "allowed_beneficiaries: give 1 to 1000 ids, or leave it out for any",
                ));
            }
            ids.iter()
                .map(|b| {
                    corridor_domain::ids::BeneficiaryId::parse(b)
                        .map(|b| b.as_uuid())
                        .map_err(|e| ApiError::unprocessable("invalid_mandate", format!("allowed_beneficiaries: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if per_payout_max.is_none() && daily_budget.is_none() && allowed.is_none() && req.expires_at.is_none() {
        return Err(ApiError::unprocessable(
            "invalid_mandate",
            "a mandate needs at least one limit: per_payout_max, daily_budget, allowed_beneficiaries or expires_at",
        ));
    }
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = api_keys::set_mandate(
        &mut conn,
        auth.merchant_id,
        id,
        api_keys::NewMandate {
            asset: asset.code.as_str(),
            per_payout_max,
            daily_budget,
            allowed_beneficiaries: allowed.as_deref(),
            expires_at: req.expires_at,
        },
    )
    .await?;
    tracing::info!(key = %id, by = %auth.key_id, "api key mandate set");
    Ok(ApiJson(row.into()))
}

/// The spending mandate of an API key (404 `not_found` when it has none).
#[utoipa::path(get, path = "/v1/api-keys/{id}/mandate", tag = "merchant", security(("api_key" = [])),
    params(("id" = String, Path, description = "key_...")),
    responses((status = 200, body = Mandate), (status = 404, body = crate::error::Problem)))]
pub async fn get_mandate(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<Mandate>, ApiError> {
    // A key may always read its own mandate; other keys' need the manage scope.
    let id = parse_key_id(&id)?;
    if id != auth.key_id {
        auth.require(Scope::ApiKeysManage)?;
    }
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    if !api_keys::belongs_to(&mut conn, auth.merchant_id, id).await? {
        return Err(ApiError::not_found("api key"));
    }
    let row = api_keys::mandate(&mut conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("mandate"))?;
    Ok(ApiJson(row.into()))
}

/// Lift the spending mandate of an API key.
#[utoipa::path(delete, path = "/v1/api-keys/{id}/mandate", tag = "merchant", security(("api_key" = [])),
    params(("id" = String, Path, description = "key_...")),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete_mandate(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::ApiKeysManage)?;
    refuse_if_mandated(&state, &auth).await?;
    let id = parse_key_id(&id)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    if !api_keys::delete_mandate(&mut conn, auth.merchant_id, id).await? {
        return Err(ApiError::not_found("mandate"));
    }
    tracing::info!(key = %id, by = %auth.key_id, "api key mandate lifted");
    Ok(StatusCode::NO_CONTENT)
}
