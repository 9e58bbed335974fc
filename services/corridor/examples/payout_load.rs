//! Payout creation over HTTP on loopback (issue #4's benchmark), next to pgbench running the
//! gateway-like ledger transaction on the same Postgres in the same run.
//!
//! Run: cargo run --release -p corridor --example payout_load
//! Needs Postgres at BENCH_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432) and
//! `pgbench` on the PATH. Creates its own databases. Prints a markdown table.
//!
//! The gateway runs as a child process (this executable with `--serve`: every service, no
//! chain), so its memory is its own; the load generator is this process: CLIENTS concurrent
//! HTTP/1.1 clients, each sending `POST /v1/payouts` with a fresh Idempotency-Key, spread over
//! MERCHANTS funded merchants, for SECONDS after a warm-up.

// Rates and percentiles for the report are floats; no money passes through this file.
#![allow(clippy::float_arithmetic)]

use corridor_domain::{Money, ids::MerchantId};
use corridor_platform::{AppState, Config, auth::Scope, routes};
use sqlx::{Connection, PgConnection};
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 16;
const MERCHANTS: usize = 100;
const SECONDS: u64 = 20;
const WARMUP: Duration = Duration::from_secs(3);
const GATEWAY_DB: &str = "corridor_bench_gateway";
const PGBENCH_DB: &str = "corridor_bench_pgbench";

/// The gateway-like ledger transaction: an idempotency row, an entry with two postings, two
/// balance updates and an outbox row (../shared/notes, "Measured limits on this machine").
const PGBENCH_SCHEMA: &str = r#"
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
INSERT INTO accounts SELECT g, 1000000000 FROM generate_series(1, 2000) g;
CREATE TABLE idem (merchant int, key text, response jsonb, PRIMARY KEY (merchant, key));
CREATE TABLE entries (id bigserial PRIMARY KEY, kind text NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE postings (entry bigint NOT NULL, account int NOT NULL, amount numeric NOT NULL);
CREATE TABLE outbox (seq bigserial PRIMARY KEY, event text NOT NULL, payload jsonb NOT NULL);
"#;

const PGBENCH_SCRIPT: &str = r#"\set a random(1, 1000)
\set k random(1, 2000000000)
BEGIN;
INSERT INTO idem (merchant, key, response) VALUES (:a, :client_id || '-' || :k, '{"status":201}') ON CONFLICT DO NOTHING;
INSERT INTO entries (kind) VALUES ('payout_hold');
INSERT INTO postings VALUES (currval('entries_id_seq'), :a, -10), (currval('entries_id_seq'), :a + 1000, 10);
UPDATE accounts SET balance = balance - 10 WHERE id = :a;
UPDATE accounts SET balance = balance + 10 WHERE id = :a + 1000;
INSERT INTO outbox (event, payload) VALUES ('payout.created', '{"amount":"10"}');
END;
"#;

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: usize,
    errors: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn fresh_database(server: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await?;
    }
    Ok(format!("{server}/{name}"))
}

