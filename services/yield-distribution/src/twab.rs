//! Time-weighted balances, to the second, from a balance at the period's start and the changes
//! inside it. Pure arithmetic on integers: balances are base units, time is whole seconds, and
//! the product (balance-seconds) is exact, so the weights that share out yield never round.
//!
//! A change at 12:00:00.7 counts from 12:00:00: every second carries the balance in force at
//! its end. A merchant's balance here is available plus reserved: money held for a payout in
//! flight is still float in the treasury until the transfer is final.
//!
//! Ledger times are transaction start times, so two concurrent transactions can put a debit a
//! moment before the credit that funded it. Such a moment weighs zero, never negative; the
//! running balance stays exact, so the history is back in step at the next change. A balance
//! that is negative at the start of a period is a corrupt history and is refused.

use chrono::{DateTime, Utc};

/// The longest period one distribution may cover. Keeps balance-seconds far inside `u128`
/// (10^18 base units x 3.2 x 10^7 s is ~10^26) and a distribution's history read bounded.
pub const PERIOD_DAYS_MAX: i64 = 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("period_start must be before period_end")]
    Reversed,
    #[error("period bounds must be whole seconds (no fractional part)")]
    FractionalSecond,
    #[error("a period may cover at most {PERIOD_DAYS_MAX} days")]
    TooLong,
}

