//! `/orders`: post, list with filters, read, complete, cancel.

mod common;

use common::{TestApp, order_body};
use serde_json::json;

#[tokio::test]
async fn posting_an_order_returns_201_new_with_its_location() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let r = app.post("/api/v1/orders", order_body(client)).await;
    let o = r.assert_status(201);
    assert_eq!((o["status"].as_str(), o["client_id"].as_i64()), (Some("new"), Some(client)));
    assert!(o["master_id"].is_null());
    assert_eq!(r.location, Some(format!("/api/v1/orders/{}", o["id"])));
}

#[tokio::test]
async fn an_order_by_a_master_is_a_422_wrong_role_naming_client_id() {
    let app = TestApp::new();
    let master = app.user("master", 1).await;
    app.post("/api/v1/orders", order_body(master)).await.assert_problem(422, "wrong_role", Some("client_id"));
}

#[tokio::test]
async fn an_order_by_an_inactive_client_is_a_422_inactive_user() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    app.patch(&format!("/api/v1/users/{client}"), json!({"is_active": false})).await.assert_status(200);
    app.post("/api/v1/orders", order_body(client)).await.assert_problem(422, "inactive_user", Some("client_id"));
}

#[tokio::test]
async fn an_order_by_an_unknown_client_is_a_404() {
    let app = TestApp::new();
    app.post("/api/v1/orders", order_body(999)).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn an_order_in_the_past_is_a_422_naming_when_at() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let mut body = order_body(client);
    body["when_at"] = json!("2001-01-01T00:00:00Z");
    app.post("/api/v1/orders", body).await.assert_problem(422, "validation_failed", Some("when_at"));
}

#[tokio::test]
async fn a_when_at_that_is_not_a_time_is_a_422_naming_it() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let mut body = order_body(client);
    body["when_at"] = json!("tomorrow");
    app.post("/api/v1/orders", body).await.assert_problem(422, "validation_failed", Some("when_at"));
}

#[tokio::test]
async fn an_empty_category_is_a_422_naming_category() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let mut body = order_body(client);
    body["category"] = json!("");
    app.post("/api/v1/orders", body).await.assert_problem(422, "validation_failed", Some("category"));
}

#[tokio::test]
async fn orders_are_filtered_by_status_category_and_client() {
    let app = TestApp::new();
    let (a, b) = (app.user("client", 1).await, app.user("client", 2).await);
    let first = app.order(a).await;
    let second = app.order(a).await;
    let mut electrics = order_body(b);
    electrics["category"] = json!("electrics");
    app.post("/api/v1/orders", electrics).await.assert_status(201);
    app.post_empty(&format!("/api/v1/orders/{second}/cancel")).await.assert_status(200);

    let ids = |r: &common::Reply| -> Vec<i64> {
        r.body["items"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
    };
    let r = app.get(&format!("/api/v1/orders?client_id={a}")).await;
    r.assert_status(200);
    assert_eq!(ids(&r), [first, second]);
    let r = app.get(&format!("/api/v1/orders?client_id={a}&status=new")).await;
    assert_eq!(ids(&r), [first]);
    let r = app.get("/api/v1/orders?category=electrics").await;
    assert_eq!(r.body["items"][0]["client_id"], b);
    assert_eq!(ids(&r).len(), 1);
}

#[tokio::test]
async fn an_unknown_status_filter_is_a_400_naming_status() {
    let app = TestApp::new();
    app.get("/api/v1/orders?status=lost").await.assert_problem(400, "invalid_parameter", Some("status"));
}

#[tokio::test]
async fn reading_an_order_returns_it() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let id = app.order(client).await;
    assert_eq!(app.get(&format!("/api/v1/orders/{id}")).await.assert_status(200)["id"], id);
}

#[tokio::test]
async fn reading_a_missing_order_is_a_404_problem() {
    let app = TestApp::new();
    app.get("/api/v1/orders/999").await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn cancelling_a_new_order_cancels_it() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let id = app.order(client).await;
    let r = app.post_empty(&format!("/api/v1/orders/{id}/cancel")).await;
    assert_eq!(r.assert_status(200)["status"], "cancelled");
}

#[tokio::test]
async fn completing_a_new_order_is_a_409_illegal_transition() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let id = app.order(client).await;
    app.post_empty(&format!("/api/v1/orders/{id}/complete")).await.assert_problem(409, "illegal_transition", None);
}

#[tokio::test]
async fn cancelling_a_cancelled_order_is_a_409_illegal_transition() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let id = app.order(client).await;
    app.post_empty(&format!("/api/v1/orders/{id}/cancel")).await.assert_status(200);
    app.post_empty(&format!("/api/v1/orders/{id}/cancel")).await.assert_problem(409, "illegal_transition", None);
}

#[tokio::test]
async fn completing_a_missing_order_is_a_404_problem() {
    let app = TestApp::new();
    app.post_empty("/api/v1/orders/999/complete").await.assert_problem(404, "not_found", None);
}
