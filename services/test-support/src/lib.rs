//! What every service's integration tests need: the real router over a real Postgres database
//! (`Http`), merchants with API keys, and a real anvil with the Corridor contracts (`chain`).

pub mod chain;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use corridor_domain::{AssetRegistry, Money, ids::MerchantId};
use corridor_platform::{AppState, Config, auth::Scope, routes};
use corridor_store::merchants;
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

pub struct Res {
    pub status: StatusCode,
    pub body: Value,
}

impl Res {
    #[track_caller]
    pub fn problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
    }
}

/// The state a service runs with, built from `pairs` as if they were environment variables.
pub fn state(pool: &PgPool, pairs: &[(&str, &str)], registry: AssetRegistry) -> AppState {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let config = Config::from_lookup(|k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())).unwrap();
    AppState::new(pool.clone(), config, registry)
}

/// A router driven in-process, request by request.
#[derive(Clone)]
pub struct Http {
    pub router: Router,
}

impl Http {
    /// Any request with a bearer token (API key or console session) and a raw body: (status,
    /// body text). For console endpoints, CSV and file uploads; an empty `content_type` sends none.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {bearer}"));
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&raw).into_owned())
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, idem: Option<&str>, body: Option<Value>) -> Res {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        Res {
            status,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        }
    }

    /// A GET whose answer is not JSON: (status, content type, body).
    pub async fn get_text(&self, path: &str, key: &str) -> (StatusCode, String, String) {
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, String::from_utf8(raw.to_vec()).unwrap())
    }
}

/// A merchant with an all-scopes key and `funds` USDC available (a sandbox credit).
pub async fn merchant(state: &AppState, funds: &str) -> (MerchantId, String) {
    let id = MerchantId::new();
    let mut tx = state.pool().begin().await.unwrap();
    merchants::insert(&mut tx, id, "Acme GmbH").await.unwrap();
    let usdc = state.registry().get("USDC").unwrap();
    routes::sandbox_credit(&mut tx, state, id, Money::parse_positive(funds, usdc).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let key = routes::api_keys_create(state, id, "test", &Scope::ALL)
        .await
        .unwrap()
        .secret;
    (id, key)
}

/// A merchant's balance of `asset` and `purpose` (for example "available", "incoming_pending"), normalised.
pub async fn balance(pool: &PgPool, merchant: MerchantId, asset: &str, purpose: &str) -> String {
    let mut conn = pool.acquire().await.unwrap();
    let rows = corridor_store::ledger::merchant_balances(&mut conn, merchant)
        .await
        .unwrap();
    rows.iter()
        .find(|r| r.balance.asset().as_str() == asset && r.purpose.as_str() == purpose)
        .map_or("0".to_owned(), |r| r.balance.amount().normalize().to_string())
}

/// The ledger's own consistency check passes (every balance is the fold of its postings).
pub async fn assert_ledger_consistent(pool: &PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    assert!(corridor_store::ledger::check(&mut conn).await.unwrap().is_consistent());
}

/// A console session token for a new staff user with `role` (treasury, compliance officer...).
pub async fn staff(state: &AppState, role: corridor_platform::auth::Role) -> String {
    let id = corridor_domain::ids::ConsoleUserId::new();
    let mut conn = state.pool().acquire().await.unwrap();
    corridor_store::console_users::insert(&mut conn, id, &format!("{id}@corridor.test"), "x", role.as_str(), None)
        .await
        .unwrap();
    state.jwt().issue(id, role, None, chrono::Utc::now()).unwrap().0
}
