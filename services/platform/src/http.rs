//! Assembles the application router: platform routes, service routes, and the layers every
//! request passes through (request id, tracing span, metrics, time and body limits, panics
//! answered as problem+json).

use crate::{error::ApiError, health, metrics, openapi::ApiDoc, routes, state::AppState};
use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderName, StatusCode},
    middleware,
    response::IntoResponse,
    routing::get,
};
use std::{any::Any, time::Duration};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const REQUEST_ID: &str = "x-request-id";

/// The OpenAPI router of everything the platform itself serves.
pub fn platform_routes(state: AppState) -> OpenApiRouter {
    routes::router(state.clone())
        .routes(utoipa_axum::routes!(health::healthz))
        .merge(
            OpenApiRouter::new()
                .routes(utoipa_axum::routes!(health::readyz))
                .with_state(state),
        )
}

/// Builds the full application from the platform routes plus the services' routes.
pub fn app(state: AppState, services: Vec<OpenApiRouter>) -> (Router, utoipa::openapi::OpenApi) {
    // Install the recorder before the first request, or its metrics would go nowhere.
    metrics::handle();
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(platform_routes(state.clone()));
    for service in services {
        api = api.merge(service);
    }
    let (router, openapi) = api.split_for_parts();
    let spec = openapi.clone();
    let router = router
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(move || async move { axum::Json(spec) }))
        .fallback(crate::error::fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        });
    (
        with_layers(router, state.config().body_limit_bytes, state.config().request_timeout),
        openapi,
    )
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal("handler panicked").into_response()
}

pub fn with_layers(router: Router, body_limit_bytes: usize, request_timeout: Duration) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    router.layer(DefaultBodyLimit::max(body_limit_bytes)).layer(
        ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let path = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path, request_id = id)
            }))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(middleware::from_fn(metrics::track))
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "request_timeout",
                    "the request took too long and was stopped",
                )
            }))
            .timeout(request_timeout),
    )
}
