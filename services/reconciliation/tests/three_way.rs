//! Must-show of issue #7: a three-way reconciliation (ramp orders in our books, bank statement
//! lines, chain transfers) with injected breaks: a missing on-chain settlement, a duplicated bank
//! line, an amount off by one minor unit, a two-day timing difference, unsolicited deposits at the
//! bank and on chain, and a reorged transfer. Each is found with its category, nothing is paired
//! wrongly, and a rerun gives the same report hash.
//!
//! The bank side goes through the real import endpoint (MT940 files). The chain side is written
//! as the watcher writes it (`chain.blocks`, `chain.observations`, an orphaned block for the
//! reorg); the watcher's own tests show those rows come from a real anvil, reorgs included.

use axum::http::{Method, StatusCode};
use corridor_platform::{AppState, Config, auth::Role, http};
use corridor_test_support::Http;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

const USDC_BASE: &str = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const TREASURY: &str = "0x1111111111111111111111111111111111111111";
const PARTNER_DEPOSIT: &str = "0x2222222222222222222222222222222222222222";
const STRANGER: &str = "0x3333333333333333333333333333333333333333";

struct App {
    http: Http,
    pool: PgPool,
    token: String,
}

impl App {
    async fn new(pool: PgPool) -> Self {
        let config = Config::from_lookup(|_| None).unwrap();
        let state = AppState::new(pool.clone(), config, corridor_domain::AssetRegistry::builtin());
        let (router, _) = http::app(state.clone(), vec![corridor_reconciliation::routes(state.clone())]);
        let token = corridor_test_support::staff(&state, Role::Treasury).await;
        App {
            http: Http { router },
            pool,
            token,
        }
    }

