//! Body and query extractors whose rejections are problem+json, so every error has one format.

use crate::error::ApiError;
use axum::{
    extract::{FromRequest, FromRequestParts, Query, Request, rejection::QueryRejection},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

/// JSON body in, JSON body out. Request types should use `#[serde(deny_unknown_fields)]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

/// Parses a JSON body, classifying failures: bad syntax is 400, a well-formed body with wrong
/// fields or types is 422, naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {inner}"))
            }
            Category::Data => {
                let at = if path == "." {
                    String::new()
                } else {
                    format!(" at {path}")
                };
                ApiError::unprocessable("invalid_body", format!("{inner}{at}"))
            }
        }
    })
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

/// Reads the whole body (bounded by the body-limit layer) after checking it is JSON.
pub async fn json_body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body exceeds the size limit",
            )
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text())
        }
    })
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        }
    }
}

/// Query string extractor with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // fields exist to be parsed
    struct Body {
        amount: String,
        count: u32,
    }

    #[test]
    fn classifies_syntax_and_shape_errors() {
        assert_eq!(parse_json::<Body>(b"{").unwrap_err().code, "malformed_json");
        let unknown = parse_json::<Body>(br#"{"amount":"1","count":1,"status":"paid"}"#).unwrap_err();
        assert_eq!(
            (unknown.status, unknown.code.as_ref()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        );
        assert!(unknown.detail.contains("status"), "{}", unknown.detail);
        let wrong_type = parse_json::<Body>(br#"{"amount":"1","count":"x"}"#).unwrap_err();
        assert!(wrong_type.detail.contains("count"), "{}", wrong_type.detail);
    }
}
