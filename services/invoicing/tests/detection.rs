//! Invoice payments on a real anvil, detected by the real watcher, over real Postgres: exact,
//! partial then the rest, overpayment, late, unknown reference, wrong token, the same event seen
//! twice, and a reorg before finality.

mod common;

use alloy::{
    primitives::{B256, U256},
    providers::ext::AnvilApi,
};
use axum::http::{Method, StatusCode};
use common::{chain::Chain, *};
use corridor_invoicing::detection::{self, DetectionReport};
use sqlx::PgPool;
use std::str::FromStr;

fn usdc(units: u64) -> U256 {
    U256::from(units) * U256::from(1_000_000u64)
}

fn reference(invoice: &serde_json::Value) -> B256 {
    B256::from_str(invoice["payment_reference"].as_str().unwrap()).unwrap()
}

struct Rig {
    chain: Chain,
    app: App,
    watcher: corridor_chain::watcher::Watcher,
}

impl Rig {
    async fn start(pool: PgPool) -> Rig {
        let chain = Chain::start().await;
        let app = App::new(pool, chain.registry()).await;
        let mut conn = app.pool.acquire().await.unwrap();
        let local = chain::LOCAL;
        corridor_chain::watcher::watch_contract(
            &mut conn,
            local,
            chain.deployment.invoice_payments,
            "invoice_payments",
        )
        .await
        .unwrap();
        drop(conn);
        let watcher = chain.watcher(&app.pool);
        watcher.tick().await.unwrap();
        Rig { chain, app, watcher }
    }

    /// The watcher's round, then detection's, at `now`.
    async fn follow_at(&self, now: chrono::DateTime<chrono::Utc>) -> DetectionReport {
        self.watcher.tick().await.unwrap();
        detection::follow_payments(&self.app.pool, self.app.state.registry(), now, 100)
            .await
            .unwrap()
    }

    async fn follow(&self) -> DetectionReport {
        self.follow_at(chrono::Utc::now()).await
    }

    async fn pay(&self, invoice: &serde_json::Value, units: U256) {
        self.chain
            .pay_invoice(
                &self.chain.keys.buyer,
                self.chain.deployment.usdc,
                units,
                reference(invoice),
            )
            .await;
    }

    /// Mines past the finality depth and follows.
    async fn finalize(&self) -> DetectionReport {
        self.chain.mine(chain::FINALITY_DEPTH).await;
        self.follow().await
    }
}

