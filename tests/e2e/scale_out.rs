//! Must-show of issue #10, scale-out on one machine: two `corridor serve` processes, each running
//! every service (API, screening, settlement, submitter, watcher, invoice detection, webhook
//! delivery), share one Postgres and one anvil. Payouts and invoices go through both (each
//! payout request is also replayed through the other process), a webhook endpoint receives
//! their events, and one process is SIGKILLed mid-flight. Every effect must happen exactly once:
//! one payout per key, one transfer per payout on chain, one ledger posting per payout, one
//! credit per invoice, one event per state change (a webhook may be redelivered, never
//! re-created).

use alloy::{
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
};
use axum::{body::Bytes, extract::State, http::HeaderMap, routing};
use corridor_chain::{
    bindings::{InvoicePayments, TestStablecoin},
    local,
};
use corridor_e2e::{Gateway, free_port, fresh_database, key_hex, local_chain, router_records, wait_ready};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use std::{
    collections::{BTreeMap, BTreeSet},
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const DB: &str = "corridor_e2e_scale";
const PAYOUTS: usize = 24;
const INVOICES: usize = 8;
/// The whole flow on one-second blocks, including a submitter lease taken over from the killed
/// process, takes well under a minute; four is far beyond normal.
const SETTLE_DEADLINE: Duration = Duration::from_secs(240);

/// What the webhook endpoint received: (webhook-id, type, data.id) per delivery.
#[derive(Default)]
struct Received(Mutex<Vec<(String, String, String)>>);

async fn webhook_receiver() -> (String, Arc<Received>) {
    let received = Arc::new(Received::default());
    let app = axum::Router::new()
        .route(
            "/hook",
            routing::post(
                |State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    r.0.lock().unwrap().push((
                        id.to_owned(),
                        event["type"].as_str().unwrap_or_default().to_owned(),
                        event["data"]["id"].as_str().unwrap_or_default().to_owned(),
                    ));
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn recipient(i: usize) -> Address {
    Address::from_word(B256::from(U256::from(0x5ca1_0000u64 + i as u64)))
}

fn payout_body(i: usize) -> Value {
    json!({
        "client_reference": format!("scale-{i}"), "amount": format!("{}.50", 2 + i), "asset": "USDC",
        "chain_id": local::LOCAL_CHAIN_ID, "purpose": "Supplier invoice",
        "beneficiary": { "kind": "business", "name": "Souza Componentes Ltda", "country": "BR",
                         "chain_id": local::LOCAL_CHAIN_ID, "address": format!("{:#x}", recipient(i)) } })
}

async fn post(
    http: &reqwest::Client,
    url: String,
    key: &str,
    idempotency_key: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = http
        .post(url)
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency_key);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn count(db: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_of_every_service_and_one_killed_mid_flight_do_every_effect_once() {
    let (anvil, keys, d) = local_chain().await;
    fresh_database(DB).await;

    // One configuration for both processes; the secrets must be shared, as in any deployment
    // (the invoice secret derives payment references, the JWT secret signs sessions).
    let shared = [
        (
            "CORRIDOR_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{DB}"),
        ),
        ("CORRIDOR_CHAIN_RPC_URL", anvil.endpoint()),
        ("CORRIDOR_CHAIN_ID", local::LOCAL_CHAIN_ID.to_string()),
        ("CORRIDOR_CHAIN_FINALITY", "2".into()),
        ("CORRIDOR_CHAIN_SUBMITTER_KEY", key_hex(&keys.submitter)),
        ("CORRIDOR_COMPLIANCE_SIGNER_KEY", key_hex(&keys.compliance)),
        ("CORRIDOR_CHAIN_PAYOUT_ROUTER", format!("{:#x}", d.payout_router)),
        ("CORRIDOR_CHAIN_TOKENS", format!("USDC={:#x}", d.usdc)),
        (
            "CORRIDOR_JWT_SECRET",
            "scale-out-test-jwt-secret-0123456789abcdef".into(),
        ),
        (
            "CORRIDOR_INVOICE_SECRET",
            "scale-out-test-invoice-secret-0123456789abcdef".into(),
        ),
        ("CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", "true".into()),
    ];
    let gateway = |port: u16| Gateway {
        env: shared
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain([("CORRIDOR_LISTEN_ADDR".to_owned(), format!("127.0.0.1:{port}"))])
            .collect(),
        port,
        child: None,
    };
    let (mut a, mut b) = (gateway(free_port()), gateway(free_port()));
    a.run(&["migrate"]);
    let merchant = a.run(&["merchant", "create", "--name", "Scale Out Ltd"]);
    let key = a.run(&["api-key", "create", "--merchant", &merchant]);
    // The watcher follows the local contracts and the treasury, as `corridor dev` sets up.
    let mut db = PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{DB}"))
        .await
        .unwrap();
    corridor_chain::watcher::watch_contract(&mut db, d.chain_id, d.invoice_payments, "invoice_payments")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    a.start();
    b.start();
    wait_ready(&http, &a.base()).await;
    wait_ready(&http, &b.base()).await;
    let both = [a.base(), b.base()];

    let (hook_url, received) = webhook_receiver().await;
    let (status, endpoint) = post(
        &http,
        format!("{}/v1/webhook-endpoints", both[1]),
        &key,
        "scale-hook",
        Some(&json!({ "url": hook_url, "event_types": ["payout.completed", "invoice.paid"] })),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, credit) = post(
        &http,
        format!("{}/v1/sandbox/credits", both[0]),
        &key,
        "scale-funding",
        Some(&json!({ "asset": "USDC", "amount": "100000" })),
    )
    .await;
    assert_eq!(status, 201, "{credit}");

    // Payouts through both processes at once; each request replayed through the other one.
    let creations: Vec<_> = (0..PAYOUTS)
        .map(|i| {
            let (http, key, both) = (http.clone(), key.clone(), both.clone());
            tokio::spawn(async move {
                let idem = format!("scale-key-{i}");
                let first = post(
                    &http,
                    format!("{}/v1/payouts", both[i % 2]),
                    &key,
                    &idem,
                    Some(&payout_body(i)),
                )
                .await;
                let replay = post(
                    &http,
                    format!("{}/v1/payouts", both[(i + 1) % 2]),
                    &key,
                    &idem,
                    Some(&payout_body(i)),
                )
                .await;
                (i, first, replay)
            })
        })
        .collect();
    let mut payout_ids = BTreeSet::new();
    for c in creations {
        let (i, (s1, p1), (s2, p2)) = c.await.unwrap();
        assert_eq!(s1, 201, "payout {i}: {p1}");
        // The replay lands after the first answer, so it is the stored response, not a new payout.
        assert_eq!(s2, 201, "payout {i} replay: {p2}");
        assert_eq!(
            p1["id"], p2["id"],
            "payout {i}: the other process replayed another payout"
        );
        payout_ids.insert(p1["id"].as_str().unwrap().to_owned());
    }

    // Invoices, alternately through each process, paid on chain by the buyer.
    let buyer = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(keys.buyer.clone()))
        .connect_http(anvil.endpoint_url());
    let mut invoices = Vec::new();
    for i in 0..INVOICES {
        let base = &both[i % 2];
        let (status, draft) = post(
            &http,
            format!("{base}/v1/invoices"),
            &key,
            &format!("scale-invoice-{i}"),
            Some(&json!({ "currency": "USDC",
                     "buyer": { "name": "Lagos Textiles Ltd", "email": "ap@lagos.example", "country": "NG" },
                     "line_items": [{ "description": "Cotton", "quantity": "1", "unit_price": format!("{}.00", 100 + i) }],
                     "due_at": "2099-01-01T00:00:00Z", "chains": [local::LOCAL_CHAIN_ID] })),
        )
        .await;
        assert_eq!(status, 201, "{draft}");
        let id = draft["id"].as_str().unwrap().to_owned();
        // Finalized through the other process.
        let other = &both[(i + 1) % 2];
        let (status, open) = post(
            &http,
            format!("{other}/v1/invoices/{id}/finalize"),
            &key,
            &format!("scale-finalize-{i}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{open}");
        invoices.push((id, open));
    }
    let total_units = U256::from((0..INVOICES as u64).map(|i| (100 + i) * 1_000_000).sum::<u64>());
    let approve = TestStablecoin::new(d.usdc, &buyer)
        .approve(d.invoice_payments, total_units)
        .send()
        .await
        .unwrap();
    assert!(approve.get_receipt().await.unwrap().status());
    let payments = InvoicePayments::new(d.invoice_payments, &buyer);
    for (i, (_, invoice)) in invoices.iter().enumerate() {
        assert_eq!(invoice["total"], format!("{}.000000", 100 + i), "{invoice}");
        let reference = B256::from_str(invoice["payment_reference"].as_str().unwrap()).unwrap();
        let units = U256::from((100 + i as u64) * 1_000_000);
        // Sent without waiting for each receipt: the chain and the watchers see them in bursts.
        let _pending = payments.pay(d.usdc, units, reference).send().await.unwrap();
    }

    // Mid-flight: payouts are being screened, batched, submitted and watched; invoice payments
    // are in the mempool or just mined. Kill the first process with SIGKILL.
    let unsettled = count(
        &mut db,
        "SELECT count(*) FROM payouts.payouts WHERE status <> 'completed'",
    )
    .await
        + count(
            &mut db,
            "SELECT count(*) FROM invoicing.invoices WHERE status <> 'paid'",
        )
        .await;
    a.kill();
    println!("killed one process with {unsettled} payouts and invoices unsettled");
    assert!(unsettled > 0, "the kill must land mid-flight");

    let deadline = Instant::now() + SETTLE_DEADLINE;
    loop {
        let open_payouts = count(
            &mut db,
            "SELECT count(*) FROM payouts.payouts WHERE status <> 'completed'",
        )
        .await;
        let open_invoices = count(
            &mut db,
            "SELECT count(*) FROM invoicing.invoices WHERE status <> 'paid'",
        )
        .await;
        let failed = count(
            &mut db,
            "SELECT count(*) FROM payouts.payouts WHERE status IN ('failed', 'rejected', 'held')",
        )
        .await;
        assert_eq!(failed, 0, "no payout may fail or wait for review here");
        let delivered: BTreeSet<(String, String)> = received
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t, id)| (t.clone(), id.clone()))
            .collect();
        if open_payouts == 0 && open_invoices == 0 && delivered.len() == PAYOUTS + INVOICES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled in time: {open_payouts} payouts and {open_invoices} invoices open, {} events delivered",
            delivered.len()
        );
        // Polls the surviving process's effects, with the deadline above.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Payouts: one per key, one posting each, each paid once on chain.
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM payouts.payouts").await,
        PAYOUTS as i64
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM ledger.entries WHERE kind = 'hold_posted'"
        )
        .await,
        PAYOUTS as i64
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM ledger.entries WHERE kind = 'hold_voided'"
        )
        .await,
        0
    );
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let usdc = TestStablecoin::new(d.usdc, &provider);
    for i in 0..PAYOUTS {
        assert_eq!(
            usdc.balanceOf(recipient(i)).call().await.unwrap(),
            U256::from((2 + i as u64) * 1_000_000 + 500_000),
            "recipient {i} paid exactly once"
        );
    }
    let per_payout = router_records(anvil.endpoint_url(), d.payout_router).await;
    assert_eq!(per_payout.len(), PAYOUTS);
    assert!(per_payout.values().all(|n| *n == 1), "{per_payout:?}");

    // Invoices: each paid exactly its total, one payment and one credit each.
    for (id, invoice) in &invoices {
        let res = http
            .get(format!("{}/v1/invoices/{id}", both[1]))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let now: Value = res.json().await.unwrap();
        assert_eq!(now["status"], "paid", "{now}");
        assert_eq!(now["amount_paid"], invoice["total"], "{now}");
    }
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM invoicing.payments").await,
        INVOICES as i64
    );

    // The merchant's money adds up: funding + invoices - payouts, nothing reserved.
    let res = http
        .get(format!("{}/v1/balances", both[1]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let balances: Value = res.json().await.unwrap();
    let usdc_balance = balances["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USDC")
        .unwrap();
    let paid_out: u64 = (0..PAYOUTS as u64).map(|i| (2 + i) * 100 + 50).sum(); // in cents
    let invoiced: u64 = (0..INVOICES as u64).map(|i| (100 + i) * 100).sum();
    let expected_cents = 100_000 * 100 + invoiced - paid_out;
    assert_eq!(
        usdc_balance["available"],
        format!("{}.{:02}0000", expected_cents / 100, expected_cents % 100),
        "{balances}"
    );
    assert_eq!(usdc_balance["reserved"], "0.000000", "{balances}");
    let check = b.run(&["ledger", "check"]);
    assert!(check.contains("consistent"), "{check}");

    // Webhooks: one event per state change (redelivery of the same event is allowed; a second
    // event for the same change is not), and every one delivered.
    let mut ids_per_change: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (webhook_id, kind, object) in received.0.lock().unwrap().iter() {
        ids_per_change
            .entry((kind.clone(), object.clone()))
            .or_default()
            .insert(webhook_id.clone());
    }
    for id in &payout_ids {
        let ids = &ids_per_change[&("payout.completed".to_owned(), id.clone())];
        assert_eq!(ids.len(), 1, "payout {id}: one payout.completed event, got {ids:?}");
    }
    for (id, _) in &invoices {
        let ids = &ids_per_change[&("invoice.paid".to_owned(), id.clone())];
        assert_eq!(ids.len(), 1, "invoice {id}: one invoice.paid event, got {ids:?}");
    }
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM platform.outbox WHERE event_type = 'payout.completed'"
        )
        .await,
        PAYOUTS as i64
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM platform.outbox WHERE event_type = 'invoice.paid'"
        )
        .await,
        INVOICES as i64
    );
}
