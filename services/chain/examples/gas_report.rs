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
    router::{BatchItem, pack_items},
};
use std::path::Path;

const FLOOR_FRESH: u64 = 24_710;
const FLOOR_EXISTING: u64 = 7_610;
/// Spreads counter ids over all 16 bytes (an odd 128-bit multiplier is a bijection).
const PRIME: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;

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
    let mut nonce: u64 = 0;
    for n in [10usize, 100, 500] {
        let recipients: Vec<Address> = (0..n)
            // Real addresses are 20 random bytes; calldata prices zero bytes lower, so low
            // addresses would flatter the figure.
            .map(|i| {
                Address::from_word(alloy::primitives::keccak256(
                    ((n as u64) << 32 | i as u64).to_be_bytes(),
                ))
            })
            .collect();
        for (kind, floor) in [("fresh", FLOOR_FRESH), ("existing holders", FLOOR_EXISTING)] {
            let items: Vec<BatchItem> = recipients
                .iter()
                .map(|r| {
                    next_id += 1;
                    BatchItem {
                        // Payout ids are random 16-byte values in production; calldata prices
                        // zero bytes lower, so a counter would flatter the figure.
                        payout_id: FixedBytes::<16>::from(u128::from(next_id).wrapping_mul(PRIME).to_be_bytes()),
                        recipient: *r,
                        amount: U256::from(1_000_000u64),
                    }
                })
                .collect();
            let packed = pack_items(&items)?;
            // Nonces in sequence, as the gateway hands them out: most share a bitmap word.
            nonce += 1;
            let (expiry, decision) = (U256::from(u64::MAX), B256::repeat_byte(0x42));
            let digest = router
                .batchDigest(d.usdc, packed.clone(), U256::from(nonce), expiry, decision)
                .call()
                .await?;
            let signature = keys.compliance.sign_hash_sync(&digest)?;
            let receipt = router
                .payBatch(
                    d.usdc,
                    packed,
                    U256::from(nonce),
                    expiry,
                    decision,
                    signature.as_bytes().into(),
                )
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
