//! Runs one submitter round and exits: used by the crash tests (which kill it at failpoints),
//! and by operators to push a sender's queue once by hand.
//!
//! Environment: DATABASE_URL, CORRIDOR_CHAIN_RPC_URL, CORRIDOR_CHAIN_ID,
//! CORRIDOR_CHAIN_SUBMITTER_KEY; optional CORRIDOR_FAILPOINT.

use alloy::providers::{Provider, ProviderBuilder};
use corridor_chain::{
    signer::LocalKeySigner,
    submitter::{Submitter, SubmitterConfig},
};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is required"));
    let pool = corridor_store::connect(&corridor_store::PoolConfig::new(var("DATABASE_URL")?)).await?;
    let provider = ProviderBuilder::new()
        .connect_http(var("CORRIDOR_CHAIN_RPC_URL")?.parse()?)
        .erased();
    let signer = Arc::new(LocalKeySigner::from_hex(
        &var("CORRIDOR_CHAIN_SUBMITTER_KEY")?,
        false,
        true,
    )?);
    let config = SubmitterConfig::new(var("CORRIDOR_CHAIN_ID")?.parse()?);
    let submitter = Submitter::new(pool, provider, signer, config).await?;
    let report = submitter.tick().await;
    submitter.release().await;
    println!("{:?}", report?);
    Ok(())
}
