//! `/metrics` parses as the Prometheus text format and its task counters match the tasks a
//! real (in-process) worker ran.

mod common;

use common::TestMonitor;
use goodrobot_ports::services::TaskOptions;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the text format parses")
}

fn sample<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

fn counter(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, metric, labels).map(|x| &x.value) {
        Some(Value::Counter(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

fn gauge(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, metric, labels).map(|x| &x.value) {
        Some(Value::Gauge(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

#[tokio::test]
async fn task_counters_match_the_tasks_run() {
    let m = TestMonitor::new();
    m.run_flow().await;
    let text = m.get_anon("/metrics").await.text;
    let s = parse(&text);
    assert_eq!(counter(&s, "goodrobot_tasks_total", &[("name", "diag.noop"), ("state", "SUCCESS")]), 3.0, "{text}");
    assert_eq!(counter(&s, "goodrobot_tasks_total", &[("name", "diag.noop"), ("state", "STARTED")]), 3.0);
    assert_eq!(counter(&s, "goodrobot_tasks_total", &[("name", "send_notification"), ("state", "FAILURE")]), 1.0);
    assert!(sample(&s, "goodrobot_tasks_total", &[("name", "diag.noop"), ("state", "FAILURE")]).is_none());
}

#[tokio::test]
async fn the_runtime_histogram_counts_every_finished_task() {
    let m = TestMonitor::new();
    m.run_flow().await;
    let s = parse(&m.get_anon("/metrics").await.text);
    assert_eq!(observations(&s, "goodrobot_task_runtime_seconds", "diag.noop"), 3.0);
}

/// The `+Inf` bucket of a histogram: how many observations it has.
fn observations(s: &Scrape, metric: &str, name: &str) -> f64 {
    match sample(s, metric, &[("name", name)]).map(|x| &x.value) {
        Some(Value::Histogram(buckets)) => {
            assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "cumulative: {buckets:?}");
            buckets.iter().find(|b| b.less_than.is_infinite()).expect("a +Inf bucket").count
        }
        other => panic!("{metric}: {other:?}"),
    }
}

#[tokio::test]
async fn the_wait_histogram_has_one_observation_per_start() {
    let m = TestMonitor::new();
    m.run_flow().await;
    let s = parse(&m.get_anon("/metrics").await.text);
    assert_eq!(observations(&s, "goodrobot_task_wait_seconds", "diag.noop"), 3.0);
}

#[tokio::test]
async fn queue_depths_are_gauges_per_queue_and_kind() {
    let m = TestMonitor::new();
    m.noop(1).await;
    m.submit("diag.noop", json!({"x": 2}), TaskOptions { countdown: Some(3600.0), ..TaskOptions::default() }).await;
    let s = parse(&m.get_anon("/metrics").await.text);
    assert_eq!(gauge(&s, "goodrobot_queue_depth", &[("queue", "default"), ("kind", "ready")]), 1.0);
    assert_eq!(gauge(&s, "goodrobot_queue_depth", &[("queue", "default"), ("kind", "delayed")]), 1.0);
    assert_eq!(gauge(&s, "goodrobot_queue_depth", &[("queue", "reports"), ("kind", "dead")]), 0.0);
}

#[tokio::test]
async fn a_dead_lettered_task_shows_in_the_dead_gauge() {
    let m = TestMonitor::new();
    m.run_flow().await;
    let s = parse(&m.get_anon("/metrics").await.text);
    assert_eq!(gauge(&s, "goodrobot_queue_depth", &[("queue", "default"), ("kind", "dead")]), 1.0);
}

#[tokio::test]
async fn workers_online_counts_heartbeats() {
    let m = TestMonitor::new();
    m.heartbeat("w1", 4, 1).await;
    m.heartbeat("w2", 0, 0).await;
    let s = parse(&m.get_anon("/metrics").await.text);
    assert_eq!(gauge(&s, "goodrobot_workers_online", &[]), 2.0);
    assert_eq!(counter(&s, "goodrobot_worker_tasks_total", &[("worker", "w1"), ("outcome", "failed")]), 1.0);
}

#[tokio::test]
async fn the_scrape_has_no_state_of_a_task_that_did_not_run() {
    let m = TestMonitor::new();
    let s = parse(&m.get_anon("/metrics").await.text);
    assert!(sample(&s, "goodrobot_tasks_total", &[]).is_none());
}
