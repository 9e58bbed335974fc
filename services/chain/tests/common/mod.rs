//! Shared anvil + Postgres helpers for the chain tests.
#![allow(dead_code)] // each test binary uses a different subset

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    sol_types::SolCall,
};
use corridor_chain::{
    bindings::TestStablecoin,
    local::{self, DevKeys, LocalDeployment},
    signer::LocalKeySigner,
    store::{self, hex_lower},
    submitter::{Submitter, SubmitterConfig},
};
use sqlx::PgPool;
use std::{path::Path, sync::Arc};
use uuid::Uuid;

pub struct Chain {
    pub anvil: alloy::node_bindings::AnvilInstance,
    pub provider: DynProvider,
    pub keys: DevKeys,
    pub deployment: LocalDeployment,
}

pub async fn chain() -> Chain {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let local::LocalChain {
        anvil,
        provider,
        keys,
        deployment,
    } = local::LocalChain::start_manual(&root, U256::from(10u64.pow(12)))
        .await
        .expect("anvil (run npm ci in contracts/)");
    // The submitter's own float for plain ERC-20 transfers.
    provider.anvil_set_auto_mine(true).await.unwrap();
    let usdc = TestStablecoin::new(deployment.usdc, &provider);
    usdc.mint(keys.submitter.address(), U256::from(10u64.pow(12)))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    provider.anvil_set_auto_mine(false).await.unwrap();
    Chain {
        anvil,
        provider,
        keys,
        deployment,
    }
}

impl Chain {
    pub async fn submitter(&self, pool: &PgPool, tweak: impl FnOnce(&mut SubmitterConfig)) -> Submitter {
        let mut config = SubmitterConfig::new(31337);
        tweak(&mut config);
        let signer = Arc::new(LocalKeySigner::new(self.keys.submitter.clone()));
        Submitter::new(pool.clone(), self.provider.clone(), signer, config)
            .await
            .unwrap()
    }

    /// A submitter that reaches anvil through a proxy the test can take down.
    pub async fn submitter_via_proxy(&self, pool: &PgPool) -> (FlakyProxy, Submitter) {
        let proxy = FlakyProxy::start(self.anvil.endpoint_url()).await;
        let via_proxy = ProviderBuilder::new().connect_http(proxy.url.clone()).erased();
        let signer = Arc::new(LocalKeySigner::new(self.keys.submitter.clone()));
        let submitter = Submitter::new(pool.clone(), via_proxy, signer, SubmitterConfig::new(31337))
            .await
            .unwrap();
        (proxy, submitter)
    }

    /// A watcher of this chain with the given confirmation depth.
    pub fn watcher(&self, pool: &PgPool, depth: u64) -> corridor_chain::watcher::Watcher {
        use corridor_chain::{config::Finality, watcher::WatcherConfig};
        corridor_chain::watcher::Watcher::new(
            pool.clone(),
            self.provider.clone(),
            WatcherConfig::new(31337, Finality::Depth(depth)),
        )
    }

    /// Drops the transaction an intent was sent in from anvil's pool; returns its hash.
    pub async fn drop_sent(&self, pool: &PgPool, intent: Uuid) -> String {
        let hash: String = sqlx::query_scalar("SELECT tx_hash FROM chain.transactions WHERE intent_id = $1")
            .bind(intent)
            .fetch_one(pool)
            .await
            .unwrap();
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_dropTransaction".into(), (hash.clone(),))
            .await
            .unwrap();
        hash
    }

    pub async fn mine(&self) {
        self.provider.anvil_mine(Some(1), None).await.unwrap();
    }

    pub async fn balance(&self, who: Address) -> U256 {
        TestStablecoin::new(self.deployment.usdc, &self.provider)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }
}

pub fn recipient(i: u64) -> Address {
    Address::from_word(alloy::primitives::B256::from(U256::from(0x1000_0000u64 + i)))
}

pub async fn enqueue(pool: &PgPool, chain: &Chain, sender: &str, to: Address, amount: u64) -> Uuid {
    let id = Uuid::now_v7();
    let calldata = TestStablecoin::transferCall {
        to,
        value: U256::from(amount),
    }
    .abi_encode();
    let mut conn = pool.acquire().await.unwrap();
    store::insert_intent(
        &mut conn,
        store::NewIntent {
            id,
            chain_id: 31337,
            sender,
            purpose: &format!("test:{id}"),
            to: &hex_lower(chain.deployment.usdc),
            calldata: &calldata,
            gas_limit: 100_000,
        },
    )
    .await
    .unwrap();
    id
}

pub async fn statuses(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, count(*) FROM chain.intents GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
        .unwrap()
}

pub async fn expire_lease(pool: &PgPool) {
    sqlx::query("UPDATE chain.senders SET lease_expires_at = now() - interval '1 second'")
        .execute(pool)
        .await
        .unwrap();
}

/// A TCP proxy in front of anvil that can go down, standing in for an RPC node that is
/// unreachable for a while (anvil itself keeps its state). Going down also cuts open
/// connections, so kept-alive HTTP connections fail like they would against a dead node.
pub struct FlakyProxy {
    pub url: reqwest::Url,
    down: tokio::sync::watch::Sender<bool>,
    upstream: Arc<std::sync::Mutex<String>>,
}

impl FlakyProxy {
    pub async fn start(upstream: reqwest::Url) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: reqwest::Url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
        let upstream = Arc::new(std::sync::Mutex::new(format!(
            "{}:{}",
            upstream.host_str().unwrap(),
            upstream.port().unwrap()
        )));
        let target = upstream.clone();
        let (down, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *watch.borrow() {
                    continue; // dropped: connection refused in effect
                }
                let (target, mut watch) = (target.lock().unwrap().clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Self { url, down, upstream }
    }

    /// Points new connections at another node.
    pub fn set_upstream(&self, upstream: &reqwest::Url) {
        *self.upstream.lock().unwrap() = format!("{}:{}", upstream.host_str().unwrap(), upstream.port().unwrap());
    }

    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}
