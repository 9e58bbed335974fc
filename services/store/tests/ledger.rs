//! The ledger against a real Postgres: every test gets its own database (#[sqlx::test]).

use corridor_domain::{
    AssetRegistry, Money,
    ids::{EntryId, HoldId, MerchantId},
};
use corridor_ledger::{AccountKey, EntryDraft, HoldState, LedgerError, Purpose};
use corridor_store::{StoreError, ledger, merchants};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use sqlx::{PgPool, Row};

fn registry() -> AssetRegistry {
    AssetRegistry::builtin()
}

fn usdc(amount: &str) -> Money {
    Money::parse(amount, registry().get("USDC").unwrap()).unwrap()
}

fn key(merchant: MerchantId, purpose: Purpose) -> AccountKey {
    AccountKey::merchant(merchant, usdc("0").asset().clone(), purpose)
}

fn funding() -> AccountKey {
    AccountKey::platform(usdc("0").asset().clone(), Purpose::SandboxFunding)
}

async fn merchant_with(pool: &PgPool, amount: &str) -> MerchantId {
    let mut tx = pool.begin().await.unwrap();
    let m = MerchantId::new();
    merchants::insert(&mut tx, m, "Acme GmbH").await.unwrap();
    if amount != "0" {
        let entry = EntryDraft::transfer(
            "sandbox_credit",
            "",
            funding(),
            key(m, Purpose::Available),
            usdc(amount),
        );
        ledger::post_entry(&mut tx, &entry, &registry()).await.unwrap();
    }
    tx.commit().await.unwrap();
    m
}

