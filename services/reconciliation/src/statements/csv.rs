//! Bank exports in CSV, read through a column mapping that treasury stores per bank account:
//! which header names hold the booking date (and its format), the amount (one signed column, or
//! separate credit and debit columns), and optionally the value date, references, counterparty
//! and text. A CSV export carries no balances, so it is one statement without a balance check.

use super::{Line, ParseError, Statement, non_empty};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How to read one bank's CSV export. Columns are named by their header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// One character, default ",".
    #[serde(default = "comma")]
    pub delimiter: String,
    /// "1.234,56" style amounts (decimal comma, dot or space thousands).
    #[serde(default)]
    pub decimal_comma: bool,
    pub booking_date: String,
    /// chrono format, e.g. "%Y-%m-%d" or "%d.%m.%Y".
    pub date_format: String,
    #[serde(default)]
    pub value_date: Option<String>,
    /// A signed amount column; or give `credit` and `debit`.
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default)]
    pub credit: Option<String>,
    #[serde(default)]
    pub debit: Option<String>,
    #[serde(default)]
    pub bank_reference: Option<String>,
    #[serde(default)]
    pub end_to_end_id: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub counterparty_name: Option<String>,
    #[serde(default)]
    pub counterparty_account: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn comma() -> String {
    ",".to_owned()
}

impl Mapping {
    /// Checks the mapping itself, before any file is read.
    pub fn check(&self) -> Result<(), String> {
        if self.delimiter.len() != 1 || !self.delimiter.is_ascii() {
            return Err("delimiter must be one ASCII character".into());
        }
        match (&self.amount, &self.credit, &self.debit) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            _ => return Err("give either amount, or both credit and debit".into()),
        }
        // A format chrono cannot use, or one that cannot read back the date it writes.
        let items = chrono::format::StrftimeItems::new(&self.date_format);
        let usable = !items.clone().any(|i| matches!(i, chrono::format::Item::Error));
        let day = NaiveDate::from_ymd_opt(2026, 1, 31).expect("a real date");
        let round_trips = usable
            && NaiveDate::parse_from_str(&day.format_with_items(items).to_string(), &self.date_format) == Ok(day);
        if !round_trips {
            return Err(format!(
                "date_format {:?} cannot read back a date it writes",
                self.date_format
            ));
        }
        Ok(())
    }
}

