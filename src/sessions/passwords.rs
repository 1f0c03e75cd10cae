//! Staff passwords: Argon2id (RFC 9106) with a random salt per password, stored as PHC strings, and the generated
//! passwords `ebill staff add` hands out.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use std::sync::OnceLock;

/// Shortest password we accept.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest: Argon2 would take more, but nobody types more, and a huge one is a denial-of-service.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Length,
    #[error("the password could not be hashed")]
    Hashing,
}

pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(PasswordError::Length);
    }
    Ok(())
}

/// The Argon2id hash of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_strength(password)?;
    let salt_bytes: [u8; 16] = rand::thread_rng().gen();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| PasswordError::Hashing)?;
    argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches the stored hash. The parameters come from the hash, so older settings still verify.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, for a login under an unknown name: the answer time does not tell which
/// names exist.
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-password-of-anyone").unwrap_or_default());
    let _ = verify(password, dummy);
}

/// Hashings and verifications that may run at once: each takes 19 MiB and a core for a few tens of milliseconds, so
/// a flood of logins waits here instead of exhausting memory (and taking the payment notifies down with it).
const CONCURRENT_HASHES: usize = 4;
/// How long an attempt waits for its turn before it is told to come back.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_HASHES);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too many password checks under way; try again in a moment")]
pub struct Busy;

/// Runs `work` on the blocking pool when a turn is free.
async fn in_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let _turn = tokio::time::timeout(TURN_WAIT, TURNS.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
    tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
}

/// [`hash`], taking its turn.
pub async fn hash_in_turn(password: &str) -> Result<String, PasswordError> {
    check_strength(password)?;
    let password = password.to_owned();
    in_turn(move || hash(&password)).await.map_err(|_| PasswordError::Hashing)?
}

/// [`verify`], taking its turn.
pub async fn verify_in_turn(password: &str, stored: &str) -> Result<bool, Busy> {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    in_turn(move || verify(&password, &stored)).await
}

/// [`verify_nothing`], taking its turn.
pub async fn verify_nothing_in_turn(password: &str) -> Result<(), Busy> {
    let password = password.to_owned();
    in_turn(move || verify_nothing(&password)).await
}

/// A new random password: 20 characters from an alphabet without look-alikes (about 114 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterz", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(hash("correct horse battery").unwrap(), stored, "each hash has its own salt");
    }

    /// RFC 9106's reference parameters are not what we use, so check against an independently made PHC string:
    /// `echo -n 'password' | argon2 somesaltsomesalt -id -t 2 -m 10 -p 1 -e` (the Debian argon2 tool).
    #[test]
    fn a_hash_made_elsewhere_verifies() {
        let stored = "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CKGe5/bX9YnCq2rxjW5yQXKxn31v1GKzhDCrMc6r6vA";
        assert!(verify("password", stored));
        assert!(!verify("Password", stored));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert_eq!(hash("short"), Err(PasswordError::Length));
        assert_eq!(check_strength(&"x".repeat(MAX_PASSWORD_CHARS + 1)), Err(PasswordError::Length));
        assert!(!verify(&"x".repeat(10_000), "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAA"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(check_strength(&a).is_ok());
    }
}
