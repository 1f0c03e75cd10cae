//! One contract for every cache implementation: the in-process one always, Redis when `EBILL_TEST_REDIS_URL` is set.

use ebill::cache::{MemoryCache, RedisCache, SharedCache};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

async fn implementations() -> Vec<SharedCache> {
    let prefix = format!("ebill-test:{:016x}:", rand::thread_rng().gen::<u64>());
    let mut caches: Vec<SharedCache> = vec![Arc::new(MemoryCache::new(&prefix))];
    if let Ok(url) = std::env::var("EBILL_TEST_REDIS_URL") {
        caches.push(Arc::new(RedisCache::connect(&url, &prefix).await.expect("Redis answers")));
    }
    caches
}

#[tokio::test]
async fn a_value_lives_until_its_ttl_ends() {
    for cache in implementations().await {
        cache.set("token", "abc", Duration::from_millis(300)).await.unwrap();
        assert_eq!(cache.get("token").await.unwrap().as_deref(), Some("abc"), "{}", cache.kind());
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(cache.get("token").await.unwrap(), None, "{}", cache.kind());
        assert_eq!(cache.get("never-set").await.unwrap(), None);
    }
}

#[tokio::test]
async fn set_if_absent_admits_one_holder() {
    for cache in implementations().await {
        assert!(cache.set_if_absent("lock", "owner-a", Duration::from_secs(5)).await.unwrap());
        assert!(!cache.set_if_absent("lock", "owner-b", Duration::from_secs(5)).await.unwrap(), "{}", cache.kind());
        assert_eq!(cache.get("lock").await.unwrap().as_deref(), Some("owner-a"));
    }
}

#[tokio::test]
async fn only_the_holder_releases_a_lock() {
    for cache in implementations().await {
        cache.set_if_absent("lock", "owner-a", Duration::from_secs(5)).await.unwrap();
        assert!(!cache.delete_if_equals("lock", "owner-b").await.unwrap(), "{}", cache.kind());
        assert!(cache.delete_if_equals("lock", "owner-a").await.unwrap(), "{}", cache.kind());
        assert!(cache.set_if_absent("lock", "owner-b", Duration::from_secs(5)).await.unwrap());
    }
}

#[tokio::test]
async fn an_expired_lock_can_be_taken_again() {
    for cache in implementations().await {
        cache.set_if_absent("lock", "owner-a", Duration::from_millis(200)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(cache.set_if_absent("lock", "owner-b", Duration::from_secs(5)).await.unwrap(), "{}", cache.kind());
    }
}

#[tokio::test]
async fn window_counters_count_and_reset() {
    for cache in implementations().await {
        let first = cache.incr_window("attempts", Duration::from_millis(400)).await.unwrap();
        let second = cache.incr_window("attempts", Duration::from_millis(400)).await.unwrap();
        assert_eq!((first.count, second.count), (1, 2), "{}", cache.kind());
        assert!(second.resets_in <= Duration::from_millis(400) && second.resets_in > Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(550)).await;
        let after = cache.incr_window("attempts", Duration::from_millis(400)).await.unwrap();
        assert_eq!(after.count, 1, "{}", cache.kind());
    }
}

#[tokio::test]
async fn concurrent_counting_loses_no_hit() {
    for cache in implementations().await {
        let hits = (0..50).map(|_| cache.incr_window("burst", Duration::from_secs(10)));
        let counts: Vec<i64> =
            futures_util::future::join_all(hits).await.into_iter().map(|c| c.unwrap().count).collect();
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=50).collect::<Vec<i64>>(), "{}", cache.kind());
    }
}

#[tokio::test]
async fn delete_removes_a_value() {
    for cache in implementations().await {
        cache.set("k", "v", Duration::from_secs(5)).await.unwrap();
        cache.delete("k").await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), None, "{}", cache.kind());
        cache.ping().await.unwrap();
    }
}

#[tokio::test]
async fn a_hit_can_be_taken_back() {
    for cache in implementations().await {
        cache.incr_window("attempts", Duration::from_secs(60)).await.unwrap();
        cache.incr_window("attempts", Duration::from_secs(60)).await.unwrap();
        let back = cache.add_to_window("attempts", -1, Duration::from_secs(60)).await.unwrap();
        assert_eq!(back.count, 1, "{}", cache.kind());
        assert!(back.resets_in > Duration::from_secs(50), "taking back keeps the window");
    }
}
