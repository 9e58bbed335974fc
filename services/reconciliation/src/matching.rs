//! The matching engine: ramp orders (our books) against bank lines and chain transfers, pure
//! and deterministic (the same inputs give the same results in the same order, so a rerun gives
//! the same report hash).
//!
//! Strategy: one-to-one, greedy in a fixed order (orders by expected date, then id), each bank
//! line and chain transfer used at most once. A bank line matches an order on its account, in
//! the order's direction and currency, within the date window, when it carries every word of the
//! order's reference (in its end-to-end id, reference or text), or, without the reference, when
//! its amount is exact and it is the only such line in the window. Look-ups go through indexes
//! built once per run (words, amounts, transfer keys), so a run is about linear in its inputs. A chain transfer matches on token, address,
//! direction and exact base units; a transfer from an orphaned block is a reorged transfer, never
//! a settlement. What is left over is reported by side, and every doubt is an exception with a
//! category, never a silent match.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Fiat arrives at the bank, stablecoins arrive at the treasury.
    On,
    /// Stablecoins go to the partner's deposit address, fiat leaves the bank.
    Off,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    pub direction: Direction,
    pub bank_account_id: Uuid,
    pub fiat_amount: Decimal,
    pub fiat_currency: String,
    pub token_contract: String,
    /// Base units.
    pub token_units: Decimal,
    /// The treasury (on-ramp) or the partner's deposit address (off-ramp), lower case.
    pub chain_address: String,
    pub reference: String,
    pub expected_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct BankLine {
    pub id: Uuid,
    pub bank_account_id: Uuid,
    /// Signed: positive for money in.
    pub amount: Decimal,
    pub currency: String,
    pub booking_date: Option<NaiveDate>,
    /// End-to-end id, reference and text, lower case, for reference search.
    pub searchable: String,
    pub duplicate_of: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: Uuid,
    pub token_contract: String,
    pub from: String,
    pub to: String,
    pub units: Decimal,
    pub seen_on: NaiveDate,
    pub orphaned: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A bank amount within this of the order's (absolute, in the fiat currency) still matches.
    pub amount_drift: Decimal,
    /// Candidates are looked for this many days either side of the expected date.
    pub date_window_days: i64,
    /// A booking more than this many days from the expected date is a timing exception.
    pub timing_days: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            amount_drift: Decimal::ZERO,
            date_window_days: 5,
            timing_days: 1,
        }
    }
}

/// Treasury's decisions by hand, the latest per pair: pinned pairings are made first, and a
/// forbidden pairing is never made.
#[derive(Debug, Clone, Default)]
pub struct Manual {
    /// order -> (bank line or chain transfer, reason)
    pub pinned: HashMap<Uuid, Vec<(Uuid, String)>>,
    /// (order, bank line or chain transfer)
    pub forbidden: HashSet<(Uuid, Uuid)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Matched,
    PartiallyMatched,
    /// Only our books have it: neither the bank nor the chain shows the order.
    LedgerOnly,
    BankOnly,
    ChainOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exception {
    AmountMismatch,
    Duplicate,
    MissingSettlement,
    Timing,
    UnknownDeposit,
    ReorgedTransfer,
}

impl Status {
    /// The name stored and shown (the same as its JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::PartiallyMatched => "partially_matched",
            Status::LedgerOnly => "ledger_only",
            Status::BankOnly => "bank_only",
            Status::ChainOnly => "chain_only",
        }
    }
}

impl Exception {
    /// The name stored and shown (the same as its JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            Exception::AmountMismatch => "amount_mismatch",
            Exception::Duplicate => "duplicate",
            Exception::MissingSettlement => "missing_settlement",
            Exception::Timing => "timing",
            Exception::UnknownDeposit => "unknown_deposit",
            Exception::ReorgedTransfer => "reorged_transfer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub exceptions: Vec<Exception>,
    pub order_id: Option<Uuid>,
    pub bank_line_id: Option<Uuid>,
    pub transfer_id: Option<Uuid>,
    /// 0-100: how sure the engine is of the pairing it made.
    pub confidence: u8,
    pub detail: String,
}

