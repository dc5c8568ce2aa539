//! Errors of the domain: invalid values (which field, why) and broken business rules.

use crate::{BidId, BidStatus, OrderId, OrderStatus, Role, UserId};

/// A value that failed validation: the field it belongs to and the reason, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// A business rule the requested change would break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("order {order_id} is {from}; it cannot become {to}")]
    IllegalTransition { order_id: OrderId, from: OrderStatus, to: OrderStatus },
    #[error("order {order_id} is {status}; bids can only be placed on or selected for a new order")]
    OrderNotOpen { order_id: OrderId, status: OrderStatus },
    #[error("bid {bid_id} is {status}; only an active bid can be selected")]
    BidNotActive { bid_id: BidId, status: BidStatus },
    #[error("bid {bid_id} does not belong to order {order_id}")]
    BidNotOfOrder { bid_id: BidId, order_id: OrderId },
    #[error("user {user_id} is a {actual}; this needs a {expected}")]
    WrongRole { user_id: UserId, expected: Role, actual: Role },
    #[error("user {user_id} is not active")]
    InactiveUser { user_id: UserId },
    #[error("master {master_id} already has an active bid on order {order_id}")]
    DuplicateActiveBid { order_id: OrderId, master_id: UserId },
    #[error("bid {bid_id} belongs to master {actual}, not {given}")]
    NotTheBidsMaster { bid_id: BidId, given: UserId, actual: UserId },
}

impl DomainError {
    /// A stable, machine-readable code for this error (used in problem+json bodies).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "validation_failed",
            Self::IllegalTransition { .. } => "illegal_transition",
            Self::OrderNotOpen { .. } => "order_not_open",
            Self::BidNotActive { .. } => "bid_not_active",
            Self::BidNotOfOrder { .. } => "bid_not_of_order",
            Self::WrongRole { .. } => "wrong_role",
            Self::InactiveUser { .. } => "inactive_user",
            Self::DuplicateActiveBid { .. } => "duplicate_active_bid",
            Self::NotTheBidsMaster { .. } => "not_the_bids_master",
        }
    }
}
