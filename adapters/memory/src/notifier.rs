//! A notifier for tests: keeps every notification it is given, and can be told to fail.

use async_trait::async_trait;
use goodrobot_ports::{Notification, Notifier, NotifyError, NotifyReceipt};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use crate::lock::lock;

/// Records notifications in memory (channel `recording`). Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingNotifier {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Debug, Default)]
struct Recorded {
    sent: Vec<Notification>,
    failures: VecDeque<NotifyError>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every notification delivered so far, in order.
    pub fn sent(&self) -> Vec<Notification> {
        lock(&self.inner).sent.clone()
    }

    /// Makes the next delivery fail with `error` (queued: call it twice to fail twice).
    pub fn fail_next(&self, error: NotifyError) {
        lock(&self.inner).failures.push_back(error);
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, n: &Notification) -> Result<NotifyReceipt, NotifyError> {
        let mut inner = lock(&self.inner);
        if let Some(e) = inner.failures.pop_front() {
            return Err(e);
        }
        inner.sent.push(n.clone());
        Ok(NotifyReceipt { channel: "recording".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::{UserId, task::NotificationType, task::TaskId};

    fn notification(text: &str) -> Notification {
        Notification {
            user_id: UserId(1),
            tg_id: None,
            message: text.into(),
            notification_type: NotificationType::Info,
            task_id: TaskId::generate(),
        }
    }

    #[tokio::test]
    async fn records_every_notification_in_order() {
        let n = RecordingNotifier::new();
        n.notify(&notification("a")).await.unwrap();
        n.clone().notify(&notification("b")).await.unwrap();
        let texts: Vec<String> = n.sent().into_iter().map(|s| s.message).collect();
        assert_eq!(texts, ["a", "b"]);
    }

    #[tokio::test]
    async fn fail_next_fails_one_delivery_and_records_nothing_for_it() {
        let n = RecordingNotifier::new();
        n.fail_next(NotifyError::Transient("timeout".into()));
        assert_eq!(n.notify(&notification("a")).await, Err(NotifyError::Transient("timeout".into())));
        assert_eq!(n.notify(&notification("b")).await.unwrap().channel, "recording");
        assert_eq!(n.sent().len(), 1);
    }
}