    async fn send(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let (status, text) = self.http.raw(method, path, &self.token, content_type, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.http.raw(Method::GET, path, &self.token, "", Vec::new()).await
    }

    async fn json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, "application/json", body.to_string().into_bytes())
            .await
    }

    /// RampCo's EUR account, registered.
    async fn ramp_account(&self) -> Value {
        let (status, acct) = self
            .json(
                "/v1/treasury/reconciliation/bank-accounts",
                json!({ "account": "NL91ABNA0417164300", "currency": "EUR", "name": "Ramp EUR", "partner": "RampCo" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{acct}");
        acct
    }

    /// An ERC-20 transfer as the watcher records it, seen on `day`, in a canonical block or one
    /// a reorg orphaned.
    async fn transfer(&self, block: i64, to: &str, usdc: u64, day: &str, orphaned: bool) -> Uuid {
        let hash = format!("0x{:064x}", block * 10 + i64::from(orphaned));
        let at = format!("{day}T12:00:00Z");
        sqlx::query(
            "INSERT INTO chain.blocks (chain_id, number, hash, parent_hash, canonical) VALUES (8453, $1, $2, '0x00', $3)",
        )
        .bind(block)
        .bind(&hash)
        .bind(!orphaned)
        .execute(&self.pool)
        .await
        .unwrap();
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO chain.observations (id, chain_id, block_number, block_hash, tx_hash, log_index, contract, kind, fields, status, created_at)
             VALUES ($1, 8453, $2, $3, $3, 0, $4, 'erc20_transfer', $5, $6, $7::timestamptz)",
        )
        .bind(id)
        .bind(block)
        .bind(&hash)
        .bind(USDC_BASE)
        .bind(json!({ "from": STRANGER, "to": to, "value": (u128::from(usdc) * 1_000_000).to_string() }))
        .bind(if orphaned { "orphaned" } else { "final" })
        .bind(at)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }
}

// Day 1: ON-1, ON-2, ON-3 (off by one cent), OFF-1 and an unsolicited 42.00.
const DAY1: &str = ":20:D1\n:25:NL91ABNA0417164300\n:60F:C260105EUR10000,00\n\
:61:2601050105C1000,00NTRFON-1//B-1\n:86:/EREF/ON-1/\n\
:61:2601050105C500,00NTRFON-2//B-2\n:86:/EREF/ON-2/\n\
:61:2601050105C749,99NTRFON-3//B-3\n:86:/EREF/ON-3/\n\
:61:2601050105D200,00NTRFOFF-1//B-4\n:86:/EREF/OFF-1/\n\
:61:2601050105C42,00NTRFNONREF//B-5\n:86:/REMI/USTD//gift from a stranger/\n\
:61:2601050105C300,00NTRFON-5//B-6\n:86:/EREF/ON-5/\n\
:62F:C260105EUR12391,99\n-\n";

// Day 3: ON-4 two days late, and B-1 sent again.
const DAY3: &str = ":20:D3\n:25:NL91ABNA0417164300\n:60F:C260107EUR12391,99\n\
:61:2601070107C250,00NTRFON-4//B-7\n:86:/EREF/ON-4/\n\
:61:2601050105C1000,00NTRFON-1//B-1\n:86:/EREF/ON-1/\n\
:62F:C260107EUR13641,99\n-\n";

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn injected_breaks_are_each_found_with_their_category_and_a_rerun_hashes_the_same(pool: PgPool) {
    // Arrange: the bank account, the books, the bank statements and the chain.
    let app = App::new(pool).await;
    let acct = app.ramp_account().await;
    let mut orders = BTreeMap::new();
    for (reference, direction, eur, usdc, address) in [
        ("ON-1", "on", "1000.00", "1000", TREASURY),
        ("ON-2", "on", "500.00", "500", TREASURY),
        ("ON-3", "on", "750.00", "750", TREASURY),
        ("ON-4", "on", "250.00", "250", TREASURY),
        ("ON-5", "on", "300.00", "300", TREASURY),
        ("OFF-1", "off", "200.00", "200", PARTNER_DEPOSIT),
    ] {
        let (status, body) = app
            .json(
                "/v1/treasury/reconciliation/ramp-orders",
                json!({ "direction": direction, "partner": "RampCo", "bank_account_id": acct["id"],
                        "fiat_amount": eur, "asset": "USDC", "chain_id": 8453, "token_amount": usdc,
                        "chain_address": address, "reference": reference, "expected_on": "2026-01-05",
                        "fee": "1.50", "fx_rate": "1.0842" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        orders.insert(reference, body["id"].as_str().unwrap().to_owned());
    }
    // February's first days: read for the window, but not January's to explain.
    const FEB: &str = ":20:F1\n:25:NL91ABNA0417164300\n:60F:C260203EUR0,00\n\
:61:2602030203C5,00NTRFNONREF//B-9\n:86:/REMI/USTD//february/\n:62F:C260203EUR5,00\n-\n";
    for (name, text) in [("d1.sta", DAY1), ("d3.sta", DAY3), ("f1.sta", FEB)] {
        let (status, body) = app
            .send(
                Method::POST,
                &format!("/v1/treasury/reconciliation/statements?file_name={name}"),
                "text/plain",
                text.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let t1 = app.transfer(101, TREASURY, 1000, "2026-01-05", false).await;
    // ON-2's stablecoins never arrive (missing settlement).
    let t3 = app.transfer(103, TREASURY, 750, "2026-01-05", false).await;
    let t4 = app.transfer(104, TREASURY, 250, "2026-01-06", false).await;
    let t5 = app.transfer(105, TREASURY, 300, "2026-01-05", true).await; // reorged away
    let t6 = app.transfer(106, PARTNER_DEPOSIT, 200, "2026-01-05", false).await;
    let t7 = app.transfer(107, TREASURY, 77, "2026-01-05", false).await; // nobody ordered it
    let line = |bank_ref: &str, dup: bool| {
        let pool = app.pool.clone();
        let bank_ref = bank_ref.to_owned();
        async move {
            let id: Uuid = sqlx::query_scalar(
                "SELECT id FROM reconciliation.bank_lines WHERE bank_reference = $1 AND (duplicate_of IS NOT NULL) = $2",
            )
            .bind(&bank_ref)
            .bind(dup)
            .fetch_one(&pool)
            .await
            .unwrap();
            format!("bl_{}", id.simple())
        }
    };

    // Act.
    let (status, run) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31" }),
        )
        .await;

    // Assert: one result per order, each paired with exactly its own line and transfer.
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let results = run["results"].as_array().unwrap();
    let by_order = |r: &str| {
        results
            .iter()
            .find(|x| x["order_id"] == orders[r].as_str())
            .unwrap_or_else(|| panic!("no result for {r}: {run}"))
            .clone()
    };
    let expect = |r: &str, status: &str, exceptions: Value, bank: Option<String>, transfer: Option<Uuid>| {
        let x = by_order(r);
        assert_eq!(x["status"], status, "{r}: {x}");
        assert_eq!(x["exceptions"], exceptions, "{r}: {x}");
        assert_eq!(x["bank_line_id"].as_str().map(str::to_owned), bank, "{r}: {x}");
        assert_eq!(
            x["observation_id"].as_str().map(str::to_owned),
            transfer.map(|t| t.to_string()),
            "{r}: {x}"
        );
    };
    expect("ON-1", "matched", json!([]), Some(line("B-1", false).await), Some(t1));
    expect(
        "ON-2",
        "partially_matched",
        json!(["missing_settlement"]),
        Some(line("B-2", false).await),
        None,
    );
    expect(
        "ON-3",
        "partially_matched",
        json!(["amount_mismatch"]),
        Some(line("B-3", false).await),
        Some(t3),
    );
    expect(
        "ON-4",
        "matched",
        json!(["timing"]),
        Some(line("B-7", false).await),
        Some(t4),
    );
    expect(
        "ON-5",
        "partially_matched",
        json!(["reorged_transfer"]),
        Some(line("B-6", false).await),
        None,
    );
    expect("OFF-1", "matched", json!([]), Some(line("B-4", false).await), Some(t6));
    let others: Vec<&Value> = results.iter().filter(|x| x["order_id"].is_null()).collect();
    let dup = line("B-1", true).await;
    let stranger = line("B-5", false).await;
    assert!(
        others.iter().any(|x| x["bank_line_id"] == dup.as_str()
            && x["status"] == "bank_only"
            && x["exceptions"] == json!(["duplicate"])),
        "{run}"
    );
    assert!(
        others.iter().any(|x| x["bank_line_id"] == stranger.as_str()
            && x["status"] == "bank_only"
            && x["exceptions"] == json!(["unknown_deposit"])),
        "{run}"
    );
    assert!(
        others.iter().any(|x| x["observation_id"] == t7.to_string().as_str()
            && x["status"] == "chain_only"
            && x["exceptions"] == json!(["unknown_deposit"])),
        "{run}"
    );
    // The orphaned transfer was ON-5's, so it is not reported a second time on its own.
    assert!(
        !others.iter().any(|x| x["observation_id"] == t5.to_string().as_str()),
        "{run}"
    );
    assert_eq!(others.len(), 3, "{run}");
    assert_eq!(run["summary"]["results"], 9);

    // A rerun (stored, and dry) gives the same report hash; the books were not touched.
    let (_, again) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31" }),
        )
        .await;
    assert_eq!(again["report_hash"], run["report_hash"]);
    let (status, dry) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31", "dry_run": true }),
        )
        .await;
    assert_eq!(
        (status, &dry["report_hash"], &dry["id"]),
        (StatusCode::OK, &run["report_hash"], &Value::Null)
    );
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM reconciliation.runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs, 2);
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger.entries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(entries, 0, "reconciliation never posts to the ledger");
    // With a one-cent drift allowed, ON-3 matches; the hash says the report changed.
    let (_, drift) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31", "amount_drift": "0.01", "dry_run": true }),
        )
        .await;
    assert_ne!(drift["report_hash"], run["report_hash"]);
    let on3 = drift["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["order_id"] == orders["ON-3"].as_str())
        .unwrap();
    assert_eq!(on3["status"], "matched");

    // By hand: ON-1 is not B-1 after all, and the stranger's 42.00 was ON-2's first instalment.
    let b1 = line("B-1", false).await;
    for (kind, order, bank_line, reason) in [
        ("unmatch", "ON-1", b1.clone(), "B-1 was a refund of an older order"),
        (
            "match",
            "ON-2",
            stranger.clone(),
            "partner confirmed 42.00 as ON-2 part 1",
        ),
    ] {
        let (status, body) = app
            .json(
                "/v1/treasury/reconciliation/manual-decisions",
                json!({ "kind": kind, "order_id": orders[order], "bank_line_id": bank_line, "reason": reason }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .json(
            "/v1/treasury/reconciliation/manual-decisions",
            json!({ "kind": "match", "order_id": orders["ON-2"], "bank_line_id": dup, "reason": "dup" }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_reference"))
    );
    let (_, manual) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31", "dry_run": true }),
        )
        .await;
    let find = |r: &str| {
        manual["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["order_id"] == orders[r].as_str())
            .unwrap()
            .clone()
    };
    let on1 = find("ON-1");
    assert_eq!(
        (&on1["bank_line_id"], &on1["status"]),
        (&Value::Null, &json!("partially_matched")),
        "{on1}"
    );
    let on2 = find("ON-2");
    assert_eq!(on2["bank_line_id"], stranger.as_str());
    assert_eq!(on2["exceptions"], json!(["amount_mismatch", "missing_settlement"]));
    assert!(
        on2["detail"]
            .as_str()
            .unwrap()
            .contains("matched by hand: partner confirmed"),
        "{on2}"
    );
    // B-2, which ON-2 no longer takes, and B-1, which ON-1 may not, are now unexplained deposits.
    for l in [line("B-2", false).await, b1] {
        assert!(
            manual["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["bank_line_id"] == l.as_str() && x["exceptions"] == json!(["unknown_deposit"])),
            "{manual}"
        );
    }
    assert_ne!(manual["report_hash"], run["report_hash"]);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.audit_log WHERE action LIKE 'reconciliation.manual_%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 2);

    // The exceptions queue of the first run: seven items; one is assigned to a colleague.
    let run_id = run["id"].as_str().unwrap();
    let (status, queue) = app
        .get(&format!(
            "/v1/treasury/reconciliation/runs/{run_id}/exceptions?limit=100"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let queue: Value = serde_json::from_str(&queue).unwrap();
    let items = queue["data"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{queue}");
    let colleague = corridor_domain::ids::ConsoleUserId::new();
    let mut conn = app.pool.acquire().await.unwrap();
    corridor_store::console_users::insert(&mut conn, colleague, "colleague@corridor.test", "x", "treasury", None)
        .await
        .unwrap();
    let seq = items[0]["seq"].as_i64().unwrap();
    let (status, body) = app
        .json(
            &format!("/v1/treasury/reconciliation/runs/{run_id}/exceptions/{seq}/assignment"),
            json!({ "assignee": colleague.to_string(), "note": "call the bank" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, mine) = app
        .get(&format!(
            "/v1/treasury/reconciliation/runs/{run_id}/exceptions?assignee={colleague}"
        ))
        .await;
    let mine: Value = serde_json::from_str(&mine).unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["note"], "call the bank");
    // A matched result is not an exception to assign; a compliance officer is not an assignee.
    let matched_seq = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .position(|x| x["exceptions"] == json!([]))
        .unwrap();
    let (status, body) = app
        .json(
            &format!("/v1/treasury/reconciliation/runs/{run_id}/exceptions/{matched_seq}/assignment"),
            json!({ "assignee": colleague.to_string() }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_an_exception"))
    );
    let officer = corridor_domain::ids::ConsoleUserId::new();
    corridor_store::console_users::insert(
        &mut conn,
        officer,
        "officer@corridor.test",
        "x",
        "compliance_officer",
        None,
    )
    .await
    .unwrap();
    let (status, body) = app
        .json(
            &format!("/v1/treasury/reconciliation/runs/{run_id}/exceptions/{seq}/assignment"),
            json!({ "assignee": officer.to_string() }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_assignee"))
    );
    // The run as CSV: a header and one row per result, each carrying the report hash.
    let (status, csv) = app
        .get(&format!("/v1/treasury/reconciliation/runs/{run_id}/results.csv"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 10, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(run["report_hash"].as_str().unwrap())
    );
}

/// An invoice payment lands in the treasury as an ERC-20 transfer next to the InvoicePaid
/// event; invoicing books it, so it is not an unknown deposit here. A second transfer in the
/// same transaction that the event does not describe still is.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn the_token_leg_of_an_invoice_payment_is_not_an_unknown_deposit(pool: PgPool) {
    let app = App::new(pool).await;
    let acct = app.ramp_account().await;
    let (status, order) = app
        .json(
            "/v1/treasury/reconciliation/ramp-orders",
            json!({ "direction": "on", "partner": "RampCo", "bank_account_id": acct["id"],
                    "fiat_amount": "100.00", "asset": "USDC", "chain_id": 8453, "token_amount": "100",
                    "chain_address": TREASURY, "reference": "ON-1", "expected_on": "2026-01-05" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let invoice_leg = app.transfer(201, TREASURY, 1250, "2026-01-05", false).await;
    let stray = app.transfer(202, TREASURY, 80, "2026-01-05", false).await;
    // An InvoicePaid event in the transfer's transaction, as the watcher records it.
    let paid = |block: i64, amount: u64| {
        let tx_hash = format!("0x{:064x}", block * 10);
        sqlx::query(
            "INSERT INTO chain.observations (id, chain_id, block_number, block_hash, tx_hash, log_index, contract, kind, fields, status, created_at)
             VALUES ($1, 8453, $2, $3, $3, 1, '0x4444444444444444444444444444444444444444', 'invoice_paid', $4, 'final', '2026-01-05T12:00:00Z')",
        )
        .bind(Uuid::now_v7())
        .bind(block)
        .bind(tx_hash)
        .bind(json!({ "payer": STRANGER, "token": USDC_BASE, "amount": (u128::from(amount) * 1_000_000).to_string(),
                      "reference": format!("0x{:064x}", 7) }))
        .execute(&app.pool)
    };
    paid(201, 1250).await.unwrap();
    // An event for another amount does not explain the transfer next to it.
    paid(202, 81).await.unwrap();

    let (status, run) = app
        .json(
            "/v1/treasury/reconciliation/runs",
            json!({ "from": "2026-01-01", "to": "2026-01-31", "dry_run": true }),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{run}");
    let results = run["results"].as_array().unwrap();
    assert!(
        !results
            .iter()
            .any(|r| r["observation_id"] == invoice_leg.to_string().as_str()),
        "the invoice payment's transfer is invoicing's: {run}"
    );
    assert!(
        results.iter().any(|r| r["observation_id"] == stray.to_string().as_str()
            && r["status"] == "chain_only"
            && r["exceptions"] == json!(["unknown_deposit"])),
        "{run}"
    );
}
