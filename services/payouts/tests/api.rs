//! Payouts over HTTP through the real router and a real Postgres database per test.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use corridor_store::ledger;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_payout_reserves_amount_plus_fee_and_records_its_event_and_timeline(pool: PgPool) {
    let app = App::new(
        pool,
        &[("CORRIDOR_PAYOUT_FEE_BPS", "25"), ("CORRIDOR_PAYOUT_FEE_FIXED", "0.5")],
    )
    .await;
    let (merchant, key) = app.merchant("1000").await;
    let ben = app.beneficiary(&key).await;
    let res = app.pay(&key, "k1", payout_body("inv-42", "200", &ben)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // 0.25 % of 200 = 0.5, plus 0.5 fixed.
    assert_eq!(
        (res.body["amount"].as_str(), res.body["fee"].as_str()),
        (Some("200.000000"), Some("1.000000"))
    );
    assert_eq!(res.body["status"], "pending_screening");
    assert_eq!(res.body["recipient"], ADDRESS);
    assert_eq!(app.balances(merchant).await, ("799".to_owned(), "201".to_owned()));
    assert_eq!(
        app.count("SELECT count(*) FROM platform.outbox WHERE event_type = 'payout.created'")
            .await,
        1
    );

    let id = res.body["id"].as_str().unwrap();
    let read = app
        .send(Method::GET, &format!("/v1/payouts/{id}"), &key, None, None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["timeline"][0]["status"], "pending_screening");
    assert_eq!(read.body["total"], "201.000000");
    let list = app
        .send(Method::GET, "/v1/payouts?status=pending_screening", &key, None, None)
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let none = app
        .send(Method::GET, "/v1/payouts?status=completed", &key, None, None)
        .await;
    assert_eq!(none.body["data"].as_array().unwrap().len(), 0);

    // Another merchant sees neither the payout nor the beneficiary.
    let (_, other) = app.merchant("10").await;
    app.send(Method::GET, &format!("/v1/payouts/{id}"), &other, None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.send(Method::GET, &format!("/v1/beneficiaries/{ben}"), &other, None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.pay(&other, "o1", payout_body("x", "1", &ben))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "beneficiary_not_found");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_input_is_a_clear_problem_and_reserves_nothing(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let entries_before = app.count("SELECT count(*) FROM ledger.entries").await;
    let cases: Vec<(Value, &str)> = vec![
        (payout_body("r", "1.0000001", &ben), "amount_too_precise"),
        (payout_body("r", "0", &ben), "amount_not_positive"),
        (payout_body("r", "-5", &ben), "invalid_amount"),
        (payout_body("r", "ten", &ben), "invalid_amount"),
        (payout_body("r", "101", &ben), "insufficient_funds"),
        (payout_body("r", "1", "ben_nope"), "beneficiary_not_found"),
        (
            payout_body("r", "1", "ben_0190aaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "beneficiary_not_found",
        ),
        (payout_body("", "1", &ben), "invalid_client_reference"),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "DOGE", "chain_id": CHAIN, "beneficiary_id": ben, "purpose": "p" }),
            "unknown_asset",
        ),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "EURC", "chain_id": 42161, "beneficiary_id": ben, "purpose": "p" }),
            "unsupported_chain",
        ),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "USDC", "chain_id": CHAIN, "purpose": "p" }),
            "beneficiary_required",
        ),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "USDC", "chain_id": CHAIN, "beneficiary_id": ben, "purpose": "p", "quote_id": "q_1" }),
            "quote_not_found",
        ),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "USDC", "chain_id": CHAIN, "purpose": "p",
                 "beneficiary": beneficiary_body("0x52908400098527886E0F7030069857D2E4169Ee7") }),
            "invalid_address",
        ),
        (
            json!({ "client_reference": "r", "amount": "1", "asset": "USDC", "chain_id": 137, "beneficiary_id": ben, "purpose": "p" }),
            "beneficiary_chain_mismatch",
        ),
    ];
    for (i, (body, code)) in cases.into_iter().enumerate() {
        let res = app.pay(&key, &format!("bad-{i}"), body).await;
        assert!(res.status.is_client_error(), "case {i}: {}", res.body);
        assert_eq!(res.body["code"], code, "case {i}: {}", res.body);
    }
    let unknown_field = app
        .pay(&key, "bad-x", json!({ "client_reference": "r", "amount": "1", "asset": "USDC", "chain_id": CHAIN, "beneficiary_id": ben, "purpose": "p", "memo": 1 }))
        .await;
    assert!(unknown_field.status.is_client_error());
    app.send(
        Method::POST,
        "/v1/payouts",
        &key,
        None,
        Some(payout_body("r", "1", &ben)),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "idempotency_key_missing");
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries").await,
        entries_before,
        "nothing reserved"
    );
    assert_eq!(app.count("SELECT count(*) FROM payouts.payouts").await, 0);
    assert_eq!(app.balances(merchant).await, ("100".to_owned(), "0".to_owned()));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn addresses_are_checked_and_a_new_one_waits_out_its_cooling_off(pool: PgPool) {
    let app = App::new(pool, &[("CORRIDOR_PAYOUT_COOLING_OFF_SECS", "3600")]).await;
    let (_, key) = app.merchant("100").await;
    let post = |body: Value| app.send(Method::POST, "/v1/beneficiaries", &key, None, Some(body));
    post(beneficiary_body("0x52908400098527886E0F7030069857D2E4169Ee7"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_address");
    post(beneficiary_body("0x5290840009852788"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_address");
    post(beneficiary_body("0x0000000000000000000000000000000000000000"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_address");
    post(json!({ "kind": "business", "name": "X", "country": "NG", "chain_id": 999999, "address": ADDRESS }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_chain");
    post(json!({ "kind": "business", "name": "X", "country": "nigeria", "chain_id": CHAIN, "address": ADDRESS }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_country");
    let lower = post(beneficiary_body(&ADDRESS.to_lowercase())).await;
    assert_eq!(lower.status, StatusCode::CREATED);
    assert_eq!(lower.body["address"], ADDRESS, "stored once, shown checksummed");

    let ben = lower.body["id"].as_str().unwrap();
    app.pay(&key, "k", payout_body("r", "1", ben))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "beneficiary_cooling_off");
    assert_eq!(app.count("SELECT count(*) FROM ledger.holds").await, 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_client_reference_pays_once_even_under_a_new_idempotency_key(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let first = app.pay(&key, "k1", payout_body("inv-7", "10", &ben)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = app.pay(&key, "k1", payout_body("inv-7", "10", &ben)).await;
    assert_eq!(replay.body, first.body, "same key, same response");
    app.pay(&key, "k2", payout_body("inv-7", "10", &ben))
        .await
        .problem(StatusCode::CONFLICT, "duplicate_client_reference");
    assert_eq!(app.balances(merchant).await, ("90".to_owned(), "10".to_owned()));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn two_hundred_concurrent_payouts_on_a_balance_for_one_hundred(pool: PgPool) {
    let app = std::sync::Arc::new(App::new(pool, &[]).await);
    let (merchant, key) = app.merchant("1000").await;
    let ben = app.beneficiary(&key).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (app, key, ben) = (app.clone(), key.clone(), ben.clone());
            tokio::spawn(async move {
                app.pay(&key, &format!("c{i}"), payout_body(&format!("r{i}"), "10", &ben))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in futures::future::join_all(tasks).await {
        let res = t.unwrap();
        match res.status {
            StatusCode::CREATED => created += 1,
            _ => {
                res.problem(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (100, 100));
    assert_eq!(app.balances(merchant).await, ("0".to_owned(), "1000".to_owned()));
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn canceling_releases_the_hold_exactly_once(pool: PgPool) {
    let app = std::sync::Arc::new(App::new(pool, &[("CORRIDOR_PAYOUT_FEE_FIXED", "1")]).await);
    let (merchant, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let res = app.pay(&key, "k", payout_body("r", "10", &ben)).await;
    let id = res.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.balances(merchant).await, ("89".to_owned(), "11".to_owned()));

    // Ten cancels at once: one voids the hold, the others see it canceled.
    let path = format!("/v1/payouts/{id}/cancel");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, key, path) = (app.clone(), key.clone(), path.clone());
            tokio::spawn(async move { app.send(Method::POST, &path, &key, None, None).await })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        let res = t.unwrap();
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["status"], "canceled");
    }
    assert_eq!(app.balances(merchant).await, ("100".to_owned(), "0".to_owned()));
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_voided'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM platform.outbox WHERE event_type = 'payout.canceled'")
            .await,
        1
    );
    let read = app
        .send(Method::GET, &format!("/v1/payouts/{id}"), &key, None, None)
        .await;
    let statuses: Vec<&str> = read.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending_screening", "canceled"]);

    // A payout already on its way to the chain cannot be canceled.
    let res = app.pay(&key, "k2", payout_body("r2", "5", &ben)).await;
    let id2 = res.body["id"].as_str().unwrap();
    sqlx::query("UPDATE payouts.payouts SET status = 'submitted' WHERE id = $1")
        .bind(corridor_domain::ids::PayoutId::parse(id2).unwrap().as_uuid())
        .execute(&app.pool)
        .await
        .unwrap();
    app.send(Method::POST, &format!("/v1/payouts/{id2}/cancel"), &key, None, None)
        .await
        .problem(StatusCode::CONFLICT, "payout_not_cancelable");
    assert_eq!(app.balances(merchant).await, ("94".to_owned(), "6".to_owned()));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_batch_with_bad_items_reports_each_by_index_and_creates_none_unless_partial(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let good = |i: usize| payout_body(&format!("b-{i}"), "10", &ben);
    let mut too_precise = good(1);
    too_precise["amount"] = json!("1.0000001");
    let mut unknown_asset = good(3);
    unknown_asset["asset"] = json!("DOGE");
    let items = vec![good(0), too_precise, good(2), unknown_asset, good(2)];

    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("b1"),
            Some(json!({ "items": items.clone() })),
        )
        .await;
    res.problem(StatusCode::UNPROCESSABLE_ENTITY, "batch_items_invalid");
    let pointers: Vec<(&str, &str)> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(pointers[0].0, "/items/1");
    assert_eq!(pointers[1].0, "/items/3");
    assert_eq!(pointers[2], ("/items/4", "duplicate_client_reference"));
    assert_eq!(app.count("SELECT count(*) FROM payouts.payouts").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM payouts.batches").await, 0);
    assert_eq!(app.balances(merchant).await, ("100".to_owned(), "0".to_owned()));

    // With partial acceptance the two good items are created and the others reported.
    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("b2"),
            Some(json!({ "items": items, "partial": true })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(
        (res.body["item_count"].as_u64(), res.body["accepted"].as_u64()),
        (Some(5), Some(2))
    );
    let batch = res.body["id"].as_str().unwrap();
    let read = app
        .send(Method::GET, &format!("/v1/payout-batches/{batch}"), &key, None, None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let shape: Vec<(u64, bool)> = read.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["index"].as_u64().unwrap(), i["payout"].is_object()))
        .collect();
    assert_eq!(shape, [(0, true), (1, false), (2, true), (3, false), (4, false)]);
    assert_eq!(read.body["items"][1]["error"]["code"], "amount_too_precise");
    assert_eq!(read.body["items"][2]["payout"]["batch"]["index"], 2);
    assert_eq!(app.balances(merchant).await, ("80".to_owned(), "20".to_owned()));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_batch_that_overdraws_creates_nothing_and_a_partial_one_stops_at_the_balance(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, key) = app.merchant("25").await;
    let ben = app.beneficiary(&key).await;
    let items: Vec<Value> = (0..4).map(|i| payout_body(&format!("o-{i}"), "10", &ben)).collect();
    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("o1"),
            Some(json!({ "items": items.clone() })),
        )
        .await;
    res.problem(StatusCode::UNPROCESSABLE_ENTITY, "batch_items_invalid");
    let codes: Vec<(&str, &str)> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [("/items/2", "insufficient_funds"), ("/items/3", "insufficient_funds")]
    );
    assert_eq!(app.balances(merchant).await, ("25".to_owned(), "0".to_owned()));
    assert_eq!(app.count("SELECT count(*) FROM ledger.holds").await, 0);

    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("o2"),
            Some(json!({ "items": items, "partial": true })),
        )
        .await;
    assert_eq!(res.body["accepted"], 2, "{}", res.body);
    assert_eq!(app.balances(merchant).await, ("5".to_owned(), "20".to_owned()));
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_batch_is_1_to_1000_items(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (_, key) = app.merchant("25").await;
    let ben = app.beneficiary(&key).await;
    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("e"),
            Some(json!({ "items": [] })),
        )
        .await;
    res.problem(StatusCode::UNPROCESSABLE_ENTITY, "batch_size_invalid");
    let items: Vec<Value> = (0..1001).map(|i| payout_body(&format!("x-{i}"), "1", &ben)).collect();
    let res = app
        .send(
            Method::POST,
            "/v1/payout-batches",
            &key,
            Some("big"),
            Some(json!({ "items": items })),
        )
        .await;
    res.problem(StatusCode::UNPROCESSABLE_ENTITY, "batch_size_invalid");
    assert_eq!(app.count("SELECT count(*) FROM payouts.payouts").await, 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn only_compliance_staff_review_and_a_rejection_releases_the_hold(pool: PgPool) {
    use corridor_platform::auth::Role;
    let app = App::new(pool, &[("CORRIDOR_PAYOUT_REVIEW_THRESHOLD", "50")]).await;
    let (merchant, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let res = app.pay(&key, "r1", payout_body("r-1", "60", &ben)).await;
    let id = res.body["id"].as_str().unwrap().to_owned();
    let screened = app.screen().await;
    assert_eq!(screened.held, 1);
    let path = format!("/v1/compliance/payout-reviews/{id}");
    let treasury = app.console_user(Role::Treasury).await;
    app.send(
        Method::POST,
        &path,
        &treasury,
        None,
        Some(json!({ "decision": "approve", "reason": "ok" })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "forbidden_role");
    let officer = app.console_user(Role::ComplianceOfficer).await;
    app.send(
        Method::POST,
        &path,
        &officer,
        None,
        Some(json!({ "decision": "reject", "reason": " " })),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    let body = json!({ "decision": "reject", "reason": "beneficiary not verifiable" });
    let res = app.send(Method::POST, &path, &officer, None, Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["payout"]["status"], "rejected");
    assert_eq!(res.body["payout"]["failure"]["code"], "rejected_by_compliance");
    assert_eq!(res.body["approvals_missing"], 0);
    assert_eq!(app.balances(merchant).await, ("100".to_owned(), "0".to_owned()));
    let decisions: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.decision, r.decision FROM payouts.screenings s JOIN payouts.reviews r USING (payout_id)",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(decisions, [("held".to_owned(), "rejected".to_owned())]);
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT action, subject FROM platform.audit_log WHERE action = 'payout.review_decided'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        [("payout.review_decided".to_owned(), id.clone())],
        "one audit row per decision"
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_held_payout_needs_two_distinct_approvers_and_one_rejection_stops_it(pool: PgPool) {
    use corridor_platform::auth::Role;
    let app = App::new(pool, &[("CORRIDOR_PAYOUT_REVIEW_THRESHOLD", "50")]).await;
    let (merchant, key) = app.merchant("1000").await;
    let ben = app.beneficiary(&key).await;
    let first = app.pay(&key, "r1", payout_body("r-1", "60", &ben)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.pay(&key, "r2", payout_body("r-2", "70", &ben)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.screen().await.held, 2);
    let (alice, bob, carol) = (
        app.console_user(Role::ComplianceOfficer).await,
        app.console_user(Role::ComplianceOfficer).await,
        app.console_user(Role::ComplianceLead).await,
    );
    let approve = || Some(json!({ "decision": "approve", "reason": "contract and invoice seen" }));
    let path = format!("/v1/compliance/payout-reviews/{first}");

    // One approval records the vote; the payout stays held and says what is still needed.
    let res = app.send(Method::POST, &path, &alice, None, approve()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["payout"]["status"], "held");
    assert_eq!(
        (
            res.body["approvals_required"].clone(),
            res.body["approvals_missing"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(res.body["approvals"][0]["reason"], "contract and invoice seen");
    // The same person cannot be the second pair of eyes.
    app.send(Method::POST, &path, &alice, None, approve())
        .await
        .problem(StatusCode::CONFLICT, "four_eyes_same_reviewer");
    let read = app.send(Method::GET, &path, &bob, None, None).await;
    assert_eq!(
        (
            read.body["payout"]["status"].clone(),
            read.body["approvals_missing"].clone()
        ),
        (json!("held"), json!(1))
    );
    // The case and the queue carry the timeline, which says why each payout was held.
    let held_for = |payout: &serde_json::Value| payout["timeline"].to_string().contains("amount_review_threshold");
    assert!(held_for(&read.body["payout"]), "{}", read.body);
    let queue = app
        .send(Method::GET, "/v1/compliance/payout-reviews", &bob, None, None)
        .await;
    assert_eq!(queue.body["data"].as_array().unwrap().len(), 2, "{}", queue.body);
    assert!(
        queue.body["data"].as_array().unwrap().iter().all(held_for),
        "{}",
        queue.body
    );

    // A second, different reviewer approves it.
    let res = app.send(Method::POST, &path, &bob, None, approve()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["payout"]["status"], "approved");
    assert_eq!(res.body["approvals"].as_array().unwrap().len(), 2);
    app.send(Method::POST, &path, &carol, None, approve())
        .await
        .problem(StatusCode::CONFLICT, "payout_not_held");
    let approvers: serde_json::Value = sqlx::query_scalar(
        "SELECT detail->'approvers' FROM payouts.timeline WHERE payout_id = $1 AND status = 'approved'",
    )
    .bind(corridor_domain::ids::PayoutId::parse(&first).unwrap().as_uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        approvers.as_array().unwrap().len(),
        2,
        "the decision names both approvers"
    );

    // An approval followed by one rejection: rejected, funds released.
    let path = format!("/v1/compliance/payout-reviews/{second}");
    app.send(Method::POST, &path, &alice, None, approve()).await;
    let res = app
        .send(
            Method::POST,
            &path,
            &carol,
            None,
            Some(json!({ "decision": "reject", "reason": "beneficiary unknown" })),
        )
        .await;
    assert_eq!(res.body["payout"]["status"], "rejected", "{}", res.body);
    assert_eq!(app.balances(merchant).await, ("940".to_owned(), "60".to_owned()));

    // Approvals are append-only, and every vote and decision is audited.
    let changed = sqlx::query("DELETE FROM payouts.review_approvals")
        .execute(&app.pool)
        .await;
    assert!(changed.is_err(), "approvals cannot be deleted");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM platform.audit_log WHERE action IN ('payout.review_approval_recorded', 'payout.review_decided')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 5, "three approvals and two decisions");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn payouts_export_as_csv_with_filters_and_defused_formulas(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (_, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let mut risky = payout_body("csv-1", "10", &ben);
    risky["purpose"] = json!("=HYPERLINK(\"http://x\"), invoice 7");
    assert_eq!(app.pay(&key, "c1", risky).await.status, StatusCode::CREATED);
    let second = app.pay(&key, "c2", payout_body("csv-2", "5.5", &ben)).await;
    let id = second.body["id"].as_str().unwrap();
    app.send(Method::POST, &format!("/v1/payouts/{id}/cancel"), &key, None, None)
        .await;

    let (status, content_type, body) = app.get_text("/v1/payouts/export.csv", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("id,client_reference,status,amount,fee,asset"));
    assert!(lines[1].contains(",csv-1,pending_screening,10.000000,"), "{}", lines[1]);
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://x\"\"), invoice 7\""),
        "a formula is defused and quoted: {}",
        lines[1]
    );
    let (_, _, canceled) = app.get_text("/v1/payouts/export.csv?status=canceled", &key).await;
    assert_eq!(canceled.split("\r\n").filter(|l| !l.is_empty()).count(), 2);
    assert!(canceled.contains(",csv-2,canceled,"));
    let (status, _, _) = app
        .get_text(
            "/v1/payouts/export.csv?created_after=2030-01-01T00:00:00Z&created_before=2029-01-01T00:00:00Z",
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Every payout waits for the compliance service's sanctions finding (fail closed); a listed
/// recipient address is rejected with the hold released, a listed name is held for review, and
/// the evidence (hit, list version) is in the decision whose hash goes on chain.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn sanctions_screening_blocks_listed_addresses_holds_listed_names_and_nothing_moves_without_it(pool: PgPool) {
    let app = App::new(pool, &[]).await;
    let (merchant, key) = app.merchant("100").await;
    let clean = app.beneficiary(&key).await;
    let listed_address = app
        .send(
            Method::POST,
            "/v1/beneficiaries",
            &key,
            None,
            Some(beneficiary_body(LISTED_ADDRESS)),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut named = beneficiary_body("0x0000000000000000000000000000000000000d0d");
    named["name"] = json!("Lazarus Grup");
    let listed_name = app
        .send(Method::POST, "/v1/beneficiaries", &key, None, Some(named))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for (i, ben) in [&clean, &listed_address, &listed_name].into_iter().enumerate() {
        let res = app
            .pay(&key, &format!("s{i}"), payout_body(&format!("s-{i}"), "10", ben))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        ids.push(res.body["id"].as_str().unwrap().to_owned());
    }

    // Without the compliance finding the payouts step decides nothing.
    let state = &app.state;
    let alone = corridor_payouts::screening::screen_pending(&app.pool, &state.config().payouts, state.registry(), 10)
        .await
        .unwrap();
    assert_eq!((alone.cleared, alone.held, alone.blocked), (0, 0, 0));

    let report = app.screen().await;
    assert_eq!((report.cleared, report.held, report.blocked), (1, 1, 1));
    let view = |id: String| {
        let app = &app;
        let key = key.clone();
        async move {
            app.send(Method::GET, &format!("/v1/payouts/{id}"), &key, None, None)
                .await
                .body
        }
    };
    assert_eq!(view(ids[0].clone()).await["status"], "cleared");
    let blocked = view(ids[1].clone()).await;
    assert_eq!(blocked["status"], "rejected", "{blocked}");
    assert_eq!(blocked["failure"]["code"], "sanctions_blocked");
    let screened = &blocked["timeline"][1]["detail"];
    assert_eq!(screened["reasons"][0]["rule"], "sanctions_address");
    assert_eq!(
        screened["reasons"][0]["evidence"]["findings"][0]["name"],
        "LAZARUS GROUP"
    );
    assert_eq!(
        screened["reasons"][0]["evidence"]["list_versions"][0]["source"],
        "ofac_sdn"
    );
    let held = view(ids[2].clone()).await;
    assert_eq!(held["status"], "held", "{held}");
    assert_eq!(held["timeline"][1]["detail"]["reasons"][0]["rule"], "sanctions_review");
    // The blocked payout's hold is released; the other two stay reserved.
    assert_eq!(app.balances(merchant).await, ("80".to_owned(), "20".to_owned()));
}

/// Stale lists hold everything: a list not confirmed current within the configured age holds a
/// clean payout for review; importing the same files again confirms it and the next one clears.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn stale_sanctions_lists_hold_every_payout_until_confirmed_current(pool: PgPool) {
    let app = App::new(pool, &[("CORRIDOR_SANCTIONS_MAX_AGE_HOURS", "24")]).await;
    let (_, key) = app.merchant("100").await;
    let ben = app.beneficiary(&key).await;
    let list = [("sdn.csv", TEST_SDN.as_bytes())];
    corridor_compliance::versions::import(&app.pool, "ofac_sdn", &list, None, "test")
        .await
        .unwrap();
    sqlx::query("UPDATE compliance.list_versions SET confirmed_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let first = app.pay(&key, "st1", payout_body("st-1", "10", &ben)).await;
    let cache = corridor_compliance::api::ListCache::default();
    let max_age = app.state.config().compliance.sanctions_max_age;
    let state = &app.state;
    let decide = || async {
        corridor_compliance::payout_screening::screen_pending(&app.pool, &cache, max_age, 10)
            .await
            .unwrap();
        corridor_payouts::screening::screen_pending(&app.pool, &state.config().payouts, state.registry(), 10)
            .await
            .unwrap()
    };
    assert_eq!(decide().await.held, 1);
    let id = first.body["id"].as_str().unwrap();
    let view = app
        .send(Method::GET, &format!("/v1/payouts/{id}"), &key, None, None)
        .await
        .body;
    let reason = &view["timeline"][1]["detail"]["reasons"][0];
    assert_eq!(reason["rule"], "sanctions_review", "{view}");
    assert_eq!(reason["evidence"]["findings"][0]["check"], "lists");

    // The publisher had nothing new: the same files confirm the list current.
    let again = corridor_compliance::versions::import(&app.pool, "ofac_sdn", &list, None, "test")
        .await
        .unwrap();
    assert!(!again.created);
    app.pay(&key, "st2", payout_body("st-2", "10", &ben)).await;
    assert_eq!(decide().await.cleared, 1);
}

/// A held case is claimed by the officer working it; another officer takes it over only by
/// saying so; a claim does not lock out approvals; decided payouts are not claimed. Audited.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn an_officer_claims_a_held_case_and_taking_it_over_is_explicit(pool: PgPool) {
    use corridor_platform::auth::Role;
    let app = App::new(pool, &[("CORRIDOR_PAYOUT_REVIEW_THRESHOLD", "50")]).await;
    let (_, key) = app.merchant("1000").await;
    let ben = app.beneficiary(&key).await;
    let id = app.pay(&key, "c1", payout_body("c-1", "60", &ben)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.screen().await.held, 1);
    let (alice, bob) = (
        app.console_user(Role::ComplianceOfficer).await,
        app.console_user(Role::ComplianceOfficer).await,
    );
    let claim = format!("/v1/compliance/payout-reviews/{id}/claim");
    let review = format!("/v1/compliance/payout-reviews/{id}");

    let first = app.send(Method::POST, &claim, &alice, None, Some(json!({}))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let alice_id = first.body["claim"]["claimed_by"].clone();
    assert!(alice_id.is_string(), "{}", first.body);
    let again = app.send(Method::POST, &claim, &alice, None, Some(json!({}))).await;
    assert_eq!(again.status, StatusCode::OK, "claiming one's own case again is fine");
    app.send(Method::POST, &claim, &bob, None, Some(json!({})))
        .await
        .problem(StatusCode::CONFLICT, "claimed_by_other");
    let read = app.send(Method::GET, &review, &bob, None, None).await;
    assert_eq!(
        read.body["claim"]["claimed_by"], alice_id,
        "the refused claim changed nothing"
    );
    let taken = app
        .send(Method::POST, &claim, &bob, None, Some(json!({ "take_over": true })))
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
    assert_ne!(taken.body["claim"]["claimed_by"], alice_id);
    // Not a lock: the first officer may still approve.
    let approved = app
        .send(
            Method::POST,
            &review,
            &alice,
            None,
            Some(json!({ "decision": "approve", "reason": "ok" })),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["claim"]["claimed_by"], taken.body["claim"]["claimed_by"]);
    // A merchant's key is not a compliance session.
    let merchant = app.send(Method::POST, &claim, &key, None, Some(json!({}))).await;
    assert!(merchant.status == StatusCode::UNAUTHORIZED || merchant.status == StatusCode::FORBIDDEN);
    // Decided: not claimable any more.
    app.send(
        Method::POST,
        &review,
        &bob,
        None,
        Some(json!({ "decision": "reject", "reason": "no" })),
    )
    .await;
    app.send(Method::POST, &claim, &bob, None, Some(json!({})))
        .await
        .problem(StatusCode::CONFLICT, "payout_not_held");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.audit_log WHERE action = 'payout.review_claimed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 3, "each successful claim is audited, the refused one is not");
}
