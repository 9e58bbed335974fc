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

/// Runs `round` until `shutdown`: again at once while a round reports a full batch (there is
/// more waiting), otherwise after `idle`. A failed round is logged with `what` and retried after
/// `idle`, so a database blip slows a job down rather than stopping it.
pub async fn poll_loop<F, Fut, E>(
    what: &'static str,
    idle: std::time::Duration,
    shutdown: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, E>>,
    E: std::fmt::Display,
{
    loop {
        let busy = match round().await {
            Ok(full) => full,
            Err(e) => {
                tracing::error!(error = %e, job = what, "round failed; retrying");
                false
            }
        };
        if shutdown.is_cancelled() {
            return;
        }
        if !busy {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(idle) => {}
            }
        }
    }
}
