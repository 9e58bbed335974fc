//! The chain layer: the only crate that talks to EVM nodes (alloy). Contract bindings from the
//! committed forge artifacts, chain configuration, local development chains.
//!
//! Contents: bindings, configuration, chain-id checks, local deployment, transaction and digest
//! signers, the PayoutRouter's packed formats and attestation (`router`), the submitter
//! (database-owned nonces, persisted raw transactions, rebroadcast, fee bumps) and the watcher
//! (confirmations, finality, reorgs).

pub mod bindings;
pub mod config;
pub mod local;
pub mod router;
pub mod signer;
pub mod store;
pub mod submitter;
pub mod watcher;

pub use config::{ChainConfig, ChainConfigError, Finality};

use alloy::providers::{Provider, ProviderBuilder};
use std::time::Duration;

/// Every RPC call is bounded; a node that does not answer must not hang a caller.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the node at {url} reports chain id {actual}, configured {expected}: refusing to use it")]
    ChainIdMismatch { url: String, expected: u64, actual: u64 },
    #[error("RPC call failed: {0}")]
    Rpc(String),
    #[error("RPC call timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Refused(String),
}

/// Checks the node serves the configured chain (fail closed on a mismatch).
pub async fn check_chain_id(config: &ChainConfig) -> Result<(), ChainError> {
    let provider = ProviderBuilder::new().connect_http(config.rpc_url.clone());
    let actual = tokio::time::timeout(RPC_TIMEOUT, provider.get_chain_id())
        .await
        .map_err(|_| ChainError::Timeout(RPC_TIMEOUT))?
        .map_err(|e| ChainError::Rpc(e.to_string()))?;
    if actual != config.chain_id {
        return Err(ChainError::ChainIdMismatch {
            url: config.rpc_url.to_string(),
            expected: config.chain_id,
            actual,
        });
    }
    Ok(())
}
