//! Ramp partners: configuration (`reconciliation.partners`) plus an adapter that turns the
//! partner's reports into ramp orders. The first adapter reads a CSV report with a fixed header;
//! others (an API client, another file layout) implement the same trait.

use crate::statements::ParseError;
use serde::Deserialize;

/// One order as a partner reports it, before the API checks it like any other order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReportOrder {
    /// `on` or `off`.
    pub direction: String,
    pub reference: String,
    pub fiat_amount: String,
    pub asset: String,
    pub chain_id: u64,
    pub token_amount: String,
    pub chain_address: String,
    /// YYYY-MM-DD
    pub expected_on: chrono::NaiveDate,
    #[serde(default)]
    pub fee: Option<String>,
    #[serde(default)]
    pub fx_rate: Option<String>,
}

/// What every partner adapter does: read one report into orders, each with its line.
pub trait RampPartner {
    fn kind(&self) -> &'static str;
    fn orders(&self, report: &[u8]) -> Result<Vec<(u32, ReportOrder)>, ParseError>;
}

/// Rows in one report.
pub const REPORT_ROWS_MAX: usize = 100_000;

/// A partner that sends CSV reports with the header
/// `direction,reference,fiat_amount,asset,chain_id,token_amount,chain_address,expected_on[,fee,fx_rate]`.
pub struct CsvReportPartner;

impl RampPartner for CsvReportPartner {
    fn kind(&self) -> &'static str {
        "csv_report"
    }

    fn orders(&self, report: &[u8]) -> Result<Vec<(u32, ReportOrder)>, ParseError> {
        let mut reader = ::csv::ReaderBuilder::new().trim(::csv::Trim::All).from_reader(report);
        let headers = reader
            .headers()
            .map_err(|e| ParseError::new(1, format!("unreadable header: {e}")))?
            .clone();
        for required in [
            "direction",
            "reference",
            "fiat_amount",
            "asset",
            "chain_id",
            "token_amount",
            "chain_address",
            "expected_on",
        ] {
            if !headers.iter().any(|h| h == required) {
                return Err(ParseError::new(1, format!("the header has no column {required:?}")));
            }
        }
        let mut out = Vec::new();
        for row in reader.deserialize::<ReportOrder>() {
            let line = out.len() as u32 + 2;
            let order = row.map_err(|e| {
                let at = e.position().map_or(line, |p| p.line() as u32);
                ParseError::new(at, format!("unreadable row: {e}"))
            })?;
            if !matches!(order.direction.as_str(), "on" | "off") {
                return Err(ParseError::new(
                    line,
                    format!("direction {:?} is neither on nor off", order.direction),
                ));
            }
            out.push((line, order));
            if out.len() > REPORT_ROWS_MAX {
                return Err(ParseError::new(line, format!("more than {REPORT_ROWS_MAX} rows")));
            }
        }
        if out.is_empty() {
            return Err(ParseError::new(1, "the report has a header but no rows"));
        }
        Ok(out)
    }
}

/// The adapter for a configured kind.
pub fn adapter(kind: &str) -> Option<Box<dyn RampPartner + Send + Sync>> {
    match kind {
        "csv_report" => Some(Box::new(CsvReportPartner)),
        _ => None,
    }
}
