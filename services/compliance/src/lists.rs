//! Sanctions list entries, independent of the format they came in.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Individual,
    Entity,
    Vessel,
    Aircraft,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Individual => "individual",
            EntityKind::Entity => "entity",
            EntityKind::Vessel => "vessel",
            EntityKind::Aircraft => "aircraft",
        }
    }
}

/// A digital currency address as the list gives it: OFAC's ticker (ETH, USDT, XBT...) and the
/// address in the case it was published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedAddress {
    pub ticker: String,
    pub address: String,
}

impl ListedAddress {
    /// The form addresses are compared in: EVM addresses are case-insensitive (EIP-55 is only a
    /// checksum), so they are lowercased; other chains' addresses are case-sensitive and kept.
    pub fn comparable(&self) -> String {
        comparable_address(&self.address)
    }
}

/// See [`ListedAddress::comparable`].
pub fn comparable_address(address: &str) -> String {
    let a = address.trim();
    let is_evm =
        a.len() == 42 && (a.starts_with("0x") || a.starts_with("0X")) && a[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if is_evm { a.to_ascii_lowercase() } else { a.to_owned() }
}

/// One listed person, entity, vessel or aircraft.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListEntry {
    /// Which list: `ofac_sdn`, `ofac_consolidated`, `un`.
    pub list: String,
    /// The list's own identifier (OFAC's ent_num).
    pub ent_num: u64,
    pub name: String,
    pub kind: EntityKind,
    pub programs: Vec<String>,
    pub aliases: Vec<String>,
    pub countries: Vec<String>,
    pub dates_of_birth: Vec<String>,
    pub addresses: Vec<ListedAddress>,
}

/// A list file that cannot be read: which file, which line, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {reason}")]
pub struct ListError {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_addresses_compare_without_case_and_others_keep_theirs() {
        assert_eq!(
            comparable_address("0x098B716B8Aaf21512996dC57EB0615e2383E2f96"),
            "0x098b716b8aaf21512996dc57eb0615e2383e2f96"
        );
        assert_eq!(
            comparable_address("bc1qMixedCaseIsMeaningful"),
            "bc1qMixedCaseIsMeaningful"
        );
    }
}
