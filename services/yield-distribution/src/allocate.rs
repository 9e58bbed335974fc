//! Sharing a period's yield: the waterfall (platform take, then an optional partner share, then
//! the merchants) and the pro-rata split by balance-seconds, exact to the base unit.
//!
//! Every share is rounded down; the base units that rounding leaves over go one each to the
//! largest remainders (Hamilton's method). Ties go to the larger weight, then to the smaller
//! key, so the same inputs always give the same split. What is handed out always adds up to
//! the distributable amount exactly; `plan` asserts it.

use alloy_primitives::U256;

/// Basis points in a whole.
pub const BPS_WHOLE: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    #[error("{what} is {bps} bps; at most {BPS_WHOLE} (100 %)")]
    RateOverWhole { what: &'static str, bps: u32 },
    #[error("amounts overflow 128 bits")]
    Overflow,
}

/// A rate in basis points, at most 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bps(u32);

impl Bps {
    pub fn new(what: &'static str, bps: u32) -> Result<Self, AllocateError> {
        if bps > BPS_WHOLE {
            return Err(AllocateError::RateOverWhole { what, bps });
        }
        Ok(Self(bps))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// `units x rate`, rounded down.
    fn of(self, units: u128) -> Result<u128, AllocateError> {
        units
            .checked_mul(u128::from(self.0))
            .map(|x| x / u128::from(BPS_WHOLE))
            .ok_or(AllocateError::Overflow)
    }
}

/// Who is paid before the merchants: the platform's take rate of the distributable yield, then
/// a partner's share of what is left after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waterfall {
    pub take_rate: Bps,
    pub partner_share: Bps,
}

/// One claimant and its weight (balance-seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weighted<K> {
    pub key: K,
    pub weight: u128,
}

/// Shares `total` base units in proportion to the weights (see the module comment for the
/// rounding). Returns one amount per item, in the items' order. With no weight at all there is
/// nobody to share with and every amount is zero; callers check `weights_total` first.
pub fn largest_remainder<K: Ord + Copy>(total: u128, items: &[Weighted<K>]) -> Vec<u128> {
    let weight_total: u128 = weights_total(items);
    let mut shares = vec![0u128; items.len()];
    if weight_total == 0 || total == 0 {
        return shares;
    }
    let total_wide = U256::from(total);
    let divisor = U256::from(weight_total);
    // (index, remainder) of every item; the remainder is below weight_total, so fits u128.
    let mut remainders: Vec<(usize, u128)> = Vec::with_capacity(items.len());
    let mut handed_out: u128 = 0;
    for (i, item) in items.iter().enumerate() {
        // total x weight needs up to 256 bits; the quotient is at most `total`.
        let product = total_wide * U256::from(item.weight);
        let (quotient, remainder) = product.div_rem(divisor);
        let quotient = quotient.to::<u128>();
        shares[i] = quotient;
        handed_out += quotient;
        remainders.push((i, remainder.to::<u128>()));
    }
    // Each floor loses less than one unit, so fewer units than items are left.
    let left = usize::try_from(total - handed_out).unwrap_or(usize::MAX);
    if left > 0 {
        let order = |a: &(usize, u128), b: &(usize, u128)| {
            b.1.cmp(&a.1)
                .then_with(|| items[b.0].weight.cmp(&items[a.0].weight))
                .then_with(|| items[a.0].key.cmp(&items[b.0].key))
        };
        if left < remainders.len() {
            remainders.select_nth_unstable_by(left - 1, order);
        }
        for &(i, _) in &remainders[..left] {
            shares[i] += 1;
        }
    }
    shares
}

pub fn weights_total<K>(items: &[Weighted<K>]) -> u128 {
    items.iter().map(|i| i.weight).sum()
}

/// One eligible merchant's part of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation<K> {
    pub key: K,
    pub weight: u128,
    /// Credited to the merchant.
    pub net_units: u128,
    /// The platform's and partner's take attributed to this merchant's balance, for statements:
    /// `net + fees` is what the balance earned before the waterfall.
    pub fees_units: u128,
}

/// The whole outcome of a period, in base units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<K> {
    /// This period's yield from every source; negative when the vault lost value.
    pub gross_units: i128,
    /// Losses of earlier periods not yet made good.
    pub carried_loss_in_units: u128,
    /// What is shared out now: gross minus the carried loss, when that is positive.
    pub distributable_units: u128,
    /// The loss handed to the next period.
    pub carried_loss_out_units: u128,
    pub platform_units: u128,
    pub partner_units: u128,
    pub merchants_units: u128,
    /// The merchants' share when no merchant was eligible; the platform keeps it (it is inside
    /// `platform_units`) and says so.
    pub unclaimed_units: u128,
    pub allocations: Vec<Allocation<K>>,
}

