//! Building the store and its health check: connection, timeouts, a database that goes away.

mod common;

use chrono::Utc;
use common::{test_store, test_store_with};
use diesel_async::SimpleAsyncConnection;
use goodrobot_domain::{OrderTransition, Role};
use goodrobot_ports::{HealthCheck, RepoError, UserRepository};
use goodrobot_postgres::{PgConfig, PgSetupError, PgStore};
use goodrobot_testkit::{new_order, new_user};
use std::time::Duration;

#[tokio::test]
async fn the_health_check_is_named_postgres_and_passes() {
    let ts = test_store().await;
    assert_eq!((ts.store.name(), ts.store.check().await), ("postgres", Ok(())));
}

#[tokio::test]
async fn the_health_check_fails_once_the_database_is_gone() {
    let common::TestStore { store, db } = test_store_with(|c| c.connect_timeout = Duration::from_millis(300)).await;
    drop(db);
    assert!(store.check().await.is_err());
}

#[tokio::test]
async fn connecting_to_an_unreachable_server_is_a_connect_error() {
    let r = PgStore::connect(&PgConfig::new("postgres://postgres@127.0.0.1:1/postgres")).await;
    assert!(matches!(r, Err(PgSetupError::Connect(_))), "{r:?}");
}

#[tokio::test]
async fn connecting_to_a_missing_database_is_a_connect_error() {
    let r = PgStore::connect(&PgConfig::new(format!("{}/gr_no_such_database", server()))).await;
    assert!(matches!(r, Err(PgSetupError::Connect(_))), "{r:?}");
}

#[tokio::test]
async fn a_pool_of_size_zero_is_an_invalid_config() {
    let mut config = PgConfig::new(format!("{}/postgres", server()));
    config.pool_size = 0;
    assert!(matches!(PgStore::connect(&config).await, Err(PgSetupError::InvalidConfig(_))));
}

#[tokio::test]
async fn a_statement_blocked_past_the_statement_timeout_is_unavailable() {
    let ts = test_store_with(|c| c.statement_timeout = Duration::from_millis(200)).await;
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    let order = ts.orders().create(new_order(client.id), Utc::now()).await.unwrap();
    let mut holder = ts.raw().await;
    holder.batch_execute(&format!("BEGIN; SELECT 1 FROM orders WHERE id = {} FOR UPDATE", order.id)).await.unwrap();
    let r = ts.orders().transition(order.id, OrderTransition::Cancel, Utc::now()).await;
    assert!(matches!(r, Err(RepoError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn clones_share_the_data() {
    let ts = test_store().await;
    let clone = ts.store.clone();
    let u = UserRepository::create(&clone, new_user(1, Role::Client)).await.unwrap();
    assert_eq!(ts.users().get(u.id).await.unwrap(), u);
}

fn server() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| goodrobot_migrations::test_database::DEFAULT_SERVER_URL.to_owned())
        .trim_end_matches('/')
        .to_owned()
}
