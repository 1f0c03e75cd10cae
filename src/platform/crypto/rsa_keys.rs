//! RSA keys as operators hand them to us: the merchant's and the Alipay app's private keys, the platforms' public
//! keys and WeChat Pay platform certificates, in whichever of the usual encodings they come (PEM PKCS#8
//! `PRIVATE KEY`, PEM PKCS#1 `RSA PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, X.509 `CERTIFICATE`, or
//! the bare base64 DER that Alipay's key tool prints). Also the sandbox's key generator.
//!
//! A private key is loaded into ring, which signs in constant time; a public key into the `rsa` crate, used only to
//! verify. The `rsa` crate never holds a private key for signing (RUSTSEC-2023-0071, see DESIGN.md): it only
//! generates the sandbox's keys, which involves no secret-dependent timing an attacker can observe.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use ring::signature::RsaKeyPair;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::VerifyingKey;
use rsa::pkcs8::der::asn1::{AnyRef, UintRef};
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::fmt;
use std::sync::Arc;

/// Size of the keys the sandbox generates: what WeChat Pay and Alipay issue.
pub const GENERATED_KEY_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is neither PEM nor base64-encoded DER")]
    NotPemOrBase64,
    #[error("the PEM text is malformed (no matching END line, or a body that is not base64)")]
    MalformedPem,
    #[error("encrypted keys are not supported: export the key without a passphrase")]
    Encrypted,
    #[error("a `{found}` PEM block was given where {expected} was expected")]
    UnexpectedLabel { found: String, expected: &'static str },
    /// ring's reason, e.g. `InvalidEncoding`, `TooSmall` (ring signs with 2048- to 4096-bit keys).
    #[error("the RSA private key was rejected: {0}")]
    PrivateKey(String),
    #[error("the RSA public key could not be parsed (expected SPKI, PKCS#1 or an X.509 certificate)")]
    PublicKey,
    #[error("the X.509 certificate could not be parsed")]
    Certificate,
    #[error("RSA key generation failed: {0}")]
    Generation(String),
}

/// A private key that signs SHA256withRSA through ring. Cheap to clone; its `Debug` shows no key material.
#[derive(Clone)]
pub struct RsaSigningKey {
    pub(super) pair: Arc<RsaKeyPair>,
}

/// A public key that verifies SHA256withRSA signatures (PKCS#1 v1.5).
#[derive(Debug, Clone)]
pub struct RsaVerifyingKey {
    pub(super) key: VerifyingKey<Sha256>,
}

/// A WeChat Pay platform certificate: its serial (what `Wechatpay-Serial` names) and its public key.
#[derive(Debug, Clone)]
pub struct PlatformCertificate {
    /// The serial number in upper-case hex without leading zeros, as WeChat Pay writes it.
    pub serial_hex: String,
    pub key: RsaVerifyingKey,
}

/// A fresh key pair for the sandbox: PKCS#8 PEM private key and SPKI PEM public key, both with LF line endings.
pub struct GeneratedKeyPair {
    pub private_key_pem: Zeroizing<String>,
    pub public_key_pem: String,
}

/// One key as written: a PEM block (label and DER body) or bare base64 DER.
enum KeyText {
    Pem { label: String, der: Zeroizing<Vec<u8>> },
    Bare(Zeroizing<Vec<u8>>),
}

/// Base64 as people paste it: any line breaks or spaces, padding present or not.
fn decode_lenient_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Zeroizing<String> = Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    if compact.is_empty() {
        return None;
    }
    LENIENT.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

/// Reads the first PEM block, or the whole text as bare base64 when there is no BEGIN line. Text around the block
/// (OpenSSL's "Bag Attributes", a certificate chain's later blocks) is ignored.
fn read_key_text(text: &str) -> Result<KeyText, KeyError> {
    const BEGIN: &str = "-----BEGIN ";
    let Some(start) = text.find(BEGIN) else {
        return decode_lenient_base64(text).map(KeyText::Bare).ok_or(KeyError::NotPemOrBase64);
    };
    let after_begin = &text[start + BEGIN.len()..];
    let (label, rest) = after_begin.split_once("-----").ok_or(KeyError::MalformedPem)?;
    let end = format!("-----END {label}-----");
    let (body, _) = rest.split_once(end.as_str()).ok_or(KeyError::MalformedPem)?;
    // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: ...`) mean an OpenSSL-encrypted traditional key.
    if label == "ENCRYPTED PRIVATE KEY" || body.contains(':') {
        return Err(KeyError::Encrypted);
    }
    let der = decode_lenient_base64(body).ok_or(KeyError::MalformedPem)?;
    Ok(KeyText::Pem { label: label.to_owned(), der })
}

