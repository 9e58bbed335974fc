//! The two public handles of an invoice, both HMAC-SHA256 of its id under the gateway's invoice
//! secret (`CORRIDOR_INVOICE_SECRET`) with different labels:
//! - the payment reference, the `bytes32` a buyer passes to InvoicePayments and the watcher
//!   matches on. Anyone can read it on chain, so it must not lead back to the pay page;
//! - the pay-page token, the unguessable path of the public page.
//!
//! Deterministic, so the same invoice always gets the same reference (an operator can recompute
//! it); unguessable without the secret, so nobody can pay, or look at, an invoice by counting.

use corridor_domain::ids::InvoiceId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn tag(secret: &[u8], label: &[u8], id: InvoiceId) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label);
    mac.update(id.as_uuid().as_bytes());
    mac.finalize().into_bytes().into()
}

/// `0x` + 64 lowercase hex digits.
pub fn payment_ref(secret: &[u8], id: InvoiceId) -> String {
    format!(
        "0x{}",
        hex::encode(tag(secret, b"corridor/invoice/payment-ref/v1\0", id))
    )
}

/// 32 lowercase hex digits (128 bits).
pub fn page_token(secret: &[u8], id: InvoiceId) -> String {
    hex::encode(&tag(secret, b"corridor/invoice/pay-page/v1\0", id)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn handles_are_deterministic_distinct_and_keyed() {
        let id = InvoiceId::from_uuid(Uuid::from_u128(42));
        let other = InvoiceId::from_uuid(Uuid::from_u128(43));
        let r = payment_ref(b"secret-a", id);
        assert_eq!(r, payment_ref(b"secret-a", id));
        assert_eq!(r.len(), 66);
        assert!(r.starts_with("0x"));
        assert_ne!(r, payment_ref(b"secret-a", other));
        assert_ne!(r, payment_ref(b"secret-b", id));
        let t = page_token(b"secret-a", id);
        assert_eq!(t.len(), 32);
        assert!(
            !r.contains(&t),
            "the page token must not be readable from the on-chain reference"
        );
    }
}
