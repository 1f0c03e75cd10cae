//! How long a job waits before its next attempt: exponential, capped, with jitter so that jobs that failed together
//! (a receiver that was down) do not all come back in the same instant.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the wait after the first failed attempt; it doubles with each further attempt.
    pub base: Duration,
    /// The ceiling never grows past this.
    pub max: Duration,
}

impl Default for Backoff {
    /// 5 s, 10 s, 20 s, ... up to an hour.
    fn default() -> Backoff {
        Backoff { base: Duration::from_secs(5), max: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The longest wait after attempt `attempt` (1-based) failed: `base · 2^(attempt−1)`, capped at `max`.
    pub fn ceiling(&self, attempt: i64) -> Duration {
        let doublings = attempt.saturating_sub(1).clamp(0, 32) as u32;
        self.base.saturating_mul(1u32 << doublings.min(31)).min(self.max)
    }

    /// The wait after attempt `attempt` failed: a random point between half the ceiling and the ceiling.
    pub fn delay(&self, attempt: i64) -> Duration {
        self.delay_with(attempt, &mut rand::thread_rng())
    }

    pub fn delay_with(&self, attempt: i64, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        let half = ceiling / 2;
        Duration::from_millis(half + rng.gen_range(0..=ceiling - half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let backoff = Backoff::default();
        assert_eq!(backoff.ceiling(1), Duration::from_secs(5));
        assert_eq!(backoff.ceiling(2), Duration::from_secs(10));
        assert_eq!(backoff.ceiling(4), Duration::from_secs(40));
        assert_eq!(backoff.ceiling(11), Duration::from_secs(3600));
        assert_eq!(backoff.ceiling(1_000), Duration::from_secs(3600));
        assert_eq!(backoff.ceiling(0), Duration::from_secs(5));
    }

    #[test]
    fn delays_stay_between_half_the_ceiling_and_the_ceiling() {
        let backoff = Backoff::default();
        for attempt in 1..20 {
            for _ in 0..50 {
                let delay = backoff.delay(attempt);
                assert!(delay <= backoff.ceiling(attempt));
                assert!(delay >= backoff.ceiling(attempt) / 2);
            }
        }
    }
}
