//! Bids under concurrency in Postgres: the order lock and the partial unique index keep one
//! active bid per master and order even when the same bid is placed many times at once.

mod common;

use chrono::Utc;
use common::test_store;
use goodrobot_domain::{BidStatus, Role};
use goodrobot_ports::RepoError;
use goodrobot_testkit::{new_bid, new_order, new_user};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_bids_of_one_master_place_exactly_one() {
    let ts = Arc::new(test_store().await);
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    let master = ts.users().create(new_user(2, Role::Master)).await.unwrap();
    let order = ts.orders().create(new_order(client.id), Utc::now()).await.unwrap();
    let tasks = (0..20).map(|i| {
        let ts = ts.clone();
        tokio::spawn(async move { ts.bids().create(new_bid(order.id, master.id, 100 + i), Utc::now()).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();

    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1, "{outcomes:?}");
    for e in outcomes.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(e, RepoError::Domain(d) if d.code() == "duplicate_active_bid"), "{e:?}");
    }
    let stored = ts.bids().list_for_order(order.id).await.unwrap();
    assert_eq!(stored.iter().map(|b| b.status).collect::<Vec<_>>(), [BidStatus::Active]);
}

#[tokio::test]
async fn a_bid_on_a_cancelled_order_is_order_not_open() {
    let ts = test_store().await;
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    let master = ts.users().create(new_user(2, Role::Master)).await.unwrap();
    let order = ts.orders().create(new_order(client.id), Utc::now()).await.unwrap();
    ts.orders().transition(order.id, goodrobot_domain::OrderTransition::Cancel, Utc::now()).await.unwrap();
    let r = ts.bids().create(new_bid(order.id, master.id, 100), Utc::now()).await;
    assert!(matches!(r, Err(RepoError::Domain(d)) if d.code() == "order_not_open"));
}
