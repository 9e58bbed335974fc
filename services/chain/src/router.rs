//! The PayoutRouter's packed formats, in one place for whoever builds batches (payouts, yield)
//! and for the watcher that reads their records back.
//!
//! A batch item is 48 bytes: `recipient (20) | amount (12, uint96) | payout id (16)`. The router
//! emits one topic-less log per paid item whose 48 data bytes are `decision hash (32) | payout
//! id (16)` (see contracts/src/PayoutRouter.sol for why it is not an ABI event).

use crate::{bindings::PayoutRouter, signer::DigestSigner};
use alloy::{
    primitives::{Address, B256, Bytes, FixedBytes, U256},
    sol_types::{SolCall, SolStruct, eip712_domain},
};

pub const ITEM_BYTES: usize = 48;
const RECORD_BYTES: usize = 48;

/// One payout inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub payout_id: FixedBytes<16>,
    pub recipient: Address,
    /// Base units; at most 2^96 - 1 (checked by [`pack_items`]).
    pub amount: U256,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    #[error("a batch needs at least one item")]
    Empty,
    #[error("item {index}: amount {amount} does not fit the router's 96-bit amount field")]
    AmountTooLarge { index: usize, amount: U256 },
}

/// The `items` argument of `payBatch`, also what the attestation's `items` member hashes.
pub fn pack_items(items: &[BatchItem]) -> Result<Bytes, PackError> {
    if items.is_empty() {
        return Err(PackError::Empty);
    }
    let mut out = Vec::with_capacity(items.len() * ITEM_BYTES);
    for (index, item) in items.iter().enumerate() {
        if item.amount.bit_len() > 96 {
            return Err(PackError::AmountTooLarge {
                index,
                amount: item.amount,
            });
        }
        out.extend_from_slice(item.recipient.as_slice());
        out.extend_from_slice(&item.amount.to_be_bytes::<32>()[20..]);
        out.extend_from_slice(item.payout_id.as_slice());
    }
    Ok(out.into())
}

alloy::sol! {
    /// The router's batch attestation type (contracts/src/PayoutRouter.sol, `BATCH_TYPEHASH`).
    struct PayoutBatch {
        address token;
        bytes items;
        uint256 nonce;
        uint256 expiry;
        bytes32 decisionHash;
    }
}

/// What the compliance signer attests for one `payBatch` call.
#[derive(Debug, Clone)]
pub struct BatchAttestation {
    pub chain_id: u64,
    pub router: Address,
    pub token: Address,
    /// `pack_items` output.
    pub items: Bytes,
    pub nonce: U256,
    /// Unix seconds after which the router refuses the attestation.
    pub expiry: U256,
    pub decision_hash: B256,
}

impl BatchAttestation {
    /// The EIP-712 digest the router recomputes (`batchDigest`): domain "Corridor PayoutRouter",
    /// version "1", this chain and router.
    pub fn digest(&self) -> B256 {
        let domain = eip712_domain! {
            name: "Corridor PayoutRouter",
            version: "1",
            chain_id: self.chain_id,
            verifying_contract: self.router,
        };
        PayoutBatch {
            token: self.token,
            items: self.items.clone(),
            nonce: self.nonce,
            expiry: self.expiry,
            decisionHash: self.decision_hash,
        }
        .eip712_signing_hash(&domain)
    }

    /// Signs the attestation and returns the `payBatch` calldata carrying it.
    pub fn sign_into_calldata(&self, signer: &dyn DigestSigner) -> Result<Vec<u8>, String> {
        let signature = signer.sign_digest(self.digest())?;
        Ok(PayoutRouter::payBatchCall {
            token: self.token,
            items: self.items.clone(),
            nonce: self.nonce,
            expiry: self.expiry,
            decisionHash: self.decision_hash,
            signature: Bytes::copy_from_slice(&signature),
        }
        .abi_encode())
    }
}

/// Gas to ask for a `payBatch` of `items`: a fresh recipient's transfer and record cost about
/// 30k; the margin covers tokens with heavier transfers (USDC's proxy and blacklist checks).
pub fn batch_gas_limit(items: usize) -> u64 {
    90_000 + 60_000 * items as u64
}

/// A payout the router executed, read from its topic-less record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutExecuted {
    pub payout_id: FixedBytes<16>,
    pub decision_hash: B256,
}

/// Decodes a router record from a log the router emitted. Logs with topics (owner events) or
/// another data length are not payout records.
pub fn decode_executed(topics: &[B256], data: &[u8]) -> Option<PayoutExecuted> {
    if !topics.is_empty() || data.len() != RECORD_BYTES {
        return None;
    }
    Some(PayoutExecuted {
        decision_hash: B256::from_slice(&data[..32]),
        payout_id: FixedBytes::<16>::from_slice(&data[32..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_recipient_amount_and_id_in_48_bytes() {
        let item = BatchItem {
            payout_id: FixedBytes::repeat_byte(0xAB),
            recipient: Address::repeat_byte(0x11),
            amount: U256::from(1_000_000u64),
        };
        let packed = pack_items(&[item.clone(), item]).unwrap();
        assert_eq!(packed.len(), 96);
        assert_eq!(&packed[..20], &[0x11; 20]);
        assert_eq!(&packed[20..32], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]);
        assert_eq!(&packed[32..48], &[0xAB; 16]);
    }

    #[test]
    fn refuses_an_amount_over_96_bits_and_an_empty_batch() {
        let item = BatchItem {
            payout_id: FixedBytes::ZERO,
            recipient: Address::ZERO,
            amount: U256::from(1u8) << 96,
        };
        assert_eq!(
            pack_items(std::slice::from_ref(&item)),
            Err(PackError::AmountTooLarge {
                index: 0,
                amount: item.amount
            })
        );
        assert_eq!(pack_items(&[]), Err(PackError::Empty));
    }

    #[test]
    fn decodes_only_topic_less_48_byte_records() {
        let mut data = vec![0x42; 32];
        data.extend_from_slice(&[0x07; 16]);
        let ev = decode_executed(&[], &data).unwrap();
        assert_eq!(ev.decision_hash, B256::repeat_byte(0x42));
        assert_eq!(ev.payout_id, FixedBytes::repeat_byte(0x07));
        assert_eq!(decode_executed(&[B256::ZERO], &data), None);
        assert_eq!(decode_executed(&[], &data[..47]), None);
    }
}
