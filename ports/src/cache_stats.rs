//! Counts of a cache's lookups (hits, misses, failed reads), kept with atomics so a use case
//! can count on its hot path and a metrics endpoint can read them without a metrics crate here.

use std::sync::atomic::{AtomicU64, Ordering};

/// Lookups of one cache since start. Share it with `Arc` between the use case that counts
/// and whatever reports it.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
}

impl CacheStats {
    /// The value was in the cache.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// The value was not in the cache.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// The cache could not be read (the caller fell back to the source).
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}
