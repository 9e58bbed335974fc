//! Console sessions and CSRF. The session is the platform's JWT in an HttpOnly, Secure,
//! SameSite=Strict cookie; a page that needs one redirects to the login form without it (and
//! says so when it expired). Every form carries the `corridor_csrf` cookie's value in a hidden
//! field (double submit): a cross-site page can neither read the cookie nor set it, so a forged
//! form arrives without the matching token and is refused.

use crate::views;
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, HeaderValue, StatusCode, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use corridor_domain::ids::{ConsoleUserId, MerchantId};
use corridor_platform::{
    AppState,
    auth::{Role, jwt::SESSION_COOKIE},
};
use subtle::ConstantTimeEq;

pub const CSRF_COOKIE: &str = "corridor_csrf";
const CSRF_BYTES: usize = 32;

pub use corridor_platform::auth::jwt::cookie;

pub fn new_csrf_token() -> String {
    let mut bytes = [0u8; CSRF_BYTES];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

pub fn csrf_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={token}; Path=/console; HttpOnly; Secure; SameSite=Strict"
    ))
    .expect("hex is a valid header value")
}

pub fn session_cookie(token: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .expect("a JWT is a valid header value")
}

pub fn cleared_session_cookie() -> HeaderValue {
    HeaderValue::from_static("corridor_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The form's token matches the cookie (constant time); an absent one never matches.
pub fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    match cookie(headers, CSRF_COOKIE) {
        Some(expected) if !submitted.is_empty() => bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())),
        _ => false,
    }
}

/// The answer to a form without the right token.
pub fn csrf_refused() -> Response {
    views::problem_page(
        StatusCode::FORBIDDEN,
        "This form cannot be accepted",
        "It did not carry this browser's security token: it may have come from another site, or the page was open too long. Go back, reload the page and try again.",
    )
}

/// A logged-in console user, from the session cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// The JWT, forwarded to the JSON API so its own authorisation applies.
    pub token: String,
    pub user_id: ConsoleUserId,
    pub email: String,
    pub role: Role,
    pub merchant_id: Option<MerchantId>,
    /// The CSRF token the page's forms carry.
    pub csrf: String,
}

impl Session {
    /// The page is for these roles only; others get a 403 page that says whose it is.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), Response> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        Err(views::problem_page(
            StatusCode::FORBIDDEN,
            "Not available to your role",
            &format!(
                "{what} are for {}. You are signed in as {} ({}).",
                roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "),
                self.email,
                self.role.as_str()
            ),
        ))
    }
}

impl<S> FromRequestParts<S> for Session
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/console/login").into_response());
        };
        let expired = || Redirect::to("/console/login?expired=1").into_response();
        let claims = state.jwt().verify(token).map_err(|_| expired())?;
        let user_id = ConsoleUserId::parse(&claims.sub).map_err(|_| expired())?;
        let merchant_id = match claims.mer.as_deref() {
            Some(m) => Some(MerchantId::parse(m).map_err(|_| expired())?),
            None => None,
        };
        let mut conn = state.pool().acquire().await.map_err(|_| views::unavailable())?;
        let email = corridor_store::console_users::find(&mut conn, user_id)
            .await
            .map_err(|_| views::unavailable())?
            .filter(|u| !u.disabled)
            .map(|u| u.email)
            .ok_or_else(expired)?;
        Ok(Session {
            token: token.to_owned(),
            user_id,
            email,
            role: claims.role,
            merchant_id,
            csrf: cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn the_csrf_token_must_equal_the_cookie() {
        let mut headers = HeaderMap::new();
        assert!(!csrf_ok(&headers, ""), "no cookie, no token");
        assert!(!csrf_ok(&headers, "abc"), "no cookie");
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; corridor_csrf=abc; b=2"));
        assert!(csrf_ok(&headers, "abc"));
        assert!(!csrf_ok(&headers, "abd"));
        assert!(!csrf_ok(&headers, ""), "an empty field never matches");
        assert_eq!(new_csrf_token().len(), 64);
        assert_ne!(new_csrf_token(), new_csrf_token());
    }
}
