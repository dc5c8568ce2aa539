//! Task contracts: each task's name, typed arguments and result, and default options.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{TaskId, parse_args};
use crate::{
    BidId, OrderId, SelectionOutcome, UserId, ValidationError,
    report::{AnalyticsReport, ReportParams, ReportType},
};

/// A task's default options (each can be overridden per call, as in Celery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDefaults {
    pub queue: &'static str,
    /// Celery's `task_max_retries=3`.
    pub max_retries: u32,
    /// Celery's `task_default_retry_delay=60`.
    pub retry_delay_secs: u64,
    pub soft_time_limit_secs: Option<u64>,
    pub time_limit_secs: Option<u64>,
    /// Global limit on starts per second across all workers.
    pub rate_limit_per_sec: Option<u32>,
}

impl Default for TaskDefaults {
    fn default() -> Self {
        Self {
            queue: "default",
            max_retries: 3,
            retry_delay_secs: 60,
            soft_time_limit_secs: None,
            time_limit_secs: None,
            rate_limit_per_sec: None,
        }
    }
}

/// A task's contract: what the producer sends and what the handler returns.
pub trait TaskContract: Send + Sync + 'static {
    const NAME: &'static str;
    /// Names of the arguments, in positional order.
    const ARG_NAMES: &'static [&'static str];
    type Args: Serialize + DeserializeOwned + Send + Sync + std::fmt::Debug;
    type Output: Serialize + DeserializeOwned + Send + std::fmt::Debug;

    fn defaults() -> TaskDefaults {
        TaskDefaults::default()
    }
}

/// A task's contract with the types erased: what a producer needs to check a call.
#[derive(Debug, Clone, Copy)]
pub struct TaskSpec {
    pub name: &'static str,
    pub arg_names: &'static [&'static str],
    pub defaults: TaskDefaults,
    check: fn(&Value) -> Result<(), ValidationError>,
}

impl TaskSpec {
    pub fn of<T: TaskContract>() -> Self {
        Self {
            name: T::NAME,
            arg_names: T::ARG_NAMES,
            defaults: T::defaults(),
            check: |v| parse_args::<T::Args>(v).map(|_| ()),
        }
    }

    /// # Errors
    /// The arguments do not parse into the task's typed arguments.
    pub fn check_args(&self, args: &Value) -> Result<(), ValidationError> {
        (self.check)(args)
    }
}

/// Every task this system knows.
pub fn catalog() -> [TaskSpec; 5] {
    [
        TaskSpec::of::<ProcessBidAssignment>(),
        TaskSpec::of::<SendNotification>(),
        TaskSpec::of::<GenerateAnalyticsReport>(),
        TaskSpec::of::<DiagNoop>(),
        TaskSpec::of::<DiagSleep>(),
    ]
}

/// The contract of the task named `name`, if there is one.
pub fn spec(name: &str) -> Option<TaskSpec> {
    catalog().into_iter().find(|s| s.name == name)
}

/// `process_bid_assignment(bid_id, master_id)`: select the bid, then notify the master.
#[derive(Debug, Clone, Copy)]
pub struct ProcessBidAssignment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessBidAssignmentArgs {
    pub bid_id: BidId,
    pub master_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentOutcome {
    pub order_id: OrderId,
    pub bid_id: BidId,
    pub master_id: UserId,
    pub outcome: SelectionOutcome,
    /// The `send_notification` child task queued for the master.
    pub notification_task_id: TaskId,
}

impl TaskContract for ProcessBidAssignment {
    const NAME: &'static str = "process_bid_assignment";
    const ARG_NAMES: &'static [&'static str] = &["bid_id", "master_id"];
    type Args = ProcessBidAssignmentArgs;
    type Output = AssignmentOutcome;
}

impl ProcessBidAssignment {
    /// The text the master receives, as the old system sent it.
    pub fn notification_text(bid_id: BidId) -> String {
        format!("Вам назначена новая заявка #{bid_id}")
    }
}

/// The kind of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationType {
    #[default]
    Info,
    Warning,
    Error,
}

impl NotificationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

crate::order::text_type!(
    /// A notification's text: 1..=4096 characters (a Telegram message's limit).
    NotificationMessage, "message", 4096, false
);

