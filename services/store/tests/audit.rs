//! The audit log's chain over real Postgres: appends chain in order, the table refuses changes,
//! and `verify` finds an edited, a deleted and a reordered row (made by a superuser who turned
//! the triggers off, which is what it takes).

use corridor_store::audit;
use serde_json::json;
use sqlx::PgPool;

async fn three_rows(pool: &PgPool) {
    let mut tx = pool.begin().await.unwrap();
    for i in 1..=3 {
        let seq = audit::append(&mut tx, "cli", "test.appended", &format!("row-{i}"), &json!({ "i": i }))
            .await
            .unwrap();
        assert_eq!(seq, i);
    }
    tx.commit().await.unwrap();
}

async fn verify(pool: &PgPool) -> audit::AuditReport {
    audit::verify(&mut pool.acquire().await.unwrap()).await.unwrap()
}

async fn as_superuser(pool: &PgPool, statements: &[&'static str]) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE platform.audit_log DISABLE TRIGGER audit_log_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    for &sql in statements {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    sqlx::query("ALTER TABLE platform.audit_log ENABLE TRIGGER audit_log_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn an_intact_chain_verifies_and_the_table_refuses_changes(pool: PgPool) {
    three_rows(&pool).await;
    let report = verify(&pool).await;
    assert_eq!((report.rows, &report.broken_at), (3, &None));
    assert_eq!(report.head.len(), 64);
    for sql in [
        "UPDATE platform.audit_log SET actor = 'someone else' WHERE seq = 2",
        "DELETE FROM platform.audit_log WHERE seq = 2",
        "TRUNCATE platform.audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn an_edited_row_is_found(pool: PgPool) {
    three_rows(&pool).await;
    as_superuser(
        &pool,
        &["UPDATE platform.audit_log SET detail = '{\"i\": 20}' WHERE seq = 2"],
    )
    .await;
    let report = verify(&pool).await;
    let (seq, why) = report.broken_at.unwrap();
    assert_eq!((seq, report.rows), (2, 1));
    assert!(why.contains("edited"), "{why}");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_deleted_row_is_found(pool: PgPool) {
    three_rows(&pool).await;
    as_superuser(&pool, &["DELETE FROM platform.audit_log WHERE seq = 2"]).await;
    let (seq, why) = verify(&pool).await.broken_at.unwrap();
    assert_eq!(seq, 3);
    assert!(why.contains("missing"), "{why}");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn reordered_rows_are_found(pool: PgPool) {
    three_rows(&pool).await;
    // Rows 2 and 3 swap places, each keeping its own fields and hashes.
    as_superuser(
        &pool,
        &[
            "UPDATE platform.audit_log SET seq = 100 WHERE seq = 2",
            "UPDATE platform.audit_log SET seq = 2 WHERE seq = 3",
            "UPDATE platform.audit_log SET seq = 3 WHERE seq = 100",
        ],
    )
    .await;
    let (seq, why) = verify(&pool).await.broken_at.unwrap();
    assert_eq!(seq, 2);
    assert!(why.contains("reordered") || why.contains("edited"), "{why}");
}
