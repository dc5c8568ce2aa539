//! Test support: a `PgStore` over a fresh, migrated database of its own, dropped after the
//! test (also when it panics), and the `RepoFixture` that keeps the database alive.

#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use goodrobot_domain::{
    Bid, BidId, NewBid, NewOrder, NewUser, Order, OrderFilter, OrderId, OrderTransition, Page, PageRequest, Selection,
    TgId, User, UserId, UserPatch,
};
use goodrobot_migrations::test_database::TestDatabase;
use goodrobot_ports::{BidRepository, OrderRepository, RepoError, UserRepository};
use goodrobot_postgres::{PgConfig, PgStore};
use goodrobot_testkit::RepoFixture;
use std::sync::Arc;

/// A store and the database it owns; the store (its pool) goes first, then the database.
#[derive(Debug)]
pub struct TestStore {
    pub store: PgStore,
    pub db: TestDatabase,
}

impl TestStore {
    pub fn users(&self) -> &dyn UserRepository {
        &self.store
    }

    pub fn orders(&self) -> &dyn OrderRepository {
        &self.store
    }

    pub fn bids(&self) -> &dyn BidRepository {
        &self.store
    }

    /// A connection of the test's own to the same database (for seeding and locks).
    pub async fn raw(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(self.db.url()).await.expect("a raw connection to the test database")
    }
}

/// A store with the default configuration over a fresh, migrated database.
pub async fn test_store() -> TestStore {
    test_store_with(|_| {}).await
}

/// As [`test_store`], with the configuration changed by `tweak`.
pub async fn test_store_with(tweak: impl FnOnce(&mut PgConfig)) -> TestStore {
    let db = TestDatabase::migrated().await;
    let mut config = PgConfig::new(db.url());
    tweak(&mut config);
    let store = PgStore::connect(&config).await.expect("the store connects to the test database");
    TestStore { store, db }
}

/// The three repositories over a fresh database that lives as long as any of them.
pub async fn repo_fixture() -> RepoFixture {
    let repos = Arc::new(Guarded(test_store().await));
    RepoFixture { users: repos.clone(), orders: repos.clone(), bids: repos }
}

/// The repositories of a [`TestStore`], holding its database.
struct Guarded(TestStore);

#[async_trait]
impl UserRepository for Guarded {
    async fn create(&self, user: NewUser) -> Result<User, RepoError> {
        UserRepository::create(&self.0.store, user).await
    }
    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        UserRepository::get(&self.0.store, id).await
    }
    async fn find_by_tg_id(&self, tg_id: TgId) -> Result<User, RepoError> {
        UserRepository::find_by_tg_id(&self.0.store, tg_id).await
    }
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError> {
        UserRepository::list(&self.0.store, page).await
    }
    async fn update(&self, id: UserId, patch: UserPatch) -> Result<User, RepoError> {
        UserRepository::update(&self.0.store, id, patch).await
    }
}

#[async_trait]
impl OrderRepository for Guarded {
    async fn create(&self, order: NewOrder, now: DateTime<Utc>) -> Result<Order, RepoError> {
        OrderRepository::create(&self.0.store, order, now).await
    }
    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        OrderRepository::get(&self.0.store, id).await
    }
    async fn list(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, RepoError> {
        OrderRepository::list(&self.0.store, filter, page).await
    }
    async fn count(&self, filter: OrderFilter) -> Result<u64, RepoError> {
        OrderRepository::count(&self.0.store, filter).await
    }
    async fn transition(&self, id: OrderId, t: OrderTransition, now: DateTime<Utc>) -> Result<Order, RepoError> {
        OrderRepository::transition(&self.0.store, id, t, now).await
    }
}

#[async_trait]
impl BidRepository for Guarded {
    async fn create(&self, bid: NewBid, now: DateTime<Utc>) -> Result<Bid, RepoError> {
        BidRepository::create(&self.0.store, bid, now).await
    }
    async fn get(&self, id: BidId) -> Result<Bid, RepoError> {
        BidRepository::get(&self.0.store, id).await
    }
    async fn list_for_order(&self, order: OrderId) -> Result<Vec<Bid>, RepoError> {
        BidRepository::list_for_order(&self.0.store, order).await
    }
    async fn select(&self, bid: BidId, now: DateTime<Utc>) -> Result<Selection, RepoError> {
        BidRepository::select(&self.0.store, bid, now).await
    }
}
