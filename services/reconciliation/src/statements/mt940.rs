//! SWIFT MT940 customer statements: tagged fields (`:20:` reference, `:25:` account, `:60F:`
//! opening balance, `:61:` statement line, `:86:` its details, `:62F:` closing balance), with or
//! without the SWIFT envelope (`{1:...}{2:...}{4:` ... `-}`). Intermediate balances (`:60M:`,
//! `:62M:`) open and close the pages of a long statement and are read the same way.

use super::{Balance, Line, ParseError, Statement, currency, non_empty, yymmdd};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// Lines a bank may put before the first field (export headers); more than this is not MT940.
const PREAMBLE_LINES_MAX: u32 = 10;

/// One tagged field and the line it starts on; continuation lines are kept with their breaks.
struct Field {
    tag: String,
    value: String,
    line: u32,
}

pub fn parse(text: &str) -> Result<Vec<Statement>, ParseError> {
    let fields = fields(text)?;
    let mut statements: Vec<Statement> = Vec::new();
    // The :20: line of each statement, for errors about the statement as a whole.
    let mut starts: Vec<u32> = Vec::new();
    let mut last_was_line = false;
    for f in fields {
        if f.tag != "20" && statements.is_empty() {
            return Err(ParseError::new(
                f.line,
                format!(
                    ":{}: before any :20:; a statement starts with its :20: reference",
                    f.tag
                ),
            ));
        }
        match f.tag.as_str() {
            "20" => {
                starts.push(f.line);
                statements.push(Statement {
                    id: non_empty(&f.value).ok_or_else(|| ParseError::new(f.line, ":20: is empty"))?,
                    account: String::new(),
                    account_line: f.line,
                    currency: None,
                    opening: None,
                    closing: None,
                    lines: Vec::new(),
                });
                last_was_line = false;
            }
            tag => {
                let s = statements.last_mut().expect("a :20: came first");
                match tag {
                    "25" => {
                        s.account = non_empty(&f.value).ok_or_else(|| ParseError::new(f.line, ":25: is empty"))?;
                        s.account_line = f.line;
                    }
                    "28C" | "28" | "64" | "65" | "NS" | "21" | "13D" | "34F" | "90D" | "90C" => {}
                    "60F" | "60M" => {
                        if s.opening.is_none() {
                            let b = balance(&f)?;
                            s.currency.get_or_insert_with(|| b.currency.clone());
                            s.opening = Some(b);
                        }
                    }
                    "62F" | "62M" => {
                        let b = balance(&f)?;
                        s.currency.get_or_insert_with(|| b.currency.clone());
                        s.closing = Some(b);
                    }
                    "61" => {
                        let ccy = s.currency.clone().ok_or_else(|| {
                            ParseError::new(
                                f.line,
                                ":61: before the opening balance (:60F:) that names the currency",
                            )
                        })?;
                        s.lines.push(statement_line(&f, ccy)?);
                        last_was_line = true;
                        continue;
                    }
                    "86" => {
                        if last_was_line && let Some(l) = s.lines.last_mut() {
                            details(l, &f.value);
                        }
                    }
                    other => {
                        return Err(ParseError::new(f.line, format!("unknown MT940 field :{other}:")));
                    }
                }
                last_was_line = false;
            }
        }
    }
    for (s, &line) in statements.iter().zip(&starts) {
        if s.account.is_empty() {
            return Err(ParseError::new(line, format!("statement {} has no :25: account", s.id)));
        }
        if s.opening.is_none() || s.closing.is_none() {
            return Err(ParseError::new(
                line,
                format!(
                    "statement {} needs both an opening (:60F:) and a closing (:62F:) balance",
                    s.id
                ),
            ));
        }
    }
    Ok(statements)
}

