//! SMB payouts (issue #4): the beneficiary address book and `POST /v1/payouts`, which reserves
//! the amount plus fee in the ledger in the same transaction that records the payout and its
//! `payout.created` event.
//!
//! Status: beneficiaries, payout creation, reading and listing are built. Screening, settlement
//! through the PayoutRouter, batches, quotes and mandates are not yet (see README).

pub mod beneficiaries;
mod db;
pub mod fees;
pub mod payouts;

use corridor_platform::{
    AppState,
    service::{Service, no_jobs},
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "payouts";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: no_jobs(),
    }
}

pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(
            beneficiaries::create_beneficiary,
            beneficiaries::list_beneficiaries
        ))
        .routes(routes!(beneficiaries::get_beneficiary))
        .routes(routes!(payouts::create_payout, payouts::list_payouts))
        .routes(routes!(payouts::get_payout))
        .routes(routes!(payouts::cancel_payout))
        .with_state(state)
}
