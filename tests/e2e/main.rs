//! Drives the real binary: `corridor dev` brings up Postgres, anvil, contracts and demo data,
//! serves the API, and stops everything on Ctrl-C.

use corridor_e2e::{DevStack, free_port};
use std::process::Command;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn anvil_children(pid: u32) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-P", &pid.to_string(), "anvil"])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_command_serves_a_funded_demo_merchant_and_ctrl_c_stops_everything() {
    let stack = tokio::task::spawn_blocking(|| DevStack::start("corridor_e2e_dev", free_port()))
        .await
        .unwrap();
    let key = stack.printed("API key");
    assert!(key.starts_with("cor_sk_"), "{key}");
    let http = client();

    let balances: serde_json::Value = http
        .get(format!("{}/v1/balances", stack.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usdc = balances["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USDC")
        .expect("a USDC balance");
    assert_eq!(usdc["available"], "10000.000000");

    // A payout from the demo balance is screened, attested, sent and final on the local chain
    // by the services running in this one process.
    let created = http
        .post(format!("{}/v1/payouts", stack.base_url))
        .bearer_auth(&key)
        .header("Idempotency-Key", "e2e-payout-1")
        .json(&serde_json::json!({
            "client_reference": "e2e-1", "amount": "12.34", "asset": "USDC", "chain_id": 31337,
            "purpose": "Contractor invoice 7",
            "beneficiary": { "kind": "individual", "name": "Ana Souza", "country": "BR", "chain_id": 31337,
                             "address": "0x00000000000000000000000000000000000e2e01" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let url = format!("{}/v1/payouts/{}", stack.base_url, created["id"].as_str().unwrap());
    // Polls an external process for an outcome, with a deadline (one-second blocks, depth 2).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let payout = loop {
        let p: serde_json::Value = http
            .get(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["status"] == "completed" || p["status"] == "failed" || std::time::Instant::now() > deadline {
            break p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(payout["status"], "completed", "{payout}");
    assert_eq!(payout["tx_hash"].as_str().map(str::len), Some(66), "{payout}");

    let ready = http.get(format!("{}/readyz", stack.base_url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"][1]["name"], "chain:31337", "{ready}");

    // A console user printed by dev can log in with the printed password.
    let line = stack.output.iter().find(|l| l.contains("password for all:")).unwrap();
    let password = line.rsplit(' ').next().unwrap();
    let login = http
        .post(format!("{}/v1/console/sessions", stack.base_url))
        .json(&serde_json::json!({"email": "officer1@corridor.local", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);

    let openapi: serde_json::Value = http
        .get(format!("{}/openapi.json", stack.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");

    let anvils = anvil_children(stack.pid());
    assert_eq!(anvils.len(), 1, "dev runs one anvil");
    let status = tokio::task::spawn_blocking(move || stack.interrupt()).await.unwrap();
    assert!(status.success(), "dev exits cleanly on Ctrl-C: {status:?}");
    assert!(!alive(&anvils[0]), "anvil (pid {}) is stopped with it", anvils[0]);
}
