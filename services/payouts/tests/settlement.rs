//! Payouts end to end against real Postgres and a real anvil: screening, attestation, the
//! submitter, the watcher, and the ledger at finality or failure.

mod common;

use alloy::primitives::{Address, B256, U256};
use axum::http::{Method, StatusCode};
use common::{chain::Chain, *};
use corridor_chain::{bindings::PayoutRouter, submitter::Submitter, watcher::Watcher};
use corridor_payouts::{screening, settlement::Settler};
use corridor_store::ledger;
use serde_json::{Value, json};
use sqlx::PgPool;

fn recipient(i: u64) -> Address {
    Address::from_word(B256::from(U256::from(0x2000_0000u64 + i)))
}

fn inline_payout(reference: &str, amount: &str, to: Address) -> Value {
    json!({ "client_reference": reference, "amount": amount, "asset": "USDC", "chain_id": chain::LOCAL,
            "purpose": "Invoice 42",
            "beneficiary": { "kind": "business", "name": "Lagos Textiles Ltd", "country": "NG",
                             "chain_id": chain::LOCAL, "address": format!("{to:#x}") } })
}

struct Pipeline<'a> {
    app: &'a App,
    chain: &'a Chain,
    submitter: Submitter,
    watcher: Watcher,
    settler: Settler,
}

impl<'a> Pipeline<'a> {
    async fn new(app: &'a App, chain: &'a Chain) -> Self {
        let mut conn = app.pool.acquire().await.unwrap();
        corridor_chain::watcher::watch_contract(
            &mut conn,
            chain::LOCAL,
            chain.deployment.payout_router,
            "payout_router",
        )
        .await
        .unwrap();
        let watcher = chain.watcher(&app.pool);
        // The watcher follows from the head it first sees; start it before anything is sent.
        watcher.tick().await.unwrap();
        Pipeline {
            app,
            chain,
            submitter: chain.submitter(&app.pool).await,
            watcher,
            settler: chain.settler(&app.pool, app.state.registry().clone()),
        }
    }

    async fn screen(&self) -> screening::ScreenReport {
        self.app.screen().await
    }

    /// Settles what is ready: attest and queue, sign and send, mine, receipts, finality.
    /// Returns the number of payouts that reached `completed` or `failed`.
    async fn settle(&self) -> (u64, u64) {
        let queued = self.settler.settle_ready().await.unwrap();
        assert!(queued.settlements > 0, "something was ready to settle");
        self.submitter.tick().await.unwrap();
        self.chain.mine(1).await;
        self.submitter.tick().await.unwrap();
        let mined = self.settler.follow().await.unwrap();
        self.chain.mine(chain::FINALITY_DEPTH).await;
        self.watcher.tick().await.unwrap();
        let last = self.settler.follow().await.unwrap();
        (mined.completed + last.completed, mined.failed + last.failed)
    }
}

