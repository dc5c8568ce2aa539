//! Tasks: identifiers, states, the message a broker carries, the record a result backend
//! keeps, and the typed contracts of GoodRobot's tasks.

mod args;
mod contracts;
mod message;
mod record;
mod state;

pub use args::{normalize_args, parse_args};
pub use contracts::{
    AnalyticsReportArgs, AssignmentOutcome, DiagNoop, DiagNoopArgs, DiagSleep, DiagSleepArgs, GenerateAnalyticsReport,
    NotificationMessage, NotificationOutcome, NotificationType, ProcessBidAssignment, ProcessBidAssignmentArgs,
    SendNotification, SendNotificationArgs, TaskContract, TaskDefaults, TaskSpec, catalog, spec,
};
pub use message::{Priority, QueueName, TaskId, TaskMessage};
pub use record::{StateUpdate, TaskFailure, TaskRecord};
pub use state::TaskState;
