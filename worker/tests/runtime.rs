//! The runtime's behaviour on the memory broker: states, retries, limits, revoke, shutdown.

mod common;

use common::{FnHandler, Harness, ManualClock, assert_state, config, harness_with_clock};
use goodrobot_domain::task::{DiagNoop, TaskState};
use goodrobot_ports::services::{Expires, TaskOptions, TaskRequest};
use goodrobot_worker::{Registry, TaskError, WorkerConfig};
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

fn noop(x: serde_json::Value) -> TaskRequest {
    TaskRequest {
        name: "diag.noop".into(),
        kwargs: json!({ "x": x }).as_object().cloned().unwrap(),
        ..Default::default()
    }
}

fn registry_with<F, Fut>(f: F) -> Registry
where
    F: Fn(goodrobot_worker::TaskContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, TaskError>> + Send,
{
    let mut r = Registry::new();
    r.register::<DiagNoop, _>(FnHandler(f));
    r
}

async fn a_task_runs_once_and_its_result_and_timeline_are_recorded(mut h: Harness) {
    h.start(None);
    let id = h.tasks.submit(&noop(json!({"a": 1}))).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!(r.result, Some(json!({"a": 1})));
    assert_eq!(r.worker.as_deref(), Some("test-worker"));
    assert!(r.received_at.is_some() && r.started_at.is_some() && r.finished_at.is_some());
    // Acked right after its outcome is recorded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.broker.stats(&r.queue).await.unwrap().in_flight != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the task was not acked");
        tokio::task::yield_now().await;
    }
    h.stop().await;
}

async fn a_retryable_error_is_retried_until_success(mut h: Harness) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    h.start(Some(registry_with(move |ctx| {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(ctx.retry(Duration::ZERO, "not yet"));
            }
            Ok(json!("done"))
        }
    })));
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!((r.retries, calls.load(Ordering::SeqCst)), (2, 3));
    h.stop().await;
}

async fn exhausted_retries_end_in_failure_and_the_dead_letter_list_from_which_it_replays(mut h: Harness) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    h.start(Some(registry_with(move |ctx| {
        let c = c.clone();
        async move {
            let n = c.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                return Err(ctx.retry(Duration::ZERO, format!("boom {n}")));
            }
            Ok(json!("replayed"))
        }
    })));
    let mut req = noop(json!(null));
    req.options.max_retries = Some(2);
    let id = h.tasks.submit(&req).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Failure);
    assert_eq!(r.retries, 2);
    let err = r.error.unwrap();
    assert!(err.message.contains("boom 2") && err.message.contains("gave up after 2 retries"), "{err:?}");
    // The outcome is recorded before the delivery is settled: the dead letter follows it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.broker.stats(&r.queue).await.unwrap().dead != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the failed task was not dead-lettered");
        tokio::task::yield_now().await;
    }

    h.tasks.replay(id).await.unwrap();
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!(r.result, Some(json!("replayed")));
    h.stop().await;
}

async fn a_permanent_error_fails_at_once(mut h: Harness) {
    h.start(Some(registry_with(|_| async { Err(TaskError::permanent("BadInput", "no such thing")) })));
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Failure);
    assert_eq!((r.retries, r.error.unwrap().kind.as_str()), (0, "BadInput"));
    h.stop().await;
}

async fn a_panicking_handler_fails_the_task_and_the_worker_lives_on(mut h: Harness) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    h.start(Some(registry_with(move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                panic!("handler bug");
            }
            Ok(json!("fine"))
        }
    })));
    let first = h.tasks.submit(&noop(json!(1))).await.unwrap().task_id;
    let r = h.finished(first).await;
    assert_state(&r, TaskState::Failure);
    assert_eq!(r.error.unwrap().kind, "HandlerPanicked");
    let second = h.tasks.submit(&noop(json!(2))).await.unwrap().task_id;
    assert_state(&h.finished(second).await, TaskState::Success);
    h.stop().await;
}

