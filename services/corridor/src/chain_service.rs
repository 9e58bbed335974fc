//! The chain service: runs the submitter (when a signing key is configured) and the watcher
//! for the configured chain. Lives in the binary because it joins two peers, `chain` (alloy)
//! and `platform` (the service plug-in type), which do not depend on each other.

use alloy::{primitives::Address, providers::Provider};
use corridor_chain::{
    ChainConfig,
    signer::{DigestSigner, LocalKeySigner, TxSigner},
    submitter::{Submitter, SubmitterConfig},
    watcher::{Watcher, WatcherConfig},
};
use corridor_payouts::settlement::SettlementConfig;
use corridor_platform::service::{Service, no_routes};
use std::sync::Arc;

pub const NAME: &str = "chain";

pub const ENV_KEYS: &[&str] = &[
    "CORRIDOR_CHAIN_SUBMITTER_KEY",
    "CORRIDOR_ALLOW_RAW_KEY",
    "CORRIDOR_CHAIN_PAYOUT_ROUTER",
    "CORRIDOR_COMPLIANCE_SIGNER_KEY",
    "CORRIDOR_CHAIN_TOKENS",
];

#[derive(Clone)]
pub struct ChainRuntime {
    pub chain: ChainConfig,
    /// Without a signer the service only watches.
    pub signer: Option<Arc<dyn TxSigner>>,
    /// The PayoutRouter and the compliance key it trusts: with both (and a submitter) the
    /// payouts service settles cleared payouts on this chain.
    pub payout_router: Option<Address>,
    pub attester: Option<Arc<dyn DigestSigner>>,
}

impl ChainRuntime {
    /// From `CORRIDOR_CHAIN_*`; `None` when no chain is configured.
    pub fn from_env(is_prod: bool) -> anyhow::Result<Option<Self>> {
        let Some(chain) = ChainConfig::from_lookup(|k| std::env::var(k).ok())? else {
            return Ok(None);
        };
        let allow_raw = std::env::var("CORRIDOR_ALLOW_RAW_KEY").is_ok_and(|v| v == "true");
        let key = |name: &str| -> anyhow::Result<Option<LocalKeySigner>> {
            std::env::var(name)
                .ok()
                .map(|hex| {
                    LocalKeySigner::from_hex(&hex, is_prod, allow_raw)
                        .map_err(|e| anyhow::anyhow!("configuration {name}: {e}"))
                })
                .transpose()
        };
        let submitter = key("CORRIDOR_CHAIN_SUBMITTER_KEY")?;
        let attester = key("CORRIDOR_COMPLIANCE_SIGNER_KEY")?;
        if let (Some(s), Some(a)) = (&submitter, &attester)
            && TxSigner::address(s) == DigestSigner::address(a)
        {
            anyhow::bail!(
                "configuration CORRIDOR_COMPLIANCE_SIGNER_KEY: must be a different key from CORRIDOR_CHAIN_SUBMITTER_KEY (separate powers)"
            );
        }
        let payout_router = std::env::var("CORRIDOR_CHAIN_PAYOUT_ROUTER")
            .ok()
            .map(|a| {
                corridor_domain::EvmAddress::parse(&a)
                    .map(|a| a.as_alloy())
                    .map_err(|e| anyhow::anyhow!("configuration CORRIDOR_CHAIN_PAYOUT_ROUTER: {e}"))
            })
            .transpose()?;
        Ok(Some(Self {
            chain,
            signer: submitter.map(|s| Arc::new(s) as Arc<dyn TxSigner>),
            payout_router,
            attester: attester.map(|a| Arc::new(a) as Arc<dyn DigestSigner>),
        }))
    }

    /// Settlement of payouts on this chain, when everything it needs is configured.
    pub fn settlement(&self) -> Option<SettlementConfig> {
        let (signer, router, attester) = (self.signer.as_ref()?, self.payout_router?, self.attester.clone()?);
        Some(SettlementConfig::new(
            self.chain.chain_id,
            router,
            signer.address(),
            attester,
        ))
    }
}

/// The watcher records the configured stablecoins' transfers and the PayoutRouter's events.
/// Registering is idempotent, so every start does it.
async fn watch_configured(
    pool: &sqlx::PgPool,
    registry: &corridor_domain::AssetRegistry,
    runtime: &ChainRuntime,
) -> Result<(), corridor_store::StoreError> {
    use corridor_chain::watcher::watch_contract;
    let chain_id = runtime.chain.chain_id;
    let mut conn = pool.acquire().await?;
    for d in registry.deployments().iter().filter(|d| d.chain_id == chain_id) {
        watch_contract(&mut conn, chain_id, d.token.as_alloy(), "erc20").await?;
    }
    if let Some(router) = runtime.payout_router {
        watch_contract(&mut conn, chain_id, router, "payout_router").await?;
    }
    Ok(())
}

pub fn service(runtime: ChainRuntime) -> Service {
    Service {
        name: NAME,
        routes: no_routes,
        spawn_jobs: Box::new(move |state, shutdown| {
            let runtime = runtime.clone();
            let pool = state.pool().clone();
            let registry = state.registry().clone();
            vec![tokio::spawn(async move {
                if let Err(e) = watch_configured(&pool, &registry, &runtime).await {
                    tracing::error!(error = %e, "could not register the chain's contracts with the watcher");
                }
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
