//! Input limits, each refused with problem+json and a stable code: body size (413, with and
//! without `Content-Length`, on every route), JSON nesting depth (400 `too_deep`), the
//! domain's string lengths, pagination, and the task policy's eta horizon and argument size
//! (both configurable).

mod common;

use common::TestApp;
use goodrobot_api::body::{MAX_BODY_BYTES, MAX_JSON_DEPTH};
use goodrobot_domain::{Address, Note, PersonName};
use goodrobot_ports::services::TaskPolicy;
use poem::Body;
use serde_json::json;
use std::time::Duration;

fn oversized_user_body() -> String {
    format!(r#"{{"tg_id": 1, "role": "client", "name": "{}"}}"#, "a".repeat(MAX_BODY_BYTES))
}

#[tokio::test]
async fn a_body_declared_too_large_by_content_length_is_a_413() {
    let app = TestApp::new();
    let body = oversized_user_body();
    let resp = app
        .client
        .post("/api/v1/users")
        .content_type("application/json")
        .header("content-length", body.len().to_string())
        .body(body)
        .send()
        .await;
    TestApp::reply(resp).await.assert_problem(413, "payload_too_large", None);
}

#[tokio::test]
async fn a_body_too_large_without_content_length_is_a_413_once_the_limit_is_read() {
    let app = TestApp::new();
    let stream = Body::from_async_read(std::io::Cursor::new(oversized_user_body().into_bytes()));
    let resp = app.client.post("/api/v1/users").content_type("application/json").body(stream).send().await;
    TestApp::reply(resp).await.assert_problem(413, "payload_too_large", None);
}

#[tokio::test]
async fn a_route_that_reads_no_body_still_refuses_a_declared_oversized_one() {
    let app = TestApp::new();
    let resp = app
        .client
        .post("/api/v1/orders/1/cancel")
        .header("content-length", (MAX_BODY_BYTES + 1).to_string())
        .body(vec![b' '; MAX_BODY_BYTES + 1])
        .send()
        .await;
    TestApp::reply(resp).await.assert_problem(413, "payload_too_large", None);
}

#[tokio::test]
async fn json_nested_deeper_than_the_limit_is_a_400_too_deep() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let deep = format!("{}1{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
    let resp = app
        .client
        .put(format!("/api/v1/users/{user}/state"))
        .content_type("application/json")
        .body(format!(r#"{{"step": "s", "data": {{"x": {deep}}}}}"#))
        .send()
        .await;
    TestApp::reply(resp).await.assert_problem(400, "too_deep", None);
}

#[tokio::test]
async fn a_name_longer_than_the_domain_allows_is_a_422_naming_it() {
    let app = TestApp::new();
    let name = "n".repeat(PersonName::MAX_CHARS + 1);
    let r = app.post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": name})).await;
    r.assert_problem(422, "validation_failed", Some("name"));
}

#[tokio::test]
async fn an_address_longer_than_the_domain_allows_is_a_422_naming_it() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let mut body = common::order_body(client);
    body["address"] = json!("a".repeat(Address::MAX_CHARS + 1));
    app.post("/api/v1/orders", body).await.assert_problem(422, "validation_failed", Some("address"));
}

#[tokio::test]
async fn a_note_longer_than_the_domain_allows_is_a_422_naming_it() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let note = "n".repeat(Note::MAX_CHARS + 1);
    let r =
        app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 1, "note": note})).await;
    r.assert_problem(422, "validation_failed", Some("note"));
}

#[tokio::test]
async fn a_page_larger_than_200_is_a_422_naming_limit() {
    let app = TestApp::new();
    app.get("/api/v1/orders?limit=201").await.assert_problem(422, "validation_failed", Some("limit"));
}

fn with_policy(policy: TaskPolicy) -> TestApp {
    TestApp::configured(|c| c.task_policy = policy)
}

#[tokio::test]
async fn a_countdown_beyond_the_configured_horizon_is_a_422_naming_countdown() {
    let app = with_policy(TaskPolicy { eta_horizon: Duration::from_secs(86_400), ..TaskPolicy::default() });
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "countdown": 2 * 86_400})).await;
    r.assert_problem(422, "validation_failed", Some("countdown"));
}

#[tokio::test]
async fn an_eta_beyond_the_configured_horizon_is_a_422_naming_eta() {
    let app = with_policy(TaskPolicy { eta_horizon: Duration::from_secs(86_400), ..TaskPolicy::default() });
    let eta = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "eta": eta})).await;
    r.assert_problem(422, "validation_failed", Some("eta"));
}

#[tokio::test]
async fn an_eta_within_the_default_horizon_of_30_days_is_accepted() {
    let app = TestApp::new();
    let eta = (chrono::Utc::now() + chrono::Duration::days(29)).to_rfc3339();
    app.post("/api/v1/tasks", json!({"name": "diag.noop", "eta": eta})).await.assert_status(202);
}

#[tokio::test]
async fn arguments_over_the_configured_size_are_a_422_naming_args() {
    let app = with_policy(TaskPolicy { max_args_bytes: 100, ..TaskPolicy::default() });
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "kwargs": {"x": "y".repeat(200)}})).await;
    r.assert_problem(422, "validation_failed", Some("args"));
}
