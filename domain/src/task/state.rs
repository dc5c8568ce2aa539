//! The states of a task, with Celery's names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task is: PENDING → RECEIVED → STARTED → SUCCESS | FAILURE | RETRY (→ RECEIVED …)
/// | REVOKED. PROGRESS is STARTED with a progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    Pending,
    Received,
    Started,
    Progress,
    Retry,
    Success,
    Failure,
    Revoked,
}

impl TaskState {
    pub const ALL: [TaskState; 8] = [
        Self::Pending,
        Self::Received,
        Self::Started,
        Self::Progress,
        Self::Retry,
        Self::Success,
        Self::Failure,
        Self::Revoked,
    ];

    /// A task in a terminal state never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::Failure | Self::Revoked)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Received => "RECEIVED",
            Self::Started => "STARTED",
            Self::Progress => "PROGRESS",
            Self::Retry => "RETRY",
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Revoked => "REVOKED",
        }
    }

    /// Parses Celery's upper-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
