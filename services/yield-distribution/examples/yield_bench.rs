//! Benchmark (not a test): attribute and allocate one period for 1,000,000 accounts with 30 days
//! of balance events (one change per account per day at a random second, as from ledger
//! history), the way `distribute::run` does after reading the rows: balance-seconds per account,
//! eligibility by minimum balance, then the waterfall and the largest-remainder split.
//!
//!     cargo run --release -p corridor-yield-distribution --example yield_bench [accounts] [days]
//!
//! Results go to docs/benchmarks.md. Timing uses the wall clock; the report's rates are the
//! only floats here and no money passes through them.
#![allow(clippy::float_arithmetic)]

use chrono::{TimeZone, Utc};
use corridor_yield_distribution::{
    allocate::{self, Bps, Waterfall, Weighted},
    twab::{self, Change, Period},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let accounts: usize = args.next().map_or(1_000_000, |a| a.parse().expect("accounts"));
    let days: i64 = args.next().map_or(30, |a| a.parse().expect("days"));
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let period = Period::new(start, start + chrono::Duration::days(days)).unwrap();
    let day = 86_400i64;

    // The history, laid out flat as the ordered query returns it: per account an opening
    // balance and `days` changes in time order. Balances up to 1,000,000 USDC (6 decimals).
    let t = Instant::now();
    let mut rng = StdRng::seed_from_u64(8);
    let mut openings = Vec::with_capacity(accounts);
    let mut changes = Vec::with_capacity(accounts * days as usize);
    for _ in 0..accounts {
        let mut balance: i128 = rng.random_range(0..1_000_000_000_000);
        openings.push(balance);
        for d in 0..days {
            let at = start.timestamp() + d * day + rng.random_range(0..day);
            let delta = rng.random_range(-balance..=500_000_000_000);
            balance += delta;
            changes.push(Change {
                at_unix_secs: at,
                delta_units: delta,
            });
        }
    }
    let generated = t.elapsed();

    let t = Instant::now();
    let min_weight: u128 = 1_000_000 * u128::from(period.seconds()); // 1 USDC average
    let per = days as usize;
    let mut eligible = Vec::with_capacity(accounts);
    for (i, opening) in openings.iter().enumerate() {
        let w = twab::balance_seconds(
            &period,
            period.start(),
            *opening,
            changes[i * per..(i + 1) * per].iter().copied(),
        )
        .unwrap();
        if w > 0 && w >= min_weight {
            eligible.push(Weighted {
                key: i as u64,
                weight: w,
            });
        }
    }
    let attributed = t.elapsed();

    let t = Instant::now();
    let waterfall = Waterfall {
        take_rate: Bps::new("take", 1_000).unwrap(),
        partner_share: Bps::new("partner", 500).unwrap(),
    };
    // About 4 % a year on ~5 x 10^17 base units of float for a month: ~1.7 x 10^15 units.
    let gross: i128 = 1_712_345_678_901_234;
    let plan = allocate::plan(gross, 0, waterfall, &eligible).unwrap();
    let allocated = t.elapsed();

    let net: u128 = plan.allocations.iter().map(|a| a.net_units).sum();
    assert_eq!(net + plan.platform_units + plan.partner_units, gross as u128);
    println!("| measure | value | goal |");
    println!("|---|---:|---|");
    println!(
        "| accounts / events / eligible | {accounts} / {} / {} | |",
        changes.len(),
        eligible.len()
    );
    println!(
        "| generate the history (not timed for the goal) | {:.3} s | |",
        generated.as_secs_f64()
    );
    println!(
        "| attribution (balance-seconds) | {:.3} s | |",
        attributed.as_secs_f64()
    );
    println!(
        "| allocation (waterfall + split) | {:.3} s | |",
        allocated.as_secs_f64()
    );
    println!(
        "| attribution + allocation, {days} days | {:.3} s | at most 10 s (in memory) |",
        (attributed + allocated).as_secs_f64()
    );
    println!(
        "| check: net + platform + partner = gross | {net} + {} + {} = {gross} | exact |",
        plan.platform_units, plan.partner_units
    );
}
