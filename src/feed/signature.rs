//! The feed's request signature: HMAC-SHA256 with the secret shared with the marketing system, over
//! `"{timestamp}\n{body}"`, sent hex-encoded in `X-Ebill-Signature` beside `X-Ebill-Timestamp` (Unix seconds).
//! The same scheme signs our outbound write-back events.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "X-Ebill-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Ebill-Signature";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request carries no signature or timestamp")]
    Missing,
    #[error("the timestamp is not whole Unix seconds")]
    MalformedTimestamp,
    #[error("the timestamp is more than {0} seconds from our clock")]
    Stale(i64),
    #[error("the signature does not match")]
    Mismatch,
}

/// A refused signature as every receiver of `X-Ebill-*` signed requests answers it: 401 with a stable code.
impl From<SignatureError> for crate::error::ApiError {
    fn from(error: SignatureError) -> crate::error::ApiError {
        let code = match error {
            SignatureError::Missing => "MISSING_SIGNATURE",
            SignatureError::MalformedTimestamp | SignatureError::Stale(_) => "STALE_TIMESTAMP",
            SignatureError::Mismatch => "BAD_SIGNATURE",
        };
        crate::error::ApiError::unauthorized(code, error.to_string())
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac
}

/// The hex signature of `body` sent at `timestamp` (Unix seconds, as a decimal string).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// Checks the timestamp window and the signature (in constant time). Returns the signature, lower-cased, to be
/// recorded against replays.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_ms: i64,
    max_skew_secs: i64,
) -> Result<String, SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    if timestamp.is_empty() || timestamp.len() > 12 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedTimestamp);
    }
    let sent: i64 = timestamp.parse().map_err(|_| SignatureError::MalformedTimestamp)?;
    if (now_ms.div_euclid(1000) - sent).abs() > max_skew_secs {
        return Err(SignatureError::Stale(max_skew_secs));
    }
    let signature = signature.trim().to_ascii_lowercase();
    let bytes = hex::decode(&signature).map_err(|_| SignatureError::Mismatch)?;
    mac(secret, timestamp, body).verify_slice(&bytes).map_err(|_| SignatureError::Mismatch)?;
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_780_000_000_000;

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // The primitive, on RFC 4231 test case 2.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Framing: the signed message is exactly timestamp, newline, body.
        let mut framed = HmacSha256::new_from_slice(b"k").unwrap();
        framed.update(b"1780000000\n{}");
        assert_eq!(sign(b"k", "1780000000", b"{}"), hex::encode(framed.finalize().into_bytes()));
    }

    #[test]
    fn a_fresh_correct_signature_verifies() {
        let signature = sign(b"secret", "1780000000", b"{\"items\":[]}");
        let checked =
            verify(b"secret", Some("1780000000"), Some(&signature.to_uppercase()), b"{\"items\":[]}", NOW_MS, 300);
        assert_eq!(checked, Ok(signature));
    }

    #[test]
    fn a_changed_body_or_key_fails() {
        let signature = sign(b"secret", "1780000000", b"{\"items\":[]}");
        assert_eq!(
            verify(b"secret", Some("1780000000"), Some(&signature), b"{\"items\":[1]}", NOW_MS, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some("1780000000"), Some(&signature), b"{\"items\":[]}", NOW_MS, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_the_window_fail() {
        let late = "1779999699"; // 301 s before now
        let signature = sign(b"secret", late, b"x");
        assert_eq!(verify(b"secret", Some(late), Some(&signature), b"x", NOW_MS, 300), Err(SignatureError::Stale(300)));
        let edge = "1779999700"; // exactly 300 s
        let signature = sign(b"secret", edge, b"x");
        assert!(verify(b"secret", Some(edge), Some(&signature), b"x", NOW_MS, 300).is_ok());
        assert_eq!(
            verify(b"secret", Some("-5"), Some("00"), b"x", NOW_MS, 300),
            Err(SignatureError::MalformedTimestamp)
        );
    }
}
