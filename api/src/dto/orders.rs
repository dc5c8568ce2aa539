//! Orders on the wire.

use goodrobot_domain::{Address, Category, Description, Order, OrderStatus, UserId};
use goodrobot_ports::services::PostOrder;
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use super::Timestamp;
use crate::problem::{Checks, Problem};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "OrderStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum OrderStatusDto {
    New,
    Assigned,
    Done,
    Cancelled,
}

impl From<OrderStatusDto> for OrderStatus {
    fn from(s: OrderStatusDto) -> Self {
        match s {
            OrderStatusDto::New => OrderStatus::New,
            OrderStatusDto::Assigned => OrderStatus::Assigned,
            OrderStatusDto::Done => OrderStatus::Done,
            OrderStatusDto::Cancelled => OrderStatus::Cancelled,
        }
    }
}

impl From<OrderStatus> for OrderStatusDto {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::New => OrderStatusDto::New,
            OrderStatus::Assigned => OrderStatusDto::Assigned,
            OrderStatus::Done => OrderStatusDto::Done,
            OrderStatus::Cancelled => OrderStatusDto::Cancelled,
        }
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Order")]
pub struct OrderDto {
    pub id: i64,
    pub client_id: i64,
    /// The assigned master, once a bid is selected.
    pub master_id: Option<i64>,
    pub category: String,
    pub address: String,
    pub description: String,
    pub when_at: Timestamp,
    pub status: OrderStatusDto,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Order> for OrderDto {
    fn from(o: Order) -> Self {
        Self {
            id: o.id.0,
            client_id: o.client_id.0,
            master_id: o.master_id.map(|m| m.0),
            category: o.category.into(),
            address: o.address.into(),
            description: o.description.into(),
            when_at: o.when_at.into(),
            status: o.status.into(),
            created_at: o.created_at.into(),
            updated_at: o.updated_at.into(),
        }
    }
}

/// An order to post.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "CreateOrder", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// An active client.
    pub client_id: i64,
    /// 1 to 64 characters, e.g. `plumbing`.
    pub category: String,
    /// 1 to 300 characters.
    pub address: String,
    /// Up to 2000 characters.
    pub description: Option<String>,
    /// When the work is wanted; not in the past.
    pub when_at: Timestamp,
}

impl CreateOrder {
    /// # Errors
    /// 422 naming every invalid field.
    pub fn into_domain(self) -> Result<PostOrder, Problem> {
        let mut c = Checks::default();
        let category = c.check(Category::new(&self.category));
        let address = c.check(Address::new(&self.address));
        let description = c.check(Description::new(self.description.as_deref().unwrap_or_default()));
        let (Some(category), Some(address), Some(description)) = (category, address, description) else {
            return Err(c.problem());
        };
        Ok(PostOrder { client_id: UserId(self.client_id), category, address, description, when_at: self.when_at.0 })
    }
}

/// A page of orders in id order.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrderPage")]
pub struct OrderPage {
    pub items: Vec<OrderDto>,
    /// Pass as `after` to read the next page; null on the last page.
    pub next_after: Option<i64>,
}
