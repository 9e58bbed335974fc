//! Money: an amount in one asset, at that asset's scale. Never a float.

use crate::asset::{Asset, AssetCode};
use alloy_primitives::U256;
use rust_decimal::Decimal;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a plain decimal string such as \"12.50\", got {0:?}")]
    Malformed(String),
    #[error("{asset} has {scale} decimal places; {input:?} has more")]
    TooManyDecimals {
        asset: AssetCode,
        scale: u32,
        input: String,
    },
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("cannot combine {left} with {right}: mixing assets needs an explicit conversion")]
    AssetMismatch { left: AssetCode, right: AssetCode },
    #[error("amount is out of the representable range")]
    Overflow,
    #[error("a negative amount has no on-chain base-unit form")]
    NegativeOnChain,
}

/// An amount of one asset, always held at exactly the asset's scale.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    asset: AssetCode,
}

/// The largest number of digits before the point we accept, so later arithmetic on sums of many
/// amounts stays far from rust_decimal's 28-29 digit limit.
const MAX_INTEGER_DIGITS: usize = 18;

impl Money {
    /// Parses an API amount: digits, an optional point and at most `asset.scale` decimals.
    /// Signs, exponents and spaces are rejected, so "1e3", "+5" and " 5" never become money.
    pub fn parse(input: &str, asset: &Asset) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed(input.to_owned());
        let (int_part, frac_part) = match input.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (input, None),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(int_part) || int_part.len() > MAX_INTEGER_DIGITS {
            return Err(malformed());
        }
        if let Some(frac) = frac_part {
            if !digits_only(frac) {
                return Err(malformed());
            }
            if frac.len() > asset.scale as usize {
                return Err(MoneyError::TooManyDecimals {
                    asset: asset.code.clone(),
                    scale: asset.scale,
                    input: input.to_owned(),
                });
            }
        }
        let amount = Decimal::from_str_exact(input).map_err(|_| malformed())?;
        Self::new(amount, asset)
    }

    /// Like `parse`, and the amount must be greater than zero.
    pub fn parse_positive(input: &str, asset: &Asset) -> Result<Self, MoneyError> {
        let money = Self::parse(input, asset)?;
        if money.amount.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// Wraps a decimal that must fit the asset's scale exactly (no rounding happens here).
    pub fn new(amount: Decimal, asset: &Asset) -> Result<Self, MoneyError> {
        Self::from_parts(amount, asset.code.clone(), asset.scale)
    }

    /// Rebuilds money read back from storage, where the asset's scale is known.
    pub fn from_parts(amount: Decimal, asset: AssetCode, scale: u32) -> Result<Self, MoneyError> {
        let mut normalized = amount.normalize();
        if normalized.scale() > scale {
            return Err(MoneyError::TooManyDecimals {
                asset,
                scale,
                input: amount.to_string(),
            });
        }
        normalized.rescale(scale);
        if normalized.scale() != scale {
            return Err(MoneyError::Overflow);
        }
        Ok(Self {
            amount: normalized,
            asset,
        })
    }

    pub fn zero(asset: &Asset) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(asset.scale);
        Self {
            amount,
            asset: asset.code.clone(),
        }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn asset(&self) -> &AssetCode {
        &self.asset
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_positive(&self) -> bool {
        self.amount.is_sign_positive() && !self.amount.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_asset(other)?;
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            asset: self.asset.clone(),
        })
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_asset(other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            asset: self.asset.clone(),
        })
    }

    pub fn negated(&self) -> Money {
        Money {
            amount: -self.amount,
            asset: self.asset.clone(),
        }
    }

    fn same_asset(&self, other: &Money) -> Result<(), MoneyError> {
        if self.asset == other.asset {
            Ok(())
        } else {
            Err(MoneyError::AssetMismatch {
                left: self.asset.clone(),
                right: other.asset.clone(),
            })
        }
    }

    /// On-chain base units for a token with `decimals` decimals. Fails rather than rounds.
    pub fn to_base_units(&self, decimals: u8) -> Result<U256, MoneyError> {
        if self.amount.is_sign_negative() && !self.amount.is_zero() {
            return Err(MoneyError::NegativeOnChain);
        }
        let normalized = self.amount.normalize();
        let scale = normalized.scale();
        let decimals = u32::from(decimals);
        if scale > decimals {
            return Err(MoneyError::TooManyDecimals {
                asset: self.asset.clone(),
                scale: decimals,
                input: self.amount.to_string(),
            });
        }
        let mantissa = u128::try_from(normalized.mantissa()).map_err(|_| MoneyError::Overflow)?;
        let factor = U256::from(10u8)
            .checked_pow(U256::from(decimals - scale))
            .ok_or(MoneyError::Overflow)?;
        U256::from(mantissa).checked_mul(factor).ok_or(MoneyError::Overflow)
    }

    /// Money from on-chain base units of a token with `decimals` decimals. Fails when the value
    /// does not fit rust_decimal (about 28 digits, reachable with 18-decimal tokens) or when the
    /// token has more decimals than the ledger keeps for the asset and the value is not exact.
    pub fn from_base_units(units: U256, decimals: u8, asset: &Asset) -> Result<Money, MoneyError> {
        let mantissa = i128::try_from(units).map_err(|_| MoneyError::Overflow)?;
        let amount =
            Decimal::try_from_i128_with_scale(mantissa, u32::from(decimals)).map_err(|_| MoneyError::Overflow)?;
        Self::new(amount, asset)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.asset)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetRegistry;
    use proptest::prelude::*;

    fn usdc() -> Asset {
        AssetRegistry::builtin().get("USDC").unwrap().clone()
    }

    fn eur() -> Asset {
        AssetRegistry::builtin().get("EUR").unwrap().clone()
    }

    #[test]
    fn parses_plain_decimals_at_the_assets_scale() {
        let m = Money::parse("12.5", &eur()).unwrap();
        assert_eq!(m.amount().to_string(), "12.50");
        assert_eq!(m.to_string(), "12.50 EUR");
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in [
            "",
            ".5",
            "5.",
            "-5",
            "+5",
            "1e3",
            " 5",
            "5 ",
            "1,000.00",
            "NaN",
            "0x10",
            "1234567890123456789",
        ] {
            assert!(
                matches!(Money::parse(bad, &eur()), Err(MoneyError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_more_decimals_than_the_asset_has() {
        assert!(matches!(
            Money::parse("1.001", &eur()),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            Money::parse("1.0000001", &usdc()),
            Err(MoneyError::TooManyDecimals { .. })
        ));
    }

    #[test]
    fn zero_is_not_positive() {
        assert_eq!(Money::parse_positive("0.00", &eur()), Err(MoneyError::NotPositive));
    }

    #[test]
    fn refuses_to_mix_assets() {
        let a = Money::parse("1", &eur()).unwrap();
        let b = Money::parse("1", &usdc()).unwrap();
        assert!(matches!(a.checked_add(&b), Err(MoneyError::AssetMismatch { .. })));
    }

    #[test]
    fn converts_to_and_from_base_units_exactly() {
        let m = Money::parse("1234.567891", &usdc()).unwrap();
        let units = m.to_base_units(6).unwrap();
        assert_eq!(units, U256::from(1_234_567_891u64));
        assert_eq!(Money::from_base_units(units, 6, &usdc()).unwrap(), m);
        // An 18-decimal representation of the same amount.
        assert_eq!(
            m.to_base_units(18).unwrap(),
            U256::from(1_234_567_891u64) * U256::from(10u64.pow(12))
        );
    }

    #[test]
    fn base_unit_conversion_fails_instead_of_rounding_or_overflowing() {
        let asset = usdc();
        assert!(matches!(
            Money::from_base_units(U256::MAX, 6, &asset),
            Err(MoneyError::Overflow)
        ));
        // 1 wei of an 18-decimal token is below USDC's ledger scale: refused, not rounded to zero.
        assert!(Money::from_base_units(U256::from(1u8), 18, &asset).is_err());
        let m = Money::parse("0.000001", &asset).unwrap();
        assert!(m.to_base_units(2).is_err());
        assert_eq!(m.negated().to_base_units(6), Err(MoneyError::NegativeOnChain));
    }

    proptest! {
        #[test]
        fn base_units_round_trip(units in 0u64..=u64::MAX) {
            let asset = usdc();
            let m = Money::from_base_units(U256::from(units), 6, &asset).unwrap();
            prop_assert_eq!(m.to_base_units(6).unwrap(), U256::from(units));
            prop_assert_eq!(m.amount().scale(), 6);
        }

        #[test]
        fn parse_display_round_trip(int in 0u64..1_000_000_000_000, frac in 0u32..100) {
            let text = format!("{int}.{frac:02}");
            let m = Money::parse(&text, &eur()).unwrap();
            prop_assert_eq!(m.amount().to_string(), text);
        }

        #[test]
        fn add_then_sub_is_identity(a in 0u64..1_000_000_000_000, b in 0u64..1_000_000_000_000) {
            let asset = usdc();
            let ma = Money::from_base_units(U256::from(a), 6, &asset).unwrap();
            let mb = Money::from_base_units(U256::from(b), 6, &asset).unwrap();
            prop_assert_eq!(ma.checked_add(&mb).unwrap().checked_sub(&mb).unwrap(), ma);
        }
    }
}
