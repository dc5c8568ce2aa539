//! `/users/{id}/state`: a user's temporary state with a TTL.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn put_then_get_returns_the_state() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    let r = app
        .put(&format!("/api/v1/users/{id}/state"), json!({"step": "awaiting_address", "data": {"city": "Kazan"}}))
        .await;
    assert_eq!(r.assert_status(200)["step"], "awaiting_address");
    let r = app.get(&format!("/api/v1/users/{id}/state")).await;
    let body = r.assert_status(200);
    assert_eq!((body["step"].clone(), body["data"]["city"].clone()), (json!("awaiting_address"), json!("Kazan")));
}

#[tokio::test]
async fn patch_merges_keys_and_null_removes_one() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    app.put(&format!("/api/v1/users/{id}/state"), json!({"step": "s", "data": {"a": 1, "b": 2}}))
        .await
        .assert_status(200);
    let r = app.patch(&format!("/api/v1/users/{id}/state"), json!({"data": {"b": null, "c": 3}})).await;
    assert_eq!(r.assert_status(200)["data"], json!({"a": 1, "c": 3}));
}

#[tokio::test]
async fn delete_forgets_the_state() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    app.put(&format!("/api/v1/users/{id}/state"), json!({"step": "s"})).await.assert_status(200);
    app.delete(&format!("/api/v1/users/{id}/state")).await.assert_status(204);
    app.get(&format!("/api/v1/users/{id}/state")).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn state_of_an_unknown_user_is_not_found() {
    let app = TestApp::new();
    app.get("/api/v1/users/999/state").await.assert_problem(404, "not_found", None);
    app.put("/api/v1/users/999/state", json!({"step": "s"})).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn invalid_state_is_refused_naming_the_field() {
    let app = TestApp::new();
    let id = app.user("client", 1).await;
    let path = format!("/api/v1/users/{id}/state");
    app.put(&path, json!({"step": "s", "ttl_secs": 0})).await.assert_problem(
        422,
        "validation_failed",
        Some("ttl_secs"),
    );
    app.put(&path, json!({"step": "s", "data": [1]})).await.assert_problem(422, "validation_failed", Some("state"));
    app.put(&path, json!({"data": {}})).await.assert_problem(422, "validation_failed", Some("step"));
}
