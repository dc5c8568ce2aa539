//! The task list. Its index is the event log: the recent events, newest first, one entry per
//! task (its newest event); each listed task's record is read from the result backend, which
//! holds the truth about its state, arguments and result.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use goodrobot_domain::{
    ValidationError,
    task::{TaskId, TaskRecord, TaskState},
};
use goodrobot_ports::TaskEvent;
use std::collections::HashMap;

use crate::{
    model::{TaskPageView, TaskRow},
    problem::ApiResult,
    read::overview::recent_events,
    state::MonitorState,
};

/// Records read at once from the result backend.
const FETCH_CONCURRENCY: usize = 32;
/// The largest page.
pub const MAX_PER_PAGE: u32 = 200;
/// The page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// Which tasks to list. Text fields match exactly, except `text`, which matches part of the
/// task id, arguments, result or error, case-insensitively.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    pub name: Option<String>,
    pub queue: Option<String>,
    pub worker: Option<String>,
    /// Newest activity at or after.
    pub since: Option<DateTime<Utc>>,
    /// Newest activity at or before.
    pub until: Option<DateTime<Utc>>,
    pub text: Option<String>,
}

/// Raw filter values as a query string carries them (the API and the pages share them).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct RawFilter {
    pub state: Option<String>,
    pub name: Option<String>,
    pub queue: Option<String>,
    pub worker: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub q: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// A time in a filter: RFC 3339 (`2030-01-02T03:04:05Z`) or an age (`30s`, `15m`, `2h`, `7d`)
/// meaning that long before `now`.
///
/// # Errors
/// Neither form.
pub fn parse_time(field: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ValidationError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || ValidationError::new(field, "must be an RFC 3339 time or an age like 30s, 15m, 2h, 7d");
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    if !(0..=100_000).contains(&n) {
        return Err(bad());
    }
    let age = match unit {
        "s" => TimeDelta::seconds(n),
        "m" => TimeDelta::minutes(n),
        "h" => TimeDelta::hours(n),
        "d" => TimeDelta::days(n),
        _ => return Err(bad()),
    };
    Ok(now - age)
}

impl RawFilter {
    /// The filter and the page it asks for.
    ///
    /// # Errors
    /// An unknown state, a time that does not parse, a page out of range (named by field).
    pub fn parse(&self, now: DateTime<Utc>) -> Result<(TaskFilter, u32, u32), ValidationError> {
        let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let state = match some(&self.state) {
            None => None,
            Some(s) => Some(TaskState::parse(&s).ok_or_else(|| {
                ValidationError::new(
                    "state",
                    "must be one of PENDING RECEIVED STARTED PROGRESS RETRY SUCCESS FAILURE REVOKED",
                )
            })?),
        };
        let since = some(&self.since).map(|s| parse_time("since", &s, now)).transpose()?;
        let until = some(&self.until).map(|s| parse_time("until", &s, now)).transpose()?;
        let number = |field: &str, v: &Option<String>, default: u32, max: u32| -> Result<u32, ValidationError> {
            match some(v) {
                None => Ok(default),
                Some(s) => s
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| ValidationError::new(field, format!("must be a whole number from 1 to {max}"))),
            }
        };
        let page = number("page", &self.page, 1, 100_000)?;
        let per_page = number("per_page", &self.per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
        let filter = TaskFilter {
            state,
            name: some(&self.name),
            queue: some(&self.queue),
            worker: some(&self.worker),
            since,
            until,
            text: some(&self.q).map(|s| s.to_lowercase()),
        };
        Ok((filter, page, per_page))
    }
}

/// A task as the event log knows it: its newest event.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub task_id: TaskId,
    pub name: String,
    pub queue: String,
    pub state: TaskState,
    pub at: DateTime<Utc>,
    /// The worker of its newest event that names one.
    pub worker: Option<String>,
    pub error_kind: Option<String>,
}

/// One entry per task, newest activity first, from events given newest first.
pub fn index(events: &[TaskEvent]) -> Vec<IndexEntry> {
    let mut out: Vec<IndexEntry> = Vec::new();
    let mut pos: HashMap<TaskId, usize> = HashMap::new();
    for e in events {
        match pos.get(&e.task_id) {
            None => {
                pos.insert(e.task_id, out.len());
                out.push(IndexEntry {
                    task_id: e.task_id,
                    name: e.name.clone(),
                    queue: e.queue.clone(),
                    state: e.state,
                    at: e.at,
                    worker: e.worker.clone(),
                    error_kind: e.error_kind.clone(),
                });
            }
            Some(&i) if out[i].worker.is_none() => out[i].worker.clone_from(&e.worker),
            Some(_) => {}
        }
    }
    out
}

impl TaskFilter {
    /// Whether the filter needs each task's record (state and text live there).
    fn needs_records(&self) -> bool {
        self.state.is_some() || self.text.is_some()
    }

    fn matches_entry(&self, e: &IndexEntry) -> bool {
        self.name.as_ref().is_none_or(|n| *n == e.name)
            && self.queue.as_ref().is_none_or(|q| *q == e.queue)
            && self.worker.as_ref().is_none_or(|w| e.worker.as_ref() == Some(w))
            && self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at <= t)
    }

    fn matches_row(&self, row: &TaskRow, record: Option<&TaskRecord>) -> bool {
        if self.state.is_some_and(|s| TaskState::from(row.state) != s) {
            return false;
        }
        let Some(text) = &self.text else { return true };
        if row.task_id.contains(text.as_str()) {
            return true;
        }
        let Some(r) = record else { return false };
        let haystack = |v: &serde_json::Value| v.to_string().to_lowercase().contains(text.as_str());
        haystack(&r.args)
            || r.result.as_ref().is_some_and(haystack)
            || r.error.as_ref().is_some_and(|e| {
                e.message.to_lowercase().contains(text.as_str()) || e.kind.to_lowercase().contains(text.as_str())
            })
    }
}

