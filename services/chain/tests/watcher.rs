//! The watcher against a real anvil (manual mining) and a real Postgres: detection, finality by
//! depth, and reorgs that end with exactly one canonical transfer.

mod common;

use alloy::primitives::U256;
use alloy::providers::{Provider, ext::AnvilApi};
use common::{Chain, chain, enqueue, recipient};
use corridor_chain::{
    bindings::TestStablecoin,
    watcher::{self, Watcher},
};
use sqlx::PgPool;

/// A watcher at `depth` confirmations following the test USDC, recording transfers of `addresses`.
async fn watcher(chain: &Chain, pool: &PgPool, depth: u64, addresses: &[alloy::primitives::Address]) -> Watcher {
    let mut conn = pool.acquire().await.unwrap();
    watcher::watch_contract(&mut conn, 31337, chain.deployment.usdc, "erc20")
        .await
        .unwrap();
    for address in addresses {
        watcher::watch_address(&mut conn, 31337, *address, "test")
            .await
            .unwrap();
    }
    chain.watcher(pool, depth)
}

async fn observations(pool: &PgPool) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT status, tx_hash, block_number FROM chain.observations ORDER BY created_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn outbox_types(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM platform.outbox ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_deposit_is_seen_at_once_and_final_exactly_at_the_policy_depth(pool: PgPool) {
    let chain = chain().await;
    let treasury = recipient(42);
    let w = watcher(&chain, &pool, 3, &[treasury]).await;
    w.tick().await.unwrap(); // starts following at the current head

    let usdc = TestStablecoin::new(chain.deployment.usdc, &chain.provider);
    // Mints are Transfer events from the zero address: a deposit into the watched treasury,
    // and one into an unwatched address that must be ignored.
    let _pending = usdc.mint(treasury, U256::from(1_234u64)).send().await.unwrap();
    let _other = usdc.mint(recipient(43), U256::from(1u64)).send().await.unwrap();
    chain.mine().await;
    w.tick().await.unwrap();
    let seen = observations(&pool).await;
    assert_eq!(seen.len(), 1, "only the watched address's transfer");
    assert_eq!(seen[0].0, "seen");

    chain.mine().await;
    w.tick().await.unwrap();
    assert_eq!(
        observations(&pool).await[0].0,
        "seen",
        "two confirmations are not final at depth 3"
    );
    chain.mine().await;
    w.tick().await.unwrap();
    assert_eq!(observations(&pool).await[0].0, "final", "three confirmations are");
    assert_eq!(
        outbox_types(&pool).await,
        ["chain.observation.seen", "chain.observation.finalized"]
    );
    w.tick().await.unwrap();
    assert_eq!(outbox_types(&pool).await.len(), 2, "nothing is announced twice");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_transfer_mined_before_the_watcher_first_starts_still_becomes_final(pool: PgPool) {
    let chain = chain().await;
    let to = recipient(77);
    let s = chain.submitter(&pool, |_| {}).await;
    let intent = enqueue(&pool, &chain, s.sender(), to, 5).await;
    s.tick().await.unwrap();
    chain.mine().await;
    s.tick().await.unwrap();
    for _ in 0..3 {
        chain.mine().await;
    }
    // The watcher starts only now, three blocks past the transfer's block.
    let w = watcher(&chain, &pool, 2, &[to]).await;
    w.tick().await.unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM chain.intents WHERE id = $1")
        .bind(intent)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "final");
    assert!(
        outbox_types(&pool)
            .await
            .contains(&"chain.transfer.finalized".to_owned())
    );
}

/// A transfer sent by the submitter is mined, seen, then its block is orphaned by a reorg of
/// `depth` blocks. It must never be reported final while orphaned, and must end as exactly one
/// canonical, final transfer.
async fn reorg_ends_with_one_canonical_transfer(pool: PgPool, depth: u64) {
    let chain = chain().await;
    let to = recipient(100 + depth);
    let w = watcher(&chain, &pool, 5, &[to]).await;
    let s = chain.submitter(&pool, |_| {}).await;
    w.tick().await.unwrap();

    let snapshot = chain.provider.anvil_snapshot().await.unwrap();
    let intent = enqueue(&pool, &chain, s.sender(), to, 777).await;
    s.tick().await.unwrap();
    for _ in 0..depth {
        chain.mine().await;
    }
    s.tick().await.unwrap();
    w.tick().await.unwrap();
    assert_eq!(observations(&pool).await.len(), 1);
    let status: String = sqlx::query_scalar("SELECT status FROM chain.intents WHERE id = $1")
        .bind(intent)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "mined");

    // The reorg: the blocks holding the transfer disappear; a longer chain without them wins.
    assert!(chain.provider.anvil_revert(snapshot).await.unwrap());
    for _ in 0..=depth {
        chain.mine().await;
    }
    let report = w.tick().await.unwrap();
    assert_eq!(report.orphaned_blocks, depth, "exactly the reorged blocks are orphaned");
    assert_eq!(observations(&pool).await[0].0, "orphaned");
    assert!(
        outbox_types(&pool)
            .await
            .contains(&"chain.observation.reorged".to_owned())
    );

    for _ in 0..20 {
        s.tick().await.unwrap();
        chain.mine().await;
        w.tick().await.unwrap();
        let final_count: i64 = sqlx::query_scalar("SELECT count(*) FROM chain.observations WHERE status = 'final'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if final_count > 0 {
            break;
        }
    }
    let obs = observations(&pool).await;
    let finals: Vec<_> = obs.iter().filter(|o| o.0 == "final").collect();
    assert_eq!(finals.len(), 1, "one canonical final transfer: {obs:?}");
    assert_eq!(obs.iter().filter(|o| o.0 == "orphaned").count(), 1);
    let never_final_while_orphaned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chain.observations WHERE status = 'orphaned' AND finalized_at IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(never_final_while_orphaned, 0);
    assert_eq!(
        chain.balance(to).await,
        U256::from(777u64),
        "paid exactly once on the canonical chain"
    );
    let head = chain.provider.get_block_number().await.unwrap() as i64;
    assert!(head - finals[0].2 + 1 >= 5, "final only at the policy depth");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_reorg_of_depth_one_ends_with_one_canonical_transfer(pool: PgPool) {
    reorg_ends_with_one_canonical_transfer(pool, 1).await;
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_reorg_of_depth_three_ends_with_one_canonical_transfer(pool: PgPool) {
    reorg_ends_with_one_canonical_transfer(pool, 3).await;
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn invoice_payments_and_payout_executions_are_observed_with_their_fields(pool: PgPool) {
    use alloy::{
        network::EthereumWallet,
        primitives::{B256, FixedBytes},
        providers::ProviderBuilder,
        signers::SignerSync,
    };
    use corridor_chain::{
        bindings::{InvoicePayments, PayoutRouter},
        router::{BatchItem, pack_items},
    };
    let chain = chain().await;
    let mut conn = pool.acquire().await.unwrap();
    watcher::watch_contract(&mut conn, 31337, chain.deployment.invoice_payments, "invoice_payments")
        .await
        .unwrap();
    watcher::watch_contract(&mut conn, 31337, chain.deployment.payout_router, "payout_router")
        .await
        .unwrap();
    drop(conn);
    let w = chain.watcher(&pool, 1);
    w.tick().await.unwrap();
    chain.provider.anvil_set_auto_mine(true).await.unwrap();

    // A buyer pays an invoice reference.
    let buyer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(chain.keys.buyer.clone()))
        .connect_http(chain.anvil.endpoint_url());
    let reference = B256::repeat_byte(0x77);
    TestStablecoin::new(chain.deployment.usdc, &buyer)
        .approve(chain.deployment.invoice_payments, U256::from(5_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    InvoicePayments::new(chain.deployment.invoice_payments, &buyer)
        .pay(chain.deployment.usdc, U256::from(5_000_000u64), reference)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // The submitter pays one attested payout through the router.
    let submitter = ProviderBuilder::new()
        .wallet(EthereumWallet::from(chain.keys.submitter.clone()))
        .connect_http(chain.anvil.endpoint_url());
    let router = PayoutRouter::new(chain.deployment.payout_router, &submitter);
    let item = BatchItem {
        payout_id: FixedBytes::<16>::repeat_byte(0x11),
        recipient: recipient(7),
        amount: U256::from(9u64),
    };
    let (nonce, expiry, decision) = (U256::from(1u64), U256::from(u64::MAX), B256::repeat_byte(0x42));
    let digest = router
        .payoutDigest(
            chain.deployment.usdc,
            item.payout_id,
            item.recipient,
            item.amount,
            nonce,
            expiry,
            decision,
        )
        .call()
        .await
        .unwrap();
    let signature = chain.keys.compliance.sign_hash_sync(&digest).unwrap();
    let packed = pack_items(std::slice::from_ref(&item)).unwrap();
    router
        .pay(
            chain.deployment.usdc,
            packed,
            nonce,
            expiry,
            decision,
            signature.as_bytes().into(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    chain.provider.anvil_set_auto_mine(false).await.unwrap();

    w.tick().await.unwrap();
    let rows: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT kind, fields FROM chain.observations ORDER BY block_number, log_index")
            .fetch_all(&pool)
            .await
            .unwrap();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["invoice_paid", "payout_executed"]);
    let paid = &rows[0].1;
    assert_eq!(paid["reference"], format!("{reference:#x}"));
    assert_eq!(paid["amount"], "5000000");
    assert_eq!(paid["payer"], format!("{:#x}", chain.keys.buyer.address()));
    assert_eq!(paid["token"], format!("{:#x}", chain.deployment.usdc));
    let executed = &rows[1].1;
    assert_eq!(executed["payout_id"], format!("0x{}", "11".repeat(16)));
    assert_eq!(executed["decision_hash"], format!("{decision:#x}"));
}

/// Two replicas of the chain service never ingest at once: while another session holds the
/// chain's watcher lock a round does nothing, and the next round after it is released catches up.
#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_watcher_waits_its_turn_while_another_process_holds_the_chain(pool: PgPool) {
    let chain = chain().await;
    let treasury = recipient(44);
    let w = watcher(&chain, &pool, 2, &[treasury]).await;
    w.tick().await.unwrap();
    let usdc = TestStablecoin::new(chain.deployment.usdc, &chain.provider);
    let _pending = usdc.mint(treasury, U256::from(5u64)).send().await.unwrap();
    chain.mine().await;

    let mut other = pool.acquire().await.unwrap();
    let key = watcher::watcher_lock_key(31337);
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(&key)
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(taken, "the watcher released the lock after its round");
    assert_eq!(w.tick().await.unwrap(), watcher::WatchReport::default());
    assert!(
        observations(&pool).await.is_empty(),
        "nothing ingested without the lock"
    );

    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind(&key)
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(released);
    let report = w.tick().await.unwrap();
    assert_eq!((report.blocks, report.observed), (1, 1), "{report:?}");
    assert_eq!(observations(&pool).await.len(), 1);
}
