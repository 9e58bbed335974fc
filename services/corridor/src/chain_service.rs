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
    "CORRIDOR_CHAIN_SUBMITTER_ADDRESS",
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
    /// The submitter's address: the signer's, or `CORRIDOR_CHAIN_SUBMITTER_ADDRESS` in a
    /// process that settles payouts but does not hold the submitter key (least privilege).
    pub sender: Option<Address>,
    /// The PayoutRouter and the compliance key it trusts: with both (and a submitter) the
    /// payouts service settles cleared payouts on this chain.
    pub payout_router: Option<Address>,
    pub attester: Option<Arc<dyn DigestSigner>>,
}

impl ChainRuntime {
    /// From `CORRIDOR_CHAIN_*`; `None` when no chain is configured.
    pub fn from_env(is_prod: bool) -> anyhow::Result<Option<Self>> {
        Self::from_lookup(|k| std::env::var(k).ok(), is_prod)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, is_prod: bool) -> anyhow::Result<Option<Self>> {
        let Some(chain) = ChainConfig::from_lookup(&get)? else {
            return Ok(None);
        };
        let allow_raw = get("CORRIDOR_ALLOW_RAW_KEY").is_some_and(|v| v == "true");
        let key = |name: &str| -> anyhow::Result<Option<LocalKeySigner>> {
            get(name)
                .map(|hex| {
                    LocalKeySigner::from_hex(&hex, is_prod, allow_raw)
                        .map_err(|e| anyhow::anyhow!("configuration {name}: {e}"))
                })
                .transpose()
        };
        let address = |name: &str| -> anyhow::Result<Option<Address>> {
            get(name)
                .map(|a| {
                    corridor_domain::EvmAddress::parse(&a)
                        .map(|a| a.as_alloy())
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
        let named_sender = address("CORRIDOR_CHAIN_SUBMITTER_ADDRESS")?;
        let sender = match (&submitter, named_sender) {
            (Some(s), Some(named)) if TxSigner::address(s) != named => anyhow::bail!(
                "configuration CORRIDOR_CHAIN_SUBMITTER_ADDRESS: {named} is not the address of CORRIDOR_CHAIN_SUBMITTER_KEY ({})",
                TxSigner::address(s)
            ),
            (Some(s), _) => Some(TxSigner::address(s)),
            (None, named) => named,
        };
        Ok(Some(Self {
            chain,
            signer: submitter.map(|s| Arc::new(s) as Arc<dyn TxSigner>),
            sender,
            payout_router: address("CORRIDOR_CHAIN_PAYOUT_ROUTER")?,
            attester: attester.map(|a| Arc::new(a) as Arc<dyn DigestSigner>),
        }))
    }

    /// Settlement of payouts on this chain, when everything it needs is configured.
    pub fn settlement(&self) -> Option<SettlementConfig> {
        let (sender, router, attester) = (self.sender?, self.payout_router?, self.attester.clone()?);
        Some(SettlementConfig::new(self.chain.chain_id, router, sender, attester))
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

#[cfg(test)]
mod tests {
    use super::*;

    const SUBMITTER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const SUBMITTER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const COMPLIANCE_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
    const ROUTER: &str = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

    fn runtime(extra: &[(&str, &str)]) -> anyhow::Result<Option<ChainRuntime>> {
        let mut env = vec![
            ("CORRIDOR_CHAIN_RPC_URL", "http://127.0.0.1:8545"),
            ("CORRIDOR_CHAIN_ID", "31337"),
            ("CORRIDOR_CHAIN_PAYOUT_ROUTER", ROUTER),
            ("CORRIDOR_COMPLIANCE_SIGNER_KEY", COMPLIANCE_KEY),
        ];
        env.extend_from_slice(extra);
        ChainRuntime::from_lookup(
            |k| env.iter().find(|(key, _)| *key == k).map(|(_, v)| (*v).to_owned()),
            false,
        )
    }

    #[test]
    fn a_payouts_process_settles_with_the_submitters_address_and_without_its_key() {
        let sender: Address = SUBMITTER.parse().unwrap();
        let by_key = runtime(&[("CORRIDOR_CHAIN_SUBMITTER_KEY", SUBMITTER_KEY)])
            .unwrap()
            .unwrap();
        assert_eq!(by_key.settlement().unwrap().sender, sender);
        let by_address = runtime(&[("CORRIDOR_CHAIN_SUBMITTER_ADDRESS", SUBMITTER)])
            .unwrap()
            .unwrap();
        assert!(
            by_address.signer.is_none(),
            "no key, so this process never signs transactions"
        );
        assert_eq!(by_address.settlement().unwrap().sender, sender);
        assert!(
            runtime(&[]).unwrap().unwrap().settlement().is_none(),
            "no sender, no settlement"
        );
        let e = runtime(&[
            ("CORRIDOR_CHAIN_SUBMITTER_KEY", SUBMITTER_KEY),
            ("CORRIDOR_CHAIN_SUBMITTER_ADDRESS", ROUTER),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("CORRIDOR_CHAIN_SUBMITTER_ADDRESS"), "{e}");
        let e = runtime(&[("CORRIDOR_CHAIN_SUBMITTER_KEY", COMPLIANCE_KEY)])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("separate powers"), "{e}");
    }
}