/// The row of a task: its record where there is one, its newest event otherwise.
pub fn row(e: &IndexEntry, record: Option<&TaskRecord>) -> TaskRow {
    match record {
        Some(r) => TaskRow {
            task_id: e.task_id.to_string(),
            name: r.name.clone(),
            queue: r.queue.to_string(),
            state: r.state.into(),
            worker: r.worker.clone().or_else(|| e.worker.clone()),
            last_event_at: e.at,
            created_at: Some(r.created_at),
            started_at: r.started_at,
            finished_at: r.finished_at,
            eta: r.eta,
            runtime: r.runtime_secs(),
            retries: r.retries,
            args: r.args.clone(),
            error_kind: r.error.as_ref().map(|f| f.kind.clone()),
            has_record: true,
        },
        None => TaskRow {
            task_id: e.task_id.to_string(),
            name: e.name.clone(),
            queue: e.queue.clone(),
            state: e.state.into(),
            worker: e.worker.clone(),
            last_event_at: e.at,
            created_at: None,
            started_at: None,
            finished_at: None,
            eta: None,
            runtime: None,
            retries: 0,
            args: serde_json::Value::Null,
            error_kind: e.error_kind.clone(),
            has_record: false,
        },
    }
}

async fn records(state: &MonitorState, entries: &[IndexEntry]) -> ApiResult<Vec<Option<TaskRecord>>> {
    let results = state.deps.results.clone();
    let ids: Vec<TaskId> = entries.iter().map(|e| e.task_id).collect();
    let got = futures::stream::iter(ids)
        .map(|id| {
            let results = results.clone();
            async move { results.get(id).await }
        })
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(got)
}

/// One page of the tasks that match `filter`, newest activity first.
#[tracing::instrument(skip(state), err)]
pub async fn list(state: &MonitorState, filter: &TaskFilter, page: u32, per_page: u32) -> ApiResult<TaskPageView> {
    let (events, _) = recent_events(state).await?;
    let all = index(&events);
    let scanned = all.len() as u64;
    let candidates: Vec<IndexEntry> = all.into_iter().filter(|e| filter.matches_entry(e)).collect();
    let skip = (page.saturating_sub(1) as usize).saturating_mul(per_page as usize);
    let (items, total) = if filter.needs_records() {
        let recs = records(state, &candidates).await?;
        let matching: Vec<TaskRow> = candidates
            .iter()
            .zip(&recs)
            .filter_map(|(e, r)| {
                let row = row(e, r.as_ref());
                filter.matches_row(&row, r.as_ref()).then_some(row)
            })
            .collect();
        let total = matching.len() as u64;
        (matching.into_iter().skip(skip).take(per_page as usize).collect(), total)
    } else {
        let total = candidates.len() as u64;
        let page_entries: Vec<IndexEntry> = candidates.into_iter().skip(skip).take(per_page as usize).collect();
        let recs = records(state, &page_entries).await?;
        (page_entries.iter().zip(&recs).map(|(e, r)| row(e, r.as_ref())).collect(), total)
    };
    Ok(TaskPageView { items, total, page, per_page, scanned })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: TaskId, state: TaskState, secs: i64, worker: Option<&str>) -> TaskEvent {
        TaskEvent {
            task_id: id,
            name: "diag.noop".into(),
            queue: "default".into(),
            state,
            at: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(secs),
            worker: worker.map(str::to_owned),
            runtime_s: None,
            wait_s: None,
            error_kind: None,
        }
    }

    #[test]
    fn the_index_has_one_entry_per_task_from_its_newest_event() {
        let (a, b) = (TaskId::generate(), TaskId::generate());
        let events = vec![
            ev(a, TaskState::Success, 30, Some("w1")),
            ev(b, TaskState::Started, 20, Some("w2")),
            ev(a, TaskState::Started, 10, Some("w1")),
        ];
        let idx = index(&events);
        assert_eq!(
            idx.iter().map(|e| (e.task_id, e.state)).collect::<Vec<_>>(),
            [(a, TaskState::Success), (b, TaskState::Started)]
        );
    }

    #[test]
    fn an_entry_takes_the_worker_of_an_older_event_when_the_newest_names_none() {
        let a = TaskId::generate();
        let events = vec![ev(a, TaskState::Revoked, 30, None), ev(a, TaskState::Started, 10, Some("w1"))];
        assert_eq!(index(&events)[0].worker.as_deref(), Some("w1"));
    }

    #[test]
    fn ages_and_rfc3339_times_parse() {
        let now: DateTime<Utc> = "2030-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(parse_time("since", "15m", now).unwrap(), now - TimeDelta::minutes(15));
        assert_eq!(parse_time("since", "2030-01-01T11:00:00+01:00", now).unwrap(), now - TimeDelta::hours(2));
        assert_eq!(parse_time("since", "yesterday", now).unwrap_err().field, "since");
    }

    #[test]
    fn an_unknown_state_names_the_field() {
        let raw = RawFilter { state: Some("DONE".into()), ..Default::default() };
        assert_eq!(raw.parse(Utc::now()).unwrap_err().field, "state");
    }

    #[test]
    fn a_page_size_above_the_maximum_is_refused() {
        let raw = RawFilter { per_page: Some("1000".into()), ..Default::default() };
        assert_eq!(raw.parse(Utc::now()).unwrap_err().field, "per_page");
    }

    #[test]
    fn states_parse_case_insensitively() {
        let raw = RawFilter { state: Some("failure".into()), ..Default::default() };
        assert_eq!(raw.parse(Utc::now()).unwrap().0.state, Some(TaskState::Failure));
    }
}
