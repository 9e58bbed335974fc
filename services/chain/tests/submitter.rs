//! The submitter against a real anvil and a real Postgres. anvil runs with --no-mining and the
//! tests mine blocks themselves, so every step is deterministic (no sleeps).

mod common;

use alloy::{
    primitives::U256,
    providers::{Provider, ext::AnvilApi},
};
use common::{chain, enqueue, expire_lease, recipient, statuses};
use corridor_chain::bindings::TestStablecoin;
use sqlx::PgPool;

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn five_hundred_concurrent_intents_and_two_submitters_use_contiguous_nonces_once(pool: PgPool) {
    let chain = chain().await;
    let a = chain.submitter(&pool, |c| c.batch_max = 120).await;
    let b = chain.submitter(&pool, |c| c.batch_max = 120).await;
    let sender = a.sender().to_owned();
    let first_nonce = chain
        .provider
        .get_transaction_count(chain.keys.submitter.address())
        .await
        .unwrap();

    let creators = (0..500u64).map(|i| {
        let (pool, sender) = (pool.clone(), sender.clone());
        let chain = &chain;
        async move { enqueue(&pool, chain, &sender, recipient(i), 1_000 + i).await }
    });
    futures::future::join_all(creators).await;

    for round in 0..40 {
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(!(ra.signed > 0 && rb.signed > 0), "only the lease holder signs");
        if round == 1 {
            // The leader dies without releasing its lease; the other takes over once it expires.
            expire_lease(&pool).await;
        }
        chain.mine().await;
        if statuses(&pool).await == [("mined".to_owned(), 500)] {
            break;
        }
    }
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 500)]);
    let nonces: Vec<i64> = sqlx::query_scalar("SELECT nonce FROM chain.intents ORDER BY nonce")
        .fetch_all(&pool)
        .await
        .unwrap();
    let expected: Vec<i64> = (first_nonce as i64..first_nonce as i64 + 500).collect();
    assert_eq!(nonces, expected, "contiguous, no gap, no duplicate");
    assert_eq!(
        chain
            .provider
            .get_transaction_count(chain.keys.submitter.address())
            .await
            .unwrap(),
        first_nonce + 500
    );
    for i in [0u64, 250, 499] {
        assert_eq!(
            chain.balance(recipient(i)).await,
            U256::from(1_000 + i),
            "recipient {i} paid exactly once"
        );
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_crash_between_persisting_and_broadcasting_resends_the_persisted_bytes(pool: PgPool) {
    let chain = chain().await;
    let crashed = chain.submitter(&pool, |_| {}).await;
    let id = enqueue(&pool, &chain, crashed.sender(), recipient(1), 5_000).await;
    assert_eq!(
        crashed.assign_and_sign().await.unwrap(),
        1,
        "signed and persisted, never broadcast"
    );
    let (persisted_hash, raw): (String, Vec<u8>) =
        sqlx::query_as("SELECT tx_hash, raw FROM chain.transactions WHERE intent_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    drop(crashed);
    expire_lease(&pool).await;

    let restarted = chain.submitter(&pool, |_| {}).await;
    assert_eq!(restarted.tick().await.unwrap().broadcast, 1);
    chain.mine().await;
    assert_eq!(restarted.tick().await.unwrap().mined, 1);
    let mined_hash: String = sqlx::query_scalar("SELECT mined_tx_hash FROM chain.intents WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mined_hash, persisted_hash, "the persisted bytes were what got mined");
    let tx = chain
        .provider
        .get_transaction_by_hash(persisted_hash.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alloy::eips::eip2718::Encodable2718::encoded_2718(&tx.inner), raw);
    assert_eq!(chain.balance(recipient(1)).await, U256::from(5_000u64));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_crash_between_broadcasting_and_recording_does_not_send_twice(pool: PgPool) {
    let chain = chain().await;
    let crashed = chain.submitter(&pool, |_| {}).await;
    let id = enqueue(&pool, &chain, crashed.sender(), recipient(2), 7_000).await;
    crashed.assign_and_sign().await.unwrap();
    let raw: Vec<u8> = sqlx::query_scalar("SELECT raw FROM chain.transactions WHERE intent_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    // The broadcast reached the node; the process died before writing broadcast_at.
    let _ = chain.provider.send_raw_transaction(&raw).await.unwrap();
    drop(crashed);
    expire_lease(&pool).await;

    let restarted = chain.submitter(&pool, |_| {}).await;
    for _ in 0..3 {
        restarted.tick().await.unwrap();
        chain.mine().await;
    }
    restarted.tick().await.unwrap();
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 1)]);
    assert_eq!(chain.balance(recipient(2)).await, U256::from(7_000u64), "paid once");
    let signed: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.transactions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(signed, 1, "nothing was signed again");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_dropped_transaction_is_rebroadcast_with_the_same_bytes_and_fills_the_gap(pool: PgPool) {
    let chain = chain().await;
    let s = chain.submitter(&pool, |_| {}).await;
    let first = enqueue(&pool, &chain, s.sender(), recipient(3), 1).await;
    enqueue(&pool, &chain, s.sender(), recipient(4), 2).await;
    let report = s.tick().await.unwrap();
    assert_eq!((report.signed, report.broadcast), (2, 2));
    let hash = chain.drop_sent(&pool, first).await;
    chain.mine().await; // the second cannot be mined: there is a gap below its nonce
    assert_eq!(chain.balance(recipient(4)).await, U256::ZERO);

    let report = s.tick().await.unwrap();
    // anvil also evicts the transaction queued behind the gap; both come back, byte for byte.
    assert!(report.rebroadcast >= 1, "the dropped one is detected and sent again");
    let resent: i32 = sqlx::query_scalar("SELECT rebroadcasts FROM chain.transactions WHERE tx_hash = $1")
        .bind(&hash)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(resent, 1);
    chain.mine().await;
    s.tick().await.unwrap();
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 2)]);
    let mined: String = sqlx::query_scalar("SELECT mined_tx_hash FROM chain.intents WHERE id = $1")
        .bind(first)
        .fetch_one(&pool)
        .await
        .unwrap();
    let nonces_used: i64 = sqlx::query_scalar("SELECT count(DISTINCT nonce) FROM chain.transactions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((mined, nonces_used), (hash, 2), "same bytes, no new nonce");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_tenfold_base_fee_is_outbid_by_replacements_until_mined(pool: PgPool) {
    let chain = chain().await;
    let s = chain.submitter(&pool, |c| c.bump_after_secs = 0).await;
    enqueue(&pool, &chain, s.sender(), recipient(5), 9).await;
    s.assign_and_sign().await.unwrap();
    let mut report = corridor_chain::submitter::TickReport::default();
    s.process_pending(&mut report).await.unwrap();
    assert_eq!(report.broadcast, 1);
    let latest = chain
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    let base = latest.header.base_fee_per_gas.unwrap();
    chain
        .provider
        .anvil_set_next_block_base_fee_per_gas(u128::from(base) * 10)
        .await
        .unwrap();
    chain.mine().await;
    assert_eq!(chain.balance(recipient(5)).await, U256::ZERO, "priced out by the spike");

    let mut bumps = 0;
    for _ in 0..10 {
        bumps += s.tick().await.unwrap().bumped;
        chain.mine().await;
        if statuses(&pool).await == [("mined".to_owned(), 1)] {
            break;
        }
    }
    s.tick().await.unwrap();
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 1)]);
    assert!(bumps >= 1);
    let fees: Vec<(rust_decimal::Decimal, rust_decimal::Decimal)> = sqlx::query_as(
        "SELECT max_fee_per_gas, max_priority_fee_per_gas FROM chain.transactions ORDER BY signed_at, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let eighth = rust_decimal::Decimal::new(1125, 3);
    for w in fees.windows(2) {
        assert!(
            w[1].0 >= w[0].0 * eighth && w[1].1 >= w[0].1 * eighth,
            "both fees up by >= 12.5 %: {w:?}"
        );
    }
    let unbroadcast: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.transactions WHERE broadcast_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        unbroadcast, 0,
        "every replacement was accepted, none refused as underpriced"
    );
    assert_eq!(chain.balance(recipient(5)).await, U256::from(9u64), "paid once");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_reverted_transfer_is_failed_with_its_reason_and_not_retried(pool: PgPool) {
    let chain = chain().await;
    let s = chain.submitter(&pool, |c| c.bump_after_secs = 0).await;
    let blocked = recipient(6);
    chain.provider.anvil_set_auto_mine(true).await.unwrap();
    TestStablecoin::new(chain.deployment.usdc, &chain.provider)
        .blacklist(blocked)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    let id = enqueue(&pool, &chain, s.sender(), blocked, 100).await;
    s.tick().await.unwrap();
    chain.mine().await;
    assert_eq!(s.tick().await.unwrap().failed, 1);
    for _ in 0..3 {
        s.tick().await.unwrap();
        chain.mine().await;
    }
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status, failure_reason FROM chain.intents WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    let reason = reason.unwrap();
    assert!(
        reason.contains("reverted") && reason.contains("AccountBlacklisted"),
        "{reason}"
    );
    let signed: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.transactions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(signed, 1, "never retried automatically");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn while_the_node_is_down_intents_wait_and_then_drain_without_duplicates(pool: PgPool) {
    let chain = chain().await;
    let (proxy, s) = chain.submitter_via_proxy(&pool).await;
    for i in 0..5 {
        enqueue(&pool, &chain, s.sender(), recipient(200 + i), 10).await;
    }

    proxy.set_down(true);
    for _ in 0..3 {
        assert!(s.tick().await.is_err(), "the round fails fast while the node is down");
    }
    assert_eq!(
        statuses(&pool).await,
        [("queued".to_owned(), 5)],
        "nothing signed or lost meanwhile"
    );
    let config = corridor_chain::ChainConfig {
        chain_id: 31337,
        rpc_url: proxy.url.clone(),
        finality: corridor_chain::Finality::Depth(1),
    };
    assert!(
        corridor_chain::check_chain_id(&config).await.is_err(),
        "readiness reports the chain down"
    );

    proxy.set_down(false);
    assert!(corridor_chain::check_chain_id(&config).await.is_ok());
    s.tick().await.unwrap();
    chain.mine().await;
    s.tick().await.unwrap();
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 5)]);
    let signed: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.transactions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(signed, 5, "one transaction per intent");
    for i in 0..5 {
        assert_eq!(chain.balance(recipient(200 + i)).await, U256::from(10u64));
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_node_that_comes_back_serving_another_chain_gets_nothing(pool: PgPool) {
    let chain = chain().await;
    let (proxy, s) = chain.submitter_via_proxy(&pool).await;
    enqueue(&pool, &chain, s.sender(), recipient(300), 10).await;

    proxy.set_down(true);
    assert!(s.tick().await.is_err());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let other = alloy::node_bindings::Anvil::at(corridor_chain::local::anvil_path(&root))
        .chain_id(1337)
        .try_spawn()
        .unwrap();
    proxy.set_upstream(&other.endpoint_url());
    proxy.set_down(false);
    let err = s.tick().await.unwrap_err().to_string();
    assert!(err.contains("1337"), "{err}");
    assert_eq!(
        statuses(&pool).await,
        [("queued".to_owned(), 1)],
        "fail closed: nothing signed for the wrong chain"
    );
}
