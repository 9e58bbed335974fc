//! Local development chains: spawning anvil from the pinned npm package and deploying the test
//! contracts. Refuses to deploy test tokens anywhere but a local chain.

use crate::{
    ChainError, RPC_TIMEOUT,
    bindings::{InvoicePayments, PayoutRouter, TestStablecoin, TestYieldVault},
};
use alloy::{
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    signers::local::PrivateKeySigner,
};
use std::path::{Path, PathBuf};

/// anvil's chain id. Test tokens are only ever deployed here.
pub const LOCAL_CHAIN_ID: u64 = 31337;

/// The anvil binary installed by `npm ci` in contracts/.
pub fn anvil_path(repo_root: &Path) -> PathBuf {
    repo_root.join("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// How the local chain produces blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// A block every `n` seconds, like a real chain.
    Interval(u64),
    /// Only when asked (`anvil_mine`): deterministic tests.
    Manual,
}

/// Starts anvil with one-second blocks and FIFO ordering (under bursts the default fee ordering
/// silently drops transactions). Killed when the returned instance is dropped.
pub fn spawn_anvil(repo_root: &Path, port: Option<u16>) -> Result<AnvilInstance, ChainError> {
    spawn_anvil_with(repo_root, port, Mining::Interval(1))
}

pub fn spawn_anvil_with(repo_root: &Path, port: Option<u16>, mining: Mining) -> Result<AnvilInstance, ChainError> {
    let path = anvil_path(repo_root);
    if !path.exists() {
        return Err(ChainError::Refused(format!(
            "{} is missing: run npm ci in contracts/",
            path.display()
        )));
    }
    let mut anvil = Anvil::at(path).args(["--order", "fifo"]);
    anvil = match mining {
        Mining::Interval(secs) => anvil.block_time(secs),
        Mining::Manual => anvil.arg("--no-mining"),
    };
    if let Some(port) = port {
        anvil = anvil.port(port);
    }
    anvil
        .try_spawn()
        .map_err(|e| ChainError::Refused(format!("anvil did not start: {e}")))
}

/// The roles of anvil's well-known development keys. Separate keys for separate powers: the
/// submitter cannot attest, the compliance signer cannot submit.
#[derive(Clone)]
pub struct DevKeys {
    pub deployer: PrivateKeySigner,
    pub submitter: PrivateKeySigner,
    pub compliance: PrivateKeySigner,
    pub buyer: PrivateKeySigner,
}

impl DevKeys {
    pub fn from_anvil(anvil: &AnvilInstance) -> Self {
        let key = |i: usize| PrivateKeySigner::from(anvil.keys()[i].clone());
        DevKeys {
            deployer: key(0),
            submitter: key(1),
            compliance: key(2),
            buyer: key(3),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LocalDeployment {
    pub chain_id: u64,
    pub usdc: Address,
    pub eurc: Address,
    pub payout_router: Address,
    pub invoice_payments: Address,
    pub vault: Address,
    /// Where invoice payments land and yield sweeps start: the deployer's address on dev chains.
    pub treasury: Address,
}

/// Deploys the test stablecoins, the PayoutRouter, InvoicePayments and the test vault, and
/// funds the router (the treasury's payout float) and the demo buyer with test tokens.
pub async fn deploy(rpc_url: reqwest::Url, keys: &DevKeys, float_units: U256) -> Result<LocalDeployment, ChainError> {
    let rpc = |e: alloy::contract::Error| ChainError::Rpc(e.to_string());
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(keys.deployer.clone()))
        .connect_http(rpc_url);
    let chain_id = tokio::time::timeout(RPC_TIMEOUT, provider.get_chain_id())
        .await
        .map_err(|_| ChainError::Timeout(RPC_TIMEOUT))?
        .map_err(|e| ChainError::Rpc(e.to_string()))?;
    if chain_id != LOCAL_CHAIN_ID {
        return Err(ChainError::Refused(format!(
            "test tokens are deployed on chain {LOCAL_CHAIN_ID} only, not {chain_id}"
        )));
    }
    let owner = keys.deployer.address();
    let usdc = TestStablecoin::deploy(&provider, "Test USD Coin".into(), "USDC".into(), owner)
        .await
        .map_err(rpc)?;
    let eurc = TestStablecoin::deploy(&provider, "Test Euro Coin".into(), "EURC".into(), owner)
        .await
        .map_err(rpc)?;
    let router = PayoutRouter::deploy(&provider, owner, keys.compliance.address(), keys.submitter.address())
        .await
        .map_err(rpc)?;
    let payments = InvoicePayments::deploy(&provider, owner).await.map_err(rpc)?;
    let vault = TestYieldVault::deploy(&provider, *usdc.address()).await.map_err(rpc)?;
    for token in [&usdc, &eurc] {
        for to in [*router.address(), keys.buyer.address()] {
            let receipt = token
                .mint(to, float_units)
                .send()
                .await
                .map_err(rpc)?
                .with_timeout(Some(RPC_TIMEOUT * 6))
                .get_receipt()
                .await
                .map_err(|e| ChainError::Rpc(e.to_string()))?;
            if !receipt.status() {
                return Err(ChainError::Rpc("mint reverted".into()));
            }
        }
    }
    Ok(LocalDeployment {
        chain_id,
        usdc: *usdc.address(),
        eurc: *eurc.address(),
        payout_router: *router.address(),
        invoice_payments: *payments.address(),
        vault: *vault.address(),
        treasury: owner,
    })
}

/// anvil with the contracts deployed and manual mining: what integration tests drive block by
/// block. The provider signs as the deployer (the token owner).
pub struct LocalChain {
    pub anvil: AnvilInstance,
    pub provider: DynProvider,
    pub keys: DevKeys,
    pub deployment: LocalDeployment,
}

impl LocalChain {
    pub async fn start_manual(repo_root: &Path, float_units: U256) -> Result<Self, ChainError> {
        let rpc = |e: alloy::transports::TransportError| ChainError::Rpc(e.to_string());
        let anvil = spawn_anvil_with(repo_root, None, Mining::Manual)?;
        let keys = DevKeys::from_anvil(&anvil);
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(keys.deployer.clone()))
            .connect_http(anvil.endpoint_url())
            .erased();
        // Deploy with automatic blocks, then hand the test a chain that mines only when asked.
        provider.anvil_set_auto_mine(true).await.map_err(rpc)?;
        let deployment = deploy(anvil.endpoint_url(), &keys, float_units).await?;
        provider.anvil_set_auto_mine(false).await.map_err(rpc)?;
        Ok(Self {
            anvil,
            provider,
            keys,
            deployment,
        })
    }
}
