//! Application services: GoodRobot's use cases, written against the ports.

mod bids;
mod error;
mod orders;
mod tasks;
mod user_state;
mod users;

pub use bids::BidService;
pub use error::AppError;
pub use orders::{OrderService, PostOrder};
pub use tasks::{Expires, RetryPolicy, Submitted, TaskOptions, TaskPolicy, TaskRequest, TaskService};
pub use user_state::{DEFAULT_STATE_TTL, MAX_STATE_TTL, UserStateService};
pub use users::UserService;
