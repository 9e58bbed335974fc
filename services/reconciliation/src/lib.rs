//! Treasury reconciliation of on/off-ramp flows: bank statements against chain transfers against the ledger (issue #7).
//!
//! Status: registered with the `corridor` binary; its API and jobs are not built yet.

pub mod statements;

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "reconciliation";

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
