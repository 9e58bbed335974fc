//! BAI2 cash-management balance reports (US banks): comma-separated records, `/`-terminated or
//! one per line, continued by `88` records. `01` file, `02` group (as-of date, currency), `03`
//! account (number, currency, summary amounts by type code: 010 opening ledger, 015 closing
//! ledger), `16` transaction detail, `49`/`98`/`99` trailers. Amounts carry no decimal point:
//! they are in the currency's minor units (cents for USD).

use super::{Balance, Line, ParseError, Statement, currency, non_empty, yymmdd};
use chrono::NaiveDate;
use corridor_domain::AssetRegistry;
use rust_decimal::Decimal;

const DEFAULT_CURRENCY: &str = "USD";

/// One logical record (its `88` continuations folded in) and the line it starts on.
struct Record {
    code: String,
    fields: Vec<String>,
    line: u32,
}

pub fn parse(text: &str) -> Result<Vec<Statement>, ParseError> {
    let records = records(text)?;
    let registry = AssetRegistry::builtin();
    let first = records.first().ok_or_else(|| ParseError::new(1, "empty BAI2 file"))?;
    if first.code != "01" {
        return Err(ParseError::new(
            first.line,
            format!("a BAI2 file starts with a 01 record, found {:?}", first.code),
        ));
    }
    let mut statements = Vec::new();
    let mut group_currency: Option<String> = None;
    let mut group_date: Option<NaiveDate> = None;
    let mut group_id = String::new();
    let mut current: Option<Statement> = None;
    let mut ended = false;
    for r in &records[1..] {
        if ended {
            return Err(ParseError::new(r.line, "records after the 99 file trailer"));
        }
        let field = |i: usize| r.fields.get(i).map(|s| s.trim()).unwrap_or_default();
        match r.code.as_str() {
            "02" => {
                group_date = Some(
                    yymmdd(field(3))
                        .ok_or_else(|| ParseError::new(r.line, format!("02: as-of date {:?}", field(3))))?,
                );
                group_currency = match field(5) {
                    "" => None,
                    c => Some(currency(c, r.line)?),
                };
                group_id = format!("{}-{}", field(1), field(3));
            }
            "03" => {
                if current.is_some() {
                    return Err(ParseError::new(r.line, "03 before the previous account's 49 trailer"));
                }
                let date = group_date.ok_or_else(|| ParseError::new(r.line, "03 outside a 02 group"))?;
                let account =
                    non_empty(field(0)).ok_or_else(|| ParseError::new(r.line, "03 without an account number"))?;
                // Without a currency on the account or its group, BAI2 means the bank's own:
                // US dollars for the US banks that send BAI2.
                let ccy = match field(1) {
                    "" => group_currency.clone().unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()),
                    c => currency(c, r.line)?,
                };
                let scale = scale(&registry, &ccy, r.line)?;
                let (opening, closing) = summaries(r, 2, scale, &ccy, date)?;
                current = Some(Statement {
                    id: format!("{group_id}-{account}"),
                    account,
                    account_line: r.line,
                    currency: Some(ccy),
                    opening,
                    closing,
                    lines: Vec::new(),
                });
            }
            "16" => {
                let s = current
                    .as_mut()
                    .ok_or_else(|| ParseError::new(r.line, "16 outside an account (03 ... 49)"))?;
                let ccy = s.currency.clone().expect("set at 03");
                let scale = scale(&registry, &ccy, r.line)?;
                s.lines.push(detail(r, &ccy, scale, group_date)?);
            }
            "49" => {
                let s = current
                    .take()
                    .ok_or_else(|| ParseError::new(r.line, "49 without an open account"))?;
                statements.push(s);
            }
            "98" => {
                if current.is_some() {
                    return Err(ParseError::new(r.line, "98 before the account's 49 trailer"));
                }
                group_date = None;
                group_currency = None;
            }
            "99" => ended = true,
            other => return Err(ParseError::new(r.line, format!("unknown BAI2 record type {other:?}"))),
        }
    }
    if current.is_some() || !ended {
        let last = records.last().map_or(1, |r| r.line);
        return Err(ParseError::new(last, "the file ends before its 49/98/99 trailers"));
    }
    Ok(statements)
}

/// Splits the text into records. A record ends with `/` or at the end of its line; `88` lines
/// continue the record before them.
fn records(text: &str) -> Result<Vec<Record>, ParseError> {
    let mut out: Vec<Record> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = (i + 1) as u32;
        let line = raw.trim_end_matches(['\r', '\u{0}']).trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if !starts_record(line) {
            // A record's text wrapped onto the next line without an 88: it continues the text.
            let last = out
                .last_mut()
                .ok_or_else(|| ParseError::new(n, format!("not a BAI2 record: {:?}", truncate(line))))?;
            if last.code != "16" {
                return Err(ParseError::new(n, format!("not a BAI2 record: {:?}", truncate(line))));
            }
            let text = line.trim().strip_suffix('/').unwrap_or(line.trim()).trim_end();
            match last.fields.last_mut() {
                Some(f) => {
                    f.push(' ');
                    f.push_str(text);
                }
                None => last.fields.push(text.to_owned()),
            }
            continue;
        }
        for record in split_records(line) {
            let body = record.strip_suffix('/').unwrap_or(record);
            let mut parts = body.split(',');
            let code = parts.next().unwrap_or_default().trim().to_owned();
            let fields: Vec<String> = parts.map(str::to_owned).collect();
            if code == "88" {
                let last = out
                    .last_mut()
                    .ok_or_else(|| ParseError::new(n, "88 continuation with nothing to continue"))?;
                last.fields.extend(fields);
                continue;
            }
            out.push(Record { code, fields, line: n });
        }
        if out.len() > super::LINES_PER_FILE_MAX {
            return Err(ParseError::new(n, "too many records"));
        }
    }
    Ok(out)
}

