//! How a service plugs into the `corridor` binary: a name, its routes and its background jobs.
//! Services never call each other's crates; the binary runs any subset of them in one process.

use crate::state::AppState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

pub struct Service {
    /// The name used by `corridor serve --services`.
    pub name: &'static str,
    pub routes: fn(AppState) -> OpenApiRouter,
    /// Starts the service's bounded background loops; each stops when `shutdown` is cancelled.
    pub spawn_jobs: fn(AppState, CancellationToken) -> Vec<JoinHandle<()>>,
}

/// For services without background jobs.
pub fn no_jobs(_: AppState, _: CancellationToken) -> Vec<JoinHandle<()>> {
    Vec::new()
}
