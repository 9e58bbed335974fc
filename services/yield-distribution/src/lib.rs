//! Yield on the float, attributed by time-weighted balance and distributed exactly to the base unit (issue #8).
//!
//! Status: registered with the `corridor` binary; its API and jobs are not built yet.

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "yield-distribution";

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
