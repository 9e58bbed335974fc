//! `Idempotency-Key` for every POST that moves money (draft-ietf-httpapi-idempotency-key-header):
//! missing key 400; same key and same request replays the stored response; same key with a
//! different request 422; a duplicate while the first is still running 409 with `Retry-After`.
//! Keys are scoped per merchant. The response is stored in the same transaction as the effect.
//! A request that fails stores nothing (its effect rolled back) and gives its key back.

use crate::{
    error::ApiError,
    extract::{json_body_bytes, parse_json},
    state::AppState,
};
use axum::{
    extract::{FromRequest, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use corridor_domain::ids::MerchantId;
use corridor_store::idempotency::{self as store, Claim};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

pub const HEADER: &str = "idempotency-key";
pub const KEY_LEN_MAX: usize = 255;

/// The key and a fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: [u8; 32],
}

/// A JSON body that must come with an `Idempotency-Key`.
#[derive(Debug)]
pub struct IdempotentJson<T> {
    pub key: IdempotencyKey,
    pub body: T,
}

fn parse_key(value: Option<&HeaderValue>) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::bad_request(
            "idempotency_key_missing",
            "this request moves money: send an Idempotency-Key header",
        )
    })?;
    let key = value.to_str().map_err(|_| invalid_key())?;
    let ok = !key.is_empty() && key.len() <= KEY_LEN_MAX && key.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(key.to_owned()) } else { Err(invalid_key()) }
}

fn invalid_key() -> ApiError {
    ApiError::bad_request(
        "idempotency_key_invalid",
        format!("an Idempotency-Key is 1 to {KEY_LEN_MAX} visible ASCII characters"),
    )
}

/// Canonical JSON: object keys sorted, no insignificant whitespace, so two bodies that mean the
/// same thing have the same fingerprint whatever their key order.
pub fn canonical_json(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                canonical_json(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(v, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> [u8; 32] {
    let mut canonical = Vec::new();
    canonical_json(body, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(&canonical);
    hasher.finalize().into()
}

impl<T, S> FromRequest<S> for IdempotentJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let key = parse_key(req.headers().get(HEADER))?;
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let bytes = json_body_bytes(req, state).await?;
        let value: serde_json::Value = parse_json(&bytes)?;
        let body = parse_json(&bytes)?;
        Ok(IdempotentJson {
            key: IdempotencyKey {
                fingerprint: fingerprint(&method, &path, &value),
                key,
            },
            body,
        })
    }
}

/// The outcome of claiming a key.
pub enum Begin {
    /// Run the effect, then call `Claimed::finish`.
    Proceed(Claimed),
    /// The same request completed before: send this response again.
    Replay(Response),
}

pub struct Claimed {
    pool: PgPool,
    merchant: MerchantId,
    key: String,
    lease: Uuid,
}

pub async fn begin(state: &AppState, merchant: MerchantId, key: &IdempotencyKey) -> Result<Begin, ApiError> {
    let claim = store::claim(
        state.pool(),
        merchant,
        &key.key,
        &key.fingerprint,
        state.config().idempotency_lease,
    )
    .await?;
    match claim {
        Claim::Acquired { lease } => Ok(Begin::Proceed(Claimed {
            pool: state.pool().clone(),
            merchant,
            key: key.key.clone(),
            lease,
        })),
        Claim::Completed { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(Begin::Replay(response))
        }
        Claim::FingerprintMismatch => Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request; use a new key for a new request",
        )),
        Claim::InProgress { .. } => Err(ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .retry_after(1)),
    }
}

impl Claimed {
    /// Stores a successful response with the effect (one commit), or on failure rolls the effect
    /// back and gives the key back so the client may retry.
    pub async fn finish<T: Serialize>(
        self,
        mut tx: Transaction<'static, Postgres>,
        outcome: Result<(StatusCode, T), ApiError>,
    ) -> Result<Response, ApiError> {
        let result = async {
            let (status, value) = outcome?;
            let body = serde_json::to_vec(&value).map_err(ApiError::internal)?;
            store::complete(&mut tx, self.merchant, &self.key, self.lease, status.as_u16(), &body).await?;
            corridor_store::error::commit(tx).await?;
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(response)
        }
        .await;
        if result.is_err() {
            // The transaction is gone (rolled back on drop), so the effect did not happen.
            if let Err(e) = store::release(&self.pool, self.merchant, &self.key, self.lease).await {
                tracing::warn!(error = %e, "could not release idempotency key; it frees itself when its lease expires");
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_key_order_and_whitespace_but_not_values() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"amount":"1.00","asset":"USDC","x":{"b":1,"a":2}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "x": {"a":2, "b":1}, "asset":"USDC", "amount":"1.00" }"#).unwrap();
        let c: serde_json::Value =
            serde_json::from_str(r#"{"amount":"1.01","asset":"USDC","x":{"b":1,"a":2}}"#).unwrap();
        assert_eq!(fingerprint("POST", "/v1/x", &a), fingerprint("POST", "/v1/x", &b));
        assert_ne!(fingerprint("POST", "/v1/x", &a), fingerprint("POST", "/v1/x", &c));
        assert_ne!(fingerprint("POST", "/v1/x", &a), fingerprint("POST", "/v1/y", &a));
    }

    #[test]
    fn keys_must_be_visible_ascii_of_bounded_length() {
        assert_eq!(parse_key(None).unwrap_err().code, "idempotency_key_missing");
        for bad in ["", "has space", &"k".repeat(256)] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert_eq!(
                parse_key(Some(&v)).unwrap_err().code,
                "idempotency_key_invalid",
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_key(Some(&HeaderValue::from_static("order-42"))).unwrap(),
            "order-42"
        );
    }
}
