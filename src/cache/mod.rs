//! Cache and coordination: access tokens, rate-limit counters and single-flight locks, shared by every instance
//! through Redis when `REDIS_URL` is set, or kept in process otherwise. Never the source of truth: losing it loses
//! no data.

mod memory;
mod redis_cache;

pub use memory::MemoryCache;
pub use redis_cache::RedisCache;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// A counter in a fixed time window, as `incr_window` leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, this one included.
    pub count: i64,
    /// Time until the window ends and the count starts again.
    pub resets_in: Duration,
}

#[async_trait]
pub trait Cache: Send + Sync {
    /// Which implementation this is, for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;

    /// Stores `value` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;

    /// Stores `value` for `ttl` only if `key` holds nothing; true when stored. The building block of locks.
    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, CacheError>;

    /// Deletes `key` only while it still holds `value`; true when deleted. Releases a lock its owner still holds.
    async fn delete_if_equals(&self, key: &str, value: &str) -> Result<bool, CacheError>;

    async fn delete(&self, key: &str) -> Result<(), CacheError>;

    /// Adds `delta` to a counter in the fixed window `window` that the counter's first change opens; a negative
    /// delta takes hits back. Atomic: concurrent callers each see a distinct count.
    async fn add_to_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, CacheError>;

    /// Counts one hit in the fixed window `window`.
    async fn incr_window(&self, key: &str, window: Duration) -> Result<WindowCount, CacheError> {
        self.add_to_window(key, 1, window).await
    }

    /// Answers when the cache does.
    async fn ping(&self) -> Result<(), CacheError>;
}

pub type SharedCache = Arc<dyn Cache>;

/// Connects to Redis when a URL is given, else keeps an in-process cache. Every key is prefixed with `prefix`.
pub async fn connect(redis_url: Option<&str>, prefix: &str) -> Result<SharedCache, CacheError> {
    match redis_url {
        Some(url) => Ok(Arc::new(RedisCache::connect(url, prefix).await?)),
        None => Ok(Arc::new(MemoryCache::new(prefix))),
    }
}
