//! Webhooks: Standard Webhooks signing, endpoints per merchant, the outbox fan-out and the
//! delivery dispatcher with retries, and an SSRF guard.

use corridor_platform::{AppState, service::{Service, no_jobs}};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "webhooks";

pub fn service() -> Service {
    Service { name: NAME, routes, spawn_jobs: no_jobs }
}

fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new().with_state(state)
}
