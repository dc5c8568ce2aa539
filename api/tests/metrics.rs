//! `GET /metrics`: open, never rate limited, outside the OpenAPI document, in the Prometheus
//! text format; its counters match the requests made.

mod common;

use common::TestApp;
use goodrobot_api::rate_limit::RateLimits;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;
use std::time::Duration;

/// A scrape by an anonymous client, parsed.
async fn scrape(app: &TestApp) -> Scrape {
    let resp = app.client.get("/metrics").send().await;
    resp.assert_status_is_ok();
    resp.assert_header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    let text = resp.0.into_body().into_string().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the text format parses")
}

fn sample<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

/// A counter's value; 0 when it has no sample with these labels yet.
fn counter(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, metric, labels).map(|x| &x.value) {
        Some(Value::Counter(v)) => *v,
        None => 0.0,
        other => panic!("{metric}{labels:?} is not a counter: {other:?}"),
    }
}

fn requests(s: &Scrape, route: &str, method: &str, status: &str) -> f64 {
    counter(s, "goodrobot_http_requests_total", &[("route", route), ("method", method), ("status", status)])
}

#[tokio::test]
async fn metrics_are_open_to_a_client_without_a_key() {
    let app = TestApp::with_keys();
    let s = scrape(&app).await;
    assert!(s.docs.contains_key("goodrobot_cache_lookups_total"), "{:?}", s.docs.keys());
}

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200);
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200);
    app.get("/api/v1/users/999999").await.assert_status(404);
    app.get("/no/such/page").await.assert_status(404);
    let s = scrape(&app).await;
    assert_eq!(requests(&s, "/api/v1/users/:id", "GET", "200"), 2.0);
    assert_eq!(requests(&s, "/api/v1/users/:id", "GET", "404"), 1.0);
    assert_eq!(requests(&s, "/api/v1/users", "POST", "201"), 1.0);
    assert_eq!(requests(&s, "unmatched", "GET", "404"), 1.0);
    assert!(
        s.samples.iter().all(|x| x.labels.get("route").is_none_or(|r| !r.contains("999999"))),
        "a raw path became a label"
    );
}

#[tokio::test]
async fn a_request_refused_before_any_operation_is_counted_under_the_api_prefix() {
    let app = TestApp::with_keys();
    app.anonymous().get("/api/v1/users").await.assert_status(401);
    let s = scrape(&app).await;
    assert_eq!(requests(&s, "/api/v1", "GET", "401"), 1.0);
}

#[tokio::test]
async fn every_request_is_timed_by_route_template() {
    let app = TestApp::new();
    app.get("/api/v1/users").await.assert_status(200);
    app.get("/api/v1/users").await.assert_status(200);
    let s = scrape(&app).await;
    let timed = sample(&s, "goodrobot_http_request_duration_seconds", &[("route", "/api/v1/users"), ("method", "GET")])
        .map(|x| &x.value);
    match timed {
        Some(Value::Histogram(buckets)) => {
            let inf = buckets.iter().find(|b| b.less_than.is_infinite()).expect("a +Inf bucket");
            assert_eq!(inf.count, 2.0);
        }
        other => panic!("no duration histogram: {other:?}"),
    }
}

#[tokio::test]
async fn a_429_increments_the_refusal_counter() {
    let app =
        TestApp::with_state(|s| s.rate_limits = RateLimits { reads: 1, writes: 5, period: Duration::from_secs(60) });
    app.get("/api/v1/users").await.assert_status(200);
    app.get("/api/v1/users").await.assert_problem(429, "rate_limited", None);
    let s = scrape(&app).await;
    assert_eq!(counter(&s, "goodrobot_rate_limit_refusals_total", &[("kind", "read"), ("reason", "limited")]), 1.0);
    assert_eq!(counter(&s, "goodrobot_rate_limit_refusals_total", &[("kind", "write")]), 0.0);
    assert_eq!(requests(&s, "/api/v1", "GET", "429"), 1.0);
}

#[tokio::test]
async fn metrics_are_never_rate_limited() {
    let app =
        TestApp::with_state(|s| s.rate_limits = RateLimits { reads: 1, writes: 1, period: Duration::from_secs(60) });
    for _ in 0..3 {
        scrape(&app).await;
    }
}

#[tokio::test]
async fn a_cached_user_read_counts_one_miss_then_one_hit() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200);
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200);
    let s = scrape(&app).await;
    let lookups = |result| counter(&s, "goodrobot_cache_lookups_total", &[("cache", "users"), ("result", result)]);
    assert_eq!((lookups("miss"), lookups("hit"), lookups("error")), (1.0, 1.0, 0.0));
}

