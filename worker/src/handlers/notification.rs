//! `send_notification`: deliver a message to a user through the notifier port.

use async_trait::async_trait;
use goodrobot_domain::task::{NotificationOutcome, SendNotification, SendNotificationArgs};
use goodrobot_ports::{Notification, Notifier, NotifyError, RepoError, UserRepository};
use std::sync::Arc;

use crate::{TaskContext, TaskError, TaskHandler};

/// Looks the user up (for the Telegram id) and hands the message to the notifier.
#[derive(Clone)]
pub struct SendNotificationHandler {
    users: Arc<dyn UserRepository>,
    notifier: Arc<dyn Notifier>,
}

impl std::fmt::Debug for SendNotificationHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendNotificationHandler").finish_non_exhaustive()
    }
}

impl SendNotificationHandler {
    pub fn new(users: Arc<dyn UserRepository>, notifier: Arc<dyn Notifier>) -> Self {
        Self { users, notifier }
    }
}

#[async_trait]
impl TaskHandler<SendNotification> for SendNotificationHandler {
    async fn handle(&self, ctx: &TaskContext, args: SendNotificationArgs) -> Result<NotificationOutcome, TaskError> {
        let user = self.users.get(args.user_id).await.map_err(|e| match e {
            RepoError::Unavailable(m) => TaskError::transient("Unavailable", m),
            other => TaskError::permanent("UserNotFound", other.to_string()),
        })?;
        let n = Notification {
            user_id: user.id,
            tg_id: Some(user.tg_id.get()),
            message: args.message.as_str().to_owned(),
            notification_type: args.notification_type,
            task_id: ctx.task_id(),
        };
        let receipt = self.notifier.notify(&n).await.map_err(|e| match e {
            NotifyError::Transient(m) => TaskError::transient("NotificationNotDelivered", m),
            NotifyError::Permanent(m) => TaskError::permanent("NotificationRefused", m),
        })?;
        Ok(NotificationOutcome { user_id: user.id, channel: receipt.channel, delivered: true })
    }
}
