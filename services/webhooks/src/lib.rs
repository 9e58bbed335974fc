//! Webhooks: Standard Webhooks signing, merchant endpoints, the outbox fan-out and the delivery
//! dispatcher with retries for about three days, and an SSRF guard on every destination.

pub mod dispatch;
pub mod http;
pub mod signature;
pub mod ssrf;
pub mod store;

use corridor_platform::{AppState, service::Service};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const NAME: &str = "webhooks";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes: http::router,
        spawn_jobs: Box::new(spawn_jobs),
    }
}

fn spawn_jobs(state: AppState, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let config = dispatch::DispatcherConfig {
        allow_private_destinations: state.config().webhooks_allow_private_destinations,
    };
    vec![tokio::spawn(dispatch::run(state.pool().clone(), config, shutdown))]
}
