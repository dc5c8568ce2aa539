//! `generate_analytics_report`: fold every order (and its bids) into a report, page by page.

use async_trait::async_trait;
use goodrobot_domain::{
    OrderFilter, PageRequest,
    report::{AnalyticsReport, ReportAccumulator, ScanProgress},
    task::{AnalyticsReportArgs, GenerateAnalyticsReport},
};
use goodrobot_ports::{BidRepository, Clock, OrderRepository};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::{TaskContext, TaskError, TaskHandler};

const PAGE: u32 = 100;

/// What a report run saves after each page.
#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    acc: ReportAccumulator,
    scanned: u64,
    /// The orders counted when the first run began (absent in checkpoints of older workers).
    #[serde(default)]
    total: Option<u64>,
}

/// Reads orders in id order, a page at a time, reporting progress after each page.
#[derive(Clone)]
pub struct GenerateAnalyticsReportHandler {
    orders: Arc<dyn OrderRepository>,
    bids: Arc<dyn BidRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GenerateAnalyticsReportHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateAnalyticsReportHandler").finish_non_exhaustive()
    }
}

impl GenerateAnalyticsReportHandler {
    pub fn new(orders: Arc<dyn OrderRepository>, bids: Arc<dyn BidRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { orders, bids, clock }
    }

    /// The orders the scan will read: the denominator of its percent.
    async fn count(&self, filter: &OrderFilter) -> Result<u64, TaskError> {
        Ok(self.orders.count(filter.clone()).await.map_err(goodrobot_ports::services::AppError::from)?)
    }
}

fn progress_json(p: ScanProgress) -> Result<serde_json::Value, TaskError> {
    serde_json::to_value(p).map_err(|e| TaskError::permanent("Internal", e.to_string()))
}

#[async_trait]
impl TaskHandler<GenerateAnalyticsReport> for GenerateAnalyticsReportHandler {
    async fn handle(&self, ctx: &TaskContext, args: AnalyticsReportArgs) -> Result<AnalyticsReport, TaskError> {
        args.params.validate().map_err(|e| TaskError::permanent("InvalidArguments", e.to_string()))?;
        let filter = OrderFilter { category: args.params.category.clone(), ..OrderFilter::default() };
        // Resume where an earlier delivery of this task stopped, if it saved a checkpoint.
        let resumed = ctx
            .load_checkpoint::<Checkpoint>()
            .await?
            .filter(|c| c.acc.report_type == args.report_type && c.acc.params == args.params);
        let resumed_from = resumed.as_ref().map(|c| c.scanned);
        let (mut acc, mut scanned, total) = match resumed {
            Some(c) => {
                tracing::info!(scanned = c.scanned, "resuming the report from its checkpoint");
                let total = match c.total {
                    Some(t) => t,
                    None => self.count(&filter).await?,
                };
                (c.acc, c.scanned, total)
            }
            None => {
                let acc = ReportAccumulator::new(args.report_type, args.params);
                (acc, 0, self.count(&filter).await?)
            }
        };
        ctx.progress(progress_json(ScanProgress::running(scanned, total, resumed_from))?).await?;
        loop {
            if ctx.soft_time_limit_exceeded() {
                return Err(TaskError::permanent("SoftTimeLimitExceeded", format!("stopped after {scanned} orders")));
            }
            let page = PageRequest::new(acc.last_order_id, Some(PAGE))
                .map_err(|e| TaskError::permanent("Internal", e.to_string()))?;
            let orders =
                self.orders.list(filter.clone(), page).await.map_err(goodrobot_ports::services::AppError::from)?;
            for order in &orders.items {
                let bids =
                    self.bids.list_for_order(order.id).await.map_err(goodrobot_ports::services::AppError::from)?;
                acc.add(order, &bids);
            }
            scanned += orders.items.len() as u64;
            if orders.next_after.is_none() {
                break;
            }
            // The checkpoint first: progress never claims more than a redelivery would keep.
            ctx.checkpoint(&Checkpoint { acc: acc.clone(), scanned, total: Some(total) }).await?;
            ctx.progress(progress_json(ScanProgress::running(scanned, total, resumed_from))?).await?;
        }
        ctx.progress(progress_json(ScanProgress::done(scanned, resumed_from))?).await?;
        Ok(acc.finish(self.clock.now()))
    }
}
