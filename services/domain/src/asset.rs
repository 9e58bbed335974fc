//! The asset registry: fiat currencies with their ISO 4217 minor units, and stablecoins with
//! their deployments per chain. Mixing assets is always an error; nothing converts silently.

use crate::address::EvmAddress;
use std::{collections::BTreeMap, fmt};

/// EIP-155 chain id.
pub type ChainId = u64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    #[error("unknown asset {0:?}")]
    Unknown(String),
    #[error("an asset code is 3 to 10 upper-case letters or digits, got {0:?}")]
    MalformedCode(String),
    #[error("asset {asset} is not deployed on chain {chain_id}")]
    NotOnChain { asset: AssetCode, chain_id: ChainId },
    #[error("token {token} on chain {chain_id} is not a known asset")]
    UnknownToken { chain_id: ChainId, token: EvmAddress },
}

/// An asset's code: `USD`, `EUR`, `USDC`, `EURC`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetCode(String);

impl AssetCode {
    pub fn parse(input: &str) -> Result<Self, AssetError> {
        let ok = (3..=10).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(AssetError::MalformedCode(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for AssetCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AssetCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Fiat,
    Stablecoin,
    /// A chain's gas asset (ETH, POL, AVAX): the ledger books network fees in it.
    Native,
}

/// One asset and the number of decimal places the ledger keeps for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub code: AssetCode,
    pub kind: AssetKind,
    /// Decimal places kept in the ledger: ISO 4217 minor units for fiat, token decimals for
    /// stablecoins (so one ledger unit at full scale is one on-chain base unit).
    pub scale: u32,
    /// For stablecoins, the fiat currency it tracks (USDC -> USD); used by rules and quotes.
    pub pegged_to: Option<AssetCode>,
}

/// A stablecoin's ERC-20 contract on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDeployment {
    pub asset: AssetCode,
    pub chain_id: ChainId,
    pub token: EvmAddress,
    pub decimals: u8,
}

/// The gas asset of each supported chain (18 decimals on all of them).
const NATIVE_ASSETS: &[(ChainId, &str)] = &[
    (1, "ETH"),
    (10, "ETH"),
    (8453, "ETH"),
    (42161, "ETH"),
    (137, "POL"),
    (43114, "AVAX"),
    (11155111, "ETH"),
    (84532, "ETH"),
    (31337, "ETH"),
];

/// The code of a chain's gas asset, if Corridor knows the chain.
pub fn native_asset_code(chain_id: ChainId) -> Option<&'static str> {
    NATIVE_ASSETS
        .iter()
        .find(|(id, _)| *id == chain_id)
        .map(|(_, code)| *code)
}

/// Every asset Corridor knows. Built once at start-up and shared read-only.
#[derive(Debug, Clone)]
pub struct AssetRegistry {
    assets: BTreeMap<AssetCode, Asset>,
    deployments: Vec<TokenDeployment>,
}

/// ISO 4217 active currencies (code, numeric, minor units, name, entities), copied from
/// ../shared/data/iso_codes (datasets/currency-codes, ODC-PDDL-1.0, public domain).
const ISO_4217: &str = include_str!("iso4217_currencies_active.csv");

/// Mainnet and testnet stablecoin contracts (chain id, asset, address, decimals). Facts taken
/// from Circle's published contract addresses; see ../shared/data/reference/stablecoin_evm_contracts.csv,
/// which a test compares this table against.
const STABLECOIN_DEPLOYMENTS: &[(ChainId, &str, &str, u8)] = &[
    (1, "USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    (8453, "USDC", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", 6),
    (42161, "USDC", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 6),
    (10, "USDC", "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", 6),
    (137, "USDC", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 6),
    (43114, "USDC", "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", 6),
    (1, "EURC", "0x1aBaEA1f7C830bD89Acc67eC4af516284b1bC33c", 6),
    (8453, "EURC", "0x60a3E35Cc302bFA44Cb288Bc5a4F316Fdb1adb42", 6),
    (43114, "EURC", "0xC891EB4cbdEFf6e073e859e987815Ed1505c2ACD", 6),
    (11155111, "USDC", "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238", 6),
    (84532, "USDC", "0x036CbD53842c5426634e7929541eC2318f3dCF7e", 6),
];

