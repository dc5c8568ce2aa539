//! A worker's own metrics in the Prometheus text format (0.0.4): the task runs it finished by
//! name and state, their runtimes and enqueue→start waits, retries, dead letters, lost
//! leases, tasks in progress, and the depths of the queues it consumes (read from the broker
//! at each scrape, with a short timeout).
//!
//! The hot path only touches the `prometheus` crate's atomics. Task names are label values
//! only when this worker has a handler for them (a closed set); any other is `unregistered`.

use goodrobot_domain::task::{QueueName, TaskState};
use goodrobot_ports::{Broker, QueueStats};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder, core::Collector,
};
use std::{sync::Arc, time::Duration};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds (seconds) of the runtime and wait histograms (the monitor's).
pub const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// How long a scrape waits for the broker's queue statistics.
pub const QUEUE_STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// The name label of a task this worker has no handler for.
pub const UNREGISTERED: &str = "unregistered";

/// The instruments the runtime updates.
pub(crate) struct Instruments {
    registry: Registry,
    runs: IntCounterVec,
    runtime: HistogramVec,
    wait: HistogramVec,
    retries: IntCounterVec,
    dead_lettered: IntCounterVec,
    lease_losses: IntCounter,
    in_progress: IntGauge,
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instruments").finish_non_exhaustive()
    }
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    registry.register(Box::new(c.clone())).expect("a metric name registered once");
    c
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition")
}

fn histograms(name: &str, help: &str) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()), &["name"])
        .expect("a valid metric definition")
}

impl Default for Instruments {
    fn default() -> Self {
        let registry = Registry::new();
        let r = &registry;
        Self {
            runs: register(
                r,
                counters(
                    "goodrobot_worker_task_runs_total",
                    "Task runs this worker finished since it started, by task name and the state recorded \
                     (SUCCESS, FAILURE, RETRY, REVOKED).",
                    &["name", "state"],
                ),
            ),
            runtime: register(
                r,
                histograms(
                    "goodrobot_worker_task_runtime_seconds",
                    "Seconds a handler ran, from start to its result, error, panic or time limit, by task name.",
                ),
            ),
            wait: register(
                r,
                histograms(
                    "goodrobot_worker_task_wait_seconds",
                    "Seconds from a task's enqueue (or its eta, when later) to its start, by task name.",
                ),
            ),
            retries: register(
                r,
                counters(
                    "goodrobot_worker_task_retries_total",
                    "Retries this worker scheduled with the broker, by task name.",
                    &["name"],
                ),
            ),
            dead_lettered: register(
                r,
                counters(
                    "goodrobot_worker_task_dead_lettered_total",
                    "Tasks this worker moved to the dead-letter list, by task name.",
                    &["name"],
                ),
            ),
            lease_losses: register(
                r,
                IntCounter::new(
                    "goodrobot_worker_lease_losses_total",
                    "Leases this worker lost (another delivery owns the task); nothing of those runs is recorded.",
                )
                .expect("a valid metric definition"),
            ),
            in_progress: register(
                r,
                IntGauge::new(
                    "goodrobot_worker_tasks_in_progress",
                    "Tasks holding a slot of this worker now (running, or waiting for their rate limit).",
                )
                .expect("a valid metric definition"),
            ),
            registry,
        }
    }
}

impl Instruments {
    /// A run's outcome was recorded.
    pub(crate) fn finished(&self, name: &str, state: TaskState) {
        self.runs.with_label_values(&[name, state.as_str()]).inc();
    }

    /// A handler ran for `secs`.
    pub(crate) fn ran(&self, name: &str, secs: f64) {
        self.runtime.with_label_values(&[name]).observe(secs);
    }

    /// A task started `wait` seconds after it was due (its eta, else its creation); never
    /// observed below 0 (the producer's and the worker's clocks may differ a little).
    pub(crate) fn started(&self, name: &str, wait: Option<f64>) {
        if let Some(secs) = wait {
            self.wait.with_label_values(&[name]).observe(secs.max(0.0));
        }
    }

