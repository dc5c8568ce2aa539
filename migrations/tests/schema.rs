//! The schema's own guards: checks, unique indexes and foreign keys refuse bad rows even
//! when written around the repositories.

use diesel::result::{DatabaseErrorKind, Error};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use goodrobot_migrations::test_database::TestDatabase;

/// A migrated database holding client 1, masters 2 and 3, and new order 1 of client 1.
async fn seeded() -> (TestDatabase, AsyncPgConnection) {
    let db = TestDatabase::migrated().await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(
        "INSERT INTO users (tg_id, role, name) VALUES (1, 'client', 'C'), (2, 'master', 'M2'), (3, 'master', 'M3');
         INSERT INTO orders (client_id, category, address, when_at) VALUES (1, 'plumbing', 'Main st 1', now());",
    )
    .await
    .unwrap();
    (db, conn)
}

async fn refused(conn: &mut AsyncPgConnection, sql: &str) -> (DatabaseErrorKind, String) {
    match conn.batch_execute(sql).await {
        Err(Error::DatabaseError(kind, info)) => (kind, info.constraint_name().unwrap_or_default().to_owned()),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_selected_bid_of_an_order_is_refused() {
    let (_db, mut conn) = seeded().await;
    conn.batch_execute("INSERT INTO bids (order_id, master_id, price, status) VALUES (1, 2, 10, 'selected')")
        .await
        .unwrap();
    let (kind, constraint) =
        refused(&mut conn, "INSERT INTO bids (order_id, master_id, price, status) VALUES (1, 3, 10, 'selected')").await;
    assert_eq!((kind, constraint.as_str()), (DatabaseErrorKind::UniqueViolation, "bids_one_selected_per_order"));
}

#[tokio::test]
async fn a_second_active_bid_of_a_master_on_an_order_is_refused() {
    let (_db, mut conn) = seeded().await;
    conn.batch_execute("INSERT INTO bids (order_id, master_id, price) VALUES (1, 2, 10)").await.unwrap();
    let (kind, constraint) = refused(&mut conn, "INSERT INTO bids (order_id, master_id, price) VALUES (1, 2, 9)").await;
    assert_eq!((kind, constraint.as_str()), (DatabaseErrorKind::UniqueViolation, "bids_one_active_per_master"));
}

#[tokio::test]
async fn a_master_may_bid_again_once_the_earlier_bid_is_rejected() {
    let (_db, mut conn) = seeded().await;
    conn.batch_execute(
        "INSERT INTO bids (order_id, master_id, price, status) VALUES (1, 2, 10, 'rejected');
         INSERT INTO bids (order_id, master_id, price) VALUES (1, 2, 9);",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_negative_price_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (kind, constraint) =
        refused(&mut conn, "INSERT INTO bids (order_id, master_id, price) VALUES (1, 2, -1)").await;
    assert_eq!((kind, constraint.as_str()), (DatabaseErrorKind::CheckViolation, "bids_price_non_negative"));
}

#[tokio::test]
async fn an_unknown_role_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (_, constraint) = refused(&mut conn, "INSERT INTO users (tg_id, role, name) VALUES (9, 'boss', 'B')").await;
    assert_eq!(constraint, "users_role_known");
}

#[tokio::test]
async fn a_non_positive_tg_id_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (_, constraint) = refused(&mut conn, "INSERT INTO users (tg_id, role, name) VALUES (0, 'client', 'Z')").await;
    assert_eq!(constraint, "users_tg_id_positive");
}

#[tokio::test]
async fn a_duplicate_tg_id_is_refused_by_its_named_constraint() {
    let (_db, mut conn) = seeded().await;
    let (kind, constraint) =
        refused(&mut conn, "INSERT INTO users (tg_id, role, name) VALUES (1, 'client', 'Again')").await;
    assert_eq!((kind, constraint.as_str()), (DatabaseErrorKind::UniqueViolation, "users_tg_id_key"));
}

#[tokio::test]
async fn an_unknown_order_status_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (_, constraint) = refused(&mut conn, "UPDATE orders SET status = 'lost' WHERE id = 1").await;
    assert_eq!(constraint, "orders_status_known");
}

#[tokio::test]
async fn an_assigned_order_without_a_master_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (_, constraint) = refused(&mut conn, "UPDATE orders SET status = 'assigned' WHERE id = 1").await;
    assert_eq!(constraint, "orders_assigned_has_master");
}

#[tokio::test]
async fn an_order_of_a_missing_client_is_refused() {
    let (_db, mut conn) = seeded().await;
    let (kind, constraint) = refused(
        &mut conn,
        "INSERT INTO orders (client_id, category, address, when_at) VALUES (99, 'plumbing', 'Main st 1', now())",
    )
    .await;
    assert_eq!((kind, constraint.as_str()), (DatabaseErrorKind::ForeignKeyViolation, "orders_client_id_fkey"));
}
