//! The result-backend contract: create-if-absent, state changes (terminal is final, stale
//! fences refused), children, waiting without polling, expiry.

use chrono::Utc;
use goodrobot_domain::task::{StateUpdate, TaskId, TaskMessage, TaskRecord, TaskState};
use goodrobot_ports::ResultBackend;
use serde_json::json;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{TestClock, builders::task_message};

/// A fresh result backend.
#[derive(Clone)]
pub struct ResultsFixture {
    pub results: Arc<dyn ResultBackend>,
}

impl From<Arc<dyn ResultBackend>> for ResultsFixture {
    fn from(results: Arc<dyn ResultBackend>) -> Self {
        Self { results }
    }
}

impl std::fmt::Debug for ResultsFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsFixture").finish_non_exhaustive()
    }
}

/// A fresh result backend that keeps records for `ttl` (short: the tests wait it out on
/// real time), and how its time passes.
#[derive(Clone)]
pub struct ResultsTtlFixture {
    pub results: Arc<dyn ResultBackend>,
    pub ttl: Duration,
    pub clock: TestClock,
}

impl std::fmt::Debug for ResultsTtlFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsTtlFixture").field("ttl", &self.ttl).field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// How long a wait may take for something that must arrive (it returns as soon as it does).
const PATIENCE: Duration = Duration::from_secs(5);

fn message() -> TaskMessage {
    task_message(&goodrobot_domain::task::QueueName::default_queue())
}

fn pending() -> TaskRecord {
    TaskRecord::pending(&message(), Utc::now())
}

fn update(state: TaskState) -> StateUpdate {
    StateUpdate::new(state, Utc::now())
}

fn success(result: serde_json::Value) -> StateUpdate {
    StateUpdate { result: Some(result), ..update(TaskState::Success) }
}

pub async fn results_create_stores_a_new_record(fx: ResultsFixture) {
    let rec = pending();
    assert!(fx.results.create(&rec).await.unwrap());
    assert_eq!(fx.results.get(rec.id).await.unwrap(), Some(rec));
}

pub async fn results_create_fresh_stores_each_record_as_create_would(fx: ResultsFixture) {
    let recs: Vec<TaskRecord> = (0..5).map(|_| pending()).collect();
    let one = pending();
    fx.results.create_fresh(&recs).await.unwrap();
    fx.results.create_fresh(&[]).await.unwrap();
    fx.results.create(&one).await.unwrap();
    for r in &recs {
        assert_eq!(fx.results.get(r.id).await.unwrap().as_ref(), Some(r));
    }
    // Each is a record like any other: it moves on, and its end wakes a waiter.
    let msg = TaskMessage { id: recs[0].id, ..message() };
    assert!(fx.results.record_applied(&msg, &success(json!(7))).await.unwrap());
    let done = fx.results.wait(recs[0].id, PATIENCE).await.unwrap().unwrap();
    assert_eq!((done.state, done.result), (TaskState::Success, Some(json!(7))));
    assert_eq!(fx.results.get(one.id).await.unwrap(), Some(one));
}

pub async fn results_create_does_not_overwrite_an_existing_record(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    let other = TaskRecord { name: "diag.sleep".into(), ..rec.clone() };
    assert!(!fx.results.create(&other).await.unwrap());
    assert_eq!(fx.results.get(rec.id).await.unwrap(), Some(rec));
}

pub async fn results_record_creates_a_missing_record(fx: ResultsFixture) {
    let msg = message();
    let rec = fx.results.record(&msg, &update(TaskState::Received)).await.unwrap();
    assert_eq!((rec.id, rec.state, &rec.name), (msg.id, TaskState::Received, &msg.name));
    assert!(rec.received_at.is_some());
    assert_eq!(fx.results.get(msg.id).await.unwrap(), Some(rec));
}

pub async fn results_record_applies_to_an_existing_record(fx: ResultsFixture) {
    let msg = message();
    fx.results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    let started = StateUpdate { worker: Some("w1".into()), ..update(TaskState::Started) };
    let rec = fx.results.record(&msg, &started).await.unwrap();
    assert_eq!((rec.state, rec.worker.as_deref()), (TaskState::Started, Some("w1")));
    assert!(rec.started_at.is_some());
}

