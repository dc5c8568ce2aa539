//! Bid selection: one atomic step over an order and all of its bids; exactly one winner.

use chrono::Utc;
use goodrobot_domain::{BidId, BidStatus, OrderStatus, SelectionOutcome};
use goodrobot_ports::RepoError;

use super::{RepoFixture, assert_domain, assert_not_found, bids_of_masters, open_order};

pub async fn select_assigns_the_order_and_rejects_the_other_bids(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let bids = bids_of_masters(&fx, order.id, 3).await;
    let s = fx.bids.select(bids[1].id, Utc::now()).await.unwrap();
    assert_eq!(s.outcome, SelectionOutcome::Selected);
    let stored = fx.orders.get(order.id).await.unwrap();
    assert_eq!((stored.status, stored.master_id), (OrderStatus::Assigned, Some(bids[1].master_id)));
    let statuses: Vec<BidStatus> = fx.bids.list_for_order(order.id).await.unwrap().iter().map(|b| b.status).collect();
    assert_eq!(statuses, [BidStatus::Rejected, BidStatus::Selected, BidStatus::Rejected]);
}

pub async fn select_again_of_the_selected_bid_is_already_selected_and_changes_nothing(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let bids = bids_of_masters(&fx, order.id, 2).await;
    fx.bids.select(bids[0].id, Utc::now()).await.unwrap();
    let (order_before, bids_before) =
        (fx.orders.get(order.id).await.unwrap(), fx.bids.list_for_order(order.id).await.unwrap());
    let again = fx.bids.select(bids[0].id, Utc::now()).await.unwrap();
    assert_eq!((again.outcome, again.rejected.len()), (SelectionOutcome::AlreadySelected, 0));
    assert_eq!(fx.orders.get(order.id).await.unwrap(), order_before);
    assert_eq!(fx.bids.list_for_order(order.id).await.unwrap(), bids_before);
}

pub async fn select_of_another_bid_of_an_assigned_order_is_order_not_open(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let bids = bids_of_masters(&fx, order.id, 2).await;
    fx.bids.select(bids[0].id, Utc::now()).await.unwrap();
    assert_domain(fx.bids.select(bids[1].id, Utc::now()).await, "order_not_open");
}

pub async fn select_of_a_missing_bid_is_not_found(fx: RepoFixture) {
    assert_not_found(fx.bids.select(BidId(999_999), Utc::now()).await, "bid");
}

pub async fn select_fifty_concurrent_selections_of_one_order_have_one_winner(fx: RepoFixture) {
    let order = open_order(&fx).await;
    let bids = bids_of_masters(&fx, order.id, 50).await;
    let tasks = bids.iter().map(|b| {
        let (repo, id) = (fx.bids.clone(), b.id);
        tokio::spawn(async move { repo.select(id, Utc::now()).await })
    });
    let outcomes: Vec<Result<_, RepoError>> =
        futures::future::join_all(tasks).await.into_iter().map(|r| r.expect("selection task")).collect();

    let winners: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one selection succeeds: {outcomes:?}");
    assert_eq!(winners[0].outcome, SelectionOutcome::Selected);
    assert_eq!(winners[0].rejected.len(), 49);
    for loser in outcomes.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(loser, RepoError::Domain(e) if e.code() == "order_not_open"), "{loser:?}");
    }
    let stored = fx.orders.get(order.id).await.unwrap();
    assert_eq!((stored.status, stored.master_id), (OrderStatus::Assigned, Some(winners[0].selected.master_id)));
    let stored_bids = fx.bids.list_for_order(order.id).await.unwrap();
    let selected: Vec<_> = stored_bids.iter().filter(|b| b.status == BidStatus::Selected).collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].id, winners[0].selected.id);
    assert_eq!(stored_bids.iter().filter(|b| b.status == BidStatus::Rejected).count(), 49);
}
