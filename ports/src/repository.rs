//! Repositories: the system of record for users, orders and bids.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Bid, BidId, DomainError, NewBid, NewOrder, NewUser, Order, OrderFilter, OrderId, OrderTransition, Page,
    PageRequest, Selection, TgId, User, UserId, UserPatch,
};

/// What a repository can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// A unique rule would be broken, e.g. a second user with the same `tg_id`.
    #[error("{field} conflicts with an existing record: {message}")]
    Conflict { field: String, message: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The store cannot be reached now; the same call may succeed later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Internal(String),
}

impl RepoError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound { entity, id: id.to_string() }
    }
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// # Errors
    /// `Conflict` on a taken `tg_id` (field `tg_id`) or phone (field `phone`).
    async fn create(&self, user: NewUser) -> Result<User, RepoError>;
    /// # Errors
    /// `NotFound` if there is no such user.
    async fn get(&self, id: UserId) -> Result<User, RepoError>;
    /// The user with this Telegram id (what a bot knows of who writes to it).
    ///
    /// # Errors
    /// `NotFound` if no user has it.
    async fn find_by_tg_id(&self, tg_id: TgId) -> Result<User, RepoError>;
    /// Users in id order.
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError>;
    /// # Errors
    /// `NotFound`; `Conflict` on a taken phone.
    async fn update(&self, id: UserId, patch: UserPatch) -> Result<User, RepoError>;
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// # Errors
    /// `NotFound` if the client does not exist.
    async fn create(&self, order: NewOrder, now: DateTime<Utc>) -> Result<Order, RepoError>;
    /// # Errors
    /// `NotFound` if there is no such order.
    async fn get(&self, id: OrderId) -> Result<Order, RepoError>;
    /// Orders matching `filter`, in id order.
    async fn list(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, RepoError>;
    /// How many orders match `filter` now (a long scan's denominator for its progress).
    async fn count(&self, filter: OrderFilter) -> Result<u64, RepoError>;
    /// Applies a status change atomically.
    ///
    /// # Errors
    /// `NotFound`; `Domain(IllegalTransition)` if the move is not legal from the current status.
    async fn transition(&self, id: OrderId, t: OrderTransition, now: DateTime<Utc>) -> Result<Order, RepoError>;
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait BidRepository: Send + Sync {
    /// Places a bid on an order that is `new`.
    ///
    /// # Errors
    /// `NotFound` (order or master); `Domain(OrderNotOpen)`; `Domain(DuplicateActiveBid)`
    /// when the master already has an active bid on the order.
    async fn create(&self, bid: NewBid, now: DateTime<Utc>) -> Result<Bid, RepoError>;
    /// # Errors
    /// `NotFound` if there is no such bid.
    async fn get(&self, id: BidId) -> Result<Bid, RepoError>;
    /// The bids of an order, in id order.
    ///
    /// # Errors
    /// `NotFound` if there is no such order.
    async fn list_for_order(&self, order: OrderId) -> Result<Vec<Bid>, RepoError>;
    /// Selects a bid: one atomic step over the order and all its bids (see
    /// [`goodrobot_domain::select_bid`]); of two concurrent selections on one order exactly
    /// one wins. Selecting the already selected bid again succeeds and changes nothing.
    ///
    /// # Errors
    /// `NotFound`; `Domain(OrderNotOpen | BidNotActive)`.
    async fn select(&self, bid: BidId, now: DateTime<Utc>) -> Result<Selection, RepoError>;
}
