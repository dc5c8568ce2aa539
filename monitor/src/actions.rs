//! What an operator can do from the monitor: revoke a task, replay a failed one from the
//! dead-letter list, retry a failed or revoked one as a new task, purge a queue. Each state
//! change is appended to the event log by the task service itself (`TaskService::with_events`:
//! REVOKED on revoke, PENDING on replay and on the retry's send), exactly once, so the task
//! list shows it at once and the task counters of `/metrics` count it once.

use goodrobot_domain::task::{QueueName, TaskId, TaskState};
use goodrobot_ports::services::{AppError, TaskOptions, TaskRequest};
use serde_json::Value;

use crate::{
    model::{ActionView, PurgeView},
    problem::{ApiResult, Problem},
    state::MonitorState,
};

/// Revokes a task that has not finished: it will not run (or not run again).
///
/// # Errors
/// 404 unknown task; 409 finished already.
#[tracing::instrument(skip(state), err)]
pub async fn revoke(state: &MonitorState, id: TaskId) -> ApiResult<ActionView> {
    let record = state.tasks.revoke(id).await?;
    tracing::info!(task_id = %id, "task revoked from the monitor");
    Ok(ActionView { action: "revoked".into(), task_id: id.to_string(), new_task_id: None, state: record.state.into() })
}

/// Takes a failed task from the dead-letter list and queues it again (same id, retries reset).
///
/// # Errors
/// 404 when it is not in the dead-letter list.
#[tracing::instrument(skip(state), err)]
pub async fn replay(state: &MonitorState, id: TaskId) -> ApiResult<ActionView> {
    let record = state.tasks.replay(id).await?;
    tracing::info!(task_id = %id, "task replayed from the monitor");
    Ok(ActionView {
        action: "replayed".into(),
        task_id: id.to_string(),
        new_task_id: Some(id.to_string()),
        state: record.state.into(),
    })
}

/// Queues a new task with the name, arguments and queue of a failed or revoked one.
///
/// # Errors
/// 404 unknown task; 409 when it has not failed or been revoked.
#[tracing::instrument(skip(state), err)]
pub async fn retry(state: &MonitorState, id: TaskId) -> ApiResult<ActionView> {
    let old = state.tasks.get(id).await?;
    if !matches!(old.state, TaskState::Failure | TaskState::Revoked) {
        return Err(AppError::Conflict {
            field: "task_id".into(),
            message: format!("task {id} is {}; only FAILURE and REVOKED tasks can be retried", old.state),
        }
        .into());
    }
    let kwargs = match &old.args {
        Value::Object(m) => m.clone(),
        _ => return Err(Problem::internal(&format!("task {id} has arguments that are not an object"))),
    };
    let req = TaskRequest {
        name: old.name.clone(),
        args: Vec::new(),
        kwargs,
        options: TaskOptions { queue: Some(old.queue.to_string()), ..TaskOptions::default() },
    };
    let sent = state.tasks.submit(&req).await?;
    tracing::info!(task_id = %id, new_task_id = %sent.task_id, "task retried as a new task from the monitor");
    Ok(ActionView {
        action: "retried".into(),
        task_id: id.to_string(),
        new_task_id: Some(sent.task_id.to_string()),
        state: TaskState::Pending.into(),
    })
}

/// Removes every ready and delayed task of `queue` (running and dead-lettered ones stay).
///
/// # Errors
/// 422 for a queue the monitor is not configured for, or a confirmation that does not name
/// the queue.
#[tracing::instrument(skip(state), err)]
pub async fn purge(state: &MonitorState, queue: &str, confirm: Option<&str>) -> ApiResult<PurgeView> {
    let name = configured_queue(state, queue)?;
    if confirm != Some(name.as_str()) {
        return Err(
            goodrobot_domain::ValidationError::new("confirm", "must repeat the queue's name to purge it").into()
        );
    }
    let removed = purge_queue(state, &name).await?;
    tracing::warn!(queue = %name, removed, "queue purged from the monitor");
    Ok(PurgeView { queue: name.to_string(), removed })
}

/// A queue the monitor shows.
///
/// # Errors
/// 422 (field `queue`) for any other.
pub fn configured_queue(state: &MonitorState, queue: &str) -> ApiResult<QueueName> {
    state.config.queues.iter().find(|q| q.as_str() == queue).cloned().ok_or_else(|| {
        goodrobot_domain::ValidationError::new("queue", "is not one of the queues this monitor shows (MONITOR_QUEUES)")
            .into()
    })
}

async fn purge_queue(state: &MonitorState, queue: &QueueName) -> ApiResult<u64> {
    Ok(state.deps.broker.purge(queue).await?)
}
