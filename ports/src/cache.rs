//! Cache: string keys with optional TTL, and typed JSON on top (the old `core.redis` API).

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    #[error("cached value is not valid JSON for this type: {0}")]
    Serialization(String),
}

/// `set_key/get_key/delete_key`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Cache: Send + Sync {
    /// Stores `value` under `key`, expiring after `ttl` if given.
    ///
    /// # Errors
    /// `Unavailable` when the cache cannot be reached.
    async fn set_key(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), CacheError>;
    /// # Errors
    /// `Unavailable` when the cache cannot be reached.
    async fn get_key(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Returns whether the key existed.
    ///
    /// # Errors
    /// `Unavailable` when the cache cannot be reached.
    async fn delete_key(&self, key: &str) -> Result<bool, CacheError>;
    /// # Errors
    /// `Unavailable` when the cache cannot be reached.
    async fn ping(&self) -> Result<(), CacheError>;
}

/// `set_cache/get_cache/invalidate_cache`: typed JSON values over any [`Cache`].
#[async_trait]
pub trait CacheExt {
    /// # Errors
    /// As [`Cache::set_key`]; `Serialization` if `value` does not serialize.
    async fn set_cache<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError>;
    /// `Ok(None)` for a missing key.
    ///
    /// # Errors
    /// As [`Cache::get_key`]; `Serialization` if the stored value is not a `T`.
    async fn get_cache<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError>;
    /// # Errors
    /// As [`Cache::delete_key`].
    async fn invalidate_cache(&self, key: &str) -> Result<bool, CacheError>;
}

#[async_trait]
impl<C: Cache + ?Sized> CacheExt for C {
    async fn set_cache<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let s = serde_json::to_string(value).map_err(|e| CacheError::Serialization(e.to_string()))?;
        self.set_key(key, &s, ttl).await
    }

    async fn get_cache<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.get_key(key).await? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| CacheError::Serialization(e.to_string())),
        }
    }

    async fn invalidate_cache(&self, key: &str) -> Result<bool, CacheError> {
        self.delete_key(key).await
    }
}
