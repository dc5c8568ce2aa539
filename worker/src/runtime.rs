//! The worker loop: claim tasks for free slots, run them under leases, record outcomes.

use futures::FutureExt;
use goodrobot_domain::task::{StateUpdate, TaskFailure, TaskId, TaskMessage, TaskState, spec};
use goodrobot_ports::{
    Delivery, FetchRequest, LeaseToken, Settled, Settlement, StartStamp, TaskEvent, services::TaskService,
};
use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{sync::Semaphore, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    Backoff, Registry, TaskContext, TaskError, WorkerConfig, WorkerDeps,
    feed::EventFeed,
    metrics::{Instruments, UNREGISTERED},
};

/// Counts since start (for heartbeats and metrics).
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub revoked: AtomicU64,
    pub lost_leases: AtomicU64,
}

struct Running {
    token: LeaseToken,
    lost: CancellationToken,
}

pub(crate) struct Runtime {
    pub(crate) config: WorkerConfig,
    pub(crate) deps: WorkerDeps,
    pub(crate) registry: Registry,
    pub(crate) id: Arc<str>,
    pub(crate) tasks: TaskService,
    pub(crate) backoff: Backoff,
    pub(crate) counters: Arc<WorkerCounters>,
    metrics: Arc<Instruments>,
    running: Mutex<HashMap<TaskId, Running>>,
    events: EventFeed,
}

/// How one run of a handler ended.
enum Ended {
    Finished(Result<serde_json::Value, TaskError>),
    Panicked(String),
    TimeLimit(u64),
    LeaseLost,
    Shutdown,
}

