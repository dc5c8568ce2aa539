//! Bids: placing and listing them, and the checks made before an assignment is queued.

mod common;

use common::TestApp;
use serde_json::json;

/// A client, a master, an order of the client and the master's bid on it.
async fn scene(app: &TestApp) -> (i64, i64, i64, i64) {
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let bid = app.bid(order, master, 15_000).await;
    (client, master, order, bid)
}

#[tokio::test]
async fn placing_a_bid_returns_201_active() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let r = app
        .post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 2500, "note": "today"}))
        .await;
    let b = r.assert_status(201);
    assert_eq!(
        (b["status"].as_str(), b["price"].as_i64(), b["note"].as_str()),
        (Some("active"), Some(2500), Some("today"))
    );
    assert_eq!((b["order_id"].as_i64(), b["master_id"].as_i64()), (Some(order), Some(master)));
}

#[tokio::test]
async fn a_negative_price_is_a_422_naming_price() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let r = app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": -1})).await;
    r.assert_problem(422, "validation_failed", Some("price"));
}

#[tokio::test]
async fn a_price_that_is_not_an_integer_is_a_422_naming_price() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let r = app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 10.5})).await;
    r.assert_problem(422, "validation_failed", Some("price"));
}

#[tokio::test]
async fn a_bid_by_a_client_is_a_422_wrong_role_naming_master_id() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let order = app.order(client).await;
    let r = app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": client, "price": 1})).await;
    r.assert_problem(422, "wrong_role", Some("master_id"));
}

#[tokio::test]
async fn a_second_active_bid_of_a_master_is_a_409() {
    let app = TestApp::new();
    let (_, master, order, _) = scene(&app).await;
    let r = app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 1})).await;
    r.assert_problem(409, "duplicate_active_bid", None);
}

#[tokio::test]
async fn a_bid_on_a_cancelled_order_is_a_409_order_not_open() {
    let app = TestApp::new();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    app.post_empty(&format!("/api/v1/orders/{order}/cancel")).await.assert_status(200);
    let r = app.post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 1})).await;
    r.assert_problem(409, "order_not_open", None);
}

#[tokio::test]
async fn a_bid_on_a_missing_order_is_a_404() {
    let app = TestApp::new();
    let master = app.user("master", 2).await;
    let r = app.post("/api/v1/orders/999/bids", json!({"master_id": master, "price": 1})).await;
    r.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn the_bids_of_an_order_are_listed_in_id_order() {
    let app = TestApp::new();
    let (_, _, order, first) = scene(&app).await;
    let other = app.user("master", 3).await;
    let second = app.bid(order, other, 100).await;
    let r = app.get(&format!("/api/v1/orders/{order}/bids")).await;
    let ids: Vec<_> =
        r.assert_status(200)["items"].as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [first, second]);
}

#[tokio::test]
async fn listing_the_bids_of_a_missing_order_is_a_404() {
    let app = TestApp::new();
    app.get("/api/v1/orders/999/bids").await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn assigning_returns_202_processing_with_a_task_id() {
    let app = TestApp::new();
    let (_, master, _, bid) = scene(&app).await;
    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    let body = r.assert_status(202);
    assert_eq!(body["status"], "processing");
    let task_id = body["task_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(task_id).is_ok());
    let task = app.get(&format!("/api/v1/tasks/{task_id}")).await;
    let t = task.assert_status(200);
    assert_eq!((t["name"].as_str(), t["state"].as_str()), (Some("process_bid_assignment"), Some("PENDING")));
    assert_eq!(t["args"], json!({"bid_id": bid, "master_id": master}));
}

#[tokio::test]
async fn assigning_the_same_bid_again_while_it_runs_returns_the_same_task() {
    let app = TestApp::new();
    let (_, master, _, bid) = scene(&app).await;
    let path = format!("/api/v1/bids/{bid}/assign?master_id={master}");
    let first = app.post_empty(&path).await;
    let second = app.post_empty(&path).await;
    assert_eq!(first.assert_status(202)["task_id"], second.assert_status(202)["task_id"]);
}

#[tokio::test]
async fn assigning_a_missing_bid_is_a_404() {
    let app = TestApp::new();
    app.post_empty("/api/v1/bids/999/assign?master_id=1").await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn assigning_to_a_master_who_is_not_the_bids_is_a_422_naming_master_id() {
    let app = TestApp::new();
    let (_, _, _, bid) = scene(&app).await;
    let other = app.user("master", 3).await;
    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={other}")).await;
    r.assert_problem(422, "not_the_bids_master", Some("master_id"));
}

#[tokio::test]
async fn assigning_on_an_order_that_is_not_open_is_a_409() {
    let app = TestApp::new();
    let (_, master, order, bid) = scene(&app).await;
    app.post_empty(&format!("/api/v1/orders/{order}/cancel")).await.assert_status(200);
    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    r.assert_problem(409, "order_not_open", None);
}

#[tokio::test]
async fn assigning_without_master_id_is_a_400_naming_master_id() {
    let app = TestApp::new();
    let (_, _, _, bid) = scene(&app).await;
    app.post_empty(&format!("/api/v1/bids/{bid}/assign")).await.assert_problem(
        400,
        "invalid_parameter",
        Some("master_id"),
    );
}
