//! The contracts of the monitor ports: worker heartbeats ([`WorkerRegistry`]) and the bounded
//! task event log ([`EventLog`]).
//!
//! ```text
//! goodrobot_testkit::worker_registry_contract_tests!(async { WorkerRegistryFixture { registry, clock } });
//! goodrobot_testkit::event_log_contract_tests!(async { EventLogFixture { log, capacity: 20 } });
//! ```
//!
//! Expiry is checked as in [`kv_contracts`](crate::kv_contracts): a manual clock is moved past
//! the TTL, or real time is polled until the worker is gone. The event log must hold exactly
//! its `capacity` newest events as far as `recent` shows (an adapter whose storage trims
//! approximately caps what it returns).

use chrono::{DateTime, TimeDelta, Utc};
use goodrobot_domain::task::{TaskId, TaskState};
use goodrobot_ports::{EventLog, TaskEvent, WorkerInfo, WorkerRegistry};
use std::{sync::Arc, time::Duration};

use crate::{TestClock, kv_contracts::wait_until_gone};

/// A fresh worker registry and how its time passes.
#[derive(Clone)]
pub struct WorkerRegistryFixture {
    pub registry: Arc<dyn WorkerRegistry>,
    pub clock: TestClock,
}

impl From<Arc<dyn WorkerRegistry>> for WorkerRegistryFixture {
    /// A registry on real time.
    fn from(registry: Arc<dyn WorkerRegistry>) -> Self {
        Self { registry, clock: TestClock::Real }
    }
}

impl std::fmt::Debug for WorkerRegistryFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerRegistryFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// A fresh, empty event log built to keep `capacity` events.
#[derive(Clone)]
pub struct EventLogFixture {
    pub log: Arc<dyn EventLog>,
    /// At least 1.
    pub capacity: usize,
}

impl std::fmt::Debug for EventLogFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLogFixture").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(300);

/// A worker as a heartbeat describes it.
pub fn worker(id: &str) -> WorkerInfo {
    let started_at = Utc::now() - TimeDelta::minutes(5);
    WorkerInfo {
        id: id.to_owned(),
        host: "host-1".to_owned(),
        pid: 4242,
        started_at,
        concurrency: 4,
        queues: vec!["default".to_owned(), "notifications".to_owned()],
        running: 1,
        succeeded: 10,
        failed: 2,
        retried: 3,
        last_heartbeat: Utc::now(),
    }
}

/// The `n`th event (named `task-<n>`), at `at`.
pub fn event(n: usize, at: DateTime<Utc>) -> TaskEvent {
    TaskEvent {
        task_id: TaskId::generate(),
        name: format!("task-{n}"),
        queue: "default".to_owned(),
        state: TaskState::Started,
        at,
        worker: None,
        runtime_s: None,
        wait_s: Some(0.25),
        error_kind: None,
    }
}

fn names(events: &[TaskEvent]) -> Vec<String> {
    events.iter().map(|e| e.name.clone()).collect()
}

fn ids(workers: &[WorkerInfo]) -> Vec<&str> {
    workers.iter().map(|w| w.id.as_str()).collect()
}

// ---- WorkerRegistry ----

pub async fn registry_list_of_an_empty_registry_is_empty(fx: WorkerRegistryFixture) {
    assert_eq!(fx.registry.list().await.unwrap(), []);
}

pub async fn registry_heartbeat_then_list_returns_the_worker(fx: WorkerRegistryFixture) {
    let w = worker("worker-1");
    fx.registry.heartbeat(&w, LONG).await.unwrap();
    assert_eq!(fx.registry.list().await.unwrap(), [w]);
}

pub async fn registry_list_is_sorted_by_id(fx: WorkerRegistryFixture) {
    for id in ["w-b", "w-c", "w-a"] {
        fx.registry.heartbeat(&worker(id), LONG).await.unwrap();
    }
    assert_eq!(ids(&fx.registry.list().await.unwrap()), ["w-a", "w-b", "w-c"]);
}

pub async fn registry_heartbeat_replaces_the_previous_one(fx: WorkerRegistryFixture) {
    fx.registry.heartbeat(&worker("w"), LONG).await.unwrap();
    let newer = WorkerInfo { running: 3, succeeded: 11, last_heartbeat: Utc::now(), ..worker("w") };
    fx.registry.heartbeat(&newer, LONG).await.unwrap();
    assert_eq!(fx.registry.list().await.unwrap(), [newer]);
}

pub async fn registry_worker_expires_after_its_ttl(fx: WorkerRegistryFixture) {
    fx.registry.heartbeat(&worker("short"), SHORT).await.unwrap();
    fx.registry.heartbeat(&worker("long"), LONG).await.unwrap();
    let registry = fx.registry.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let registry = registry.clone();
        async move { !ids(&registry.list().await.unwrap()).contains(&"short") }
    })
    .await;
    assert_eq!(ids(&fx.registry.list().await.unwrap()), ["long"]);
}

pub async fn registry_heartbeat_sets_the_ttl_anew(fx: WorkerRegistryFixture) {
    fx.registry.heartbeat(&worker("w"), SHORT).await.unwrap();
    fx.registry.heartbeat(&worker("witness"), SHORT).await.unwrap();
    fx.registry.heartbeat(&worker("w"), LONG).await.unwrap();
    let registry = fx.registry.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let registry = registry.clone();
        async move { !ids(&registry.list().await.unwrap()).contains(&"witness") }
    })
    .await;
    assert_eq!(ids(&fx.registry.list().await.unwrap()), ["w"]);
}