impl Runtime {
    // Called once, by `Worker::run`, with each part it owns: a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: WorkerConfig,
        deps: WorkerDeps,
        registry: Registry,
        id: Arc<str>,
        tasks: TaskService,
        counters: Arc<WorkerCounters>,
        metrics: Arc<Instruments>,
        events: EventFeed,
    ) -> Self {
        Self {
            config,
            deps,
            registry,
            id,
            tasks,
            backoff: Backoff::default(),
            counters,
            metrics,
            running: Mutex::new(HashMap::new()),
            events,
        }
    }

    /// Tasks holding a slot now.
    pub(crate) fn running_count(&self) -> u32 {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len() as u32
    }

    /// Fetches while `shutdown` is not cancelled, then drains (see [`crate::Worker::run`]).
    pub(crate) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let abort = CancellationToken::new();
        let renewer_stop = CancellationToken::new();
        let renewer = tokio::spawn(self.clone().renew_leases(renewer_stop.clone()));
        let mut jobs = JoinSet::new();
        let mut error_pause = Duration::from_millis(50);
        tracing::info!(worker = %self.id, concurrency = self.config.concurrency, queues = ?self.config.queues, "worker started");
        loop {
            let first = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                () = shutdown.cancelled() => break,
            };
            // Prefetch no more than the free slots (Celery's prefetch_multiplier=1, per slot).
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let req = FetchRequest {
                worker_id: self.id.to_string(),
                queues: self.config.queues.clone(),
                max: permits.len(),
                lease: self.config.lease,
                wait: Duration::from_secs(5),
            };
            // STARTED is recorded by the claim itself for the tasks that start at once.
            let stamp = StartStamp { worker: self.id.to_string(), clock: self.deps.clock.clone() };
            let fetched = tokio::select! {
                r = self.deps.store.claim(&req, &stamp) => r,
                () = shutdown.cancelled() => break,
            };
            match fetched {
                Ok(claimed) => {
                    error_pause = Duration::from_millis(50);
                    for c in claimed {
                        let d = c.delivery;
                        let stamped = c.started_at;
                        let Some(permit) = permits.pop() else {
                            tracing::error!(task_id = %d.message.id, "broker returned more tasks than asked; releasing");
                            let _ = self.deps.broker.release(&d.token).await;
                            continue;
                        };
                        let this = self.clone();
                        let abort = abort.clone();
                        jobs.spawn(async move {
                            this.execute(d, stamped, abort).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, pause_ms = error_pause.as_millis() as u64, "fetch failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(error_pause) => {},
                        () = shutdown.cancelled() => break,
                    }
                    error_pause = (error_pause * 2).min(Duration::from_secs(5));
                }
            }
            while let Some(r) = jobs.try_join_next() {
                if let Err(e) = r {
                    tracing::error!(error = %e, "task runner crashed");
                }
            }
        }
        let in_flight = jobs.len();
        tracing::info!(worker = %self.id, in_flight, timeout_s = self.config.shutdown_timeout.as_secs_f64(), "stopping: no more fetching, finishing running tasks");
        let drained =
            tokio::time::timeout(self.config.shutdown_timeout, async { while jobs.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            tracing::warn!(worker = %self.id, left = jobs.len(), "shutdown timeout: handing the rest back to the broker");
            abort.cancel();
            while jobs.join_next().await.is_some() {}
        }
        renewer_stop.cancel();
        let _ = renewer.await;
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Renews the leases of running tasks every third of the lease; a task whose lease
    /// is gone is told so (its handler is dropped, nothing of it is written).
    async fn renew_leases(self: Arc<Self>, stop: CancellationToken) {
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                () = stop.cancelled() => return,
            }
            let held: Vec<(LeaseToken, CancellationToken)> = {
                let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                running.values().map(|r| (r.token.clone(), r.lost.clone())).collect()
            };
            if held.is_empty() {
                continue;
            }
            let tokens: Vec<LeaseToken> = held.iter().map(|(t, _)| t.clone()).collect();
            match self.deps.broker.renew(&tokens, self.config.lease).await {
                Ok(alive) => {
                    for ((token, lost), ok) in held.iter().zip(alive) {
                        if !ok {
                            tracing::warn!(task_id = %token.task_id, "lease lost; dropping the task (another worker owns it now)");
                            self.counters.lost_leases.fetch_add(1, Ordering::Relaxed);
                            self.metrics.lease_lost();
                            lost.cancel();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease renewal failed; will try again"),
            }
        }
    }

    /// A task's name as a metrics label: registered names only.
    fn label(&self, name: &str) -> &'static str {
        self.registry.name_of(name).unwrap_or(UNREGISTERED)
    }

    fn update(&self, state: TaskState, d: &Delivery) -> StateUpdate {
        let mut u = StateUpdate::new(state, self.deps.clock.now());
        u.worker = Some(self.id.to_string());
        u.fence = Some(d.token.fence);
        u.retries = Some(d.message.retries);
        u.attempt = Some(d.attempt);
        u
    }

    #[tracing::instrument(skip_all, fields(task_id = %d.message.id, task = %d.message.name, attempt = d.attempt))]
    /// `stamped`: when the claim recorded STARTED for this delivery, if it did.
    async fn execute(
        self: Arc<Self>,
        d: Delivery,
        stamped: Option<chrono::DateTime<chrono::Utc>>,
        abort: CancellationToken,
    ) {
        let msg = &d.message;
        let now = self.deps.clock.now();
        if let Some(reason) = &d.revoked {
            let mut u = self.update(TaskState::Revoked, &d);
            u.error = Some(TaskFailure::new("Revoked", reason.clone()));
            return self.finish(&d, u, Settlement::Ack).await;
        }
        if msg.is_expired(now) {
            let mut u = self.update(TaskState::Revoked, &d);
            u.error =
                Some(TaskFailure::new("Expired", format!("expired at {}", msg.expires.unwrap_or(now).to_rfc3339())));
            return self.finish(&d, u, Settlement::Ack).await;
        }
        let Some(handler) = self.registry.get(&msg.name) else {
            let mut u = self.update(TaskState::Failure, &d);
            let failure = TaskFailure::new("NotRegistered", format!("this worker has no handler for {:?}", msg.name));
            u.error = Some(failure.clone());
            return self.finish(&d, u, Settlement::DeadLetter(failure)).await;
        };
        let label = self.label(&msg.name);
        // From here the lease is renewed while the task waits or runs.
        let lost = CancellationToken::new();
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(msg.id, Running { token: d.token.clone(), lost: lost.clone() });
        self.metrics.slot(true);
        let forget = || {
            self.metrics.slot(false);
            self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&msg.id)
        };
        if !self.wait_for_rate_limit(&d, &abort).await {
            forget();
            return;
        }
        let mut started_update = self.update(TaskState::Started, &d);
        if let Some(at) = stamped {
            // Recorded by the claim, with the claim's time.
            started_update.at = at;
        }
        let started_at = started_update.at;
        let recorded = match stamped {
            Some(_) => Ok(true),
            None => self.deps.results.record_applied(msg, &started_update).await,
        };
        match recorded {
            Ok(applied) => {
                let ev = TaskEvent::of_update(msg, &started_update, None);
                self.metrics.started(label, ev.wait_s);
                if applied {
                    self.events.emit(ev);
                } else {
                    tracing::debug!("STARTED not recorded: the record is final or a newer delivery's");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record STARTED; handing the task back");
                forget();
                let _ = self.deps.broker.release(&d.token).await;
                return;
            }
        }
        let started = Instant::now();
        let soft = msg.soft_time_limit_secs.map(|s| started + Duration::from_secs(s));
        let ctx = TaskContext::new(
            Arc::new(msg.clone()),
            d.attempt,
            d.token.fence,
            self.id.clone(),
            soft,
            self.tasks.clone(),
            self.deps.results.clone(),
            self.deps.clock.clone(),
            self.deps.cache.clone(),
        );
        let hard = async {
            match msg.time_limit_secs {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        let ended = tokio::select! {
            r = AssertUnwindSafe(handler.call(&ctx, &msg.args)).catch_unwind() => match r {
                Ok(r) => Ended::Finished(r),
                Err(p) => Ended::Panicked(panic_message(&p)),
            },
            () = hard => Ended::TimeLimit(msg.time_limit_secs.unwrap_or_default()),
            () = lost.cancelled() => Ended::LeaseLost,
            () = abort.cancelled() => Ended::Shutdown,
        };
        forget();
        if !matches!(ended, Ended::LeaseLost | Ended::Shutdown) {
            self.metrics.ran(label, started.elapsed().as_secs_f64());
        }
        let finished = matches!(ended, Ended::Finished(Ok(_)) | Ended::Finished(Err(TaskError::Permanent { .. })));
        if finished
            && ctx.used_checkpoint()
            && let Err(e) = self.deps.cache.delete_key(&crate::context::checkpoint_key(msg.id)).await
        {
            tracing::warn!(error = %e, "could not drop the checkpoint; it expires on its own");
        }
        match ended {
            Ended::LeaseLost => {}
            Ended::Shutdown => {
                tracing::info!("shutdown deadline: task handed back to the broker");
                if let Err(e) = self.deps.broker.release(&d.token).await {
                    tracing::warn!(error = %e, "release failed; the lease will expire and the task be redelivered");
                }
            }
            Ended::Finished(Ok(result)) => {
                let mut u = self.update(TaskState::Success, &d);
                u.result = Some(result);
                self.finish_started(&d, u, Settlement::Ack, Some(started_at)).await;
            }
            Ended::Finished(Err(e)) => self.failed(&d, e, started_at).await,
            Ended::Panicked(m) => self.failed(&d, TaskError::permanent("HandlerPanicked", m), started_at).await,
            Ended::TimeLimit(s) => {
                self.failed(
                    &d,
                    TaskError::permanent("TimeLimitExceeded", format!("hard time limit of {s} s exceeded")),
                    started_at,
                )
                .await;
            }
        }
    }

    /// Waits in the slot until the task's global rate limit (per task name, across all
    /// workers, through the rate-limiter port) lets it start. Not a retry, not a failure.
    /// Returns false if the worker is stopping meanwhile (the task is handed back).
    async fn wait_for_rate_limit(&self, d: &Delivery, abort: &CancellationToken) -> bool {
        let Some(limit) = spec(&d.message.name).and_then(|s| s.defaults.rate_limit_per_sec) else {
            return true;
        };
        let key = format!("task-rate:{}", d.message.name);
        loop {
            match self.deps.rate_limiter.check(&key, limit, Duration::from_secs(1)).await {
                Ok(decision) if decision.allowed => return true,
                Ok(decision) => {
                    let pause = decision.reset_after.clamp(Duration::from_millis(1), Duration::from_secs(1));
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {},
                        () = abort.cancelled() => {
                            let _ = self.deps.broker.release(&d.token).await;
                            return false;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rate limiter unavailable; running the task unlimited");
                    return true;
                }
            }
        }
    }

    /// A failed run: retry within `max_retries` if the error allows, else FAILURE and the
    /// dead-letter list (from where it can be replayed).
    async fn failed(&self, d: &Delivery, e: TaskError, started_at: chrono::DateTime<chrono::Utc>) {
        let msg = &d.message;
        if e.is_retryable() && msg.retries < msg.max_retries {
            let delay = match &e {
                TaskError::Retry { countdown: Some(c), .. } => *c,
                _ => self.backoff.delay(Duration::from_secs(msg.retry_delay_secs), msg.retries),
            };
            let at = self.deps.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            let mut next: TaskMessage = msg.clone();
            next.retries += 1;
            next.eta = Some(at);
            let mut u = self.update(TaskState::Retry, d);
            u.error = Some(e.to_failure());
            u.eta = Some(at);
            u.retries = Some(next.retries);
            tracing::info!(error = %e, retry = next.retries, eta = %at.to_rfc3339(), "task will be retried");
            return self.finish_started(d, u, Settlement::Retry { next: Box::new(next), at }, Some(started_at)).await;
        }
        let mut failure = e.to_failure();
        if e.is_retryable() {
            failure.message = format!("{} (gave up after {} retries)", failure.message, msg.retries);
        }
        tracing::warn!(kind = %failure.kind, error = %failure.message, "task failed");
        let mut u = self.update(TaskState::Failure, d);
        u.error = Some(failure.clone());
        self.finish_started(d, u, Settlement::DeadLetter(failure), Some(started_at)).await;
    }

    /// Settles a delivery that never started (revoked, expired, not registered).
    async fn finish(&self, d: &Delivery, u: StateUpdate, how: Settlement) {
        self.finish_started(d, u, how, None).await;
    }

    /// Records the outcome and settles the delivery with the broker, in one step where the
    /// store can. If that fails the task is handed back (it runs again: at least once).
    /// `started_at`: when this delivery started running, if it did.
    async fn finish_started(
        &self,
        d: &Delivery,
        u: StateUpdate,
        how: Settlement,
        started_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let state = u.state;
        let label = self.label(&d.message.name);
        let (retry, dead_letter) = (matches!(how, Settlement::Retry { .. }), matches!(how, Settlement::DeadLetter(_)));
        let Settled { recorded, lease_held } = match self.deps.store.settle(d, &u, &how).await {
            Ok(settled) => settled,
            Err(e) => {
                tracing::error!(error = %e, state = %state, "cannot record the outcome and settle; handing the task back");
                let _ = self.deps.broker.release(&d.token).await;
                return;
            }
        };
        if recorded {
            self.events.emit(TaskEvent::of_update(&d.message, &u, started_at));
        } else {
            tracing::debug!(state = %state, "outcome not recorded: the record is final or a newer delivery's");
        }
        self.metrics.finished(label, state);
        let counter = match state {
            TaskState::Success => &self.counters.succeeded,
            TaskState::Retry => &self.counters.retried,
            TaskState::Revoked => &self.counters.revoked,
            _ => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !lease_held {
            self.metrics.lease_lost();
            tracing::warn!(task_id = %d.message.id, "lease was lost before the outcome was settled; a newer delivery owns the task");
        } else if retry {
            self.metrics.retried(label);
        } else if dead_letter {
            self.metrics.dead_lettered(label);
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "handler panicked".to_owned())
}
