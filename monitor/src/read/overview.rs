//! The overview: workers online, queue depths, rates.

use futures::future::try_join_all;
use goodrobot_ports::TaskEvent;

use crate::{
    model::{OverviewView, QueueView, WorkerView},
    problem::ApiResult,
    read::rates::rates,
    state::MonitorState,
};

/// Workers whose heartbeat has not expired, by id.
#[tracing::instrument(skip_all, err)]
pub async fn workers(state: &MonitorState) -> ApiResult<Vec<WorkerView>> {
    let now = state.deps.clock.now();
    let mut list: Vec<WorkerView> =
        state.deps.workers.list().await?.into_iter().map(|w| WorkerView::new(w, now)).collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(list)
}

/// The depths of the configured queues, in the configured order.
#[tracing::instrument(skip_all, err)]
pub async fn queues(state: &MonitorState) -> ApiResult<Vec<QueueView>> {
    let stats = try_join_all(state.config.queues.iter().map(|q| state.deps.broker.stats(q))).await?;
    Ok(stats.into_iter().map(QueueView::from).collect())
}

/// The newest events of the window (newest first) and whether the window is full.
#[tracing::instrument(skip_all, err)]
pub async fn recent_events(state: &MonitorState) -> ApiResult<(Vec<TaskEvent>, bool)> {
    let window = state.config.event_window;
    let events = state.deps.events.recent(window).await?;
    let full = events.len() >= window;
    Ok((events, full))
}

/// Everything the overview page shows.
#[tracing::instrument(skip_all, err)]
pub async fn overview(state: &MonitorState) -> ApiResult<OverviewView> {
    let (workers, queues, recent) = tokio::join!(workers(state), queues(state), recent_events(state));
    let (events, full) = recent?;
    let now = state.deps.clock.now();
    Ok(OverviewView {
        now,
        workers: workers?,
        queues: queues?,
        rates: rates(&events, now, state.config.rate_minutes, full),
    })
}
