//! One chain's configuration, validated at start-up.

use reqwest::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finality {
    /// Final after this many confirmations.
    Depth(u64),
    /// Final when the node's `finalized` block tag has passed the block.
    FinalizedTag,
}

#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub chain_id: u64,
    pub rpc_url: Url,
    pub finality: Finality,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {key}: {reason}")]
pub struct ChainConfigError {
    pub key: &'static str,
    pub reason: String,
}

pub const ENV_KEYS: &[&str] = &["CORRIDOR_CHAIN_ID", "CORRIDOR_CHAIN_RPC_URL", "CORRIDOR_CHAIN_FINALITY"];

impl ChainConfig {
    /// `None` when no chain is configured (the API still serves; chain work waits).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ChainConfigError> {
        let Some(rpc) = get("CORRIDOR_CHAIN_RPC_URL") else {
            return Ok(None);
        };
        let rpc_url = Url::parse(&rpc).map_err(|e| err("CORRIDOR_CHAIN_RPC_URL", e.to_string()))?;
        if !matches!(rpc_url.scheme(), "http" | "https") {
            return Err(err("CORRIDOR_CHAIN_RPC_URL", "must be http:// or https://".into()));
        }
        let chain_id = get("CORRIDOR_CHAIN_ID")
            .ok_or_else(|| err("CORRIDOR_CHAIN_ID", "required with CORRIDOR_CHAIN_RPC_URL".into()))?
            .parse()
            .map_err(|e: std::num::ParseIntError| err("CORRIDOR_CHAIN_ID", e.to_string()))?;
        let finality = match get("CORRIDOR_CHAIN_FINALITY").as_deref() {
            None => Finality::Depth(12),
            Some("finalized") => Finality::FinalizedTag,
            Some(depth) => Finality::Depth(depth.parse().map_err(|_| {
                err(
                    "CORRIDOR_CHAIN_FINALITY",
                    format!("expected a confirmation depth or \"finalized\", got {depth:?}"),
                )
            })?),
        };
        Ok(Some(ChainConfig {
            chain_id,
            rpc_url,
            finality,
        }))
    }
}

fn err(key: &'static str, reason: String) -> ChainConfigError {
    ChainConfigError { key, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Option<ChainConfig>, ChainConfigError> {
        ChainConfig::from_lookup(|k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn no_rpc_url_means_no_chain() {
        assert!(with(&[]).unwrap().is_none());
    }

    #[test]
    fn parses_depth_and_finalized_tag_and_names_bad_keys() {
        let c = with(&[
            ("CORRIDOR_CHAIN_RPC_URL", "http://127.0.0.1:8545"),
            ("CORRIDOR_CHAIN_ID", "31337"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((c.chain_id, c.finality), (31337, Finality::Depth(12)));
        let f = with(&[
            ("CORRIDOR_CHAIN_RPC_URL", "http://x"),
            ("CORRIDOR_CHAIN_ID", "1"),
            ("CORRIDOR_CHAIN_FINALITY", "finalized"),
        ]);
        assert_eq!(f.unwrap().unwrap().finality, Finality::FinalizedTag);
        assert_eq!(
            with(&[("CORRIDOR_CHAIN_RPC_URL", "http://x")]).unwrap_err().key,
            "CORRIDOR_CHAIN_ID"
        );
        assert_eq!(
            with(&[("CORRIDOR_CHAIN_RPC_URL", "ftp://x"), ("CORRIDOR_CHAIN_ID", "1")])
                .unwrap_err()
                .key,
            "CORRIDOR_CHAIN_RPC_URL"
        );
    }
}