async fn pgbench(server: &str) -> anyhow::Result<Measured> {
    let url = fresh_database(server, PGBENCH_DB).await?;
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::raw_sql(PGBENCH_SCHEMA).execute(&mut conn).await?;
    let dir = std::env::temp_dir().join(format!("corridor-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("gateway_like.sql");
    std::fs::write(&script, PGBENCH_SCRIPT)?;
    let out = Command::new("pgbench")
        .current_dir(&dir)
        .args(["-n", "-M", "prepared", "-c", &CLIENTS.to_string(), "-j", "2"])
        .args(["-T", &SECONDS.to_string(), "--log", "--log-prefix=lat", "-f"])
        .arg(&script)
        .arg(&url)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tps: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output:\n{stdout}"))?;
    // Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("lat")) {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse::<f64>().ok()) {
                    latencies.push(us / 1000.0);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort_by(f64::total_cmp);
    Ok(Measured {
        rate: tps,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        ok: latencies.len(),
        errors: 0,
    })
}

/// CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every Postgres process on this machine.
fn postgres_cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|pid| cpu_secs(&pid))
        .sum()
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

struct Tenant {
    key: String,
    beneficiary: String,
}

async fn seed(url: &str, base: &str, http: &reqwest::Client) -> anyhow::Result<Vec<Tenant>> {
    let config = Config::from_lookup(|k| (k == "CORRIDOR_DATABASE_URL").then(|| url.to_owned()))?;
    let pool = corridor_store::connect(&config.database).await?;
    let state = AppState::new(pool, config, corridor_domain::AssetRegistry::builtin());
    let mut tenants = Vec::with_capacity(MERCHANTS);
    for i in 0..MERCHANTS {
        let merchant: MerchantId = corridor::admin::create_merchant(&state, &format!("Bench {i}")).await?;
        let key = routes::api_keys_create(&state, merchant, "bench", &Scope::ALL)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .secret;
        let mut tx = state.pool().begin().await?;
        let funds = Money::parse("1000000000", state.registry().get("USDC")?)?;
        routes::sandbox_credit(&mut tx, &state, merchant, funds)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
        let ben: serde_json::Value = http
            .post(format!("{base}/v1/beneficiaries"))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({ "kind": "business", "name": "Lagos Textiles Ltd", "country": "NG",
                "chain_id": 8453, "address": format!("0x{:040x}", 0xbe00 + i) }),
            )
            .send()
            .await?
            .json()
            .await?;
        let beneficiary = ben["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("beneficiary not created: {ben}"))?
            .to_owned();
        tenants.push(Tenant { key, beneficiary });
    }
    Ok(tenants)
}

/// CPU seconds spent during the measured window: (gateway, load generator, Postgres).
type CpuSplit = (f64, f64, f64);

async fn http_load(
    base: &str,
    tenants: &[Tenant],
    http: &reqwest::Client,
    pid: u32,
) -> anyhow::Result<(Measured, u64, CpuSplit)> {
    let run = async |until: Instant, record: bool, offset: usize| -> Vec<(f64, bool)> {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let http = http.clone();
                let base = base.to_owned();
                let mine: Vec<(String, String)> = tenants
                    .iter()
                    .skip(c)
                    .step_by(CLIENTS)
                    .map(|t| (t.key.clone(), t.beneficiary.clone()))
                    .collect();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut n = 0usize;
                    while Instant::now() < until {
                        let (key, ben) = &mine[n % mine.len()];
                        let reference = format!("load-{offset}-{c}-{n}");
                        let started = Instant::now();
                        let res = http
                            .post(format!("{base}/v1/payouts"))
                            .bearer_auth(key)
                            .header("Idempotency-Key", &reference)
                            .json(&serde_json::json!({ "client_reference": reference, "amount": "12.50",
                                "asset": "USDC", "chain_id": 8453, "beneficiary_id": ben, "purpose": "Load test" }))
                            .send()
                            .await;
                        let ok = matches!(&res, Ok(r) if r.status() == 201);
                        if let Ok(r) = res {
                            let _ = r.bytes().await;
                        }
                        if record {
                            seen.push((started.elapsed().as_secs_f64() * 1000.0, ok));
                        }
                        n += 1;
                    }
                    seen
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        all
    };
    run(Instant::now() + WARMUP, false, 0).await;
    let sampling = CancellationToken::new();
    let sampler = {
        let stop = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.is_cancelled() {
                peak = peak.max(rss_kib(pid, "VmRSS:").unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let cpu_before = (cpu_secs(&pid.to_string()), cpu_secs("self"), postgres_cpu_secs());
    let started = Instant::now();
    let results = run(started + Duration::from_secs(SECONDS), true, 1).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (
        cpu_secs(&pid.to_string()) - cpu_before.0,
        cpu_secs("self") - cpu_before.1,
        postgres_cpu_secs() - cpu_before.2,
    );
    sampling.cancel();
    let peak_rss = sampler.await?.max(rss_kib(pid, "VmHWM:").unwrap_or(0));
    let mut latencies: Vec<f64> = results.iter().filter(|(_, ok)| *ok).map(|(ms, _)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    let ok = latencies.len();
    Ok((
        Measured {
            rate: ok as f64 / elapsed,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            ok,
            errors: results.len() - ok,
        },
        peak_rss,
        cpu,
    ))
}

async fn serve_child() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    corridor_platform::telemetry::init(false);
    let pool = corridor_store::connect(&config.database).await?;
    let state = AppState::new(pool, config, corridor_domain::AssetRegistry::builtin());
    let services = corridor::server::select(None, None)?;
    corridor::server::serve(state, services, CancellationToken::new()).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if std::env::args().nth(1).as_deref() == Some("--serve") {
        return serve_child().await;
    }
    let server = std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    println!("pgbench: gateway-like ledger transaction, {CLIENTS} clients, {SECONDS} s ...");
    let baseline = pgbench(&server).await?;

    let url = fresh_database(&server, GATEWAY_DB).await?;
    {
        let config = Config::from_lookup(|k| (k == "CORRIDOR_DATABASE_URL").then(|| url.clone()))?;
        let pool = corridor_store::connect(&config.database).await?;
        corridor_store::MIGRATOR.run(&pool).await?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .env("CORRIDOR_DATABASE_URL", &url)
        .env("CORRIDOR_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(Instant::now() < deadline, "the gateway did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tenants = seed(&url, &base, &http).await?;
    println!("gateway: POST /v1/payouts over HTTP, {CLIENTS} clients, {MERCHANTS} merchants, {SECONDS} s ...");
    let (gateway, peak_rss_kib, cpu) = http_load(&base, &tenants, &http, child.id()).await?;
    let _ = child.kill();
    let _ = child.wait();

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("Machine: {cpus} cores; Postgres and both load generators on the same machine.");
    println!();
    println!("| measure | pgbench gateway-like | gateway POST /v1/payouts | ratio | goal |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| rate (per s) | {:.0} | {:.0} | {:.2}x | at least 0.7x |",
        baseline.rate,
        gateway.rate,
        gateway.rate / baseline.rate
    );
    println!(
        "| p50 latency (ms) | {:.2} | {:.2} | {:.2}x | |",
        baseline.p50_ms,
        gateway.p50_ms,
        gateway.p50_ms / baseline.p50_ms
    );
    println!(
        "| p99 latency (ms) | {:.2} | {:.2} | {:.2}x | at most 3x |",
        baseline.p99_ms,
        gateway.p99_ms,
        gateway.p99_ms / baseline.p99_ms
    );
    println!(
        "| completed / failed | {} / {} | {} / {} | | no failures |",
        baseline.ok, baseline.errors, gateway.ok, gateway.errors
    );
    println!(
        "| gateway peak RSS | | {:.1} MiB | | under 200 MB |",
        peak_rss_kib as f64 / 1024.0
    );
    let per_k = |secs: f64| secs * 1000.0 / gateway.ok.max(1) as f64;
    println!(
        "| CPU s per 1,000 payouts: gateway / load generator / Postgres | | {:.2} / {:.2} / {:.2} | | |",
        per_k(cpu.0),
        per_k(cpu.1),
        per_k(cpu.2)
    );
    Ok(())
}
