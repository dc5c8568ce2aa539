//! Application services: GoodRobot's use cases, written against the ports.

mod bids;
mod error;
mod orders;
mod tasks;
mod users;

pub use bids::BidService;
pub use error::AppError;
pub use orders::{OrderService, PostOrder};
pub use tasks::{Expires, RetryPolicy, Submitted, TaskOptions, TaskPolicy, TaskRequest, TaskService};
pub use users::UserService;
