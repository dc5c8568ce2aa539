//! The wire format: request and response bodies, separate from the domain types, each
//! request converted through the domain's constructors so that every violation names its field.

mod bids;
mod orders;
mod tasks;
mod time;
mod users;

pub use bids::{AssignAccepted, BidDto, BidList, BidStatusDto, PlaceBid};
pub use orders::{CreateOrder, OrderDto, OrderPage, OrderStatusDto};
pub use tasks::{
    CreateReport, ExpiresInput, NotificationTypeDto, ReportParamsDto, ReportTypeDto, RetryPolicyDto,
    SendNotificationBody, SubmitTask, TaskAccepted, TaskDto, TaskErrorDto, TaskStateDto,
};
pub use time::Timestamp;
pub use users::{CreateUser, RoleDto, UpdateUser, UserDto, UserPage};

use goodrobot_domain::PageRequest;

use crate::problem::Problem;

/// The `?after=&limit=` of a list.
///
/// # Errors
/// 422 naming `limit` or `after`.
pub fn page(after: Option<i64>, limit: Option<u32>) -> Result<PageRequest, Problem> {
    Ok(PageRequest::new(after, limit)?)
}
