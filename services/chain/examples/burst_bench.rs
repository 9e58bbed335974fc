//! A burst of 10,000 ERC-20 transfers through the submitter on anvil (`--block-time 1
//! --order fifo`), next to anvil's own acceptance rate for pre-signed raw transactions measured
//! in the same run.
//!
//! Run: cargo run -p corridor-chain --example burst_bench
//! Needs Postgres (BENCH_DATABASE_SERVER, default postgres://postgres@127.0.0.1:5432); it creates
//! and drops its own database. Prints a markdown table.

// Rates and percentages for the report are floats; no money passes through this file.
#![allow(clippy::float_arithmetic)]

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockNumberOrTag, eip2718::Encodable2718},
    network::{EthereumWallet, TxSignerSync},
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{Provider, ProviderBuilder},
    sol_types::SolCall,
};
use corridor_chain::{
    bindings::TestStablecoin,
    local::{self, DevKeys},
    signer::LocalKeySigner,
    store::{self, hex_lower},
    submitter::{Submitter, SubmitterConfig},
};
use sqlx::{Connection, PgConnection};
use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const TRANSFERS: u64 = 10_000;
const RAW_BASELINE: u64 = 2_000;
const BOUND: Duration = Duration::from_secs(300);

fn recipient(i: u64) -> Address {
    Address::from_word(B256::from(U256::from(0xBEEF_0000_0000u64 + i)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let anvil = local::spawn_anvil(&root, None)?;
    let keys = DevKeys::from_anvil(&anvil);
    let d = local::deploy(anvil.endpoint_url(), &keys, U256::from(10u64).pow(U256::from(15u64))).await?;
    let deployer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(keys.deployer.clone()))
        .connect_http(anvil.endpoint_url());
    TestStablecoin::new(d.usdc, &deployer)
        .mint(keys.submitter.address(), U256::from(10u64).pow(U256::from(15u64)))
        .send()
        .await?
        .get_receipt()
        .await?;
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url()).erased();

    // Baseline: anvil accepting pre-signed raw transactions, sent one after another.
    let base = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .unwrap()
        .header
        .base_fee_per_gas
        .unwrap_or(1);
    let buyer_nonce = provider.get_transaction_count(keys.buyer.address()).await?;
    let raws: Vec<Vec<u8>> = (0..RAW_BASELINE)
        .map(|i| {
            let mut tx = TxEip1559 {
                chain_id: 31337,
                nonce: buyer_nonce + i,
                gas_limit: 100_000,
                max_fee_per_gas: u128::from(base) * 4 + 1_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(d.usdc),
                value: U256::ZERO,
                access_list: Default::default(),
                input: Bytes::from(
                    TestStablecoin::transferCall {
                        to: recipient(1_000_000 + i),
                        value: U256::from(1u8),
                    }
                    .abi_encode(),
                ),
            };
            let sig = keys.buyer.sign_transaction_sync(&mut tx).expect("sign");
            let env: TxEnvelope = tx.into_signed(sig).into();
            env.encoded_2718()
        })
        .collect();
    let started = Instant::now();
    for raw in &raws {
        let _ = provider.send_raw_transaction(raw).await?;
    }
    let raw_rate = RAW_BASELINE as f64 / started.elapsed().as_secs_f64();
    while provider.get_transaction_count(keys.buyer.address()).await? < buyer_nonce + RAW_BASELINE {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Our submitter on a fresh database.
    let server = std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query("DROP DATABASE IF EXISTS corridor_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::query("CREATE DATABASE corridor_bench")
        .execute(&mut admin)
        .await?;
    let pool = corridor_store::connect(&corridor_store::PoolConfig::new(format!("{server}/corridor_bench"))).await?;
    corridor_store::MIGRATOR.run(&pool).await?;
    let mut config = SubmitterConfig::new(31337);
    config.batch_max = 1_000;
    let signer = Arc::new(LocalKeySigner::new(keys.submitter.clone()));
    let submitter = Submitter::new(pool.clone(), provider.clone(), signer, config).await?;
    let sender = submitter.sender().to_owned();
    let token = hex_lower(d.usdc);
    let enqueue_started = Instant::now();
    for chunk in (0..TRANSFERS).collect::<Vec<_>>().chunks(500) {
        let mut tx = pool.begin().await?;
        for i in chunk {
            let id = Uuid::now_v7();
            let calldata = TestStablecoin::transferCall {
                to: recipient(*i),
                value: U256::from(1_000u64),
            }
            .abi_encode();
            let purpose = format!("bench:{i}");
            store::insert_intent(
                &mut tx,
                store::NewIntent {
                    id,
                    chain_id: 31337,
                    sender: &sender,
                    purpose: &purpose,
                    to: &token,
                    calldata: &calldata,
                    gas_limit: 100_000,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    let enqueue_secs = enqueue_started.elapsed().as_secs_f64();

    let first_block = provider.get_block_number().await?;
    let started = Instant::now();
    let (mut signed_secs, mut broadcast_secs, mut mined_secs) = (None, None, None);
    let (mut signed, mut broadcast, mut mined) = (0usize, 0usize, 0usize);
    while started.elapsed() < BOUND {
        let r = submitter.tick().await?;
        signed += r.signed;
        broadcast += r.broadcast;
        mined += r.mined;
        if signed_secs.is_none() && signed as u64 >= TRANSFERS {
            signed_secs = Some(started.elapsed().as_secs_f64());
        }
        if broadcast_secs.is_none() && broadcast as u64 >= TRANSFERS {
            broadcast_secs = Some(started.elapsed().as_secs_f64());
        }
        if mined as u64 >= TRANSFERS {
            mined_secs = Some(started.elapsed().as_secs_f64());
            break;
        }
        if r.signed == 0 && r.broadcast == 0 && r.mined == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let last_block = provider.get_block_number().await?;
    let mut fullness = Vec::new();
    for n in first_block + 1..=last_block {
        let b = provider
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .await?
            .unwrap();
        fullness.push((b.header.gas_used, b.header.gas_limit, b.transactions.len()));
    }
    // Blocks while a backlog existed: all but the last one that carried our transfers.
    let busy: Vec<_> = fullness.iter().filter(|(_, _, n)| *n > 0).collect();
    let backlog = &busy[..busy.len().saturating_sub(1)];
    let avg_full = backlog.iter().map(|(u, l, _)| *u as f64 / *l as f64).sum::<f64>() / backlog.len().max(1) as f64;
    let gaps: i64 = sqlx::query_scalar(
        "SELECT (max(nonce) - min(nonce) + 1) - count(DISTINCT nonce) FROM chain.intents WHERE status IN ('mined','final')",
    )
    .fetch_one(&pool)
    .await?;
    let duplicates: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT nonce) FROM chain.intents WHERE nonce IS NOT NULL")
            .fetch_one(&pool)
            .await?;

    let sg = signed_secs.unwrap_or(f64::NAN);
    let b = broadcast_secs.unwrap_or(f64::NAN);
    let m = mined_secs.unwrap_or(f64::NAN);
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| anvil raw acceptance, {RAW_BASELINE} pre-signed transactions sent sequentially | {raw_rate:.0} tx/s |");
    println!(
        "| enqueue {TRANSFERS} intents (Postgres, 500 per transaction) | {:.0} intents/s |",
        TRANSFERS as f64 / enqueue_secs
    );
    println!(
        "| submission: signed and persisted (durable, ready to send) | {:.0} tx/s ({sg:.1} s) |",
        TRANSFERS as f64 / sg
    );
    println!(
        "| submission / anvil raw rate | {:.2}x |",
        TRANSFERS as f64 / sg / raw_rate
    );
    println!(
        "| broadcast, paced to about one block of gas in flight | {:.0} tx/s ({b:.1} s) |",
        TRANSFERS as f64 / b
    );
    println!(
        "| inclusion: all {TRANSFERS} mined and recorded | {:.0} tx/s ({m:.1} s) |",
        TRANSFERS as f64 / m
    );
    println!(
        "| blocks used / average fullness while a backlog existed | {} / {:.1} % |",
        busy.len(),
        avg_full * 100.0
    );
    println!("| nonce gaps / duplicates | {gaps} / {duplicates} |");
    drop(pool);
    sqlx::query("DROP DATABASE IF EXISTS corridor_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok(())
}
