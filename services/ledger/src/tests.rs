use super::*;
use corridor_domain::{AssetRegistry, Money};
use proptest::prelude::*;

fn usdc(amount: &str) -> Money {
    Money::parse(amount, AssetRegistry::builtin().get("USDC").unwrap()).unwrap()
}

fn eur(amount: &str) -> Money {
    Money::parse(amount, AssetRegistry::builtin().get("EUR").unwrap()).unwrap()
}

fn key(purpose: Purpose, asset: &str) -> AccountKey {
    AccountKey::platform(AssetCode::parse(asset).unwrap(), purpose)
}

#[test]
fn a_transfer_balances() {
    let e = EntryDraft::transfer(
        "t",
        "",
        key(Purpose::Fx, "USDC"),
        key(Purpose::PlatformFees, "USDC"),
        usdc("5"),
    );
    assert_eq!(e.validate(), Ok(()));
}

#[test]
fn an_unbalanced_entry_is_rejected() {
    let mut e = EntryDraft::transfer(
        "t",
        "",
        key(Purpose::Fx, "USDC"),
        key(Purpose::PlatformFees, "USDC"),
        usdc("5"),
    );
    e.postings[1].amount = usdc("4");
    assert!(matches!(e.validate(), Err(LedgerError::Unbalanced { .. })));
}

#[test]
fn balancing_across_assets_does_not_count() {
    // -5 USDC + 5 EUR sums to zero numerically but not per asset.
    let e = EntryDraft {
        id: EntryId::new(),
        kind: "t",
        memo: String::new(),
        postings: vec![
            Posting {
                account: key(Purpose::Fx, "USDC"),
                amount: usdc("5").negated(),
            },
            Posting {
                account: key(Purpose::Fx, "EUR"),
                amount: eur("5"),
            },
        ],
    };
    assert!(matches!(e.validate(), Err(LedgerError::Unbalanced { .. })));
}

#[test]
fn a_posting_in_the_wrong_asset_is_rejected() {
    let e = EntryDraft {
        id: EntryId::new(),
        kind: "t",
        memo: String::new(),
        postings: vec![
            Posting {
                account: key(Purpose::Fx, "EUR"),
                amount: usdc("5").negated(),
            },
            Posting {
                account: key(Purpose::Fx, "USDC"),
                amount: usdc("5"),
            },
        ],
    };
    assert!(matches!(e.validate(), Err(LedgerError::AssetMismatch { index: 0, .. })));
}

#[test]
fn zero_and_single_postings_are_rejected() {
    let mut e = EntryDraft::transfer(
        "t",
        "",
        key(Purpose::Fx, "USDC"),
        key(Purpose::PlatformFees, "USDC"),
        usdc("0"),
    );
    assert_eq!(e.validate(), Err(LedgerError::ZeroPosting { index: 0 }));
    e.postings.truncate(1);
    assert_eq!(e.validate(), Err(LedgerError::TooFewPostings(1)));
}

#[test]
fn a_hold_resolves_at_most_once() {
    let posted = HoldState::Pending.resolve(HoldState::Posted).unwrap();
    assert_eq!(
        posted.resolve(HoldState::Voided),
        Err(LedgerError::HoldAlreadyResolved(HoldState::Posted))
    );
    assert!(HoldState::Pending.resolve(HoldState::Pending).is_err());
}

#[test]
fn purposes_round_trip_and_only_world_facing_ones_go_negative() {
    for p in Purpose::ALL {
        assert_eq!(Purpose::parse(p.as_str()), Some(p));
    }
    assert!(!Purpose::Available.allows_negative());
    assert!(!Purpose::Reserved.allows_negative());
    assert!(Purpose::ChainClearing.allows_negative());
}

proptest! {
    /// Any set of transfers folded into one entry balances, and perturbing one posting by one
    /// base unit always unbalances it.
    #[test]
    fn folded_transfers_balance_and_any_perturbation_breaks_them(
        amounts in proptest::collection::vec(1u64..1_000_000_000_000, 1..20),
        victim in 0usize..40,
    ) {
        let mut postings = Vec::new();
        for (i, units) in amounts.iter().enumerate() {
            let money = usdc(&format!("{}.{:06}", units / 1_000_000, units % 1_000_000));
            let purpose = if i % 2 == 0 { Purpose::Fx } else { Purpose::ChainClearing };
            postings.push(Posting { account: key(purpose, "USDC"), amount: money.negated() });
            postings.push(Posting { account: key(Purpose::PlatformFees, "USDC"), amount: money });
        }
        let mut entry = EntryDraft { id: EntryId::new(), kind: "t", memo: String::new(), postings };
        prop_assert_eq!(entry.validate(), Ok(()));
        let idx = victim % entry.postings.len();
        entry.postings[idx].amount = entry.postings[idx].amount.checked_add(&usdc("0.000001")).unwrap();
        if entry.postings[idx].amount.is_zero() {
            let zero = matches!(entry.validate(), Err(LedgerError::ZeroPosting { .. }));
            prop_assert!(zero);
        } else {
            let unbalanced = matches!(entry.validate(), Err(LedgerError::Unbalanced { .. }));
            prop_assert!(unbalanced, "perturbed entry must not balance");
        }
    }
}