/// Splits the text into fields, dropping the SWIFT envelope and message terminators.
fn fields(text: &str) -> Result<Vec<Field>, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Field> = Vec::new();
    // Before the first field of each message a bank may put a header (":940:", "ABNANL2A",
    // a transfer header, control characters); such lines are skipped, a bounded number.
    let mut preamble_left = PREAMBLE_LINES_MAX;
    let mut in_preamble = true;
    for (i, raw) in lines.iter().enumerate() {
        let n = (i + 1) as u32;
        let mut line = raw.trim_end_matches(['\r', '\u{0}']);
        // Envelope: blocks {1:..}{2:..}{3:..} on their own lines, and "{4:" opening the text block.
        if line.starts_with('{') {
            match line.find("{4:") {
                Some(pos) => line = &line[pos + 3..],
                None => continue,
            }
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        // "-" or "-}" ends a message; some banks also put a lone "-" inside a :86: continuation,
        // which shows as text (not a field or an envelope) on the next line.
        if t == "-" || t.starts_with("-}") {
            let next = lines[i + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty());
            let in_details = out.last().is_some_and(|f| f.tag == "86");
            let inside_text = t == "-" && in_details && next.is_some_and(|l| !l.starts_with(['{', ':', '-']));
            if inside_text && let Some(last) = out.last_mut() {
                last.value.push_str("\n-");
            } else {
                in_preamble = true;
                preamble_left = PREAMBLE_LINES_MAX;
            }
            continue;
        }
        if let Some((tag, value)) = tag_of(line) {
            in_preamble = false;
            out.push(Field {
                tag: tag.to_owned(),
                value: value.to_owned(),
                line: n,
            });
        } else if in_preamble {
            if preamble_left == 0 {
                return Err(ParseError::new(
                    n,
                    format!("expected an MT940 field such as :20:, found {:?}", truncate(t)),
                ));
            }
            preamble_left -= 1;
        } else if let Some(last) = out.last_mut() {
            last.value.push('\n');
            last.value.push_str(line);
        }
        // A statement line takes two fields (:61: and :86:), a statement a few more.
        if out.len() > 3 * super::LINES_PER_FILE_MAX {
            return Err(ParseError::new(n, "too many fields"));
        }
    }
    if out.is_empty() {
        return Err(ParseError::new(1, "no MT940 fields"));
    }
    Ok(out)
}

/// `:61:` -> ("61", rest); tags are two digits and an optional letter.
fn tag_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    let valid = (2..=3).contains(&tag.len())
        && tag.as_bytes()[..2].iter().all(u8::is_ascii_digit)
        && tag.as_bytes()[2..].iter().all(u8::is_ascii_uppercase)
        || tag == "NS";
    valid.then(|| (tag, &rest[end + 1..]))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `C230209EUR100,00`: sign, date, currency, amount.
fn balance(f: &Field) -> Result<Balance, ParseError> {
    let v = f.value.trim();
    let bad = |why: &str| ParseError::new(f.line, format!(":{}: {v:?}: {why}", f.tag));
    let sign = match v.get(..1) {
        Some("C") => Decimal::ONE,
        Some("D") => Decimal::NEGATIVE_ONE,
        _ => return Err(bad("must start with C or D")),
    };
    let date = yymmdd(v.get(1..7).ok_or_else(|| bad("too short"))?).ok_or_else(|| bad("bad date"))?;
    let ccy = currency(v.get(7..10).ok_or_else(|| bad("too short"))?, f.line)?;
    let amount = amount(v.get(10..).unwrap_or_default()).ok_or_else(|| bad("bad amount"))?;
    Ok(Balance {
        amount: amount * sign,
        currency: ccy,
        date,
        line: f.line,
    })
}

/// `2302090209CR2,00NTRFreference//bankref` then optional supplementary details.
fn statement_line(f: &Field, ccy: String) -> Result<Line, ParseError> {
    let (first, supplementary) = match f.value.split_once('\n') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (f.value.trim(), None),
    };
    let bad = |why: &str| ParseError::new(f.line, format!(":61: {first:?}: {why}"));
    let value_date = yymmdd(first.get(..6).ok_or_else(|| bad("too short"))?).ok_or_else(|| bad("bad value date"))?;
    let mut rest = &first[6..];
    let mut booking_date = None;
    if rest.len() >= 4 && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        let (month, day) = (rest[..2].parse::<u32>().ok(), rest[2..4].parse::<u32>().ok());
        let (Some(month), Some(day)) = (month, day) else {
            return Err(bad("bad entry date"));
        };
        // The entry date has no year: take the value date's, moved across a year end.
        let mut year = value_date.year();
        if value_date.month() == 1 && month == 12 {
            year -= 1;
        } else if value_date.month() == 12 && month == 1 {
            year += 1;
        }
        booking_date = Some(NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| bad("bad entry date"))?);
        rest = &rest[4..];
    }
    let (sign, after) = if let Some(r) = rest.strip_prefix("RC") {
        (Decimal::NEGATIVE_ONE, r)
    } else if let Some(r) = rest.strip_prefix("RD") {
        (Decimal::ONE, r)
    } else if let Some(r) = rest.strip_prefix('C') {
        (Decimal::ONE, r)
    } else if let Some(r) = rest.strip_prefix('D') {
        (Decimal::NEGATIVE_ONE, r)
    } else {
        return Err(bad("the debit/credit mark must be C, D, RC or RD"));
    };
    // An optional funds code: the third letter of the currency code.
    let after = match after.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => &after[1..],
        _ => after,
    };
    let amount_len = after
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .ok_or_else(|| bad("no transaction type after the amount"))?;
    let amount = amount(&after[..amount_len]).ok_or_else(|| bad("bad amount"))?;
    let after = &after[amount_len..];
    let type_code = after.get(..4).ok_or_else(|| bad("no transaction type"))?;
    if !matches!(type_code.as_bytes()[0], b'N' | b'F' | b'S') {
        return Err(bad("the transaction type must start with N, F or S"));
    }
    let refs = &after[4..];
    let (owner_ref, bank_ref) = match refs.split_once("//") {
        Some((a, b)) => (a, Some(b)),
        None => (refs, None),
    };
    Ok(Line {
        line: f.line,
        amount: amount * sign,
        currency: ccy,
        // Without an entry date the bank books on the value date.
        booking_date: booking_date.or(Some(value_date)),
        value_date: Some(value_date),
        bank_reference: bank_ref.and_then(non_empty),
        reference: non_empty(owner_ref).filter(|r| r != "NONREF"),
        type_code: Some(type_code.to_owned()),
        description: supplementary.and_then(non_empty),
        ..Line::default()
    })
}

