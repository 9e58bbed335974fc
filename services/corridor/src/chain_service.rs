//! The chain service: runs the submitter (when a signing key is configured) and the watcher
//! for the configured chain. Lives in the binary because it joins two peers, `chain` (alloy)
//! and `platform` (the service plug-in type), which do not depend on each other.

use alloy::providers::Provider;
use corridor_chain::{
    ChainConfig,
    signer::{LocalKeySigner, TxSigner},
    submitter::{Submitter, SubmitterConfig},
    watcher::{Watcher, WatcherConfig},
};
use corridor_platform::service::{Service, no_routes};
use std::sync::Arc;

pub const NAME: &str = "chain";

pub const ENV_KEYS: &[&str] = &["CORRIDOR_CHAIN_SUBMITTER_KEY", "CORRIDOR_ALLOW_RAW_KEY"];

#[derive(Clone)]
pub struct ChainRuntime {
    pub chain: ChainConfig,
    /// Without a signer the service only watches.
    pub signer: Option<Arc<dyn TxSigner>>,
}

impl ChainRuntime {
    /// From `CORRIDOR_CHAIN_*`; `None` when no chain is configured.
    pub fn from_env(is_prod: bool) -> anyhow::Result<Option<Self>> {
        let Some(chain) = ChainConfig::from_lookup(|k| std::env::var(k).ok())? else {
            return Ok(None);
        };
        let allow_raw = std::env::var("CORRIDOR_ALLOW_RAW_KEY").is_ok_and(|v| v == "true");
        let signer = match std::env::var("CORRIDOR_CHAIN_SUBMITTER_KEY") {
            Ok(hex) => Some(Arc::new(
                LocalKeySigner::from_hex(&hex, is_prod, allow_raw)
                    .map_err(|e| anyhow::anyhow!("configuration CORRIDOR_CHAIN_SUBMITTER_KEY: {e}"))?,
            ) as Arc<dyn TxSigner>),
            Err(_) => None,
        };
        Ok(Some(Self { chain, signer }))
    }
}

pub fn service(runtime: ChainRuntime) -> Service {
    Service {
        name: NAME,
        routes: no_routes,
        spawn_jobs: Box::new(move |state, shutdown| {
            let runtime = runtime.clone();
            let pool = state.pool().clone();
            vec![tokio::spawn(async move {
                let provider = alloy::providers::ProviderBuilder::new()
                    .connect_http(runtime.chain.rpc_url.clone())
                    .erased();
                let watcher = Watcher::new(
                    pool.clone(),
                    provider.clone(),
                    WatcherConfig::new(runtime.chain.chain_id, runtime.chain.finality.clone()),
                );
                let mut jobs = vec![tokio::spawn(watcher.run(shutdown.clone()))];
                if let Some(signer) = runtime.signer {
                    match Submitter::new(pool, provider, signer, SubmitterConfig::new(runtime.chain.chain_id)).await {
                        Ok(submitter) => jobs.push(tokio::spawn(submitter.run(shutdown.clone()))),
                        // Fail closed: no submitter means intents wait, nothing is sent wrongly.
                        Err(e) => tracing::error!(error = %e, "submitter not started; intents will wait"),
                    }
                }
                for job in jobs {
                    let _ = job.await;
                }
            })]
        }),
    }
}
