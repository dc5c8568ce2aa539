//! Bids: a master's offer (price, note) on an order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::{BidId, OrderId, UserId, ValidationError, order::text_type};

/// A price in minor units (kopecks, cents): zero or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Price(i64);

impl Price {
    /// The largest accepted price (10^12 minor units), far below i64's range.
    pub const MAX: i64 = 1_000_000_000_000;

    /// # Errors
    /// Negative or above `Price::MAX`.
    pub fn new(minor_units: i64) -> Result<Self, ValidationError> {
        if minor_units < 0 {
            return Err(ValidationError::new("price", "must not be negative"));
        }
        if minor_units > Self::MAX {
            return Err(ValidationError::new("price", format!("must be at most {}", Self::MAX)));
        }
        Ok(Self(minor_units))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Price {
    type Error = ValidationError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Price> for i64 {
    fn from(v: Price) -> Self {
        v.0
    }
}

text_type!(
    /// A master's note on a bid: up to 1000 characters, may be empty.
    Note, "note", 1000, true
);

/// Where a bid is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BidStatus {
    Active,
    Selected,
    Rejected,
}

impl BidStatus {
    pub const ALL: [BidStatus; 3] = [Self::Active, Self::Selected, Self::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Selected => "selected",
            Self::Rejected => "rejected",
        }
    }

    /// # Errors
    /// An unknown status name.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new("status", "must be one of active, selected, rejected"))
    }
}

impl fmt::Display for BidStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    pub id: BidId,
    pub order_id: OrderId,
    pub master_id: UserId,
    pub price: Price,
    pub note: Note,
    pub status: BidStatus,
    pub created_at: DateTime<Utc>,
}

/// A bid to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBid {
    pub order_id: OrderId,
    pub master_id: UserId,
    pub price: Price,
    pub note: Note,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_non_negative_and_bounded() {
        assert_eq!(Price::new(-1).unwrap_err().field, "price");
        assert!(Price::new(0).is_ok());
        assert!(Price::new(Price::MAX + 1).is_err());
        assert!(serde_json::from_str::<Price>("-5").is_err());
    }
}
