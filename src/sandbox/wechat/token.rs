//! The simulated `stable_token`: in normal mode the same token until 5 minutes before it expires; `force_refresh`
//! issues a new one while the previous one stays valid 5 more minutes. Tokens live 2 hours.

use super::{error_reply, json_reply, secret_matches};
use crate::error::ApiError;
use crate::sandbox::platforms::{lock, random_alphanumeric, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

const LIFETIME_MS: i64 = 7_200 * 1000;
/// The overlap: a token is replaced this long before it expires, and a forced refresh leaves it this long.
const OVERLAP_MS: i64 = 300 * 1000;
/// Expired tokens are remembered (to answer `42001` rather than `40001`) for a day, and at most this many in all.
const MAX_TOKENS: usize = 256;
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;
const TOKEN_LEN: usize = 128;

/// What a presented access token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid,
    Expired,
    Unknown,
}

/// The `access_token` of a call to the simulated WeChat, when it is one the sandbox issued and it has not expired;
/// otherwise WeChat's own refusal (`41001` missing, `42001` expired, `40001` unknown) as its `errcode` and `errmsg`
/// (answer it with `error_reply`).
pub fn valid_access_token<'q>(
    sandbox: &SandboxPlatforms,
    query: &'q HashMap<String, String>,
    now_ms: i64,
) -> Result<&'q str, (i64, &'static str)> {
    let Some(token) = query.get("access_token").filter(|t| !t.is_empty()) else {
        return Err((41001, "access_token missing"));
    };
    match lock(&sandbox.wechat.tokens).check(token, now_ms) {
        TokenState::Valid => Ok(token),
        TokenState::Expired => Err((42001, "access_token expired")),
        TokenState::Unknown => Err((40001, "invalid credential, access_token is invalid or not latest")),
    }
}

/// The access tokens handed out, with their expiry.
#[derive(Default)]
pub struct TokenBook {
    current: Option<String>,
    issued: Vec<(String, i64)>,
    calls: u64,
}

impl TokenBook {
    /// Answers a `stable_token` call: the token and its remaining lifetime in seconds.
    pub fn stable(&mut self, force_refresh: bool, now_ms: i64) -> (String, i64) {
        self.calls += 1;
        let current = self.current.as_ref().and_then(|t| self.issued.iter().find(|(token, _)| token == t)).cloned();
        if let Some((token, expires_at)) = current {
            if !force_refresh && expires_at - now_ms > OVERLAP_MS {
                return (token, (expires_at - now_ms) / 1000);
            }
            if force_refresh {
                if let Some(entry) = self.issued.iter_mut().find(|(t, _)| *t == token) {
                    entry.1 = entry.1.min(now_ms + OVERLAP_MS);
                }
            }
        }
        let token = random_alphanumeric(TOKEN_LEN);
        self.issued.retain(|(_, expires_at)| expires_at + FORGET_AFTER_MS > now_ms);
        if self.issued.len() >= MAX_TOKENS {
            self.issued.sort_by_key(|(_, expires_at)| std::cmp::Reverse(*expires_at));
            self.issued.truncate(MAX_TOKENS - 1);
        }
        self.issued.push((token.clone(), now_ms + LIFETIME_MS));
        self.current = Some(token.clone());
        (token, LIFETIME_MS / 1000)
    }

    /// Whether `presented` is a token we issued and still honour. Every token is compared in constant time.
    pub fn check(&self, presented: &str, now_ms: i64) -> TokenState {
        let found = self.issued.iter().fold(None, |found, (token, expires_at)| {
            if secret_matches(presented, token.as_bytes()) {
                Some(*expires_at)
            } else {
                found
            }
        });
        match found {
            Some(expires_at) if expires_at > now_ms => TokenState::Valid,
            Some(_) => TokenState::Expired,
            None => TokenState::Unknown,
        }
    }

    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Forgets `token`, as after WeChat invalidated it: it is refused with `40001` from now on, and the next
    /// `stable_token` call issues a new one.
    pub fn revoke(&mut self, token: &str) {
        self.issued.retain(|(issued, _)| !secret_matches(token, issued.as_bytes()));
        if self.current.as_deref().is_some_and(|current| secret_matches(token, current.as_bytes())) {
            self.current = None;
        }
    }
}

#[derive(Deserialize)]
pub(super) struct StableTokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    appid: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

/// `POST /sandbox/wechat/cgi-bin/stable_token`.
pub(super) async fn stable_token(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let Ok(request) = serde_json::from_slice::<StableTokenRequest>(&body) else {
        return Ok(error_reply(47001, "data format error"));
    };
    if request.grant_type != "client_credential" {
        return Ok(error_reply(40002, "invalid grant_type"));
    }
    if request.appid != sandbox.keys.wechat_appid {
        return Ok(error_reply(40013, "invalid appid"));
    }
    if !secret_matches(&request.secret, sandbox.keys.wechat_secret.expose()) {
        return Ok(error_reply(40125, "invalid appsecret"));
    }
    let (token, expires_in) = lock(&sandbox.wechat.tokens).stable(request.force_refresh, state.now_ms());
    Ok(json_reply(&json!({ "access_token": token, "expires_in": expires_in })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_mode_returns_the_same_token_with_its_remaining_life() {
        let mut book = TokenBook::default();
        let (first, life) = book.stable(false, 0);
        assert_eq!(life, 7200);
        assert!(first.len() >= 64);
        assert_eq!(book.stable(false, 1_000_000), (first, 7200 - 1000));
    }

    #[test]
    fn a_new_token_comes_five_minutes_before_expiry_and_the_old_one_lives_on() {
        let mut book = TokenBook::default();
        let (first, _) = book.stable(false, 0);
        let at = LIFETIME_MS - OVERLAP_MS;
        let (second, life) = book.stable(false, at);
        assert_ne!(first, second);
        assert_eq!(life, 7200);
        assert_eq!(book.check(&first, at + 1), TokenState::Valid);
        assert_eq!(book.check(&first, LIFETIME_MS), TokenState::Expired);
    }

    #[test]
    fn force_refresh_issues_a_new_token_and_leaves_the_old_one_five_minutes() {
        let mut book = TokenBook::default();
        let (first, _) = book.stable(false, 0);
        let (second, _) = book.stable(true, 1_000);
        assert_ne!(first, second);
        assert_eq!(book.check(&first, 1_000 + OVERLAP_MS - 1), TokenState::Valid);
        assert_eq!(book.check(&first, 1_000 + OVERLAP_MS), TokenState::Expired);
        assert_eq!(book.check(&second, 1_000 + OVERLAP_MS), TokenState::Valid);
        assert_eq!(book.check("not-a-token", 0), TokenState::Unknown);
    }

    #[test]
    fn a_revoked_token_is_unknown_and_replaced() {
        let mut book = TokenBook::default();
        let (first, _) = book.stable(false, 0);
        book.revoke(&first);
        assert_eq!(book.check(&first, 1), TokenState::Unknown);
        let (second, _) = book.stable(false, 2);
        assert_ne!(first, second);
        assert_eq!(book.check(&second, 3), TokenState::Valid);
    }

    #[test]
    fn the_book_stays_bounded() {
        let mut book = TokenBook::default();
        for i in 0..(MAX_TOKENS as i64 + 10) {
            book.stable(true, i);
        }
        assert!(book.issued.len() <= MAX_TOKENS);
    }
}
