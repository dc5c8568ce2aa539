//! The system of record in memory: users, orders and bids behind one lock, so that a bid
//! selection (an order and all of its bids) is one atomic step.

mod bids;
mod orders;
mod users;

use async_trait::async_trait;
use goodrobot_domain::{Bid, BidId, Order, OrderId, Page, PageRequest, Phone, TgId, User, UserId};
use goodrobot_ports::{Clock, HealthCheck, SystemClock};
use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard},
};

use crate::lock::lock;

/// Users, orders and bids in memory. Clones share the same data.
#[derive(Clone)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Tables {
    users: BTreeMap<UserId, User>,
    user_by_tg: HashMap<TgId, UserId>,
    user_by_phone: HashMap<Phone, UserId>,
    orders: BTreeMap<OrderId, Order>,
    bids: BTreeMap<BidId, Bid>,
    /// The bids of each order, in id order.
    bids_by_order: HashMap<OrderId, Vec<BidId>>,
    last_user: i64,
    last_order: i64,
    last_bid: i64,
}

impl MemoryStore {
    /// An empty store; users' creation times come from the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store taking users' creation times from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self { tables: Arc::new(Mutex::new(Tables::default())), clock }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        lock(&self.tables)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.tables();
        f.debug_struct("MemoryStore")
            .field("users", &t.users.len())
            .field("orders", &t.orders.len())
            .field("bids", &t.bids.len())
            .finish()
    }
}

#[async_trait]
impl HealthCheck for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// One keyset page of `rows` (in key order): the rows after `req.after()` that `keep`
/// accepts, over-fetched by one to tell whether a next page exists.
fn keyset_page<K: Ord + From<i64>, V: Clone>(
    rows: &BTreeMap<K, V>,
    req: PageRequest,
    keep: impl Fn(&V) -> bool,
    id_of: impl Fn(&V) -> i64,
) -> Page<V> {
    let start = req.after().map_or(Bound::Unbounded, |a| Bound::Excluded(K::from(a)));
    let items = rows
        .range((start, Bound::Unbounded))
        .map(|(_, v)| v)
        .filter(|v| keep(v))
        .take(req.limit() as usize + 1)
        .cloned()
        .collect();
    Page::from_overfetch(items, req, id_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use goodrobot_domain::Role;
    use goodrobot_ports::{BidRepository, OrderRepository, UserRepository};
    use goodrobot_testkit::{new_bid, new_order, new_user};

    #[tokio::test]
    async fn health_check_is_named_memory_and_passes() {
        let s = MemoryStore::new();
        assert_eq!((s.name(), s.check().await), ("memory", Ok(())));
    }

    #[tokio::test]
    async fn ids_count_from_one_per_entity() {
        let s = MemoryStore::new();
        let client = UserRepository::create(&s, new_user(10, Role::Client)).await.unwrap();
        let master = UserRepository::create(&s, new_user(11, Role::Master)).await.unwrap();
        let order = OrderRepository::create(&s, new_order(client.id), Utc::now()).await.unwrap();
        let bid = BidRepository::create(&s, new_bid(order.id, master.id, 100), Utc::now()).await.unwrap();
        assert_eq!((client.id.0, master.id.0, order.id.0, bid.id.0), (1, 2, 1, 1));
    }

    #[tokio::test]
    async fn clones_share_the_data() {
        let s = MemoryStore::new();
        let u = UserRepository::create(&s.clone(), new_user(10, Role::Client)).await.unwrap();
        assert_eq!(UserRepository::get(&s, u.id).await.unwrap(), u);
    }
}
