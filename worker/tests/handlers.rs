//! GoodRobot's handlers on the memory adapters: the assignment flow and its idempotency.

mod common;

use async_trait::async_trait;
use common::{Harness, assert_state};
use goodrobot_domain::{
    BidStatus, OrderStatus, Role, SelectionOutcome,
    task::{AssignmentOutcome, ProcessBidAssignment, ProcessBidAssignmentArgs, TaskState},
};
use goodrobot_ports::{
    BidRepository, OrderRepository,
    services::{TaskOptions, TaskRequest},
};
use goodrobot_worker::{
    TaskContext, TaskError, TaskHandler,
    handlers::{ProcessBidAssignmentHandler, goodrobot_registry},
};
use serde_json::json;
use std::time::Duration;

async fn assignment_selects_the_bid_and_notifies_the_master_once(mut h: Harness) {
    h.start(None);
    let client = h.user(1, Role::Client).await;
    let master = h.user(2, Role::Master).await;
    let other = h.user(3, Role::Master).await;
    let order = h.order_for(&client).await;
    let bid = h.bid(&order, &master, 1000).await;
    let losing = h.bid(&order, &other, 900).await;

    let args = ProcessBidAssignmentArgs { bid_id: bid.id, master_id: master.id };
    let id = h.tasks.submit_typed::<ProcessBidAssignment>(&args, TaskOptions::default()).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    let out: AssignmentOutcome = serde_json::from_value(r.result.unwrap()).unwrap();

    let order = OrderRepository::get(&h.store, order.id).await.unwrap();
    assert_eq!((order.status, order.master_id), (OrderStatus::Assigned, Some(master.id)));
    assert_eq!(BidRepository::get(&h.store, losing.id).await.unwrap().status, BidStatus::Rejected);
    let child = h.finished(out.notification_task_id).await;
    assert_state(&child, TaskState::Success);
    assert_eq!((child.parent_id, child.root_id), (Some(id), Some(id)));
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message, format!("Вам назначена новая заявка #{}", bid.id));
    assert_eq!(sent[0].user_id, master.id);
    h.stop().await;
}

/// Runs the real handler, then, on the first run only, fails as if the worker had died
/// before acking: the task runs a second time.
struct FailsAfterFirstRun(ProcessBidAssignmentHandler);

#[async_trait]
impl TaskHandler<ProcessBidAssignment> for FailsAfterFirstRun {
    async fn handle(&self, ctx: &TaskContext, args: ProcessBidAssignmentArgs) -> Result<AssignmentOutcome, TaskError> {
        let out = self.0.handle(ctx, args).await?;
        if ctx.retries() == 0 {
            return Err(ctx.retry(Duration::ZERO, "simulated crash after the side effects"));
        }
        Ok(out)
    }
}

async fn a_redelivered_assignment_selects_once_and_queues_one_notification(mut h: Harness) {
    let client = h.user(1, Role::Client).await;
    let master = h.user(2, Role::Master).await;
    let order = h.order_for(&client).await;
    let bid = h.bid(&order, &master, 1000).await;
    let mut registry = goodrobot_registry(&h.deps);
    let real = ProcessBidAssignmentHandler::new(h.bids());
    registry.register::<ProcessBidAssignment, _>(FailsAfterFirstRun(real));
    h.start(Some(registry));

    let args = ProcessBidAssignmentArgs { bid_id: bid.id, master_id: master.id };
    let id = h.tasks.submit_typed::<ProcessBidAssignment>(&args, TaskOptions::default()).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!(r.retries, 1, "it ran twice");
    let out: AssignmentOutcome = serde_json::from_value(r.result.unwrap()).unwrap();
    assert_eq!(out.outcome, SelectionOutcome::AlreadySelected);
    h.finished(out.notification_task_id).await;
    assert_eq!(h.notifier.sent().len(), 1, "one notification");
    assert_eq!(h.tasks.get(id).await.unwrap().children, vec![out.notification_task_id]);
    assert_eq!(OrderRepository::get(&h.store, order.id).await.unwrap().master_id, Some(master.id));
    h.stop().await;
}

async fn a_report_counts_orders_and_bids(mut h: Harness) {
    h.start(None);
    let client = h.user(1, Role::Client).await;
    let master = h.user(2, Role::Master).await;
    for _ in 0..3 {
        let o = h.order_for(&client).await;
        h.bid(&o, &master, 300).await;
    }
    let req = TaskRequest {
        name: "generate_analytics_report".into(),
        kwargs: json!({"report_type": "summary"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    let id = h.tasks.submit(&req).await.unwrap().task_id;
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    let rep = r.result.unwrap();
    assert_eq!(rep["orders_total"], 3);
    assert_eq!(rep["orders_by_status"]["new"], 3);
    assert_eq!(rep["prices"]["average"], 300.0);
    assert_eq!(r.progress, Some(json!({"scanned": 3, "total": 3, "percent": 100})));
    h.stop().await;
}

on_both_brokers!(
    assignment_selects_the_bid_and_notifies_the_master_once,
    a_redelivered_assignment_selects_once_and_queues_one_notification,
    a_report_counts_orders_and_bids,
);
