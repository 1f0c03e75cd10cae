//! The pure cryptography of the platforms' protocols, shared by the WeChat, WeChat Pay and Alipay clients and by the
//! sandbox that imitates them: AEAD and CBC decryption of platform payloads, RSA keys, SHA256withRSA signatures and
//! Alipay's sign strings. No I/O and no clock here, so every function can be tested against the public vectors.
//!
//! RSA private-key operations go through ring (constant time); the `rsa` crate only parses keys, verifies signatures
//! and generates sandbox keys, because its private-key path is under RUSTSEC-2023-0071 (see DESIGN.md).

pub mod aes_cbc;
pub mod aes_gcm;
pub mod alipay_sign;
#[cfg(test)]
pub(crate) mod openssl_cli;
pub mod rsa_keys;
pub mod rsa_sign;
