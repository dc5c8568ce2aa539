//! Bids: placed on new orders by existing masters, one active bid per master and order.

use chrono::Utc;
use goodrobot_domain::{BidStatus, OrderId, OrderTransition, Role, UserId};

use super::{RepoFixture, assert_domain, assert_not_found, bid_on, open_order, order_of, user};
use crate::builders::new_bid;

pub async fn bid_create_then_get_returns_it_active(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let master = user(&fx, 100, Role::Master).await;
    let bid = fx.bids.create(new_bid(order.id, master.id, 1500), Utc::now()).await.unwrap();
    assert_eq!(
        (bid.order_id, bid.master_id, bid.price.get(), bid.status),
        (order.id, master.id, 1500, BidStatus::Active)
    );
    assert_eq!(fx.bids.get(bid.id).await.unwrap(), bid);
}

pub async fn bid_on_a_missing_order_is_not_found_order(fx: RepoFixture) {
    let master = user(&fx, 100, Role::Master).await;
    assert_not_found(fx.bids.create(new_bid(OrderId(999_999), master.id, 100), Utc::now()).await, "order");
}

pub async fn bid_by_a_missing_master_is_not_found_user(fx: RepoFixture) {
    let order = open_order(&fx).await;
    assert_not_found(fx.bids.create(new_bid(order.id, UserId(999_999), 100), Utc::now()).await, "user");
}

pub async fn bid_on_an_assigned_order_is_order_not_open(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let winner = user(&fx, 100, Role::Master).await;
    let bid = bid_on(&fx, order.id, winner.id, 100).await;
    fx.bids.select(bid.id, Utc::now()).await.unwrap();
    let late = user(&fx, 101, Role::Master).await;
    assert_domain(fx.bids.create(new_bid(order.id, late.id, 90), Utc::now()).await, "order_not_open");
}

pub async fn bid_second_active_one_by_the_same_master_is_duplicate_active_bid(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let master = user(&fx, 100, Role::Master).await;
    bid_on(&fx, order.id, master.id, 100).await;
    assert_domain(fx.bids.create(new_bid(order.id, master.id, 90), Utc::now()).await, "duplicate_active_bid");
}

pub async fn bid_list_for_order_is_that_orders_bids_in_id_order(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let other = order_of(&fx, order.client_id).await;
    let (m1, m2) = (user(&fx, 100, Role::Master).await, user(&fx, 101, Role::Master).await);
    let b1 = bid_on(&fx, order.id, m1.id, 100).await;
    bid_on(&fx, other.id, m1.id, 100).await;
    let b2 = bid_on(&fx, order.id, m2.id, 200).await;
    fx.orders.transition(other.id, OrderTransition::Cancel, Utc::now()).await.unwrap();
    assert_eq!(fx.bids.list_for_order(order.id).await.unwrap(), vec![b1, b2]);
}

pub async fn bid_list_for_a_missing_order_is_not_found(fx: RepoFixture) {
    assert_not_found(fx.bids.list_for_order(OrderId(999_999)).await, "order");
}