/// Matches everything; see the module comment. Inputs are sorted here, so callers need not.
pub fn reconcile(
    mut orders: Vec<Order>,
    mut lines: Vec<BankLine>,
    mut transfers: Vec<Transfer>,
    rules: Rules,
    manual: &Manual,
) -> Vec<Outcome> {
    orders.sort_by_key(|o| (o.expected_on, o.id));
    lines.sort_by_key(|l| l.id);
    transfers.sort_by_key(|t| t.id);
    // What treasury pinned to an order is kept for that order, whichever comes first.
    let pinned_ids: HashSet<Uuid> = manual.pinned.values().flatten().map(|(id, _)| *id).collect();
    let index = Index::new(&lines, &transfers);
    let mut line_used = vec![false; lines.len()];
    let mut transfer_used = vec![false; transfers.len()];
    let mut out = Vec::new();

    // Duplicates are never matched: each is an exception pointing at its original.
    for (i, l) in lines.iter().enumerate() {
        if let Some(original) = l.duplicate_of {
            line_used[i] = true;
            out.push(Outcome {
                status: Status::BankOnly,
                exceptions: vec![Exception::Duplicate],
                order_id: None,
                bank_line_id: Some(l.id),
                transfer_id: None,
                confidence: 100,
                detail: format!("the bank reported this line before (bank line {original})"),
            });
        }
    }

    for o in &orders {
        let mut exceptions = Vec::new();
        let mut details = Vec::new();
        let pins: &[(Uuid, String)] = manual.pinned.get(&o.id).map_or(&[], Vec::as_slice);
        let pinned_line = pins
            .iter()
            .filter_map(|(p, _)| index.line_of.get(p).copied())
            .find(|&i| !line_used[i]);
        let pinned_transfer = pins
            .iter()
            .filter_map(|(p, _)| index.transfer_of.get(p).copied())
            .find(|&i| !transfer_used[i]);
        for (_, reason) in pins {
            details.push(format!("matched by hand: {reason}"));
        }
        let forbidden = |other: Uuid| {
            manual.forbidden.contains(&(o.id, other))
                || (pinned_ids.contains(&other) && !pins.iter().any(|(p, _)| *p == other))
        };
        let found_line = match pinned_line {
            Some(i) => Some((i, 100)),
            None => best_line(o, &lines, &index, &line_used, rules, &forbidden),
        };
        let (bank, bank_confidence) = match found_line {
            Some((i, confidence)) => {
                line_used[i] = true;
                let l = &lines[i];
                let expected = signed_fiat(o);
                if (l.amount - expected).abs() > rules.amount_drift {
                    exceptions.push(Exception::AmountMismatch);
                    details.push(format!("bank amount {} where {} was expected", l.amount, expected));
                }
                if let Some(d) = l.booking_date {
                    let days = (d - o.expected_on).num_days();
                    if days.abs() > rules.timing_days {
                        exceptions.push(Exception::Timing);
                        details.push(format!("booked {days:+} days from the expected date"));
                    }
                }
                (Some(l.id), confidence)
            }
            None => (None, 0),
        };
        let (transfer, reorged) = match pinned_transfer {
            Some(i) if !transfers[i].orphaned => (Some(i), None),
            Some(i) => (None, Some(i)),
            None => best_transfer(o, &transfers, &index, &transfer_used, rules, &forbidden),
        };
        let transfer = transfer.map(|i| {
            transfer_used[i] = true;
            transfers[i].id
        });
        if let Some(i) = reorged {
            // The orphaned transfer is this order's, and it is not a settlement.
            transfer_used[i] = true;
            if transfer.is_none() {
                exceptions.push(Exception::ReorgedTransfer);
                details.push(format!(
                    "the transfer {} was in a block that was reorged away",
                    transfers[i].id
                ));
            }
        }
        // A timing difference alone does not undo a match; it is reported with it.
        let status = match (bank.is_some(), transfer.is_some()) {
            (true, true) if exceptions.iter().all(|e| *e == Exception::Timing) => Status::Matched,
            (false, false) => Status::LedgerOnly,
            _ => Status::PartiallyMatched,
        };
        if transfer.is_none() && reorged.is_none() {
            exceptions.push(Exception::MissingSettlement);
            details.push("no chain transfer settles this order".to_owned());
        }
        if bank.is_none() {
            details.push("no bank line pays this order".to_owned());
        }
        exceptions.sort();
        exceptions.dedup();
        out.push(Outcome {
            status,
            exceptions,
            order_id: Some(o.id),
            bank_line_id: bank,
            transfer_id: transfer,
            confidence: match (bank.is_some(), transfer.is_some()) {
                (true, true) => bank_confidence,
                (true, false) => bank_confidence / 2,
                (false, true) => 50,
                (false, false) => 0,
            },
            detail: details.join("; "),
        });
    }

    for (i, l) in lines.iter().enumerate() {
        if line_used[i] {
            continue;
        }
        out.push(Outcome {
            status: Status::BankOnly,
            exceptions: if l.amount.is_sign_positive() {
                vec![Exception::UnknownDeposit]
            } else {
                Vec::new()
            },
            order_id: None,
            bank_line_id: Some(l.id),
            transfer_id: None,
            confidence: 100,
            detail: format!("bank line of {} {} matches no order", l.amount, l.currency),
        });
    }
    for (i, t) in transfers.iter().enumerate() {
        if transfer_used[i] {
            continue;
        }
        let mut exceptions = Vec::new();
        if t.orphaned {
            exceptions.push(Exception::ReorgedTransfer);
        } else {
            exceptions.push(Exception::UnknownDeposit);
        }
        out.push(Outcome {
            status: Status::ChainOnly,
            exceptions,
            order_id: None,
            bank_line_id: None,
            transfer_id: Some(t.id),
            confidence: 100,
            detail: format!(
                "chain transfer of {} units from {} to {} matches no order",
                t.units, t.from, t.to
            ),
        });
    }
    out
}

