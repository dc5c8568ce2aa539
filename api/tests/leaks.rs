//! Errors never leak internals: when Postgres or Redis fail (here: adapters that fail with
//! SQL, constraint names, hosts, passwords and script errors in their messages), or a handler
//! panics, the answer is an opaque problem+json 500 or 503 with a request id, nothing more.

mod common;

use common::{
    TestApp,
    failing::{Failing, Failure, assert_no_leak},
    order_body,
};
use goodrobot_bootstrap::Infra;
use poem::http::Method;
use serde_json::{Value, json};
use std::sync::Arc;

/// The app over memory adapters whose repositories (the "Postgres" ports) fail with `f`.
fn database_failing(f: Failure) -> TestApp {
    let mut infra = Infra::memory();
    let failing = Arc::new(Failing(f));
    infra.users = failing.clone();
    infra.orders = failing.clone();
    infra.bids = failing;
    TestApp::over(infra)
}

/// The app whose broker and result backend (the "Redis" task ports) fail with `f`.
fn broker_failing(f: Failure) -> TestApp {
    let mut infra = Infra::memory();
    let failing = Arc::new(Failing(f));
    infra.broker = failing.clone();
    infra.results = failing;
    TestApp::over(infra)
}

const TASK: &str = "/api/v1/tasks/00000000-0000-0000-0000-000000000001";

/// A request to every endpoint that reads or writes the repositories.
fn database_requests() -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/users".into(), None),
        (Method::GET, "/api/v1/users/1".into(), None),
        (Method::POST, "/api/v1/users".into(), Some(json!({"tg_id": 1, "role": "client", "name": "Ann"}))),
        (Method::PATCH, "/api/v1/users/1".into(), Some(json!({"name": "Anna"}))),
        (Method::GET, "/api/v1/orders".into(), None),
        (Method::GET, "/api/v1/orders/1".into(), None),
        (Method::POST, "/api/v1/orders".into(), Some(order_body(1))),
        (Method::POST, "/api/v1/orders/1/cancel".into(), None),
        (Method::POST, "/api/v1/orders/1/complete".into(), None),
        (Method::GET, "/api/v1/orders/1/bids".into(), None),
        (Method::POST, "/api/v1/orders/1/bids".into(), Some(json!({"master_id": 2, "price": 1}))),
        (Method::POST, "/api/v1/bids/1/assign?master_id=2".into(), None),
        (Method::POST, "/api/v1/notifications".into(), Some(json!({"user_id": 1, "message": "hi"}))),
        (Method::GET, "/api/v1/users/1/state".into(), None),
    ]
}

/// A request to every endpoint that uses the broker or the result backend.
fn task_requests() -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::POST, "/api/v1/tasks".into(), Some(json!({"name": "diag.noop"}))),
        (Method::GET, TASK.into(), None),
        (Method::GET, format!("{TASK}?wait=1"), None),
        (Method::DELETE, TASK.into(), None),
        (Method::POST, format!("{TASK}/replay"), None),
        (Method::POST, "/api/v1/reports".into(), Some(json!({"report_type": "summary"}))),
    ]
}

async fn assert_opaque(app: &TestApp, requests: Vec<(Method, String, Option<Value>)>, status: u16, code: &str) {
    for (method, path, body) in requests {
        let r = app.anonymous().send(method.clone(), &path, body.as_ref()).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {r:#?}");
        r.assert_problem(status, code, None);
        assert!(r.headers.contains_key("x-request-id"), "{method} {path}");
        assert_no_leak(&r.body.to_string());
    }
}

#[tokio::test]
async fn a_database_error_is_an_opaque_500_on_every_endpoint_that_uses_it() {
    let app = database_failing(Failure::Internal);
    assert_opaque(&app, database_requests(), 500, "internal").await;
}

#[tokio::test]
async fn a_database_outage_is_an_opaque_503_on_every_endpoint_that_uses_it() {
    let app = database_failing(Failure::Unavailable);
    assert_opaque(&app, database_requests(), 503, "unavailable").await;
}

#[tokio::test]
async fn a_broker_error_is_an_opaque_500_on_every_task_endpoint() {
    let app = broker_failing(Failure::Internal);
    assert_opaque(&app, task_requests(), 500, "internal").await;
}

#[tokio::test]
async fn a_broker_outage_is_an_opaque_503_on_every_task_endpoint() {
    let app = broker_failing(Failure::Unavailable);
    assert_opaque(&app, task_requests(), 503, "unavailable").await;
}

#[tokio::test]
async fn a_state_store_outage_is_an_opaque_503() {
    let mut infra = Infra::memory();
    infra.state = Arc::new(Failing(Failure::Unavailable));
    let app = TestApp::over(infra);
    let user = app.user("client", 1).await;
    let path = format!("/api/v1/users/{user}/state");
    let requests = vec![
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(json!({"step": "s"}))),
        (Method::PATCH, path.clone(), Some(json!({"data": {"a": 1}}))),
        (Method::DELETE, path, None),
    ];
    assert_opaque(&app, requests, 503, "unavailable").await;
}

#[tokio::test]
async fn a_cache_outage_does_not_show_in_a_read() {
    let mut infra = Infra::memory();
    infra.cache = Arc::new(Failing(Failure::Unavailable));
    let app = TestApp::over(infra);
    let user = app.user("client", 1).await;
    let r = app.get(&format!("/api/v1/users/{user}")).await;
    assert_no_leak(&r.assert_status(200).to_string());
}

#[tokio::test]
async fn a_rate_limiter_that_refuses_says_nothing_of_why() {
    let mut infra = Infra::memory();
    infra.rate_limiter = Arc::new(Failing(Failure::Unavailable));
    let app = TestApp::over(infra);
    let r = app.get("/api/v1/users").await;
    r.assert_problem(503, "unavailable", None);
    assert_no_leak(&r.body.to_string());
}

#[tokio::test]
async fn ready_names_a_failing_dependency_without_its_error_text() {
    let app = TestApp::with_state(|s| s.health.push(Arc::new(Failing(Failure::Unavailable))));
    let r = app.get("/api/v1/ready").await;
    let body = r.assert_status(503);
    assert!(body["dependencies"].as_array().unwrap().iter().any(|d| d["name"] == "postgres" && d["ok"] == false));
    assert_no_leak(&body.to_string());
}

#[tokio::test]
async fn a_panicking_handler_is_an_opaque_500() {
    let app = database_failing(Failure::Panic);
    let r = app.get("/api/v1/orders/1").await;
    r.assert_problem(500, "internal", None);
    assert!(r.headers.contains_key("x-request-id"));
    assert_no_leak(&r.body.to_string());
}
