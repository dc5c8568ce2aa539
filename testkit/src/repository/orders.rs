//! Orders: creation for an existing client, filtered listing, legal transitions only.

use chrono::Utc;
use goodrobot_domain::{Category, OrderFilter, OrderId, OrderStatus, OrderTransition, PageRequest, Role, UserId};

use super::{RepoFixture, assert_domain, assert_not_found, open_order, user};
use crate::builders::{new_order, new_order_in};

pub async fn order_create_then_get_returns_it_new_and_unassigned(fx: RepoFixture) {
    let client = user(&fx, 1, Role::Client).await;
    let created = fx.orders.create(new_order(client.id), Utc::now()).await.unwrap();
    assert_eq!((created.client_id, created.status, created.master_id), (client.id, OrderStatus::New, None));
    assert_eq!(fx.orders.get(created.id).await.unwrap(), created);
}

pub async fn order_create_for_a_missing_client_is_not_found_user(fx: RepoFixture) {
    assert_not_found(fx.orders.create(new_order(UserId(999_999)), Utc::now()).await, "user");
}

pub async fn order_get_of_a_missing_id_is_not_found(fx: RepoFixture) {
    assert_not_found(fx.orders.get(OrderId(999_999)).await, "order");
}

pub async fn order_list_pages_through_matching_orders_in_id_order(fx: RepoFixture) {
    let client = user(&fx, 1, Role::Client).await;
    let other = user(&fx, 2, Role::Client).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let mine = fx.orders.create(new_order_in(client.id, "plumbing"), Utc::now()).await.unwrap();
        fx.orders.create(new_order_in(client.id, "electrics"), Utc::now()).await.unwrap();
        fx.orders.create(new_order_in(other.id, "plumbing"), Utc::now()).await.unwrap();
        if i == 2 {
            fx.orders.transition(mine.id, OrderTransition::Cancel, Utc::now()).await.unwrap();
        } else {
            expected.push(mine.id);
        }
    }
    let filter = OrderFilter {
        status: Some(OrderStatus::New),
        category: Some(Category::new("plumbing").unwrap()),
        client_id: Some(client.id),
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = fx.orders.list(filter.clone(), PageRequest::new(after, Some(2)).unwrap()).await.unwrap();
        assert!(page.items.iter().all(|o| filter.matches(o)));
        seen.extend(page.items.iter().map(|o| o.id));
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen, expected);
}

pub async fn order_count_is_the_number_of_matching_orders(fx: RepoFixture) {
    let client = user(&fx, 1, Role::Client).await;
    let other = user(&fx, 2, Role::Client).await;
    assert_eq!(fx.orders.count(OrderFilter::default()).await.unwrap(), 0);
    for i in 0..4 {
        let mine = fx.orders.create(new_order_in(client.id, "plumbing"), Utc::now()).await.unwrap();
        fx.orders.create(new_order_in(client.id, "electrics"), Utc::now()).await.unwrap();
        fx.orders.create(new_order_in(other.id, "plumbing"), Utc::now()).await.unwrap();
        if i == 0 {
            fx.orders.transition(mine.id, OrderTransition::Cancel, Utc::now()).await.unwrap();
        }
    }
    let plumbing = Some(Category::new("plumbing").unwrap());
    let count = |filter: OrderFilter| {
        let orders = fx.orders.clone();
        async move { orders.count(filter).await.unwrap() }
    };
    assert_eq!(count(OrderFilter::default()).await, 12);
    assert_eq!(count(OrderFilter { category: plumbing.clone(), ..OrderFilter::default() }).await, 8);
    assert_eq!(count(OrderFilter { client_id: Some(client.id), ..OrderFilter::default() }).await, 8);
    let all = OrderFilter { status: Some(OrderStatus::New), category: plumbing, client_id: Some(client.id) };
    assert_eq!(count(all).await, 3);
}

pub async fn order_legal_transition_changes_the_status(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let cancelled = fx.orders.transition(order.id, OrderTransition::Cancel, Utc::now()).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(fx.orders.get(order.id).await.unwrap().status, OrderStatus::Cancelled);
}

pub async fn order_illegal_transition_is_refused_and_changes_nothing(fx: RepoFixture) {
    let order = open_order(&fx).await;
    assert_domain(fx.orders.transition(order.id, OrderTransition::Complete, Utc::now()).await, "illegal_transition");
    assert_eq!(fx.orders.get(order.id).await.unwrap(), order);
}

pub async fn order_transition_of_a_missing_id_is_not_found(fx: RepoFixture) {
    assert_not_found(fx.orders.transition(OrderId(999_999), OrderTransition::Cancel, Utc::now()).await, "order");
}
