//! Bids on the wire, and the answer to an assignment request.

use goodrobot_domain::{Bid, BidStatus, Note, Price};
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use super::Timestamp;
use crate::problem::{Checks, Problem};

/// Where a bid is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "BidStatus", rename_all = "lowercase")]
pub enum BidStatusDto {
    Active,
    Selected,
    Rejected,
}

impl From<BidStatus> for BidStatusDto {
    fn from(s: BidStatus) -> Self {
        match s {
            BidStatus::Active => BidStatusDto::Active,
            BidStatus::Selected => BidStatusDto::Selected,
            BidStatus::Rejected => BidStatusDto::Rejected,
        }
    }
}

/// A master's bid on an order.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Bid")]
pub struct BidDto {
    pub id: i64,
    pub order_id: i64,
    pub master_id: i64,
    /// Minor units (kopecks, cents).
    pub price: i64,
    pub note: String,
    pub status: BidStatusDto,
    pub created_at: Timestamp,
}

impl From<Bid> for BidDto {
    fn from(b: Bid) -> Self {
        Self {
            id: b.id.0,
            order_id: b.order_id.0,
            master_id: b.master_id.0,
            price: b.price.get(),
            note: b.note.into(),
            status: b.status.into(),
            created_at: b.created_at.into(),
        }
    }
}

/// A bid to place.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "PlaceBid", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct PlaceBid {
    /// An active master.
    pub master_id: i64,
    /// Minor units (kopecks, cents): 0 to 10^12.
    pub price: i64,
    /// Up to 1000 characters.
    pub note: Option<String>,
}

impl PlaceBid {
    /// # Errors
    /// 422 naming every invalid field.
    pub fn checked(&self) -> Result<(Price, Note), Problem> {
        let mut c = Checks::default();
        let price = c.check(Price::new(self.price));
        let note = c.check(Note::new(self.note.as_deref().unwrap_or_default()));
        let (Some(price), Some(note)) = (price, note) else {
            return Err(c.problem());
        };
        Ok((price, note))
    }
}

/// The bids of an order, in id order.
#[derive(Debug, Clone, Object)]
#[oai(rename = "BidList")]
pub struct BidList {
    pub items: Vec<BidDto>,
}

/// An assignment was accepted and is being processed by a task.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AssignAccepted")]
pub struct AssignAccepted {
    /// Always `processing`.
    pub status: String,
    /// The `process_bid_assignment` task; follow it at `GET /tasks/{task_id}`.
    pub task_id: String,
}
