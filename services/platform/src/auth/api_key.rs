//! Merchant API keys: `cor_sk_` + a 12-character public prefix + a 40-character secret.
//! Only a SHA-256 digest is stored; the full key is shown once at creation.

use crate::{error::ApiError, state::AppState};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use corridor_domain::ids::{ApiKeyId, MerchantId};
use corridor_store::api_keys;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "cor_sk_";
const PUBLIC_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What a key may do. Stored as strings such as `payouts:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "balances:read")]
    BalancesRead,
    #[serde(rename = "payouts:read")]
    PayoutsRead,
    #[serde(rename = "payouts:write")]
    PayoutsWrite,
    #[serde(rename = "invoices:read")]
    InvoicesRead,
    #[serde(rename = "invoices:write")]
    InvoicesWrite,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    #[serde(rename = "sandbox:write")]
    SandboxWrite,
    /// Register the wallets deposits come from.
    #[serde(rename = "funding:manage")]
    FundingManage,
    /// Enrol in (or leave) yield on the float.
    #[serde(rename = "yield:manage")]
    YieldManage,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::BalancesRead,
        Scope::PayoutsRead,
        Scope::PayoutsWrite,
        Scope::InvoicesRead,
        Scope::InvoicesWrite,
        Scope::WebhooksManage,
        Scope::ApiKeysManage,
        Scope::SandboxWrite,
        Scope::FundingManage,
        Scope::YieldManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::BalancesRead => "balances:read",
            Scope::PayoutsRead => "payouts:read",
            Scope::PayoutsWrite => "payouts:write",
            Scope::InvoicesRead => "invoices:read",
            Scope::InvoicesWrite => "invoices:write",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::ApiKeysManage => "api_keys:manage",
            Scope::SandboxWrite => "sandbox:write",
            Scope::FundingManage => "funding:manage",
            Scope::YieldManage => "yield:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A freshly generated key. `token` is the only copy of the secret; show it once.
pub struct GeneratedKey {
    pub token: crate::secret::Secret<String>,
    pub prefix: String,
    pub digest: Vec<u8>,
}

fn random_chars(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn generate() -> GeneratedKey {
    let public = random_chars(PUBLIC_LEN);
    let secret = random_chars(SECRET_LEN);
    let token = format!("{KEY_PREFIX}{public}{secret}");
    GeneratedKey {
        prefix: format!("{KEY_PREFIX}{public}"),
        digest: digest(&token),
        token: crate::secret::Secret::new(token),
    }
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Splits a presented token into its stored prefix, or None if it cannot be one of ours.
fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    if rest.len() != PUBLIC_LEN + SECRET_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&token[..KEY_PREFIX.len() + PUBLIC_LEN])
}

/// The merchant a request acts for, authenticated by `Authorization: Bearer cor_sk_...`.
#[derive(Debug, Clone)]
pub struct MerchantAuth {
    pub merchant_id: MerchantId,
    pub key_id: ApiKeyId,
    pub scopes: Vec<Scope>,
}

impl MerchantAuth {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                format!("this API key lacks the {} scope", scope.as_str()),
            ))
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::unauthorized(detail.to_owned())
}

impl<S> FromRequestParts<S> for MerchantAuth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = bearer(parts).ok_or_else(|| unauthorized("send an API key as Authorization: Bearer cor_sk_..."))?;
        let prefix = prefix_of(token).ok_or_else(|| unauthorized("the API key is malformed"))?;
        let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
        let row = api_keys::find_by_prefix(&mut conn, prefix)
            .await?
            .ok_or_else(|| unauthorized("the API key is not valid"))?;
        let presented = digest(token);
        if !bool::from(presented.ct_eq(&row.secret_digest)) {
            return Err(unauthorized("the API key is not valid"));
        }
        if row.revoked_at.is_some() {
            return Err(unauthorized("the API key has been revoked"));
        }
        parts.extensions.insert(AuthenticatedMerchant(row.merchant_id));
        Ok(MerchantAuth {
            merchant_id: row.merchant_id,
            key_id: row.id,
            scopes: row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        })
    }
}

/// Left in request extensions for logging and metrics.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedMerchant(pub MerchantId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_a_recognisable_prefix_and_a_matching_digest() {
        let key = generate();
        let token = key.token.expose();
        assert_eq!(prefix_of(token), Some(key.prefix.as_str()));
        assert_eq!(digest(token), key.digest);
        assert_ne!(generate().token.expose(), token);
    }

    #[test]
    fn rejects_tokens_that_cannot_be_ours() {
        assert_eq!(prefix_of("cor_sk_short"), None);
        assert_eq!(
            prefix_of("sk_live_abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefab"),
            None
        );
        let mut key = generate().token.expose().clone();
        key.push('!');
        assert_eq!(prefix_of(&key), None);
    }
}
