//! Merchant API for webhook endpoints and their delivery log.

use crate::{signature::SigningSecret, ssrf, store};
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use corridor_domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{MerchantAuth, Scope},
    pagination::{Page, PageQuery},
};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The old secret keeps signing this long after a rotation, so receivers can switch over.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
pub const EVENT_TYPES_MAX: usize = 50;

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(resend_delivery))
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// An https URL on the public internet.
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to receive, e.g. `payout.completed`; empty means all.
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    #[schema(value_type = String)]
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<store::Endpoint> for EndpointView {
    fn from(e: store::Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The signing secret (`whsec_...`). Shown only when created or rotated.
    pub secret: String,
}

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    WebhookEndpointId::parse(raw).map_err(|_| ApiError::not_found("webhook endpoint"))
}

fn valid_event_type(t: &str) -> bool {
    (3..=64).contains(&t.len())
        && t.contains('.')
        && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
}

/// Register a webhook endpoint. The response carries its signing secret, once.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    security(("api_key" = [])),
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(req): ApiJson<CreateEndpoint>,
) -> Result<(StatusCode, ApiJson<EndpointWithSecret>), ApiError> {
    auth.require(Scope::WebhooksManage)?;
    if req.event_types.len() > EVENT_TYPES_MAX || !req.event_types.iter().all(|t| valid_event_type(t)) {
        return Err(ApiError::unprocessable(
            "invalid_event_types",
            format!("event types look like payout.completed; at most {EVENT_TYPES_MAX}"),
        ));
    }
    if req.description.len() > 500 {
        return Err(ApiError::unprocessable(
            "invalid_description",
            "a description has at most 500 characters",
        ));
    }
    let allow_private = state.config().webhooks_allow_private_destinations;
    let url = ssrf::parse(&req.url, allow_private)
        .map_err(|e| ApiError::unprocessable("invalid_webhook_url", e.to_string()))?;
    ssrf::resolve(&url, allow_private)
        .await
        .map_err(|e| ApiError::unprocessable("invalid_webhook_url", e.to_string()))?;
    let secret = SigningSecret::generate();
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let endpoint = store::insert_endpoint(
        &mut conn,
        auth.merchant_id,
        url.as_str(),
        &req.description,
        &req.event_types,
        &secret,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(EndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        }),
    ))
}

/// List webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<EndpointView>)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<EndpointView>>, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let (limit, cursor) = q.parse::<WebhookEndpointId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = store::list_endpoints(&mut conn, auth.merchant_id, cursor, i64::from(limit) + 1).await?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |e| e.id.to_string(),
        EndpointView::from,
    )))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 200, body = EndpointView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<EndpointView>, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    Ok(ApiJson(
        store::get_endpoint(&mut conn, auth.merchant_id, endpoint_id(&id)?)
            .await?
            .into(),
    ))
}

/// Delete a webhook endpoint; pending deliveries to it stop.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    store::delete_endpoint(&mut conn, auth.merchant_id, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret. Both secrets sign for the next 24 hours.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 200, body = EndpointWithSecret)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<EndpointWithSecret>, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let id = endpoint_id(&id)?;
    let secret = SigningSecret::generate();
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    store::rotate_secret(
        &mut tx,
        auth.merchant_id,
        id,
        &secret,
        state.clock().now() + ROTATION_OVERLAP,
    )
    .await?;
    let endpoint = store::get_endpoint(&mut tx, auth.merchant_id, id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(EndpointWithSecret {
        endpoint: endpoint.into(),
        secret,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String)]
    pub id: WebhookDeliveryId,
    pub event_id: String,
    pub event_type: String,
    /// pending, succeeded or failed.
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The delivery log of one endpoint, newest first.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path), PageQuery), responses((status = 200, body = Page<DeliveryView>)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<DeliveryView>>, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let id = endpoint_id(&id)?;
    let (limit, cursor) = q.parse::<WebhookDeliveryId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    store::get_endpoint(&mut conn, auth.merchant_id, id).await?;
    let rows = store::list_deliveries(&mut conn, auth.merchant_id, id, cursor, i64::from(limit) + 1).await?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |d| d.id.to_string(),
        |d| DeliveryView {
            id: d.id,
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
        },
    )))
}

/// Send a delivery again now, restarting its retry schedule. 409 if its endpoint is disabled.
#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/resend", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 202), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem)))]
pub async fn resend_delivery(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::WebhooksManage)?;
    let id = WebhookDeliveryId::parse(&id).map_err(|_| ApiError::not_found("webhook delivery"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    store::resend(&mut conn, auth.merchant_id, id).await?;
    Ok(StatusCode::ACCEPTED)
}
