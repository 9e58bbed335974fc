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

/// anvil's first four development keys (from its public default mnemonic): known to everyone,
/// so only ever used on a local chain.
const WELL_KNOWN_KEYS: [&str; 4] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

impl DevKeys {
    /// The keys of an anvil started elsewhere (a container) with its default mnemonic.
    pub fn well_known() -> Self {
        let key = |i: usize| WELL_KNOWN_KEYS[i].parse::<PrivateKeySigner>().expect("a valid hex key");
        DevKeys {
            deployer: key(0),
            submitter: key(1),
            compliance: key(2),
            buyer: key(3),
        }
    }

    /// Where `deploy` puts each contract on a chain where the deployer has sent nothing before:
    /// addresses follow from the deployer and its nonce, so a container setup can name them.
    pub fn fresh_deployment(&self) -> LocalDeployment {
        let deployer = self.deployer.address();
        let at = |nonce: u64| deployer.create(nonce);
        LocalDeployment {
            chain_id: LOCAL_CHAIN_ID,
            usdc: at(0),
            eurc: at(1),
            payout_router: at(2),
            invoice_payments: at(3),
            vault: at(4),
            treasury: deployer,
        }
    }

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

/// Deploys to a fresh local chain, or finds the contracts already there: for container setups
/// that name the addresses in their configuration (`DevKeys::fresh_deployment`). Returns the
/// deployment and whether this call deployed it.
pub async fn deploy_once(
    rpc_url: reqwest::Url,
    keys: &DevKeys,
    float_units: U256,
) -> Result<(LocalDeployment, bool), ChainError> {
    let rpc = |e: alloy::transports::TransportError| ChainError::Rpc(e.to_string());
    let provider = ProviderBuilder::new().connect_http(rpc_url.clone());
    let expected = keys.fresh_deployment();
    let nonce = tokio::time::timeout(RPC_TIMEOUT, provider.get_transaction_count(keys.deployer.address()))
        .await
        .map_err(|_| ChainError::Timeout(RPC_TIMEOUT))?
        .map_err(rpc)?;
    if nonce == 0 {
        let deployed = deploy(rpc_url, keys, float_units).await?;
        if deployed.vault != expected.vault || deployed.usdc != expected.usdc {
            return Err(ChainError::Refused(format!(
                "contracts landed at unexpected addresses: {deployed:?}"
            )));
        }
        return Ok((deployed, true));
    }
    let code = provider.get_code_at(expected.vault).await.map_err(rpc)?;
    if code.is_empty() {
        return Err(ChainError::Refused(format!(
            "the deployer {} has sent {nonce} transactions but the contracts are not at their expected addresses; start from a fresh local chain",
            keys.deployer.address()
        )));
    }
    Ok((expected, false))
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