/// Runs the waterfall and the pro-rata split for one period.
pub fn plan<K: Ord + Copy>(
    gross_units: i128,
    carried_loss_in_units: u128,
    waterfall: Waterfall,
    eligible: &[Weighted<K>],
) -> Result<Plan<K>, AllocateError> {
    let carried = i128::try_from(carried_loss_in_units).map_err(|_| AllocateError::Overflow)?;
    let after_loss = gross_units.checked_sub(carried).ok_or(AllocateError::Overflow)?;
    let zero_allocations = || {
        eligible
            .iter()
            .map(|w| Allocation {
                key: w.key,
                weight: w.weight,
                net_units: 0,
                fees_units: 0,
            })
            .collect()
    };
    if after_loss <= 0 {
        // Nothing is distributed; the whole shortfall waits for the next positive period.
        return Ok(Plan {
            gross_units,
            carried_loss_in_units,
            distributable_units: 0,
            carried_loss_out_units: after_loss.unsigned_abs(),
            platform_units: 0,
            partner_units: 0,
            merchants_units: 0,
            unclaimed_units: 0,
            allocations: zero_allocations(),
        });
    }
    let distributable = after_loss.unsigned_abs();
    let mut platform = waterfall.take_rate.of(distributable)?;
    let partner = waterfall.partner_share.of(distributable - platform)?;
    let mut merchants = distributable - platform - partner;
    let mut unclaimed = 0;
    if weights_total(eligible) == 0 {
        unclaimed = merchants;
        platform += merchants;
        merchants = 0;
    }
    let nets = largest_remainder(merchants, eligible);
    let fees = largest_remainder(platform + partner - unclaimed, eligible);
    let allocations: Vec<Allocation<K>> = eligible
        .iter()
        .zip(nets.iter().zip(fees))
        .map(|(w, (&net_units, fees_units))| Allocation {
            key: w.key,
            weight: w.weight,
            net_units,
            fees_units,
        })
        .collect();
    let net_total: u128 = allocations.iter().map(|a| a.net_units).sum();
    // The invariant the issue states: merchants plus platform (and partner) equal the yield.
    assert_eq!(
        net_total + platform + partner,
        distributable,
        "yield split does not add up"
    );
    Ok(Plan {
        gross_units,
        carried_loss_in_units,
        distributable_units: distributable,
        carried_loss_out_units: 0,
        platform_units: platform,
        partner_units: partner,
        merchants_units: merchants,
        unclaimed_units: unclaimed,
        allocations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(key: u32, weight: u128) -> Weighted<u32> {
        Weighted { key, weight }
    }

    fn waterfall(take: u32, partner: u32) -> Waterfall {
        Waterfall {
            take_rate: Bps::new("take_rate_bps", take).unwrap(),
            partner_share: Bps::new("partner_share_bps", partner).unwrap(),
        }
    }

    #[test]
    fn a_rate_over_one_hundred_percent_is_refused() {
        assert_eq!(
            Bps::new("take_rate_bps", 10_001),
            Err(AllocateError::RateOverWhole {
                what: "take_rate_bps",
                bps: 10_001
            })
        );
        assert!(Bps::new("take_rate_bps", 10_000).is_ok());
    }

    #[test]
    fn leftover_units_go_to_the_largest_remainders() {
        // 10 over 1:1:1 -> 3.33 each; one unit left, all remainders equal, equal weights: key 1.
        assert_eq!(largest_remainder(10, &[w(3, 1), w(1, 1), w(2, 1)]), vec![3, 4, 3]);
        // 10 over 1:2 -> 3.33, 6.67: the larger remainder (second) takes the unit.
        assert_eq!(largest_remainder(10, &[w(1, 1), w(2, 2)]), vec![3, 7]);
    }

    #[test]
    fn equal_remainders_prefer_the_larger_weight_then_the_smaller_key() {
        // 1 over 1:3 -> 0.25, 0.75: remainders 1 and 3 (of 4), the second wins.
        assert_eq!(largest_remainder(1, &[w(1, 1), w(2, 3)]), vec![0, 1]);
        // 2 over 1:1:2 -> 0.5, 0.5, 1: two remainders of 2 (of 4) tie, equal weights, key 7 < 9.
        assert_eq!(largest_remainder(2, &[w(9, 1), w(7, 1), w(8, 2)]), vec![0, 1, 1]);
    }

    #[test]
    fn the_waterfall_takes_the_platform_then_the_partner_then_shares_the_rest() {
        let p = plan(1_000_003, 0, waterfall(1_000, 2_000), &[w(1, 1), w(2, 1)]).unwrap();
        // platform floor(1,000,003 x 10 %) = 100,000; partner floor(900,003 x 20 %) = 180,000.
        assert_eq!(
            (p.platform_units, p.partner_units, p.merchants_units),
            (100_000, 180_000, 720_003)
        );
        assert_eq!(p.allocations[0].net_units + p.allocations[1].net_units, 720_003);
        assert_eq!(p.allocations[0].fees_units + p.allocations[1].fees_units, 280_000);
    }

    #[test]
    fn a_loss_is_carried_until_yield_makes_it_good() {
        let first = plan(-500, 0, waterfall(0, 0), &[w(1, 5)]).unwrap();
        assert_eq!((first.distributable_units, first.carried_loss_out_units), (0, 500));
        let second = plan(300, 500, waterfall(0, 0), &[w(1, 5)]).unwrap();
        assert_eq!((second.distributable_units, second.carried_loss_out_units), (0, 200));
        let third = plan(1_200, 200, waterfall(0, 0), &[w(1, 5)]).unwrap();
        assert_eq!((third.distributable_units, third.carried_loss_out_units), (1_000, 0));
        assert_eq!(third.allocations[0].net_units, 1_000);
    }

    #[test]
    fn with_nobody_eligible_the_platform_keeps_the_merchants_share_and_says_so() {
        let p = plan(1_000, 0, waterfall(1_000, 0), &[w(1, 0)]).unwrap();
        assert_eq!(
            (p.platform_units, p.unclaimed_units, p.merchants_units),
            (1_000, 900, 0)
        );
        assert_eq!(p.allocations[0].net_units, 0);
    }

    proptest! {
        #[test]
        fn shares_add_up_exactly_and_none_strays_more_than_one_unit_from_its_exact_share(
            total in 0u128..10u128.pow(24),
            weights in proptest::collection::vec(0u128..10u128.pow(22), 1..40),
        ) {
            let items: Vec<Weighted<usize>> =
                weights.iter().enumerate().map(|(key, &weight)| Weighted { key, weight }).collect();
            let shares = largest_remainder(total, &items);
            let weight_total: u128 = weights.iter().sum();
            if weight_total == 0 {
                prop_assert!(shares.iter().all(|&s| s == 0));
            } else {
                prop_assert_eq!(shares.iter().sum::<u128>(), total);
                for (share, item) in shares.iter().zip(&items) {
                    // floor(total x w / W) <= share <= floor + 1
                    let exact = U256::from(total) * U256::from(item.weight) / U256::from(weight_total);
                    let floor = exact.to::<u128>();
                    prop_assert!(*share == floor || *share == floor + 1);
                }
            }
        }

        #[test]
        fn a_plan_hands_out_exactly_the_distributable_yield(
            gross in -(10i128.pow(20))..10i128.pow(20),
            carried in 0u128..10u128.pow(19),
            take in 0u32..=10_000,
            partner in 0u32..=10_000,
            weights in proptest::collection::vec(0u128..10u128.pow(20), 0..30),
        ) {
            let items: Vec<Weighted<usize>> =
                weights.iter().enumerate().map(|(key, &weight)| Weighted { key, weight }).collect();
            let p = plan(gross, carried, waterfall(take, partner), &items).unwrap();
            let net: u128 = p.allocations.iter().map(|a| a.net_units).sum();
            prop_assert_eq!(net + p.platform_units + p.partner_units, p.distributable_units);
            prop_assert_eq!(net, p.merchants_units);
            // distributable - carried_out == gross - carried_in, and never both positive.
            prop_assert_eq!(
                p.distributable_units as i128 - p.carried_loss_out_units as i128,
                gross - carried as i128
            );
            prop_assert!(p.distributable_units == 0 || p.carried_loss_out_units == 0);
            if p.merchants_units > 0 {
                let fees: u128 = p.allocations.iter().map(|a| a.fees_units).sum();
                prop_assert_eq!(fees, p.platform_units + p.partner_units - p.unclaimed_units);
            }
        }
    }
}