fn rejected(reason: ring::error::KeyRejected) -> KeyError {
    KeyError::PrivateKey(reason.to_string())
}

impl RsaSigningKey {
    /// Loads a private key from PEM (PKCS#8 or PKCS#1) or bare base64 DER (either form; PKCS#8 is tried first,
    /// as Alipay's key tool emits it).
    pub fn from_text(text: &str) -> Result<RsaSigningKey, KeyError> {
        let pair = match read_key_text(text)? {
            KeyText::Pem { label, der } => match label.as_str() {
                "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der).map_err(rejected)?,
                "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map_err(rejected)?,
                _ => {
                    return Err(KeyError::UnexpectedLabel {
                        found: label,
                        expected: "a PRIVATE KEY or RSA PRIVATE KEY block",
                    })
                }
            },
            KeyText::Bare(der) => match RsaKeyPair::from_pkcs8(&der) {
                Ok(pair) => pair,
                Err(_) => RsaKeyPair::from_der(&der).map_err(rejected)?,
            },
        };
        Ok(RsaSigningKey { pair: Arc::new(pair) })
    }

    /// The matching public key, e.g. to check at start-up that a configured certificate belongs to this key.
    pub fn verifying_key(&self) -> Result<RsaVerifyingKey, KeyError> {
        let public = RsaPublicKey::from_pkcs1_der(self.pair.public().as_ref()).map_err(|_| KeyError::PublicKey)?;
        Ok(RsaVerifyingKey::from_public_key(public))
    }

    /// Modulus size in bits (2048 for the platforms' keys).
    pub fn modulus_bits(&self) -> usize {
        self.pair.public().modulus_len() * 8
    }
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaSigningKey({} bits, <redacted>)", self.modulus_bits())
    }
}

impl RsaVerifyingKey {
    /// Loads a public key from PEM (`PUBLIC KEY`, `RSA PUBLIC KEY` or a `CERTIFICATE`'s key) or bare base64 DER of
    /// any of those three (tried in that order).
    pub fn from_text(text: &str) -> Result<RsaVerifyingKey, KeyError> {
        let public = match read_key_text(text)? {
            KeyText::Pem { label, der } => match label.as_str() {
                "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der).map_err(|_| KeyError::PublicKey)?,
                "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).map_err(|_| KeyError::PublicKey)?,
                "CERTIFICATE" => PlatformCertificate::from_der(&der)?.key.key.as_ref().clone(),
                _ => {
                    return Err(KeyError::UnexpectedLabel {
                        found: label,
                        expected: "a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block",
                    })
                }
            },
            KeyText::Bare(der) => RsaPublicKey::from_public_key_der(&der)
                .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
                .ok()
                .or_else(|| PlatformCertificate::from_der(&der).ok().map(|cert| cert.key.key.as_ref().clone()))
                .ok_or(KeyError::PublicKey)?,
        };
        Ok(RsaVerifyingKey::from_public_key(public))
    }

    pub fn from_public_key(public: RsaPublicKey) -> RsaVerifyingKey {
        RsaVerifyingKey { key: VerifyingKey::new(public) }
    }

    pub fn public_key(&self) -> &RsaPublicKey {
        self.key.as_ref()
    }
}

impl PlatformCertificate {
    /// Loads a certificate from PEM (`CERTIFICATE`; the first of a chain) or bare base64 DER.
    pub fn from_text(text: &str) -> Result<PlatformCertificate, KeyError> {
        match read_key_text(text)? {
            KeyText::Pem { label, der } if label == "CERTIFICATE" => PlatformCertificate::from_der(&der),
            KeyText::Pem { label, .. } => {
                Err(KeyError::UnexpectedLabel { found: label, expected: "a CERTIFICATE block" })
            }
            KeyText::Bare(der) => PlatformCertificate::from_der(&der),
        }
    }

