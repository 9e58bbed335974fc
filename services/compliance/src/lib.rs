//! Screening of every outgoing transfer: sanctions lists, address screening, rules, travel rule, the four-eyes review queue and decisions bound on chain (issue #6).
//!
//! Built so far: list parsing (OFAC's CSV files, with addresses from the remarks), list versions
//! in Postgres with a default public-domain snapshot, name normalisation and scoring, the
//! screening index, and staff endpoints to see list versions, import newer files and screen a
//! name or address. Not built yet: screening payouts here (payouts still run the interim rules
//! in `payouts::screening`), rules as a versioned policy, the case queue with four-eyes, the
//! audit log, backtests.

pub mod api;
pub mod index;
pub mod lists;
pub mod names;
pub mod ofac;
pub mod versions;

use corridor_platform::{AppState, service::Service};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

pub const NAME: &str = "compliance";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: Box::new(|state: AppState, _shutdown| {
            // A fresh install screens against the shipped snapshot; later imports replace it.
            vec![tokio::spawn(async move {
                match versions::import_default_if_empty(state.pool()).await {
                    Ok(done) => {
                        for i in done {
                            tracing::info!(source = %i.version.source, entries = i.version.entries, "default sanctions snapshot imported");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "default sanctions snapshot not imported"),
                }
            })]
        }),
    }
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
