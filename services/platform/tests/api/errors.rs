use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use sqlx::PgPool;

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn unknown_routes_and_methods_are_problems(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.send(Method::GET, "/v1/nope", &[], None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.send(Method::PUT, "/healthz", &[], None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_bodies_get_4xx_problems_and_write_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key) = app.merchant_with_key().await;
    let cases: &[(&str, StatusCode, &str)] = &[
        ("{", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            r#"{"amount":"10","asset":"USDC","merchant_id":"mer_x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"amount":10,"asset":"USDC"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"amount":"-10","asset":"USDC"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            r#"{"amount":"0","asset":"USDC"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_not_positive",
        ),
        (
            r#"{"amount":"1.0000001","asset":"USDC"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_precise",
        ),
        (
            r#"{"amount":"1.001","asset":"EUR"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_precise",
        ),
        (
            r#"{"amount":"1e3","asset":"USDC"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            r#"{"amount":"10","asset":"DOGE"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_asset",
        ),
    ];
    for (i, (body, status, code)) in cases.iter().enumerate() {
        let res = app
            .post("/v1/sandbox/credits", &key, Some(&format!("k{i}")), body)
            .await;
        res.assert_problem(*status, code);
    }
    assert_eq!(app.ledger_entries().await, 0, "no bad request wrote to the ledger");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "no bad request left an idempotency key behind");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_non_json_body_is_415_and_an_oversized_body_is_413(pool: PgPool) {
    let app = TestApp::with_config(pool, &[("CORRIDOR_BODY_LIMIT_BYTES", "2048")]).await;
    let (_, key) = app.merchant_with_key().await;
    let auth = format!("Bearer {key}");
    let res = app
        .send(
            Method::POST,
            "/v1/sandbox/credits",
            &[
                ("authorization", &auth),
                ("idempotency-key", "a"),
                ("content-type", "text/plain"),
            ],
            Some("hi"),
        )
        .await;
    res.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let big = format!(r#"{{"amount":"1","asset":"USDC","pad":"{}"}}"#, "x".repeat(4096));
    app.post("/v1/sandbox/credits", &key, Some("b"), &big)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn list_limits_and_cursors_are_validated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (m, key) = app.merchant_with_key().await;
    for _ in 0..4 {
        app.api_key(m, &[corridor_platform::auth::Scope::BalancesRead]).await;
    }
    app.get("/v1/api-keys?limit=0", &key)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_limit");
    app.get("/v1/api-keys?limit=1000", &key)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_limit");
    app.get("/v1/api-keys?cursor=garbage", &key)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_cursor");
    app.get("/v1/api-keys?colour=red", &key)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");

    // Walk all five keys two at a time: every key exactly once.
    let mut seen = Vec::new();
    let mut path = "/v1/api-keys?limit=2".to_owned();
    for _ in 0..5 {
        let page = app.get(&path, &key).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/api-keys?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn health_readiness_metrics_and_request_ids(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.send(Method::GET, "/healthz", &[], None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers.get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let ready = app.send(Method::GET, "/readyz", &[], None).await;
    assert_eq!(
        (ready.status, ready.body["checks"][0]["name"].as_str()),
        (StatusCode::OK, Some("postgres"))
    );
    let metrics = app.send(Method::GET, "/metrics", &[], None).await;
    let text = String::from_utf8(metrics.raw).unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn readiness_fails_when_the_database_is_gone(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    pool.close().await;
    let ready = app.send(Method::GET, "/readyz", &[], None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "not_ready");
}