#[tokio::test]
async fn submitted_tasks_are_counted_by_name_and_duplicates_apart() {
    let app = TestApp::new();
    for x in 0..2 {
        app.post("/api/v1/tasks", json!({"name": "diag.noop", "kwargs": {"x": x}})).await.assert_status(202);
    }
    for _ in 0..2 {
        let body = json!({"name": "diag.noop", "kwargs": {"x": 9}, "dedup_key": "once"});
        app.post("/api/v1/tasks", body).await.assert_status(202);
    }
    let s = scrape(&app).await;
    let submitted =
        |outcome| counter(&s, "goodrobot_api_tasks_submitted_total", &[("name", "diag.noop"), ("outcome", outcome)]);
    assert_eq!((submitted("queued"), submitted("duplicate")), (3.0, 1.0));
}

#[tokio::test]
async fn metrics_are_not_an_operation_of_the_openapi_document() {
    let app = TestApp::new();
    let spec = app.get("/openapi.json").await;
    let paths = spec.assert_status(200)["paths"].as_object().unwrap();
    assert!(!paths.contains_key("/metrics"), "{:?}", paths.keys());
    assert!(spec.body["info"]["description"].as_str().unwrap().contains("/metrics"));
}

#[tokio::test]
async fn an_embedded_workers_task_counters_are_in_the_apis_metrics_once_per_family() {
    use goodrobot_api::{AppState, app, embedded::worker_deps};
    use goodrobot_bootstrap::Infra;
    use goodrobot_domain::task::QueueName;
    use goodrobot_worker::{Worker, WorkerConfig};
    use poem::{EndpointExt, test::TestClient};
    use tokio_util::sync::CancellationToken;

    // As `goodrobot-api` wires it with tasks in memory: the worker's metrics in the state.
    let infra = Infra::memory();
    let config = WorkerConfig {
        concurrency: 2,
        queues: vec![QueueName::default_queue()],
        worker_id: Some("api-embedded-worker".into()),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(config, worker_deps(&infra));
    let state = AppState::from_infra(&infra).with_embedded_worker(worker.metrics());
    assert!(state.metrics.has_worker());
    let client = TestClient::new(app(state).map_to_response().boxed());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    for x in 0..2 {
        let r = client.post("/api/v1/tasks").body_json(&json!({"name": "diag.noop", "kwargs": {"x": x}})).send().await;
        r.assert_status(poem::http::StatusCode::ACCEPTED);
        let id = r.json().await.value().object().get("task_id").string().to_owned();
        let done = client.get(format!("/api/v1/tasks/{id}?wait=10")).send().await;
        done.assert_status_is_ok();
        done.json().await.value().object().get("state").assert_string("SUCCESS");
    }
    // The worker counts a run just after recording it: stopped, every count is in.
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let resp = client.get("/metrics").send().await;
    resp.assert_status_is_ok();
    let text = resp.0.into_body().into_string().await.unwrap();
    let s = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the text format parses");
    let runs = |state| counter(&s, "goodrobot_worker_task_runs_total", &[("name", "diag.noop"), ("state", state)]);
    assert_eq!((runs("SUCCESS"), runs("FAILURE")), (2.0, 0.0), "{text}");
    let submitted = counter(&s, "goodrobot_api_tasks_submitted_total", &[("name", "diag.noop"), ("outcome", "queued")]);
    assert_eq!(submitted, 2.0);
    assert_eq!(requests(&s, "/api/v1/tasks", "POST", "202"), 2.0);
    match sample(&s, "goodrobot_worker_queue_depth", &[("queue", "default"), ("kind", "ready")]).map(|x| &x.value) {
        Some(Value::Gauge(v)) => assert_eq!(*v, 0.0),
        other => panic!("no depth gauge for the embedded worker's queue: {other:?}\n{text}"),
    }
    // A text exposition names each family once.
    let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let all = types.len();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), all, "a family is declared twice:\n{text}");
}

#[tokio::test]
async fn without_an_embedded_worker_the_api_has_no_worker_series() {
    let app = TestApp::new();
    assert!(!app.state.metrics.has_worker());
    let s = scrape(&app).await;
    assert!(s.docs.keys().all(|k| !k.starts_with("goodrobot_worker_")), "{:?}", s.docs.keys());
}