/// Reads a CSV export into one statement for `account` in `currency`.
pub fn parse(bytes: &[u8], mapping: &Mapping, account: &str, currency: &str) -> Result<Statement, ParseError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter.as_bytes()[0])
        .trim(::csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ParseError::new(1, format!("unreadable header: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| ParseError::new(1, format!("the header has no column {name:?}")))
    };
    let optional = |name: &Option<String>| name.as_deref().map(column).transpose();
    let booking = column(&mapping.booking_date)?;
    let value = optional(&mapping.value_date)?;
    let amount = optional(&mapping.amount)?;
    let credit = optional(&mapping.credit)?;
    let debit = optional(&mapping.debit)?;
    let refs = [
        optional(&mapping.bank_reference)?,
        optional(&mapping.end_to_end_id)?,
        optional(&mapping.reference)?,
        optional(&mapping.counterparty_name)?,
        optional(&mapping.counterparty_account)?,
        optional(&mapping.description)?,
    ];
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line()) as u32;
            ParseError::new(line.max(1), format!("unreadable row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line()) as u32;
        let field = |i: usize| record.get(i).unwrap_or_default();
        let date = |i: usize, what: &str| {
            NaiveDate::parse_from_str(field(i), &mapping.date_format).map_err(|_| {
                ParseError::new(
                    line,
                    format!("{what} {:?} does not read as {}", field(i), mapping.date_format),
                )
            })
        };
        let number = |i: usize| parse_amount(field(i), mapping.decimal_comma, line);
        let signed = match (amount, credit, debit) {
            (Some(a), _, _) => number(a)?.ok_or_else(|| ParseError::new(line, "the amount is empty"))?,
            (None, Some(c), Some(d)) => match (number(c)?, number(d)?) {
                (Some(c), None) => c.abs(),
                (None, Some(d)) => -d.abs(),
                _ => {
                    return Err(ParseError::new(
                        line,
                        "exactly one of the credit and debit columns must be filled",
                    ));
                }
            },
            _ => return Err(ParseError::new(line, "the mapping names no amount")),
        };
        let text = |i: Option<usize>| i.and_then(|i| non_empty(field(i)));
        lines.push(Line {
            line,
            amount: signed,
            currency: currency.to_owned(),
            booking_date: Some(date(booking, "booking date")?),
            value_date: value.map(|v| date(v, "value date")).transpose()?,
            bank_reference: text(refs[0]),
            end_to_end_id: text(refs[1]),
            reference: text(refs[2]),
            counterparty_name: text(refs[3]),
            counterparty_account: text(refs[4]),
            description: text(refs[5]),
            type_code: None,
        });
        if lines.len() > super::LINES_PER_FILE_MAX {
            return Err(ParseError::new(line, "too many rows"));
        }
    }
    if lines.is_empty() {
        return Err(ParseError::new(1, "the file has a header but no rows"));
    }
    Ok(Statement {
        id: format!("csv-{account}"),
        account: account.to_owned(),
        account_line: 1,
        currency: Some(currency.to_owned()),
        opening: None,
        closing: None,
        lines,
    })
}

/// "-1234.56", "1,234.56", "(12.00)" or with `decimal_comma` "1.234,56"; empty is `None`.
fn parse_amount(raw: &str, decimal_comma: bool, line: u32) -> Result<Option<Decimal>, ParseError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let (negative, t) = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner),
        None => match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        },
    };
    let cleaned: String = if decimal_comma {
        t.chars()
            .filter(|c| !matches!(c, '.' | ' ' | '\''))
            .map(|c| if c == ',' { '.' } else { c })
            .collect()
    } else {
        t.chars().filter(|c| !matches!(c, ',' | ' ' | '\'')).collect()
    };
    let d = Decimal::from_str_exact(&cleaned)
        .ok()
        .filter(|_| cleaned.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .ok_or_else(|| ParseError::new(line, format!("amount {raw:?} is not a number")))?;
    Ok(Some(if negative { -d } else { d }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        serde_json::from_value(serde_json::json!({
            "delimiter": ";", "decimal_comma": true, "booking_date": "Buchungstag", "date_format": "%d.%m.%Y",
            "credit": "Haben", "debit": "Soll", "reference": "Verwendungszweck", "counterparty_name": "Name"
        }))
        .unwrap()
    }

    #[test]
    fn a_german_export_with_credit_and_debit_columns_is_read_exactly() {
        let csv = "Buchungstag;Name;Verwendungszweck;Soll;Haben\n\
                   05.01.2026;Acme GmbH;ON-1;;1.000,50\n\
                   06.01.2026;Lieferant AG;Rechnung 7;40,10;\n";
        let s = parse(csv.as_bytes(), &mapping(), "DE89370400440532013000", "EUR").unwrap();
        assert_eq!(s.lines.len(), 2);
        assert_eq!((s.lines[0].line, s.lines[0].amount), (2, "1000.50".parse().unwrap()));
        assert_eq!(s.lines[1].amount, "-40.10".parse().unwrap());
        assert_eq!(s.lines[0].reference.as_deref(), Some("ON-1"));
        assert_eq!(s.lines[1].booking_date, NaiveDate::from_ymd_opt(2026, 1, 6));
    }

    #[test]
    fn bad_rows_and_mappings_are_refused_naming_the_line() {
        let m = mapping();
        let e = parse(b"Buchungstag;Soll\n05.01.2026;1\n", &m, "X", "EUR").unwrap_err();
        assert_eq!((e.line, e.message.contains("no column \"Haben\"")), (1, true), "{e}");
        let e = parse(
            "Buchungstag;Name;Verwendungszweck;Soll;Haben\n32.01.2026;A;B;;1\n".as_bytes(),
            &m,
            "X",
            "EUR",
        )
        .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse(
            "Buchungstag;Name;Verwendungszweck;Soll;Haben\n05.01.2026;A;B;1;1\n".as_bytes(),
            &m,
            "X",
            "EUR",
        )
        .unwrap_err();
        assert!(e.message.contains("exactly one"), "{e}");
        let e = parse(
            "Buchungstag;Name;Verwendungszweck;Soll;Haben\n05.01.2026;A;B;;zwölf\n".as_bytes(),
            &m,
            "X",
            "EUR",
        )
        .unwrap_err();
        assert!(e.message.contains("not a number"), "{e}");
        let mut both = m.clone();
        both.amount = Some("Betrag".into());
        assert!(both.check().is_err());
        let mut fmt = m;
        fmt.date_format = "%Q".into();
        assert!(fmt.check().is_err());
    }
}
