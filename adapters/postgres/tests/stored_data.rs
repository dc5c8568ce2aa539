//! Rows written around the repositories: what the domain would refuse is an internal
//! error, not a panic; timestamps come back as stored.

mod common;

use chrono::{TimeDelta, Utc};
use common::test_store;
use diesel_async::SimpleAsyncConnection;
use goodrobot_domain::{BidId, OrderId, Role, UserId};
use goodrobot_ports::RepoError;
use goodrobot_testkit::{new_order, new_user};

#[tokio::test]
async fn a_stored_user_with_an_empty_name_is_an_internal_error() {
    let ts = test_store().await;
    ts.raw()
        .await
        .batch_execute("INSERT INTO users (id, tg_id, role, name) VALUES (1, 1, 'client', '')")
        .await
        .unwrap();
    assert!(matches!(ts.users().get(UserId(1)).await, Err(RepoError::Internal(_))));
}

#[tokio::test]
async fn a_stored_order_with_an_overlong_category_is_an_internal_error() {
    let ts = test_store().await;
    ts.raw()
        .await
        .batch_execute(
            "INSERT INTO users (id, tg_id, role, name) VALUES (1, 1, 'client', 'C');
             INSERT INTO orders (id, client_id, category, address, when_at) VALUES (1, 1, repeat('x', 65), 'A', now());",
        )
        .await
        .unwrap();
    assert!(matches!(ts.orders().get(OrderId(1)).await, Err(RepoError::Internal(_))));
}

#[tokio::test]
async fn a_stored_bid_above_the_maximum_price_is_an_internal_error() {
    let ts = test_store().await;
    ts.raw()
        .await
        .batch_execute(
            "INSERT INTO users (id, tg_id, role, name) VALUES (1, 1, 'client', 'C'), (2, 2, 'master', 'M');
             INSERT INTO orders (id, client_id, category, address, when_at) VALUES (1, 1, 'plumbing', 'A', now());
             INSERT INTO bids (id, order_id, master_id, price) VALUES (1, 1, 2, 9223372036854775807);",
        )
        .await
        .unwrap();
    assert!(matches!(ts.bids().get(BidId(1)).await, Err(RepoError::Internal(_))));
}

#[tokio::test]
async fn created_timestamps_are_returned_as_stored() {
    let ts = test_store().await;
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    let now = Utc::now() + TimeDelta::nanoseconds(123);
    let created = ts.orders().create(new_order(client.id), now).await.unwrap();
    assert_eq!(ts.orders().get(created.id).await.unwrap(), created);
    assert_eq!(created.created_at.timestamp_subsec_nanos() % 1000, 0, "microseconds, as Postgres keeps them");
}