async fn available(pool: &PgPool, m: MerchantId) -> Money {
    let mut conn = pool.acquire().await.unwrap();
    ledger::balance(&mut conn, &key(m, Purpose::Available), &registry())
        .await
        .unwrap()
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn an_unbalanced_entry_written_directly_in_sql_is_rejected_at_commit(pool: PgPool) {
    let m = merchant_with(&pool, "100").await;
    let mut conn = pool.acquire().await.unwrap();
    let account = ledger::ensure_account(&mut conn, &key(m, Purpose::Available), &registry())
        .await
        .unwrap();
    drop(conn);

    let mut tx = pool.begin().await.unwrap();
    let entry = EntryId::new().as_uuid();
    sqlx::query("INSERT INTO ledger.entries (id, kind) VALUES ($1, 'forged')")
        .bind(entry)
        .execute(&mut *tx)
        .await
        .unwrap();
    // Each statement on its own is accepted: the check is deferred to COMMIT.
    sqlx::query("INSERT INTO ledger.postings (entry_id, account_id, asset, amount) VALUES ($1, $2, 'USDC', 5)")
        .bind(entry)
        .bind(account.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = tx.commit().await.expect_err("commit must fail");
    let db = err.as_database_error().expect("a database error");
    assert_eq!(db.constraint(), Some("entries_balanced"));
    assert_eq!(
        available(&pool, m).await,
        usdc("100"),
        "nothing of the forged entry remains"
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn journal_rows_can_be_neither_updated_nor_deleted(pool: PgPool) {
    merchant_with(&pool, "10").await;
    for sql in [
        "UPDATE ledger.postings SET amount = amount * 2",
        "DELETE FROM ledger.postings",
        "DELETE FROM ledger.entries",
        "TRUNCATE ledger.entries CASCADE",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_posting_in_the_wrong_asset_or_scale_is_rejected_by_the_database(pool: PgPool) {
    let m = merchant_with(&pool, "10").await;
    let mut conn = pool.acquire().await.unwrap();
    let account = ledger::ensure_account(&mut conn, &key(m, Purpose::Available), &registry())
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let entry = EntryId::new().as_uuid();
    sqlx::query("INSERT INTO ledger.entries (id, kind) VALUES ($1, 'forged')")
        .bind(entry)
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query(
        "INSERT INTO ledger.postings (entry_id, account_id, asset, amount) VALUES ($1, $2, 'USDC', 0.0000001)",
    )
    .bind(entry)
    .bind(account.as_uuid())
    .execute(&mut *tx)
    .await
    .expect_err("7 decimals on a 6-decimal asset");
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("postings_amount_within_scale")
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_hold_posts_once_and_cannot_then_be_voided(pool: PgPool) {
    let m = merchant_with(&pool, "100").await;
    let reg = registry();
    let hold_id = HoldId::new();
    let mut tx = pool.begin().await.unwrap();
    ledger::create_hold(&mut tx, hold_id, m, &usdc("40"), "payout", &reg)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(available(&pool, m).await, usdc("60"));

    let clearing = AccountKey::platform(usdc("0").asset().clone(), Purpose::ChainClearing);
    let fees = AccountKey::platform(usdc("0").asset().clone(), Purpose::PlatformFees);
    let mut tx = pool.begin().await.unwrap();
    let posted = ledger::post_hold(
        &mut tx,
        hold_id,
        &[(clearing, usdc("39.5")), (fees, usdc("0.5"))],
        "final",
        &reg,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(posted.state, HoldState::Posted);

    let mut tx = pool.begin().await.unwrap();
    let err = ledger::void_hold(&mut tx, hold_id, "too late", &reg).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Ledger(LedgerError::HoldAlreadyResolved(HoldState::Posted))
        ),
        "{err:?}"
    );
    drop(tx);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, &key(m, Purpose::Reserved), &reg)
            .await
            .unwrap(),
        usdc("0")
    );
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn the_database_refuses_to_resolve_a_hold_twice_even_behind_the_codes_back(pool: PgPool) {
    let m = merchant_with(&pool, "100").await;
    let hold_id = HoldId::new();
    let mut tx = pool.begin().await.unwrap();
    ledger::create_hold(&mut tx, hold_id, m, &usdc("10"), "", &registry())
        .await
        .unwrap();
    ledger::void_hold(&mut tx, hold_id, "", &registry()).await.unwrap();
    tx.commit().await.unwrap();
    let err =
        sqlx::query("UPDATE ledger.holds SET status = 'posted', resolved_entry_id = pending_entry_id WHERE id = $1")
            .bind(hold_id.as_uuid())
            .execute(&pool)
            .await
            .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("holds_resolve_once")
    );
    assert_eq!(available(&pool, m).await, usdc("100"));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_hold_beyond_the_available_balance_fails_and_reserves_nothing(pool: PgPool) {
    let m = merchant_with(&pool, "5").await;
    let mut tx = pool.begin().await.unwrap();
    let err = ledger::create_hold(&mut tx, HoldId::new(), m, &usdc("5.000001"), "", &registry())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InsufficientFunds), "{err:?}");
    drop(tx); // rolled back
    assert_eq!(available(&pool, m).await, usdc("5"));
    let holds: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger.holds")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(holds, 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn concurrent_holds_never_overdraw_the_balance(pool: PgPool) {
    let m = merchant_with(&pool, "100").await;
    let attempts = (0..40).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            match ledger::create_hold(&mut tx, HoldId::new(), m, &usdc("10"), "", &registry()).await {
                Ok(_) => tx.commit().await.map(|_| true).map_err(StoreError::from),
                Err(StoreError::InsufficientFunds) => Ok(false),
                Err(e) => Err(e),
            }
        })
    });
    let results: Vec<bool> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        10,
        "exactly 100 / 10 holds fit"
    );
    assert_eq!(available(&pool, m).await, usdc("0"));
    let mut conn = pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn check_detects_a_balance_edited_behind_the_ledgers_back(pool: PgPool) {
    let m = merchant_with(&pool, "10").await;
    let mut conn = pool.acquire().await.unwrap();
    assert!(ledger::check(&mut conn).await.unwrap().is_consistent());
    sqlx::query("UPDATE ledger.accounts SET balance = balance + 1 WHERE owner_id = $1")
        .bind(m.as_uuid())
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = ledger::check(&mut conn).await.unwrap();
    assert_eq!(report.balance_mismatches.len(), 1);
    assert!(!report.is_consistent());
}

