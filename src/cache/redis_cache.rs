//! The Redis cache, shared by every instance. A connection manager reconnects after failures.

use super::{Cache, CacheError, WindowCount};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use std::time::Duration;

pub struct RedisCache {
    prefix: String,
    connection: ConnectionManager,
    release: Script,
    count: Script,
}

fn unavailable(error: redis::RedisError) -> CacheError {
    CacheError::Unavailable(error.to_string())
}

/// Milliseconds for Redis, at least 1 (Redis refuses a zero expiry).
fn millis(duration: Duration) -> u64 {
    (duration.as_millis() as u64).max(1)
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        // Bounded waits: a Redis that hangs must not hang requests (readiness then reports it).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(2);
        let connection =
            tokio::time::timeout(Duration::from_secs(10), ConnectionManager::new_with_config(client, config))
                .await
                .map_err(|_| CacheError::Unavailable("timed out connecting to Redis".into()))?
                .map_err(unavailable)?;
        Ok(RedisCache {
            prefix: prefix.to_string(),
            connection,
            release: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
            count: Script::new(
                "local n = redis.call('INCRBY', KEYS[1], ARGV[2]) \
                 local ttl = redis.call('PTTL', KEYS[1]) \
                 if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end \
                 return {n, ttl}",
            ),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

#[async_trait]
impl Cache for RedisCache {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut conn = self.connection.clone();
        conn.get(self.key(key)).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut conn = self.connection.clone();
        conn.pset_ex(self.key(key), value, millis(ttl)).await.map_err(unavailable)
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, CacheError> {
        let mut conn = self.connection.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn delete_if_equals(&self, key: &str, value: &str) -> Result<bool, CacheError> {
        let mut conn = self.connection.clone();
        let deleted: i64 =
            self.release.key(self.key(key)).arg(value).invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(deleted == 1)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut conn = self.connection.clone();
        conn.del(self.key(key)).await.map_err(unavailable)
    }

    async fn add_to_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, CacheError> {
        let mut conn = self.connection.clone();
        let (count, ttl_ms): (i64, i64) = self
            .count
            .key(self.key(key))
            .arg(millis(window))
            .arg(delta)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(WindowCount { count, resets_in: Duration::from_millis(ttl_ms.max(0) as u64) })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }
}
