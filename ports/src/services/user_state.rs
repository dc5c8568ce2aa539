//! Temporary user state (a bot conversation step and its data, with a TTL): read, replace,
//! merge, clear — for users that exist.

use goodrobot_domain::{UserId, ValidationError};
use serde_json::{Map, Value};
use std::{sync::Arc, time::Duration};

use super::AppError;
use crate::{Clock, StateError, StateStore, UserRepository, UserState};

/// The default time a state is kept without being written again.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest TTL accepted.
pub const MAX_STATE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The user-state use cases.
#[derive(Clone)]
pub struct UserStateService {
    users: Arc<dyn UserRepository>,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserStateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStateService").finish_non_exhaustive()
    }
}

impl From<StateError> for AppError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Unavailable(m) => AppError::Unavailable(format!("state store: {m}")),
            StateError::Invalid(m) => AppError::Invalid(ValidationError::new("state", m)),
        }
    }
}

fn ttl(secs: Option<u64>) -> Result<Duration, AppError> {
    match secs {
        None => Ok(DEFAULT_STATE_TTL),
        Some(s) if s == 0 || Duration::from_secs(s) > MAX_STATE_TTL => {
            Err(ValidationError::new("ttl_secs", format!("must be between 1 and {}", MAX_STATE_TTL.as_secs())).into())
        }
        Some(s) => Ok(Duration::from_secs(s)),
    }
}

impl UserStateService {
    pub fn new(users: Arc<dyn UserRepository>, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        Self { users, store, clock }
    }

    /// # Errors
    /// `NotFound` if the user does not exist; `Unavailable`.
    pub async fn get(&self, user: UserId) -> Result<Option<UserState>, AppError> {
        self.users.get(user).await?;
        Ok(self.store.get(user).await?)
    }

    /// Replaces the user's state, kept for `ttl_secs` (default a day).
    ///
    /// # Errors
    /// `NotFound`; `Invalid` (`step`, `data`, `ttl_secs`); `Unavailable`.
    pub async fn put(
        &self,
        user: UserId,
        step: String,
        data: Value,
        ttl_secs: Option<u64>,
    ) -> Result<UserState, AppError> {
        let ttl = ttl(ttl_secs)?;
        self.users.get(user).await?;
        let state = UserState::new(step, data, self.clock.now())?;
        self.store.put(user, &state, ttl).await?;
        Ok(state)
    }

    /// Merges keys into the state's data (a `null` removes a key); `None` if there is none.
    ///
    /// # Errors
    /// `NotFound`; `Invalid`; `Unavailable`.
    pub async fn patch(
        &self,
        user: UserId,
        data: Map<String, Value>,
        ttl_secs: Option<u64>,
    ) -> Result<Option<UserState>, AppError> {
        let ttl = ttl(ttl_secs)?;
        self.users.get(user).await?;
        Ok(self.store.patch(user, data, ttl).await?)
    }

    /// Forgets the state; returns whether there was one.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`.
    pub async fn clear(&self, user: UserId) -> Result<bool, AppError> {
        self.users.get(user).await?;
        Ok(self.store.clear(user).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RepoError, clock::MockClock, repository::MockUserRepository, state::MockStateStore};
    use serde_json::json;

    fn clock() -> Arc<MockClock> {
        let mut c = MockClock::new();
        c.expect_now().returning(chrono::Utc::now);
        Arc::new(c)
    }

    #[tokio::test]
    async fn state_of_a_missing_user_is_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|id| Err(RepoError::not_found("user", id)));
        let svc = UserStateService::new(Arc::new(users), Arc::new(MockStateStore::new()), clock());
        assert!(matches!(svc.get(UserId(9)).await, Err(AppError::NotFound { .. })));
    }

    #[tokio::test]
    async fn a_ttl_beyond_30_days_is_refused_before_any_write() {
        let svc = UserStateService::new(Arc::new(MockUserRepository::new()), Arc::new(MockStateStore::new()), clock());
        let e = svc.put(UserId(1), "s".into(), json!({}), Some(31 * 24 * 3600)).await.unwrap_err();
        assert!(matches!(e, AppError::Invalid(v) if v.field == "ttl_secs"));
    }
}
