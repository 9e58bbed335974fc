//! Screening of every outgoing transfer: sanctions lists, address screening, rules, travel rule, the four-eyes review queue and decisions bound on chain (issue #6).
//!
//! Built so far: list parsing (OFAC's CSV files, with addresses from the remarks), name
//! normalisation and scoring, and the screening index. Not built yet: storing list versions,
//! rules, the case queue, the audit log and the service's API and jobs.

pub mod index;
pub mod lists;
pub mod names;
pub mod ofac;

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