/// `NN,` at the start of a line.
fn starts_record(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b','
}

/// Some banks put several `/`-terminated records on one line ("...,0,/  49,00,2/").
fn split_records(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' {
            let rest = line[i + 1..].trim_start();
            if starts_record(rest) {
                out.push(&line[start..=i]);
                start = line.len() - rest.len();
                i = start;
                continue;
            }
        }
        i += 1;
    }
    out.push(&line[start..]);
    out
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn scale(registry: &AssetRegistry, ccy: &str, line: u32) -> Result<u32, ParseError> {
    registry
        .get(ccy)
        .map(|a| a.scale)
        .map_err(|_| ParseError::new(line, format!("unknown currency {ccy}")))
}

/// A BAI2 amount: optional sign, digits, in minor units.
fn minor_units(raw: &str, scale: u32, line: u32) -> Result<Decimal, ParseError> {
    let t = raw.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            line,
            format!("amount {raw:?} is not a whole number of minor units"),
        ));
    }
    let units: i64 = digits
        .parse()
        .map_err(|_| ParseError::new(line, format!("amount {raw:?} is out of range")))?;
    let d = Decimal::new(units, scale);
    Ok(if neg { -d } else { d })
}

/// How many fields follow a funds type (`0`, `1`, `2`, `Z`: none; `V`: date and time; `S`:
/// three amounts; `D`: a count and that many amount/day pairs).
fn funds_extra(fields: &[String], at: usize, line: u32) -> Result<usize, ParseError> {
    let kind = fields.get(at).map(|s| s.trim()).unwrap_or_default();
    Ok(match kind {
        "" | "0" | "1" | "2" | "Z" => 0,
        "V" => 2,
        "S" => 3,
        "D" => {
            let n: usize = fields
                .get(at + 1)
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| ParseError::new(line, "funds type D without a count"))?;
            1 + 2 * n
        }
        other => return Err(ParseError::new(line, format!("unknown funds type {other:?}"))),
    })
}

/// The 03 record's summaries from `start`: (type code, amount, item count, funds type, extras).
fn summaries(
    r: &Record,
    start: usize,
    scale: u32,
    ccy: &str,
    date: NaiveDate,
) -> Result<(Option<Balance>, Option<Balance>), ParseError> {
    let mut i = start;
    let (mut opening, mut closing) = (None, None);
    while i < r.fields.len() {
        let code = r.fields[i].trim();
        if code.is_empty() {
            // The empty field a record's closing ",/" leaves before its 88 continuation.
            i += 1;
            continue;
        }
        let amount = r.fields.get(i + 1).map(|s| s.trim()).unwrap_or_default();
        let balance = |amount: &str| -> Result<Option<Balance>, ParseError> {
            if amount.is_empty() {
                return Ok(None);
            }
            Ok(Some(Balance {
                amount: minor_units(amount, scale, r.line)?,
                currency: ccy.to_owned(),
                date,
                line: r.line,
            }))
        };
        match code {
            "010" => opening = balance(amount)?,
            "015" => closing = balance(amount)?,
            _ => {
                if !amount.is_empty() {
                    minor_units(amount, scale, r.line)?;
                }
            }
        }
        i += 4 + funds_extra(&r.fields, i + 3, r.line)?;
    }
    Ok((opening, closing))
}

/// A 16 record: type code, amount, funds type (+ extras), bank reference, customer reference,
/// text (the rest of the record, commas and all).
fn detail(r: &Record, ccy: &str, scale: u32, date: Option<NaiveDate>) -> Result<Line, ParseError> {
    let code = r.fields.first().map(|s| s.trim()).unwrap_or_default();
    let type_code: u32 = code
        .parse()
        .map_err(|_| ParseError::new(r.line, format!("16: type code {code:?}")))?;
    // BAI2 detail codes: 100-399 credits, 400-699 debits; loan (700-799) and custom (900-999)
    // codes carry no direction, so such a line cannot be booked and is refused.
    let sign = match type_code {
        100..=399 => Decimal::ONE,
        400..=699 => Decimal::NEGATIVE_ONE,
        _ => {
            return Err(ParseError::new(
                r.line,
                format!("16: type code {type_code} has no credit or debit direction"),
            ));
        }
    };
    let amount = minor_units(r.fields.get(1).map(String::as_str).unwrap_or_default(), scale, r.line)?;
    let extras = funds_extra(&r.fields, 2, r.line)?;
    let at = 3 + extras;
    let field = |i: usize| r.fields.get(i).map(|s| s.trim()).unwrap_or_default();
    let text = r.fields.get(at + 2..).map(|rest| rest.join(",")).unwrap_or_default();
    Ok(Line {
        line: r.line,
        amount: amount * sign,
        currency: ccy.to_owned(),
        booking_date: date,
        value_date: date,
        bank_reference: non_empty(field(at)),
        reference: non_empty(field(at + 1)),
        description: non_empty(&text),
        type_code: Some(code.to_owned()),
        ..Line::default()
    })
}