async fn the_hard_time_limit_aborts_the_task_and_frees_the_slot(mut h: Harness) {
    h.start_with(
        WorkerConfig { concurrency: 1, ..config() },
        Some(registry_with(|ctx| async move {
            if ctx.message().args["x"] == json!("slow") {
                std::future::pending::<()>().await;
            }
            Ok(json!("quick"))
        })),
    );
    let mut msg = h.tasks.build(&noop(json!("slow"))).unwrap();
    msg.time_limit_secs = Some(1);
    h.tasks.ensure_queued(msg.clone()).await.unwrap();
    let r = h.finished(msg.id).await;
    assert_state(&r, TaskState::Failure);
    assert_eq!(r.error.unwrap().kind, "TimeLimitExceeded");
    let next = h.tasks.submit(&noop(json!("fast"))).await.unwrap().task_id;
    assert_state(&h.finished(next).await, TaskState::Success);
    h.stop().await;
}

async fn the_soft_time_limit_is_told_to_the_handler_before_the_hard_one(mut h: Harness) {
    h.start(Some(registry_with(|ctx| async move {
        ctx.soft_time_limit().await;
        assert!(ctx.soft_time_limit_exceeded());
        Ok(json!("cleaned up"))
    })));
    let mut msg = h.tasks.build(&noop(json!(null))).unwrap();
    msg.soft_time_limit_secs = Some(1);
    msg.time_limit_secs = Some(5);
    h.tasks.ensure_queued(msg.clone()).await.unwrap();
    let r = h.finished(msg.id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!(r.result, Some(json!("cleaned up")));
    h.stop().await;
}

async fn a_revoked_delayed_task_never_runs(mut h: Harness) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    h.start(Some(registry_with(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok(json!(null)) }
    })));
    let mut req = noop(json!(null));
    req.options.countdown = Some(3600.0);
    let id = h.tasks.submit(&req).await.unwrap().task_id;
    let r = h.tasks.revoke(id).await.unwrap();
    assert_state(&r, TaskState::Revoked);
    let stats = h.broker.stats(&r.queue).await.unwrap();
    assert_eq!((stats.delayed, stats.ready), (0, 0));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    h.stop().await;
}

#[tokio::test]
async fn an_expired_task_is_revoked_instead_of_run() {
    let clock = ManualClock::new();
    let mut h = harness_with_clock(clock.clone());
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let mut req = noop(json!(null));
    req.options.expires = Some(Expires::In(10.0));
    let id = h.tasks.submit(&req).await.unwrap().task_id;
    clock.advance(Duration::from_secs(11));
    h.start(Some(registry_with(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok(json!(null)) }
    })));
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Revoked);
    assert_eq!(r.error.unwrap().kind, "Expired");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    h.stop().await;
}

async fn an_unknown_task_fails_as_not_registered(mut h: Harness) {
    h.start(Some(Registry::new()));
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Failure);
    assert_eq!(r.error.unwrap().kind, "NotRegistered");
    h.stop().await;
}

async fn graceful_shutdown_lets_a_running_task_finish(mut h: Harness) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    h.start(Some(registry_with(move |_| {
        let tx = started_tx.lock().unwrap().take();
        async move {
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(json!("finished"))
        }
    })));
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    started_rx.await.unwrap();
    h.stop().await;
    let r = h.tasks.get(id).await.unwrap();
    assert_state(&r, TaskState::Success);
}

async fn at_the_shutdown_deadline_running_tasks_are_handed_back(mut h: Harness) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    h.start_with(
        WorkerConfig { shutdown_timeout: Duration::from_millis(100), ..config() },
        Some(registry_with(move |_| {
            let tx = started_tx.lock().unwrap().take();
            async move {
                if let Some(tx) = tx {
                    let _ = tx.send(());
                }
                std::future::pending::<()>().await;
                Ok(json!(null))
            }
        })),
    );
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    started_rx.await.unwrap();
    h.stop().await;
    let r = h.tasks.get(id).await.unwrap();
    assert_state(&r, TaskState::Started);
    let stats = h.broker.stats(&r.queue).await.unwrap();
    assert_eq!((stats.ready, stats.in_flight), (1, 0), "the task is back in the queue, not lost");
}

