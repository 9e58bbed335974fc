//! Must-show of issue #9: the web console in a real browser (Debian's headless Chromium driven
//! by playwright-core, tests/browser/console.mjs) against a `corridor dev` stack: an officer
//! approves a held payout, the same officer cannot approve twice, a second officer approves
//! and the payout completes on anvil; a merchant creates an API key and sees it only once;
//! wrong passwords, a forged form, a merchant on a compliance page and an ended session are
//! refused. Screenshots of the main pages go to target/console-screenshots/.

use corridor_e2e::{DevStack, free_port, get_json};
use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

fn chromium() -> Option<String> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn officers_approve_in_the_browser_and_a_merchant_sees_its_new_key_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let browser_dir = root.join("tests/browser");
    let chromium = chromium().expect("Chromium is needed: tests/run.sh installs Debian's chromium package");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run npm ci in tests/browser (tests/run.sh does)"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stack = tokio::task::spawn_blocking(|| DevStack::start("corridor_e2e_console", free_port()))
        .await
        .unwrap();
    let key = stack.printed("API key");
    let password = stack
        .output
        .iter()
        .find_map(|l| l.split("password for all: ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::new();

    // A payout at the review threshold, held for two officers.
    let created: serde_json::Value = http
        .post(format!("{}/v1/payouts", stack.base_url))
        .bearer_auth(&key)
        .header("Idempotency-Key", "console-e2e")
        .json(&serde_json::json!({
            "client_reference": "console-e2e", "amount": "10000.00", "asset": "USDC", "chain_id": 31337,
            "purpose": "Equipment", "beneficiary": { "kind": "business", "name": "Tecelagem Andrade SA",
            "country": "BR", "chain_id": 31337, "address": "0x00000000000000000000000000000000000c0501" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let payout_url = format!("{}/v1/payouts/{id}", stack.base_url);
    // Polls the stack's screening job for the hold, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = get_json(&http, &payout_url, &key).await;
        if p["status"] == "held" {
            break;
        }
        assert!(Instant::now() < deadline, "the payout was not held: {p}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let shots = root.join("target/console-screenshots");
    let out = tokio::task::spawn_blocking({
        let (base, id) = (stack.base_url.clone(), id.clone());
        move || {
            Command::new("node")
                .arg("console.mjs")
                .current_dir(browser_dir)
                .env("BASE_URL", base)
                .env("PASSWORD", password)
                .env("PAYOUT_ID", id)
                .env("SCREENSHOTS", &shots)
                .env("CHROMIUM", chromium)
                .output()
                .expect("node")
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();

    // The key the merchant saw once works, with the scope it was given.
    let secret = seen["api_key"].as_str().unwrap();
    let balances = http
        .get(format!("{}/v1/balances", stack.base_url))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(balances.status(), 200);
    let refused = http
        .get(format!("{}/v1/payouts", stack.base_url))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "the key has balances:read only");

    // Approved by two officers in the browser, the payout settles on anvil.
    let deadline = Instant::now() + Duration::from_secs(90);
    let payout = loop {
        let p = get_json(&http, &payout_url, &key).await;
        if p["status"] == "completed" || p["status"] == "failed" || Instant::now() > deadline {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(payout["status"], "completed", "{payout}");
    let timeline = payout["timeline"].to_string();
    assert!(
        timeline.contains("officer1@corridor.local") || timeline.contains("approvers"),
        "{timeline}"
    );
    drop(stack);
}
