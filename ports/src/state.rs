//! Temporary user state: the step a user is at in a bot conversation and its JSON data,
//! forgotten after a TTL (the old stack's per-user Redis keys).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::UserId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// The longest step name accepted, in bytes.
pub const MAX_STEP_LEN: usize = 128;

/// Where a user is in a conversation and what it has collected so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UserStateFields")]
pub struct UserState {
    step: String,
    data: Map<String, Value>,
    updated_at: DateTime<Utc>,
}

/// The unchecked shape of a [`UserState`] (serde reads this, then validates).
#[derive(Deserialize)]
struct UserStateFields {
    step: String,
    data: Value,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UserStateFields> for UserState {
    type Error = StateError;

    fn try_from(f: UserStateFields) -> Result<Self, StateError> {
        Self::new(f.step, f.data, f.updated_at)
    }
}

impl UserState {
    /// # Errors
    /// `Invalid` if `step` is empty or longer than [`MAX_STEP_LEN`] bytes, or `data` is not a
    /// JSON object.
    pub fn new(step: impl Into<String>, data: Value, updated_at: DateTime<Utc>) -> Result<Self, StateError> {
        let step = step.into();
        if step.is_empty() || step.len() > MAX_STEP_LEN {
            return Err(StateError::Invalid(format!("step must be 1 to {MAX_STEP_LEN} bytes long")));
        }
        match data {
            Value::Object(data) => Ok(Self { step, data, updated_at }),
            _ => Err(StateError::Invalid("data must be a JSON object".to_owned())),
        }
    }

    pub fn step(&self) -> &str {
        &self.step
    }

    /// The data, always a JSON object.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Applies a patch the way [`StateStore::patch`] does: each key replaces the value under it,
    /// a `null` removes the key.
    pub fn merge(&mut self, patch: Map<String, Value>, updated_at: DateTime<Utc>) {
        for (k, v) in patch {
            if v.is_null() {
                self.data.remove(&k);
            } else {
                self.data.insert(k, v);
            }
        }
        self.updated_at = updated_at;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error("invalid user state: {0}")]
    Invalid(String),
}

/// Per-user conversation state with a TTL; each call that writes sets the TTL anew.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The user's state, or `None` if there is none or it expired.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Invalid` if what is stored is not a state.
    async fn get(&self, user_id: UserId) -> Result<Option<UserState>, StateError>;

    /// Replaces the user's state with `state`, expiring after `ttl`.
    ///
    /// # Errors
    /// `Invalid` for a zero `ttl`; `Unavailable` when the store cannot be reached.
    async fn put(&self, user_id: UserId, state: &UserState, ttl: Duration) -> Result<(), StateError>;

    /// Merges `data` into the user's state in one atomic step (each key replaces the value
    /// under it, a `null` removes the key; the step stays), stamps `updated_at` with the
    /// store's clock and sets the TTL anew. `None` if the user has no state (nothing is
    /// created).
    ///
    /// # Errors
    /// `Invalid` for a zero `ttl`; `Unavailable` when the store cannot be reached.
    async fn patch(
        &self,
        user_id: UserId,
        data: Map<String, Value>,
        ttl: Duration,
    ) -> Result<Option<UserState>, StateError>;

    /// Forgets the user's state; returns whether there was one.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn clear(&self, user_id: UserId) -> Result<bool, StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_that_is_not_an_object_is_invalid() {
        let e = UserState::new("ask_phone", json!([1, 2]), Utc::now()).unwrap_err();
        assert!(matches!(e, StateError::Invalid(_)));
    }

    #[test]
    fn an_empty_step_is_invalid() {
        assert!(UserState::new("", json!({}), Utc::now()).is_err());
    }

    #[test]
    fn merging_replaces_keys_and_null_removes_them() {
        let mut s = UserState::new("ask_phone", json!({"a": 1, "b": 2}), Utc::now()).unwrap();
        let Value::Object(patch) = json!({"b": null, "c": 3}) else { unreachable!() };
        s.merge(patch, Utc::now());
        assert_eq!(Value::Object(s.data().clone()), json!({"a": 1, "c": 3}));
    }

    #[test]
    fn deserializing_validates() {
        let bad = json!({"step": "x", "data": 5, "updated_at": "2026-01-01T00:00:00Z"});
        assert!(serde_json::from_value::<UserState>(bad).is_err());
    }
}
