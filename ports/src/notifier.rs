//! Notifier: delivers a message to a user (log, webhook, a messenger).

use async_trait::async_trait;
use goodrobot_domain::{UserId, task::NotificationType, task::TaskId};
use serde::{Deserialize, Serialize};

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub user_id: UserId,
    /// The user's Telegram id, when known.
    pub tg_id: Option<i64>,
    pub message: String,
    pub notification_type: NotificationType,
    /// The task that sends it (an idempotency key for receivers).
    pub task_id: TaskId,
}

/// Where a notification went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyReceipt {
    pub channel: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Worth trying again later (timeout, 5xx, connection refused).
    #[error("notification not delivered, may be retried: {0}")]
    Transient(String),
    /// Will fail the same way again (4xx, bad address).
    #[error("notification refused: {0}")]
    Permanent(String),
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// # Errors
    /// `Transient` or `Permanent` as the channel answers.
    async fn notify(&self, n: &Notification) -> Result<NotifyReceipt, NotifyError>;
}
