//! A worker's `/metrics`: parses as the Prometheus text format, and its counters match the
//! tasks an in-process worker ran (read after the worker stopped, so every outcome is in).

mod common;

use common::{FnHandler, Harness, config, harness};
use goodrobot_domain::task::{DiagNoop, QueueName};
use goodrobot_ports::{
    BrokerError,
    broker::MockBroker,
    services::{TaskOptions, TaskRequest},
};
use goodrobot_worker::{Registry, TaskError, Worker, WorkerMetrics, serve_metrics};
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the text format parses")
}

fn sample<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

/// A counter's or gauge's value; 0 for a counter with no sample with these labels yet.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, metric, labels).map(|x| &x.value) {
        Some(Value::Counter(v) | Value::Gauge(v)) => *v,
        None => 0.0,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

/// How many observations a histogram has (its `+Inf` bucket).
fn observations(s: &Scrape, metric: &str, name: &str) -> f64 {
    match sample(s, metric, &[("name", name)]).map(|x| &x.value) {
        Some(Value::Histogram(buckets)) => {
            assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "cumulative: {buckets:?}");
            buckets.iter().find(|b| b.less_than.is_infinite()).expect("a +Inf bucket").count
        }
        other => panic!("{metric}: {other:?}"),
    }
}

fn noop(x: i64) -> TaskRequest {
    TaskRequest {
        name: "diag.noop".into(),
        kwargs: json!({ "x": x }).as_object().cloned().unwrap(),
        ..Default::default()
    }
}

/// `diag.noop` whose handler answers `f(n)` on its n-th call (from 0).
fn noop_registry(f: impl Fn(u32) -> Result<serde_json::Value, TaskError> + Send + Sync + 'static) -> Registry {
    let calls = Arc::new(AtomicU32::new(0));
    let f = Arc::new(f);
    let mut r = Registry::new();
    r.register::<DiagNoop, _>(FnHandler(move |_| {
        let (n, f) = (calls.fetch_add(1, Ordering::SeqCst), f.clone());
        async move { f(n) }
    }));
    r
}

/// Starts a worker over `h`'s ports and returns its metrics.
fn start(h: &mut Harness, registry: Registry) -> WorkerMetrics {
    let worker = Worker::with_registry(config(), h.deps.clone(), registry);
    let metrics = worker.metrics();
    let token = h.shutdown.clone();
    h.worker = Some(tokio::spawn(async move { worker.run(token).await.unwrap() }));
    metrics
}

