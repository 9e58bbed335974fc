use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use corridor_platform::auth::Scope;
use sqlx::PgPool;

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn requests_without_a_valid_api_key_are_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.send(Method::GET, "/v1/balances", &[], None).await;
    res.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(res.headers.get("www-authenticate").is_some());
    app.get("/v1/balances", "cor_sk_malformed")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, key) = app.merchant_with_key().await;
    let mut forged = key.clone();
    forged.replace_range(key.len() - 4.., "AAAA");
    app.get("/v1/balances", &forged)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.get("/v1/balances", &key).await.status, StatusCode::OK);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_revoked_key_stops_working_at_once_and_its_secret_is_shown_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, admin) = app.merchant_with_key().await;
    let created = app
        .post(
            "/v1/api-keys",
            &admin,
            None,
            r#"{"name":"agent","scopes":["balances:read"]}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/balances", &secret).await.status, StatusCode::OK);

    let listed = app.get("/v1/api-keys", &admin).await;
    assert!(
        !String::from_utf8(listed.raw).unwrap().contains(&secret),
        "the secret is never listed"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_digest FROM platform.api_keys WHERE prefix = $1")
        .bind(&secret[..19])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(stored, secret.as_bytes(), "only a digest is stored");

    let revoked = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            &[("authorization", &format!("Bearer {admin}"))],
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    app.get("/v1/balances", &secret)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_key_cannot_reach_another_merchants_data_or_exceed_its_scopes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, key_a) = app.merchant_with_key().await;
    let (m_b, key_b) = app.merchant_with_key().await;
    let b_keys = app.get("/v1/api-keys", &key_b).await;
    let b_key_id = b_keys.body["data"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{b_key_id}"),
            &[("authorization", &format!("Bearer {key_a}"))],
            None,
        )
        .await;
    res.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.get("/v1/balances", &key_b).await.status,
        StatusCode::OK,
        "B's key still works"
    );

    let read_only = app.api_key(m_b, &[Scope::BalancesRead]).await;
    app.post(
        "/v1/sandbox/credits",
        &read_only,
        Some("x"),
        r#"{"amount":"1","asset":"USDC"}"#,
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    app.get("/v1/api-keys", &read_only)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn console_login_gives_a_session_and_refuses_bad_credentials_alike(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.console_user(
        "officer@corridor.test",
        "correct horse battery",
        "compliance_officer",
        None,
    )
    .await;
    let ok = app
        .send(
            Method::POST,
            "/v1/console/sessions",
            &[],
            Some(r#"{"email":"Officer@corridor.test","password":"correct horse battery"}"#),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let token = ok.body["token"].as_str().unwrap().to_owned();
    let me = app
        .send(
            Method::GET,
            "/v1/console/me",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(me.body["role"], "compliance_officer");
    let me_cookie = app
        .send(
            Method::GET,
            "/v1/console/me",
            &[("cookie", &format!("theme=dark; corridor_session={token}"))],
            None,
        )
        .await;
    assert_eq!(me_cookie.status, StatusCode::OK);

    let wrong = app
        .send(
            Method::POST,
            "/v1/console/sessions",
            &[],
            Some(r#"{"email":"officer@corridor.test","password":"wrong password!"}"#),
        )
        .await;
    let unknown = app
        .send(
            Method::POST,
            "/v1/console/sessions",
            &[],
            Some(r#"{"email":"nobody@corridor.test","password":"wrong password!"}"#),
        )
        .await;
    wrong.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(wrong.raw, unknown.raw, "unknown user and wrong password look the same");
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn forged_expired_and_alg_none_sessions_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let user = app
        .console_user("t@corridor.test", "correct horse battery", "treasury", None)
        .await;
    let jwt = app.state.jwt();
    let (expired, _) = jwt
        .issue(
            user,
            corridor_platform::auth::Role::Treasury,
            None,
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .unwrap();
    let (valid, _) = jwt
        .issue(user, corridor_platform::auth::Role::Treasury, None, chrono::Utc::now())
        .unwrap();
    let parts: Vec<&str> = valid.split('.').collect();
    use base64::Engine;
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let tampered = format!("{}.{}.{}", parts[0], parts[1], "A".repeat(parts[2].len()));
    for token in [expired, alg_none, tampered, "not.a.jwt".to_owned()] {
        let res = app
            .send(
                Method::GET,
                "/v1/console/me",
                &[("authorization", &format!("Bearer {token}"))],
                None,
            )
            .await;
        res.assert_problem(StatusCode::UNAUTHORIZED, "invalid_session");
    }
}
