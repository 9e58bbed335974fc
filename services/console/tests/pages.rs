//! The console's session and CSRF rules over the real router and Postgres (the browser test in
//! tests/e2e/console.rs drives the same pages in Chromium against a whole stack).

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use corridor_domain::{AssetRegistry, ids::ConsoleUserId};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    location: String,
    body: String,
}

async fn send(router: &axum::Router, req: Request<Body>) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = res.status();
    let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Answer {
        status,
        cookies,
        location,
        body,
    }
}

fn form(path: &str, cookie: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn value<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn sign_in_sets_strict_cookies_and_forms_need_the_csrf_token(pool: PgPool) {
    let state = corridor_test_support::state(&pool, &[], AssetRegistry::builtin());
    let mut conn = pool.acquire().await.unwrap();
    let hash = corridor_platform::auth::password::hash("correct horse battery").unwrap();
    corridor_store::console_users::insert(
        &mut conn,
        ConsoleUserId::new(),
        "ops@corridor.test",
        &hash,
        "treasury",
        None,
    )
    .await
    .unwrap();
    drop(conn);
    let (router, _) = corridor_platform::http::app(state.clone(), vec![corridor_console::routes(state)]);

    // Without a session every page leads to the sign-in form.
    let page = send(
        &router,
        Request::get("/console/compliance/reviews").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (StatusCode::SEE_OTHER, "/console/login")
    );
    let login = send(&router, Request::get("/console/login").body(Body::empty()).unwrap()).await;
    assert_eq!(login.status, StatusCode::OK);
    let csrf = value(&login.cookies, "corridor_csrf").to_owned();
    assert!(
        login.body.contains(&format!("value=\"{csrf}\"")),
        "the form carries the token"
    );
    assert!(login.cookies[0].contains("HttpOnly") && login.cookies[0].contains("SameSite=Strict"));

    // A form without the token, or with another one, is refused; nothing is signed in.
    let cookie = format!("corridor_csrf={csrf}");
    let body = "email=ops%40corridor.test&password=correct+horse+battery";
    for attempt in [body.to_owned(), format!("{body}&csrf=0000")] {
        let refused = send(&router, form("/console/login", &cookie, &attempt)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{attempt}");
        assert!(refused.body.contains("This form cannot be accepted"));
        assert!(refused.cookies.is_empty());
    }

    // A wrong password: 401, the same words as for an unknown user, no session.
    let wrong = send(
        &router,
        form(
            "/console/login",
            &cookie,
            &format!("email=ops%40corridor.test&password=nope&csrf={csrf}"),
        ),
    )
    .await;
    let unknown = send(
        &router,
        form(
            "/console/login",
            &cookie,
            &format!("email=who%40corridor.test&password=nope&csrf={csrf}"),
        ),
    )
    .await;
    for refused in [&wrong, &unknown] {
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.body.contains("The email or password is wrong."));
        assert!(!refused.cookies.iter().any(|c| c.starts_with("corridor_session=")));
    }

    // The right one: a session cookie the browser keeps from scripts and other sites.
    let signed_in = send(&router, form("/console/login", &cookie, &format!("{body}&csrf={csrf}"))).await;
    assert_eq!(
        (signed_in.status, signed_in.location.as_str()),
        (StatusCode::SEE_OTHER, "/console/treasury/reconciliation")
    );
    let session = signed_in
        .cookies
        .iter()
        .find(|c| c.starts_with("corridor_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
    let token = value(&signed_in.cookies, "corridor_session").to_owned();
    let fresh_csrf = value(&signed_in.cookies, "corridor_csrf").to_owned();
    assert_ne!(fresh_csrf, csrf, "signing in rotates the CSRF token");

    // Treasury has no compliance pages: a 403 page that says whose they are.
    let both = format!("corridor_session={token}; corridor_csrf={fresh_csrf}");
    let forbidden = send(
        &router,
        Request::get("/console/compliance/reviews")
            .header(header::COOKIE, &both)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(
        forbidden.body.contains("compliance_officer or compliance_lead"),
        "{}",
        forbidden.body
    );

    // A session that no longer verifies goes back to sign-in, saying so.
    let ended = send(
        &router,
        Request::get("/console/home")
            .header(header::COOKIE, "corridor_session=not.a.token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (ended.status, ended.location.as_str()),
        (StatusCode::SEE_OTHER, "/console/login?expired=1")
    );

    // Signing out needs the token too, then clears the session.
    let kept = send(&router, form("/console/logout", &both, "csrf=wrong")).await;
    assert_eq!(kept.status, StatusCode::FORBIDDEN);
    let out = send(&router, form("/console/logout", &both, &format!("csrf={fresh_csrf}"))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.cookies
            .iter()
            .any(|c| c.starts_with("corridor_session=;") && c.contains("Max-Age=0"))
    );
}
