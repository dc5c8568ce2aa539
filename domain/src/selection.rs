//! The bid-selection rule: a client picks one active bid of a new order.

use chrono::{DateTime, Utc};

use crate::{Bid, BidId, BidStatus, DomainError, Order, OrderStatus};

/// Whether a selection changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionOutcome {
    /// The bid was selected now: the order is assigned, the other bids are rejected.
    Selected,
    /// The same bid had been selected before; nothing changed (a redelivered task).
    AlreadySelected,
}

/// The state after a selection: what a repository must store, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub order: Order,
    pub selected: Bid,
    /// Bids that this selection rejected (empty when `AlreadySelected`).
    pub rejected: Vec<BidId>,
    pub outcome: SelectionOutcome,
}

/// Applies the selection of `bid_id` to an order and all of its bids.
///
/// Allowed only on a `new` order and for an `active` bid of that order; the order becomes
/// `assigned` to the bid's master, the bid `selected`, every other active bid `rejected`.
/// Selecting the bid that is already the selected one succeeds without change.
///
/// # Errors
/// `BidNotOfOrder`, `OrderNotOpen`, `BidNotActive`.
pub fn select_bid(
    mut order: Order,
    mut bids: Vec<Bid>,
    bid_id: BidId,
    now: DateTime<Utc>,
) -> Result<Selection, DomainError> {
    let idx = bids
        .iter()
        .position(|b| b.id == bid_id && b.order_id == order.id)
        .ok_or(DomainError::BidNotOfOrder { bid_id, order_id: order.id })?;
    let chosen = &bids[idx];
    if chosen.status == BidStatus::Selected
        && order.status == OrderStatus::Assigned
        && order.master_id == Some(chosen.master_id)
    {
        let selected = bids.swap_remove(idx);
        return Ok(Selection { order, selected, rejected: Vec::new(), outcome: SelectionOutcome::AlreadySelected });
    }
    if order.status != OrderStatus::New {
        return Err(DomainError::OrderNotOpen { order_id: order.id, status: order.status });
    }
    if chosen.status != BidStatus::Active {
        return Err(DomainError::BidNotActive { bid_id, status: chosen.status });
    }
    order.transition(OrderStatus::Assigned, now)?;
    order.master_id = Some(chosen.master_id);
    let mut rejected = Vec::new();
    for b in &mut bids {
        if b.id == bid_id {
            b.status = BidStatus::Selected;
        } else if b.status == BidStatus::Active {
            b.status = BidStatus::Rejected;
            rejected.push(b.id);
        }
    }
    let selected = bids.swap_remove(idx);
    Ok(Selection { order, selected, rejected, outcome: SelectionOutcome::Selected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Category, Description, Note, OrderId, Price, UserId};

    fn order(status: OrderStatus) -> Order {
        let now = Utc::now();
        Order {
            id: OrderId(7),
            client_id: UserId(1),
            master_id: None,
            category: Category::new("plumbing").unwrap(),
            address: Address::new("Main st 1").unwrap(),
            description: Description::new("leak").unwrap(),
            when_at: now,
            status,
            created_at: now,
            updated_at: now,
        }
    }

    fn bid(id: i64, master: i64, status: BidStatus) -> Bid {
        Bid {
            id: BidId(id),
            order_id: OrderId(7),
            master_id: UserId(master),
            price: Price::new(100).unwrap(),
            note: Note::new("").unwrap(),
            status,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn selecting_assigns_order_and_rejects_others() {
        let bids = vec![bid(1, 10, BidStatus::Active), bid(2, 11, BidStatus::Active), bid(3, 12, BidStatus::Active)];
        let s = select_bid(order(OrderStatus::New), bids, BidId(2), Utc::now()).unwrap();
        assert_eq!(s.outcome, SelectionOutcome::Selected);
        assert_eq!(s.order.status, OrderStatus::Assigned);
        assert_eq!(s.order.master_id, Some(UserId(11)));
        assert_eq!(s.selected.status, BidStatus::Selected);
        assert_eq!(s.rejected, vec![BidId(1), BidId(3)]);
    }

    #[test]
    fn selecting_again_the_same_bid_changes_nothing() {
        let mut o = order(OrderStatus::Assigned);
        o.master_id = Some(UserId(11));
        let bids = vec![bid(1, 10, BidStatus::Rejected), bid(2, 11, BidStatus::Selected)];
        let s = select_bid(o, bids, BidId(2), Utc::now()).unwrap();
        assert_eq!(s.outcome, SelectionOutcome::AlreadySelected);
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn selecting_on_an_assigned_order_is_refused() {
        let mut o = order(OrderStatus::Assigned);
        o.master_id = Some(UserId(11));
        let bids = vec![bid(1, 10, BidStatus::Rejected), bid(2, 11, BidStatus::Selected)];
        let e = select_bid(o, bids, BidId(1), Utc::now()).unwrap_err();
        assert!(matches!(e, DomainError::OrderNotOpen { .. }));
    }

    #[test]
    fn a_rejected_bid_cannot_be_selected() {
        let bids = vec![bid(1, 10, BidStatus::Rejected)];
        let e = select_bid(order(OrderStatus::New), bids, BidId(1), Utc::now()).unwrap_err();
        assert!(matches!(e, DomainError::BidNotActive { .. }));
    }

    #[test]
    fn a_bid_of_another_order_is_refused() {
        let bids = vec![bid(1, 10, BidStatus::Active)];
        let e = select_bid(order(OrderStatus::New), bids, BidId(99), Utc::now()).unwrap_err();
        assert!(matches!(e, DomainError::BidNotOfOrder { .. }));
    }
}
