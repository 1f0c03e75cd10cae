//! AES-128-CBC with PKCS#7 padding, as two platforms use it for data handed to the mini-program and passed on to us:
//! - WeChat's `encryptedData` (old phone-number and user-info APIs): key = b64decode(`session_key`), IV = b64decode(`iv`);
//! - Alipay's encrypted content (`my.getPhoneNumber` `response`): key = b64decode(console AES key), IV = 16 zero bytes.
//!
//! CBC carries no integrity: callers authenticate before trusting the plaintext (WeChat: check `watermark.appid`;
//! Alipay: verify the RSA2 signature over the ciphertext first) and answer every failure the same way. Encryption is
//! here for the sandbox, which must hand out payloads the real decryption path accepts.

use aes::Aes128;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

/// AES-128: both platforms use 16-byte keys (a WeChat `session_key`, an Alipay console AES key).
pub const KEY_LEN: usize = 16;
/// The CBC block, and so the IV length.
pub const BLOCK_LEN: usize = 16;

/// Alipay's content encryption uses an all-zero IV (the key is never reused across apps, and the content is signed).
const ALIPAY_IV: [u8; BLOCK_LEN] = [0; BLOCK_LEN];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CbcError {
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    #[error("the key must be {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    #[error("the IV must be {BLOCK_LEN} bytes, got {0}")]
    IvLength(usize),
    #[error("the ciphertext length {0} is not a positive multiple of {BLOCK_LEN}")]
    CiphertextLength(usize),
    /// Wrong key or IV, or a corrupted ciphertext: the padding does not check out.
    #[error("the ciphertext does not decrypt to valid padding")]
    Padding,
}

fn decode(what: &'static str, b64: &str) -> Result<Vec<u8>, CbcError> {
    STANDARD.decode(b64).map_err(|_| CbcError::Base64(what))
}

fn key_and_iv<'a>(key: &'a [u8], iv: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), CbcError> {
    if key.len() != KEY_LEN {
        return Err(CbcError::KeyLength(key.len()));
    }
    if iv.len() != BLOCK_LEN {
        return Err(CbcError::IvLength(iv.len()));
    }
    Ok((key, iv))
}

fn decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CbcError> {
    let (key, iv) = key_and_iv(key, iv)?;
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK_LEN) {
        return Err(CbcError::CiphertextLength(ciphertext.len()));
    }
    cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
        .map_err(|_| CbcError::KeyLength(key.len()))?
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| CbcError::Padding)
}

fn encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CbcError> {
    let (key, iv) = key_and_iv(key, iv)?;
    Ok(cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
        .map_err(|_| CbcError::KeyLength(key.len()))?
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext))
}

/// Decrypts WeChat's `encryptedData` with the user's `session_key` and the `iv` sent beside it (all base64).
/// Returns the JSON bytes; the caller must check `watermark.appid` is our app before using anything in it.
pub fn decrypt_wechat_encrypted_data(
    session_key_b64: &str,
    iv_b64: &str,
    encrypted_data_b64: &str,
) -> Result<Vec<u8>, CbcError> {
    let key = decode("the session_key", session_key_b64)?;
    let iv = decode("the iv", iv_b64)?;
    let ciphertext = decode("the encryptedData", encrypted_data_b64)?;
    decrypt(&key, &iv, &ciphertext)
}

/// Encrypts as WeChat does for `encryptedData` (the sandbox's side of [`decrypt_wechat_encrypted_data`]).
pub fn encrypt_wechat_encrypted_data(
    session_key_b64: &str,
    iv_b64: &str,
    plaintext: &[u8],
) -> Result<String, CbcError> {
    let key = decode("the session_key", session_key_b64)?;
    let iv = decode("the iv", iv_b64)?;
    Ok(STANDARD.encode(encrypt(&key, &iv, plaintext)?))
}

/// Decrypts Alipay content (e.g. the `response` of `my.getPhoneNumber`) with the app's console AES key (base64).
/// Verify the content's RSA2 signature before calling this.
pub fn decrypt_alipay_content(aes_key_b64: &str, content_b64: &str) -> Result<Vec<u8>, CbcError> {
    let key = decode("the AES key", aes_key_b64)?;
    let ciphertext = decode("the content", content_b64)?;
    decrypt(&key, &ALIPAY_IV, &ciphertext)
}

