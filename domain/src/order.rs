//! Orders: what a client asks for, and the legal moves of its status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

use crate::{DomainError, OrderId, UserId, ValidationError};

macro_rules! text_type {
    ($(#[$m:meta])* $name:ident, $field:literal, $max:expr, $allow_empty:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            /// # Errors
            /// Too long, empty where not allowed, or containing control characters.
            pub fn new(v: &str) -> Result<Self, $crate::ValidationError> {
                $crate::user::bounded_text($field, v, Self::MAX_CHARS, $allow_empty).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::ValidationError;
            fn try_from(v: String) -> Result<Self, Self::Error> {
                Self::new(&v)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}
pub(crate) use text_type;

text_type!(
    /// A service category ("plumbing", "electrics"): 1..=64 characters.
    Category, "category", 64, false
);
text_type!(
    /// Where the work is done: 1..=300 characters.
    Address, "address", 300, false
);
text_type!(
    /// What the client wants done: up to 2000 characters, may be empty.
    Description, "description", 2000, true
);

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    New,
    Assigned,
    Done,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [Self::New, Self::Assigned, Self::Done, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Assigned => "assigned",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// The legal moves: new → assigned | cancelled; assigned → done | cancelled.
    pub fn can_become(self, to: OrderStatus) -> bool {
        matches!(
            (self, to),
            (Self::New, Self::Assigned)
                | (Self::New, Self::Cancelled)
                | (Self::Assigned, Self::Done)
                | (Self::Assigned, Self::Cancelled)
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new("status", "must be one of new, assigned, done, cancelled"))
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub client_id: UserId,
    pub master_id: Option<UserId>,
    pub category: Category,
    pub address: Address,
    pub description: Description,
    pub when_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A status change a user may ask for directly (assignment happens through bid selection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTransition {
    Complete,
    Cancel,
}

impl OrderTransition {
    pub fn target(self) -> OrderStatus {
        match self {
            Self::Complete => OrderStatus::Done,
            Self::Cancel => OrderStatus::Cancelled,
        }
    }
}

impl Order {
    /// Moves the order to `to` if that move is legal.
    ///
    /// # Errors
    /// `IllegalTransition` otherwise; the order is left unchanged.
    pub fn transition(&mut self, to: OrderStatus, now: DateTime<Utc>) -> Result<(), DomainError> {
        if !self.status.can_become(to) {
            return Err(DomainError::IllegalTransition { order_id: self.id, from: self.status, to });
        }
        self.status = to;
        self.updated_at = now;
        Ok(())
    }
}

/// An order to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub client_id: UserId,
    pub category: Category,
    pub address: Address,
    pub description: Description,
    pub when_at: DateTime<Utc>,
}

/// Which orders to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub category: Option<Category>,
    pub client_id: Option<UserId>,
}

impl OrderFilter {
    pub fn matches(&self, o: &Order) -> bool {
        self.status.is_none_or(|s| s == o.status)
            && self.category.as_ref().is_none_or(|c| c == &o.category)
            && self.client_id.is_none_or(|c| c == o.client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: OrderStatus) -> Order {
        let now = Utc::now();
        Order {
            id: OrderId(1),
            client_id: UserId(1),
            master_id: None,
            category: Category::new("plumbing").unwrap(),
            address: Address::new("Main st 1").unwrap(),
            description: Description::new("").unwrap(),
            when_at: now,
            status,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn legal_transitions_only() {
        use OrderStatus::*;
        let legal = [(New, Assigned), (New, Cancelled), (Assigned, Done), (Assigned, Cancelled)];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let mut o = order(from);
                let r = o.transition(to, Utc::now());
                assert_eq!(r.is_ok(), legal.contains(&(from, to)), "{from} -> {to}");
                if r.is_err() {
                    assert_eq!(o.status, from);
                }
            }
        }
    }

    #[test]
    fn texts_are_validated() {
        assert_eq!(Category::new("").unwrap_err().field, "category");
        assert!(Description::new("").is_ok());
        assert!(Address::new(&"a".repeat(301)).is_err());
    }
}
