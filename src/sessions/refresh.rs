//! Starting and rotating sessions. A refresh token is 32 random bytes, handed out once and stored as its SHA-256.
//! Each use marks it used and issues the next one in the same family; a used token presented again means someone
//! else holds a copy, so the whole family is revoked and both holders must log in again.

use super::tokens::TokenKeys;
use crate::db::{ids::next_id, refresh_tokens, users, Database};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// What a login or a refresh hands the client. Its `Debug` shows neither token.
#[derive(Clone)]
pub struct IssuedSession {
    pub user_id: i64,
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

impl std::fmt::Debug for IssuedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSession").field("user_id", &self.user_id).field("expires_in", &self.expires_in).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is unknown, expired or revoked")]
    Invalid,
    #[error("the refresh token was already used; every session of its family is revoked")]
    Reused,
    #[error("the access token could not be signed")]
    Signing,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Lifetimes of the two tokens.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_secs: i64,
    pub refresh_secs: i64,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn issue(
    conn: &mut AnyConnection,
    keys: &TokenKeys,
    user_id: i64,
    scope: &str,
    family_id: i64,
    lifetimes: Lifetimes,
    now_ms: i64,
) -> Result<IssuedSession, RefreshError> {
    let refresh_token = new_refresh_token();
    let expires_at = now_ms + lifetimes.refresh_secs * 1000;
    refresh_tokens::insert(conn, &hash(&refresh_token), user_id, family_id, expires_at, now_ms).await?;
    Ok(IssuedSession {
        user_id,
        access_token: keys.issue(user_id, scope, now_ms, lifetimes.access_secs).map_err(|_| RefreshError::Signing)?,
        expires_in: lifetimes.access_secs,
        refresh_token,
    })
}

/// A new session (a new refresh family) for a user who just logged in.
pub async fn start(
    db: &Database,
    keys: &TokenKeys,
    user_id: i64,
    scope: &str,
    lifetimes: Lifetimes,
    now_ms: i64,
) -> Result<IssuedSession, RefreshError> {
    let mut tx = db.begin_write().await?;
    let session = issue(&mut tx, keys, user_id, scope, next_id(now_ms), lifetimes, now_ms).await?;
    tx.commit().await?;
    Ok(session)
}

/// Rotates a refresh token into a new pair of the same family.
pub async fn rotate(
    db: &Database,
    keys: &TokenKeys,
    refresh_token: &str,
    lifetimes: Lifetimes,
    now_ms: i64,
) -> Result<IssuedSession, RefreshError> {
    let token_hash = hash(refresh_token);
    let mut tx = db.begin_write().await?;
    let Some(stored) = refresh_tokens::find(&mut tx, &token_hash).await? else {
        return Err(RefreshError::Invalid);
    };
    if stored.revoked_at.is_some() {
        return Err(RefreshError::Invalid);
    }
    // A used token is a copy in someone else's hands, even once it has expired: revoke what its family became.
    let reused = stored.used_at.is_some();
    if !reused && stored.expires_at <= now_ms {
        return Err(RefreshError::Invalid);
    }
    if reused || !refresh_tokens::mark_used(&mut tx, &token_hash, now_ms).await? {
        refresh_tokens::revoke_family(&mut tx, stored.family_id, now_ms).await?;
        tx.commit().await?;
        tracing::warn!(user_id = stored.user_id, family_id = stored.family_id, "refresh token reused; family revoked");
        return Err(RefreshError::Reused);
    }
    let Some(platform) = users::platform(&mut tx, stored.user_id).await? else {
        return Err(RefreshError::Invalid);
    };
    let session = issue(&mut tx, keys, stored.user_id, platform.as_str(), stored.family_id, lifetimes, now_ms).await?;
    tx.commit().await?;
    Ok(session)
}
