//! Screening of every outgoing transfer: sanctions lists, address screening, rules, travel rule, the four-eyes review queue and decisions bound on chain (issue #6).
//!
//! Status: registered with the `corridor` binary; its API and jobs are not built yet.

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "compliance";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: no_jobs(),
    }
}

fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new().with_state(state)
}
