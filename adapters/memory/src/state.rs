//! Temporary user state in memory: one entry per user, expiring by the clock.

use async_trait::async_trait;
use goodrobot_domain::UserId;
use goodrobot_ports::{Clock, StateError, StateStore, UserState};
use serde_json::{Map, Value};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{expiring::ExpiringMap, lock::lock, time::after};

/// [`StateStore`] over a map; every operation, `patch` included, runs under one lock.
pub struct MemoryStateStore {
    clock: Arc<dyn Clock>,
    states: Mutex<ExpiringMap<UserId, UserState>>,
}

impl MemoryStateStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, states: Mutex::new(ExpiringMap::default()) }
    }
}

impl std::fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStateStore").finish_non_exhaustive()
    }
}

fn check_ttl(ttl: Duration) -> Result<(), StateError> {
    if ttl.is_zero() { Err(StateError::Invalid("ttl must be positive".to_owned())) } else { Ok(()) }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, user_id: UserId) -> Result<Option<UserState>, StateError> {
        Ok(lock(&self.states).get(&user_id, self.clock.now()).cloned())
    }

    async fn put(&self, user_id: UserId, state: &UserState, ttl: Duration) -> Result<(), StateError> {
        check_ttl(ttl)?;
        let now = self.clock.now();
        lock(&self.states).insert(user_id, state.clone(), Some(after(now, ttl)), now);
        Ok(())
    }

    async fn patch(
        &self,
        user_id: UserId,
        data: Map<String, Value>,
        ttl: Duration,
    ) -> Result<Option<UserState>, StateError> {
        check_ttl(ttl)?;
        let now = self.clock.now();
        let mut states = lock(&self.states);
        let Some(entry) = states.get_mut(&user_id, now) else { return Ok(None) };
        entry.value.merge(data, now);
        entry.expires_at = Some(after(now, ttl));
        Ok(Some(entry.value.clone()))
    }

    async fn clear(&self, user_id: UserId) -> Result<bool, StateError> {
        Ok(lock(&self.states).remove(&user_id, self.clock.now()).is_some())
    }
}
