//! Test-only: the `openssl` command line as the independent implementation our signatures are checked against
//! (issue 5: "paySign verified with the merchant public key by an independent implementation"). When `openssl` is
//! not on `PATH` the helpers answer `None` and the tests fall back on the signatures hard-coded from one earlier run.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// `openssl dgst -sha256 -sign tests/fixtures/test_rsa_pkcs8.pem` over `message`: the raw signature.
pub fn sign_with_fixture_key(message: &[u8]) -> Option<Vec<u8>> {
    let key = fixture("test_rsa_pkcs8.pem");
    let output = run(&["dgst", "-sha256", "-sign", key.to_str()?], message)?;
    assert!(output.status.success(), "openssl dgst -sign failed: {output:?}");
    Some(output.stdout)
}

/// `openssl dgst -sha256 -verify tests/fixtures/test_rsa_public.pem -signature <file>` over `message`: whether
/// OpenSSL accepts `signature` as the merchant public key's signature of it.
pub fn verify_with_fixture_public_key(message: &[u8], signature: &[u8]) -> Option<bool> {
    let public = fixture("test_rsa_public.pem");
    let dir = tempfile::tempdir().expect("temporary directory");
    let signature_path = dir.path().join("signature.bin");
    std::fs::write(&signature_path, signature).expect("write the signature");
    let output =
        run(&["dgst", "-sha256", "-verify", public.to_str()?, "-signature", signature_path.to_str()?], message)?;
    Some(output.status.success() && output.stdout.starts_with(b"Verified OK"))
}

fn run(args: &[&str], stdin: &[u8]) -> Option<std::process::Output> {
    let Ok(mut child) =
        Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()
    else {
        eprintln!("openssl is not on PATH: the hard-coded signatures stand alone");
        return None;
    };
    child.stdin.take().expect("stdin").write_all(stdin).expect("write to openssl");
    Some(child.wait_with_output().expect("openssl runs"))
}
