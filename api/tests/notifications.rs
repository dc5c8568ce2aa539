//! `/notifications`: a message to a user, now or later.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_notification_is_queued_202_and_delivered() {
    let app = TestApp::with_worker();
    let user = app.user("client", 77).await;
    let r = app
        .post("/api/v1/notifications", json!({"user_id": user, "message": "hello", "notification_type": "warning"}))
        .await;
    let body = r.assert_status(202);
    assert!(body["eta"].is_null());
    let t = app.finished_task(body["task_id"].as_str().unwrap()).await;
    assert_eq!(t["state"], "SUCCESS", "{t:#}");
    let sent = app.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].message.as_str(), sent[0].tg_id), ("hello", Some(77)));
}

#[tokio::test]
async fn a_notification_with_a_countdown_is_due_later() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let r = app.post("/api/v1/notifications", json!({"user_id": user, "message": "later", "countdown": 3600})).await;
    let eta: chrono::DateTime<chrono::Utc> = r.assert_status(202)["eta"].as_str().unwrap().parse().unwrap();
    assert!(eta > chrono::Utc::now() + chrono::Duration::minutes(59));
}

#[tokio::test]
async fn a_notification_with_an_eta_in_the_past_is_a_422_naming_eta() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let r = app
        .post("/api/v1/notifications", json!({"user_id": user, "message": "x", "eta": "2001-01-01T00:00:00Z"}))
        .await;
    r.assert_problem(422, "validation_failed", Some("eta"));
}

#[tokio::test]
async fn a_notification_with_both_countdown_and_eta_is_a_422_naming_countdown() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let eta = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let r =
        app.post("/api/v1/notifications", json!({"user_id": user, "message": "x", "countdown": 5, "eta": eta})).await;
    r.assert_problem(422, "validation_failed", Some("countdown"));
}

#[tokio::test]
async fn an_empty_message_is_a_422_naming_message() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let r = app.post("/api/v1/notifications", json!({"user_id": user, "message": ""})).await;
    r.assert_problem(422, "validation_failed", Some("message"));
}

#[tokio::test]
async fn an_unknown_notification_type_is_a_422_naming_it() {
    let app = TestApp::new();
    let user = app.user("client", 1).await;
    let r =
        app.post("/api/v1/notifications", json!({"user_id": user, "message": "x", "notification_type": "loud"})).await;
    r.assert_problem(422, "validation_failed", Some("notification_type"));
}

#[tokio::test]
async fn a_notification_to_an_unknown_user_is_a_404() {
    let app = TestApp::new();
    let r = app.post("/api/v1/notifications", json!({"user_id": 999, "message": "x"})).await;
    r.assert_problem(404, "not_found", None);
}
