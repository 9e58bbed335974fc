//! Bank statements in, one model out: ISO 20022 camt.052/053/054 (versions .01 to .08), SWIFT
//! MT940 and BAI2. Parsing is pure (bytes in, statements or an error naming the line out), so
//! every format is tested on real files without a database.
//!
//! Amounts are exact decimals, signed from the account holder's side: a credit (money in) is
//! positive, a debit negative. Where a statement carries both an opening and a closing balance,
//! opening plus the movements must equal the closing balance, or the file is refused.

pub mod bai2;
pub mod camt;
pub mod csv;
pub mod mt940;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::fmt;

/// A file holds at most this many statements and lines: a bound on memory per import.
pub const LINES_PER_FILE_MAX: usize = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// camt.052 (intraday report), camt.053 (statement), camt.054 (debit/credit notification).
    Camt052,
    Camt053,
    Camt054,
    Mt940,
    Bai2,
    /// A bank's CSV export, read through the account's column mapping.
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Camt052 => "camt.052",
            Format::Camt053 => "camt.053",
            Format::Camt054 => "camt.054",
            Format::Mt940 => "mt940",
            Format::Bai2 => "bai2",
            Format::Csv => "csv",
        }
    }

    /// Recognises a file by its first bytes: XML is camt, `01,` is BAI2, SWIFT tags are MT940.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if head.starts_with('<') {
            // The namespace names the message ("...:xsd:camt.054.001.02"); comments before the
            // root may mention other messages, so the namespace form is looked for first.
            let first = |needle: &str| {
                [Format::Camt053, Format::Camt054, Format::Camt052]
                    .into_iter()
                    .filter_map(|f| head.find(&format!("{needle}{}", f.as_str())).map(|at| (at, f)))
                    .min_by_key(|(at, _)| *at)
                    .map(|(_, f)| f)
            };
            return first("xsd:").or_else(|| first(""));
        }
        if head.starts_with("01,") {
            return Some(Format::Bai2);
        }
        if head.starts_with("{1:") || head.starts_with(':') || head.contains("\n:20:") || head.contains(":20:") {
            return Some(Format::Mt940);
        }
        None
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, and where: the 1-based line of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: u32,
    pub message: String,
}

impl ParseError {
    pub fn new(line: u32, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Signed: negative when the account is overdrawn (debit balance).
    pub amount: Decimal,
    pub currency: String,
    pub date: NaiveDate,
    pub line: u32,
}

/// One booked movement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// Where the entry starts in the file.
    pub line: u32,
    /// Signed: positive for money in.
    pub amount: Decimal,
    pub currency: String,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    /// The bank's own reference for the entry (camt AcctSvcrRef, MT940 bank reference, BAI2
    /// bank reference).
    pub bank_reference: Option<String>,
    /// The payer's end-to-end id (camt EndToEndId, MT940 `EREF+`).
    pub end_to_end_id: Option<String>,
    /// The customer's reference (camt structured creditor reference or instruction id, MT940
    /// reference for the account owner, BAI2 customer reference).
    pub reference: Option<String>,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    /// Free text: remittance information, MT940 `:86:`, BAI2 text.
    pub description: Option<String>,
    /// The bank's transaction type code (camt BkTxCd, MT940 type, BAI2 type code).
    pub type_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's (or report's, or notification's) own id.
    pub id: String,
    /// The account it is for: an IBAN or the bank's account number.
    pub account: String,
    /// Where the statement (or its account) is given in the file.
    pub account_line: u32,
    pub currency: Option<String>,
    pub opening: Option<Balance>,
    pub closing: Option<Balance>,
    pub lines: Vec<Line>,
}

