//! Application-generated 64-bit ids, ordered by time: 41 bits of milliseconds since 2024-01-01, 12 bits of sequence
//! within the millisecond, 10 bits of a per-process node number. Portable (no SERIAL) and sortable.

use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const EPOCH_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const SEQUENCE_BITS: u32 = 12;
const NODE_BITS: u32 = 10;

/// (milliseconds since the epoch << SEQUENCE_BITS) | sequence, of the last id handed out.
static LAST: AtomicU64 = AtomicU64::new(0);
static NODE: OnceLock<u64> = OnceLock::new();

fn node() -> u64 {
    *NODE.get_or_init(|| rand::thread_rng().gen_range(0..(1u64 << NODE_BITS)))
}

/// A new id, strictly greater than every id this process handed out before. `now_ms` is UTC epoch milliseconds.
pub fn next_id(now_ms: i64) -> i64 {
    let floor = ((now_ms - EPOCH_MS).max(0) as u64) << SEQUENCE_BITS;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = floor.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return ((next << NODE_BITS) | node()) as i64 & i64::MAX,
            Err(actual) => last = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_even_within_one_millisecond() {
        let now = 1_780_000_000_000;
        let ids: Vec<i64> = (0..10_000).map(|_| next_id(now)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| *id > 0));
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = next_id(1_780_000_000_000);
        let b = next_id(1_790_000_000_000);
        assert!(b > a);
    }
}
