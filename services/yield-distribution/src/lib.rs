//! Yield on the float, attributed by time-weighted balance and distributed exactly to the base
//! unit (issue #8).
//!
//! - `twab`: balance-seconds of a balance history over a period (pure).
//! - `allocate`: the waterfall and the largest-remainder split (pure, property-tested).
//! - `distribute`: one period end to end, in the caller's transaction.
//! - `api`: merchant enrolment and statements; treasury rewards, distributions, adjustments.
//! - `db`: the `yield` schema and the ledger history reads.
//!
//! The service never calls another service's crate: it reads ledger history and writes one
//! ledger entry per period, the outbox and the audit log.

pub mod allocate;
pub mod api;
mod db;
pub mod distribute;
pub mod twab;

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "yield-distribution";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: no_jobs(),
    }
}

pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(api::get_enrollment, api::set_enrollment))
        .routes(routes!(api::list_statements))
        .routes(routes!(api::export_statements))
        .routes(routes!(api::set_jurisdiction))
        .routes(routes!(api::create_reward, api::list_rewards))
        .routes(routes!(api::import_rewards))
        .routes(routes!(api::create_distribution, api::list_distributions))
        .routes(routes!(api::get_distribution))
        .routes(routes!(api::list_allocations))
        .routes(routes!(api::create_adjustment))
        .routes(routes!(api::create_vault_mark))
        .with_state(state)
}