pub async fn results_terminal_record_is_final(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    fx.results.update(rec.id, &success(json!(42))).await.unwrap();
    let after = fx.results.update(rec.id, &update(TaskState::Started)).await.unwrap().unwrap();
    assert_eq!((after.state, after.result), (TaskState::Success, Some(json!(42))));
    assert_eq!(fx.results.get(rec.id).await.unwrap().unwrap().state, TaskState::Success);
}

pub async fn results_stale_fenced_write_is_refused(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    let newer = StateUpdate { fence: Some(2), ..update(TaskState::Started) };
    fx.results.update(rec.id, &newer).await.unwrap();
    let stale = StateUpdate { fence: Some(1), ..success(json!("stale")) };
    let after = fx.results.update(rec.id, &stale).await.unwrap().unwrap();
    assert_eq!((after.state, after.fence), (TaskState::Started, Some(2)));
}

/// The worker's lifecycle written both ways: `record_applied` leaves the same record as
/// `record` (only the id differs), and says whether each change applied.
pub async fn results_record_applied_writes_what_record_writes(fx: ResultsFixture) {
    let (a, b) = (message(), message());
    let received = StateUpdate { fence: Some(1), worker: Some("w1".into()), ..update(TaskState::Received) };
    let started =
        StateUpdate { fence: Some(1), worker: Some("w1".into()), attempt: Some(1), ..update(TaskState::Started) };
    let progress =
        StateUpdate { fence: Some(1), progress: Some(json!({"percent": 50})), ..update(TaskState::Progress) };
    let retry = StateUpdate {
        fence: Some(1),
        error: Some(goodrobot_domain::task::TaskFailure::new("Boom", "once")),
        retries: Some(1),
        eta: Some(Utc::now()),
        ..update(TaskState::Retry)
    };
    let again =
        StateUpdate { fence: Some(2), worker: Some("w2".into()), attempt: Some(2), ..update(TaskState::Started) };
    let done = StateUpdate { fence: Some(2), ..success(json!({"n": 1})) };
    fx.results.create(&TaskRecord::pending(&a, Utc::now())).await.unwrap();
    fx.results.create(&TaskRecord { id: b.id, ..fx.results.get(a.id).await.unwrap().unwrap() }).await.unwrap();
    for u in [&received, &started, &progress, &retry, &again, &done] {
        fx.results.record(&a, u).await.unwrap();
        assert!(fx.results.record_applied(&b, u).await.unwrap(), "{:?} applies", u.state);
    }
    let (ra, rb) = (fx.results.get(a.id).await.unwrap().unwrap(), fx.results.get(b.id).await.unwrap().unwrap());
    assert_eq!(TaskRecord { id: ra.id, ..rb }, ra);
    assert_eq!((ra.state, ra.result, ra.attempts), (TaskState::Success, Some(json!({"n": 1})), 2));
}

pub async fn results_record_applied_creates_a_missing_record(fx: ResultsFixture) {
    let msg = message();
    assert!(fx.results.record_applied(&msg, &update(TaskState::Started)).await.unwrap());
    let rec = fx.results.get(msg.id).await.unwrap().unwrap();
    assert_eq!((rec.id, rec.state, &rec.name), (msg.id, TaskState::Started, &msg.name));
    assert!(rec.started_at.is_some() && rec.received_at.is_some());
}

pub async fn results_record_applied_says_when_the_guard_refused(fx: ResultsFixture) {
    let msg = message();
    fx.results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    assert!(
        fx.results.record_applied(&msg, &StateUpdate { fence: Some(2), ..update(TaskState::Started) }).await.unwrap()
    );
    let stale = StateUpdate { fence: Some(1), ..success(json!("stale")) };
    assert!(!fx.results.record_applied(&msg, &stale).await.unwrap(), "a stale fence is refused");
    assert_eq!(fx.results.get(msg.id).await.unwrap().unwrap().state, TaskState::Started);
    assert!(fx.results.record_applied(&msg, &StateUpdate { fence: Some(2), ..success(json!(1)) }).await.unwrap());
    let late = StateUpdate { fence: Some(3), ..update(TaskState::Started) };
    assert!(!fx.results.record_applied(&msg, &late).await.unwrap(), "a terminal record is final");
    let rec = fx.results.get(msg.id).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.result), (TaskState::Success, Some(json!(1))));
    // A terminal write through `record_applied` wakes a waiter like any other.
    assert_eq!(fx.results.wait(msg.id, PATIENCE).await.unwrap().unwrap().state, TaskState::Success);
}

