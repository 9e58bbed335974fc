//! The platform fee on a payout: basis points of the amount, rounded down to the asset's scale
//! (the merchant is never charged a fraction the ledger cannot hold), plus a fixed part.

use corridor_domain::{Asset, Money, MoneyError};
use corridor_platform::config::PayoutPolicy;
use rust_decimal::{Decimal, RoundingStrategy};

pub fn fee(policy: &PayoutPolicy, amount: &Money, asset: &Asset) -> Result<Money, MoneyError> {
    let variable = (amount.amount() * Decimal::from(policy.fee_bps) / Decimal::from(10_000u32))
        .round_dp_with_strategy(asset.scale, RoundingStrategy::ToZero);
    let fixed = Money::new(policy.fee_fixed, asset)?;
    Money::new(variable, asset)?.checked_add(&fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_domain::AssetRegistry;
    use std::time::Duration;

    fn policy(bps: u32, fixed: &str) -> PayoutPolicy {
        PayoutPolicy {
            cooling_off: Duration::ZERO,
            fee_bps: bps,
            fee_fixed: fixed.parse().unwrap(),
            review_threshold: 10_000.into(),
            quote_ttl: Duration::from_secs(30),
            fx_rates: Vec::new(),
        }
    }

    #[test]
    fn basis_points_round_down_to_the_asset_scale_then_add_the_fixed_part() {
        let registry = AssetRegistry::builtin();
        let usdc = registry.get("USDC").unwrap();
        let amount = Money::parse_positive("123.456789", usdc).unwrap();
        // 0.25 % of 123.456789 = 0.30864197... -> 0.308641 (down), + 0.50
        let f = fee(&policy(25, "0.5"), &amount, usdc).unwrap();
        assert_eq!(f.amount(), "0.808641".parse::<Decimal>().unwrap());
        assert!(fee(&policy(0, "0"), &amount, usdc).unwrap().is_zero());
    }

    #[test]
    fn a_fixed_fee_finer_than_the_asset_is_refused() {
        let registry = AssetRegistry::builtin();
        let jpy = registry.get("JPY").unwrap();
        let amount = Money::parse_positive("1000", jpy).unwrap();
        assert!(fee(&policy(0, "0.5"), &amount, jpy).is_err());
    }
}
