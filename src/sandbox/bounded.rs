//! A map that forgets its oldest entries beyond a bound: the simulated platforms' orders and refunds, and the
//! idempotency keys the simulated marketing system and SMS gateway remember.

use std::collections::{HashMap, VecDeque};

/// Entries remembered by default; beyond that the oldest are forgotten.
pub const MAX_ENTRIES: usize = 10_000;

/// A map that forgets its oldest entries beyond [`MAX_ENTRIES`].
pub struct Bounded<V> {
    entries: HashMap<String, V>,
    arrival: VecDeque<String>,
    capacity: usize,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded::with_capacity(MAX_ENTRIES)
    }
}

impl<V> Bounded<V> {
    pub fn with_capacity(capacity: usize) -> Bounded<V> {
        Bounded { entries: HashMap::new(), arrival: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Adds a new entry (the key must not be present), forgetting the oldest when full.
    pub fn insert_new(&mut self, key: String, value: V) {
        while self.entries.len() >= self.capacity {
            match self.arrival.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        if self.entries.insert(key.clone(), value).is_none() {
            self.arrival.push_back(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values()
    }

    /// The values, oldest first.
    pub fn values_in_arrival_order(&self) -> impl Iterator<Item = &V> {
        self.arrival.iter().filter_map(|key| self.entries.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maps_forget_their_oldest_entries_first() {
        let mut map = Bounded::with_capacity(3);
        for key in ["a", "b", "c", "d"] {
            map.insert_new(key.to_owned(), key.len());
        }
        assert!(map.get("a").is_none());
        assert!(["b", "c", "d"].iter().all(|key| map.get(key).is_some()));
        assert_eq!(map.entries.len(), map.arrival.len());
    }

    #[test]
    fn values_come_back_oldest_first() {
        let mut map = Bounded::with_capacity(3);
        for (n, key) in ["d", "a", "c", "b"].iter().enumerate() {
            map.insert_new((*key).to_owned(), n);
        }
        assert_eq!(map.values_in_arrival_order().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(map.len(), 3);
    }
}