    /// Reads the serial and the subject public key out of a DER certificate. The certificate's own signature and
    /// validity are not checked here: WeChat Pay certificates come from a download authenticated by the APIv3 key,
    /// or from the operator's configuration.
    pub fn from_der(der: &[u8]) -> Result<PlatformCertificate, KeyError> {
        let (serial, spki) = certificate_serial_and_spki(der).map_err(|_| KeyError::Certificate)?;
        let public = RsaPublicKey::from_public_key_der(spki).map_err(|_| KeyError::PublicKey)?;
        Ok(PlatformCertificate { serial_hex: hex::encode_upper(serial), key: RsaVerifyingKey::from_public_key(public) })
    }
}

/// Walks `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
/// issuer, validity, subject, subjectPublicKeyInfo, ... }, ... }` (RFC 5280) without a full X.509 parser.
fn certificate_serial_and_spki(der: &[u8]) -> rsa::pkcs8::der::Result<(&[u8], &[u8])> {
    let certificate = AnyRef::from_der(der)?;
    certificate.tag().assert_eq(Tag::Sequence)?;
    let mut certificate_fields = SliceReader::new(certificate.value())?;
    let tbs = AnyRef::decode(&mut certificate_fields)?;
    tbs.tag().assert_eq(Tag::Sequence)?;
    let mut fields = SliceReader::new(tbs.value())?;
    if fields.peek_tag()? == (Tag::ContextSpecific { constructed: true, number: TagNumber::N0 }) {
        let _version = fields.tlv_bytes()?;
    }
    let serial = UintRef::decode(&mut fields)?;
    for _signature_issuer_validity_subject in 0..4 {
        let _ = fields.tlv_bytes()?;
    }
    let spki = fields.tlv_bytes()?;
    Ok((serial.as_bytes(), spki))
}

/// Generates a 2048-bit key pair for the sandbox's imitation platforms (and `ebill keygen`).
pub fn generate_key_pair() -> Result<GeneratedKeyPair, KeyError> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, GENERATED_KEY_BITS)
        .map_err(|e| KeyError::Generation(e.to_string()))?;
    let private_key_pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generation(e.to_string()))?;
    let public_key_pem =
        private.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Generation(e.to_string()))?;
    Ok(GeneratedKeyPair { private_key_pem, public_key_pem })
}

/// The committed throwaway test keys (tests/fixtures/README.md), for the tests of every crypto module.
#[cfg(test)]
pub(crate) mod test_keys {
    pub const PKCS8_PEM: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_pkcs8.pem"));
    pub const PKCS1_PEM: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_pkcs1.pem"));
    pub const PUBLIC_PEM: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_public.pem"));
    pub const CERTIFICATE_PEM: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_cert.pem"));
    /// The certificate was made with `-set_serial 0xC7A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3`.
    pub const CERTIFICATE_SERIAL: &str = "C7A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3";