/// `send_notification(user_id, message, notification_type = info)`.
#[derive(Debug, Clone, Copy)]
pub struct SendNotification;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendNotificationArgs {
    pub user_id: UserId,
    pub message: NotificationMessage,
    #[serde(default)]
    pub notification_type: NotificationType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationOutcome {
    pub user_id: UserId,
    pub channel: String,
    pub delivered: bool,
}

impl TaskContract for SendNotification {
    const NAME: &'static str = "send_notification";
    const ARG_NAMES: &'static [&'static str] = &["user_id", "message", "notification_type"];
    type Args = SendNotificationArgs;
    type Output = NotificationOutcome;

    fn defaults() -> TaskDefaults {
        // The Telegram Bot API allows a bot about 30 messages a second.
        TaskDefaults { rate_limit_per_sec: Some(30), ..TaskDefaults::default() }
    }
}

/// `generate_analytics_report(report_type, params)`: long-running, checkpointed.
#[derive(Debug, Clone, Copy)]
pub struct GenerateAnalyticsReport;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsReportArgs {
    pub report_type: ReportType,
    #[serde(default)]
    pub params: ReportParams,
}

impl TaskContract for GenerateAnalyticsReport {
    const NAME: &'static str = "generate_analytics_report";
    const ARG_NAMES: &'static [&'static str] = &["report_type", "params"];
    type Args = AnalyticsReportArgs;
    type Output = AnalyticsReport;

    fn defaults() -> TaskDefaults {
        TaskDefaults { soft_time_limit_secs: Some(300), time_limit_secs: Some(360), ..TaskDefaults::default() }
    }
}

/// `diag.noop(x)`: returns `x`. For benchmarks and smoke tests.
#[derive(Debug, Clone, Copy)]
pub struct DiagNoop;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagNoopArgs {
    #[serde(default)]
    pub x: Value,
}

impl TaskContract for DiagNoop {
    const NAME: &'static str = "diag.noop";
    const ARG_NAMES: &'static [&'static str] = &["x"];
    type Args = DiagNoopArgs;
    type Output = Value;
}

/// `diag.sleep(ms)`: sleeps `ms` milliseconds (at most an hour) and returns `ms`.
#[derive(Debug, Clone, Copy)]
pub struct DiagSleep;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagSleepArgs {
    #[serde(deserialize_with = "at_most_an_hour")]
    pub ms: u64,
}

fn at_most_an_hour<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if v > 3_600_000 {
        return Err(serde::de::Error::custom("must be at most 3600000 (one hour)"));
    }
    Ok(v)
}

impl TaskContract for DiagSleep {
    const NAME: &'static str = "diag.sleep";
    const ARG_NAMES: &'static [&'static str] = &["ms"];
    type Args = DiagSleepArgs;
    type Output = u64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catalog_checks_arguments_by_contract() {
        let s = spec("process_bid_assignment").unwrap();
        assert!(s.check_args(&json!({"bid_id": 1, "master_id": 2})).is_ok());
        assert_eq!(s.check_args(&json!({"bid_id": "x", "master_id": 2})).unwrap_err().field, "args.bid_id");
        assert!(spec("nope").is_none());
    }

    #[test]
    fn notification_type_defaults_to_info_and_message_is_bounded() {
        let a: SendNotificationArgs = parse_args(&json!({"user_id": 1, "message": "hi"})).unwrap();
        assert_eq!(a.notification_type, NotificationType::Info);
        let e = parse_args::<SendNotificationArgs>(&json!({"user_id": 1, "message": ""})).unwrap_err();
        assert_eq!(e.field, "args.message");
        let e = parse_args::<SendNotificationArgs>(&json!({"user_id": 1, "message": "x", "notification_type": "loud"}))
            .unwrap_err();
        assert_eq!(e.field, "args.notification_type");
    }

    #[test]
    fn assignment_text_is_the_old_one() {
        assert_eq!(ProcessBidAssignment::notification_text(BidId(42)), "Вам назначена новая заявка #42");
    }

    #[test]
    fn sleep_is_bounded() {
        assert!(spec("diag.sleep").unwrap().check_args(&json!({"ms": 3_600_001})).is_err());
    }
}
