//! Gas per recipient of PayoutRouter.payBatch on a real anvil, against the EVM floor per
//! recipient (../shared/notes: 24,710 gas fresh, 7,610 existing holder, inside a batch).
//! Gas is taken from transaction receipts: intrinsic cost, calldata and the attestation check
//! are all included.
//!
//! Run: cargo run -p corridor-chain --example gas_report   (prints a markdown table)

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, FixedBytes, U256},
    providers::ProviderBuilder,
    signers::SignerSync,
};
use corridor_chain::{
    bindings::PayoutRouter,
    local::{self, DevKeys},
};
use std::path::Path;

const FLOOR_FRESH: u64 = 24_710;
const FLOOR_EXISTING: u64 = 7_610;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // One block per transaction (automine) keeps each measurement to one receipt.
    let anvil = local::spawn_anvil_with(&root, None, local::Mining::Manual)?;
    let keys = DevKeys::from_anvil(&anvil);
    let deployer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(keys.deployer.clone()))
        .connect_http(anvil.endpoint_url());
    alloy::providers::ext::AnvilApi::anvil_set_auto_mine(&deployer, true).await?;
    let d = local::deploy(anvil.endpoint_url(), &keys, U256::from(10u64).pow(U256::from(15u64))).await?;
    let submitter = ProviderBuilder::new()
        .wallet(EthereumWallet::from(keys.submitter.clone()))
        .connect_http(anvil.endpoint_url());
    let router = PayoutRouter::new(d.payout_router, &submitter);

    println!("| batch size | recipients | gas used | gas per recipient | EVM floor | ratio |");
    println!("|---:|---|---:|---:|---:|---:|");
    let mut next_id: u64 = 1;
    for n in [10usize, 100, 500] {
        let recipients: Vec<Address> = (0..n)
            .map(|i| Address::from_word(B256::from(U256::from(0xABCD_0000u64 + (n as u64) * 1_000 + i as u64))))
            .collect();
        for (kind, floor) in [("fresh", FLOOR_FRESH), ("existing holders", FLOOR_EXISTING)] {
            let items: Vec<PayoutRouter::Item> = recipients
                .iter()
                .map(|r| {
                    next_id += 1;
                    PayoutRouter::Item {
                        payoutId: FixedBytes::<16>::from(u128::from(next_id).to_be_bytes()),
                        recipient: *r,
                        amount: U256::from(1_000_000u64),
                    }
                })
                .collect();
            let expiry = U256::from(u64::MAX);
            let decision = B256::repeat_byte(0x42);
            let digest = router
                .batchDigest(d.usdc, items.clone(), expiry, decision)
                .call()
                .await?;
            let signature = keys.compliance.sign_hash_sync(&digest)?;
            let receipt = router
                .payBatch(d.usdc, items, expiry, decision, signature.as_bytes().into())
                .send()
                .await?
                .get_receipt()
                .await?;
            assert!(receipt.status(), "batch reverted");
            let per = receipt.gas_used / n as u64;
            let ratio_milli = per * 1000 / floor;
            println!(
                "| {n} | {kind} | {} | {per} | {floor} | {}.{:02}x |",
                receipt.gas_used,
                ratio_milli / 1000,
                (ratio_milli % 1000) / 10
            );
        }
    }
    Ok(())
}
