//! Messages per second per channel, counted through the cache so that every instance shares the limit. 0 means no
//! limit. A sender over the limit waits for the next window.

use crate::cache::SharedCache;
use std::time::Duration;

/// The per-channel limits and the shared counter.
#[derive(Clone)]
pub struct RateLimiter {
    cache: SharedCache,
    wechat: u32,
    alipay: u32,
    sms: u32,
}

impl RateLimiter {
    pub fn new(cache: SharedCache, wechat: u32, alipay: u32, sms: u32) -> RateLimiter {
        RateLimiter { cache, wechat, alipay, sms }
    }

    fn limit(&self, channel: &str) -> u32 {
        match channel {
            "wechat" => self.wechat,
            "alipay" => self.alipay,
            _ => self.sms,
        }
    }

    /// Waits until `channel` may send one more message. A cache failure lets the message through (the platform's
    /// own limit still applies) rather than stopping delivery.
    pub async fn acquire(&self, channel: &str) {
        let limit = self.limit(channel);
        if limit == 0 {
            return;
        }
        let key = format!("push:rate:{channel}");
        loop {
            match self.cache.incr_window(&key, Duration::from_secs(1)).await {
                Ok(window) if window.count > i64::from(limit) => {
                    tokio::time::sleep(window.resets_in.max(Duration::from_millis(5))).await;
                }
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(%error, "rate-limit counter unavailable; sending without it");
                    return;
                }
            }
        }
    }
}
