//! EVM addresses, parsed once at the edge.

use alloy_primitives::Address;
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("an EVM address is 0x followed by 40 hex digits")]
    Malformed,
    #[error("the address mixes upper and lower case but its EIP-55 checksum is wrong")]
    BadChecksum,
}

/// A 20-byte EVM address. Displayed in EIP-55 checksum form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvmAddress(Address);

impl EvmAddress {
    /// Strict parse for addresses a user types into an address book: an all-lowercase (or
    /// all-uppercase) address is accepted, a mixed-case one must carry a valid EIP-55 checksum,
    /// because a mixed-case address with a wrong checksum is most likely a typo.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let hex = input.strip_prefix("0x").ok_or(AddressError::Malformed)?;
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressError::Malformed);
        }
        let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper {
            return Address::parse_checksummed(input, None)
                .map(Self)
                .map_err(|_| AddressError::BadChecksum);
        }
        Address::from_str(input).map(Self).map_err(|_| AddressError::Malformed)
    }

    /// Case-insensitive parse for matching against lists that publish addresses in any case
    /// (OFAC's remarks mix cases freely); never use it for user input that will receive money.
    pub fn parse_any_case(input: &str) -> Result<Self, AddressError> {
        let trimmed = input.trim();
        let hex = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .ok_or(AddressError::Malformed)?;
        if hex.len() != 40 {
            return Err(AddressError::Malformed);
        }
        Address::from_str(&hex.to_ascii_lowercase())
            .map(Self)
            .map_err(|_| AddressError::Malformed)
    }

    pub const fn from_alloy(address: Address) -> Self {
        Self(address)
    }

    pub const fn as_alloy(&self) -> Address {
        self.0
    }

    /// Lowercase hex with 0x, the form stored in Postgres and used for lookups.
    pub fn to_lowercase_hex(&self) -> String {
        format!("{:#x}", self.0)
    }
}

impl fmt::Display for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_checksum(None))
    }
}

impl fmt::Debug for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvmAddress({self})")
    }
}

impl serde::Serialize for EvmAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EvmAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKSUMMED: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

    #[test]
    fn accepts_checksummed_and_lowercase_forms_of_the_same_address() {
        let a = EvmAddress::parse(CHECKSUMMED).unwrap();
        let b = EvmAddress::parse(&CHECKSUMMED.to_lowercase()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), CHECKSUMMED);
    }

    #[test]
    fn rejects_mixed_case_with_a_wrong_checksum() {
        let typo = "0xa0B86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
        assert_eq!(EvmAddress::parse(typo), Err(AddressError::BadChecksum));
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "0x",
            "A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "0x123",
            "0xZZb86991c6218b36c1d19d4a2e9eb0ce3606eb48",
        ] {
            assert_eq!(EvmAddress::parse(bad), Err(AddressError::Malformed), "{bad}");
        }
    }

    #[test]
    fn any_case_parse_matches_uppercase_lists() {
        let upper = format!("0x{}", &CHECKSUMMED[2..].to_uppercase());
        assert_eq!(
            EvmAddress::parse_any_case(&upper).unwrap(),
            EvmAddress::parse(CHECKSUMMED).unwrap()
        );
    }
}