/// Operations of the property test, applied both to Postgres and to an obviously correct model.
#[derive(Debug, Clone)]
enum Op {
    Credit(u32),
    Hold(u32),
    Post(usize),
    Void(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..5_000).prop_map(Op::Credit),
        (1u32..5_000).prop_map(Op::Hold),
        (0usize..8).prop_map(Op::Post),
        (0usize..8).prop_map(Op::Void),
    ]
}

fn units(n: u32) -> Money {
    usdc(&format!("{}.{:06}", n / 100, (n % 100) * 10_000))
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn random_operation_sequences_match_a_simple_model(pool: PgPool) {
    // Sequences are drawn from the proptest strategy up front and replayed against Postgres
    // (async tests cannot run inside proptest's synchronous runner; shrinking is the price).
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(op(), 1..30);
    let reg = registry();
    for _case in 0..24 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        {
            let m = merchant_with(&pool, "0").await;
            // Model: balances in hundredths, holds as (amount, resolved).
            let (mut avail, mut reserved) = (0i64, 0i64);
            let mut holds: Vec<(HoldId, i64, bool)> = Vec::new();
            for op in ops {
                let mut tx = pool.begin().await.unwrap();
                match op {
                    Op::Credit(n) => {
                        let e = EntryDraft::transfer("credit", "", funding(), key(m, Purpose::Available), units(n));
                        ledger::post_entry(&mut tx, &e, &reg).await.unwrap();
                        avail += i64::from(n);
                    }
                    Op::Hold(n) => {
                        let id = HoldId::new();
                        match ledger::create_hold(&mut tx, id, m, &units(n), "", &reg).await {
                            Ok(_) => {
                                assert!(avail >= i64::from(n), "database accepted an overdraft");
                                avail -= i64::from(n);
                                reserved += i64::from(n);
                                holds.push((id, i64::from(n), false));
                            }
                            Err(StoreError::InsufficientFunds) => {
                                assert!(avail < i64::from(n), "database refused a covered hold");
                                continue;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    Op::Post(i) | Op::Void(i) if holds.is_empty() => {
                        let _ = i;
                        continue;
                    }
                    Op::Post(i) => {
                        let idx = i % holds.len();
                        let (id, n, resolved) = holds[idx];
                        let dest = AccountKey::platform(usdc("0").asset().clone(), Purpose::ChainClearing);
                        let r = ledger::post_hold(&mut tx, id, &[(dest, units(n as u32))], "", &reg).await;
                        assert_eq!(r.is_ok(), !resolved, "post must succeed exactly when unresolved");
                        if resolved {
                            continue;
                        }
                        reserved -= n;
                        holds[idx].2 = true;
                    }
                    Op::Void(i) => {
                        let idx = i % holds.len();
                        let (id, n, resolved) = holds[idx];
                        let r = ledger::void_hold(&mut tx, id, "", &reg).await;
                        assert_eq!(r.is_ok(), !resolved, "void must succeed exactly when unresolved");
                        if resolved {
                            continue;
                        }
                        reserved -= n;
                        avail += n;
                        holds[idx].2 = true;
                    }
                }
                tx.commit().await.unwrap();
            }
            let mut conn = pool.acquire().await.unwrap();
            assert_eq!(
                ledger::balance(&mut conn, &key(m, Purpose::Available), &reg)
                    .await
                    .unwrap(),
                units(avail as u32)
            );
            assert_eq!(
                ledger::balance(&mut conn, &key(m, Purpose::Reserved), &reg)
                    .await
                    .unwrap(),
                units(reserved as u32)
            );
            let report = ledger::check(&mut conn).await.unwrap();
            assert!(report.is_consistent(), "{report:?}");
        }
    }
    let total: rust_decimal::Decimal = sqlx::query("SELECT COALESCE(sum(amount), 0) AS s FROM ledger.postings")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("s");
    assert!(total.is_zero(), "all postings ever written sum to zero");
}
