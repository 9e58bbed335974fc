//! One error type for every HTTP handler, answered as RFC 9457 `application/problem+json` with a
//! stable machine `code`. Internal details are logged once, never sent to the client.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use corridor_store::StoreError;
use serde::Serialize;
use std::borrow::Cow;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid item of a request, for errors that report several (batch items, fields).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// Where: a JSON pointer such as `/items/3/amount`.
    pub pointer: String,
    pub code: Cow<'static, str>,
    pub detail: String,
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable, machine-readable error code.
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    /// Logged, never returned.
    internal: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            internal: None,
        }
    }

    pub fn bad_request(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn conflict(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// A failure the client cannot fix; the cause is logged with the request's span.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        );
        e.internal = Some(cause.to_string());
        e
    }

    pub fn unavailable(code: impl Into<Cow<'static, str>>, detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail).retry_after(retry_after_secs)
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("https://corridor.dev/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_string(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.problem()).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.internal {
            tracing::error!(code = %self.code, cause = %internal, "request failed");
        } else if self.status.is_server_error() {
            tracing::error!(code = %self.code, detail = %self.detail, "request failed");
        }
        let mut response = (self.status, self.body_bytes()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"corridor\""),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InsufficientFunds => ApiError::unprocessable(
                "insufficient_funds",
                "the available balance does not cover this amount; nothing was reserved",
            ),
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Ledger(e) => ApiError::unprocessable("ledger_rejected", e.to_string()),
            StoreError::Constraint(name) => ApiError::conflict(
                name.clone(),
                format!("the request conflicts with existing data ({name})"),
            ),
            e @ (StoreError::Corrupt(_) | StoreError::Database(_)) => ApiError::internal(e),
        }
    }
}

/// A query that failed is classified like the store classifies it (named constraints,
/// insufficient funds), so handlers can use `?` on sqlx directly.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from(err).into()
    }
}

impl From<corridor_domain::MoneyError> for ApiError {
    fn from(err: corridor_domain::MoneyError) -> Self {
        use corridor_domain::MoneyError as E;
        let code = match &err {
            E::Malformed(_) => "invalid_amount",
            E::TooManyDecimals { .. } => "amount_too_precise",
            E::NotPositive => "amount_not_positive",
            E::AssetMismatch { .. } => "asset_mismatch",
            E::Overflow => "amount_out_of_range",
            E::NegativeOnChain => "invalid_amount",
        };
        ApiError::unprocessable(code, err.to_string())
    }
}

impl From<corridor_domain::AssetError> for ApiError {
    fn from(err: corridor_domain::AssetError) -> Self {
        use corridor_domain::AssetError as E;
        let code = match &err {
            E::Unknown(_) | E::MalformedCode(_) => "unknown_asset",
            E::NotOnChain { .. } => "unsupported_chain",
            E::UnknownToken { .. } => "unknown_token",
        };
        ApiError::unprocessable(code, err.to_string())
    }
}

/// Answers unknown routes as problem+json.
pub async fn fallback() -> ApiError {
    ApiError::not_found("route")
}
