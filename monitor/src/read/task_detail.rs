//! One task: its record, its timeline (the event log's state changes, completed from the
//! record's timestamps), its parent and children.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use goodrobot_domain::task::{TaskId, TaskRecord, TaskState};
use goodrobot_ports::{TaskEvent, services::AppError};

use crate::{
    model::{StateDto, TaskDetailView, TaskLink, TimelineEntry},
    problem::ApiResult,
    read::overview::recent_events,
    state::MonitorState,
};

/// Children read at once.
const FETCH_CONCURRENCY: usize = 16;

/// The timeline of a task: its events (oldest first), plus an entry for each of the
/// record's timestamps no event covers (PENDING at creation; states the producer side set
/// without an event, such as a revoke by the API).
pub fn timeline(record: &TaskRecord, events: &[TaskEvent]) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = events
        .iter()
        .filter(|e| e.task_id == record.id)
        .map(|e| TimelineEntry {
            state: e.state.into(),
            at: e.at,
            worker: e.worker.clone(),
            error_kind: e.error_kind.clone(),
            runtime_s: e.runtime_s,
            wait_s: e.wait_s,
        })
        .collect();
    // The runtime writes "received and started" in one step: one entry for both then.
    let received = record.received_at.filter(|r| Some(*r) != record.started_at);
    let from_record: [(TaskState, Option<DateTime<Utc>>); 4] = [
        (TaskState::Pending, Some(record.created_at)),
        (TaskState::Received, received),
        (TaskState::Started, record.started_at),
        (record.state, record.finished_at),
    ];
    for (state, at) in from_record {
        let Some(at) = at else { continue };
        if !out.iter().any(|t| TaskState::from(t.state) == state) {
            let terminal = state.is_terminal();
            out.push(TimelineEntry {
                state: state.into(),
                at,
                worker: if state == TaskState::Pending { None } else { record.worker.clone() },
                error_kind: if terminal { record.error.as_ref().map(|e| e.kind.clone()) } else { None },
                runtime_s: if terminal { record.runtime_secs() } else { None },
                wait_s: None,
            });
        }
    }
    // Simultaneous entries in the order of a task's life.
    let rank = |s: StateDto| TaskState::ALL.iter().position(|x| *x == TaskState::from(s)).unwrap_or(0);
    out.sort_by_key(|t| (t.at, rank(t.state)));
    out
}

fn link(id: TaskId, record: Option<&TaskRecord>) -> TaskLink {
    TaskLink { task_id: id.to_string(), name: record.map(|r| r.name.clone()), state: record.map(|r| r.state.into()) }
}

/// Everything about task `id`.
///
/// # Errors
/// 404 when the result backend has no record of it (unknown, or expired).
#[tracing::instrument(skip(state), err)]
pub async fn detail(state: &MonitorState, id: TaskId) -> ApiResult<TaskDetailView> {
    let results = state.deps.results.clone();
    let record = results.get(id).await?.ok_or_else(|| AppError::NotFound { entity: "task", id: id.to_string() })?;
    let (events, _) = recent_events(state).await?;
    let parent = match record.parent_id {
        Some(p) => Some(link(p, results.get(p).await?.as_ref())),
        None => None,
    };
    let children: Vec<TaskLink> = futures::stream::iter(record.children.clone())
        .map(|c| {
            let results = results.clone();
            async move { results.get(c).await.map(|r| link(c, r.as_ref())) }
        })
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    let timeline = timeline(&record, &events);
    let mut view = TaskDetailView::from_record(record);
    view.timeline = timeline;
    view.parent = parent;
    view.children = children;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::task::{QueueName, StateUpdate, TaskMessage};

    fn record() -> TaskRecord {
        let msg = TaskMessage {
            id: TaskId::generate(),
            name: "diag.noop".into(),
            args: serde_json::json!({"x": 1}),
            queue: QueueName::default_queue(),
            priority: Default::default(),
            eta: None,
            expires: None,
            parent_id: None,
            root_id: None,
            retries: 0,
            max_retries: 3,
            retry_delay_secs: 60,
            soft_time_limit_secs: None,
            time_limit_secs: None,
            dedup_key: None,
            created_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        };
        TaskRecord::pending(&msg, msg.created_at)
    }

    fn event(r: &TaskRecord, state: TaskState, at: &str) -> TaskEvent {
        TaskEvent {
            task_id: r.id,
            name: r.name.clone(),
            queue: "default".into(),
            state,
            at: at.parse().unwrap(),
            worker: Some("w1".into()),
            runtime_s: None,
            wait_s: None,
            error_kind: None,
        }
    }

    fn states(t: &[TimelineEntry]) -> Vec<TaskState> {
        t.iter().map(|e| TaskState::from(e.state)).collect()
    }

    #[test]
    fn events_make_the_timeline_and_creation_comes_first() {
        let r = record();
        let events = vec![
            event(&r, TaskState::Success, "2030-01-01T00:00:03Z"),
            event(&r, TaskState::Started, "2030-01-01T00:00:02Z"),
        ];
        assert_eq!(states(&timeline(&r, &events)), [TaskState::Pending, TaskState::Started, TaskState::Success]);
    }

    #[test]
    fn without_events_the_record_timestamps_make_the_timeline_with_one_entry_for_received_and_started() {
        let mut r = record();
        r.apply(&StateUpdate::new(TaskState::Started, "2030-01-01T00:00:01Z".parse().unwrap()));
        r.apply(&StateUpdate::new(TaskState::Revoked, "2030-01-01T00:00:02Z".parse().unwrap()));
        assert_eq!(states(&timeline(&r, &[])), [TaskState::Pending, TaskState::Started, TaskState::Revoked]);
    }

    #[test]
    fn a_retry_shows_every_attempt() {
        let r = record();
        let events = vec![
            event(&r, TaskState::Started, "2030-01-01T00:00:05Z"),
            event(&r, TaskState::Retry, "2030-01-01T00:00:02Z"),
            event(&r, TaskState::Started, "2030-01-01T00:00:01Z"),
        ];
        assert_eq!(
            states(&timeline(&r, &events)),
            [TaskState::Pending, TaskState::Started, TaskState::Retry, TaskState::Started]
        );
    }

    #[test]
    fn events_of_other_tasks_are_left_out() {
        let (r, other) = (record(), record());
        let events = vec![event(&other, TaskState::Started, "2030-01-01T00:00:01Z")];
        assert_eq!(states(&timeline(&r, &events)), [TaskState::Pending]);
    }
}