fn signed_fiat(o: &Order) -> Decimal {
    match o.direction {
        Direction::On => o.fiat_amount,
        Direction::Off => -o.fiat_amount,
    }
}

/// Words of a reference or a bank line's text: runs of letters, digits and `-_.`, so "ON-1" is
/// found in "ref:on-1," but not in "on-10".
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .filter(|t| !t.is_empty())
}

/// Look-ups built once per run, so matching a million orders does not scan a million lines each.
struct Index<'a> {
    /// Word -> bank lines whose text holds it (ascending).
    by_token: HashMap<&'a str, Vec<usize>>,
    /// (account, currency, amount) -> bank lines.
    by_amount: HashMap<(Uuid, &'a str, Decimal), Vec<usize>>,
    /// (token contract, recipient, base units) -> transfers.
    transfers: HashMap<(&'a str, &'a str, Decimal), Vec<usize>>,
    /// Ids to positions, for pinned pairs.
    line_of: HashMap<Uuid, usize>,
    transfer_of: HashMap<Uuid, usize>,
}

impl<'a> Index<'a> {
    fn new(lines: &'a [BankLine], transfers: &'a [Transfer]) -> Self {
        let mut by_token: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut by_amount: HashMap<(Uuid, &str, Decimal), Vec<usize>> = HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            let mut seen: Vec<&str> = tokens(&l.searchable).collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                by_token.entry(t).or_default().push(i);
            }
            by_amount
                .entry((l.bank_account_id, l.currency.as_str(), l.amount.normalize()))
                .or_default()
                .push(i);
        }
        let mut by_transfer: HashMap<(&str, &str, Decimal), Vec<usize>> = HashMap::new();
        for (i, t) in transfers.iter().enumerate() {
            by_transfer
                .entry((t.token_contract.as_str(), t.to.as_str(), t.units.normalize()))
                .or_default()
                .push(i);
        }
        Self {
            by_token,
            by_amount,
            transfers: by_transfer,
            line_of: lines.iter().enumerate().map(|(i, l)| (l.id, i)).collect(),
            transfer_of: transfers.iter().enumerate().map(|(i, t)| (t.id, i)).collect(),
        }
    }
}

