//! Spending and funding around a payout: agent mandates on API keys, cross-asset quotes, and
//! direct deposits from registered wallets (against a real anvil), over real Postgres.

mod common;

use alloy::{
    primitives::U256,
    providers::ext::AnvilApi,
    signers::{SignerSync, local::PrivateKeySigner},
};
use axum::http::{Method, StatusCode};
use common::{chain::Chain, *};
use corridor_domain::{EvmAddress, ids::MerchantId};
use corridor_payouts::deposits::{self, DepositReport};
use corridor_platform::auth::Scope;
use serde_json::{Value, json};
use sqlx::PgPool;

/// A second key for the merchant, as handed to an agent: payouts only.
async fn agent_key(app: &App, merchant: MerchantId) -> (String, String) {
    let created = corridor_platform::routes::api_keys_create(
        &app.state,
        merchant,
        "agent",
        &[Scope::PayoutsWrite, Scope::PayoutsRead, Scope::ApiKeysManage],
    )
    .await
    .unwrap();
    (created.key.id.to_string(), created.secret)
}

async fn set_mandate(app: &App, admin: &str, key_id: &str, mandate: Value) -> Value {
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/api-keys/{key_id}/mandate"),
            admin,
            None,
            Some(mandate),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_mandate_caps_each_payout_limits_beneficiaries_and_assets_and_cannot_widen_itself(pool: PgPool) {
    let app = App::new(pool, &[("CORRIDOR_PAYOUT_FEE_FIXED", "1")]).await;
    let (merchant, admin) = app.merchant("1000").await;
    let allowed = app.beneficiary(&admin).await;
    let other = app
        .send(
            Method::POST,
            "/v1/beneficiaries",
            &admin,
            None,
            Some(beneficiary_body("0x0000000000000000000000000000000000000b0b")),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (agent_id, agent) = agent_key(&app, merchant).await;
    let m = set_mandate(
        &app,
        &admin,
        &agent_id,
        json!({ "asset": "USDC", "per_payout_max": "101", "allowed_beneficiaries": [allowed] }),
    )
    .await;
    assert_eq!(m["per_payout_max"], "101.000000");
    // The agent may read its own mandate.
    let own = app
        .send(
            Method::GET,
            &format!("/v1/api-keys/{agent_id}/mandate"),
            &agent,
            None,
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let entries_before = app.count("SELECT count(*) FROM ledger.entries").await;

    // 100 + 1 fee fits the cap; 100.01 + 1 does not. The cap counts what leaves the balance.
    let ok = app.pay(&agent, "a1", payout_body("a1", "100", &allowed)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    app.pay(&agent, "a2", payout_body("a2", "100.01", &allowed))
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_per_payout_exceeded");
    app.pay(&agent, "a3", payout_body("a3", "5", &other))
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_beneficiary_not_allowed");
    let inline = json!({ "client_reference": "a4", "amount": "5", "asset": "USDC", "chain_id": CHAIN,
        "purpose": "p", "beneficiary": beneficiary_body("0x0000000000000000000000000000000000000c0c") });
    app.pay(&agent, "a4", inline)
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_beneficiary_not_allowed");
    let eurc = json!({ "client_reference": "a5", "amount": "5", "asset": "EURC", "chain_id": CHAIN,
        "beneficiary_id": allowed, "purpose": "p" });
    app.pay(&agent, "a5", eurc)
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_asset_not_allowed");
    // Refusals reserve nothing: only the accepted payout's hold was written.
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries").await,
        entries_before + 1
    );
    assert_eq!(app.balances(merchant).await, ("899".to_owned(), "101".to_owned()));
    // The same payouts through the unmandated admin key pass the mandate checks.
    let admin_pay = app.pay(&admin, "b1", payout_body("b1", "150", &other)).await;
    assert_eq!(admin_pay.status, StatusCode::CREATED, "{}", admin_pay.body);

    // A mandated key cannot widen its powers.
    app.send(
        Method::POST,
        "/v1/api-keys",
        &agent,
        None,
        Some(json!({ "name": "escape", "scopes": ["payouts:write"] })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "mandate_restricted");
    app.send(
        Method::DELETE,
        &format!("/v1/api-keys/{agent_id}/mandate"),
        &agent,
        None,
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "mandate_restricted");
    app.send(
        Method::PUT,
        &format!("/v1/api-keys/{agent_id}/mandate"),
        &agent,
        None,
        Some(json!({ "asset": "USDC", "per_payout_max": "1000000" })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "mandate_restricted");

    // An expired mandate stops the key; lifting the mandate (by the admin) frees it.
    set_mandate(
        &app,
        &admin,
        &agent_id,
        json!({ "asset": "USDC", "expires_at": "2020-01-01T00:00:00Z" }),
    )
    .await;
    app.pay(&agent, "a6", payout_body("a6", "1", &allowed))
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_expired");
    let lifted = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{agent_id}/mandate"),
            &admin,
            None,
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    let free = app.pay(&agent, "a7", payout_body("a7", "1", &other)).await;
    assert_eq!(free.status, StatusCode::CREATED, "{}", free.body);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_mandates_are_refused_with_a_clear_code(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, admin) = app.merchant("10").await;
    let (agent_id, _) = agent_key(&app, merchant).await;
    let path = format!("/v1/api-keys/{agent_id}/mandate");
    for (body, code) in [
        (json!({ "asset": "USDC" }), "invalid_mandate"),
        (json!({ "asset": "USDC", "daily_budget": "0" }), "invalid_mandate"),
        (
            json!({ "asset": "USDC", "per_payout_max": "1.0000001" }),
            "invalid_mandate",
        ),
        (
            json!({ "asset": "USDC", "allowed_beneficiaries": [] }),
            "invalid_mandate",
        ),
        (
            json!({ "asset": "USDC", "allowed_beneficiaries": ["po_1"] }),
            "invalid_mandate",
        ),
        (json!({ "asset": "DOGE", "daily_budget": "1" }), "unknown_asset"),
    ] {
        app.send(Method::PUT, &path, &admin, None, Some(body.clone()))
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    app.send(Method::GET, &path, &admin, None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // Another merchant's key is as unknown as a missing one.
    let (_, stranger) = app.merchant("10").await;
    app.send(
        Method::PUT,
        &path,
        &stranger,
        None,
        Some(json!({ "asset": "USDC", "daily_budget": "1" })),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
}

/// 12 concurrent payouts of 50 against a daily budget of 250: the mandate row lock counts them
/// one after the other, so exactly 5 pass. A canceled payout gives its share of the budget back.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn concurrent_payouts_never_exceed_a_daily_budget(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, admin) = app.merchant("10000").await;
    let ben = app.beneficiary(&admin).await;
    let (agent_id, agent) = agent_key(&app, merchant).await;
    set_mandate(
        &app,
        &admin,
        &agent_id,
        json!({ "asset": "USDC", "daily_budget": "250" }),
    )
    .await;
    let results = futures::future::join_all((0..12).map(|i| {
        let (app, agent, ben) = (&app, agent.clone(), ben.clone());
        async move {
            app.pay(&agent, &format!("c{i}"), payout_body(&format!("c{i}"), "50", &ben))
                .await
        }
    }))
    .await;
    let accepted: Vec<&Value> = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| &r.body)
        .collect();
    assert_eq!(accepted.len(), 5);
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        r.problem(StatusCode::FORBIDDEN, "mandate_daily_budget_exceeded");
    }
    assert_eq!(app.balances(merchant).await, ("9750".to_owned(), "250".to_owned()));

    let id = accepted[0]["id"].as_str().unwrap();
    let canceled = app
        .send(Method::POST, &format!("/v1/payouts/{id}/cancel"), &agent, None, None)
        .await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
    let again = app.pay(&agent, "d1", payout_body("d1", "50", &ben)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    app.pay(&agent, "d2", payout_body("d2", "0.01", &ben))
        .await
        .problem(StatusCode::FORBIDDEN, "mandate_daily_budget_exceeded");
}

fn quoted_payout(reference: &str, amount: &str, ben: &str, quote: &str) -> Value {
    json!({ "client_reference": reference, "amount": amount, "asset": "EURC", "chain_id": CHAIN,
            "beneficiary_id": ben, "purpose": "Invoice 7", "quote_id": quote })
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_quote_locks_rate_and_fee_and_pays_one_payout_before_it_expires(pool: PgPool) {
    let app = App::new(
        pool,
        &[
            ("CORRIDOR_PAYOUT_FEE_BPS", "25"),
            ("CORRIDOR_FX_RATES", "USDC/EURC=0.92"),
        ],
    )
    .await;
    let (merchant, key) = app.merchant("1000").await;
    let ben = app.beneficiary(&key).await;
    let quote = app
        .send(
            Method::POST,
            "/v1/quotes",
            &key,
            None,
            Some(json!({ "source_asset": "USDC", "target_asset": "EURC", "target_amount": "92" })),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.body);
    let q = &quote.body;
    assert_eq!(
        (&q["rate"], &q["source_amount"], &q["fee"], &q["total_debit"]),
        (
            &json!("0.92"),
            &json!("100.000000"),
            &json!("0.250000"),
            &json!("100.250000")
        )
    );
    let qid = q["id"].as_str().unwrap();

    app.pay(&key, "m1", quoted_payout("m1", "91", &ben, qid))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "quote_mismatch");
    let paid = app.pay(&key, "p1", quoted_payout("p1", "92", &ben, qid)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    assert_eq!(
        (&paid.body["asset"], &paid.body["debit_asset"], &paid.body["total"]),
        (&json!("EURC"), &json!("USDC"), &json!("100.250000"))
    );
    assert_eq!(app.balances(merchant).await, ("899.75".to_owned(), "100.25".to_owned()));
    let read = app
        .send(Method::GET, &format!("/v1/quotes/{qid}"), &key, None, None)
        .await;
    assert_eq!(read.body["payout_id"], paid.body["id"]);
    app.pay(&key, "p2", quoted_payout("p2", "92", &ben, qid))
        .await
        .problem(StatusCode::CONFLICT, "quote_already_used");

    // An expired quote: refused, nothing reserved.
    let late = app
        .send(
            Method::POST,
            "/v1/quotes",
            &key,
            None,
            Some(json!({ "source_asset": "USDC", "target_asset": "EURC", "source_amount": "10" })),
        )
        .await;
    assert_eq!(late.body["target_amount"], "9.200000");
    let late_id = late.body["id"].as_str().unwrap();
    sqlx::query("UPDATE payouts.quotes SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.pay(&key, "p3", quoted_payout("p3", "9.2", &ben, late_id))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "quote_expired");
    assert_eq!(app.balances(merchant).await, ("899.75".to_owned(), "100.25".to_owned()));

    // Another merchant cannot use or read the quote.
    let (_, other) = app.merchant("1000").await;
    let other_ben = app.beneficiary(&other).await;
    app.pay(&other, "x1", quoted_payout("x1", "9.2", &other_ben, late_id))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "quote_not_found");
    app.send(Method::GET, &format!("/v1/quotes/{late_id}"), &other, None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    for (body, code) in [
        (
            json!({ "source_asset": "EURC", "target_asset": "USDC", "source_amount": "1" }),
            "quote_unavailable",
        ),
        (
            json!({ "source_asset": "USDC", "target_asset": "USDC", "source_amount": "1" }),
            "quote_same_asset",
        ),
        (
            json!({ "source_asset": "USDC", "target_asset": "EURC" }),
            "quote_amount_required",
        ),
        (
            json!({ "source_asset": "USDC", "target_asset": "EURC", "target_amount": "1.0000001" }),
            "amount_too_precise",
        ),
        (
            json!({ "source_asset": "USDC", "target_asset": "EURC", "source_amount": "0.000001" }),
            "amount_too_small",
        ),
        (
            json!({ "source_asset": "XXX", "target_asset": "EURC", "source_amount": "1" }),
            "unknown_asset",
        ),
    ] {
        app.send(Method::POST, "/v1/quotes", &key, None, Some(body))
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}

fn sign_ownership(wallet: &PrivateKeySigner, merchant: MerchantId, chain: u64) -> String {
    let address = EvmAddress::from_alloy(wallet.address());
    let message = deposits::ownership_message(merchant, chain, &address);
    let signature = wallet.sign_message_sync(message.as_bytes()).unwrap();
    format!("0x{}", alloy::hex::encode(signature.as_bytes()))
}

async fn register(app: &App, key: &str, wallet: &PrivateKeySigner, chain: u64, signature: &str) -> common::Res {
    app.send(
        Method::POST,
        "/v1/funding-wallets",
        key,
        None,
        Some(json!({ "chain_id": chain, "address": format!("{:#x}", wallet.address()), "signature": signature })),
    )
    .await
}

async fn balance(app: &App, key: &str, asset: &str) -> (String, String) {
    let res = app.send(Method::GET, "/v1/balances", key, None, None).await;
    let row = res.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == asset)
        .cloned()
        .unwrap_or(json!({ "available": "0", "incoming": "0" }));
    let norm = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
            .normalize()
            .to_string()
    };
    (norm(&row["available"]), norm(&row["incoming"]))
}

/// A transfer from a registered wallet to the treasury is incoming at first sight and credited
/// at finality, once; a transfer whose block is orphaned first is taken back; transfers from
/// unregistered wallets are not anyone's.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn deposits_from_a_registered_wallet_are_incoming_then_credited_once_at_finality(pool: PgPool) {
    let chain = Chain::start().await;
    let app = App::with_registry(pool, &[], chain.registry()).await;
    let (merchant, key) = app.merchant("1").await;
    let local = chain::LOCAL;
    let wallet = chain.keys.buyer.clone();
    let treasury = chain.deployment.treasury;

    // Ownership must be proven, for this merchant and chain.
    let stranger = PrivateKeySigner::random();
    register(&app, &key, &wallet, local, &sign_ownership(&stranger, merchant, local))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    register(
        &app,
        &key,
        &wallet,
        local,
        &sign_ownership(&wallet, MerchantId::new(), local),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    register(&app, &key, &wallet, local, "0x1234")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    register(
        &app,
        &key,
        &wallet,
        999_999,
        &sign_ownership(&wallet, merchant, 999_999),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_chain");
    let good = sign_ownership(&wallet, merchant, local);
    let created = register(&app, &key, &wallet, local, &good).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(register(&app, &key, &wallet, local, &good).await.status, StatusCode::OK);
    let (other_merchant, other_key) = app.merchant("1").await;
    register(
        &app,
        &other_key,
        &wallet,
        local,
        &sign_ownership(&wallet, other_merchant, local),
    )
    .await
    .problem(StatusCode::CONFLICT, "funding_wallet_taken");

    let mut conn = app.pool.acquire().await.unwrap();
    corridor_chain::watcher::watch_contract(&mut conn, local, chain.deployment.usdc, "erc20")
        .await
        .unwrap();
    corridor_chain::watcher::watch_address(&mut conn, local, treasury, "treasury")
        .await
        .unwrap();
    drop(conn);
    let watcher = chain.watcher(&app.pool);
    watcher.tick().await.unwrap();
    let follow = || deposits::follow_deposits(&app.pool, app.state.registry(), 100);

    // 7 USDC from a wallet nobody registered, then 250 from the registered one.
    let unknown = PrivateKeySigner::random();
    chain
        .provider
        .anvil_set_balance(unknown.address(), U256::from(10u64).pow(U256::from(18u64)))
        .await
        .unwrap();
    chain
        .transfer(
            &wallet,
            chain.deployment.usdc,
            unknown.address(),
            U256::from(7_000_000u64),
        )
        .await;
    chain
        .transfer(&unknown, chain.deployment.usdc, treasury, U256::from(7_000_000u64))
        .await;
    chain
        .transfer(&wallet, chain.deployment.usdc, treasury, U256::from(250_000_000u64))
        .await;
    watcher.tick().await.unwrap();
    assert_eq!(
        follow().await.unwrap(),
        DepositReport {
            incoming: 1,
            credited: 0,
            reversed: 0
        }
    );
    assert_eq!(balance(&app, &key, "USDC").await, ("1".to_owned(), "250".to_owned()));
    assert_eq!(follow().await.unwrap(), DepositReport::default(), "seen once");

    chain.mine(chain::FINALITY_DEPTH).await;
    watcher.tick().await.unwrap();
    assert_eq!(follow().await.unwrap().credited, 1);
    assert_eq!(follow().await.unwrap(), DepositReport::default(), "credited once");
    assert_eq!(balance(&app, &key, "USDC").await, ("251".to_owned(), "0".to_owned()));
    let listed = app.send(Method::GET, "/v1/deposits", &key, None, None).await;
    assert_eq!(listed.body["data"][0]["status"], "credited", "{}", listed.body);
    assert_eq!(listed.body["data"][0]["amount"], "250.000000");

    // A deposit whose block is orphaned before finality is taken back from incoming.
    let snapshot = chain.provider.anvil_snapshot().await.unwrap();
    chain
        .transfer(&wallet, chain.deployment.usdc, treasury, U256::from(40_000_000u64))
        .await;
    watcher.tick().await.unwrap();
    assert_eq!(follow().await.unwrap().incoming, 1);
    assert_eq!(balance(&app, &key, "USDC").await, ("251".to_owned(), "40".to_owned()));
    assert!(chain.provider.anvil_revert(snapshot).await.unwrap());
    chain.mine(2).await;
    watcher.tick().await.unwrap();
    assert_eq!(follow().await.unwrap().reversed, 1);
    assert_eq!(balance(&app, &key, "USDC").await, ("251".to_owned(), "0".to_owned()));

    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM platform.outbox WHERE event_type LIKE 'deposit.%' ORDER BY seq")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        events,
        [
            "deposit.incoming",
            "deposit.credited",
            "deposit.incoming",
            "deposit.reversed"
        ]
    );
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(corridor_store::ledger::check(&mut conn).await.unwrap().is_consistent());
}
