//! The repository contract: users, orders, bids and the atomic bid selection.

mod bids;
mod orders;
mod selection;
mod users;

pub use bids::*;
pub use orders::*;
pub use selection::*;
pub use users::*;

use chrono::Utc;
use goodrobot_domain::{Bid, Order, OrderId, Role, User, UserId};
use goodrobot_ports::{BidRepository, OrderRepository, RepoError, UserRepository};
use std::sync::Arc;

use crate::builders::{new_bid, new_order, new_user};

/// The three repositories over one fresh, empty store.
#[derive(Clone)]
pub struct RepoFixture {
    pub users: Arc<dyn UserRepository>,
    pub orders: Arc<dyn OrderRepository>,
    pub bids: Arc<dyn BidRepository>,
}

impl std::fmt::Debug for RepoFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoFixture").finish_non_exhaustive()
    }
}

async fn user(fx: &RepoFixture, tg_id: i64, role: Role) -> User {
    fx.users.create(new_user(tg_id, role)).await.expect("user created")
}

async fn order_of(fx: &RepoFixture, client: UserId) -> Order {
    fx.orders.create(new_order(client), Utc::now()).await.expect("order created")
}

/// A client's new order.
async fn open_order(fx: &RepoFixture) -> Order {
    let client = user(fx, 1, Role::Client).await;
    order_of(fx, client.id).await
}

async fn bid_on(fx: &RepoFixture, order: OrderId, master: UserId, price: i64) -> Bid {
    fx.bids.create(new_bid(order, master, price), Utc::now()).await.expect("bid placed")
}

/// `n` masters (tg ids from 100) with one bid each on `order`.
async fn bids_of_masters(fx: &RepoFixture, order: OrderId, n: i64) -> Vec<Bid> {
    let mut out = Vec::new();
    for i in 0..n {
        let m = user(fx, 100 + i, Role::Master).await;
        out.push(bid_on(fx, order, m.id, 1000 + i).await);
    }
    out
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: Result<T, RepoError>, entity: &str) {
    match r {
        Err(RepoError::NotFound { entity: e, .. }) if e == entity => {}
        other => panic!("expected NotFound {{ entity: {entity:?} }}, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: Result<T, RepoError>, field: &str) {
    match r {
        Err(RepoError::Conflict { field: f, .. }) if f == field => {}
        other => panic!("expected Conflict {{ field: {field:?} }}, got {other:?}"),
    }
}

#[track_caller]
fn assert_domain<T: std::fmt::Debug>(r: Result<T, RepoError>, code: &str) {
    match r {
        Err(RepoError::Domain(e)) if e.code() == code => {}
        other => panic!("expected Domain({code}), got {other:?}"),
    }
}