fn report(detected: u64, unmatched: u64, credited: u64, reversed: u64) -> DetectionReport {
    DetectionReport {
        detected,
        unmatched,
        credited,
        reversed,
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn payments_are_detected_by_reference_and_credited_once_at_finality(pool: PgPool) {
    let rig = Rig::start(pool).await;
    let app = &rig.app;
    let (merchant, key) = app.merchant().await;
    let local = chain::LOCAL;

    // Exact payment: incoming at first sight, credited (and paid) at finality.
    let exact = app.open_invoice(&key, invoice_body("USDC", "100", local)).await;
    assert_eq!(exact["number"], 1);
    rig.pay(&exact, usdc(100)).await;
    assert_eq!(rig.follow().await, report(1, 0, 0, 0));
    let seen = app.invoice(&key, exact["id"].as_str().unwrap()).await;
    assert_eq!(
        (seen["status"].as_str(), seen["amount_detected"].as_str()),
        (Some("open"), Some("100.000000"))
    );
    assert_eq!(balance(&app.pool, merchant, "USDC", "incoming_pending").await, "100");
    assert_eq!(rig.follow().await, DetectionReport::default(), "seen once");
    assert_eq!(rig.finalize().await, report(0, 0, 1, 0));
    let paid = app.invoice(&key, exact["id"].as_str().unwrap()).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(
        (paid["amount_paid"].as_str(), paid["amount_due"].as_str()),
        (Some("100.000000"), Some("0.000000"))
    );
    assert!(paid["paid_at"].is_string());
    assert_eq!(balance(&app.pool, merchant, "USDC", "available").await, "101");
    assert_eq!(balance(&app.pool, merchant, "USDC", "incoming_pending").await, "0");

    // Partial, then the rest.
    let partial = app.open_invoice(&key, invoice_body("USDC", "50", local)).await;
    assert_eq!(partial["number"], 2);
    rig.pay(&partial, usdc(20)).await;
    rig.follow().await;
    rig.finalize().await;
    let id = partial["id"].as_str().unwrap();
    let half = app.invoice(&key, id).await;
    assert_eq!(
        (half["status"].as_str(), half["amount_due"].as_str()),
        (Some("partially_paid"), Some("30.000000"))
    );
    rig.pay(&partial, usdc(30)).await;
    rig.follow().await;
    rig.finalize().await;
    assert_eq!(app.invoice(&key, id).await["status"], "paid");

    // Overpayment: recorded, credited in full, the excess shown for a refund.
    let over = app.open_invoice(&key, invoice_body("USDC", "10", local)).await;
    rig.pay(&over, usdc(15)).await;
    rig.follow().await;
    rig.finalize().await;
    let o = app.invoice(&key, over["id"].as_str().unwrap()).await;
    assert_eq!(
        (o["status"].as_str(), o["amount_overpaid"].as_str()),
        (Some("overpaid"), Some("5.000000"))
    );

    // Late: a payment after the due date is accepted and flagged.
    let late = app.open_invoice(&key, invoice_body("USDC", "7", local)).await;
    rig.pay(&late, usdc(7)).await;
    let after_due = chrono::Utc::now() + chrono::Duration::days(8);
    assert_eq!(rig.follow_at(after_due).await, report(1, 0, 0, 0));
    rig.finalize().await;
    let l = app.invoice(&key, late["id"].as_str().unwrap()).await;
    assert_eq!(
        (l["status"].as_str(), l["paid_late"].as_bool()),
        (Some("paid"), Some(true))
    );
    let payments = app
        .send(
            Method::GET,
            &format!("/v1/invoices/{}/payments", l["id"].as_str().unwrap()),
            &key,
            None,
            None,
        )
        .await;
    assert_eq!(payments.body[0]["late"], true, "{}", payments.body);
    assert_eq!(payments.body[0]["status"], "credited");

    // Unknown reference and wrong token: the treasury's to sort out, never the merchant's.
    let available_before = balance(&app.pool, merchant, "USDC", "available").await;
    rig.chain
        .pay_invoice(
            &rig.chain.keys.buyer,
            rig.chain.deployment.usdc,
            usdc(3),
            B256::repeat_byte(0x42),
        )
        .await;
    let open = app.open_invoice(&key, invoice_body("USDC", "9", local)).await;
    rig.chain
        .pay_invoice(
            &rig.chain.keys.buyer,
            rig.chain.deployment.eurc,
            usdc(9),
            reference(&open),
        )
        .await;
    assert_eq!(rig.follow().await, report(0, 2, 0, 0));
    rig.finalize().await;
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM invoicing.unmatched_receipts ORDER BY created_at, id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(reasons, ["unknown_reference", "wrong_token"]);
    assert_eq!(app.invoice(&key, open["id"].as_str().unwrap()).await["status"], "open");
    assert_eq!(
        balance(&app.pool, merchant, "USDC", "available").await,
        available_before
    );
    assert_eq!(balance(&app.pool, merchant, "EURC", "incoming_pending").await, "0");

    // The same events delivered again (the watcher rescans from block 0): nothing new.
    let observations = app.count("SELECT count(*) FROM chain.observations").await;
    sqlx::query("UPDATE chain.cursors SET next_block = 0")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(rig.follow().await, DetectionReport::default());
    assert_eq!(app.count("SELECT count(*) FROM chain.observations").await, observations);
    // 100 + 20 + 30 + 15 + 7 credited, once each.
    assert_eq!(balance(&app.pool, merchant, "USDC", "available").await, "173");

    // An invoice with payments cannot be voided.
    app.send(
        Method::POST,
        &format!("/v1/invoices/{}/void", exact["id"].as_str().unwrap()),
        &key,
        None,
        None,
    )
    .await
    .problem(StatusCode::CONFLICT, "invoice_has_payments");

    let events = app.events("invoice.%").await;
    let of = |t: &str| events.iter().filter(|e| *e == t).count();
    assert_eq!(of("invoice.payment_detected"), 5);
    assert_eq!(of("invoice.paid"), 3);
    assert_eq!(of("invoice.partially_paid"), 1);
    assert_eq!(of("invoice.overpaid"), 1);
    corridor_test_support::assert_ledger_consistent(&app.pool).await;
}

/// A payment whose block is orphaned before finality is reversed: the invoice goes back to open
/// and the incoming amount back to chain clearing. Mined again on the new chain, it is a new
/// payment and is credited once.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_reorg_before_finality_puts_the_invoice_back(pool: PgPool) {
    let rig = Rig::start(pool).await;
    let app = &rig.app;
    let (merchant, key) = app.merchant().await;
    let invoice = app.open_invoice(&key, invoice_body("USDC", "40", chain::LOCAL)).await;
    let id = invoice["id"].as_str().unwrap();
    // The pay page names this chain's InvoicePayments contract, the amount in base units and the
    // reference, in an EIP-681 URI and its QR code.
    let (_, _, html) = app.http.get_text(invoice["hosted_url"].as_str().unwrap(), "").await;
    let contract = corridor_domain::EvmAddress::from_alloy(rig.chain.deployment.invoice_payments).to_string();
    let uri = format!(
        "ethereum:{contract}@{}/pay?address={}&amp;uint256=40000000&amp;bytes32={}",
        chain::LOCAL,
        corridor_domain::EvmAddress::from_alloy(rig.chain.deployment.usdc),
        invoice["payment_reference"].as_str().unwrap()
    );
    assert!(html.contains(&uri), "{uri} not in {html}");
    assert!(html.contains("<svg"), "a QR code");

    let snapshot = rig.chain.provider.anvil_snapshot().await.unwrap();
    rig.pay(&invoice, usdc(40)).await;
    assert_eq!(rig.follow().await, report(1, 0, 0, 0));
    assert_eq!(app.invoice(&key, id).await["amount_detected"], "40.000000");
    assert!(rig.chain.provider.anvil_revert(snapshot).await.unwrap());
    rig.chain.mine(3).await;
    assert_eq!(rig.follow().await, report(0, 0, 0, 1));
    let back = app.invoice(&key, id).await;
    assert_eq!(
        (
            back["status"].as_str(),
            back["amount_detected"].as_str(),
            back["amount_paid"].as_str()
        ),
        (Some("open"), Some("0.000000"), Some("0.000000"))
    );
    assert_eq!(balance(&app.pool, merchant, "USDC", "incoming_pending").await, "0");
    assert_eq!(balance(&app.pool, merchant, "USDC", "available").await, "1");

    // Paid again on the canonical chain: credited once.
    rig.pay(&invoice, usdc(40)).await;
    assert_eq!(rig.follow().await, report(1, 0, 0, 0));
    assert_eq!(rig.finalize().await, report(0, 0, 1, 0));
    assert_eq!(app.invoice(&key, id).await["status"], "paid");
    assert_eq!(balance(&app.pool, merchant, "USDC", "available").await, "41");
    assert_eq!(
        app.events("invoice.%").await,
        [
            "invoice.created",
            "invoice.finalized",
            "invoice.payment_detected",
            "invoice.payment_reversed",
            "invoice.payment_detected",
            "invoice.paid"
        ]
    );
    corridor_test_support::assert_ledger_consistent(&app.pool).await;
}

/// Two detection rounds racing over the same events count each once.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn concurrent_rounds_take_each_event_once(pool: PgPool) {
    let rig = Rig::start(pool).await;
    let app = &rig.app;
    let (merchant, key) = app.merchant().await;
    let mut invoices = Vec::new();
    for i in 1..=5u64 {
        invoices.push(
            app.open_invoice(&key, invoice_body("USDC", &i.to_string(), chain::LOCAL))
                .await,
        );
    }
    for (i, inv) in invoices.iter().enumerate() {
        rig.pay(inv, usdc(i as u64 + 1)).await;
    }
    rig.chain.mine(chain::FINALITY_DEPTH).await;
    rig.watcher.tick().await.unwrap();
    let registry = app.state.registry();
    let now = chrono::Utc::now();
    let rounds = (0..4).map(|_| detection::follow_payments(&app.pool, registry, now, 100));
    let mut total = DetectionReport::default();
    // Polled together on one task: the rounds' statements interleave on four connections.
    for r in futures::future::join_all(rounds).await {
        let r = r.unwrap();
        total.detected += r.detected;
        total.credited += r.credited;
    }
    // Whatever the interleaving, after one more round everything is taken and credited once.
    let last = detection::follow_payments(&app.pool, registry, now, 100).await.unwrap();
    assert_eq!(total.detected + last.detected, 5);
    assert_eq!(total.credited + last.credited, 5);
    assert_eq!(balance(&app.pool, merchant, "USDC", "available").await, "16");
    assert_eq!(app.count("SELECT count(*) FROM invoicing.payments").await, 5);
    corridor_test_support::assert_ledger_consistent(&app.pool).await;
}
