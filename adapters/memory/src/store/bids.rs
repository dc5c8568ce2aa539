//! Bids in the memory store: placed on new orders only, one active bid per master and order,
//! and selected atomically over the order and all of its bids.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Bid, BidId, BidStatus, DomainError, NewBid, OrderId, OrderStatus, Selection, SelectionOutcome, select_bid,
};
use goodrobot_ports::{BidRepository, RepoError};

use super::{MemoryStore, Tables};

impl Tables {
    fn bids_of(&self, order: OrderId) -> Vec<Bid> {
        self.bids_by_order.get(&order).into_iter().flatten().filter_map(|id| self.bids.get(id)).cloned().collect()
    }
}

#[async_trait]
impl BidRepository for MemoryStore {
    async fn create(&self, bid: NewBid, now: DateTime<Utc>) -> Result<Bid, RepoError> {
        let mut t = self.tables();
        let order = t.orders.get(&bid.order_id).ok_or_else(|| RepoError::not_found("order", bid.order_id))?;
        if !t.users.contains_key(&bid.master_id) {
            return Err(RepoError::not_found("user", bid.master_id));
        }
        if order.status != OrderStatus::New {
            return Err(DomainError::OrderNotOpen { order_id: order.id, status: order.status }.into());
        }
        if t.bids_of(bid.order_id).iter().any(|b| b.master_id == bid.master_id && b.status == BidStatus::Active) {
            return Err(DomainError::DuplicateActiveBid { order_id: bid.order_id, master_id: bid.master_id }.into());
        }
        t.last_bid += 1;
        let bid = Bid {
            id: BidId(t.last_bid),
            order_id: bid.order_id,
            master_id: bid.master_id,
            price: bid.price,
            note: bid.note,
            status: BidStatus::Active,
            created_at: now,
        };
        t.bids.insert(bid.id, bid.clone());
        t.bids_by_order.entry(bid.order_id).or_default().push(bid.id);
        Ok(bid)
    }

    async fn get(&self, id: BidId) -> Result<Bid, RepoError> {
        self.tables().bids.get(&id).cloned().ok_or_else(|| RepoError::not_found("bid", id))
    }

    async fn list_for_order(&self, order: OrderId) -> Result<Vec<Bid>, RepoError> {
        let t = self.tables();
        if !t.orders.contains_key(&order) {
            return Err(RepoError::not_found("order", order));
        }
        Ok(t.bids_of(order))
    }

    async fn select(&self, bid: BidId, now: DateTime<Utc>) -> Result<Selection, RepoError> {
        let mut t = self.tables();
        let order_id = t.bids.get(&bid).ok_or_else(|| RepoError::not_found("bid", bid))?.order_id;
        let order = t.orders.get(&order_id).cloned().ok_or_else(|| RepoError::not_found("order", order_id))?;
        let selection = select_bid(order, t.bids_of(order_id), bid, now)?;
        if selection.outcome == SelectionOutcome::Selected {
            t.orders.insert(order_id, selection.order.clone());
            t.bids.insert(bid, selection.selected.clone());
            for id in &selection.rejected {
                if let Some(b) = t.bids.get_mut(id) {
                    b.status = BidStatus::Rejected;
                }
            }
        }
        Ok(selection)
    }
}
