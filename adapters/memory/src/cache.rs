//! The cache in memory: string keys with an optional expiry measured by the clock.

use async_trait::async_trait;
use goodrobot_ports::{Cache, CacheError, Clock};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{expiring::ExpiringMap, lock::lock, time::after};

/// `set_key/get_key/delete_key` over a map; an expired key reads as missing.
pub struct MemoryCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<ExpiringMap<String, String>>,
}

impl MemoryCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, entries: Mutex::new(ExpiringMap::default()) }
    }
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").finish_non_exhaustive()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn set_key(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), CacheError> {
        let now = self.clock.now();
        lock(&self.entries).insert(key.to_owned(), value.to_owned(), ttl.map(|d| after(now, d)), now);
        Ok(())
    }

    async fn get_key(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(lock(&self.entries).get(&key.to_owned(), self.clock.now()).cloned())
    }

    async fn delete_key(&self, key: &str) -> Result<bool, CacheError> {
        Ok(lock(&self.entries).remove(&key.to_owned(), self.clock.now()).is_some())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
