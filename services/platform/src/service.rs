//! How a service plugs into the `corridor` binary: a name, its routes and its background jobs.
//! Services never call each other's crates; the binary runs any subset of them in one process.

use crate::state::AppState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// Starts a service's bounded background loops; each stops when the token is cancelled.
pub type SpawnJobs = Box<dyn Fn(AppState, CancellationToken) -> Vec<JoinHandle<()>> + Send + Sync>;

pub struct Service {
    /// The name used by `corridor serve --services`.
    pub name: &'static str,
    pub routes: fn(AppState) -> OpenApiRouter,
    pub spawn_jobs: SpawnJobs,
}

/// For services without background jobs.
pub fn no_jobs() -> SpawnJobs {
    Box::new(|_, _| Vec::new())
}

/// For services without routes of their own.
pub fn no_routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new().with_state(state)
}
