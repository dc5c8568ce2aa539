//! `process_bid_assignment`: select the bid, then queue the master's notification.

use async_trait::async_trait;
use goodrobot_domain::task::{
    AssignmentOutcome, NotificationMessage, NotificationType, ProcessBidAssignment, ProcessBidAssignmentArgs,
    SendNotification, SendNotificationArgs,
};
use goodrobot_ports::services::BidService;

use crate::{TaskContext, TaskError, TaskHandler};

/// Runs the selection through [`BidService`]; idempotent: a redelivery selects nothing new
/// (the selection is `AlreadySelected`) and queues no second notification (the child's id
/// is derived from this task's id).
#[derive(Debug, Clone)]
pub struct ProcessBidAssignmentHandler {
    bids: BidService,
}

impl ProcessBidAssignmentHandler {
    pub fn new(bids: BidService) -> Self {
        Self { bids }
    }
}

#[async_trait]
impl TaskHandler<ProcessBidAssignment> for ProcessBidAssignmentHandler {
    async fn handle(&self, ctx: &TaskContext, args: ProcessBidAssignmentArgs) -> Result<AssignmentOutcome, TaskError> {
        let bid = self.bids.get(args.bid_id).await?;
        if bid.master_id != args.master_id {
            return Err(TaskError::permanent(
                "not_the_bids_master",
                format!("bid {} belongs to master {}, not {}", bid.id, bid.master_id, args.master_id),
            ));
        }
        let selection = self.bids.select(args.bid_id).await?;
        let text = ProcessBidAssignment::notification_text(args.bid_id);
        let message =
            NotificationMessage::new(&text).map_err(|e| TaskError::permanent("InvalidArguments", e.to_string()))?;
        let notify =
            SendNotificationArgs { user_id: args.master_id, message, notification_type: NotificationType::Info };
        let child = ctx.enqueue_child::<SendNotification>("notify-master", &notify).await?;
        Ok(AssignmentOutcome {
            order_id: selection.order.id,
            bid_id: args.bid_id,
            master_id: args.master_id,
            outcome: selection.outcome,
            notification_task_id: child,
        })
    }
}