/// Submits the tasks and waits (no polling) until each has finished.
async fn run_all(h: &Harness, reqs: &[TaskRequest]) {
    for req in reqs {
        let id = h.tasks.submit(req).await.unwrap().task_id;
        h.finished(id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_successes_and_one_failure_are_counted_by_name_and_state() {
    let mut h = harness();
    let metrics = start(
        &mut h,
        noop_registry(|n| if n == 0 { Err(TaskError::permanent("Boom", "the first one fails")) } else { Ok(json!(n)) }),
    );
    run_all(&h, &[noop(1), noop(2), noop(3), noop(4)]).await;
    h.stop().await;
    let text = metrics.render().await;
    let s = parse(&text);
    let runs = |state| value(&s, "goodrobot_worker_task_runs_total", &[("name", "diag.noop"), ("state", state)]);
    assert_eq!((runs("SUCCESS"), runs("FAILURE")), (3.0, 1.0), "{text}");
    assert_eq!(value(&s, "goodrobot_worker_task_dead_lettered_total", &[("name", "diag.noop")]), 1.0);
    assert_eq!(value(&s, "goodrobot_worker_task_retries_total", &[("name", "diag.noop")]), 0.0);
    assert_eq!(value(&s, "goodrobot_worker_tasks_in_progress", &[]), 0.0);
    assert_eq!(value(&s, "goodrobot_worker_lease_losses_total", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_is_timed_and_every_start_has_its_wait() {
    let mut h = harness();
    let metrics = start(&mut h, noop_registry(|n| Ok(json!(n))));
    run_all(&h, &[noop(1), noop(2)]).await;
    h.stop().await;
    let s = parse(&metrics.render().await);
    assert_eq!(observations(&s, "goodrobot_worker_task_runtime_seconds", "diag.noop"), 2.0);
    assert_eq!(observations(&s, "goodrobot_worker_task_wait_seconds", "diag.noop"), 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_counted_apart_from_the_final_success() {
    let mut h = harness();
    let metrics = start(
        &mut h,
        noop_registry(|n| {
            if n < 2 {
                Err(TaskError::Retry { countdown: Some(Duration::ZERO), reason: "not yet".into() })
            } else {
                Ok(json!("done"))
            }
        }),
    );
    run_all(&h, &[noop(1)]).await;
    h.stop().await;
    let s = parse(&metrics.render().await);
    let runs = |state| value(&s, "goodrobot_worker_task_runs_total", &[("name", "diag.noop"), ("state", state)]);
    assert_eq!((runs("RETRY"), runs("SUCCESS")), (2.0, 1.0));
    assert_eq!(value(&s, "goodrobot_worker_task_retries_total", &[("name", "diag.noop")]), 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_without_a_handler_is_labelled_unregistered() {
    let mut h = harness();
    let metrics = start(&mut h, Registry::new());
    run_all(&h, &[noop(1)]).await;
    h.stop().await;
    let s = parse(&metrics.render().await);
    assert_eq!(value(&s, "goodrobot_worker_task_runs_total", &[("name", "unregistered"), ("state", "FAILURE")]), 1.0);
    assert!(sample(&s, "goodrobot_worker_task_runs_total", &[("name", "diag.noop")]).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_task_is_in_progress_until_it_ends() {
    let mut h = harness();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let release = Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    let mut registry = Registry::new();
    registry.register::<DiagNoop, _>(FnHandler(move |_| {
        let (tx, r) = (started_tx.lock().unwrap().take(), r.clone());
        async move {
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
            r.notified().await;
            Ok(json!(null))
        }
    }));
    let metrics = start(&mut h, registry);
    let id = h.tasks.submit(&noop(1)).await.unwrap().task_id;
    started_rx.await.unwrap();
    let s = parse(&metrics.render().await);
    assert_eq!(value(&s, "goodrobot_worker_tasks_in_progress", &[]), 1.0);
    assert_eq!(value(&s, "goodrobot_worker_queue_depth", &[("queue", "default"), ("kind", "in_flight")]), 1.0);
    release.notify_one();
    h.finished(id).await;
    h.stop().await;
    let s = parse(&metrics.render().await);
    assert_eq!(value(&s, "goodrobot_worker_tasks_in_progress", &[]), 0.0);
}

#[tokio::test]
async fn queue_depths_are_read_from_the_broker_at_each_scrape() {
    let h = harness();
    let metrics = Worker::new(config(), h.deps.clone()).metrics();
    h.tasks.submit(&noop(1)).await.unwrap();
    let mut later = noop(2);
    later.options = TaskOptions { countdown: Some(3600.0), ..TaskOptions::default() };
    h.tasks.submit(&later).await.unwrap();
    let s = parse(&metrics.render().await);
    let depth = |kind| value(&s, "goodrobot_worker_queue_depth", &[("queue", "default"), ("kind", kind)]);
    assert_eq!((depth("ready"), depth("delayed"), depth("in_flight"), depth("dead")), (1.0, 1.0, 0.0, 0.0));
    assert_eq!(value(&s, "goodrobot_worker_queue_stats_up", &[("queue", "default")]), 1.0);
}

#[tokio::test]
async fn a_broker_without_statistics_leaves_no_depth_and_says_so() {
    let mut h = harness();
    let mut broker = MockBroker::new();
    broker.expect_stats().returning(|_| Err(BrokerError::Unavailable("down".into())));
    h.deps.broker = Arc::new(broker);
    let metrics = Worker::new(config(), h.deps.clone()).metrics().with_stats_timeout(Duration::from_millis(200));
    let s = parse(&metrics.render().await);
    assert!(sample(&s, "goodrobot_worker_queue_depth", &[]).is_none());
    assert_eq!(value(&s, "goodrobot_worker_queue_stats_up", &[("queue", "default")]), 0.0);
}

#[tokio::test]
async fn only_the_workers_own_queues_are_reported() {
    let h = harness();
    let mut cfg = config();
    cfg.queues = vec![QueueName::new("reports").unwrap()];
    let s = parse(&Worker::new(cfg, h.deps.clone()).metrics().render().await);
    assert_eq!(value(&s, "goodrobot_worker_queue_stats_up", &[("queue", "reports")]), 1.0);
    assert!(sample(&s, "goodrobot_worker_queue_stats_up", &[("queue", "default")]).is_none());
}

/// A plain HTTP/1.1 GET on a real socket: the status line, headers and body as text.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn the_listener_serves_the_text_format_and_stops_with_the_shutdown_token() {
    let h = harness();
    let metrics = Worker::new(config(), h.deps.clone()).metrics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve_metrics(listener, metrics, stop.clone()));

    let answer = http_get(addr, "/metrics").await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "{head}");
    let s = parse(body);
    assert!(s.docs.contains_key("goodrobot_worker_queue_depth"), "{body}");
    assert!(http_get(addr, "/other").await.starts_with("HTTP/1.1 404"));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("stops on shutdown").unwrap().unwrap();
}
