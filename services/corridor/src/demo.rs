//! `corridor demo`: a guided tour on a fresh local stack. It starts what `corridor dev` starts
//! (its own database, `corridor_demo`, and its own anvil), serves every service in this process,
//! then plays one merchant's day through the public API and the chain, narrating each step and
//! checking its outcome: a demo that prints success without the effect is worse than none.
//! Afterwards the stack keeps serving for exploring (`--exit` stops it instead).

use crate::{dev, server};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use corridor_chain::bindings::{InvoicePayments, TestStablecoin};
use corridor_domain::Money;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::{
    future::Future,
    str::FromStr,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

pub const DEMO_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/corridor_demo";
/// One step's outcome (a payout final at depth 2 on one-second blocks takes a few seconds); a
/// step that needs longer is broken, and the demo says which.
const STEP_DEADLINE: Duration = Duration::from_secs(90);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// An Ethereum address of the Lazarus Group on the OFAC SDN list (in the shipped snapshot).
const SANCTIONED_ADDRESS: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";
const CLEAN_ADDRESS: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";
const YIELD_PERIOD_SECS: i64 = 5;
/// The yield service distributes a period once it has been closed for a minute.
const YIELD_SETTLE_SECS: i64 = 61;
/// The local test stablecoins' decimals (`local::deploy`).
const TOKEN_DECIMALS: u8 = 6;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Port for the demo's anvil node; 0 (the default) picks a free port.
    #[arg(long, default_value_t = 0)]
    pub anvil_port: u16,
    /// Stop everything when the demo is done instead of serving on for exploring.
    #[arg(long)]
    pub exit: bool,
}

/// The demo's own database and a free API port, so it can run next to `corridor dev`. The port
/// is chosen here rather than left to the kernel at bind time because the console calls the API
/// on this process's own port, so the configuration must name it.
fn demo_lookup(free_port: u16) -> impl Fn(&str) -> Option<String> {
    move |key: &str| match (key, std::env::var(key).ok()) {
        (_, Some(v)) => Some(v),
        ("CORRIDOR_DATABASE_URL", None) => Some(DEMO_DATABASE_URL.into()),
        ("CORRIDOR_LISTEN_ADDR", None) => Some(format!("127.0.0.1:{free_port}")),
        _ => dev::dev_lookup(key),
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    println!("Corridor demo: a fresh local stack, then one merchant's day, checked step by step");
    let stack = dev::Stack::start(args.anvil_port, demo_lookup(free_port()?)).await?;
    let listener = server::bind(&stack.state).await?;
    let base = format!("http://{}", listener.local_addr()?);
    stack.print_demo_data(&base);
    let services = server::select(None, Some(stack.chain_runtime()))?;
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server::serve_on(
        listener,
        stack.state.clone(),
        services,
        shutdown.clone(),
    ));
    let outcome = Tour::new(&stack, &base).run().await;
    match &outcome {
        Ok(()) => println!("\nDemo complete: every step above was checked against the API and the chain."),
        Err(e) => println!("\nDemo failed: {e:#}"),
    }
    if outcome.is_ok() && !args.exit {
        println!("The stack keeps serving at {base}; press Ctrl-C to stop everything.");
    } else {
        shutdown.cancel();
    }
    serving.await.context("the server task")??;
    drop(stack);
    outcome
}

struct Tour<'a> {
    stack: &'a dev::Stack,
    base: String,
    http: reqwest::Client,
    key: String,
    buyer: DynProvider,
}

