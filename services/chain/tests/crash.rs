//! The submitter process is killed with SIGKILL at the two dangerous moments: after persisting a
//! signed transaction but before broadcasting it, and after broadcasting but before recording
//! that. After a restart every intent has exactly one mined transaction, with the persisted bytes.

mod common;

use alloy::{eips::eip2718::Encodable2718, primitives::U256, providers::Provider};
use common::{Chain, chain, enqueue, recipient, statuses};
use sqlx::PgPool;
use std::os::unix::process::ExitStatusExt;

/// One submitter round in a child process, optionally killed at a failpoint.
fn run_once(chain: &Chain, database_url: &str, failpoint: Option<&str>) -> std::process::ExitStatus {
    let key = alloy::hex::encode_prefixed(chain.keys.submitter.to_bytes());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_submitter-once"));
    cmd.env("DATABASE_URL", database_url)
        .env("CORRIDOR_CHAIN_RPC_URL", chain.anvil.endpoint_url().to_string())
        .env("CORRIDOR_CHAIN_ID", "31337")
        .env("CORRIDOR_CHAIN_SUBMITTER_KEY", key)
        .env("RUST_LOG", "warn");
    if let Some(f) = failpoint {
        cmd.env("CORRIDOR_FAILPOINT", f);
    }
    cmd.status().expect("run submitter-once")
}

async fn database_url(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut url = reqwest::Url::parse(&base).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn crash_then_recover(pool: PgPool, failpoint: &str) {
    let chain = chain().await;
    let url = database_url(&pool).await;
    let sender = corridor_chain::store::hex_lower(chain.keys.submitter.address());
    // The first round registers the sender; nothing is queued yet.
    assert!(run_once(&chain, &url, None).success());
    let intent = enqueue(&pool, &chain, &sender, recipient(500), 4_242).await;

    let killed = run_once(&chain, &url, Some(failpoint));
    assert_eq!(killed.signal(), Some(9), "the child died of SIGKILL at {failpoint}");
    let (hash, raw): (String, Vec<u8>) =
        sqlx::query_as("SELECT tx_hash, raw FROM chain.transactions WHERE intent_id = $1")
            .bind(intent)
            .fetch_one(&pool)
            .await
            .unwrap();
    // The lease of the dead process must lapse before another may sign for this sender.
    sqlx::query("UPDATE chain.senders SET lease_expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();

    for _ in 0..3 {
        assert!(run_once(&chain, &url, None).success());
        chain.mine().await;
    }
    assert!(run_once(&chain, &url, None).success());
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 1)]);
    let mined: String = sqlx::query_scalar("SELECT mined_tx_hash FROM chain.intents WHERE id = $1")
        .bind(intent)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        mined, hash,
        "the transaction mined is the one persisted before the crash"
    );
    let on_chain = chain
        .provider
        .get_transaction_by_hash(hash.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_chain.inner.encoded_2718(), raw, "byte for byte");
    let signed: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.transactions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(signed, 1, "nothing signed twice");
    assert_eq!(
        chain.balance(recipient(500)).await,
        U256::from(4_242u64),
        "one transfer"
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn sigkill_after_persisting_before_broadcasting(pool: PgPool) {
    crash_then_recover(pool, "submitter.after_persist").await;
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn sigkill_after_broadcasting_before_recording(pool: PgPool) {
    crash_then_recover(pool, "submitter.after_broadcast").await;
}