/// The best bank line for an order, and the confidence of the pairing.
fn best_line(
    o: &Order,
    lines: &[BankLine],
    index: &Index<'_>,
    used: &[bool],
    rules: Rules,
    forbidden: &dyn Fn(Uuid) -> bool,
) -> Option<(usize, u8)> {
    let expected = signed_fiat(o);
    let fits = |i: usize| {
        let l = &lines[i];
        !used[i]
            && !forbidden(l.id)
            && l.bank_account_id == o.bank_account_id
            && l.currency == o.fiat_currency
            && l.amount.is_sign_positive() == expected.is_sign_positive()
            && l.booking_date
                .is_some_and(|d| (d - o.expected_on).num_days().abs() <= rules.date_window_days)
    };
    let distance = |i: usize| {
        let l = &lines[i];
        (
            (l.amount - expected).abs(),
            l.booking_date
                .map_or(i64::MAX, |d| (d - o.expected_on).num_days().abs()),
            l.id,
        )
    };
    // Lines holding every word of the reference: walk the rarest word's list, check the others.
    let reference = o.reference.to_lowercase();
    let words: Vec<&str> = tokens(&reference).collect();
    let lists: Option<Vec<&Vec<usize>>> = words.iter().map(|w| index.by_token.get(w)).collect();
    if let Some(mut lists) = lists.filter(|l| !l.is_empty()) {
        lists.sort_by_key(|l| l.len());
        let by_reference = lists[0]
            .iter()
            .copied()
            .filter(|i| lists[1..].iter().all(|l| l.binary_search(i).is_ok()))
            .filter(|&i| fits(i))
            .min_by_key(|&i| distance(i));
        if let Some(i) = by_reference {
            return Some((i, 100));
        }
    }
    // Without the reference, only an exact amount that no other line in the window shares.
    let key = (o.bank_account_id, o.fiat_currency.as_str(), expected.normalize());
    let exact: Vec<usize> = index
        .by_amount
        .get(&key)
        .map(|l| l.iter().copied().filter(|&i| fits(i)).collect())
        .unwrap_or_default();
    match exact.as_slice() {
        [only] => Some((*only, 70)),
        _ => None,
    }
}