fn step(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

fn say(line: impl std::fmt::Display) {
    println!("   → {line}");
}

fn done(line: impl std::fmt::Display) {
    println!("   ✓ {line}");
}

fn decimal(v: &Value) -> anyhow::Result<Decimal> {
    let s = v
        .as_str()
        .with_context(|| format!("expected a decimal string, got {v}"))?;
    Decimal::from_str(s).with_context(|| format!("{s:?} is not a decimal"))
}

fn secs(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Polls until `probe` yields a value, at most `STEP_DEADLINE`. The demo watches another part
/// of the system (the services' jobs, the chain) reach an outcome; there is nothing to await.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what}: not reached within {}s", STEP_DEADLINE.as_secs());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

impl<'a> Tour<'a> {
    fn new(stack: &'a dev::Stack, base: &str) -> Self {
        let buyer = ProviderBuilder::new()
            .wallet(EthereumWallet::from(stack.keys.buyer.clone()))
            .connect_http(stack.chain.rpc_url.clone())
            .erased();
        Tour {
            stack,
            base: base.to_owned(),
            http: reqwest::Client::new(),
            key: stack.seeded.api_key.clone(),
            buyer,
        }
    }

    /// Base units of a USDC amount on the local chain, through the domain's checked conversion.
    fn usdc_units(&self, amount: &str) -> anyhow::Result<U256> {
        let usdc = self.stack.state.registry().get("USDC")?;
        Ok(Money::parse(amount, usdc)?.to_base_units(TOKEN_DECIMALS)?)
    }

    fn chain_id(&self) -> u64 {
        self.stack.deployment.chain_id
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        idempotency_key: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(bearer);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("Content-Type", content_type).body(bytes);
        }
        let res = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// A JSON request that must answer `want`; anything else stops the demo with the problem.
    async fn expect(
        &self,
        want: StatusCode,
        method: Method,
        path: &str,
        bearer: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        let (status, value) = self.call(method.clone(), path, bearer, idempotency_key, body).await?;
        ensure!(
            status == want,
            "{method} {path} answered {status}, expected {want}: {value}"
        );
        Ok(value)
    }

    async fn get(&self, path: &str, bearer: &str) -> anyhow::Result<Value> {
        self.expect(StatusCode::OK, Method::GET, path, bearer, None, None).await
    }

    async fn login(&self, email: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": self.stack.seeded.password });
        let session = self
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/v1/console/sessions",
                "",
                None,
                Some(&body),
            )
            .await?;
        Ok(session["token"].as_str().context("a session token")?.to_owned())
    }

    /// (available, reserved, incoming) of one asset.
    async fn balance(&self, asset: &str) -> anyhow::Result<(Decimal, Decimal, Decimal)> {
        let all = self.get("/v1/balances", &self.key).await?;
        let b = all["data"]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["asset"] == asset))
            .with_context(|| format!("no {asset} balance in {all}"))?;
        Ok((
            decimal(&b["available"])?,
            decimal(&b["reserved"])?,
            decimal(&b["incoming"])?,
        ))
    }

    async fn payout_until(&self, id: &str, statuses: &[&str]) -> anyhow::Result<Value> {
        let path = format!("/v1/payouts/{id}");
        until(&format!("payout {id} to reach {statuses:?}"), || async {
            let p = self.get(&path, &self.key).await?;
            let status = p["status"].as_str().unwrap_or_default();
            Ok(statuses.contains(&status).then_some(p))
        })
        .await
    }

    async fn create_payout(&self, reference: &str, amount: &str, name: &str, address: &str) -> anyhow::Result<Value> {
        let body = json!({
            "client_reference": reference, "amount": amount, "asset": "USDC", "chain_id": self.chain_id(),
            "purpose": "Supplier invoice",
            "beneficiary": { "kind": "business", "name": name, "country": "BR",
                             "chain_id": self.chain_id(), "address": address } });
        self.expect(
            StatusCode::CREATED,
            Method::POST,
            "/v1/payouts",
            &self.key,
            Some(reference),
            Some(&body),
        )
        .await
    }

    /// Waits for a transaction's receipt and checks it succeeded.
    async fn mined(
        &self,
        what: &str,
        pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    ) -> anyhow::Result<alloy::rpc::types::TransactionReceipt> {
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .with_context(|| format!("{what}: no receipt"))?;
        ensure!(receipt.status(), "{what} reverted in {}", receipt.transaction_hash);
        Ok(receipt)
    }

    async fn token_balance(&self, holder: Address) -> anyhow::Result<U256> {
        let usdc = TestStablecoin::new(self.stack.deployment.usdc, &self.buyer);
        Ok(usdc.balanceOf(holder).call().await?)
    }

    async fn run(&self) -> anyhow::Result<()> {
        let officer1 = self.login("officer1@corridor.local").await?;
        let officer2 = self.login("officer2@corridor.local").await?;
        let treasury = self.login("treasury@corridor.local").await?;

        step(1, "The merchant enrols in yield on its float");
        let enrolment = self
            .expect(
                StatusCode::OK,
                Method::PUT,
                "/v1/yield/enrollment",
                &self.key,
                None,
                Some(&json!({ "enrolled": true })),
            )
            .await?;
        ensure!(enrolment["enrolled"] == true, "enrolment: {enrolment}");
        // Whole seconds, starting after the enrolment: the period the last step distributes.
        let period_start = DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).context("clock")?;
        let period_end = period_start + Span::seconds(YIELD_PERIOD_SECS);
        done(format!(
            "enrolled (PUT /v1/yield/enrollment); its USDC balance earns from {} on",
            secs(period_start)
        ));

        self.invoice_paid_on_chain().await?;
        let ramp = self.ramp_order_delivered(&treasury).await?;
        self.clean_payout().await?;
        self.sanctioned_payout().await?;
        self.four_eyes_payout(&officer1, &officer2).await?;
        self.reconcile(&treasury, &ramp).await?;
        self.distribute_yield(&treasury, period_start, period_end).await?;
        Ok(())
    }

    async fn invoice_paid_on_chain(&self) -> anyhow::Result<()> {
        step(2, "A buyer abroad pays an invoice in USDC on chain");
        let (available_before, ..) = self.balance("USDC").await?;
        let body = json!({
            "currency": "USDC",
            "buyer": { "name": "Lagos Textiles Ltd", "email": "ap@lagos.example", "country": "NG" },
            "line_items": [{ "description": "Cotton fabric, metres", "quantity": "500", "unit_price": "2.50" }],
            "due_at": secs(Utc::now() + Span::days(14)),
            "memo": "Order 118",
            "chains": [self.chain_id()],
        });
        let draft = self
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/v1/invoices",
                &self.key,
                Some("demo-invoice-1"),
                Some(&body),
            )
            .await?;
        let id = draft["id"].as_str().context("invoice id")?.to_owned();
        let invoice = self
            .expect(
                StatusCode::OK,
                Method::POST,
                &format!("/v1/invoices/{id}/finalize"),
                &self.key,
                Some("demo-invoice-1-finalize"),
                None,
            )
            .await?;
        let total = decimal(&invoice["total"])?;
        let reference = B256::from_str(invoice["payment_reference"].as_str().context("payment reference")?)?;
        say(format!(
            "invoice #{} for {total} USDC to Lagos Textiles Ltd (POST /v1/invoices, then /finalize)",
            invoice["number"]
        ));
        say(format!(
            "pay page for the buyer: {}{}",
            self.base,
            invoice["hosted_url"].as_str().unwrap_or_default()
        ));

        let d = &self.stack.deployment;
        let amount = self.usdc_units(invoice["total"].as_str().context("invoice total")?)?;
        let approve = TestStablecoin::new(d.usdc, &self.buyer)
            .approve(d.invoice_payments, amount)
            .send()
            .await?;
        self.mined("the buyer's approve", approve).await?;
        let pay = InvoicePayments::new(d.invoice_payments, &self.buyer)
            .pay(d.usdc, amount, reference)
            .send()
            .await?;
        let receipt = self.mined("InvoicePayments.pay", pay).await?;
        say(format!(
            "the buyer calls InvoicePayments.pay(USDC, {amount}, {reference}): tx {} in block {}",
            receipt.transaction_hash,
            receipt.block_number.unwrap_or_default()
        ));

        let path = format!("/v1/invoices/{id}");
        let saw_incoming = std::cell::Cell::new(false);
        let paid = until("the invoice to be paid", || async {
            let inv = self.get(&path, &self.key).await?;
            if inv["status"] == "paid" {
                return Ok(Some(inv));
            }
            if !saw_incoming.get() && decimal(&inv["amount_detected"])? > Decimal::ZERO {
                let (available, _, incoming) = self.balance("USDC").await?;
                if incoming >= total {
                    done(format!(
                        "detected by the watcher: {incoming} USDC incoming, available still {available} (not final yet)"
                    ));
                    saw_incoming.set(true);
                }
            }
            Ok(None)
        })
        .await?;
        let (available_after, ..) = self.balance("USDC").await?;
        ensure!(
            available_after - available_before == total,
            "the merchant was credited {} instead of {total}",
            available_after - available_before
        );
        done(format!(
            "final at depth {}: invoice paid, amount_paid {}; available USDC {available_before} → {available_after}",
            2,
            paid["amount_paid"].as_str().unwrap_or_default()
        ));
        Ok(())
    }

    /// The on-ramp partner's side of an order: treasury books it, the partner delivers the
    /// stablecoins on chain now, and the bank statement arrives later (step 7).
    async fn ramp_order_delivered(&self, treasury: &str) -> anyhow::Result<RampOrder> {
        step(3, "Treasury books an on-ramp: EUR at the bank in, USDC on chain in");
        let account = self
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/v1/treasury/reconciliation/bank-accounts",
                treasury,
                None,
                Some(&json!({ "account": "DE89370400440532013000", "currency": "EUR",
                              "name": "Ramp EUR account", "partner": "RampCo" })),
            )
            .await?;
        let treasury_address = format!("{:#x}", self.stack.deployment.treasury);
        let order = self
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/v1/treasury/reconciliation/ramp-orders",
                treasury,
                None,
                Some(&json!({
                    "direction": "on", "partner": "RampCo", "bank_account_id": account["id"],
                    "fiat_amount": "920.00", "asset": "USDC", "chain_id": self.chain_id(),
                    "token_amount": "1000", "chain_address": treasury_address,
                    "reference": "RAMP-DEMO-1", "expected_on": Utc::now().date_naive(),
                    "fee": "0.00", "fx_rate": "0.92" })),
            )
            .await?;
        say(
            "order RAMP-DEMO-1: 920.00 EUR from RampCo for 1,000 USDC to the treasury (POST /v1/treasury/reconciliation/ramp-orders)",
        );
        let send = TestStablecoin::new(self.stack.deployment.usdc, &self.buyer)
            .transfer(self.stack.deployment.treasury, self.usdc_units("1000")?)
            .send()
            .await?;
        let receipt = self.mined("RampCo's transfer", send).await?;
        done(format!(
            "RampCo (a local test account) sends 1,000 USDC to the treasury: tx {}",
            receipt.transaction_hash
        ));
        Ok(RampOrder {
            id: order["id"].as_str().context("ramp order id")?.to_owned(),
            account: "DE89370400440532013000",
        })
    }

    async fn clean_payout(&self) -> anyhow::Result<()> {
        step(4, "A payout to a supplier abroad settles on chain");
        let created = self
            .create_payout("demo-payout-1", "250.00", "Souza Componentes Ltda", CLEAN_ADDRESS)
            .await?;
        let id = created["id"].as_str().context("payout id")?;
        say(format!(
            "POST /v1/payouts: 250.00 USDC to Souza Componentes Ltda ({CLEAN_ADDRESS}): {id}, status {}",
            created["status"]
        ));
        let payout = self
            .payout_until(id, &["completed", "failed", "rejected", "held"])
            .await?;
        ensure!(payout["status"] == "completed", "the payout did not complete: {payout}");
        let recipient = Address::from_str(CLEAN_ADDRESS)?;
        let received = self.token_balance(recipient).await?;
        ensure!(
            received == self.usdc_units("250")?,
            "the recipient holds {received} base units on chain"
        );
        done(format!(
            "screened, attested by the compliance key, sent through the PayoutRouter and final: tx {}",
            payout["tx_hash"].as_str().unwrap_or_default()
        ));
        done(format!(
            "on chain the supplier's address holds {received} base units (250.00 USDC)"
        ));
        Ok(())
    }

    async fn sanctioned_payout(&self) -> anyhow::Result<()> {
        step(
            5,
            "A payout to a sanctioned address is blocked before anything is signed",
        );
        let (available_before, ..) = self.balance("USDC").await?;
        let created = self
            .create_payout("demo-payout-2", "100.00", "Harbor Logistics", SANCTIONED_ADDRESS)
            .await?;
        let id = created["id"].as_str().context("payout id")?;
        say(format!("POST /v1/payouts: 100.00 USDC to {SANCTIONED_ADDRESS}: {id}"));
        let payout = self
            .payout_until(id, &["completed", "failed", "rejected", "held"])
            .await?;
        ensure!(
            payout["status"] == "rejected" && payout["failure"]["code"] == "sanctions_blocked",
            "the payout was not blocked: {payout}"
        );
        let evidence = payout["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|t| t["detail"]["reasons"][0]["evidence"].as_object().cloned())
            .unwrap_or_default();
        let (available_after, ..) = self.balance("USDC").await?;
        ensure!(
            available_after == available_before,
            "the blocked payout's hold was not released"
        );
        let finding = evidence.get("findings").map(|f| &f[0]).unwrap_or(&Value::Null);
        done(format!(
            "rejected with sanctions_blocked: the address belongs to {} on the {} list (entry {})",
            finding["name"].as_str().unwrap_or("a listed party"),
            finding["list"].as_str().unwrap_or("sanctions"),
            finding["ent_num"]
        ));
        done(format!(
            "no transaction was signed; the hold is released: available USDC back to {available_after}"
        ));
        Ok(())
    }

    async fn four_eyes_payout(&self, officer1: &str, officer2: &str) -> anyhow::Result<()> {
        step(6, "A large payout waits for two compliance officers");
        let created = self
            .create_payout("demo-payout-3", "10000.00", "Tecelagem Andrade SA", CLEAN_ADDRESS)
            .await?;
        let id = created["id"].as_str().context("payout id")?;
        say(format!(
            "POST /v1/payouts: 10,000.00 USDC (at the review threshold): {id}"
        ));
        self.payout_until(id, &["held", "completed", "failed", "rejected"])
            .await
            .and_then(|p| {
                ensure!(p["status"] == "held", "the payout was not held for review: {p}");
                Ok(())
            })?;
        done("held for review; the funds stay reserved");
        let review = format!("/v1/compliance/payout-reviews/{id}");
        let approve = json!({ "decision": "approve", "reason": "Supplier contract and invoice checked" });
        let first = self
            .expect(StatusCode::OK, Method::POST, &review, officer1, None, Some(&approve))
            .await?;
        ensure!(
            first["payout"]["status"] == "held" && first["approvals_missing"] == 1,
            "after one approval: {first}"
        );
        done("officer1 approves: still held, 1 approval missing (four-eyes)");
        let (status, again) = self
            .call(
                Method::POST,
                &review,
                officer1,
                None,
                Some(("application/json", approve.to_string().into_bytes())),
            )
            .await?;
        ensure!(
            status == StatusCode::CONFLICT && again["code"] == "four_eyes_same_reviewer",
            "a second approval by the same officer was not refused: {status} {again}"
        );
        done("officer1 approving again is refused: 409 four_eyes_same_reviewer");
        let second = self
            .expect(StatusCode::OK, Method::POST, &review, officer2, None, Some(&approve))
            .await?;
        ensure!(second["approvals_missing"] == 0, "after two approvals: {second}");
        done("officer2 approves: the payout clears");
        let payout = self.payout_until(id, &["completed", "failed"]).await?;
        ensure!(
            payout["status"] == "completed",
            "the approved payout did not complete: {payout}"
        );
        done(format!(
            "sent and final: tx {}; the decision hash in its attestation commits to both approvals",
            payout["tx_hash"].as_str().unwrap_or_default()
        ));
        Ok(())
    }

    async fn reconcile(&self, treasury: &str, ramp: &RampOrder) -> anyhow::Result<()> {
        step(7, "Treasury reconciles the bank statement with the chain and the books");
        let today = Utc::now().date_naive();
        let statement = camt053(ramp.account, today);
        let (status, imported) = self
            .call(
                Method::POST,
                "/v1/treasury/reconciliation/statements?file_name=demo-camt053.xml",
                treasury,
                None,
                Some(("application/xml", statement.into_bytes())),
            )
            .await?;
        ensure!(status == StatusCode::CREATED, "statement import: {status} {imported}");
        say(format!(
            "imported a camt.053 statement: {} with {} line(s)",
            imported["format"], imported["lines"]
        ));
        let window = json!({ "from": today - Span::days(1), "to": today });
        // The run is matched once the partner's transfer is final and recorded by the watcher.
        let run = until("the ramp order to be matched", || async {
            let run = self
                .expect(
                    StatusCode::CREATED,
                    Method::POST,
                    "/v1/treasury/reconciliation/runs",
                    treasury,
                    None,
                    Some(&window),
                )
                .await?;
            let matched = run["results"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["order_id"] == ramp.id.as_str() && r["status"] == "matched");
            Ok(matched.then_some(run))
        })
        .await?;
        done(format!(
            "RAMP-DEMO-1 matched three ways: order, bank line and on-chain transfer (run {})",
            run["id"].as_str().unwrap_or_default()
        ));
        for r in run["results"].as_array().into_iter().flatten() {
            if r["order_id"].is_null() {
                say(format!(
                    "exception for treasury's queue: {} {} ({})",
                    r["status"],
                    r["exceptions"],
                    r["detail"].as_str().unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    async fn distribute_yield(
        &self,
        treasury: &str,
        period_start: DateTime<Utc>,
        period_end: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        step(8, "Treasury distributes a yield period by time-weighted balance");
        let settled = period_end + Span::seconds(YIELD_SETTLE_SECS);
        let wait = (settled - Utc::now()).to_std().unwrap_or_default();
        if !wait.is_zero() {
            say(format!(
                "a period is distributed once it has been closed for a minute; waiting {}s",
                wait.as_secs() + 1
            ));
            tokio::time::sleep(wait).await;
        }
        let reward = json!({ "asset": "USDC", "amount": "5.00", "period_start": secs(period_start),
                             "period_end": secs(period_end), "source": "circle", "reference": "demo-reward-1" });
        self.expect(
            StatusCode::CREATED,
            Method::POST,
            "/v1/treasury/yield/rewards",
            treasury,
            None,
            Some(&reward),
        )
        .await?;
        say(format!(
            "an issuer reward of 5.00 USDC for {} to {} (POST /v1/treasury/yield/rewards)",
            secs(period_start),
            secs(period_end)
        ));
        let request = json!({ "asset": "USDC", "period_start": secs(period_start),
                              "period_end": secs(period_end), "take_rate_bps": 1000 });
        let distribution = self
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/v1/treasury/yield/distributions",
                treasury,
                Some("demo-yield-1"),
                Some(&request),
            )
            .await?;
        say(format!(
            "distributed with a 10% platform take (POST /v1/treasury/yield/distributions): {}",
            distribution["id"].as_str().unwrap_or_default()
        ));
        let statements = self.get("/v1/yield/statements", &self.key).await?;
        let mine = &statements["data"][0];
        let net = decimal(&mine["net"])?;
        ensure!(net > Decimal::ZERO, "the merchant earned nothing: {statements}");
        done(format!(
            "the merchant's statement: time-weighted balance {} USDC, gross {}, fees {}, net {} credited",
            mine["twab"], mine["gross"], mine["fees"], mine["net"]
        ));
        Ok(())
    }
}

struct RampOrder {
    id: String,
    account: &'static str,
}

/// A one-line camt.053 statement: RampCo's 920.00 EUR for order RAMP-DEMO-1, booked `day`.
fn camt053(account: &str, day: chrono::NaiveDate) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>DEMO-{day}</MsgId><CreDtTm>{day}T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>DEMO-STMT-{day}</Id>
      <Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">920.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
      <Ntry>
        <Amt Ccy="EUR">920.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
        <AcctSvcrRef>BANK-DEMO-1</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>RAMP-DEMO-1</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>RampCo GmbH</Nm></Dbtr></RltdPties>
          <RmtInf><Strd><CdtrRefInf><Ref>RAMP-DEMO-1</Ref></CdtrRefInf></Strd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#
    )
}
