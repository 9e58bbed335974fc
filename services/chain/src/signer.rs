//! Transaction signers behind a small trait, so a KMS signer can replace the local key. Keys
//! never appear in logs, errors or `Debug` output.

use alloy::{
    consensus::TxEip1559,
    network::TxSignerSync,
    primitives::{Address, B256, Signature},
    signers::{SignerSync, local::PrivateKeySigner},
};

pub trait TxSigner: Send + Sync {
    fn address(&self) -> Address;
    fn sign(&self, tx: &mut TxEip1559) -> Result<Signature, String>;
}

/// Signs EIP-712 digests: the compliance key that attests payouts. A different key from the
/// submitter's, so neither alone can move money through the PayoutRouter.
pub trait DigestSigner: Send + Sync {
    fn address(&self) -> Address;
    /// 65 bytes `r | s | v` (v = 27 or 28), as the router's ECDSA recovery expects.
    fn sign_digest(&self, digest: B256) -> Result<[u8; 65], String>;
}

/// A private key held in memory: for development, or production only when explicitly allowed.
pub struct LocalKeySigner(PrivateKeySigner);

impl LocalKeySigner {
    pub fn new(key: PrivateKeySigner) -> Self {
        Self(key)
    }

    /// Parses a hex key. In the prod profile this refuses unless `allow_raw_key` is set, so a
    /// production deployment uses a KMS signer unless someone decided otherwise on purpose.
    pub fn from_hex(hex: &str, is_prod: bool, allow_raw_key: bool) -> Result<Self, String> {
        if is_prod && !allow_raw_key {
            return Err(
                "a raw private key is refused in the prod profile; use a KMS signer or set CORRIDOR_ALLOW_RAW_KEY=true"
                    .into(),
            );
        }
        hex.trim()
            .parse::<PrivateKeySigner>()
            .map(Self)
            .map_err(|_| "the signing key is not a valid secp256k1 key".into())
    }
}

impl std::fmt::Debug for LocalKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKeySigner({})", self.0.address())
    }
}

impl DigestSigner for LocalKeySigner {
    fn address(&self) -> Address {
        self.0.address()
    }

    fn sign_digest(&self, digest: B256) -> Result<[u8; 65], String> {
        self.0
            .sign_hash_sync(&digest)
            .map(|s| s.as_bytes())
            .map_err(|e| e.to_string())
    }
}

impl TxSigner for LocalKeySigner {
    fn address(&self) -> Address {
        self.0.address()
    }

    fn sign(&self, tx: &mut TxEip1559) -> Result<Signature, String> {
        self.0.sign_transaction_sync(tx).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn the_key_never_prints_and_prod_refuses_raw_keys() {
        let s = LocalKeySigner::from_hex(KEY, false, false).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains(&KEY[2..10]), "{shown}");
        assert!(shown.contains("0xf39F"), "shows the address: {shown}");
        let err = LocalKeySigner::from_hex(KEY, true, false).unwrap_err();
        assert!(!err.contains(&KEY[2..10]));
        assert!(LocalKeySigner::from_hex(KEY, true, true).is_ok());
        let bad = LocalKeySigner::from_hex("0x1234", false, false).unwrap_err();
        assert!(!bad.contains("1234"), "errors do not echo the key");
    }
}
