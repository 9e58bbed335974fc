//! Stablecoin invoices for overseas buyers (issue #5): drafts, finalization with a per-merchant
//! number and an unguessable payment reference, on-chain detection by that reference, crediting
//! at finality, and the public pay page.
//!
//! - `model`: the invoice request parsed at the edge; totals computed once, here.
//! - `reference`: the payment reference and pay-page token (HMACs of the invoice id).
//! - `api`: the merchant's invoice endpoints.
//! - `detection`: the job that turns the watcher's `InvoicePaid` observations into payments,
//!   credits them at finality, reverses them on reorgs, and expires overdue invoices.
//! - `page`: the hosted pay page (HTML that works without JavaScript).
//! - `schedules`: recurring invoices, issued one per period by a job.
//!
//! Invoicing never calls another service's crate: it reads the watcher's rows in
//! `chain.observations` and `chain.watched_contracts`, and writes the ledger and the outbox.

pub mod api;
mod db;
pub mod detection;
pub mod model;
pub mod page;
pub mod reference;
pub mod schedules;

use corridor_platform::{
    AppState,
    service::{Service, poll_loop},
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "invoicing";

/// Observations taken, and payments settled, per round.
const DETECT_PER_ROUND_MAX: i64 = 500;
const DETECT_POLL: Duration = Duration::from_millis(500);
const EXPIRE_PER_ROUND_MAX: i64 = 500;
const EXPIRE_POLL: Duration = Duration::from_secs(30);
const SCHEDULES_PER_ROUND_MAX: i64 = 200;
const SCHEDULES_POLL: Duration = Duration::from_secs(30);

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: Box::new(|state: AppState, shutdown: CancellationToken| {
            vec![
                tokio::spawn(detect_loop(state.clone(), shutdown.clone())),
                tokio::spawn(expire_loop(state.clone(), shutdown.clone())),
                tokio::spawn(schedules_loop(state, shutdown)),
            ]
        }),
    }
}

async fn detect_loop(state: AppState, shutdown: CancellationToken) {
    poll_loop("invoice payments", DETECT_POLL, shutdown, || async {
        let now = state.clock().now();
        let r = detection::follow_payments(state.pool(), state.registry(), now, DETECT_PER_ROUND_MAX).await?;
        Ok::<_, detection::DetectionError>(
            (r.detected + r.unmatched) as i64 == DETECT_PER_ROUND_MAX
                || (r.credited + r.reversed) as i64 == DETECT_PER_ROUND_MAX,
        )
    })
    .await;
}

async fn expire_loop(state: AppState, shutdown: CancellationToken) {
    poll_loop("invoice expiry", EXPIRE_POLL, shutdown, || async {
        let expired = detection::expire_overdue(state.pool(), state.clock().now(), EXPIRE_PER_ROUND_MAX).await?;
        Ok::<_, detection::DetectionError>(expired as i64 == EXPIRE_PER_ROUND_MAX)
    })
    .await;
}

async fn schedules_loop(state: AppState, shutdown: CancellationToken) {
    poll_loop("recurring invoices", SCHEDULES_POLL, shutdown, || async {
        let secret = state.config().invoices.secret.expose();
        let now = state.clock().now();
        let issued = schedules::issue_due(state.pool(), state.registry(), secret, now, SCHEDULES_PER_ROUND_MAX).await?;
        Ok::<_, corridor_store::StoreError>(issued as i64 == SCHEDULES_PER_ROUND_MAX)
    })
    .await;
}

pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(api::create_invoice, api::list_invoices))
        .routes(routes!(api::export_invoices))
        .routes(routes!(api::get_invoice, api::update_invoice))
        .routes(routes!(api::finalize_invoice))
        .routes(routes!(api::void_invoice))
        .routes(routes!(api::list_invoice_payments))
        .routes(routes!(page::pay_page))
        .routes(routes!(schedules::create_schedule))
        .routes(routes!(schedules::get_schedule))
        .routes(routes!(schedules::cancel_schedule))
        .with_state(state)
}
