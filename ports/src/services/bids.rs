//! Bids: a master places one on a new order; a client's selection assigns the order.

use goodrobot_domain::{
    Bid, BidId, BidStatus, DomainError, NewBid, Note, OrderId, OrderStatus, Price, Role, Selection, UserId,
};
use std::sync::Arc;

use super::AppError;
use crate::{BidRepository, Clock, OrderRepository, UserRepository};

/// The bid use cases.
#[derive(Clone)]
pub struct BidService {
    users: Arc<dyn UserRepository>,
    orders: Arc<dyn OrderRepository>,
    bids: Arc<dyn BidRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for BidService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidService").finish_non_exhaustive()
    }
}

impl BidService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        orders: Arc<dyn OrderRepository>,
        bids: Arc<dyn BidRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { users, orders, bids, clock }
    }

    /// An active master places a bid on a new order (one active bid per master per order).
    ///
    /// # Errors
    /// `NotFound` (master, order); `Rule(WrongRole | InactiveUser | OrderNotOpen | DuplicateActiveBid)`.
    #[tracing::instrument(skip(self, note), err)]
    pub async fn place(&self, order_id: OrderId, master_id: UserId, price: Price, note: Note) -> Result<Bid, AppError> {
        self.users.get(master_id).await?.require(Role::Master)?;
        let bid = NewBid { order_id, master_id, price, note };
        Ok(self.bids.create(bid, self.clock.now()).await?)
    }

    /// # Errors
    /// `NotFound` (order).
    pub async fn list(&self, order_id: OrderId) -> Result<Vec<Bid>, AppError> {
        Ok(self.bids.list_for_order(order_id).await?)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: BidId) -> Result<Bid, AppError> {
        Ok(self.bids.get(id).await?)
    }

    /// Checks that an assignment of `bid_id` to `master_id` can go ahead before it is queued:
    /// the master is the bid's, and the order is still open (or this very bid already won).
    ///
    /// # Errors
    /// `NotFound`; `Rule(NotTheBidsMaster | OrderNotOpen | BidNotActive)`.
    #[tracing::instrument(skip(self), err)]
    pub async fn check_assignment(&self, bid_id: BidId, master_id: UserId) -> Result<Bid, AppError> {
        let bid = self.bids.get(bid_id).await?;
        if bid.master_id != master_id {
            return Err(DomainError::NotTheBidsMaster { bid_id, given: master_id, actual: bid.master_id }.into());
        }
        let order = self.orders.get(bid.order_id).await?;
        let already_won = bid.status == BidStatus::Selected && order.master_id == Some(master_id);
        if order.status != OrderStatus::New && !already_won {
            return Err(DomainError::OrderNotOpen { order_id: order.id, status: order.status }.into());
        }
        if bid.status != BidStatus::Active && !already_won {
            return Err(DomainError::BidNotActive { bid_id, status: bid.status }.into());
        }
        Ok(bid)
    }

    /// Selects a bid (atomically, idempotently: see [`BidRepository::select`]).
    ///
    /// # Errors
    /// `NotFound`; `Rule(OrderNotOpen | BidNotActive)`.
    #[tracing::instrument(skip(self), err)]
    pub async fn select(&self, bid_id: BidId) -> Result<Selection, AppError> {
        Ok(self.bids.select(bid_id, self.clock.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        RepoError,
        clock::MockClock,
        repository::{MockBidRepository, MockOrderRepository, MockUserRepository},
    };
    use chrono::Utc;
    use goodrobot_domain::{Address, Category, Description, Order, PersonName, TgId, User};

    fn user(role: Role) -> User {
        User {
            id: UserId(2),
            tg_id: TgId::new(20).unwrap(),
            role,
            name: PersonName::new("Bob").unwrap(),
            phone: None,
            is_active: true,
            created_at: Utc::now(),
        }
    }

    fn order(status: OrderStatus, master: Option<i64>) -> Order {
        let now = Utc::now();
        Order {
            id: OrderId(1),
            client_id: UserId(1),
            master_id: master.map(UserId),
            category: Category::new("plumbing").unwrap(),
            address: Address::new("a").unwrap(),
            description: Description::new("").unwrap(),
            when_at: now,
            status,
            created_at: now,
            updated_at: now,
        }
    }

    fn bid(status: BidStatus) -> Bid {
        Bid {
            id: BidId(3),
            order_id: OrderId(1),
            master_id: UserId(2),
            price: Price::new(100).unwrap(),
            note: Note::new("").unwrap(),
            status,
            created_at: Utc::now(),
        }
    }

    fn clock() -> Arc<MockClock> {
        let mut c = MockClock::new();
        c.expect_now().returning(Utc::now);
        Arc::new(c)
    }

    fn svc(users: MockUserRepository, orders: MockOrderRepository, bids: MockBidRepository) -> BidService {
        BidService::new(Arc::new(users), Arc::new(orders), Arc::new(bids), clock())
    }

    #[tokio::test]
    async fn only_a_master_places_a_bid() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(user(Role::Client)));
        let s = svc(users, MockOrderRepository::new(), MockBidRepository::new());
        let e = s.place(OrderId(1), UserId(2), Price::new(1).unwrap(), Note::new("").unwrap()).await.unwrap_err();
        assert!(matches!(e, AppError::Rule(DomainError::WrongRole { expected: Role::Master, .. })));
    }

    #[tokio::test]
    async fn a_master_places_a_bid() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(user(Role::Master)));
        let mut bids = MockBidRepository::new();
        bids.expect_create().times(1).returning(|_, _| Ok(bid(BidStatus::Active)));
        let s = svc(users, MockOrderRepository::new(), bids);
        let b = s.place(OrderId(1), UserId(2), Price::new(100).unwrap(), Note::new("").unwrap()).await.unwrap();
        assert_eq!(b.status, BidStatus::Active);
    }

    #[tokio::test]
    async fn assignment_for_another_master_is_refused() {
        let mut bids = MockBidRepository::new();
        bids.expect_get().returning(|_| Ok(bid(BidStatus::Active)));
        let s = svc(MockUserRepository::new(), MockOrderRepository::new(), bids);
        let e = s.check_assignment(BidId(3), UserId(99)).await.unwrap_err();
        assert!(matches!(e, AppError::Rule(DomainError::NotTheBidsMaster { .. })));
    }

    #[tokio::test]
    async fn assignment_on_an_assigned_order_is_refused() {
        let mut bids = MockBidRepository::new();
        bids.expect_get().returning(|_| Ok(bid(BidStatus::Rejected)));
        let mut orders = MockOrderRepository::new();
        orders.expect_get().returning(|_| Ok(order(OrderStatus::Assigned, Some(7))));
        let s = svc(MockUserRepository::new(), orders, bids);
        let e = s.check_assignment(BidId(3), UserId(2)).await.unwrap_err();
        assert!(matches!(e, AppError::Rule(DomainError::OrderNotOpen { .. })));
    }

    #[tokio::test]
    async fn assignment_of_the_bid_that_already_won_is_allowed() {
        let mut bids = MockBidRepository::new();
        bids.expect_get().returning(|_| Ok(bid(BidStatus::Selected)));
        let mut orders = MockOrderRepository::new();
        orders.expect_get().returning(|_| Ok(order(OrderStatus::Assigned, Some(2))));
        let s = svc(MockUserRepository::new(), orders, bids);
        assert!(s.check_assignment(BidId(3), UserId(2)).await.is_ok());
    }

    #[tokio::test]
    async fn select_bid_on_an_assigned_order_is_refused() {
        let mut bids = MockBidRepository::new();
        bids.expect_select().returning(|_, _| {
            Err(RepoError::Domain(DomainError::OrderNotOpen { order_id: OrderId(1), status: OrderStatus::Assigned }))
        });
        let s = svc(MockUserRepository::new(), MockOrderRepository::new(), bids);
        assert!(matches!(s.select(BidId(3)).await, Err(AppError::Rule(DomainError::OrderNotOpen { .. }))));
    }

    #[tokio::test]
    async fn a_bid_on_a_missing_order_is_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(user(Role::Master)));
        let mut bids = MockBidRepository::new();
        bids.expect_create().returning(|b, _| Err(RepoError::not_found("order", b.order_id)));
        let s = svc(users, MockOrderRepository::new(), bids);
        let e = s.place(OrderId(404), UserId(2), Price::new(1).unwrap(), Note::new("").unwrap()).await.unwrap_err();
        assert!(matches!(e, AppError::NotFound { entity: "order", .. }));
    }
}
