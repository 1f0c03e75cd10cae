//! What every request handler and job shares: storage, cache, clock, settings and the loaded secrets.

use crate::cache::SharedCache;
use crate::clock::SharedClock;
use crate::config::{Mode, Secret, Settings};
use crate::db::Database;
use crate::metrics::Metrics;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub cache: SharedCache,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub mode: Mode,
    pub metrics: Arc<Metrics>,
    /// The marketing system's HMAC secret; the feed refuses every request while none is configured.
    pub feed_secret: Option<Secret>,
}

impl AppState {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
