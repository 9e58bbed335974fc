//! Console sessions as JWTs (HS256 only). Validation is explicit: one algorithm, required
//! `exp`/`iat`/`iss`/`aud`/`sub`, issuer and audience checked, 5 s leeway (RFC 8725 advice; the
//! library's defaults are looser).

use crate::{config::JwtConfig, error::ApiError, state::AppState};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use chrono::{DateTime, Utc};
use corridor_domain::ids::{ConsoleUserId, MerchantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

pub const LEEWAY_SECS: u64 = 5;
pub const SESSION_COOKIE: &str = "corridor_session";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    MerchantAdmin,
    Treasury,
    ComplianceOfficer,
    ComplianceLead,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::MerchantAdmin,
        Role::Treasury,
        Role::ComplianceOfficer,
        Role::ComplianceLead,
        Role::PlatformAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::MerchantAdmin => "merchant_admin",
            Role::Treasury => "treasury",
            Role::ComplianceOfficer => "compliance_officer",
            Role::ComplianceLead => "compliance_lead",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mer: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
}

impl JwtKeys {
    pub fn new(config: &JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(config.secret.expose()),
            decoding: DecodingKey::from_secret(config.secret.expose()),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: chrono::Duration::from_std(config.session_ttl).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    pub fn issue(
        &self,
        user: ConsoleUserId,
        role: Role,
        merchant: Option<MerchantId>,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user.to_string(),
            role,
            mer: merchant.map(|m| m.to_string()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)?;
        Ok((token, expires_at))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let detail = match e.kind() {
                    ErrorKind::ExpiredSignature => "the session has expired; log in again",
                    _ => "the session token is not valid",
                };
                ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "invalid_session", detail)
            })
    }
}

/// An authenticated console user, from `Authorization: Bearer <jwt>` or the session cookie.
#[derive(Debug, Clone)]
pub struct ConsoleAuth {
    pub user_id: ConsoleUserId,
    pub role: Role,
    pub merchant_id: Option<MerchantId>,
}

impl ConsoleAuth {
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "forbidden_role",
                format!("the {} role may not do this", self.role.as_str()),
            ))
        }
    }
}

/// A request cookie's value by name (the first non-empty one of that name).
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then_some(v)
        })
}

impl<S> FromRequestParts<S> for ConsoleAuth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = super::api_key::bearer(parts)
            .or_else(|| cookie(&parts.headers, SESSION_COOKIE))
            .ok_or_else(|| ApiError::unauthorized("log in first: no session token"))?;
        let claims = state.jwt().verify(token)?;
        let user_id =
            ConsoleUserId::parse(&claims.sub).map_err(|_| ApiError::unauthorized("the session token is not valid"))?;
        let merchant_id = match claims.mer.as_deref() {
            Some(m) => {
                Some(MerchantId::parse(m).map_err(|_| ApiError::unauthorized("the session token is not valid"))?)
            }
            None => None,
        };
        Ok(ConsoleAuth {
            user_id,
            role: claims.role,
            merchant_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use std::time::Duration;

    fn keys(secret: &[u8]) -> JwtKeys {
        JwtKeys::new(&JwtConfig {
            secret: Secret::new(secret.to_vec()),
            issuer: "corridor".into(),
            audience: "corridor-console".into(),
            session_ttl: Duration::from_secs(600),
        })
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_fresh_token_verifies() {
        let k = keys(SECRET);
        let (token, _) = k.issue(ConsoleUserId::new(), Role::Treasury, None, Utc::now()).unwrap();
        assert_eq!(k.verify(&token).unwrap().role, Role::Treasury);
    }

    #[test]
    fn an_expired_token_is_refused_beyond_the_leeway() {
        let k = keys(SECRET);
        let (token, _) = k
            .issue(
                ConsoleUserId::new(),
                Role::Treasury,
                None,
                Utc::now() - chrono::Duration::seconds(610),
            )
            .unwrap();
        let err = k.verify(&token).unwrap_err();
        assert_eq!(err.code, "invalid_session");
        assert!(err.detail.contains("expired"));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let (token, _) = keys(b"another-secret-another-secret-00")
            .issue(ConsoleUserId::new(), Role::PlatformAdmin, None, Utc::now())
            .unwrap();
        assert!(keys(SECRET).verify(&token).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let k = keys(SECRET);
        let (token, _) = k
            .issue(ConsoleUserId::new(), Role::PlatformAdmin, None, Utc::now())
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{header}.{payload}.")).is_err());
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let other = JwtKeys::new(&JwtConfig {
            secret: Secret::new(SECRET.to_vec()),
            issuer: "someone-else".into(),
            audience: "corridor-console".into(),
            session_ttl: Duration::from_secs(600),
        });
        let (token, _) = other
            .issue(ConsoleUserId::new(), Role::PlatformAdmin, None, Utc::now())
            .unwrap();
        assert!(keys(SECRET).verify(&token).is_err());
    }
}
