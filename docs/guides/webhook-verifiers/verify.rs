// Crates: hmac, sha2, base64.
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TOLERANCE_SECS: i64 = 300;

/// True when a v1 signature in `webhook-signature` matches and the timestamp is fresh.
/// `body` is the raw request body: verify before parsing it.
pub fn verify(secret: &str, id: &str, timestamp: &str, signatures: &str, body: &[u8], now: i64) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else {
        return false;
    };
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now - sent_at).abs() > TOLERANCE_SECS {
        return false;
    }
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|signature| {
            let Ok(given) = STANDARD.decode(signature) else {
                return false;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&given).is_ok() // constant-time comparison
        })
}
