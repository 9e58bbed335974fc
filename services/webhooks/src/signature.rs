//! Standard Webhooks 1.0 signatures: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64, sent as
//! `v1,<signature>`; several space-separated signatures while a secret is being rotated.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
pub const SECRET_BYTES: usize = 32;
/// Receivers reject timestamps further than this from their clock.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a webhook secret is whsec_ followed by base64 of at least 24 bytes")]
    BadSecret,
    #[error("the timestamp is more than {TOLERANCE_SECS} s away")]
    StaleTimestamp,
    #[error("no signature matches")]
    NoMatch,
}

/// A signing key. Never printed.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let b64 = text.strip_prefix(SECRET_PREFIX).ok_or(SignatureError::BadSecret)?;
        let key = STANDARD.decode(b64).map_err(|_| SignatureError::BadSecret)?;
        if key.len() < 24 {
            return Err(SignatureError::BadSecret);
        }
        Ok(Self(key))
    }

    /// A new random secret in its textual form (shown to the merchant once).
    pub fn generate() -> String {
        let mut key = [0u8; SECRET_BYTES];
        rand::fill(&mut key);
        format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64 signature>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(self.mac(msg_id, timestamp, body).finalize().into_bytes())
        )
    }
}

/// The `webhook-signature` header value: one signature per active secret.
pub fn signature_header(secrets: &[SigningSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies as a receiver would: timestamp within tolerance, any `v1` signature matching
/// (compared in constant time).
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::StaleTimestamp);
    }
    for candidate in header.split(' ') {
        let Some(("v1", sig)) = candidate.split_once(',') else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(sig) else { continue };
        if secret.mac(msg_id, timestamp, body).verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        sign_vectors: Vec<Vector>,
        verify_vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        secret: String,
        msg_id: String,
        timestamp: i64,
        payload: String,
        expected_signature: Option<String>,
        signature_header: Option<String>,
        expect_valid: bool,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../tests/fixtures/standard_webhooks_test_vectors.json")).unwrap()
    }

    #[test]
    fn signs_exactly_like_the_reference_libraries() {
        let v = vectors();
        assert!(!v.sign_vectors.is_empty());
        for case in v.sign_vectors {
            let secret = SigningSecret::parse(&case.secret).unwrap();
            let sig = secret.sign(&case.msg_id, case.timestamp, case.payload.as_bytes());
            assert_eq!(Some(sig), case.expected_signature, "{}", case.name);
        }
    }

    #[test]
    fn verifies_exactly_like_the_reference_libraries() {
        let v = vectors();
        assert!(!v.verify_vectors.is_empty());
        for case in v.verify_vectors {
            let secret = SigningSecret::parse(&case.secret).unwrap();
            let header = case.signature_header.unwrap();
            let ok = verify(
                &secret,
                &case.msg_id,
                case.timestamp,
                case.payload.as_bytes(),
                &header,
                case.timestamp,
            )
            .is_ok();
            assert_eq!(ok, case.expect_valid, "{}", case.name);
        }
    }

    #[test]
    fn rotation_sends_both_signatures_and_either_secret_verifies() {
        let old = SigningSecret::parse(&SigningSecret::generate()).unwrap();
        let new = SigningSecret::parse(&SigningSecret::generate()).unwrap();
        let header = signature_header(&[new.clone(), old.clone()], "evt_1", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        for s in [&old, &new] {
            assert!(verify(s, "evt_1", 1_700_000_000, b"{}", &header, 1_700_000_000).is_ok());
        }
    }

    #[test]
    fn stale_timestamps_and_bad_secrets_are_refused() {
        let s = SigningSecret::parse(&SigningSecret::generate()).unwrap();
        let sig = s.sign("m", 1000, b"x");
        assert_eq!(
            verify(&s, "m", 1000, b"x", &sig, 1000 + TOLERANCE_SECS + 1),
            Err(SignatureError::StaleTimestamp)
        );
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }
}
