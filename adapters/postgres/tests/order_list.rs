//! The order list in Postgres: its filters are served by the indexes, and keyset pages stay
//! stable while orders are inserted.

mod common;

use chrono::Utc;
use common::test_store;
use diesel_async::SimpleAsyncConnection;
use goodrobot_domain::{Category, OrderFilter, OrderId, OrderStatus, PageRequest, Role, UserId};
use goodrobot_testkit::{new_order_in, new_user};

/// 100 clients and 20 000 orders over 4 statuses and 50 categories, analysed.
async fn many_orders(ts: &common::TestStore) {
    ts.raw()
        .await
        .batch_execute(
            "INSERT INTO users (tg_id, role, name) SELECT g, 'client', 'Client ' || g FROM generate_series(1, 100) g;
             INSERT INTO orders (client_id, master_id, category, address, when_at, status)
             SELECT 1 + g % 100,
                    CASE WHEN g % 4 IN (1, 2) THEN 1 + (g + 1) % 100 END,
                    'category-' || g % 50, 'Main st 1', now(),
                    (ARRAY['new', 'assigned', 'done', 'cancelled'])[1 + g % 4]
             FROM generate_series(1, 20000) g;
             ANALYZE users; ANALYZE orders;",
        )
        .await
        .unwrap();
}

fn page(after: Option<i64>, limit: u32) -> PageRequest {
    PageRequest::new(after, Some(limit)).unwrap()
}

#[tokio::test]
async fn listing_by_status_and_category_uses_the_status_category_index() {
    let ts = test_store().await;
    many_orders(&ts).await;
    let filter = OrderFilter {
        status: Some(OrderStatus::New),
        category: Some(Category::new("category-8").unwrap()),
        ..OrderFilter::default()
    };
    let plan = ts.store.explain_order_list(&filter, page(Some(100), 50)).await.unwrap();
    println!("{plan}");
    assert!(plan.contains("orders_status_category_id_idx"), "{plan}");
}

#[tokio::test]
async fn listing_a_clients_orders_uses_the_client_index() {
    let ts = test_store().await;
    many_orders(&ts).await;
    let filter = OrderFilter { client_id: Some(UserId(7)), ..OrderFilter::default() };
    let plan = ts.store.explain_order_list(&filter, page(None, 50)).await.unwrap();
    println!("{plan}");
    assert!(plan.contains("orders_client_id_id_idx"), "{plan}");
}

#[tokio::test]
async fn filtered_pages_are_stable_under_inserts() {
    let ts = test_store().await;
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    let mut expected = Vec::new();
    for category in ["plumbing", "electrics", "plumbing", "plumbing", "electrics", "plumbing"] {
        let o = ts.orders().create(new_order_in(client.id, category), Utc::now()).await.unwrap();
        if category == "plumbing" {
            expected.push(o.id);
        }
    }
    let filter = OrderFilter { category: Some(Category::new("plumbing").unwrap()), ..OrderFilter::default() };

    let first = ts.orders().list(filter.clone(), page(None, 2)).await.unwrap();
    for category in ["plumbing", "electrics", "plumbing"] {
        let o = ts.orders().create(new_order_in(client.id, category), Utc::now()).await.unwrap();
        if category == "plumbing" {
            expected.push(o.id);
        }
    }
    let mut seen: Vec<OrderId> = first.items.iter().map(|o| o.id).collect();
    let mut after = first.next_after;
    while let Some(a) = after {
        let next = ts.orders().list(filter.clone(), page(Some(a), 2)).await.unwrap();
        seen.extend(next.items.iter().map(|o| o.id));
        after = next.next_after;
    }
    assert_eq!(seen, expected, "every matching order once, in id order");
}

#[tokio::test]
async fn the_last_page_has_no_next_cursor() {
    let ts = test_store().await;
    let client = ts.users().create(new_user(1, Role::Client)).await.unwrap();
    for _ in 0..2 {
        ts.orders().create(new_order_in(client.id, "plumbing"), Utc::now()).await.unwrap();
    }
    let p = ts.orders().list(OrderFilter::default(), page(None, 2)).await.unwrap();
    assert_eq!((p.items.len(), p.next_after), (2, None));
}
