//! Receivables aging over real Postgres: open, partially paid and expired invoices by currency
//! and days past due; paid, void and draft invoices are not receivables.

use axum::{
    Router,
    http::{Method, StatusCode},
};
use corridor_platform::{AppState, Config, auth::Role, http};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// (status, currency, total, paid, due date)
type Inv<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

async fn invoice(pool: &PgPool, merchant: Uuid, (status, currency, total, paid, due): Inv<'_>, n: i64) {
    let draft = status == "draft";
    sqlx::query(
        "INSERT INTO invoicing.invoices (id, merchant_id, number, status, currency, buyer, line_items, payment_options,
                                         due_at, subtotal, tax_total, total, amount_paid, payment_ref, page_token, finalized_at)
         VALUES ($1, $2, $3, $4, $5, '{}', '[]', '[]', $6::timestamptz, $7::numeric, 0, $7::numeric, $8::numeric, $9, $10,
                 CASE WHEN $11 THEN NULL ELSE '2026-01-01T00:00:00Z'::timestamptz END)",
    )
    .bind(Uuid::now_v7())
    .bind(merchant)
    .bind(if draft { None } else { Some(n) })
    .bind(status)
    .bind(currency)
    .bind(format!("{due}T12:00:00Z"))
    .bind(total)
    .bind(paid)
    .bind(format!("0x{n:064x}"))
    .bind(format!("{n:032x}"))
    .bind(draft)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn open_invoices_are_aged_by_days_past_due_per_currency(pool: PgPool) {
    let config = Config::from_lookup(|_| None).unwrap();
    let state = AppState::new(pool.clone(), config, corridor_domain::AssetRegistry::builtin());
    let (router, _): (Router, _) = http::app(state.clone(), vec![corridor_reconciliation::routes(state.clone())]);
    let token = corridor_test_support::staff(&state, Role::Treasury).await;
    let merchant = corridor_domain::ids::MerchantId::new();
    let mut conn = pool.acquire().await.unwrap();
    corridor_store::merchants::insert(&mut conn, merchant, "Acme")
        .await
        .unwrap();
    let m = merchant.as_uuid();
    invoice(&pool, m, ("open", "USDC", "100", "0", "2026-03-10"), 1).await; // current
    invoice(&pool, m, ("partially_paid", "USDC", "100", "40", "2026-02-20"), 2).await; // 18 days
    invoice(&pool, m, ("expired", "USDC", "250.5", "0", "2025-12-01"), 3).await; // 97 days
    invoice(&pool, m, ("open", "EURC", "80", "0", "2026-01-10"), 4).await; // 57 days
    invoice(&pool, m, ("paid", "USDC", "999", "999", "2026-01-01"), 5).await;
    invoice(&pool, m, ("void", "USDC", "999", "0", "2026-01-01"), 6).await;
    invoice(&pool, m, ("draft", "USDC", "999", "0", "2026-01-01"), 7).await;

    let http = corridor_test_support::Http { router };
    let get = |path: &'static str| http.raw(Method::GET, path, &token, "", Vec::new());
    let (status, body) = get("/v1/treasury/reconciliation/receivables-aging?as_of=2026-03-08").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["rows"],
        json!([
            { "currency": "EURC", "bucket": "31-60", "invoices": 1, "outstanding": "80.000000" },
            { "currency": "USDC", "bucket": "current", "invoices": 1, "outstanding": "100.000000" },
            { "currency": "USDC", "bucket": "1-30", "invoices": 1, "outstanding": "60.000000" },
            { "currency": "USDC", "bucket": "90+", "invoices": 1, "outstanding": "250.500000" }
        ])
    );
    let (status, csv) = get("/v1/treasury/reconciliation/receivables-aging.csv?as_of=2026-03-08").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("as_of,currency,bucket,invoices,outstanding\r\n2026-03-08,EURC,31-60,1,80.000000"),
        "{csv}"
    );
    let (status, _) = get("/v1/treasury/reconciliation/receivables-aging?as_of=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
