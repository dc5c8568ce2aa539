//! A notifier that only logs that a notification went out: who, what kind, how long — never
//! the text or anything that identifies the person beyond the user id.

use async_trait::async_trait;
use goodrobot_ports::{Notification, Notifier, NotifyError, NotifyReceipt};

/// Logs each notification at `info` (channel `log`); it never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

impl LogNotifier {
    pub const CHANNEL: &'static str = "log";
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<NotifyReceipt, NotifyError> {
        tracing::info!(
            user_id = %n.user_id,
            notification_type = n.notification_type.as_str(),
            message_chars = n.message.chars().count(),
            task_id = %n.task_id,
            "notification sent"
        );
        Ok(NotifyReceipt { channel: Self::CHANNEL.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::{UserId, task::NotificationType, task::TaskId};
    use std::{
        io::Write,
        sync::{Arc, Mutex},
    };

    fn notification() -> Notification {
        Notification {
            user_id: UserId(7),
            tg_id: Some(123_456_789),
            message: "Вам назначена новая заявка #42".into(),
            notification_type: NotificationType::Warning,
            task_id: TaskId::generate(),
        }
    }

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn logged(n: &Notification) -> String {
        let sink = Captured::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        LogNotifier.notify(n).await.unwrap();
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn delivers_on_the_log_channel() {
        assert_eq!(LogNotifier.notify(&notification()).await.unwrap().channel, "log");
    }

    #[tokio::test]
    async fn logs_user_type_and_length() {
        let line = logged(&notification()).await;
        assert!(line.contains("user_id=7"), "{line}");
        assert!(line.contains("notification_type=\"warning\""), "{line}");
        assert!(line.contains("message_chars=30"), "{line}");
    }

    #[tokio::test]
    async fn never_logs_the_text_or_the_telegram_id() {
        let line = logged(&notification()).await;
        assert!(!line.contains("заявка"), "{line}");
        assert!(!line.contains("123456789"), "{line}");
    }
}