    /// What Alipay's key tool prints: the PEM body on one line, no BEGIN/END lines.
    pub fn bare_base64(pem: &str) -> String {
        pem.lines().filter(|line| !line.starts_with("-----")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;

    fn fixture_public() -> RsaPublicKey {
        RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key").public_key().clone()
    }

    #[test]
    fn pkcs8_pem_private_key_loads() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("loads");
        assert_eq!(key.modulus_bits(), 2048);
        assert_eq!(key.verifying_key().expect("public half").public_key(), &fixture_public());
    }

    #[test]
    fn pkcs1_pem_private_key_loads() {
        let key = RsaSigningKey::from_text(PKCS1_PEM).expect("loads");
        assert_eq!(key.verifying_key().expect("public half").public_key(), &fixture_public());
    }

    #[test]
    fn bare_base64_private_keys_of_either_form_load() {
        for pem in [PKCS8_PEM, PKCS1_PEM] {
            let key = RsaSigningKey::from_text(&bare_base64(pem)).expect("loads");
            assert_eq!(key.verifying_key().expect("public half").public_key(), &fixture_public());
        }
    }

    #[test]
    fn crlf_line_endings_and_surrounding_text_are_tolerated() {
        let crlf = format!("Bag Attributes\r\n  localKeyID: 01\r\n{}", PKCS8_PEM.replace('\n', "\r\n"));
        assert!(RsaSigningKey::from_text(&crlf).is_ok());
    }

    #[test]
    fn a_public_key_is_not_accepted_as_a_private_key() {
        assert!(matches!(RsaSigningKey::from_text(PUBLIC_PEM), Err(KeyError::UnexpectedLabel { .. })));
        assert!(matches!(RsaSigningKey::from_text(&bare_base64(PUBLIC_PEM)), Err(KeyError::PrivateKey(_))));
    }

    #[test]
    fn encrypted_private_keys_are_refused_with_a_clear_error() {
        let pkcs8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(RsaSigningKey::from_text(pkcs8).err(), Some(KeyError::Encrypted));
        let traditional = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIB\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(RsaSigningKey::from_text(traditional).err(), Some(KeyError::Encrypted));
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        assert_eq!(RsaSigningKey::from_text("").err(), Some(KeyError::NotPemOrBase64));
        assert_eq!(RsaSigningKey::from_text("not a key!").err(), Some(KeyError::NotPemOrBase64));
        assert_eq!(RsaSigningKey::from_text("-----BEGIN PRIVATE KEY-----\nAAAA").err(), Some(KeyError::MalformedPem));
        assert!(matches!(RsaSigningKey::from_text("AAAA"), Err(KeyError::PrivateKey(_))));
        assert_eq!(RsaVerifyingKey::from_text("AAAA").err(), Some(KeyError::PublicKey));
        assert_eq!(PlatformCertificate::from_text("AAAA").err(), Some(KeyError::Certificate));
    }

    #[test]
    fn public_keys_load_from_spki_pkcs1_and_bare_base64() {
        let pkcs1_pem = fixture_public().to_pkcs1_pem(LineEnding::LF).expect("encodes");
        assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        for text in [PUBLIC_PEM.to_owned(), pkcs1_pem.clone(), bare_base64(PUBLIC_PEM), bare_base64(&pkcs1_pem)] {
            let key = RsaVerifyingKey::from_text(&text).expect("loads");
            assert_eq!(key.public_key(), &fixture_public());
        }
    }

    #[test]
    fn certificate_yields_its_serial_and_public_key() {
        let certificate = PlatformCertificate::from_text(CERTIFICATE_PEM).expect("parses");
        assert_eq!(certificate.serial_hex, CERTIFICATE_SERIAL);
        assert_eq!(certificate.key.public_key(), &fixture_public());
        let from_bare = PlatformCertificate::from_text(&bare_base64(CERTIFICATE_PEM)).expect("parses");
        assert_eq!(from_bare.serial_hex, CERTIFICATE_SERIAL);
    }

    #[test]
    fn a_certificate_is_accepted_where_a_public_key_is_expected() {
        assert_eq!(RsaVerifyingKey::from_text(CERTIFICATE_PEM).expect("loads").public_key(), &fixture_public());
        assert_eq!(
            RsaVerifyingKey::from_text(&bare_base64(CERTIFICATE_PEM)).expect("loads").public_key(),
            &fixture_public()
        );
    }

    #[test]
    fn debug_of_a_private_key_shows_no_key_material() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("loads");
        assert_eq!(format!("{key:?}"), "RsaSigningKey(2048 bits, <redacted>)");
    }

    #[test]
    fn generated_key_pair_loads_into_ring_and_rsa() {
        let generated = generate_key_pair().expect("generates");
        assert!(generated.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(generated.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let signing = RsaSigningKey::from_text(&generated.private_key_pem).expect("ring accepts it");
        let verifying = RsaVerifyingKey::from_text(&generated.public_key_pem).expect("rsa accepts it");
        assert_eq!(signing.modulus_bits(), GENERATED_KEY_BITS);
        assert_eq!(signing.verifying_key().expect("public half").public_key(), verifying.public_key());
    }
}
