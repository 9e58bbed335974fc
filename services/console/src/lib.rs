//! The web console under `/console`: server-rendered pages (askama, escaped by default) with one
//! local stylesheet and no JavaScript. Login issues the platform's session JWT in an HttpOnly,
//! Secure, SameSite=Strict cookie; every form is protected by a double-submit CSRF token; each
//! role sees only its pages (others get a 403 page). Compliance and treasury pages act through
//! the JSON API over HTTP with the user's session; merchant pages use the platform's own
//! functions.

// Page helpers return `Result<_, Response>`: the error is the page to show, returned by the
// handler at once, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod api;
mod compliance;
mod merchant;
pub mod session;
mod treasury;
mod views;

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use corridor_platform::{
    AppState,
    auth::Role,
    service::{Service, no_jobs},
};
use serde::Deserialize;
use session::{Session, csrf_cookie, csrf_ok, csrf_refused, new_csrf_token};
use utoipa_axum::router::OpenApiRouter;
use views::{Bar, HomePage, LoginPage};

pub const NAME: &str = "console";

pub fn service() -> Service {
    Service {
        name: NAME,
        routes,
        spawn_jobs: no_jobs(),
    }
}

/// The console's pages are HTML, not API: they are routed but not in the OpenAPI document.
pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .route("/console", get(home))
        .route("/console/home", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/compliance/reviews", get(compliance::queue))
        .route(
            "/console/compliance/reviews/{id}",
            get(compliance::case).post(compliance::decide),
        )
        .route("/console/merchant/api-keys", get(merchant::list).post(merchant::create))
        .route("/console/compliance/reviews/{id}/claim", post(compliance::claim))
        .route("/console/merchant/api-keys/{id}/revoke", post(merchant::revoke))
        .route("/console/treasury/reconciliation", get(treasury::overview))
        .route("/console/treasury/statements", post(treasury::upload))
        .route("/console/treasury/runs", post(treasury::run))
        .route("/console/treasury/manual-match", post(treasury::manual_match))
        .with_state(state)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/console.css"),
    )
        .into_response()
}

/// Each role's first page.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::ComplianceOfficer | Role::ComplianceLead => "/console/compliance/reviews",
        Role::MerchantAdmin => "/console/merchant/api-keys",
        Role::Treasury => "/console/treasury/reconciliation",
        Role::PlatformAdmin => "/console/home",
    }
}

async fn home(session: Session) -> Response {
    match home_of(session.role) {
        "/console/home" => views::render(
            StatusCode::OK,
            &HomePage {
                title: "Home",
                bar: Bar::of(&session),
            },
        ),
        first => Redirect::to(first).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

fn login_form(status: StatusCode, csrf: String, email: &str, error: &str, notice: &str) -> Response {
    let mut res = views::render(
        status,
        &LoginPage {
            title: "Sign in",
            bar: Bar::default(),
            csrf: csrf.clone(),
            email: email.to_owned(),
            error: error.to_owned(),
            notice: notice.to_owned(),
        },
    );
    res.headers_mut().append(header::SET_COOKIE, csrf_cookie(&csrf));
    res
}

async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let csrf = session::cookie(&headers, session::CSRF_COOKIE)
        .map(str::to_owned)
        .unwrap_or_else(new_csrf_token);
    let notice = if q.expired.is_some() {
        "Your session has ended. Sign in again to continue."
    } else {
        ""
    };
    login_form(StatusCode::OK, csrf, "", "", notice)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return csrf_refused();
    }
    match corridor_platform::routes::login(&state, &form.email, &form.password).await {
        Ok(session) => {
            let ttl = state.config().jwt.session_ttl.as_secs();
            let mut res = Redirect::to(home_of(session.role)).into_response();
            let headers = res.headers_mut();
            headers.append(header::SET_COOKIE, session::session_cookie(&session.token, ttl));
            // A fresh CSRF token for the signed-in session.
            headers.append(header::SET_COOKIE, csrf_cookie(&new_csrf_token()));
            res
        }
        // The same words for an unknown email and a wrong password.
        Err(e) if e.status == StatusCode::UNAUTHORIZED => login_form(
            StatusCode::UNAUTHORIZED,
            form.csrf,
            &form.email,
            "The email or password is wrong.",
            "",
        ),
        Err(_) => views::unavailable(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(headers: HeaderMap, Form(form): Form<LogoutForm>) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return csrf_refused();
    }
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, session::cleared_session_cookie());
    res
}
