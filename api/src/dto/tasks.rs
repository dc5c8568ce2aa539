//! Tasks on the wire: Celery's `apply_async` over HTTP, task records, and the typed
//! shortcuts (notifications, reports).

use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Category, UserId,
    report::{ReportParams, ReportType},
    task::{
        AnalyticsReportArgs, NotificationMessage, NotificationType, SendNotificationArgs, TaskFailure, TaskId,
        TaskRecord, TaskState,
    },
};
use goodrobot_ports::services::{Expires, RetryPolicy, Submitted, TaskOptions, TaskRequest};
use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::Deserialize;
use serde_json::Value;
use std::{borrow::Cow, collections::BTreeMap};

use super::Timestamp;
use crate::problem::{Checks, Problem};

/// Where a task is (Celery's state names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "TaskState", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStateDto {
    Pending,
    Received,
    Started,
    Progress,
    Retry,
    Success,
    Failure,
    Revoked,
}

impl From<TaskState> for TaskStateDto {
    fn from(s: TaskState) -> Self {
        match s {
            TaskState::Pending => Self::Pending,
            TaskState::Received => Self::Received,
            TaskState::Started => Self::Started,
            TaskState::Progress => Self::Progress,
            TaskState::Retry => Self::Retry,
            TaskState::Success => Self::Success,
            TaskState::Failure => Self::Failure,
            TaskState::Revoked => Self::Revoked,
        }
    }
}

/// Why a task failed (or was revoked).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "TaskError")]
pub struct TaskErrorDto {
    /// A stable type name: `HandlerError`, `TimeLimitExceeded`, `Revoked`, …
    pub kind: String,
    pub message: String,
}

impl From<TaskFailure> for TaskErrorDto {
    fn from(f: TaskFailure) -> Self {
        Self { kind: f.kind, message: f.message }
    }
}

/// A task's state record.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Task")]
pub struct TaskDto {
    pub task_id: String,
    pub name: String,
    pub state: TaskStateDto,
    pub queue: String,
    /// The named arguments.
    pub args: Value,
    pub result: Option<Value>,
    pub error: Option<TaskErrorDto>,
    /// Progress of a long task, e.g. the analytics report's
    /// `{"scanned": 300, "total": 1200, "percent": 25, "resumed_from": 200}`.
    pub progress: Option<Value>,
    pub retries: u32,
    pub max_retries: u32,
    pub eta: Option<Timestamp>,
    pub expires: Option<Timestamp>,
    pub parent_id: Option<String>,
    pub root_id: Option<String>,
    pub children: Vec<String>,
    /// The worker that ran it last.
    pub worker: Option<String>,
    pub created_at: Timestamp,
    pub received_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Seconds from start to finish.
    pub runtime: Option<f64>,
}

impl From<TaskRecord> for TaskDto {
    fn from(r: TaskRecord) -> Self {
        let runtime = r.runtime_secs();
        let ts = |t: Option<DateTime<Utc>>| t.map(Timestamp);
        Self {
            task_id: r.id.to_string(),
            name: r.name,
            state: r.state.into(),
            queue: r.queue.to_string(),
            args: r.args,
            result: r.result,
            error: r.error.map(Into::into),
            progress: r.progress,
            retries: r.retries,
            max_retries: r.max_retries,
            eta: ts(r.eta),
            expires: ts(r.expires),
            parent_id: r.parent_id.map(|p| p.to_string()),
            root_id: r.root_id.map(|p| p.to_string()),
            children: r.children.iter().map(ToString::to_string).collect(),
            worker: r.worker,
            created_at: r.created_at.into(),
            received_at: ts(r.received_at),
            started_at: ts(r.started_at),
            finished_at: ts(r.finished_at),
            updated_at: r.updated_at.into(),
            runtime,
        }
    }
}

/// A task was queued.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TaskAccepted")]
pub struct TaskAccepted {
    /// Follow it at `GET /tasks/{task_id}`.
    pub task_id: String,
    /// When it is due, if not at once.
    pub eta: Option<Timestamp>,
    /// True when an unfinished task with the same `dedup_key` existed: that task's id.
    pub duplicate: bool,
}

impl From<Submitted> for TaskAccepted {
    fn from(s: Submitted) -> Self {
        Self { task_id: s.task_id.to_string(), eta: s.eta.map(Timestamp), duplicate: s.duplicate }
    }
}

/// `expires`: a number of seconds after sending, or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ExpiresInput {
    In(f64),
    At(DateTime<Utc>),
}

impl From<ExpiresInput> for Expires {
    fn from(e: ExpiresInput) -> Self {
        match e {
            ExpiresInput::In(s) => Expires::In(s),
            ExpiresInput::At(t) => Expires::At(t),
        }
    }
}

