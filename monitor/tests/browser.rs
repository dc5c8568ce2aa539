//! End to end in a real browser: the monitor (in-process, port 0) and a worker over the real
//! Redis (a random key prefix, deleted at the end), Debian's headless chromium driven through
//! chromedriver. A person's session: log in, see the worker online and the flow's tasks with
//! their states, watch a new task appear without reloading, revoke the delayed task through
//! the UI and see it REVOKED. Screenshots go to `target/artifacts/`.

mod common;

use common::{
    PASSWORD, TestMonitor, USER,
    browser::{browser, chromedriver, log_in, row, screenshot, wait_for},
    config,
    real::RedisPrefix,
};
use fantoccini::Locator;
use goodrobot_domain::task::{QueueName, TaskState};
use goodrobot_monitor::{MonitorDeps, MonitorState, serve};
use goodrobot_ports::services::TaskOptions;
use goodrobot_worker::{Worker, WorkerConfig, WorkerDeps};
use serde_json::json;
use std::{net::SocketAddr, time::Duration};
use tokio_util::sync::CancellationToken;

/// The monitor on a port of its own.
async fn start_monitor(m: &TestMonitor, shutdown: CancellationToken) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = MonitorState::new(MonitorDeps::from_infra(&m.infra), config());
    let task = tokio::spawn(async move { serve(listener, state, shutdown).await.unwrap() });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_admin_sees_the_worker_and_the_flow_and_revokes_the_delayed_task() {
    let redis = RedisPrefix::new("browser");
    let m = TestMonitor::over(redis.infra().await, config());

    // A worker over the same Redis, running for the whole session.
    let stop_worker = CancellationToken::new();
    let worker = Worker::new(
        WorkerConfig { concurrency: 2, queues: vec![QueueName::default_queue()], ..WorkerConfig::default() },
        WorkerDeps::from_infra(&m.infra),
    );
    let worker_id = worker.id().to_owned();
    let worker_task = tokio::spawn(worker.run(stop_worker.clone()));

    // The flow: three noops, one task that fails for good, one due in an hour.
    let mut noops = Vec::new();
    for i in 0..3 {
        noops.push(m.noop(i).await);
    }
    let failing =
        m.submit("send_notification", json!({"user_id": 999_999, "message": "hi"}), TaskOptions::default()).await;
    let delayed = m
        .submit("diag.noop", json!({"x": 99}), TaskOptions { countdown: Some(3600.0), ..TaskOptions::default() })
        .await;
    for id in noops.iter().chain([&failing]) {
        m.infra.results.wait(*id, Duration::from_secs(30)).await.unwrap().unwrap();
    }

    let stop_monitor = CancellationToken::new();
    let (addr, monitor_task) = start_monitor(&m, stop_monitor.clone()).await;
    let base = format!("http://{addr}");
    let driver = chromedriver().await;
    let c = browser(&driver).await;

    // Log in (the overview asks for it first).
    c.goto(&format!("{base}/")).await.unwrap();
    log_in(&c, USER, PASSWORD).await;

    // The worker is online, and its counters follow its heartbeats without a reload.
    wait_for(&c, &format!(r#"#workers tr[data-worker="{worker_id}"]"#)).await;
    wait_for(&c, &format!(r#"#workers tr[data-worker="{worker_id}"][data-processed="4"]"#)).await;
    wait_for(&c, r#"#queues tr[data-queue="default"]"#).await;
    screenshot(&c, "monitor.png").await;

    // The flow's tasks with their states.
    c.goto(&format!("{base}/tasks")).await.unwrap();
    for id in &noops {
        wait_for(&c, &row(*id, TaskState::Success)).await;
    }
    wait_for(&c, &row(failing, TaskState::Failure)).await;
    wait_for(&c, &row(delayed, TaskState::Pending)).await;

    // A task run now appears without a reload (the page polls the JSON API).
    let late = m.noop(7).await;
    m.infra.results.wait(late, Duration::from_secs(30)).await.unwrap().unwrap();
    wait_for(&c, &row(late, TaskState::Success)).await;
    screenshot(&c, "monitor-tasks.png").await;

    // Revoke the delayed task through its page.
    c.find(Locator::Css(&format!(r#"#tasks tr[data-task="{delayed}"] a"#))).await.unwrap().click().await.unwrap();
    wait_for(&c, "#action-revoke").await.click().await.unwrap();
    let badge = wait_for(&c, "#task-state .state-revoked").await;
    assert_eq!(badge.text().await.unwrap(), "REVOKED");
    assert_eq!(m.record(delayed).await.state, TaskState::Revoked);
    screenshot(&c, "monitor-task.png").await;

    c.close().await.unwrap();
    stop_monitor.cancel();
    monitor_task.await.unwrap();
    stop_worker.cancel();
    worker_task.await.unwrap().unwrap();
}
