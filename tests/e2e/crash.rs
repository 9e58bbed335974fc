//! Must-show 3 of the payouts issue: the gateway process is killed with SIGKILL at random
//! moments while payouts flow, and restarted. Every payout must end with exactly one transfer
//! on chain and one posting in the ledger; none is lost, none is paid twice.
//!
//! Real parts only: `corridor serve` as a child process, a real anvil mining a block a second,
//! the real contracts, and Postgres. Clients retry with the same Idempotency-Key, as the API
//! tells them to.

use alloy::{
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
};
use corridor_chain::{bindings::TestStablecoin, local};
use corridor_e2e::{Gateway, free_port, fresh_database, key_hex, local_chain, router_records, wait_ready};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

const DB: &str = "corridor_e2e_crash";
const PAYOUTS: usize = 40;
const KILLS: usize = 5;

fn recipient(i: usize) -> Address {
    Address::from_word(B256::from(U256::from(0x3000_0000u64 + i as u64)))
}

/// Creates payout `i`, retrying with the same key through crashes. Returns every 201 body seen.
async fn create_payout(http: &reqwest::Client, base: &str, key: &str, i: usize) -> Vec<Value> {
    let body = json!({
        "client_reference": format!("crash-{i}"), "amount": format!("{}.25", 1 + i), "asset": "USDC",
        "chain_id": local::LOCAL_CHAIN_ID, "purpose": "Contractor invoice",
        "beneficiary": { "kind": "individual", "name": "Ana Souza", "country": "BR",
                         "chain_id": local::LOCAL_CHAIN_ID, "address": format!("{:#x}", recipient(i)) } });
    let mut answers = Vec::new();
    // Bounded: a crash costs at most a restart plus one idempotency lease.
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        let sent = http
            .post(format!("{base}/v1/payouts"))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("crash-key-{i}"))
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 201 => {
                answers.push(r.json().await.unwrap_or(Value::Null));
                if answers.len() == 2 {
                    return answers;
                }
                // Ask once more: a replay must give the same payout.
            }
            Ok(r) if r.status() == 409 || r.status().is_server_error() => {
                // 409 request_in_progress: a crashed attempt holds the key until its lease ends.
            }
            Ok(r) => panic!(
                "payout {i}: unexpected {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) => {} // the gateway is down; it will be back
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("payout {i} was not accepted within the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payouts_survive_sigkill_at_random_moments_each_paid_once_on_chain_and_posted_once() {
    let (anvil, keys, deployment) = local_chain().await;

    fresh_database(DB).await;

    let port = free_port();
    let env = [
        (
            "CORRIDOR_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{DB}"),
        ),
        ("CORRIDOR_LISTEN_ADDR", format!("127.0.0.1:{port}")),
        ("CORRIDOR_CHAIN_RPC_URL", anvil.endpoint()),
        ("CORRIDOR_CHAIN_ID", local::LOCAL_CHAIN_ID.to_string()),
        ("CORRIDOR_CHAIN_FINALITY", "2".into()),
        ("CORRIDOR_CHAIN_SUBMITTER_KEY", key_hex(&keys.submitter)),
        ("CORRIDOR_COMPLIANCE_SIGNER_KEY", key_hex(&keys.compliance)),
        (
            "CORRIDOR_CHAIN_PAYOUT_ROUTER",
            format!("{:#x}", deployment.payout_router),
        ),
        ("CORRIDOR_CHAIN_TOKENS", format!("USDC={:#x}", deployment.usdc)),
        // A crashed request's key is free again soon, so retries do not wait long.
        ("CORRIDOR_REQUEST_TIMEOUT_MS", "3000".into()),
        ("CORRIDOR_IDEMPOTENCY_LEASE_SECS", "4".into()),
    ];
    let mut gw = Gateway {
        env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        port,
        child: None,
    };
    gw.run(&["migrate"]);
    let merchant = gw.run(&["merchant", "create", "--name", "Crash Test GmbH"]);
    let key = gw.run(&["api-key", "create", "--merchant", &merchant]);
    let http = reqwest::Client::new();
    gw.start();
    wait_ready(&http, &gw.base()).await;
    let credit = http
        .post(format!("{}/v1/sandbox/credits", gw.base()))
        .bearer_auth(&key)
        .header("Idempotency-Key", "crash-funding")
        .json(&json!({ "asset": "USDC", "amount": "100000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(credit.status(), 201, "{}", credit.text().await.unwrap_or_default());

    // Clients: payouts in flight the whole time, each retried with its key until accepted.
    let base = gw.base();
    let clients: Vec<_> = (0..PAYOUTS)
        .map(|i| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            tokio::spawn(async move {
                // Spread the payouts over the kills.
                tokio::time::sleep(Duration::from_millis(150 * i as u64)).await;
                (i, create_payout(&http, &base, &key, i).await)
            })
        })
        .collect();

    // The killer: SIGKILL at random moments, restart at once.
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("crash test seed {seed} (CRASH_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1800))).await;
        gw.kill();
        gw.start();
        wait_ready(&http, &gw.base()).await;
    }

    let mut ids = HashMap::new();
    for c in clients {
        let (i, answers) = c.await.unwrap();
        let first = &answers[0]["id"];
        assert!(
            answers.iter().all(|a| &a["id"] == first),
            "payout {i}: replays differ: {answers:?}"
        );
        ids.insert(i, first.as_str().unwrap().to_owned());
    }

    // Now let it finish; one more kill in the middle of settling.
    let mut db = PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{DB}"))
        .await
        .unwrap();
    let mut killed_while_settling = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts.payouts WHERE status <> 'completed'")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        let failed: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT client_reference, failure_reason FROM payouts.payouts WHERE status = 'failed'")
                .fetch_all(&mut db)
                .await
                .unwrap();
        assert!(failed.is_empty(), "no payout may fail here: {failed:?}");
        let submitted: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts.payouts WHERE status = 'submitted'")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if submitted > 0 && !killed_while_settling {
            gw.kill();
            gw.start();
            killed_while_settling = true;
        }
        assert!(Instant::now() < deadline, "{open} payouts did not complete in time");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    gw.kill();

    // Exactly once, in Postgres.
    let payouts: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts.payouts")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(payouts, PAYOUTS as i64, "one payout per idempotency key");
    let posted: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_posted'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(posted, PAYOUTS as i64, "one ledger posting per payout");
    let voided: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger.entries WHERE kind = 'hold_voided'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(voided, 0);
    let check = gw.run(&["ledger", "check"]);
    assert!(check.contains("consistent"), "{check}");

    // Exactly once, on chain: each recipient holds its amount, and the router emitted one
    // PayoutExecuted per payout id.
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let usdc = TestStablecoin::new(deployment.usdc, &provider);
    for i in 0..PAYOUTS {
        let expected = U256::from((1 + i as u64) * 1_000_000 + 250_000);
        assert_eq!(
            usdc.balanceOf(recipient(i)).call().await.unwrap(),
            expected,
            "recipient {i}"
        );
    }
    let per_payout = router_records(anvil.endpoint_url(), deployment.payout_router).await;
    assert_eq!(per_payout.len(), PAYOUTS, "one on-chain payout record per payout");
    assert!(
        per_payout.values().all(|n| *n == 1),
        "no payout id paid twice: {per_payout:?}"
    );
    for id in ids.values() {
        let uuid = id.strip_prefix("po_").unwrap();
        let bytes: [u8; 16] = alloy::hex::decode(uuid).unwrap().try_into().unwrap();
        assert_eq!(per_payout.get(&bytes), Some(&1), "payout {id} on chain once");
    }
    assert_eq!(ids.len(), PAYOUTS);
}
