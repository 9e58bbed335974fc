use crate::helpers::TestApp;
use axum::http::StatusCode;
use sqlx::PgPool;

const CREDIT: &str = r#"{"amount":"250.00","asset":"USDC"}"#;

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_money_moving_post_without_a_key_is_400_and_moves_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key) = app.merchant_with_key().await;
    app.post("/v1/sandbox/credits", &key, None, CREDIT)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "idempotency_key_missing");
    app.post("/v1/sandbox/credits", &key, Some("has space"), CREDIT)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "idempotency_key_invalid");
    assert_eq!(app.ledger_entries().await, 0);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn the_same_key_and_body_replays_the_stored_response(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key) = app.merchant_with_key().await;
    let first = app.post("/v1/sandbox/credits", &key, Some("credit-1"), CREDIT).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // Same meaning, different key order and spacing: still the same request.
    let again = app
        .post(
            "/v1/sandbox/credits",
            &key,
            Some("credit-1"),
            r#"{ "asset": "USDC", "amount": "250.00" }"#,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.raw, first.raw, "byte-identical replay");
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.ledger_entries().await, 1);
    let balances = app.get("/v1/balances", &key).await;
    assert_eq!(balances.body["data"][0]["available"], "250.000000");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn the_same_key_with_another_body_is_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key) = app.merchant_with_key().await;
    app.post("/v1/sandbox/credits", &key, Some("credit-1"), CREDIT).await;
    app.post(
        "/v1/sandbox/credits",
        &key,
        Some("credit-1"),
        r#"{"amount":"999.00","asset":"USDC"}"#,
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    assert_eq!(app.ledger_entries().await, 1);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn keys_are_scoped_per_merchant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key_a) = app.merchant_with_key().await;
    let (_, key_b) = app.merchant_with_key().await;
    let a = app
        .post("/v1/sandbox/credits", &key_a, Some("shared-key"), CREDIT)
        .await;
    let b = app
        .post("/v1/sandbox/credits", &key_b, Some("shared-key"), CREDIT)
        .await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_ne!(
        a.body["entry_id"], b.body["entry_id"],
        "B never sees A's stored response"
    );
    assert_eq!(app.ledger_entries().await, 2);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn concurrent_duplicates_make_one_effect_and_the_rest_replay_or_get_409(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key) = app.merchant_with_key().await;
    let app = std::sync::Arc::new(app);
    let requests = (0..24).map(|i| {
        let app = app.clone();
        let key = key.clone();
        tokio::spawn(async move {
            // Four keys, six concurrent requests each.
            let idem = format!("burst-{}", i % 4);
            app.post("/v1/sandbox/credits", &key, Some(&idem), CREDIT).await
        })
    });
    let responses: Vec<_> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut created_per_key = std::collections::HashMap::<String, Vec<Vec<u8>>>::new();
    for (i, res) in responses.iter().enumerate() {
        match res.status {
            StatusCode::CREATED => created_per_key
                .entry(format!("burst-{}", i % 4))
                .or_default()
                .push(res.raw.clone()),
            StatusCode::CONFLICT => {
                res.assert_problem(StatusCode::CONFLICT, "idempotency_key_in_use");
                assert_eq!(res.headers.get("retry-after").unwrap(), "1");
            }
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert_eq!(app.ledger_entries().await, 4, "exactly one effect per key");
    for (k, bodies) in &created_per_key {
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "every 201 for {k} is the same response"
        );
    }
    // Retrying the 409s after the first completed replays the stored response.
    for i in 0..4 {
        let res = app
            .post("/v1/sandbox/credits", &key, Some(&format!("burst-{i}")), CREDIT)
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    assert_eq!(app.ledger_entries().await, 4);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_crashed_request_frees_its_key_when_the_lease_expires(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (m, key) = app.merchant_with_key().await;
    // A request claimed the key and died before its effect committed: only the claim remains,
    // with a lease that has run out.
    let fingerprint = corridor_platform::idempotency::fingerprint(
        "POST",
        "/v1/sandbox/credits",
        &serde_json::from_str(CREDIT).unwrap(),
    );
    sqlx::query(
        "INSERT INTO platform.idempotency_keys (merchant_id, key, request_fingerprint, status, lease_token, lease_expires_at)
         VALUES ($1, 'crashed', $2, 'in_progress', gen_random_uuid(), now() - interval '1 second')",
    )
    .bind(m.as_uuid())
    .bind(&fingerprint[..])
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app.post("/v1/sandbox/credits", &key, Some("crashed"), CREDIT).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(app.ledger_entries().await, 1);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn sandbox_credits_do_not_exist_outside_the_dev_profile(pool: PgPool) {
    let app = TestApp::with_config(
        pool,
        &[
            ("CORRIDOR_PROFILE", "prod"),
            ("CORRIDOR_DATABASE_URL", "postgres://unused/x"),
            ("CORRIDOR_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("CORRIDOR_INVOICE_SECRET", "fedcba9876543210fedcba9876543210"),
        ],
    )
    .await;
    let (_, key) = app.merchant_with_key().await;
    app.post("/v1/sandbox/credits", &key, Some("k"), CREDIT)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "sandbox_disabled");
    assert_eq!(app.ledger_entries().await, 0);
}
