//! The message a broker carries for one task.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::ValidationError;

/// A task's id: a UUID, chosen by the caller or generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl TaskId {
    /// A new, time-ordered id (UUID v7).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// A stable id derived from another task's id and a label: the same parent and label
    /// always give the same id (how a redelivered handler queues "the same" child again).
    pub fn derived(parent: TaskId, label: &str) -> Self {
        Self(Uuid::new_v5(&parent.0, label.as_bytes()))
    }

    /// # Errors
    /// Not a UUID.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s).map(Self).map_err(|_| ValidationError::new("task_id", "must be a UUID"))
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A queue's name: 1..=64 of `[A-Za-z0-9_.-]` (safe inside Redis key names and hash tags).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    /// # Errors
    /// Empty, longer than 64, or with characters outside `[A-Za-z0-9_.-]`.
    pub fn new(v: &str) -> Result<Self, ValidationError> {
        let ok = !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return Err(ValidationError::new("queue", "must be 1 to 64 characters of A-Z a-z 0-9 _ . -"));
        }
        Ok(Self(v.to_owned()))
    }

    pub fn default_queue() -> Self {
        Self("default".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for QueueName {
    type Error = ValidationError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::new(&v)
    }
}

impl From<QueueName> for String {
    fn from(v: QueueName) -> Self {
        v.0
    }
}

/// A priority 0..=9; within a queue, higher runs first. Default 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

impl Priority {
    pub const MAX: u8 = 9;

    /// # Errors
    /// Above 9.
    pub fn new(v: u8) -> Result<Self, ValidationError> {
        if v > Self::MAX {
            return Err(ValidationError::new("priority", "must be between 0 and 9"));
        }
        Ok(Self(v))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self(5)
    }
}

impl TryFrom<u8> for Priority {
    type Error = ValidationError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Priority> for u8 {
    fn from(v: Priority) -> Self {
        v.0
    }
}

/// One task as the broker carries it. `args` is always a JSON object of named arguments
/// (positional arguments are named by the task's contract before enqueueing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub id: TaskId,
    pub name: String,
    pub args: serde_json::Value,
    pub queue: QueueName,
    #[serde(default)]
    pub priority: Priority,
    /// Not to run before this time (Celery's eta; countdown is turned into an eta).
    #[serde(default)]
    pub eta: Option<DateTime<Utc>>,
    /// Not to run after this time: revoked instead, reason "expired".
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    #[serde(default)]
    pub parent_id: Option<TaskId>,
    #[serde(default)]
    pub root_id: Option<TaskId>,
    /// How many times this task has been retried so far (0 on the first run).
    #[serde(default)]
    pub retries: u32,
    pub max_retries: u32,
    /// Seconds to wait before a retry when the handler names no countdown.
    pub retry_delay_secs: u64,
    /// Soft time limit in seconds: the handler is told.
    #[serde(default)]
    pub soft_time_limit_secs: Option<u64>,
    /// Hard time limit in seconds: the run is aborted.
    #[serde(default)]
    pub time_limit_secs: Option<u64>,
    /// A second enqueue with this key while the first is not finished returns the first id.
    #[serde(default)]
    pub dedup_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TaskMessage {
    /// True when the task must not run before a later time.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.eta.is_none_or(|eta| eta <= now)
    }

    /// True when the task's `expires` has passed.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    /// Whether the claim of a delivery may record STARTED at once: the handler starts right
    /// away unless the task may expire before it (checked first) or must wait for its rate
    /// limit; those record STARTED when the handler really starts.
    pub fn starts_when_claimed(&self) -> bool {
        self.expires.is_none()
            && super::contracts::spec(&self.name).is_none_or(|s| s.defaults.rate_limit_per_sec.is_none())
    }

    /// The root of this task's chain: its own id if it has no root.
    pub fn root(&self) -> TaskId {
        self.root_id.unwrap_or(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_key_safe() {
        assert!(QueueName::new("default").is_ok());
        assert!(QueueName::new("reports.v2-slow_1").is_ok());
        for bad in ["", "a b", "{q}", "a:b", &"x".repeat(65)] {
            assert_eq!(QueueName::new(bad).unwrap_err().field, "queue");
        }
    }

    #[test]
    fn priority_is_zero_to_nine() {
        assert!(Priority::new(9).is_ok());
        assert!(Priority::new(10).is_err());
        assert_eq!(Priority::default().get(), 5);
    }
}
