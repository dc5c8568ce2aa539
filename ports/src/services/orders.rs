//! Orders: a client posts one; it is completed or cancelled through legal moves only.

use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Address, Category, Description, NewOrder, Order, OrderFilter, OrderId, OrderTransition, Page, PageRequest, Role,
    UserId, ValidationError,
};
use std::sync::Arc;

use super::AppError;
use crate::{Clock, OrderRepository, UserRepository};

/// What a client asks for when posting an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOrder {
    pub client_id: UserId,
    pub category: Category,
    pub address: Address,
    pub description: Description,
    pub when_at: DateTime<Utc>,
}

/// The order use cases.
#[derive(Clone)]
pub struct OrderService {
    users: Arc<dyn UserRepository>,
    orders: Arc<dyn OrderRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OrderService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderService").finish_non_exhaustive()
    }
}

impl OrderService {
    pub fn new(users: Arc<dyn UserRepository>, orders: Arc<dyn OrderRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { users, orders, clock }
    }

    /// Posts an order for an active client, for a time not in the past.
    ///
    /// # Errors
    /// `NotFound` (client); `Rule(WrongRole | InactiveUser)`; `Invalid(when_at)`.
    #[tracing::instrument(skip_all, fields(client_id = %req.client_id), err)]
    pub async fn create(&self, req: PostOrder) -> Result<Order, AppError> {
        let now = self.clock.now();
        if req.when_at < now {
            return Err(ValidationError::new("when_at", "must not be in the past").into());
        }
        self.users.get(req.client_id).await?.require(Role::Client)?;
        let new = NewOrder {
            client_id: req.client_id,
            category: req.category,
            address: req.address,
            description: req.description,
            when_at: req.when_at,
        };
        Ok(self.orders.create(new, now).await?)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: OrderId) -> Result<Order, AppError> {
        Ok(self.orders.get(id).await?)
    }

    /// # Errors
    /// Repository failures.
    pub async fn list(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, AppError> {
        Ok(self.orders.list(filter, page).await?)
    }

    /// # Errors
    /// `NotFound`; `Rule(IllegalTransition)` unless the order is assigned.
    #[tracing::instrument(skip(self), err)]
    pub async fn complete(&self, id: OrderId) -> Result<Order, AppError> {
        Ok(self.orders.transition(id, OrderTransition::Complete, self.clock.now()).await?)
    }

    /// # Errors
    /// `NotFound`; `Rule(IllegalTransition)` if the order is done or cancelled.
    #[tracing::instrument(skip(self), err)]
    pub async fn cancel(&self, id: OrderId) -> Result<Order, AppError> {
        Ok(self.orders.transition(id, OrderTransition::Cancel, self.clock.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        RepoError,
        clock::MockClock,
        repository::{MockOrderRepository, MockUserRepository},
    };
    use goodrobot_domain::{DomainError, OrderStatus, PersonName, TgId, User};

    fn user(role: Role) -> User {
        User {
            id: UserId(1),
            tg_id: TgId::new(10).unwrap(),
            role,
            name: PersonName::new("Ann").unwrap(),
            phone: None,
            is_active: true,
            created_at: Utc::now(),
        }
    }

    fn clock() -> MockClock {
        let mut c = MockClock::new();
        c.expect_now().returning(Utc::now);
        c
    }

    fn post(when_at: DateTime<Utc>) -> PostOrder {
        PostOrder {
            client_id: UserId(1),
            category: Category::new("plumbing").unwrap(),
            address: Address::new("Main st 1").unwrap(),
            description: Description::new("leak").unwrap(),
            when_at,
        }
    }

    #[tokio::test]
    async fn only_a_client_posts_orders() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(user(Role::Master)));
        let svc = OrderService::new(Arc::new(users), Arc::new(MockOrderRepository::new()), Arc::new(clock()));
        let e = svc.create(post(Utc::now() + chrono::Duration::hours(1))).await.unwrap_err();
        assert!(matches!(e, AppError::Rule(DomainError::WrongRole { expected: Role::Client, .. })));
    }

    #[tokio::test]
    async fn an_order_in_the_past_is_refused() {
        let svc = OrderService::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(MockOrderRepository::new()),
            Arc::new(clock()),
        );
        let e = svc.create(post(Utc::now() - chrono::Duration::hours(1))).await.unwrap_err();
        assert!(matches!(e, AppError::Invalid(v) if v.field == "when_at"));
    }

    #[tokio::test]
    async fn a_client_posts_an_order() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(user(Role::Client)));
        let mut orders = MockOrderRepository::new();
        orders.expect_create().times(1).returning(|o, now| {
            Ok(Order {
                id: OrderId(5),
                client_id: o.client_id,
                master_id: None,
                category: o.category,
                address: o.address,
                description: o.description,
                when_at: o.when_at,
                status: OrderStatus::New,
                created_at: now,
                updated_at: now,
            })
        });
        let svc = OrderService::new(Arc::new(users), Arc::new(orders), Arc::new(clock()));
        let o = svc.create(post(Utc::now() + chrono::Duration::hours(1))).await.unwrap();
        assert_eq!((o.id, o.status), (OrderId(5), OrderStatus::New));
    }

    #[tokio::test]
    async fn completing_a_new_order_is_refused() {
        let mut orders = MockOrderRepository::new();
        orders.expect_transition().returning(|id, t, _| {
            Err(RepoError::Domain(DomainError::IllegalTransition {
                order_id: id,
                from: OrderStatus::New,
                to: t.target(),
            }))
        });
        let svc = OrderService::new(Arc::new(MockUserRepository::new()), Arc::new(orders), Arc::new(clock()));
        assert!(matches!(svc.complete(OrderId(1)).await, Err(AppError::Rule(DomainError::IllegalTransition { .. }))));
    }
}
