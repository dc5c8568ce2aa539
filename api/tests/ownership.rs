//! A `bot` key acts for the user named by `X-Acting-User`, on what that user owns: a client
//! posts and cancels its own orders and assigns bids on them, a master bids as itself, a user
//! changes its own profile and state. An admin key is not bound by ownership.

mod common;

use common::{TestApp, order_body};
use serde_json::json;

/// A client, a master, an order of the client and the master's bid on it (set up by an admin).
async fn scene(app: &TestApp) -> (i64, i64, i64, i64) {
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let bid = app.bid(order, master, 15_000).await;
    (client, master, order, bid)
}

#[tokio::test]
async fn a_bot_posts_an_order_for_the_client_it_acts_for() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    app.role("bot").acting(client).post("/api/v1/orders", order_body(client)).await.assert_status(201);
}

#[tokio::test]
async fn a_bot_may_not_post_an_order_for_another_client() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    let other = app.user("client", 3).await;
    let r = app.role("bot").acting(other).post("/api/v1/orders", order_body(client)).await;
    r.assert_problem(403, "not_owner", Some("client_id"));
}

#[tokio::test]
async fn a_bot_that_names_no_acting_user_may_not_post_an_order() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    let r = app.role("bot").post("/api/v1/orders", order_body(client)).await;
    r.assert_problem(403, "acting_user_required", Some("X-Acting-User"));
}

#[tokio::test]
async fn an_acting_user_that_is_not_a_number_is_a_400() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    let r = app.role("bot").header("x-acting-user", "me").post("/api/v1/orders", order_body(client)).await;
    r.assert_problem(400, "invalid_parameter", Some("X-Acting-User"));
}

#[tokio::test]
async fn an_admin_posts_an_order_for_any_client_whatever_the_acting_user() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    app.role("admin").acting(999).post("/api/v1/orders", order_body(client)).await.assert_status(201);
}

#[tokio::test]
async fn a_bot_places_a_bid_as_the_master_it_acts_for() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let order = app.order(client).await;
    let r = app
        .role("bot")
        .acting(master)
        .post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 1}))
        .await;
    r.assert_status(201);
}

#[tokio::test]
async fn a_bot_may_not_bid_as_another_master() {
    let app = TestApp::with_keys();
    let client = app.user("client", 1).await;
    let master = app.user("master", 2).await;
    let other = app.user("master", 3).await;
    let order = app.order(client).await;
    let r = app
        .role("bot")
        .acting(other)
        .post(&format!("/api/v1/orders/{order}/bids"), json!({"master_id": master, "price": 1}))
        .await;
    r.assert_problem(403, "not_owner", Some("master_id"));
}

#[tokio::test]
async fn a_bot_assigns_a_bid_on_an_order_of_the_client_it_acts_for() {
    let app = TestApp::with_keys();
    let (client, master, _, bid) = scene(&app).await;
    let r = app.role("bot").acting(client).post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    r.assert_status(202);
}

#[tokio::test]
async fn a_bot_may_not_assign_a_bid_on_another_clients_order() {
    let app = TestApp::with_keys();
    let (_, master, _, bid) = scene(&app).await;
    let stranger = app.user("client", 9).await;
    let r = app.role("bot").acting(stranger).post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn the_bidding_master_may_not_assign_the_order_to_itself() {
    let app = TestApp::with_keys();
    let (_, master, _, bid) = scene(&app).await;
    let r = app.role("bot").acting(master).post_empty(&format!("/api/v1/bids/{bid}/assign?master_id={master}")).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn a_bot_cancels_an_order_of_the_client_it_acts_for() {
    let app = TestApp::with_keys();
    let (client, _, order, _) = scene(&app).await;
    let r = app.role("bot").acting(client).post_empty(&format!("/api/v1/orders/{order}/cancel")).await;
    assert_eq!(r.assert_status(200)["status"], "cancelled");
}

#[tokio::test]
async fn a_bot_may_not_cancel_another_clients_order() {
    let app = TestApp::with_keys();
    let (_, master, order, _) = scene(&app).await;
    let r = app.role("bot").acting(master).post_empty(&format!("/api/v1/orders/{order}/cancel")).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn a_stranger_may_not_complete_an_order() {
    let app = TestApp::with_keys();
    let (_, _, order, _) = scene(&app).await;
    let stranger = app.user("master", 9).await;
    let r = app.role("bot").acting(stranger).post_empty(&format!("/api/v1/orders/{order}/complete")).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn the_orders_client_gets_past_the_ownership_check_of_complete() {
    let app = TestApp::with_keys();
    let (client, _, order, _) = scene(&app).await;
    // The order is new, so completing it breaks a rule (409), not an ownership check (403).
    let r = app.role("bot").acting(client).post_empty(&format!("/api/v1/orders/{order}/complete")).await;
    r.assert_problem(409, "illegal_transition", None);
}

#[tokio::test]
async fn a_bot_changes_the_name_of_the_user_it_acts_for() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let r = app.role("bot").acting(user).patch(&format!("/api/v1/users/{user}"), json!({"name": "Anna"})).await;
    assert_eq!(r.assert_status(200)["name"], "Anna");
}

#[tokio::test]
async fn a_bot_may_not_change_another_user() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let other = app.user("client", 2).await;
    let r = app.role("bot").acting(other).patch(&format!("/api/v1/users/{user}"), json!({"name": "Anna"})).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn a_bot_may_not_change_a_users_role_even_its_own() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let r = app.role("bot").acting(user).patch(&format!("/api/v1/users/{user}"), json!({"role": "admin"})).await;
    r.assert_problem(403, "forbidden", Some("role"));
}

#[tokio::test]
async fn a_bot_may_not_deactivate_a_user() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let r = app.role("bot").acting(user).patch(&format!("/api/v1/users/{user}"), json!({"is_active": false})).await;
    r.assert_problem(403, "forbidden", Some("is_active"));
}

#[tokio::test]
async fn a_bot_registers_a_user_without_an_acting_user() {
    let app = TestApp::with_keys();
    let r = app.role("bot").post("/api/v1/users", json!({"tg_id": 5, "role": "master", "name": "Bob"})).await;
    r.assert_status(201);
}

#[tokio::test]
async fn only_an_admin_key_creates_a_user_of_role_admin() {
    let app = TestApp::with_keys();
    let body = json!({"tg_id": 5, "role": "admin", "name": "Root"});
    app.role("bot").post("/api/v1/users", body.clone()).await.assert_problem(403, "forbidden", Some("role"));
    app.role("admin").post("/api/v1/users", body).await.assert_status(201);
}

#[tokio::test]
async fn a_bot_keeps_the_state_of_the_user_it_acts_for() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let r = app
        .role("bot")
        .acting(user)
        .put(&format!("/api/v1/users/{user}/state"), json!({"step": "awaiting_address"}))
        .await;
    r.assert_status(200);
}

#[tokio::test]
async fn a_bot_may_not_touch_another_users_state() {
    let app = TestApp::with_keys();
    let user = app.user("client", 1).await;
    let other = app.user("client", 2).await;
    let r = app.role("bot").acting(other).delete(&format!("/api/v1/users/{user}/state")).await;
    r.assert_problem(403, "not_owner", None);
}

#[tokio::test]
async fn a_bot_reads_without_an_acting_user() {
    let app = TestApp::with_keys();
    let (_, _, order, _) = scene(&app).await;
    app.role("bot").get(&format!("/api/v1/orders/{order}/bids")).await.assert_status(200);
}
