//! GoodRobot's task handlers and the registry every worker runs.

mod assignment;
mod diag;
mod notification;
mod report;

pub use assignment::ProcessBidAssignmentHandler;
pub use diag::{DiagNoopHandler, DiagSleepHandler};
pub use notification::SendNotificationHandler;
pub use report::GenerateAnalyticsReportHandler;

use goodrobot_domain::task::{DiagNoop, DiagSleep, GenerateAnalyticsReport, ProcessBidAssignment, SendNotification};
use goodrobot_ports::services::BidService;

use crate::{Registry, WorkerDeps};

/// Every task this system knows, with its handler.
pub fn goodrobot_registry(deps: &WorkerDeps) -> Registry {
    let bids = BidService::new(deps.users.clone(), deps.orders.clone(), deps.bids.clone(), deps.clock.clone());
    let mut r = Registry::new();
    r.register::<ProcessBidAssignment, _>(ProcessBidAssignmentHandler::new(bids))
        .register::<SendNotification, _>(SendNotificationHandler::new(deps.users.clone(), deps.notifier.clone()))
        .register::<GenerateAnalyticsReport, _>(GenerateAnalyticsReportHandler::new(
            deps.orders.clone(),
            deps.bids.clone(),
            deps.clock.clone(),
        ))
        .register::<DiagNoop, _>(DiagNoopHandler)
        .register::<DiagSleep, _>(DiagSleepHandler);
    r
}