pub async fn registry_expired_worker_returns_with_its_next_heartbeat(fx: WorkerRegistryFixture) {
    fx.registry.heartbeat(&worker("w"), SHORT).await.unwrap();
    let registry = fx.registry.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let registry = registry.clone();
        async move { registry.list().await.unwrap().is_empty() }
    })
    .await;
    fx.registry.heartbeat(&worker("w"), LONG).await.unwrap();
    assert_eq!(ids(&fx.registry.list().await.unwrap()), ["w"]);
}

pub async fn registry_remove_drops_only_that_worker(fx: WorkerRegistryFixture) {
    fx.registry.heartbeat(&worker("stays"), LONG).await.unwrap();
    fx.registry.heartbeat(&worker("leaves"), LONG).await.unwrap();
    fx.registry.remove("leaves").await.unwrap();
    assert_eq!(ids(&fx.registry.list().await.unwrap()), ["stays"]);
}

pub async fn registry_remove_of_an_unknown_worker_is_ok(fx: WorkerRegistryFixture) {
    fx.registry.remove("never-seen").await.unwrap();
    assert_eq!(fx.registry.list().await.unwrap(), []);
}

// ---- EventLog ----

pub async fn events_recent_of_an_empty_log_is_empty(fx: EventLogFixture) {
    assert_eq!(fx.log.recent(10).await.unwrap(), []);
}

pub async fn events_round_trip_every_field(fx: EventLogFixture) {
    let e = TaskEvent {
        task_id: TaskId::generate(),
        name: "send_notification".to_owned(),
        queue: "notifications".to_owned(),
        state: TaskState::Failure,
        at: Utc::now(),
        worker: Some("worker-1".to_owned()),
        runtime_s: Some(1.234_567_89),
        wait_s: None,
        error_kind: Some("Transient".to_owned()),
    };
    fx.log.append(std::slice::from_ref(&e)).await.unwrap();
    assert_eq!(fx.log.recent(1).await.unwrap(), [e]);
}

pub async fn events_recent_is_newest_first(fx: EventLogFixture) {
    let now = Utc::now();
    fx.log.append(&[event(1, now), event(2, now)]).await.unwrap();
    fx.log.append(&[event(3, now)]).await.unwrap();
    assert_eq!(names(&fx.log.recent(10).await.unwrap()), ["task-3", "task-2", "task-1"]);
}

pub async fn events_recent_returns_at_most_limit_newest(fx: EventLogFixture) {
    let now = Utc::now();
    fx.log.append(&[event(1, now), event(2, now), event(3, now)]).await.unwrap();
    assert_eq!(names(&fx.log.recent(2).await.unwrap()), ["task-3", "task-2"]);
    assert_eq!(fx.log.recent(0).await.unwrap(), []);
}

pub async fn events_append_of_nothing_changes_nothing(fx: EventLogFixture) {
    fx.log.append(&[event(1, Utc::now())]).await.unwrap();
    fx.log.append(&[]).await.unwrap();
    assert_eq!(names(&fx.log.recent(10).await.unwrap()), ["task-1"]);
}

pub async fn events_capacity_bounds_the_log_and_drops_the_oldest(fx: EventLogFixture) {
    let now = Utc::now();
    let total = fx.capacity + 10;
    // One at a time, then the rest in one batch.
    let half = total / 2;
    for n in 0..half {
        fx.log.append(&[event(n, now)]).await.unwrap();
    }
    let rest: Vec<TaskEvent> = (half..total).map(|n| event(n, now)).collect();
    fx.log.append(&rest).await.unwrap();
    let recent = fx.log.recent(total + 100).await.unwrap();
    let expected: Vec<String> = (10..total).rev().map(|n| format!("task-{n}")).collect();
    assert_eq!(names(&recent), expected, "the {} newest, newest first", fx.capacity);
}

/// The [`WorkerRegistry`] contract; the fixture gives a [`WorkerRegistryFixture`] or an
/// `Arc<dyn WorkerRegistry>` (real time).
#[macro_export]
macro_rules! worker_registry_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(monitor, $fixture;
            single: [
                registry_list_of_an_empty_registry_is_empty,
                registry_heartbeat_then_list_returns_the_worker,
                registry_list_is_sorted_by_id,
                registry_heartbeat_replaces_the_previous_one,
                registry_worker_expires_after_its_ttl,
                registry_heartbeat_sets_the_ttl_anew,
                registry_expired_worker_returns_with_its_next_heartbeat,
                registry_remove_drops_only_that_worker,
                registry_remove_of_an_unknown_worker_is_ok,
            ];
            multi: []
        );
    };
}

/// The [`EventLog`] contract; the fixture gives an [`EventLogFixture`].
#[macro_export]
macro_rules! event_log_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(monitor, $fixture;
            single: [
                events_recent_of_an_empty_log_is_empty,
                events_round_trip_every_field,
                events_recent_is_newest_first,
                events_recent_returns_at_most_limit_newest,
                events_append_of_nothing_changes_nothing,
                events_capacity_bounds_the_log_and_drops_the_oldest,
            ];
            multi: []
        );
    };
}
