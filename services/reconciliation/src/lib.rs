//! Treasury reconciliation of on/off-ramp flows: bank statements against chain transfers against the ledger (issue #7).
//!
//! - `statements`: bank statement parsers (camt.052/053/054, MT940, BAI2) into one model.
//! - `import`: a file imported all or nothing, once by its hash, lines deduplicated.
//! - `api`: treasury endpoints (bank accounts, statement imports).
//!
//! Not built yet: the ramp model, the chain side, the matching engine, reports and exports.

pub mod api;
pub mod ids;
pub mod import;
pub mod matching;
pub mod partners;
pub mod runs;
pub mod statements;

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "reconciliation";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: no_jobs(),
    }
}

pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(api::create_bank_account, api::list_bank_accounts))
        .routes(routes!(api::import_statement))
        .routes(routes!(api::create_ramp_order))
        .routes(routes!(api::create_run))
        .routes(routes!(api::receivables_aging))
        .routes(routes!(api::receivables_aging_csv))
        .routes(routes!(api::create_manual_decision))
        .routes(routes!(api::set_csv_mapping))
        .routes(routes!(api::list_exceptions))
        .routes(routes!(api::assign_exception))
        .routes(routes!(api::export_results))
        .routes(routes!(api::set_partner))
        .routes(routes!(api::import_partner_report))
        .with_state(state)
}