pub async fn results_update_of_a_missing_record_is_none(fx: ResultsFixture) {
    let id = TaskId::generate();
    assert_eq!(fx.results.update(id, &update(TaskState::Started)).await.unwrap(), None);
    assert_eq!(fx.results.get(id).await.unwrap(), None);
}

pub async fn results_add_child_appends_each_child_once(fx: ResultsFixture) {
    let parent = pending();
    fx.results.create(&parent).await.unwrap();
    let (a, b) = (TaskId::generate(), TaskId::generate());
    for child in [a, b, a] {
        fx.results.add_child(parent.id, child).await.unwrap();
    }
    assert_eq!(fx.results.get(parent.id).await.unwrap().unwrap().children, [a, b]);
}

pub async fn results_add_child_to_a_missing_parent_creates_nothing(fx: ResultsFixture) {
    let parent = TaskId::generate();
    fx.results.add_child(parent, TaskId::generate()).await.unwrap();
    assert_eq!(fx.results.get(parent).await.unwrap(), None);
}

pub async fn results_delete_removes_the_record(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    fx.results.delete(rec.id).await.unwrap();
    assert_eq!(fx.results.get(rec.id).await.unwrap(), None);
}

pub async fn results_wait_returns_when_the_record_finishes(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    let started = Instant::now();
    let (waited, _) = tokio::join!(fx.results.wait(rec.id, PATIENCE), async {
        tokio::task::yield_now().await;
        fx.results.update(rec.id, &success(json!("done"))).await.unwrap();
    });
    let waited = waited.unwrap().unwrap();
    assert_eq!((waited.state, waited.result), (TaskState::Success, Some(json!("done"))));
    assert!(started.elapsed() < PATIENCE, "the write woke the wait before its timeout");
}

pub async fn results_wait_returns_when_another_thread_finishes_the_record(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    let started = Instant::now();
    let waiter = {
        let results = fx.results.clone();
        tokio::spawn(async move { results.wait(rec.id, PATIENCE).await })
    };
    for state in [TaskState::Received, TaskState::Started] {
        fx.results.update(rec.id, &update(state)).await.unwrap();
    }
    fx.results.update(rec.id, &success(json!(1))).await.unwrap();
    let waited = waiter.await.expect("waiter").unwrap().unwrap();
    assert_eq!(waited.state, TaskState::Success);
    assert!(started.elapsed() < PATIENCE, "the write woke the wait before its timeout");
}

pub async fn results_wait_returns_the_unfinished_record_at_timeout(fx: ResultsFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    let waited = fx.results.wait(rec.id, Duration::from_millis(100)).await.unwrap();
    assert_eq!(waited.map(|r| r.state), Some(TaskState::Pending));
}

pub async fn results_wait_for_a_missing_record_is_none(fx: ResultsFixture) {
    assert_eq!(fx.results.wait(TaskId::generate(), Duration::from_millis(100)).await.unwrap(), None);
}

pub async fn results_ping_answers(fx: ResultsFixture) {
    fx.results.ping().await.unwrap();
}

pub async fn results_record_expires_after_the_ttl(fx: ResultsTtlFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    fx.clock.elapse(fx.ttl + fx.ttl / 2).await;
    assert_eq!(fx.results.get(rec.id).await.unwrap(), None);
}

pub async fn results_each_write_refreshes_the_expiry(fx: ResultsTtlFixture) {
    let rec = pending();
    fx.results.create(&rec).await.unwrap();
    fx.clock.elapse(fx.ttl * 3 / 5).await;
    fx.results.update(rec.id, &update(TaskState::Received)).await.unwrap();
    fx.clock.elapse(fx.ttl * 3 / 5).await;
    assert_eq!(fx.results.get(rec.id).await.unwrap().map(|r| r.state), Some(TaskState::Received));
}
