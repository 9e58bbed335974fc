use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use corridor_domain::{
    AssetRegistry,
    ids::{ConsoleUserId, MerchantId},
};
use corridor_platform::{
    AppState, Config,
    auth::{Scope, password},
    http, routes,
};
use corridor_store::{console_users, merchants};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub pool: PgPool,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        Self::with_config(pool, &[]).await
    }

    pub async fn with_config(pool: PgPool, pairs: &[(&str, &str)]) -> Self {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = Config::from_lookup(|k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())).unwrap();
        let state = AppState::new(pool.clone(), config, AssetRegistry::builtin());
        let (router, _) = http::app(state.clone(), vec![]);
        TestApp { router, state, pool }
    }

    pub async fn merchant(&self, name: &str) -> MerchantId {
        let id = MerchantId::new();
        let mut conn = self.pool.acquire().await.unwrap();
        merchants::insert(&mut conn, id, name).await.unwrap();
        id
    }

    pub async fn api_key(&self, merchant: MerchantId, scopes: &[Scope]) -> String {
        routes::api_keys_create(&self.state, merchant, "test", scopes)
            .await
            .unwrap()
            .secret
    }

    /// A merchant and a key with every scope.
    pub async fn merchant_with_key(&self) -> (MerchantId, String) {
        let m = self.merchant("Acme GmbH").await;
        let key = self.api_key(m, &Scope::ALL).await;
        (m, key)
    }

    pub async fn console_user(
        &self,
        email: &str,
        password: &str,
        role: &str,
        merchant: Option<MerchantId>,
    ) -> ConsoleUserId {
        let id = ConsoleUserId::new();
        let mut conn = self.pool.acquire().await.unwrap();
        console_users::insert(&mut conn, id, email, &password::hash(password).unwrap(), role, merchant)
            .await
            .unwrap();
        id
    }

    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
        Response {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.send(Method::GET, path, &[("authorization", &format!("Bearer {key}"))], None)
            .await
    }

    pub async fn post(&self, path: &str, key: &str, idempotency_key: Option<&str>, body: &str) -> Response {
        let auth = format!("Bearer {key}");
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(k) = idempotency_key {
            headers.push(("idempotency-key", k));
        }
        self.send(Method::POST, path, &headers, Some(body)).await
    }

    pub async fn ledger_entries(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM ledger.entries")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl Response {
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", String::from_utf8_lossy(&self.raw));
        assert_eq!(self.headers.get("content-type").unwrap(), "application/problem+json");
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16());
    }
}
