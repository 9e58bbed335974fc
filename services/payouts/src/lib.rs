//! SMB payouts (issue #4): the beneficiary address book, `POST /v1/payouts`, which reserves the
//! amount plus fee in the ledger in the same transaction that records the payout and its
//! `payout.created` event, the screening step, compliance review, and settlement through the
//! PayoutRouter with the chain's answer booked back in the ledger.
//!
//! Also here: cross-asset quotes, agent mandates (enforced in the payout transaction), and
//! direct deposits from registered funding wallets, credited at finality.

pub mod batches;
pub mod beneficiaries;
mod db;
pub mod deposits;
pub mod fees;
mod mandate;
pub mod payouts;
pub mod quotes;
pub mod review;
pub mod screening;
pub mod settlement;

use corridor_platform::{
    AppState,
    service::{Service, poll_loop},
};
use settlement::{SettlementConfig, Settler};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "payouts";

/// Payouts screened per round.
const SCREEN_PER_ROUND_MAX: i64 = 500;
const SCREEN_POLL: Duration = Duration::from_millis(250);
/// Deposits recorded, and deposits settled, per round.
const DEPOSITS_PER_ROUND_MAX: i64 = 500;
const DEPOSITS_POLL: Duration = Duration::from_millis(500);

/// The payouts service. Without a settlement configuration (no chain, router or compliance key)
/// payouts are created, screened and reviewed, and wait in `cleared` until one is configured.
pub fn service(settlement: Option<SettlementConfig>) -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: Box::new(move |state: AppState, shutdown: CancellationToken| {
            let mut jobs = vec![
                tokio::spawn(screen_loop(state.clone(), shutdown.clone())),
                tokio::spawn(deposits_loop(state.clone(), shutdown.clone())),
            ];
            if let Some(config) = settlement.clone() {
                let settler = Settler::new(state.pool().clone(), state.registry().clone(), config);
                jobs.push(tokio::spawn(settler.run(shutdown)));
            }
            jobs
        }),
    }
}

async fn screen_loop(state: AppState, shutdown: CancellationToken) {
    poll_loop("payout screening", SCREEN_POLL, shutdown, || async {
        let r = screening::screen_pending(
            state.pool(),
            &state.config().payouts,
            state.registry(),
            SCREEN_PER_ROUND_MAX,
        )
        .await?;
        Ok::<_, corridor_store::StoreError>(r.cleared + r.held + r.blocked == SCREEN_PER_ROUND_MAX as u64)
    })
    .await;
}

async fn deposits_loop(state: AppState, shutdown: CancellationToken) {
    poll_loop("deposits", DEPOSITS_POLL, shutdown, || async {
        let r = deposits::follow_deposits(state.pool(), state.registry(), DEPOSITS_PER_ROUND_MAX).await?;
        Ok::<_, deposits::DepositError>(
            r.incoming as i64 == DEPOSITS_PER_ROUND_MAX || (r.credited + r.reversed) as i64 == DEPOSITS_PER_ROUND_MAX,
        )
    })
    .await;
}

pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(
            beneficiaries::create_beneficiary,
            beneficiaries::list_beneficiaries
        ))
        .routes(routes!(beneficiaries::get_beneficiary))
        .routes(routes!(payouts::create_payout, payouts::list_payouts))
        .routes(routes!(payouts::export_payouts))
        .routes(routes!(payouts::get_payout))
        .routes(routes!(payouts::cancel_payout))
        .routes(routes!(batches::create_batch))
        .routes(routes!(batches::get_batch))
        .routes(routes!(review::list_held))
        .routes(routes!(review::review_payout, review::get_review))
        .routes(routes!(review::claim_payout))
        .routes(routes!(quotes::create_quote))
        .routes(routes!(quotes::get_quote))
        .routes(routes!(deposits::create_funding_wallet, deposits::list_funding_wallets))
        .routes(routes!(deposits::list_deposits))
        .with_state(state)
}
