//! Benchmark (not a test): 1,000,000 bank lines against 1,000,000 ramp orders and their chain
//! transfers, imported and matched.
//!
//!     cargo run --release -p corridor-reconciliation --example recon_bench [lines]
//!
//! Needs Postgres at 127.0.0.1:5432 (user postgres); creates a fresh `corridor_bench_recon`
//! database. Timed: parsing and importing an MT940 file of `lines` lines (1,000 statements), and
//! a run over the month (reading orders, lines and transfers, matching, storing every result).
//! Set up untimed, in SQL: the orders and the watcher's transfers. About 1 % of the pairs carry
//! an injected break (missing transfer, amount off by a cent, late booking). Results go to
//! docs/benchmarks.md; the rates printed are the only floats here and touch no money.
#![allow(clippy::float_arithmetic)]

use chrono::NaiveDate;
use corridor_reconciliation::{import, matching::Rules, runs};
use sqlx::{Connection, PgConnection, PgPool};
use std::{fmt::Write, time::Instant};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const URL: &str = "postgres://postgres@127.0.0.1:5432/corridor_bench_recon";
const TREASURY: &str = "0x1111111111111111111111111111111111111111";
const TOKEN: &str = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";

/// The amount of pair `i` in cents, the same in Rust (bank file) and SQL (orders).
fn cents(i: u64) -> u64 {
    (i % 9_973 + 1) * 100 + i % 100
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: u64 = std::env::args().nth(1).map_or(1_000_000, |a| a.parse().expect("lines"));
    let per_statement = 1_000u64;
    let mut admin = PgConnection::connect(ADMIN_URL).await?;
    sqlx::query("DROP DATABASE IF EXISTS corridor_bench_recon WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::query("CREATE DATABASE corridor_bench_recon")
        .execute(&mut admin)
        .await?;
    let pool = PgPool::connect(URL).await?;
    corridor_store::MIGRATOR.run(&pool).await?;

    // Untimed set-up: the bank account, the orders (every 100th expects its booking 3 days
    // later than it comes, every 97th is a cent off) and the transfers (every 89th missing).
    let t = Instant::now();
    let account = uuid::Uuid::now_v7();
    sqlx::query("INSERT INTO reconciliation.bank_accounts (id, account, currency, name) VALUES ($1, 'NL91ABNA0417164300', 'EUR', 'bench')")
        .bind(account)
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO reconciliation.ramp_orders (id, direction, partner, bank_account_id, fiat_amount, fiat_currency,
                asset, chain_id, token_contract, token_units, chain_address, reference, expected_on)
         SELECT gen_random_uuid(), 'on', 'bench', $1,
                ((i % 9973 + 1) * 100 + i % 100 + CASE WHEN i % 97 = 0 THEN 1 ELSE 0 END) / 100.0, 'EUR',
                'USDC', 8453, $2, i * 1000, $3, 'R' || i,
                DATE '2026-01-01' + (i % 28)::int - CASE WHEN i % 100 = 0 THEN 3 ELSE 0 END
           FROM generate_series(1, $4::bigint) i",
    )
    .bind(account)
    .bind(TOKEN)
    .bind(TREASURY)
    .bind(n as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO chain.blocks (chain_id, number, hash, parent_hash) SELECT 8453, b, 'h' || b, 'h' || (b - 1)
           FROM generate_series(0, 999) b",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO chain.observations (id, chain_id, block_number, block_hash, tx_hash, log_index, contract, kind, fields, status, created_at)
         SELECT gen_random_uuid(), 8453, i % 1000, 'h' || (i % 1000), 't' || i, (i / 1000)::int, $1, 'erc20_transfer',
                jsonb_build_object('from', '0x2222222222222222222222222222222222222222', 'to', $2::text, 'value', (i * 1000)::text),
                'final', (DATE '2026-01-01' + (i % 28)::int)::timestamptz + interval '12 hours'
           FROM generate_series(1, $3::bigint) i WHERE i % 89 <> 0",
    )
    .bind(TOKEN)
    .bind(TREASURY)
    .bind(n as i64)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    println!("set-up (untimed): {:.1} s", t.elapsed().as_secs_f64());

    // The bank file: 1,000 lines per statement, each statement balanced.
    let t = Instant::now();
    let mut file = String::with_capacity(n as usize * 80);
    let mut i = 1u64;
    let mut statement = 0u64;
    while i <= n {
        statement += 1;
        let mut total = 0u64;
        let _ = writeln!(file, ":20:S{statement}\n:25:NL91ABNA0417164300\n:60F:C260101EUR0,00");
        for _ in 0..per_statement {
            if i > n {
                break;
            }
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days((i % 28) as i64);
            let c = cents(i);
            total += c;
            let _ = writeln!(
                file,
                ":61:{}C{},{:02}NTRFR{i}//B{i}\n:86:/EREF/R{i}/",
                day.format("%y%m%d"),
                c / 100,
                c % 100
            );
            i += 1;
        }
        let _ = writeln!(file, ":62F:C260131EUR{},{:02}\n-", total / 100, total % 100);
    }
    let generated = t.elapsed();

    let t = Instant::now();
    let mut tx = pool.begin().await?;
    let imported = import::import(&mut tx, "bench.sta", file.as_bytes(), None, None).await?;
    tx.commit().await?;
    let import_time = t.elapsed();
    let generated_mib = file.len() >> 20;

    let t = Instant::now();
    let period = runs::Period {
        from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
    };
    let mut tx = pool.begin().await?;
    let report = runs::plan(&mut tx, period, Rules::default()).await?;
    let planned = t.elapsed();
    runs::record(&mut tx, period, Rules::default(), &report, None).await?;
    tx.commit().await?;
    let run_time = t.elapsed();
    println!("| measure | value | goal |");
    println!("|---|---:|---|");
    println!(
        "| generate the MT940 file (not timed for the goal) | {:.2} s ({generated_mib} MiB) | |",
        generated.as_secs_f64()
    );
    println!(
        "| import (parse, check, dedupe, insert) | {:.2} s ({} lines, {} statements) | |",
        import_time.as_secs_f64(),
        imported.lines,
        imported.statements
    );
    println!("| run: read + match | {:.2} s | |", planned.as_secs_f64());
    println!(
        "| run: store results | {:.2} s ({} results) | |",
        (run_time - planned).as_secs_f64(),
        report.summary.results
    );
    println!(
        "| import + run | {:.2} s | at most 30 s |",
        (import_time + run_time).as_secs_f64()
    );
    println!("| summary | `{}` | |", serde_json::to_string(&report.summary)?);
    Ok(())
}
