//! The console's client of the JSON API: it calls as the signed-in user, with the user's own
//! session token, so the API's authorisation applies unchanged.

use crate::{session::Session, views};
use axum::{
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use corridor_platform::AppState;
use serde_json::Value;
use std::{sync::LazyLock, time::Duration};

const API_TIMEOUT: Duration = Duration::from_secs(30);

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(API_TIMEOUT)
        .build()
        .expect("an HTTP client")
});

/// Where the JSON API is: `CORRIDOR_CONSOLE_API_URL`, or this process on loopback.
pub fn api_base(state: &AppState) -> Result<String, Response> {
    if let Some(url) = &state.config().console_api_url {
        return Ok(url.clone());
    }
    match state.config().listen_addr.port() {
        0 => Err(views::problem_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The console is not configured",
            "Set CORRIDOR_CONSOLE_API_URL to the base URL of the Corridor API.",
        )),
        port => Ok(format!("http://127.0.0.1:{port}")),
    }
}

/// Calls the API as the signed-in user. A 401 means the session ended meanwhile.
pub async fn api(
    state: &AppState,
    session: &Session,
    request: ApiRequest<'_>,
) -> Result<(StatusCode, Value), Response> {
    let base = api_base(state)?;
    let builder = match request {
        ApiRequest::Get(path) => HTTP.get(format!("{base}{path}")),
        ApiRequest::Post(path, body) => HTTP.post(format!("{base}{path}")).json(&body),
        ApiRequest::Upload(path, bytes) => HTTP
            .post(format!("{base}{path}"))
            .header("content-type", "application/octet-stream")
            .body(bytes),
    };
    let res = builder.bearer_auth(&session.token).send().await.map_err(|e| {
        tracing::warn!(error = %e, "console: the API did not answer");
        views::unavailable()
    })?;
    let status = res.status();
    if status == StatusCode::UNAUTHORIZED {
        return Err(Redirect::to("/console/login?expired=1").into_response());
    }
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

pub enum ApiRequest<'a> {
    Get(&'a str),
    Post(&'a str, Value),
    /// A file, sent as it is.
    Upload(&'a str, Vec<u8>),
}

/// A JSON value as text for a page (strings without quotes, null as nothing).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
