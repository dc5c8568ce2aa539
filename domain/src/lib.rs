//! GoodRobot's pure model: users, orders, bids, the bid-selection rule, task contracts.
//!
//! This crate does no I/O (Cargo proves it: it depends on serde, uuid, chrono and thiserror
//! only). Constructors validate and return `Result`; a value that exists is a valid value.

pub mod bid;
pub mod error;
pub mod ids;
pub mod order;
pub mod page;
pub mod report;
pub mod selection;
pub mod task;
pub mod user;

pub use bid::{Bid, BidStatus, NewBid, Note, Price};
pub use error::{DomainError, ValidationError};
pub use ids::{BidId, OrderId, UserId};
pub use order::{Address, Category, Description, NewOrder, Order, OrderFilter, OrderStatus, OrderTransition};
pub use page::{Page, PageRequest};
pub use selection::{Selection, SelectionOutcome, select_bid};
pub use user::{NewUser, PersonName, Phone, Role, TgId, User, UserPatch};
