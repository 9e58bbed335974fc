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
    let id = ApiKeyId::parse(&id).map_err(|_| ApiError::not_found("api key"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    api_keys::revoke(&mut conn, auth.merchant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
