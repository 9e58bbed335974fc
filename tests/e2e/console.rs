//! Must-show of issue #9: the web console in a real browser (Debian's headless Chromium driven
//! by playwright-core, tests/browser/console.mjs) against a `corridor dev` stack: an officer
//! approves a held payout, the same officer cannot approve twice, a second officer approves
//! and the payout completes on anvil; a merchant creates an API key and sees it only once;
//! treasury uploads a camt.053 file and resolves its exception by matching it by hand;
//! wrong passwords, a forged form, a merchant on a compliance page and an ended session are
//! refused. Screenshots of the main pages go to target/console-screenshots/.

use corridor_e2e::{DevStack, free_port, get_json, post_json};
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
    let (status, created) = post_json(
        &http,
        &format!("{}/v1/payouts", stack.base_url),
        Some(&key),
        Some("console-e2e"),
        &serde_json::json!({
            "client_reference": "console-e2e", "amount": "10000.00", "asset": "USDC", "chain_id": 31337,
            "purpose": "Equipment", "beneficiary": { "kind": "business", "name": "Tecelagem Andrade SA",
            "country": "BR", "chain_id": 31337, "address": "0x00000000000000000000000000000000000c0501" } }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
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

    // Treasury's books: a bank account and an on-ramp order whose bank line will arrive with a
    // fee deducted and no reference, so only a person can match it.
    let base = stack.base_url.clone();
    let (status, login) = post_json(
        &http,
        &format!("{base}/v1/console/sessions"),
        None,
        None,
        &serde_json::json!({ "email": "treasury@corridor.local", "password": password }),
    )
    .await;
    assert_eq!(status, 201, "{login}");
    let treasury = login["token"].as_str().unwrap().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        let (http, url, token) = (http.clone(), format!("{base}{path}"), treasury.clone());
        async move {
            let (status, answer) = post_json(&http, &url, Some(&token), None, &body).await;
            assert_eq!(status, 201, "{url}: {answer}");
            answer
        }
    };
    let iban = "DE89370400440532013000";
    let account = post(
        "/v1/treasury/reconciliation/bank-accounts",
        serde_json::json!({ "account": iban, "currency": "EUR", "name": "Ramp EUR", "partner": "RampCo" }),
    )
    .await;
    let today = chrono::Utc::now().date_naive().to_string();
    let order = post(
        "/v1/treasury/reconciliation/ramp-orders",
        serde_json::json!({ "direction": "on", "partner": "RampCo", "bank_account_id": account["id"],
            "fiat_amount": "920.00", "asset": "USDC", "chain_id": 31337, "token_amount": "1000",
            "chain_address": "0x00000000000000000000000000000000000000aa", "reference": "RAMP-E2E-1",
            "expected_on": today }),
    )
    .await;
    let statement = std::env::temp_dir().join(format!("corridor-e2e-{}.xml", std::process::id()));
    std::fs::write(&statement, camt053(iban, &today, "919.50")).unwrap();

    let shots = root.join("target/console-screenshots");
    let out = tokio::task::spawn_blocking({
        let (base, id, statement, order) = (stack.base_url.clone(), id.clone(), statement.clone(), order.clone());
        move || {
            Command::new("node")
                .arg("console.mjs")
                .current_dir(browser_dir)
                .env("BASE_URL", base)
                .env("PASSWORD", password)
                .env("PAYOUT_ID", id)
                .env("STATEMENT_FILE", &statement)
                .env("ORDER_ID", order["id"].as_str().unwrap())
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
    // The decision that released it names two different approvers.
    let approved = payout["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "approved")
        .unwrap_or_else(|| panic!("no approval in {payout}"));
    let approvers = approved["detail"]["approvers"].as_array().unwrap();
    assert_eq!(approvers.len(), 2, "{approved}");
    assert_ne!(approvers[0], approvers[1], "{approved}");
    drop(stack);
}

/// A one-line camt.053: RampCo's credit, booked today, without a reference.
fn camt053(iban: &str, day: &str, amount: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>E2E-{day}</MsgId><CreDtTm>{day}T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>E2E-STMT-{day}</Id>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
        <AcctSvcrRef>BANK-E2E-1</AcctSvcrRef>
        <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>RampCo GmbH</Nm></Dbtr></RltdPties></TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#
    )
}
