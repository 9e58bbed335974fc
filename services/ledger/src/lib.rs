//! Double-entry rules, independent of storage. A journal entry is a set of postings whose
//! amounts sum to zero per asset; balances are the fold of postings. The same rules are enforced
//! a second time by Postgres (see migrations/*_ledger.sql), so a bug on either side is caught.

use corridor_domain::{
    AssetCode, Money,
    ids::{EntryId, MerchantId},
};
use rust_decimal::Decimal;
use std::{collections::BTreeMap, fmt};

/// Upper bound on postings in one entry. A yield distribution credits every eligible merchant in
/// one entry, so this is large, but it is still a bound.
pub const POSTINGS_PER_ENTRY_MAX: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("an entry needs at least two postings, got {0}")]
    TooFewPostings(usize),
    #[error("an entry may have at most {POSTINGS_PER_ENTRY_MAX} postings, got {0}")]
    TooManyPostings(usize),
    #[error("posting {index} has a zero amount")]
    ZeroPosting { index: usize },
    #[error("posting {index} puts {amount_asset} into a {account_asset} account")]
    AssetMismatch {
        index: usize,
        account_asset: AssetCode,
        amount_asset: AssetCode,
    },
    #[error("entry does not balance: {asset} postings sum to {sum}")]
    Unbalanced { asset: AssetCode, sum: Decimal },
    #[error("hold is already {0}; a hold resolves at most once")]
    HoldAlreadyResolved(HoldState),
}

/// Who an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Merchant(MerchantId),
    /// The platform operator itself: fees, clearing, FX.
    Platform,
}

/// What an account is for. Whether it may go negative is part of its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Merchant funds that can be spent.
    Available,
    /// Merchant funds held for a payout in flight.
    Reserved,
    /// Merchant receipts seen on chain but not yet final.
    IncomingPending,
    /// Fees the platform has earned.
    PlatformFees,
    /// The platform's position on a chain: stablecoins held on chain are a negative balance
    /// here, mirrored by merchant balances. May go negative by design.
    ChainClearing,
    /// Cross-asset conversions pass through here. May go negative.
    Fx,
    /// The outside world for test money (dev-profile sandbox credits). May go negative.
    SandboxFunding,
    /// Yield earned on the float before it is distributed.
    YieldPool,
    /// Gas the platform paid to send transactions, in the chain's native asset; an expense, so
    /// it goes negative.
    NetworkFees,
    /// A yield partner's share of distributed yield, owed to the partner until it is paid out.
    PartnerPayable,
}

impl Purpose {
    pub const ALL: [Purpose; 10] = [
        Purpose::Available,
        Purpose::Reserved,
        Purpose::IncomingPending,
        Purpose::PlatformFees,
        Purpose::ChainClearing,
        Purpose::Fx,
        Purpose::SandboxFunding,
        Purpose::YieldPool,
        Purpose::NetworkFees,
        Purpose::PartnerPayable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Available => "available",
            Purpose::Reserved => "reserved",
            Purpose::IncomingPending => "incoming_pending",
            Purpose::PlatformFees => "platform_fees",
            Purpose::ChainClearing => "chain_clearing",
            Purpose::Fx => "fx",
            Purpose::SandboxFunding => "sandbox_funding",
            Purpose::YieldPool => "yield_pool",
            Purpose::NetworkFees => "network_fees",
            Purpose::PartnerPayable => "partner_payable",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Accounts that mirror the outside world may go negative; a merchant's money never may.
    pub fn allows_negative(self) -> bool {
        matches!(
            self,
            Purpose::ChainClearing | Purpose::Fx | Purpose::SandboxFunding | Purpose::NetworkFees
        )
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one account: owner x asset x purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    pub owner: Owner,
    pub asset: AssetCode,
    pub purpose: Purpose,
}

impl AccountKey {
    pub fn merchant(merchant: MerchantId, asset: AssetCode, purpose: Purpose) -> Self {
        Self {
            owner: Owner::Merchant(merchant),
            asset,
            purpose,
        }
    }

    pub fn platform(asset: AssetCode, purpose: Purpose) -> Self {
        Self {
            owner: Owner::Platform,
            asset,
            purpose,
        }
    }
}

/// One line of an entry: a signed change to one account's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: AccountKey,
    pub amount: Money,
}

/// A journal entry before it is written. `validate` must pass before storage accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    /// Generated by the caller and persisted, so a retried write is recognised.
    pub id: EntryId,
    /// A machine-readable kind, e.g. `sandbox_credit`, `payout_hold`.
    pub kind: &'static str,
    pub memo: String,
    pub postings: Vec<Posting>,
}

impl EntryDraft {
    /// The common case: move `amount` from one account to another.
    pub fn transfer(
        kind: &'static str,
        memo: impl Into<String>,
        from: AccountKey,
        to: AccountKey,
        amount: Money,
    ) -> Self {
        Self {
            id: EntryId::new(),
            kind,
            memo: memo.into(),
            postings: vec![
                Posting {
                    account: from,
                    amount: amount.negated(),
                },
                Posting { account: to, amount },
            ],
        }
    }

    /// Checks the double-entry invariants in code; the database checks them again at commit.
    pub fn validate(&self) -> Result<(), LedgerError> {
        let n = self.postings.len();
        if n < 2 {
            return Err(LedgerError::TooFewPostings(n));
        }
        if n > POSTINGS_PER_ENTRY_MAX {
            return Err(LedgerError::TooManyPostings(n));
        }
        let mut sums: BTreeMap<&AssetCode, Decimal> = BTreeMap::new();
        for (index, posting) in self.postings.iter().enumerate() {
            if posting.amount.is_zero() {
                return Err(LedgerError::ZeroPosting { index });
            }
            if posting.amount.asset() != &posting.account.asset {
                return Err(LedgerError::AssetMismatch {
                    index,
                    account_asset: posting.account.asset.clone(),
                    amount_asset: posting.amount.asset().clone(),
                });
            }
            let sum = sums.entry(posting.amount.asset()).or_default();
            // Overflow would need ~10^28 in one entry; treat it as unbalanced, never wrap.
            *sum = sum
                .checked_add(posting.amount.amount())
                .ok_or_else(|| LedgerError::Unbalanced {
                    asset: posting.amount.asset().clone(),
                    sum: Decimal::MAX,
                })?;
        }
        match sums.into_iter().find(|(_, sum)| !sum.is_zero()) {
            Some((asset, sum)) => Err(LedgerError::Unbalanced {
                asset: asset.clone(),
                sum,
            }),
            None => Ok(()),
        }
    }
}

/// A two-phase hold: created pending, then posted or voided, each at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    Pending,
    Posted,
    Voided,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Pending => "pending",
            HoldState::Posted => "posted",
            HoldState::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<HoldState> {
        [HoldState::Pending, HoldState::Posted, HoldState::Voided]
            .into_iter()
            .find(|h| h.as_str() == s)
    }

    /// The only transitions: pending -> posted, pending -> voided.
    pub fn resolve(self, to: HoldState) -> Result<HoldState, LedgerError> {
        match (self, to) {
            (HoldState::Pending, HoldState::Posted | HoldState::Voided) => Ok(to),
            (from, _) => Err(LedgerError::HoldAlreadyResolved(from)),
        }
    }
}

impl fmt::Display for HoldState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