/// The settling transfer for an order (live blocks only) and, separately, an orphaned one.
fn best_transfer(
    o: &Order,
    transfers: &[Transfer],
    index: &Index<'_>,
    used: &[bool],
    rules: Rules,
    forbidden: &dyn Fn(Uuid) -> bool,
) -> (Option<usize>, Option<usize>) {
    // Into the treasury (on-ramp) or into the partner's deposit address (off-ramp), exactly.
    let key = (
        o.token_contract.as_str(),
        o.chain_address.as_str(),
        o.token_units.normalize(),
    );
    let candidates: &[usize] = index.transfers.get(&key).map_or(&[], Vec::as_slice);
    let pick = |orphaned: bool| {
        candidates
            .iter()
            .copied()
            .filter(|&i| {
                let t = &transfers[i];
                !used[i]
                    && t.orphaned == orphaned
                    && !forbidden(t.id)
                    && (t.seen_on - o.expected_on).num_days().abs() <= rules.date_window_days
            })
            .min_by_key(|&i| ((transfers[i].seen_on - o.expected_on).num_days().abs(), transfers[i].id))
    };
    (pick(false), pick(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, n).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn order(n: u128, fiat: &str, reference: &str, on: u32) -> Order {
        Order {
            id: id(n),
            direction: Direction::On,
            bank_account_id: id(1),
            fiat_amount: fiat.parse().unwrap(),
            fiat_currency: "EUR".into(),
            token_contract: "0xtoken".into(),
            token_units: Decimal::from(n * 1_000_000),
            chain_address: "0xtreasury".into(),
            reference: reference.into(),
            expected_on: day(on),
        }
    }

    fn line(n: u128, amount: &str, text: &str, on: u32) -> BankLine {
        BankLine {
            id: id(n),
            bank_account_id: id(1),
            amount: amount.parse().unwrap(),
            currency: "EUR".into(),
            booking_date: Some(day(on)),
            searchable: text.to_lowercase(),
            duplicate_of: None,
        }
    }

    fn transfer(n: u128, units: u128, on: u32, orphaned: bool) -> Transfer {
        Transfer {
            id: id(n),
            token_contract: "0xtoken".into(),
            from: "0xpartner".into(),
            to: "0xtreasury".into(),
            units: Decimal::from(units),
            seen_on: day(on),
            orphaned,
        }
    }

    #[test]
    fn an_amount_without_a_reference_matches_only_when_it_is_the_only_one() {
        let orders = vec![order(10, "500.00", "ORD-10", 3)];
        // Two lines of 500.00 and neither names the order: no guess.
        let lines = vec![line(20, "500.00", "transfer", 3), line(21, "500.00", "transfer", 3)];
        let out = reconcile(
            orders.clone(),
            lines,
            vec![transfer(30, 10_000_000, 3, false)],
            Rules::default(),
            &Manual::default(),
        );
        let o = out.iter().find(|o| o.order_id == Some(id(10))).unwrap();
        assert_eq!((o.status, o.bank_line_id), (Status::PartiallyMatched, None));
        let out = reconcile(
            orders,
            vec![line(20, "500.00", "transfer", 3)],
            vec![transfer(30, 10_000_000, 3, false)],
            Rules::default(),
            &Manual::default(),
        );
        let o = out.iter().find(|o| o.order_id == Some(id(10))).unwrap();
        assert_eq!(
            (o.status, o.bank_line_id, o.confidence),
            (Status::Matched, Some(id(20)), 70)
        );
    }

    #[test]
    fn the_stored_names_are_the_json_names() {
        for s in [
            Status::Matched,
            Status::PartiallyMatched,
            Status::LedgerOnly,
            Status::BankOnly,
            Status::ChainOnly,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for e in [
            Exception::AmountMismatch,
            Exception::Duplicate,
            Exception::MissingSettlement,
            Exception::Timing,
            Exception::UnknownDeposit,
            Exception::ReorgedTransfer,
        ] {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
    }

    #[test]
    fn a_reference_is_found_as_whole_words_never_inside_a_longer_one() {
        let out = reconcile(
            vec![order(10, "500.00", "ON-1", 3)],
            vec![
                line(20, "499.00", "ref:ON-10, paid", 3),
                line(21, "498.00", "ref:ON-1, paid", 3),
            ],
            vec![transfer(30, 10_000_000, 3, false)],
            Rules::default(),
            &Manual::default(),
        );
        let o = out.iter().find(|o| o.order_id == Some(id(10))).unwrap();
        assert_eq!(o.bank_line_id, Some(id(21)));
        assert_eq!(o.exceptions, vec![Exception::AmountMismatch]);
    }

    #[test]
    fn a_drift_within_the_rule_still_matches() {
        let rules = Rules {
            amount_drift: "0.05".parse().unwrap(),
            ..Rules::default()
        };
        let out = reconcile(
            vec![order(10, "500.00", "ORD-10", 3)],
            vec![line(20, "499.96", "ord-10", 3)],
            vec![transfer(30, 10_000_000, 3, false)],
            rules,
            &Manual::default(),
        );
        assert_eq!(out[0].status, Status::Matched);
    }

    #[test]
    fn an_off_ramp_pairs_a_bank_debit_with_a_transfer_to_the_partner() {
        let mut o = order(10, "200.00", "OFF-10", 3);
        o.direction = Direction::Off;
        o.chain_address = "0xpartner".into();
        let mut t = transfer(30, 10_000_000, 3, false);
        t.from = "0xtreasury".into();
        t.to = "0xpartner".into();
        let out = reconcile(
            vec![o],
            vec![line(20, "-200.00", "OFF-10 payout", 4)],
            vec![t],
            Rules::default(),
            &Manual::default(),
        );
        assert_eq!(
            (out[0].status, out[0].bank_line_id, out[0].transfer_id),
            (Status::Matched, Some(id(20)), Some(id(30)))
        );
    }
}