/// Encrypts as Alipay does (the sandbox's side of [`decrypt_alipay_content`]).
pub fn encrypt_alipay_content(aes_key_b64: &str, plaintext: &[u8]) -> Result<String, CbcError> {
    let key = decode("the AES key", aes_key_b64)?;
    Ok(STANDARD.encode(encrypt(&key, &ALIPAY_IV, plaintext)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official WeChat demo vector (WXBizDataCrypt, shipped with WeChat's mini-program documentation).
    const WX_APPID: &str = "wx4f4bc4dec97d474b";
    const WX_SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const WX_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const WX_ENCRYPTED_DATA: &str = concat!(
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4l",
        "GOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInN",
        "lxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/",
        "r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7Xjf",
        "hQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==",
    );

    // Made once with `openssl enc -aes-128-cbc -K <hex of "ebill-test-aes16"> -iv 00..00` (see tests/fixtures/README.md).
    const ALIPAY_KEY: &str = "ZWJpbGwtdGVzdC1hZXMxNg==";
    const ALIPAY_PLAINTEXT: &str = r#"{"code":"10000","msg":"Success","mobile":"13800138000"}"#;
    const ALIPAY_CIPHERTEXT: &str =
        "tbguhziHnyXFUfE3x9RaKd4U7WR4Gq8hC6fEqX/xk+d77llvIzMb/1NwH8ZhwLKj9zfewqiicBJCkqAeS1ibhw==";

    #[test]
    fn decrypts_the_official_wechat_demo_vector() {
        let plaintext = decrypt_wechat_encrypted_data(WX_SESSION_KEY, WX_IV, WX_ENCRYPTED_DATA).expect("decrypts");
        let json: serde_json::Value = serde_json::from_slice(&plaintext).expect("the plaintext is JSON");
        assert_eq!(json["watermark"]["appid"], WX_APPID);
        assert_eq!(json["watermark"]["timestamp"], 1477314187);
    }

    #[test]
    fn wechat_encryption_reproduces_the_official_vector() {
        let plaintext = decrypt_wechat_encrypted_data(WX_SESSION_KEY, WX_IV, WX_ENCRYPTED_DATA).expect("decrypts");
        assert_eq!(
            encrypt_wechat_encrypted_data(WX_SESSION_KEY, WX_IV, &plaintext).expect("encrypts"),
            WX_ENCRYPTED_DATA
        );
    }

    #[test]
    fn wechat_data_under_another_session_key_is_rejected() {
        // A wrong key almost always breaks the padding; in the rare case it does not, the watermark check catches it.
        let result = decrypt_wechat_encrypted_data("AAAAAAAAAAAAAAAAAAAAAA==", WX_IV, WX_ENCRYPTED_DATA);
        if let Ok(plaintext) = result {
            assert!(serde_json::from_slice::<serde_json::Value>(&plaintext).is_err());
        }
    }

    #[test]
    fn decrypts_the_alipay_vector() {
        let plaintext = decrypt_alipay_content(ALIPAY_KEY, ALIPAY_CIPHERTEXT).expect("decrypts");
        assert_eq!(plaintext, ALIPAY_PLAINTEXT.as_bytes());
    }

    #[test]
    fn alipay_encryption_matches_the_vector() {
        assert_eq!(
            encrypt_alipay_content(ALIPAY_KEY, ALIPAY_PLAINTEXT.as_bytes()).expect("encrypts"),
            ALIPAY_CIPHERTEXT
        );
    }

    #[test]
    fn alipay_encryption_matches_openssl_when_available() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let key_hex = hex::encode(STANDARD.decode(ALIPAY_KEY).expect("base64"));
        let child = Command::new("openssl")
            .args(["enc", "-aes-128-cbc", "-K", &key_hex, "-iv", &"0".repeat(32)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("openssl is not on PATH: the hard-coded vector stands alone");
            return;
        };
        child.stdin.take().expect("stdin").write_all(ALIPAY_PLAINTEXT.as_bytes()).expect("write");
        let output = child.wait_with_output().expect("openssl runs");
        assert!(output.status.success());
        assert_eq!(STANDARD.encode(output.stdout), ALIPAY_CIPHERTEXT);
    }

    #[test]
    fn key_of_the_wrong_length_is_rejected() {
        let key_24 = STANDARD.encode([7u8; 24]);
        assert_eq!(decrypt_alipay_content(&key_24, ALIPAY_CIPHERTEXT), Err(CbcError::KeyLength(24)));
    }

    #[test]
    fn iv_of_the_wrong_length_is_rejected() {
        assert_eq!(
            decrypt_wechat_encrypted_data(WX_SESSION_KEY, "AAAA", WX_ENCRYPTED_DATA),
            Err(CbcError::IvLength(3))
        );
    }

    #[test]
    fn truncated_ciphertext_is_rejected() {
        let truncated = STANDARD.encode([1u8; 20]);
        assert_eq!(decrypt_alipay_content(ALIPAY_KEY, &truncated), Err(CbcError::CiphertextLength(20)));
        assert_eq!(decrypt_alipay_content(ALIPAY_KEY, ""), Err(CbcError::CiphertextLength(0)));
    }

    #[test]
    fn bad_padding_is_rejected() {
        // The last block decrypted under the right key but a corrupted previous block: padding no longer checks out.
        let mut raw = STANDARD.decode(ALIPAY_CIPHERTEXT).expect("base64");
        let at = raw.len() - BLOCK_LEN - 1;
        raw[at] ^= 0x5a;
        assert_eq!(decrypt_alipay_content(ALIPAY_KEY, &STANDARD.encode(raw)), Err(CbcError::Padding));
    }

    #[test]
    fn invalid_base64_names_the_field() {
        assert_eq!(
            decrypt_wechat_encrypted_data("***", WX_IV, WX_ENCRYPTED_DATA),
            Err(CbcError::Base64("the session_key"))
        );
    }
}