async fn payout(app: &App, key: &str, id: &str) -> Value {
    let res = app
        .send(Method::GET, &format!("/v1/payouts/{id}"), key, None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn events(app: &App, payout: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM platform.outbox WHERE payload->>'id' = $1 ORDER BY id")
        .bind(payout)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn platform_balance(app: &App, asset: &str, purpose: &str) -> String {
    let b: Option<rust_decimal::Decimal> = sqlx::query_scalar(
        "SELECT balance FROM ledger.accounts WHERE owner_kind = 'platform' AND asset = $1 AND purpose = $2",
    )
    .bind(asset)
    .bind(purpose)
    .fetch_optional(&app.pool)
    .await
    .unwrap();
    b.unwrap_or_default().normalize().to_string()
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_payout_is_screened_attested_sent_once_and_posted_at_finality(pool: PgPool) {
    let chain = Chain::start().await;
    let app = App::with_registry(pool, &[("CORRIDOR_PAYOUT_FEE_BPS", "10")], chain.registry()).await;
    let (merchant, key) = app.merchant("1000").await;
    let to = recipient(1);
    let res = app.pay(&key, "k1", inline_payout("inv-1", "100", to)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let p = Pipeline::new(&app, &chain).await;

    assert_eq!(p.screen().await.cleared, 1);
    assert_eq!(p.settle().await, (1, 0));

    let view = payout(&app, &key, &id).await;
    assert_eq!(view["status"], "completed", "{view}");
    let steps: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pending_screening", "screened", "signed", "mined", "final"]);
    let tx_hash = view["tx_hash"].as_str().unwrap();
    assert_eq!(tx_hash.len(), 66);
    assert_eq!(view["network_fee"]["asset"], "ETH");
    let gas: rust_decimal::Decimal = view["network_fee"]["amount"].as_str().unwrap().parse().unwrap();
    assert!(gas.is_sign_positive() && !gas.is_zero());

    // Exactly once on chain: the recipient got the amount, the attestation nonce is spent, and
    // the router recorded this payout id once.
    assert_eq!(chain.usdc_balance(to).await, U256::from(100_000_000u64));
    let router = PayoutRouter::new(chain.deployment.payout_router, &chain.provider);
    assert!(router.nonceUsed(U256::from(1u64)).call().await.unwrap());
    let uuid = corridor_domain::ids::PayoutId::parse(&id).unwrap().as_uuid();
    let records: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chain.observations WHERE kind = 'payout_executed' AND fields->>'payout_id' = $1",
    )
    .bind(format!("0x{}", uuid.simple()))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(records, 1);

    // The ledger: amount + fee left the merchant, the fee is the platform's, gas is booked.
    assert_eq!(app.balances(merchant).await, ("899.9".to_owned(), "0".to_owned()));
    assert_eq!(platform_balance(&app, "USDC", "platform_fees").await, "0.1");
    assert_eq!(platform_balance(&app, "USDC", "chain_clearing").await, "100");
    assert!(platform_balance(&app, "ETH", "network_fees").await.starts_with('-'));
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
    assert_eq!(
        events(&app, &id).await,
        [
            "payout.created",
            "payout.submitted",
            "payout.confirmed",
            "payout.completed"
        ]
    );

    // Following again changes nothing: no second posting, no second event.
    let again = p.settler.follow().await.unwrap();
    assert_eq!((again.confirmed, again.completed, again.failed), (0, 0, 0));
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_posted'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'network_fee'")
            .await,
        1
    );
    assert!(p.settler.settle_ready().await.unwrap().settlements == 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_reverted_transfer_releases_the_hold_exactly_once_and_says_why(pool: PgPool) {
    let chain = Chain::start().await;
    let app = App::with_registry(pool, &[("CORRIDOR_PAYOUT_FEE_BPS", "10")], chain.registry()).await;
    let (merchant, key) = app.merchant("1000").await;
    let to = recipient(2);
    chain.blacklist(to).await;
    let res = app.pay(&key, "k1", inline_payout("inv-2", "100", to)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let p = Pipeline::new(&app, &chain).await;
    assert_eq!(app.balances(merchant).await, ("899.9".to_owned(), "100.1".to_owned()));

    p.screen().await;
    assert_eq!(p.settle().await, (0, 1));

    let view = payout(&app, &key, &id).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["failure"]["code"], "transfer_failed");
    let reason = view["failure"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("AccountBlacklisted"),
        "the merchant is told why: {reason}"
    );
    assert_eq!(app.balances(merchant).await, ("1000".to_owned(), "0".to_owned()));
    assert_eq!(chain.usdc_balance(to).await, U256::ZERO);
    assert_eq!(
        events(&app, &id).await,
        ["payout.created", "payout.submitted", "payout.failed"]
    );
    // Exactly once: following again voids nothing more; the reverted gas is still booked.
    let again = p.settler.follow().await.unwrap();
    assert_eq!(again.failed, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_voided'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'network_fee'")
            .await,
        1
    );
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_batch_of_100_with_3_held_settles_97_together_and_the_3_after_approval_each_once(pool: PgPool) {
    use corridor_platform::auth::Role;
    let chain = Chain::start().await;
    let app = App::with_registry(pool, &[("CORRIDOR_PAYOUT_REVIEW_THRESHOLD", "5000")], chain.registry()).await;
    let (merchant, key) = app.merchant("100000").await;
    // Items 10, 50 and 90 are at the review threshold; the other 97 are small.
    let held = [10usize, 50, 90];
    let items: Vec<Value> = (0..100)
        .map(|i| {
            let amount = if held.contains(&i) { "5000" } else { "7.5" };
            let mut item = inline_payout(&format!("batch-{i}"), amount, recipient(100 + i as u64));
            // Travel-rule data, so only the amount rule can hold an item.
            item["beneficiary"]["travel_rule"] = json!({ "beneficiary": { "name": "Lagos Textiles Ltd" } });
            item
        })
        .collect();
    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("b1"),
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["accepted"], 100);
    let batch = res.body["id"].as_str().unwrap().to_owned();
    let ids: Vec<String> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["payout"]["id"].as_str().unwrap().to_owned())
        .collect();

    let p = Pipeline::new(&app, &chain).await;
    let screened = p.screen().await;
    assert_eq!((screened.cleared, screened.held), (97, 3));
    // The 97 cleared items settle together: one attested batch, one transaction.
    assert_eq!(p.settle().await, (97, 0));
    assert_eq!(app.count("SELECT count(*) FROM chain.intents").await, 1);
    let view = app
        .send(Method::GET, &format!("/v1/payout-batches/{batch}"), &key, None, None)
        .await;
    let statuses: Vec<&str> = view.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["payout"]["status"].as_str().unwrap())
        .collect();
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(*s, if held.contains(&i) { "held" } else { "completed" }, "item {i}");
    }

    // Two compliance officers approve the three (four-eyes); they settle in a second batch.
    let officer = app.console_user(Role::ComplianceOfficer).await;
    let second = app.console_user(Role::ComplianceLead).await;
    let queue = app
        .send(Method::GET, "/v1/compliance/payout-reviews", &officer, None, None)
        .await;
    assert_eq!(queue.body["data"].as_array().unwrap().len(), 3, "{}", queue.body);
    for i in held {
        for (who, expected) in [(&officer, "held"), (&second, "approved")] {
            let res = app
                .send(
                    Method::POST,
                    &format!("/v1/compliance/payout-reviews/{}", ids[i]),
                    who,
                    None,
                    Some(json!({ "decision": "approve", "reason": "supplier contract checked" })),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            assert_eq!(res.body["payout"]["status"], expected);
        }
    }
    let again = app
        .send(
            Method::POST,
            &format!("/v1/compliance/payout-reviews/{}", ids[10]),
            &officer,
            None,
            Some(json!({ "decision": "reject", "reason": "changed my mind" })),
        )
        .await;
    again.problem(StatusCode::CONFLICT, "payout_not_held");
    assert_eq!(p.settle().await, (3, 0));
    assert_eq!(app.count("SELECT count(*) FROM chain.intents").await, 2);

    // Each of the 100 was paid exactly once, on chain and in the ledger.
    for (i, _) in ids.iter().enumerate() {
        let expected = if held.contains(&i) { 5_000_000_000u64 } else { 7_500_000 };
        assert_eq!(
            chain.usdc_balance(recipient(100 + i as u64)).await,
            U256::from(expected),
            "item {i}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM chain.observations WHERE kind = 'payout_executed'")
            .await,
        100
    );
    assert_eq!(
        app.count("SELECT count(DISTINCT fields->>'payout_id') FROM chain.observations WHERE kind = 'payout_executed'")
            .await,
        100
    );
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_posted'")
            .await,
        100
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payouts.payouts WHERE status = 'completed'")
            .await,
        100
    );
    // 100,000 - (97 x 7.5 + 3 x 5,000) = 100,000 - 15,727.5
    assert_eq!(app.balances(merchant).await, ("84272.5".to_owned(), "0".to_owned()));
    // The approved payouts' events tell the whole story.
    assert_eq!(
        events(&app, &ids[50]).await,
        [
            "payout.created",
            "payout.held",
            "payout.approved",
            "payout.submitted",
            "payout.confirmed",
            "payout.completed"
        ]
    );
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

/// Must-show 1: concurrent retries over the same keys make one payout per key, and each is
/// paid on chain exactly once.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_thousand_concurrent_requests_over_a_hundred_keys_make_a_hundred_payouts_paid_once(pool: PgPool) {
    let chain = Chain::start().await;
    let app = std::sync::Arc::new(App::with_registry(pool, &[], chain.registry()).await);
    let (merchant, key) = app.merchant("1000").await;
    let to = recipient(7);
    let mut ben = json!({ "kind": "business", "name": "Lagos Textiles Ltd", "country": "NG",
                          "chain_id": chain::LOCAL, "address": format!("{to:#x}") });
    let res = app
        .send(Method::POST, "/v1/beneficiaries", &key, None, Some(ben.take()))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let ben = res.body["id"].as_str().unwrap().to_owned();
    let body = move |k: usize| {
        json!({ "client_reference": format!("ref-{k}"), "amount": "1", "asset": "USDC", "chain_id": chain::LOCAL,
                "beneficiary_id": ben, "purpose": "Invoice 42" })
    };
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (app, key, body) = (app.clone(), key.clone(), body.clone());
            let k = i % 100;
            tokio::spawn(async move {
                // What a client does: retry while the first request with its key is in flight.
                for _ in 0..100_000 {
                    let res = app.pay(&key, &format!("key-{k}"), body(k)).await;
                    if res.body["code"] != "idempotency_key_in_use" {
                        return (k, res);
                    }
                    tokio::task::yield_now().await;
                }
                panic!("key-{k} never finished");
            })
        })
        .collect();
    let mut by_key: std::collections::HashMap<usize, Value> = std::collections::HashMap::new();
    for t in futures::future::join_all(tasks).await {
        let (k, res) = t.unwrap();
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let first = by_key.entry(k).or_insert_with(|| res.body.clone());
        assert_eq!(*first, res.body, "every response for key-{k} is the same");
    }
    assert_eq!(by_key.len(), 100);
    assert_eq!(app.count("SELECT count(*) FROM payouts.payouts").await, 100);
    assert_eq!(app.balances(merchant).await, ("900".to_owned(), "100".to_owned()));

    let p = Pipeline::new(&app, &chain).await;
    assert_eq!(p.screen().await.cleared, 100);
    assert_eq!(p.settle().await, (100, 0));
    assert_eq!(chain.usdc_balance(to).await, U256::from(100_000_000u64));
    assert_eq!(
        app.count("SELECT count(DISTINCT fields->>'payout_id') FROM chain.observations WHERE kind = 'payout_executed'")
            .await,
        100
    );
    assert_eq!(
        app.count("SELECT count(*) FROM chain.observations WHERE kind = 'payout_executed'")
            .await,
        100
    );
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_posted'")
            .await,
        100
    );
    assert_eq!(app.balances(merchant).await, ("900".to_owned(), "0".to_owned()));
    // The payouts' gas shares add up to what the transaction cost, to the wei.
    let shares_match: bool = sqlx::query_scalar(
        r#"SELECT sum(p.gas_native) * 1000000000000000000 = s.gas_wei
             FROM payouts.payouts p JOIN payouts.settlements s ON s.id = p.settlement_id
            GROUP BY s.id, s.gas_wei"#,
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(shares_match);
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

/// A USDC balance pays a beneficiary in EURC at a quoted rate: EURC arrives on chain, and at
/// finality one entry moves USDC into the FX account and EURC out of it, each asset balanced.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_quoted_payout_delivers_the_target_asset_and_converts_through_fx_at_finality(pool: PgPool) {
    let chain = Chain::start().await;
    let app = App::with_registry(
        pool,
        &[
            ("CORRIDOR_PAYOUT_FEE_BPS", "10"),
            ("CORRIDOR_FX_RATES", "USDC/EURC=0.92"),
        ],
        chain.registry(),
    )
    .await;
    let (merchant, key) = app.merchant("1000").await;
    let quote = app
        .send(
            Method::POST,
            "/v1/quotes",
            &key,
            None,
            Some(json!({ "source_asset": "USDC", "target_asset": "EURC", "source_amount": "100" })),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.body);
    assert_eq!(quote.body["target_amount"], "92.000000");
    let to = recipient(3);
    let mut body = inline_payout("fx-1", "92", to);
    body["asset"] = json!("EURC");
    body["quote_id"] = quote.body["id"].clone();
    let res = app.pay(&key, "k1", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let p = Pipeline::new(&app, &chain).await;
    p.screen().await;
    assert_eq!(p.settle().await, (1, 0));

    assert_eq!(payout(&app, &key, &id).await["status"], "completed");
    assert_eq!(
        chain.token_balance(chain.deployment.eurc, to).await,
        U256::from(92_000_000u64)
    );
    assert_eq!(chain.usdc_balance(to).await, U256::ZERO);
    // 100 USDC + 0.1 fee left the merchant; the platform holds 100 USDC against 92 EURC paid.
    assert_eq!(app.balances(merchant).await, ("899.9".to_owned(), "0".to_owned()));
    assert_eq!(platform_balance(&app, "USDC", "fx").await, "100");
    assert_eq!(platform_balance(&app, "EURC", "fx").await, "-92");
    assert_eq!(platform_balance(&app, "EURC", "chain_clearing").await, "92");
    assert_eq!(platform_balance(&app, "USDC", "platform_fees").await, "0.1");
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}