impl Type for ExpiresInput {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "Expires".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("Seconds after sending, or an RFC 3339 time."),
            one_of: vec![f64::schema_ref(), DateTime::<Utc>::schema_ref()],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for ExpiresInput {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        serde_json::from_value(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

impl ToJSON for ExpiresInput {
    fn to_json(&self) -> Option<Value> {
        Some(match self {
            Self::In(s) => Value::from(*s),
            Self::At(t) => Value::String(Timestamp(*t).to_rfc3339()),
        })
    }
}

/// A task to run, by name, with Celery's `apply_async` options.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "SubmitTask", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SubmitTask {
    /// A known task: `process_bid_assignment`, `send_notification`,
    /// `generate_analytics_report`, `diag.noop`, `diag.sleep`.
    pub name: String,
    /// Positional arguments, named in the task's order.
    pub args: Option<Vec<Value>>,
    /// Named arguments.
    pub kwargs: Option<BTreeMap<String, Value>>,
    /// Run no sooner than this many seconds from now (not with `eta`).
    pub countdown: Option<f64>,
    /// Run no sooner than this time (not with `countdown`).
    pub eta: Option<Timestamp>,
    /// Revoke instead of running after this.
    pub expires: Option<ExpiresInput>,
    /// 0 to 9; higher runs first. Default 5.
    pub priority: Option<u8>,
    pub queue: Option<String>,
    /// A UUID to use as the task's id.
    pub task_id: Option<String>,
    pub max_retries: Option<u32>,
    /// While a task with this key is unfinished, a second submit returns the first task.
    pub dedup_key: Option<String>,
    /// Retry publishing while the broker is unreachable (default true).
    pub retry: Option<bool>,
    pub retry_policy: Option<RetryPolicyDto>,
}

/// Celery's `retry_policy`: how publishing is retried while the broker is unreachable.
#[derive(Debug, Clone, Copy, Object, Deserialize)]
#[oai(rename = "RetryPolicy", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyDto {
    /// Default 3.
    pub max_retries: Option<u32>,
    /// Seconds before the first retry; default 0.
    pub interval_start: Option<f64>,
    /// Seconds added before each further retry; default 0.2.
    pub interval_step: Option<f64>,
    /// At most this many seconds between retries; default 0.2.
    pub interval_max: Option<f64>,
}

impl From<RetryPolicyDto> for RetryPolicy {
    fn from(p: RetryPolicyDto) -> Self {
        let d = RetryPolicy::default();
        Self {
            max_retries: p.max_retries.unwrap_or(d.max_retries),
            interval_start: p.interval_start.unwrap_or(d.interval_start),
            interval_step: p.interval_step.unwrap_or(d.interval_step),
            interval_max: p.interval_max.unwrap_or(d.interval_max),
        }
    }
}

impl SubmitTask {
    /// # Errors
    /// 422 naming `task_id` if it is not a UUID (the task service checks the rest).
    pub fn into_request(self) -> Result<TaskRequest, Problem> {
        let task_id = self.task_id.as_deref().map(TaskId::parse).transpose()?;
        Ok(TaskRequest {
            name: self.name,
            args: self.args.unwrap_or_default(),
            kwargs: self.kwargs.unwrap_or_default().into_iter().collect(),
            options: TaskOptions {
                countdown: self.countdown,
                eta: self.eta.map(|t| t.0),
                expires: self.expires.map(Into::into),
                priority: self.priority,
                queue: self.queue,
                task_id,
                parent_id: None,
                root_id: None,
                max_retries: self.max_retries,
                dedup_key: self.dedup_key,
                retry: self.retry,
                retry_policy: self.retry_policy.map(Into::into),
            },
        })
    }
}

/// The kind of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "NotificationType", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum NotificationTypeDto {
    Info,
    Warning,
    Error,
}

impl From<NotificationTypeDto> for NotificationType {
    fn from(t: NotificationTypeDto) -> Self {
        match t {
            NotificationTypeDto::Info => NotificationType::Info,
            NotificationTypeDto::Warning => NotificationType::Warning,
            NotificationTypeDto::Error => NotificationType::Error,
        }
    }
}

/// A notification to send, now or later.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "SendNotification", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SendNotificationBody {
    pub user_id: i64,
    /// 1 to 4096 characters.
    pub message: String,
    /// Default `info`.
    pub notification_type: Option<NotificationTypeDto>,
    /// Send this many seconds from now (not with `eta`).
    pub countdown: Option<f64>,
    /// Send at this time (not with `countdown`).
    pub eta: Option<Timestamp>,
}

impl SendNotificationBody {
    /// # Errors
    /// 422 naming `message`.
    pub fn into_args(self) -> Result<(SendNotificationArgs, TaskOptions), Problem> {
        let message = NotificationMessage::new(&self.message)?;
        let args = SendNotificationArgs {
            user_id: UserId(self.user_id),
            message,
            notification_type: self.notification_type.map(Into::into).unwrap_or_default(),
        };
        let options = TaskOptions { countdown: self.countdown, eta: self.eta.map(|t| t.0), ..TaskOptions::default() };
        Ok((args, options))
    }
}

/// Which report to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "ReportType", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReportTypeDto {
    OrdersByStatus,
    OrdersByCategory,
    BidsPerMaster,
    AveragePrice,
    Summary,
}

impl From<ReportTypeDto> for ReportType {
    fn from(t: ReportTypeDto) -> Self {
        match t {
            ReportTypeDto::OrdersByStatus => ReportType::OrdersByStatus,
            ReportTypeDto::OrdersByCategory => ReportType::OrdersByCategory,
            ReportTypeDto::BidsPerMaster => ReportType::BidsPerMaster,
            ReportTypeDto::AveragePrice => ReportType::AveragePrice,
            ReportTypeDto::Summary => ReportType::Summary,
        }
    }
}

/// What a report covers: orders created in `[from, to)`, optionally of one category.
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(rename = "ReportParams", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct ReportParamsDto {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub category: Option<String>,
}

/// A report to build in the background.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "CreateReport", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    pub report_type: ReportTypeDto,
    pub params: Option<ReportParamsDto>,
}

impl CreateReport {
    /// # Errors
    /// 422 naming `params.category` or `params.from`.
    pub fn into_args(self) -> Result<AnalyticsReportArgs, Problem> {
        let p = self.params.unwrap_or_default();
        let mut c = Checks::default();
        let category = c.check_in("params.", p.category.as_deref().map(Category::new).transpose());
        let Some(category) = category else {
            return Err(c.problem());
        };
        let params = ReportParams { from: p.from.map(|t| t.0), to: p.to.map(|t| t.0), category };
        params.validate()?;
        Ok(AnalyticsReportArgs { report_type: self.report_type.into(), params })
    }
}
