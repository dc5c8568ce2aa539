//! The walk-through: a client's order, two masters' bids, the client picks one; the order is
//! assigned, the other bid rejected, and the chosen master is notified by a child task.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn assigning_a_bid_assigns_the_order_rejects_the_other_bid_and_notifies_the_master() {
    let app = TestApp::with_worker();
    let client = app.user("client", 100).await;
    let master = app.user("master", 200).await;
    let rival = app.user("master", 300).await;
    let order = app.order(client).await;
    let bid = app.bid(order, master, 5_000).await;
    let rival_bid = app.bid(order, rival, 4_000).await;

    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    let accepted = r.assert_status(202);
    assert_eq!(accepted["status"], "processing");
    let task_id = accepted["task_id"].as_str().unwrap().to_owned();

    let task = app.finished_task(&task_id).await;
    assert_eq!(task["state"], "SUCCESS", "{task:#}");
    assert_eq!(task["result"]["order_id"], order);
    assert_eq!(task["result"]["outcome"], "selected");

    let o = app.get(&format!("/api/v1/orders/{order}")).await;
    let o = o.assert_status(200);
    assert_eq!((o["status"].as_str(), o["master_id"].as_i64()), (Some("assigned"), Some(master)));

    let bids = app.get(&format!("/api/v1/orders/{order}/bids")).await;
    let status_of = |id: i64| {
        bids.body["items"].as_array().unwrap().iter().find(|b| b["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!((status_of(bid).as_str(), status_of(rival_bid).as_str()), ("selected", "rejected"));

    let child = task["result"]["notification_task_id"].as_str().expect("a notification task").to_owned();
    let note = app.finished_task(&child).await;
    assert_eq!(note["state"], "SUCCESS", "{note:#}");
    assert_eq!(note["name"], "send_notification");
    assert_eq!(note["parent_id"], task_id.as_str());
    assert_eq!(note["args"]["user_id"], master);
    assert_eq!(note["args"]["message"], format!("Вам назначена новая заявка #{bid}"));
    let parent = app.get(&format!("/api/v1/tasks/{task_id}")).await;
    assert!(parent.body["children"].as_array().unwrap().contains(&json!(child)));
}

#[tokio::test]
async fn after_an_assignment_the_other_bid_cannot_be_assigned() {
    let app = TestApp::with_worker();
    let client = app.user("client", 100).await;
    let master = app.user("master", 200).await;
    let rival = app.user("master", 300).await;
    let order = app.order(client).await;
    let bid = app.bid(order, master, 5_000).await;
    let rival_bid = app.bid(order, rival, 4_000).await;
    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    let task_id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    assert_eq!(app.finished_task(&task_id).await["state"], "SUCCESS");

    let r = app.post_empty(&format!("/api/v1/bids/{rival_bid}/assign?master_id={rival}")).await;
    r.assert_problem(409, "order_not_open", None);
}

#[tokio::test]
async fn completing_an_assigned_order_marks_it_done() {
    let app = TestApp::with_worker();
    let client = app.user("client", 100).await;
    let master = app.user("master", 200).await;
    let order = app.order(client).await;
    let bid = app.bid(order, master, 5_000).await;
    let r = app.post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    let task_id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    assert_eq!(app.finished_task(&task_id).await["state"], "SUCCESS");

    let r = app.post_empty(&format!("/api/v1/orders/{order}/complete")).await;
    assert_eq!(r.assert_status(200)["status"], "done");
}
