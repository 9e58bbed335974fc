//! CSV exports (RFC 4180) that are safe to open in a spreadsheet.

use crate::error::ApiError;
use axum::{
    http::{HeaderName, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};

/// An export's creation window must be a real interval.
pub fn check_window(after: Option<DateTime<Utc>>, before: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match (after, before) {
        (Some(a), Some(b)) if a >= b => Err(ApiError::bad_request(
            "invalid_window",
            "created_after must be before created_before",
        )),
        _ => Ok(()),
    }
}

/// The export as a download; `x-truncated: true` says the row limit cut it short.
pub fn response(content_disposition: &'static str, truncated: bool, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, content_disposition),
            (
                HeaderName::from_static("x-truncated"),
                if truncated { "true" } else { "false" },
            ),
        ],
        body,
    )
        .into_response()
}

/// One field: quoted when it holds a separator, quote or line break; a leading `=`, `+`, `-`,
/// `@`, tab or carriage return is prefixed with `'`, so a buyer name cannot become a formula
/// (CSV injection) in the merchant's spreadsheet.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Appends one row, CRLF-terminated.
pub fn push_row(out: &mut String, fields: &[String]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f));
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::field as csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@cmd"), "'@cmd");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
