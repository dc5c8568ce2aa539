//! Notifier adapters: `LogNotifier` writes a notification to the log (the embedded default);
//! `WebhookNotifier` POSTs it as JSON to an HTTP(S) endpoint. Each lives in its own module.

mod log_notifier;
mod webhook;

pub use log_notifier::LogNotifier;
pub use webhook::{WebhookConfig, WebhookConfigError, WebhookNotifier};
