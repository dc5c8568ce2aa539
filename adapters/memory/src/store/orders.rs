//! Orders in the memory store: created for an existing client, moved by legal transitions only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::{NewOrder, Order, OrderFilter, OrderId, OrderStatus, OrderTransition, Page, PageRequest};
use goodrobot_ports::{OrderRepository, RepoError};

use super::{MemoryStore, keyset_page};

#[async_trait]
impl OrderRepository for MemoryStore {
    async fn create(&self, order: NewOrder, now: DateTime<Utc>) -> Result<Order, RepoError> {
        let mut t = self.tables();
        if !t.users.contains_key(&order.client_id) {
            return Err(RepoError::not_found("user", order.client_id));
        }
        t.last_order += 1;
        let order = Order {
            id: OrderId(t.last_order),
            client_id: order.client_id,
            master_id: None,
            category: order.category,
            address: order.address,
            description: order.description,
            when_at: order.when_at,
            status: OrderStatus::New,
            created_at: now,
            updated_at: now,
        };
        t.orders.insert(order.id, order.clone());
        Ok(order)
    }

    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        self.tables().orders.get(&id).cloned().ok_or_else(|| RepoError::not_found("order", id))
    }

    async fn list(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, RepoError> {
        Ok(keyset_page(&self.tables().orders, page, |o| filter.matches(o), |o| o.id.0))
    }

    async fn count(&self, filter: OrderFilter) -> Result<u64, RepoError> {
        Ok(self.tables().orders.values().filter(|o| filter.matches(o)).count() as u64)
    }

    async fn transition(&self, id: OrderId, t: OrderTransition, now: DateTime<Utc>) -> Result<Order, RepoError> {
        let mut tables = self.tables();
        let order = tables.orders.get_mut(&id).ok_or_else(|| RepoError::not_found("order", id))?;
        order.transition(t.target(), now)?;
        Ok(order.clone())
    }
}