/// A half-open interval `[start, end)` of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Period {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, PeriodError> {
        if start.timestamp_subsec_nanos() != 0 || end.timestamp_subsec_nanos() != 0 {
            return Err(PeriodError::FractionalSecond);
        }
        if start >= end {
            return Err(PeriodError::Reversed);
        }
        if end - start > chrono::Duration::days(PERIOD_DAYS_MAX) {
            return Err(PeriodError::TooLong);
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub fn seconds(&self) -> u64 {
        // Positive and at most PERIOD_DAYS_MAX days by construction.
        (self.end - self.start).num_seconds().unsigned_abs()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwabError {
    #[error("balance history goes negative ({balance_units} base units at {at_unix_secs}); the ledger forbids it")]
    NegativeBalance { balance_units: i128, at_unix_secs: i64 },
    #[error("balance history changes are not in time order at {at_unix_secs}")]
    OutOfOrder { at_unix_secs: i64 },
    #[error("balance-seconds overflow")]
    Overflow,
}

/// One change of a merchant's balance: when (its ledger time) and by how many base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at_unix_secs: i64,
    pub delta_units: i128,
}

/// Balance-seconds of one balance history over `period`, counting only seconds at or after
/// `counted_from` (the moment the merchant opted in; use the period start to count it all).
///
/// `opening_units` is the balance at the period's start; `changes` are the ledger changes at or
/// after the start, in time order. Changes at or after the end are ignored. Dividing the result
/// by `period.seconds()` gives the time-weighted average balance.
pub fn balance_seconds(
    period: &Period,
    counted_from: DateTime<Utc>,
    opening_units: i128,
    changes: impl IntoIterator<Item = Change>,
) -> Result<u128, TwabError> {
    let start = period.start.timestamp();
    let end = period.end.timestamp();
    // The first second that counts; a moment inside a second counts from the next whole one,
    // so an opt-in at 12:00:00.5 does not earn for the half second before it.
    let from = ceil_secs(counted_from).clamp(start, end);
    let mut balance = non_negative(opening_units, start)?;
    let mut at = start;
    let mut total: u128 = 0;
    for change in changes {
        if change.at_unix_secs < at {
            return Err(TwabError::OutOfOrder {
                at_unix_secs: change.at_unix_secs,
            });
        }
        if change.at_unix_secs >= end {
            break;
        }
        total = add_span(total, balance, at.max(from), change.at_unix_secs)?;
        at = change.at_unix_secs;
        balance = balance.checked_add(change.delta_units).ok_or(TwabError::Overflow)?;
    }
    add_span(total, balance, at.max(from), end)
}

fn ceil_secs(t: DateTime<Utc>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 { secs + 1 } else { secs }
}

fn non_negative(balance_units: i128, at_unix_secs: i64) -> Result<i128, TwabError> {
    if balance_units < 0 {
        return Err(TwabError::NegativeBalance {
            balance_units,
            at_unix_secs,
        });
    }
    Ok(balance_units)
}

/// `total + balance x (to - from)`, nothing when the span is empty or the balance is not positive.
fn add_span(total: u128, balance: i128, from: i64, to: i64) -> Result<u128, TwabError> {
    if to <= from || balance <= 0 {
        return Ok(total);
    }
    let seconds = u128::from((to - from).unsigned_abs());
    balance
        .unsigned_abs()
        .checked_mul(seconds)
        .and_then(|bs| total.checked_add(bs))
        .ok_or(TwabError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn change(at: i64, delta: i128) -> Change {
        Change {
            at_unix_secs: at,
            delta_units: delta,
        }
    }

    #[test]
    fn a_period_must_run_forward_in_whole_seconds_and_not_too_long() {
        assert_eq!(Period::new(t(10), t(10)), Err(PeriodError::Reversed));
        assert_eq!(Period::new(t(11), t(10)), Err(PeriodError::Reversed));
        let half = t(10) + chrono::Duration::milliseconds(500);
        assert_eq!(Period::new(half, t(20)), Err(PeriodError::FractionalSecond));
        assert_eq!(Period::new(t(0), t(367 * 86_400)), Err(PeriodError::TooLong));
        assert_eq!(Period::new(t(0), t(100)).unwrap().seconds(), 100);
    }

    #[test]
    fn a_constant_balance_weighs_balance_times_length() {
        let p = Period::new(t(0), t(100)).unwrap();
        assert_eq!(balance_seconds(&p, p.start(), 7, []).unwrap(), 700);
    }

    #[test]
    fn changes_split_the_period_and_later_changes_are_ignored() {
        let p = Period::new(t(0), t(100)).unwrap();
        // 10 for 30 s, 25 for 50 s, 5 for 20 s; the change at 100 is outside.
        let changes = [change(30, 15), change(80, -20), change(100, 1_000)];
        assert_eq!(
            balance_seconds(&p, p.start(), 10, changes).unwrap(),
            10 * 30 + 25 * 50 + 5 * 20
        );
    }

    #[test]
    fn only_seconds_after_the_opt_in_count() {
        let p = Period::new(t(0), t(100)).unwrap();
        let opt_in = t(40) + chrono::Duration::milliseconds(1);
        // Counted from 41: 10 for 41..60, 30 for 60..100.
        assert_eq!(
            balance_seconds(&p, opt_in, 10, [change(60, 20)]).unwrap(),
            10 * 19 + 30 * 40
        );
        assert_eq!(balance_seconds(&p, t(500), 10, []).unwrap(), 0);
    }

    #[test]
    fn a_debit_ordered_before_its_funding_credit_weighs_zero_for_that_moment() {
        let p = Period::new(t(0), t(100)).unwrap();
        // 5 for 10 s, -1 (counted as 0) for 1 s, then 9 for 89 s.
        assert_eq!(
            balance_seconds(&p, p.start(), 5, [change(10, -6), change(11, 10)]).unwrap(),
            5 * 10 + 9 * 89
        );
    }

    #[test]
    fn a_negative_opening_balance_or_unordered_history_is_refused() {
        let p = Period::new(t(0), t(100)).unwrap();
        assert!(matches!(
            balance_seconds(&p, p.start(), -1, []),
            Err(TwabError::NegativeBalance { .. })
        ));
        assert!(matches!(
            balance_seconds(&p, p.start(), 5, [change(10, 1), change(9, 1)]),
            Err(TwabError::OutOfOrder { .. })
        ));
    }
}