async fn children_carry_parent_and_root_ids_and_are_listed(mut h: Harness) {
    h.start(Some(registry_with(|ctx| async move {
        if ctx.message().parent_id.is_none() {
            let child = ctx
                .enqueue_child::<DiagNoop>("child", &goodrobot_domain::task::DiagNoopArgs { x: json!("child") })
                .await?;
            return Ok(json!(child.to_string()));
        }
        Ok(json!("leaf"))
    })));
    let id = h.tasks.submit(&noop(json!(null))).await.unwrap().task_id;
    let parent = h.finished(id).await;
    let child_id = goodrobot_domain::task::TaskId::parse(parent.result.as_ref().unwrap().as_str().unwrap()).unwrap();
    let child = h.finished(child_id).await;
    assert_eq!((child.parent_id, child.root_id), (Some(id), Some(id)));
    assert_eq!(h.tasks.get(id).await.unwrap().children, vec![child_id]);
    h.stop().await;
}

async fn dedup_key_returns_the_first_task_while_it_is_pending(h: Harness) {
    let mut req = noop(json!(null));
    req.options.dedup_key = Some("report:2026-11".into());
    let first = h.tasks.submit(&req).await.unwrap();
    let second = h.tasks.submit(&req).await.unwrap();
    assert!(!first.duplicate && second.duplicate);
    assert_eq!(first.task_id, second.task_id);
    let _ = TaskOptions::default();
}

async fn every_state_change_is_an_event_and_the_worker_heartbeats_until_it_stops(mut h: Harness) {
    h.start(None);
    let id = h.tasks.submit(&noop(json!(1))).await.unwrap().task_id;
    h.finished(id).await;
    let workers = h.deps.workers.list().await.unwrap();
    assert_eq!(workers.len(), 1, "one worker announced itself");
    assert_eq!((workers[0].id.as_str(), workers[0].concurrency), ("test-worker", 4));
    h.stop().await;
    let states: Vec<TaskState> =
        h.deps.events.recent(10).await.unwrap().into_iter().filter(|e| e.task_id == id).map(|e| e.state).collect();
    assert_eq!(states, vec![TaskState::Success, TaskState::Started], "newest first");
    assert!(h.deps.workers.list().await.unwrap().is_empty(), "deregistered at its orderly exit");
}

async fn a_revoked_queued_task_never_runs(mut h: Harness) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let id = h.tasks.submit(&noop(json!("doomed"))).await.unwrap().task_id;
    let r = h.tasks.revoke(id).await.unwrap();
    assert_state(&r, TaskState::Revoked);
    h.start(Some(registry_with(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok(json!(null)) }
    })));
    // A task queued after it runs, so the worker has been past the revoked one.
    let after = h.tasks.submit(&noop(json!("after"))).await.unwrap().task_id;
    h.finished(after).await;
    assert_state(&h.tasks.get(id).await.unwrap(), TaskState::Revoked);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "only the task queued after it ran");
    h.stop().await;
}

on_both_brokers!(
    a_revoked_queued_task_never_runs,
    a_task_runs_once_and_its_result_and_timeline_are_recorded,
    a_retryable_error_is_retried_until_success,
    exhausted_retries_end_in_failure_and_the_dead_letter_list_from_which_it_replays,
    a_permanent_error_fails_at_once,
    a_panicking_handler_fails_the_task_and_the_worker_lives_on,
    the_hard_time_limit_aborts_the_task_and_frees_the_slot,
    the_soft_time_limit_is_told_to_the_handler_before_the_hard_one,
    a_revoked_delayed_task_never_runs,
    an_unknown_task_fails_as_not_registered,
    graceful_shutdown_lets_a_running_task_finish,
    at_the_shutdown_deadline_running_tasks_are_handed_back,
    children_carry_parent_and_root_ids_and_are_listed,
    dedup_key_returns_the_first_task_while_it_is_pending,
    every_state_change_is_an_event_and_the_worker_heartbeats_until_it_stops,
);
