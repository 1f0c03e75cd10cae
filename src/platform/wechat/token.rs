//! The access token: fetched with `POST /cgi-bin/stable_token` (never `/cgi-bin/token`, which invalidates the
//! previous token on every call) and shared by every instance through the cache. On a miss one caller takes a lock
//! and fetches while the others wait and re-read; after WeChat refuses a token (`40001`/`42001`) one caller forces a
//! refresh and the others pick the new token up.

use super::{WechatClient, WechatError};
use crate::cache::SharedCache;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// Stop using a token this long before WeChat says it expires: `stable_token` hands out the next one from then on.
const REFRESH_MARGIN_SECS: u64 = 300;
/// How often a caller waiting for another's refresh re-reads the cache.
const POLL_EVERY: Duration = Duration::from_millis(100);

#[derive(Deserialize)]
struct StableTokenReply {
    access_token: String,
    expires_in: u64,
}

impl WechatClient {
    /// `POST /cgi-bin/stable_token`: the access token and its remaining lifetime in seconds. In normal mode WeChat
    /// returns the same token until 5 minutes before it expires; `force_refresh` (limited to 20 a day, 30 s apart)
    /// issues a new one while the old one stays valid 5 more minutes.
    pub async fn stable_token(&self, force_refresh: bool) -> Result<(String, u64), WechatError> {
        let url = self.url("/cgi-bin/stable_token");
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret_text(),
            "force_refresh": force_refresh,
        });
        let reply = self.call(|| self.http.post(&url).json(&body)).await?;
        let reply: StableTokenReply = serde_json::from_value(reply)
            .map_err(|_| WechatError::MalformedResponse("stable_token lacks access_token or expires_in".into()))?;
        if reply.access_token.is_empty() {
            return Err(WechatError::MalformedResponse("stable_token gave an empty access_token".into()));
        }
        Ok((reply.access_token, reply.expires_in))
    }
}

/// The app's access token, cached and refreshed single-flight across instances.
#[derive(Clone)]
pub struct WechatTokens {
    client: WechatClient,
    cache: SharedCache,
}

impl WechatTokens {
    pub fn new(client: &WechatClient, cache: SharedCache) -> WechatTokens {
        WechatTokens { client: client.clone(), cache }
    }

    /// A token believed valid: the cached one, or a fresh one from `stable_token`.
    pub async fn access_token(&self) -> Result<String, WechatError> {
        self.obtain(None).await
    }

    /// After WeChat refused `rejected` (`40001`/`42001`): a token other than `rejected`, forcing a refresh unless
    /// another caller already replaced it.
    pub async fn invalidate_and_refresh(&self, rejected: &str) -> Result<String, WechatError> {
        self.obtain(Some(rejected)).await
    }

    /// Runs `call` with the token; when WeChat refuses the token, refreshes it once and runs `call` once more.
    pub async fn with_token<T>(&self, call: impl AsyncFn(&str) -> Result<T, WechatError>) -> Result<T, WechatError> {
        let token = self.access_token().await?;
        match call(&token).await {
            Err(WechatError::TokenRejected(code)) => {
                tracing::info!(appid = %self.client.appid, code, "WeChat refused the access token; refreshing");
                let fresh = self.invalidate_and_refresh(&token).await?;
                call(&fresh).await
            }
            other => other,
        }
    }

    fn key(&self) -> String {
        format!("wechat:access_token:{}", self.client.appid)
    }

    fn lock_key(&self) -> String {
        format!("wechat:access_token:{}:lock", self.client.appid)
    }

    /// The lock outlives the holder's fetch (a call and its retry), so a crashed holder frees it soon.
    fn lock_ttl(&self) -> Duration {
        self.client.timeout * 2 + Duration::from_secs(5)
    }

    /// The cached token, unless it is the one WeChat refused.
    async fn cached(&self, rejected: Option<&str>) -> Result<Option<String>, crate::cache::CacheError> {
        let token = self.cache.get(&self.key()).await?;
        Ok(token.filter(|t| !t.is_empty() && Some(t.as_str()) != rejected))
    }

    async fn obtain(&self, rejected: Option<&str>) -> Result<String, WechatError> {
        match self.cached(rejected).await {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            Err(error) => return self.fetch_uncached(rejected.is_some(), &error).await,
        }
        let owner = format!("{:032x}", rand::thread_rng().gen::<u128>());
        let deadline = Instant::now() + self.lock_ttl() + Duration::from_secs(1);
        loop {
            match self.cache.set_if_absent(&self.lock_key(), &owner, self.lock_ttl()).await {
                Ok(true) => {
                    let result = self.refresh_holding_lock(rejected).await;
                    if let Err(error) = self.cache.delete_if_equals(&self.lock_key(), &owner).await {
                        tracing::warn!(%error, "could not release the access-token lock; it expires by itself");
                    }
                    return result;
                }
                Ok(false) => {}
                Err(error) => return self.fetch_uncached(rejected.is_some(), &error).await,
            }
            tokio::time::sleep(POLL_EVERY).await;
            if let Ok(Some(token)) = self.cached(rejected).await {
                return Ok(token);
            }
            if Instant::now() >= deadline {
                return Err(WechatError::Unavailable("timed out waiting for the access-token refresh".into()));
            }
        }
    }

    async fn refresh_holding_lock(&self, rejected: Option<&str>) -> Result<String, WechatError> {
        // Another instance may have stored a token between our miss and our lock.
        if let Ok(Some(token)) = self.cached(rejected).await {
            return Ok(token);
        }
        let (token, expires_in) = self.client.stable_token(rejected.is_some()).await?;
        match cache_ttl(expires_in) {
            Some(ttl) => {
                if let Err(error) = self.cache.set(&self.key(), &token, ttl).await {
                    tracing::warn!(%error, "could not cache the access token");
                }
            }
            None => tracing::warn!(expires_in, "WeChat gave an access token about to expire; not caching it"),
        }
        tracing::info!(appid = %self.client.appid, expires_in, forced = rejected.is_some(), "WeChat access token fetched");
        Ok(token)
    }

    /// Without a working cache: fetch directly. Normal-mode `stable_token` hands every caller the same token, so
    /// this is safe, only slower.
    async fn fetch_uncached(&self, force: bool, error: &crate::cache::CacheError) -> Result<String, WechatError> {
        tracing::warn!(%error, "cache unavailable; fetching the access token without it");
        self.client.stable_token(force).await.map(|(token, _)| token)
    }
}

/// How long to keep a token WeChat says lives `expires_in` more seconds: until 5 minutes before it expires (half
/// its life when it is that short already); `None` when not worth caching.
fn cache_ttl(expires_in: u64) -> Option<Duration> {
    let secs = if expires_in > REFRESH_MARGIN_SECS * 2 { expires_in - REFRESH_MARGIN_SECS } else { expires_in / 2 };
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_cached_until_five_minutes_before_expiry() {
        assert_eq!(cache_ttl(7200), Some(Duration::from_secs(6900)));
        assert_eq!(cache_ttl(601), Some(Duration::from_secs(301)));
    }

    #[test]
    fn short_lived_tokens_are_cached_for_half_their_life() {
        assert_eq!(cache_ttl(400), Some(Duration::from_secs(200)));
        assert_eq!(cache_ttl(1), None);
        assert_eq!(cache_ttl(0), None);
    }
}
