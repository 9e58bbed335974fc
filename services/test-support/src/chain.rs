//! A real anvil with the Corridor contracts, and the chain-side jobs (submitter, watcher), driven
//! round by round (manual mining: every block is made by the test, never waited for).

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, ext::AnvilApi},
};
use corridor_chain::{
    bindings::{InvoicePayments, TestStablecoin},
    config::Finality,
    local::{self, DevKeys, LocalDeployment},
    signer::LocalKeySigner,
    submitter::{Submitter, SubmitterConfig},
    watcher::{Watcher, WatcherConfig},
};
use corridor_domain::{AssetCode, AssetRegistry, EvmAddress, TokenDeployment};
use sqlx::PgPool;
use std::{path::Path, sync::Arc};

pub const LOCAL: u64 = 31337;
pub const FINALITY_DEPTH: u64 = 2;

pub struct Chain {
    pub anvil: alloy::node_bindings::AnvilInstance,
    pub provider: DynProvider,
    pub keys: DevKeys,
    pub deployment: LocalDeployment,
}

impl Chain {
    pub async fn start() -> Self {
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
        Chain {
            anvil,
            provider,
            keys,
            deployment,
        }
    }

    /// The built-in registry plus this chain's test USDC and EURC.
    pub fn registry(&self) -> AssetRegistry {
        let mut registry = AssetRegistry::builtin();
        for (code, token) in [("USDC", self.deployment.usdc), ("EURC", self.deployment.eurc)] {
            registry = registry
                .with_deployment(TokenDeployment {
                    asset: AssetCode::parse(code).unwrap(),
                    chain_id: LOCAL,
                    token: EvmAddress::from_alloy(token),
                    decimals: 6,
                })
                .unwrap();
        }
        registry
    }

    pub async fn submitter(&self, pool: &PgPool) -> Submitter {
        let signer = Arc::new(LocalKeySigner::new(self.keys.submitter.clone()));
        Submitter::new(pool.clone(), self.provider.clone(), signer, SubmitterConfig::new(LOCAL))
            .await
            .unwrap()
    }

    pub fn watcher(&self, pool: &PgPool) -> Watcher {
        Watcher::new(
            pool.clone(),
            self.provider.clone(),
            WatcherConfig::new(LOCAL, Finality::Depth(FINALITY_DEPTH)),
        )
    }

    pub async fn mine(&self, blocks: u64) {
        self.provider.anvil_mine(Some(blocks), None).await.unwrap();
    }

    pub async fn usdc_balance(&self, who: Address) -> U256 {
        self.token_balance(self.deployment.usdc, who).await
    }

    pub async fn token_balance(&self, token: Address, who: Address) -> U256 {
        TestStablecoin::new(token, &self.provider)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    /// Sets the test token's blacklist flag for `who` (as its owner, like USDC's blacklister).
    pub async fn blacklist(&self, who: Address) {
        self.provider.anvil_set_auto_mine(true).await.unwrap();
        TestStablecoin::new(self.deployment.usdc, &self.provider)
            .blacklist(who)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        self.provider.anvil_set_auto_mine(false).await.unwrap();
    }

    /// `from` sends `units` of `token` to `to`, mined in a block of its own; returns the block.
    pub async fn transfer(
        &self,
        from: &alloy::signers::local::PrivateKeySigner,
        token: Address,
        to: Address,
        units: U256,
    ) -> u64 {
        use alloy::{network::EthereumWallet, providers::ProviderBuilder};
        let sender = ProviderBuilder::new()
            .wallet(EthereumWallet::from(from.clone()))
            .connect_http(self.anvil.endpoint_url());
        let pending = TestStablecoin::new(token, &sender)
            .transfer(to, units)
            .send()
            .await
            .unwrap();
        self.mine(1).await;
        let receipt = pending.get_receipt().await.unwrap();
        assert!(receipt.status(), "transfer reverted");
        receipt.block_number.unwrap()
    }

    /// `payer` approves InvoicePayments for `units` of `token` (one block), then calls `pay(token,
    /// units, reference)` (another block); returns the payment's block.
    pub async fn pay_invoice(
        &self,
        payer: &alloy::signers::local::PrivateKeySigner,
        token: Address,
        units: U256,
        reference: alloy::primitives::B256,
    ) -> u64 {
        use alloy::{network::EthereumWallet, providers::ProviderBuilder};
        let sender = ProviderBuilder::new()
            .wallet(EthereumWallet::from(payer.clone()))
            .connect_http(self.anvil.endpoint_url());
        let contract = self.deployment.invoice_payments;
        // Mined on its own first: gas estimation for pay needs the allowance in place.
        let approve = TestStablecoin::new(token, &sender)
            .approve(contract, units)
            .send()
            .await
            .unwrap();
        self.mine(1).await;
        assert!(approve.get_receipt().await.unwrap().status(), "approve reverted");
        let pay = InvoicePayments::new(contract, &sender)
            .pay(token, units, reference)
            .send()
            .await
            .unwrap();
        self.mine(1).await;
        let receipt = pay.get_receipt().await.unwrap();
        assert!(receipt.status(), "pay reverted");
        receipt.block_number.unwrap()
    }
}
