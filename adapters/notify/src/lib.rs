//! Notifier adapters: `LogNotifier` writes a notification to the log (the embedded default).
//! Each adapter lives in its own module; a webhook adapter will sit beside this one.

mod log_notifier;

pub use log_notifier::LogNotifier;
