//! Liveness and readiness. Readiness asks Postgres and every registered check (the chain layer
//! registers one per chain), each within a bound.

use crate::{extract::ApiJson, state::AppState};
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use futures::future::BoxFuture;
use serde::Serialize;
use std::time::Duration;

pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> String;
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: Vec<CheckResult>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

async fn bounded(name: String, fut: impl Future<Output = Result<(), String>>) -> CheckResult {
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(Ok(())) => CheckResult {
            name,
            ok: true,
            error: None,
        },
        Ok(Err(e)) => CheckResult {
            name,
            ok: false,
            error: Some(e),
        },
        Err(_) => CheckResult {
            name,
            ok: false,
            error: Some(format!("no answer within {CHECK_TIMEOUT:?}")),
        },
    }
}

/// The database and every chain are reachable.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = vec![
        bounded("postgres".into(), async {
            sqlx::query("SELECT 1")
                .execute(state.pool())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await,
    ];
    for check in state.readiness_checks() {
        checks.push(bounded(check.name(), check.check()).await);
    }
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        ApiJson(Readiness {
            status: if ok { "ready" } else { "not_ready" },
            checks,
        }),
    )
}