/// Reads the `:86:` details into the line: structured SEPA (`?20`..`?29` subfields with `EREF+`,
/// `?32`/`?33` name, `?31` account) or Dutch (`/EREF/`, `/CNTP/account/bic/name/`, `/REMI/`),
/// and keeps the whole text as the description.
fn details(l: &mut Line, raw: &str) {
    let joined: String = raw.lines().map(str::trim_end).collect::<Vec<_>>().join("");
    if joined.contains('?') && joined.len() > 3 && joined.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
        let mut text = String::new();
        let mut name = String::new();
        for part in joined.split('?').skip(1) {
            let (code, value) = part.split_at(part.len().min(2));
            match code {
                "20" | "21" | "22" | "23" | "24" | "25" | "26" | "27" | "28" | "29" | "60" | "61" | "62" | "63" => {
                    text.push_str(value)
                }
                "32" | "33" => name.push_str(value),
                "31" => l.counterparty_account = non_empty(value),
                _ => {}
            }
        }
        if let Some(pos) = text.find("EREF+") {
            let rest = &text[pos + 5..];
            let end = ["KREF+", "MREF+", "CRED+", "SVWZ+", "ABWA+", "DEBT+", "COAM+"]
                .iter()
                .filter_map(|k| rest.find(k))
                .min()
                .unwrap_or(rest.len());
            l.end_to_end_id = non_empty(&rest[..end]).filter(|e| e != "NOTPROVIDED");
        }
        l.counterparty_name = non_empty(&name);
        l.description = non_empty(&text).or_else(|| non_empty(&joined));
        return;
    }
    if joined.starts_with('/') {
        // Each value runs to the next known "/KEY/" (values themselves contain "/" and "//").
        const KEYS: [&str; 12] = [
            "/EREF/", "/CNTP/", "/REMI/", "/ISDT/", "/CSID/", "/MARF/", "/RTRN/", "/PREF/", "/BENM/", "/ORDP/",
            "/TRCD/", "/IREF/",
        ];
        let find = |key: &str| -> Option<&str> {
            let start = joined.find(key)? + key.len();
            let rest = &joined[start..];
            let end = KEYS.iter().filter_map(|k| rest.find(k)).min().unwrap_or(rest.len());
            Some(rest[..end].trim_end_matches('/'))
        };
        l.end_to_end_id = find("/EREF/").and_then(non_empty).filter(|e| e != "NOTPROVIDED");
        if let Some(cntp) = find("/CNTP/") {
            let mut parts = cntp.split('/');
            l.counterparty_account = parts.next().and_then(non_empty);
            l.counterparty_name = parts.nth(1).and_then(non_empty);
        }
        if let Some(remi) = find("/REMI/") {
            let text = remi
                .strip_prefix("USTD//")
                .or_else(|| remi.strip_prefix("STRD/"))
                .unwrap_or(remi);
            l.description = non_empty(text);
        }
        if l.description.is_none() {
            l.description = non_empty(&joined);
        }
        return;
    }
    l.description = non_empty(&joined);
}

/// SWIFT amounts: digits with a decimal comma ("380115," and "0,12" are both valid; some banks
/// drop the comma of a whole amount, "500").
fn amount(raw: &str) -> Option<Decimal> {
    let raw = raw.trim();
    let (int, frac) = raw.split_once(',').unwrap_or((raw, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let s = if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    };
    Decimal::from_str_exact(&s).ok()
}
