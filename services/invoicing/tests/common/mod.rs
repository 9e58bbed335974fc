//! The invoicing test app: the real router over a real Postgres database per test.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use axum::http::{Method, StatusCode};
use corridor_domain::{AssetRegistry, ids::MerchantId};
use corridor_platform::{AppState, http};
pub use corridor_test_support::{Http, Res, balance, chain};
use serde_json::{Value, json};
use sqlx::PgPool;

pub struct App {
    pub http: Http,
    pub state: AppState,
    pub pool: PgPool,
}

impl App {
    pub async fn new(pool: PgPool, registry: AssetRegistry) -> Self {
        let state = corridor_test_support::state(&pool, &[], registry);
        let (router, _) = http::app(state.clone(), vec![corridor_invoicing::routes(state.clone())]);
        App {
            http: Http { router },
            state,
            pool,
        }
    }

    pub async fn merchant(&self) -> (MerchantId, String) {
        corridor_test_support::merchant(&self.state, "1").await
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, idem: Option<&str>, body: Option<Value>) -> Res {
        self.http.send(method, path, key, idem, body).await
    }

    /// Creates and finalizes an invoice; returns its body.
    pub async fn open_invoice(&self, key: &str, body: Value) -> Value {
        let idem = format!("inv-{}", uuid::Uuid::new_v4());
        let created = self
            .send(Method::POST, "/v1/invoices", key, Some(&idem), Some(body))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_str().unwrap();
        let finalized = self
            .send(Method::POST, &format!("/v1/invoices/{id}/finalize"), key, None, None)
            .await;
        assert_eq!(finalized.status, StatusCode::OK, "{}", finalized.body);
        finalized.body
    }

    pub async fn invoice(&self, key: &str, id: &str) -> Value {
        let res = self
            .send(Method::GET, &format!("/v1/invoices/{id}"), key, None, None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn events(&self, like: &'static str) -> Vec<String> {
        sqlx::query_scalar("SELECT event_type FROM platform.outbox WHERE event_type LIKE $1 ORDER BY seq")
            .bind(like)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

/// An invoice body: one line of `amount` in `currency`, due in a week, payable on `chain`.
pub fn invoice_body(currency: &str, amount: &str, chain: u64) -> Value {
    json!({
        "currency": currency,
        "buyer": { "name": "Lagos Textiles Ltd", "email": "ap@lagos.example", "country": "NG" },
        "line_items": [{ "description": "Cotton fabric", "quantity": "1", "unit_price": amount }],
        "due_at": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
        "memo": format!("order {amount}"),
        "chains": [chain]
    })
}