impl Statement {
    /// Opening plus movements must equal closing when the statement gives both. Banks leave
    /// entries valued after the closing date out of the closing booked balance (they count in
    /// the forward balance), so a statement also balances without them.
    pub fn check_balanced(&self) -> Result<(), ParseError> {
        let (Some(open), Some(close)) = (&self.opening, &self.closing) else {
            return Ok(());
        };
        if open.currency != close.currency {
            return Err(ParseError::new(
                close.line,
                format!(
                    "closing balance is in {} but the opening balance is in {}",
                    close.currency, open.currency
                ),
            ));
        }
        let mut all = open.amount;
        let mut settled = open.amount;
        for l in &self.lines {
            if l.currency != open.currency {
                return Err(ParseError::new(
                    l.line,
                    format!("entry in {} on a statement in {}", l.currency, open.currency),
                ));
            }
            let overflow = || ParseError::new(l.line, "amounts overflow");
            all = all.checked_add(l.amount).ok_or_else(overflow)?;
            if l.value_date.is_none_or(|v| v <= close.date) {
                settled = settled.checked_add(l.amount).ok_or_else(overflow)?;
            }
        }
        if all != close.amount && settled != close.amount {
            return Err(ParseError::new(
                close.line,
                format!(
                    "unbalanced statement {}: opening {} plus movements {} is {}, but the closing balance is {}",
                    self.id,
                    open.amount,
                    all - open.amount,
                    all,
                    close.amount
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub format: Format,
    pub statements: Vec<Statement>,
}

/// Parses a file of any supported format, recognised by its content.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let format = Format::sniff(bytes).ok_or_else(|| {
        ParseError::new(
            1,
            "not a bank statement this gateway reads (camt.052/053/054 XML, MT940 or BAI2)",
        )
    })?;
    parse_as(format, bytes)
}

/// Parses a file of a known format.
pub fn parse_as(format: Format, bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let statements = match format {
        Format::Camt052 | Format::Camt053 | Format::Camt054 => camt::parse(format, bytes)?,
        Format::Mt940 => mt940::parse(&text(bytes)?)?,
        Format::Bai2 => bai2::parse(&text(bytes)?)?,
        Format::Csv => {
            return Err(ParseError::new(
                1,
                "a CSV export is read through its bank account's column mapping (import it with bank_account_id)",
            ));
        }
    };
    checked(format, statements)
}

/// The checks every parsed file passes: not empty, bounded, known currencies, balanced.
pub fn checked(format: Format, statements: Vec<Statement>) -> Result<ParsedFile, ParseError> {
    if statements.is_empty() {
        return Err(ParseError::new(1, "the file holds no statement"));
    }
    let lines: usize = statements.iter().map(|s| s.lines.len()).sum();
    if lines > LINES_PER_FILE_MAX {
        return Err(ParseError::new(
            1,
            format!("more than {LINES_PER_FILE_MAX} entries in one file"),
        ));
    }
    let registry = corridor_domain::AssetRegistry::builtin();
    let known = |code: &str, line: u32| match registry.get(code) {
        Ok(a) if a.kind == corridor_domain::AssetKind::Fiat => Ok(()),
        _ => Err(ParseError::new(line, format!("unknown currency {code}"))),
    };
    for s in &statements {
        for b in s.opening.iter().chain(&s.closing) {
            known(&b.currency, b.line)?;
        }
        for l in &s.lines {
            known(&l.currency, l.line)?;
        }
        s.check_balanced()?;
    }
    Ok(ParsedFile { format, statements })
}

/// MT940 and BAI2 are text; banks still send Latin-1, which is read byte by byte as such.
fn text(bytes: &[u8]) -> Result<String, ParseError> {
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    })
}

/// A three-letter ISO 4217 code, or an error.
fn currency(code: &str, line: u32) -> Result<String, ParseError> {
    let code = code.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code.to_owned())
    } else {
        Err(ParseError::new(
            line,
            format!("{code:?} is not an ISO 4217 currency code"),
        ))
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// SWIFT and BAI2 dates, YYMMDD; years below 80 are 20YY.
fn yymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = s[..2].parse().ok()?;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(year, s[2..4].parse().ok()?, s[4..6].parse().ok()?)
}

#[cfg(test)]
mod tests;