    pub(crate) fn retried(&self, name: &str) {
        self.retries.with_label_values(&[name]).inc();
    }

    pub(crate) fn dead_lettered(&self, name: &str) {
        self.dead_lettered.with_label_values(&[name]).inc();
    }

    pub(crate) fn lease_lost(&self) {
        self.lease_losses.inc();
    }

    /// A task took a slot (`true`) or gave it back (`false`).
    pub(crate) fn slot(&self, taken: bool) {
        if taken { self.in_progress.inc() } else { self.in_progress.dec() }
    }
}

/// What a scrape of a worker reads: its instruments and its queues' depths (cheap to clone).
#[derive(Clone)]
pub struct WorkerMetrics {
    instruments: Arc<Instruments>,
    broker: Arc<dyn Broker>,
    queues: Vec<QueueName>,
    stats_timeout: Duration,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").field("queues", &self.queues).finish_non_exhaustive()
    }
}

impl WorkerMetrics {
    pub(crate) fn new(instruments: Arc<Instruments>, broker: Arc<dyn Broker>, queues: Vec<QueueName>) -> Self {
        Self { instruments, broker, queues, stats_timeout: QUEUE_STATS_TIMEOUT }
    }

    /// The same, waiting at most `timeout` for the queue depths (default [`QUEUE_STATS_TIMEOUT`]).
    #[must_use]
    pub fn with_stats_timeout(self, timeout: Duration) -> Self {
        Self { stats_timeout: timeout, ..self }
    }

    /// A scrape, in the text format. A queue whose statistics the broker does not give in
    /// time has no depth samples and `goodrobot_worker_queue_stats_up{queue} 0`.
    pub async fn render(&self) -> String {
        let families = self.families().await;
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "metrics could not be rendered");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// A scrape's metric families (what [`render`](Self::render) encodes), for a process that
    /// exposes them among its own (the API's `/metrics` with its embedded worker). Every
    /// family name starts with `goodrobot_worker_`.
    #[tracing::instrument(skip_all)]
    pub async fn families(&self) -> Vec<prometheus::proto::MetricFamily> {
        let reads = self.queues.iter().map(|q| async move {
            match tokio::time::timeout(self.stats_timeout, self.broker.stats(q)).await {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => {
                    tracing::warn!(queue = %q, error = %e, "queue statistics unavailable for metrics");
                    None
                }
                Err(_) => {
                    tracing::warn!(queue = %q, timeout_ms = self.stats_timeout.as_millis() as u64, "queue statistics timed out for metrics");
                    None
                }
            }
        });
        let stats = futures::future::join_all(reads).await;
        let mut families = self.instruments.registry.gather();
        families.extend(queue_families(self.queues.iter().zip(&stats)));
        families
    }
}

/// The depth and availability gauges of one scrape.
fn queue_families<'a>(
    queues: impl Iterator<Item = (&'a QueueName, &'a Option<QueueStats>)>,
) -> Vec<prometheus::proto::MetricFamily> {
    let depth = IntGaugeVec::new(
        Opts::new(
            "goodrobot_worker_queue_depth",
            "Tasks in a queue this worker consumes, by kind: ready, delayed, in_flight, dead (read at scrape).",
        ),
        &["queue", "kind"],
    )
    .expect("a valid metric definition");
    let up = IntGaugeVec::new(
        Opts::new(
            "goodrobot_worker_queue_stats_up",
            "1 when the broker gave this queue's depths at the last scrape, 0 when it failed or timed out.",
        ),
        &["queue"],
    )
    .expect("a valid metric definition");
    for (q, s) in queues {
        up.with_label_values(&[q.as_str()]).set(i64::from(s.is_some()));
        if let Some(s) = s {
            for (kind, v) in [("ready", s.ready), ("delayed", s.delayed), ("in_flight", s.in_flight), ("dead", s.dead)]
            {
                depth.with_label_values(&[q.as_str(), kind]).set(i64::try_from(v).unwrap_or(i64::MAX));
            }
        }
    }
    let mut families = depth.collect();
    families.extend(up.collect());
    families
}
