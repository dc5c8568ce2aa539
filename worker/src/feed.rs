//! What a worker tells the monitor: a heartbeat every few seconds and an event per task
//! state change, batched so the hot path never waits for the monitor's store.

use goodrobot_ports::{EventLog, TaskEvent, WorkerInfo, WorkerRegistry};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::WorkerCounters;

/// How often a worker announces itself; it is considered gone after three missed beats.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
const EVENT_BUFFER: usize = 16_384;
const EVENT_BATCH: usize = 512;

/// The sending side of the event feed (cheap to clone; never blocks).
#[derive(Debug, Clone)]
pub(crate) struct EventFeed {
    tx: mpsc::Sender<TaskEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventFeed {
    /// Starts the flusher; it drains what is buffered when `stop` is cancelled, then ends.
    pub(crate) fn start(log: Arc<dyn EventLog>, stop: CancellationToken) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<TaskEvent>(EVENT_BUFFER);
        let handle = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(EVENT_BATCH);
            loop {
                let n = tokio::select! {
                    n = rx.recv_many(&mut batch, EVENT_BATCH) => n,
                    () = stop.cancelled() => {
                        rx.close();
                        rx.recv_many(&mut batch, EVENT_BUFFER).await
                    }
                };
                if n == 0 {
                    return;
                }
                if let Err(e) = log.append(&batch).await {
                    tracing::warn!(error = %e, lost = batch.len(), "task events not recorded");
                }
                batch.clear();
            }
        });
        (Self { tx, dropped: Arc::default() }, handle)
    }

    /// Queues the event of a record's new state (dropped, and counted, if the buffer is full).
    pub(crate) fn emit(&self, ev: TaskEvent) {
        if self.tx.try_send(ev).is_err() && self.dropped.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
            tracing::warn!("task event buffer full; events dropped");
        }
    }
}

/// Announces the worker every [`HEARTBEAT_EVERY`] until `stop`, then removes it.
pub(crate) async fn heartbeat(
    registry: Arc<dyn WorkerRegistry>,
    mut info: WorkerInfo,
    counters: Arc<WorkerCounters>,
    running: impl Fn() -> u32 + Send + 'static,
    clock: Arc<dyn goodrobot_ports::Clock>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            () = stop.cancelled() => break,
        }
        info.running = running();
        info.succeeded = counters.succeeded.load(Ordering::Relaxed);
        info.failed = counters.failed.load(Ordering::Relaxed);
        info.retried = counters.retried.load(Ordering::Relaxed);
        info.last_heartbeat = clock.now();
        if let Err(e) = registry.heartbeat(&info, HEARTBEAT_EVERY * 3).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }
    if let Err(e) = registry.remove(&info.id).await {
        tracing::warn!(error = %e, "could not deregister the worker; its heartbeat will expire");
    }
}
