//! The in-process cache: one instance only (nothing is shared between processes).

use super::{Cache, CacheError, WindowCount};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Entry {
    value: String,
    expires_at: Instant,
}

pub struct MemoryCache {
    prefix: String,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Expired entries are swept when the map grows past this many since the last sweep.
const SWEEP_EVERY: usize = 4096;

impl MemoryCache {
    pub fn new(prefix: &str) -> MemoryCache {
        MemoryCache { prefix: prefix.to_string(), entries: Mutex::new(HashMap::new()) }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if entries.len() >= SWEEP_EVERY && entries.len().is_multiple_of(SWEEP_EVERY) {
            entries.retain(|_, e| e.expires_at > now);
        }
        f(&mut entries, now)
    }
}

fn live<'a>(entries: &'a HashMap<String, Entry>, key: &str, now: Instant) -> Option<&'a Entry> {
    entries.get(key).filter(|e| e.expires_at > now)
}

#[async_trait]
impl Cache for MemoryCache {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let key = self.key(key);
        Ok(self.with_entries(|entries, now| live(entries, &key, now).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let key = self.key(key);
        self.with_entries(|entries, now| {
            entries.insert(key, Entry { value: value.to_string(), expires_at: now + ttl });
        });
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, CacheError> {
        let key = self.key(key);
        Ok(self.with_entries(|entries, now| {
            if live(entries, &key, now).is_some() {
                return false;
            }
            entries.insert(key, Entry { value: value.to_string(), expires_at: now + ttl });
            true
        }))
    }

    async fn delete_if_equals(&self, key: &str, value: &str) -> Result<bool, CacheError> {
        let key = self.key(key);
        Ok(self.with_entries(|entries, now| {
            if live(entries, &key, now).is_some_and(|e| e.value == value) {
                entries.remove(&key);
                true
            } else {
                false
            }
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let key = self.key(key);
        self.with_entries(|entries, _| entries.remove(&key));
        Ok(())
    }

    async fn add_to_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, CacheError> {
        let key = self.key(key);
        Ok(self.with_entries(|entries, now| {
            let (count, expires_at) = match live(entries, &key, now) {
                Some(entry) => (entry.value.parse::<i64>().unwrap_or(0) + delta, entry.expires_at),
                None => (delta, now + window),
            };
            entries.insert(key, Entry { value: count.to_string(), expires_at });
            WindowCount { count, resets_in: expires_at.saturating_duration_since(now) }
        }))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
