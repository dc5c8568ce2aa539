//! `/reports`: analytics reports built by a background task.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_report_is_queued_202_and_its_result_is_the_report() {
    let app = TestApp::with_worker();
    let client = app.user("client", 1).await;
    app.order(client).await;
    let r = app
        .post("/api/v1/reports", json!({"report_type": "orders_by_status", "params": {"category": "plumbing"}}))
        .await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    let t = app.finished_task(&id).await;
    assert_eq!(t["state"], "SUCCESS", "{t:#}");
    assert_eq!(t["name"], "generate_analytics_report");
    assert_eq!(t["result"]["report_type"], "orders_by_status");
    assert_eq!(t["result"]["orders_total"], 1);
}

#[tokio::test]
async fn an_unknown_report_type_is_a_422_naming_report_type() {
    let app = TestApp::new();
    let r = app.post("/api/v1/reports", json!({"report_type": "everything"})).await;
    r.assert_problem(422, "validation_failed", Some("report_type"));
}

#[tokio::test]
async fn a_period_that_ends_before_it_starts_is_a_422_naming_params_from() {
    let app = TestApp::new();
    let params = json!({"from": "2030-02-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"});
    let r = app.post("/api/v1/reports", json!({"report_type": "summary", "params": params})).await;
    r.assert_problem(422, "validation_failed", Some("params.from"));
}

#[tokio::test]
async fn an_empty_category_is_a_422_naming_params_category() {
    let app = TestApp::new();
    let r = app.post("/api/v1/reports", json!({"report_type": "summary", "params": {"category": ""}})).await;
    r.assert_problem(422, "validation_failed", Some("params.category"));
}

#[tokio::test]
async fn an_unknown_param_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app.post("/api/v1/reports", json!({"report_type": "summary", "params": {"region": "north"}})).await;
    r.assert_problem(422, "validation_failed", Some("params.region"));
}
