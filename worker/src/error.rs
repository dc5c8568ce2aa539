//! How a handler says it failed, and whether the runtime may try again.

use goodrobot_domain::task::TaskFailure;
use goodrobot_ports::services::AppError;
use std::time::Duration;

/// A handler's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// Try again after `countdown` (Celery's `self.retry(countdown=…)`), or after the task's
    /// backoff when `None`. Counts as a retry.
    #[error("retry requested: {reason}")]
    Retry { countdown: Option<Duration>, reason: String },
    /// A passing failure (a dependency down, a timeout): retried with backoff.
    #[error("{kind}: {message}")]
    Transient { kind: String, message: String },
    /// Will fail the same way again: not retried.
    #[error("{kind}: {message}")]
    Permanent { kind: String, message: String },
}

impl TaskError {
    pub fn transient(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Transient { kind: kind.into(), message: message.into() }
    }

    pub fn permanent(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Permanent { kind: kind.into(), message: message.into() }
    }

    /// Whether the runtime may retry after this error (within `max_retries`).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Permanent { .. })
    }

    /// The error as the result backend stores it.
    pub fn to_failure(&self) -> TaskFailure {
        match self {
            Self::Retry { reason, .. } => TaskFailure::retryable("Retry", reason.clone()),
            Self::Transient { kind, message } => TaskFailure::retryable(kind.clone(), message.clone()),
            Self::Permanent { kind, message } => TaskFailure::new(kind.clone(), message.clone()),
        }
    }
}

impl From<AppError> for TaskError {
    fn from(e: AppError) -> Self {
        match &e {
            AppError::Unavailable(m) => Self::transient("Unavailable", m.clone()),
            AppError::Invalid(v) => Self::permanent("InvalidArguments", v.to_string()),
            AppError::NotFound { .. } => Self::permanent("NotFound", e.to_string()),
            AppError::Rule(d) => Self::permanent(d.code(), d.to_string()),
            AppError::Conflict { .. } => Self::permanent("Conflict", e.to_string()),
            AppError::Internal(m) => Self::transient("Internal", m.clone()),
        }
    }
}
