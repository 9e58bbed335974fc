//! Screening of every outgoing transfer: sanctions lists, address screening, rules, travel rule, the four-eyes review queue and decisions bound on chain (issue #6).
//!
//! Built so far: list parsing (OFAC's CSV files, with addresses from the remarks), list versions
//! in Postgres with a default public-domain snapshot, name normalisation and scoring, the
//! screening index, staff endpoints to see list versions, import newer files and screen a name
//! or address, and the job that screens every pending payout (`payout_screening`). Not built
//! yet: rules as a versioned policy, re-screening on list change, the case
//! queue with four-eyes, backtests. (The audit log itself lives in `corridor_store::audit`.)

pub mod api;
pub mod index;
pub mod lists;
pub mod names;
pub mod ofac;
pub mod payout_screening;
pub mod versions;

use corridor_platform::{
    AppState,
    service::{Service, poll_loop},
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

pub const NAME: &str = "compliance";

/// Payouts screened per round, and how often an idle screener looks again.
const SCREEN_PER_ROUND_MAX: i64 = 500;
const SCREEN_POLL: std::time::Duration = std::time::Duration::from_millis(250);

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: Box::new(|state: AppState, shutdown| vec![tokio::spawn(screen_loop(state, shutdown))]),
    }
}

/// Imports the shipped snapshot on a fresh install (before screening anything, so the first
/// payouts are not held for want of a list), then screens payouts as they arrive.
async fn screen_loop(state: AppState, shutdown: tokio_util::sync::CancellationToken) {
    match versions::import_default_if_empty(state.pool()).await {
        Ok(done) => {
            for i in done {
                tracing::info!(source = %i.version.source, entries = i.version.entries, "default sanctions snapshot imported");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "default sanctions snapshot not imported; payouts are held until a list is")
        }
    }
    // Its own cache, apart from the routes' one: `Service::routes` is a plain fn and cannot
    // share it. Two copies of the index (each rebuilt once per list change) is the price.
    let cache = api::ListCache::default();
    poll_loop("payout sanctions screening", SCREEN_POLL, shutdown, || async {
        let max_age = state.config().compliance.sanctions_max_age;
        let r = payout_screening::screen_pending(state.pool(), &cache, max_age, SCREEN_PER_ROUND_MAX).await?;
        Ok::<_, corridor_store::StoreError>((r.allowed + r.review + r.blocked) as i64 == SCREEN_PER_ROUND_MAX)
    })
    .await;
}

/// List files are large (the SDN CSVs together are about 6.5 MB).
const LIST_IMPORT_BODY_MAX_BYTES: usize = 32 * 1024 * 1024;

pub fn routes(state: AppState) -> OpenApiRouter {
    let cache = std::sync::Arc::new(api::ListCache::default());
    OpenApiRouter::new()
        .routes(routes!(api::list_versions))
        .routes(routes!(api::import_list).layer(axum::extract::DefaultBodyLimit::max(LIST_IMPORT_BODY_MAX_BYTES)))
        .routes(routes!(api::screen))
        .layer(axum::Extension(cache))
        .with_state(state)
}