impl AssetRegistry {
    /// Fiat currencies from ISO 4217 (those with defined minor units) plus USDC and EURC.
    pub fn builtin() -> Self {
        let mut assets = BTreeMap::new();
        for line in ISO_4217.lines().skip(1) {
            let mut fields = line.split(',');
            let (Some(code), Some(_numeric), Some(minor)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            // "-" marks metals, funds and test codes: not money Corridor moves.
            let Ok(scale) = minor.parse::<u32>() else { continue };
            let Ok(code) = AssetCode::parse(code) else { continue };
            assets.insert(
                code.clone(),
                Asset {
                    code,
                    kind: AssetKind::Fiat,
                    scale,
                    pegged_to: None,
                },
            );
        }
        for (code, peg) in [("USDC", "USD"), ("EURC", "EUR")] {
            let code = AssetCode(code.to_owned());
            assets.insert(
                code.clone(),
                Asset {
                    code,
                    kind: AssetKind::Stablecoin,
                    scale: 6,
                    pegged_to: Some(AssetCode(peg.to_owned())),
                },
            );
        }
        for (_, code) in NATIVE_ASSETS {
            let code = AssetCode((*code).to_owned());
            assets.entry(code.clone()).or_insert(Asset {
                code,
                kind: AssetKind::Native,
                scale: 18,
                pegged_to: None,
            });
        }
        let deployments = STABLECOIN_DEPLOYMENTS
            .iter()
            .map(|(chain_id, asset, token, decimals)| TokenDeployment {
                asset: AssetCode((*asset).to_owned()),
                chain_id: *chain_id,
                token: EvmAddress::parse(token).expect("built-in token addresses are valid EIP-55"),
                decimals: *decimals,
            })
            .collect();
        Self { assets, deployments }
    }

    /// Adds a deployment known only at run time (a local chain's test stablecoin).
    pub fn with_deployment(mut self, deployment: TokenDeployment) -> Result<Self, AssetError> {
        self.get(deployment.asset.as_str())?;
        self.deployments
            .retain(|d| !(d.chain_id == deployment.chain_id && d.asset == deployment.asset));
        self.deployments.push(deployment);
        Ok(self)
    }

    pub fn get(&self, code: &str) -> Result<&Asset, AssetError> {
        AssetCode::parse(code)
            .ok()
            .and_then(|c| self.assets.get(&c))
            .ok_or_else(|| AssetError::Unknown(code.to_owned()))
    }

    /// The asset a chain charges gas in.
    pub fn native_asset(&self, chain_id: ChainId) -> Result<&Asset, AssetError> {
        native_asset_code(chain_id)
            .and_then(|code| self.assets.get(&AssetCode(code.to_owned())))
            .ok_or_else(|| AssetError::Unknown(format!("native asset of chain {chain_id}")))
    }

    pub fn deployment(&self, asset: &AssetCode, chain_id: ChainId) -> Result<&TokenDeployment, AssetError> {
        self.deployments
            .iter()
            .find(|d| &d.asset == asset && d.chain_id == chain_id)
            .ok_or_else(|| AssetError::NotOnChain {
                asset: asset.clone(),
                chain_id,
            })
    }

    pub fn by_token(&self, chain_id: ChainId, token: &EvmAddress) -> Result<&TokenDeployment, AssetError> {
        self.deployments
            .iter()
            .find(|d| d.chain_id == chain_id && &d.token == token)
            .ok_or(AssetError::UnknownToken {
                chain_id,
                token: *token,
            })
    }

    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.assets.values()
    }

    pub fn deployments(&self) -> &[TokenDeployment] {
        &self.deployments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chain_has_its_gas_asset_at_18_decimals() {
        let r = AssetRegistry::builtin();
        let eth = r.native_asset(8453).unwrap();
        assert_eq!((eth.code.as_str(), eth.scale, eth.kind), ("ETH", 18, AssetKind::Native));
        assert_eq!(r.native_asset(137).unwrap().code.as_str(), "POL");
        assert!(r.native_asset(999).is_err());
    }

    #[test]
    fn knows_fiat_minor_units_from_iso_4217() {
        let r = AssetRegistry::builtin();
        assert_eq!(r.get("EUR").unwrap().scale, 2);
        assert_eq!(r.get("JPY").unwrap().scale, 0);
        assert_eq!(r.get("KWD").unwrap().scale, 3);
        assert_eq!(r.get("CLF").unwrap().scale, 4);
        assert!(
            r.get("XAU").is_err(),
            "metals have no minor units and are not money here"
        );
        assert!(r.get("usd").is_err(), "codes are upper case");
    }

    #[test]
    fn knows_stablecoins_and_their_pegs() {
        let r = AssetRegistry::builtin();
        let usdc = r.get("USDC").unwrap();
        assert_eq!((usdc.scale, usdc.kind), (6, AssetKind::Stablecoin));
        assert_eq!(usdc.pegged_to.as_ref().unwrap().as_str(), "USD");
        let base_usdc = r.deployment(&usdc.code, 8453).unwrap();
        assert_eq!(r.by_token(8453, &base_usdc.token).unwrap().asset, usdc.code);
        assert!(r.deployment(&usdc.code, 999).is_err());
    }

    #[test]
    fn a_run_time_deployment_replaces_the_same_asset_on_the_same_chain() {
        let token = EvmAddress::parse("0x5fbdb2315678afecb367f032d93f642f64180aa3").unwrap();
        let usdc = AssetCode::parse("USDC").unwrap();
        let r = AssetRegistry::builtin()
            .with_deployment(TokenDeployment {
                asset: usdc.clone(),
                chain_id: 31337,
                token,
                decimals: 6,
            })
            .unwrap();
        assert_eq!(r.deployment(&usdc, 31337).unwrap().token, token);
        let unknown = TokenDeployment {
            asset: AssetCode::parse("DOGE").unwrap(),
            chain_id: 31337,
            token,
            decimals: 8,
        };
        assert!(r.with_deployment(unknown).is_err());
    }

    /// The built-in table must agree with the shared reference data (skipped without ../shared).
    #[test]
    fn builtin_deployments_agree_with_the_shared_reference_csv() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/reference/stablecoin_evm_contracts.csv"
        );
        let Ok(csv) = std::fs::read_to_string(path) else {
            eprintln!("SKIPPED: {path} not found (a clone without ../shared)");
            return;
        };
        let r = AssetRegistry::builtin();
        let mut checked = 0;
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (token, chain_id, address, decimals) = (f[0], f[3], f[4], f[5]);
            let Ok(code) = AssetCode::parse(token) else { continue };
            let chain_id: ChainId = chain_id.parse().unwrap();
            if let Ok(d) = r.deployment(&code, chain_id)
                && d.token == EvmAddress::parse(address).unwrap()
            {
                assert_eq!(d.decimals.to_string(), decimals);
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            STABLECOIN_DEPLOYMENTS.len(),
            "every built-in deployment appears in the reference CSV"
        );
    }
}
