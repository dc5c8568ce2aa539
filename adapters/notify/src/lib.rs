//! Notifier adapters: log (being built).
