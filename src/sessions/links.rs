//! Signed e-bill links: `/e-bill/{bill_id}?exp={unix seconds}&sig={hex}` opens one bill's page without a login until
//! it expires, and reveals nothing else. The signature is HMAC-SHA256 over the bill id and the expiry with a key
//! derived from the first customer-token key, so rotating that key also retires old links.

use crate::config::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one we made")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

#[derive(Clone)]
pub struct BillLinks {
    key: [u8; 32],
}

impl BillLinks {
    /// Derives the link key from `root` (a customer-token key) so the two never share a key directly.
    pub fn derive(root: &Secret) -> BillLinks {
        let mut mac = HmacSha256::new_from_slice(root.expose()).expect("HMAC takes keys of any length");
        mac.update(b"ebill e-bill links v1");
        BillLinks { key: mac.finalize().into_bytes().into() }
    }

    fn mac(&self, bill_id: i64, expires_at: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("e-bill\n{bill_id}\n{expires_at}").as_bytes());
        mac
    }

    /// The path and query of the link to bill `bill_id`, valid until `expires_at` (Unix seconds).
    pub fn path(&self, bill_id: i64, expires_at: i64) -> String {
        let sig = hex::encode(self.mac(bill_id, expires_at).finalize().into_bytes());
        format!("/e-bill/{bill_id}?exp={expires_at}&sig={sig}")
    }

    /// Checks a link's signature (in constant time) and then its expiry against `now_ms`.
    pub fn verify(&self, bill_id: i64, expires_at: i64, sig: &str, now_ms: i64) -> Result<(), LinkError> {
        let bytes = hex::decode(sig).map_err(|_| LinkError::Invalid)?;
        self.mac(bill_id, expires_at).verify_slice(&bytes).map_err(|_| LinkError::Invalid)?;
        if expires_at <= now_ms.div_euclid(1000) {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_780_000_000_000;

    fn links() -> BillLinks {
        BillLinks::derive(&Secret::new(vec![5u8; 32]))
    }

    fn sig_of(path: &str) -> String {
        path.split("sig=").nth(1).unwrap().to_string()
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let expires = NOW_MS / 1000 + 3600;
        let sig = sig_of(&links().path(42, expires));
        assert_eq!(links().verify(42, expires, &sig, NOW_MS), Ok(()));
        assert_eq!(links().verify(42, expires, &sig, (expires) * 1000), Err(LinkError::Expired));
    }

    #[test]
    fn another_bill_expiry_or_key_fails() {
        let expires = NOW_MS / 1000 + 3600;
        let sig = sig_of(&links().path(42, expires));
        assert_eq!(links().verify(43, expires, &sig, NOW_MS), Err(LinkError::Invalid));
        assert_eq!(links().verify(42, expires + 1, &sig, NOW_MS), Err(LinkError::Invalid));
        let other = BillLinks::derive(&Secret::new(vec![6u8; 32]));
        assert_eq!(other.verify(42, expires, &sig, NOW_MS), Err(LinkError::Invalid));
        assert_eq!(links().verify(42, expires, "zz", NOW_MS), Err(LinkError::Invalid));
    }
}
