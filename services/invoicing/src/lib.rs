//! Stablecoin invoices for overseas buyers: issuing, hosted pay pages, on-chain detection by payment reference, crediting at finality (issue #5).
//!
//! Status: registered with the `corridor` binary; its API and jobs are not built yet.

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "invoicing";

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
