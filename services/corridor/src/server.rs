//! Serving: picks the services, builds one router, runs their jobs, shuts down on Ctrl-C or
//! SIGTERM (draining in-flight requests, then stopping jobs).

use anyhow::Context;
use corridor_platform::{AppState, health::ReadinessCheck, service::Service};
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// Every service the binary knows, in start order. The chain service exists only when a chain
/// is configured.
pub fn all_services(chain: Option<crate::chain_service::ChainRuntime>) -> Vec<Service> {
    let settlement = chain.as_ref().and_then(|c| c.settlement());
    let mut services = vec![
        corridor_webhooks::service(),
        corridor_payouts::service(settlement),
        corridor_invoicing::service(),
        corridor_compliance::service(),
        corridor_reconciliation::service(),
        corridor_yield_distribution::service(),
        corridor_console::service(),
    ];
    services.extend(chain.map(crate::chain_service::service));
    services
}

/// Picks services by name; an unknown name is an error listing the known ones.
pub fn select(
    names: Option<&[String]>,
    chain: Option<crate::chain_service::ChainRuntime>,
) -> anyhow::Result<Vec<Service>> {
    let all = all_services(chain);
    let Some(names) = names else { return Ok(all) };
    let known: Vec<&str> = all.iter().map(|s| s.name).collect();
    for n in names {
        if n == crate::chain_service::NAME && !known.contains(&n.as_str()) {
            anyhow::bail!("the chain service needs a chain: set CORRIDOR_CHAIN_RPC_URL and CORRIDOR_CHAIN_ID");
        }
        if !known.contains(&n.as_str()) {
            anyhow::bail!("unknown service {n:?}; known services: {}", known.join(", "));
        }
    }
    Ok(all.into_iter().filter(|s| names.iter().any(|n| n == s.name)).collect())
}

/// The application router with the selected services' routes.
pub fn build_app(state: &AppState, services: &[Service]) -> (axum::Router, utoipa::openapi::OpenApi) {
    let routers: Vec<OpenApiRouter> = services.iter().map(|s| (s.routes)(state.clone())).collect();
    corridor_platform::http::app(state.clone(), routers)
}

/// Readiness of a configured chain: its node answers with the configured chain id.
pub struct ChainReadiness(pub corridor_chain::ChainConfig);

impl ReadinessCheck for ChainReadiness {
    fn name(&self) -> String {
        format!("chain:{}", self.0.chain_id)
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { corridor_chain::check_chain_id(&self.0).await.map_err(|e| e.to_string()) })
    }
}

pub async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
        _ = token.cancelled() => {},
    }
    token.cancel();
}

/// Serves until shutdown. Returns once requests have drained and jobs have stopped.
pub async fn serve(state: AppState, services: Vec<Service>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = bind(&state).await?;
    serve_on(listener, state, services, shutdown).await
}

/// Binds the configured listen address. Callers that announce "serving" bind first, so the
/// announcement is true when a client reads it.
pub async fn bind(state: &AppState) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(state.config().listen_addr)
        .await
        .with_context(|| format!("binding {}", state.config().listen_addr))
}

/// Serves on a bound listener until shutdown; then waits for the jobs.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    services: Vec<Service>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (router, _) = build_app(&state, &services);
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();
    tracing::info!(addr = %listener.local_addr()?, services = ?names, "serving");
    let jobs: Vec<_> = services
        .iter()
        .flat_map(|s| (s.spawn_jobs)(state.clone(), shutdown.clone()))
        .collect();
    let signal = shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal(signal))
        .await?;
    shutdown.cancel();
    for job in jobs {
        let _ = job.await;
    }
    tracing::info!("stopped");
    Ok(())
}

pub fn readiness_checks(chain: Option<corridor_chain::ChainConfig>) -> Vec<Arc<dyn ReadinessCheck>> {
    chain
        .map(|c| Arc::new(ChainReadiness(c)) as Arc<dyn ReadinessCheck>)
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_services_by_name_and_rejects_unknown_ones() {
        let picked = select(Some(&["invoicing".to_owned()]), None).unwrap();
        assert_eq!(picked.iter().map(|s| s.name).collect::<Vec<_>>(), ["invoicing"]);
        assert_eq!(select(None, None).unwrap().len(), all_services(None).len());
        let err = select(Some(&["payments".to_owned()]), None).err().unwrap().to_string();
        assert!(err.contains("known services"), "{err}");
        let err = select(Some(&["chain".to_owned()]), None).err().unwrap().to_string();
        assert!(err.contains("CORRIDOR_CHAIN_RPC_URL"), "{err}");
    }
}
