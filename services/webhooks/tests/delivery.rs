//! Webhook delivery against a real HTTP receiver on loopback and a real Postgres per test.

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Request, StatusCode},
    routing::post,
};
use corridor_domain::{AssetRegistry, Money, ids::MerchantId};
use corridor_platform::{AppState, Config, auth::Scope, routes};
use corridor_webhooks::{
    dispatch::{self, DispatcherConfig},
    signature::{SigningSecret, verify},
};
use http_body_util::BodyExt;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    status: Arc<Mutex<u16>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.seen.lock().unwrap().push((headers, body));
    StatusCode::from_u16(*r.status.lock().unwrap()).unwrap()
}

async fn start_receiver(status: u16) -> (Receiver, String) {
    let receiver = Receiver {
        status: Arc::new(Mutex::new(status)),
        ..Default::default()
    };
    let app = Router::new().route("/hook", post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

struct Harness {
    state: AppState,
    router: Router,
    merchant: MerchantId,
    key: String,
    config: DispatcherConfig,
}

async fn harness(pool: PgPool, allow_private: bool) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let flag = allow_private.to_string();
    let config =
        Config::from_lookup(|k| (k == "CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS").then(|| flag.clone())).unwrap();
    let state = AppState::new(pool, config, AssetRegistry::builtin());
    let router = Router::new().merge(corridor_webhooks::http::router(state.clone()).split_for_parts().0);
    let merchant = MerchantId::new();
    let mut conn = state.pool().acquire().await.unwrap();
    corridor_store::merchants::insert(&mut conn, merchant, "Acme")
        .await
        .unwrap();
    drop(conn);
    let key = routes::api_keys_create(&state, merchant, "t", &Scope::ALL)
        .await
        .unwrap()
        .secret;
    Harness {
        state,
        router,
        merchant,
        key,
        config: DispatcherConfig {
            allow_private_destinations: allow_private,
        },
    }
}

impl Harness {
    async fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (StatusCode, serde_json::Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn endpoint(&self, url: &str, types: &[&str]) -> (String, String) {
        let (status, body) = self
            .call(
                "POST",
                "/v1/webhook-endpoints",
                Some(serde_json::json!({"url": url, "event_types": types})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A real money movement that writes a `balance.credited` event to the outbox.
    async fn credit(&self) {
        let mut tx = self.state.pool().begin().await.unwrap();
        let money = Money::parse("10.00", self.state.registry().get("USDC").unwrap()).unwrap();
        routes::sandbox_credit(&mut tx, &self.state, self.merchant, money)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn deliver(&self) -> usize {
        dispatch::fan_out_once(self.state.pool()).await.unwrap();
        dispatch::dispatch_once(self.state.pool(), &self.config).await.unwrap()
    }

    async fn delivery_row(&self) -> (String, i32) {
        sqlx::query_as("SELECT status, attempts FROM webhooks.deliveries")
            .fetch_one(self.state.pool())
            .await
            .unwrap()
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn an_event_is_delivered_once_signed_with_the_endpoints_secret(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(204).await;
    let (_, secret) = h.endpoint(&url, &[]).await;
    h.credit().await;
    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.deliver().await, 0, "nothing is sent twice");

    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let sig = headers["webhook-signature"].to_str().unwrap();
    let secret = SigningSecret::parse(&secret).unwrap();
    verify(&secret, id, ts, body, sig, chrono::Utc::now().timestamp()).expect("valid signature");
    let event_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM platform.outbox")
        .fetch_one(h.state.pool())
        .await
        .unwrap();
    assert_eq!(
        id,
        corridor_domain::ids::EventId::from_uuid(event_id).to_string(),
        "webhook-id is the event id"
    );
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (json["type"].as_str(), json["data"]["amount"].as_str()),
        (Some("balance.credited"), Some("10.000000"))
    );
    assert_eq!(h.delivery_row().await, ("succeeded".into(), 1));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn endpoints_receive_only_the_event_types_they_subscribe_to(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(200).await;
    h.endpoint(&url, &["payout.completed"]).await;
    h.credit().await;
    h.deliver().await;
    assert!(receiver.seen.lock().unwrap().is_empty());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn failures_are_retried_later_and_a_manual_resend_delivers(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(500).await;
    let (endpoint, _) = h.endpoint(&url, &[]).await;
    h.credit().await;
    h.deliver().await;
    assert_eq!(h.delivery_row().await, ("pending".into(), 1));
    let delay: i64 = sqlx::query_scalar(
        "SELECT round(extract(epoch FROM next_attempt_at - now()))::bigint FROM webhooks.deliveries",
    )
    .fetch_one(h.state.pool())
    .await
    .unwrap();
    assert!((3..=7).contains(&delay), "first retry about 5 s later, got {delay}");
    assert_eq!(h.deliver().await, 0, "not due yet");

    let (_, log) = h
        .call("GET", &format!("/v1/webhook-endpoints/{endpoint}/deliveries"), None)
        .await;
    assert_eq!(log["data"][0]["last_status_code"], 500);
    let delivery = log["data"][0]["id"].as_str().unwrap().to_owned();

    *receiver.status.lock().unwrap() = 200;
    let (status, _) = h
        .call("POST", &format!("/v1/webhook-deliveries/{delivery}/resend"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.delivery_row().await.0, "succeeded");
    assert_eq!(receiver.seen.lock().unwrap().len(), 2);
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks.attempts")
        .fetch_one(h.state.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 2, "every attempt is in the log");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn gone_disables_the_endpoint_and_exhausted_retries_fail(pool: PgPool) {
    let h = harness(pool, true).await;
    let (_, url) = start_receiver(410).await;
    let (endpoint, _) = h.endpoint(&url, &[]).await;
    h.credit().await;
    h.deliver().await;
    assert_eq!(h.delivery_row().await.0, "failed");
    let (_, ep) = h.call("GET", &format!("/v1/webhook-endpoints/{endpoint}"), None).await;
    assert_eq!(ep["enabled"], false);

    let (_, url2) = start_receiver(503).await;
    h.endpoint(&url2, &[]).await;
    h.credit().await;
    dispatch::fan_out_once(h.state.pool()).await.unwrap();
    // The last scheduled attempt: nine have failed before it.
    sqlx::query("UPDATE webhooks.deliveries SET attempts = 9 WHERE status = 'pending'")
        .execute(h.state.pool())
        .await
        .unwrap();
    dispatch::dispatch_once(h.state.pool(), &h.config).await.unwrap();
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM webhooks.deliveries ORDER BY seq")
        .fetch_all(h.state.pool())
        .await
        .unwrap();
    assert_eq!(statuses, ["failed", "failed"]);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn during_rotation_both_secrets_sign(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(200).await;
    let (endpoint, old) = h.endpoint(&url, &[]).await;
    let (status, rotated) = h
        .call("POST", &format!("/v1/webhook-endpoints/{endpoint}/rotate-secret"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    h.credit().await;
    h.deliver().await;
    let (headers, body) = receiver.seen.lock().unwrap()[0].clone();
    let sig = headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2);
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    for s in [old, new] {
        verify(&SigningSecret::parse(&s).unwrap(), id, ts, &body, sig, ts).expect("both secrets verify");
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn internal_destinations_are_refused_unless_the_dev_setting_allows_them(pool: PgPool) {
    let h = harness(pool, false).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://10.0.0.5/x",
        "ftp://example.com/x",
    ] {
        let (status, body) = h
            .call("POST", "/v1/webhook-endpoints", Some(serde_json::json!({"url": url})))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_webhook_url")),
            "{url}"
        );
    }
    let (status, body) = h
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(serde_json::json!({"url": "https://x.example", "event_types": ["NOT VALID"]})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_event_types"))
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks.endpoints")
        .fetch_one(h.state.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_merchant_cannot_see_or_resend_another_merchants_webhooks(pool: PgPool) {
    let h = harness(pool.clone(), true).await;
    let (_, url) = start_receiver(500).await;
    let (endpoint, _) = h.endpoint(&url, &[]).await;
    let other_merchant = MerchantId::new();
    let mut conn = pool.acquire().await.unwrap();
    corridor_store::merchants::insert(&mut conn, other_merchant, "Other")
        .await
        .unwrap();
    drop(conn);
    let other_key = routes::api_keys_create(&h.state, other_merchant, "t", &Scope::ALL)
        .await
        .unwrap()
        .secret;
    let other = Harness {
        key: other_key,
        merchant: other_merchant,
        state: h.state.clone(),
        router: h.router.clone(),
        config: h.config.clone(),
    };
    let (status, _) = other
        .call("GET", &format!("/v1/webhook-endpoints/{endpoint}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = other.call("GET", "/v1/webhook-endpoints", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, list) = h.call("GET", "/v1/webhook-endpoints", None).await;
    assert!(list["data"][0].get("secret").is_none(), "the secret is not listed");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_deleted_endpoint_gets_nothing_more(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(200).await;
    let (endpoint, _) = h.endpoint(&url, &[]).await;
    h.credit().await;
    dispatch::fan_out_once(h.state.pool()).await.unwrap();
    let (status, _) = h
        .call("DELETE", &format!("/v1/webhook-endpoints/{endpoint}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(dispatch::dispatch_once(h.state.pool(), &h.config).await.unwrap(), 0);
    assert!(receiver.seen.lock().unwrap().is_empty());
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error FROM webhooks.deliveries")
            .fetch_one(h.state.pool())
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("failed", Some("the endpoint was deleted"))
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn gone_ends_the_endpoints_other_pending_deliveries_and_refuses_resends(pool: PgPool) {
    let h = harness(pool, true).await;
    let (receiver, url) = start_receiver(410).await;
    h.endpoint(&url, &[]).await;
    h.credit().await;
    h.credit().await;
    dispatch::fan_out_once(h.state.pool()).await.unwrap();
    // Only the first is due; the second waits, as a retry would.
    sqlx::query(
        "UPDATE webhooks.deliveries SET next_attempt_at = now() + interval '1 hour'
          WHERE id = (SELECT id FROM webhooks.deliveries ORDER BY seq DESC LIMIT 1)",
    )
    .execute(h.state.pool())
    .await
    .unwrap();
    assert_eq!(dispatch::dispatch_once(h.state.pool(), &h.config).await.unwrap(), 1);
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM webhooks.deliveries ORDER BY seq")
        .fetch_all(h.state.pool())
        .await
        .unwrap();
    assert_eq!(
        statuses,
        ["failed", "failed"],
        "the waiting delivery ends with the endpoint"
    );
    assert_eq!(receiver.seen.lock().unwrap().len(), 1);

    let delivery: uuid::Uuid = sqlx::query_scalar("SELECT id FROM webhooks.deliveries ORDER BY seq LIMIT 1")
        .fetch_one(h.state.pool())
        .await
        .unwrap();
    let id = corridor_domain::ids::WebhookDeliveryId::from_uuid(delivery);
    let (status, body) = h
        .call("POST", &format!("/v1/webhook-deliveries/{id}/resend"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("webhook_endpoint_disabled"))
    );
}
