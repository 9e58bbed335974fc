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

    let anvils = anvil_children(stack.child.id());
    assert_eq!(anvils.len(), 1, "dev runs one anvil");
    let status = tokio::task::spawn_blocking(move || stack.interrupt()).await.unwrap();
    assert!(status.success(), "dev exits cleanly on Ctrl-C: {status:?}");
    assert!(!alive(&anvils[0]), "anvil (pid {}) is stopped with it", anvils[0]);
}
