//! Tasks from the producer's side: Celery's `apply_async` options, status, revoke, replay.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use goodrobot_domain::{
    ValidationError,
    task::{
        Priority, QueueName, StateUpdate, TaskContract, TaskFailure, TaskId, TaskMessage, TaskRecord, TaskState,
        normalize_args, spec,
    },
};
use serde_json::{Map, Value};
use std::{sync::Arc, time::Duration};

use super::AppError;
use crate::{
    Broker, BrokerError, Clock, EnqueueOutcome, EventLog, ResultBackend, ResultError, SubmitStore, TaskEvent,
    WorkerStoreError,
};

/// When a task stops being worth running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expires {
    /// Seconds after the task is sent (Celery's `expires=<number>`).
    In(f64),
    /// At a time (Celery's `expires=<datetime>`).
    At(DateTime<Utc>),
}

/// Celery's `retry_policy`: how publishing is retried while the broker is unreachable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Give up after this many retries.
    pub max_retries: u32,
    /// Seconds before the first retry.
    pub interval_start: f64,
    /// Seconds added before each further retry.
    pub interval_step: f64,
    /// At most this many seconds between retries.
    pub interval_max: f64,
}

impl Default for RetryPolicy {
    /// Celery's defaults.
    fn default() -> Self {
        Self { max_retries: 3, interval_start: 0.0, interval_step: 0.2, interval_max: 0.2 }
    }
}

impl RetryPolicy {
    /// # Errors
    /// Negative or non-finite intervals, more than 100 retries.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (f, v) in [
            ("retry_policy.interval_start", self.interval_start),
            ("retry_policy.interval_step", self.interval_step),
            ("retry_policy.interval_max", self.interval_max),
        ] {
            if !v.is_finite() || !(0.0..=60.0).contains(&v) {
                return Err(ValidationError::new(f, "must be between 0 and 60 seconds"));
            }
        }
        if self.max_retries > 100 {
            return Err(ValidationError::new("retry_policy.max_retries", "must be at most 100"));
        }
        Ok(())
    }

    /// The pause before publishing retry number `n` (0-based).
    pub fn interval(&self, n: u32) -> Duration {
        let s =
            (self.interval_start + self.interval_step * f64::from(n)).min(self.interval_max.max(self.interval_start));
        Duration::from_secs_f64(s.max(0.0))
    }
}

/// Celery's `apply_async` options (all optional), plus `dedup_key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOptions {
    /// Seconds from now; exclusive with `eta`.
    pub countdown: Option<f64>,
    pub eta: Option<DateTime<Utc>>,
    pub expires: Option<Expires>,
    pub priority: Option<u8>,
    pub queue: Option<String>,
    pub task_id: Option<TaskId>,
    pub parent_id: Option<TaskId>,
    pub root_id: Option<TaskId>,
    pub max_retries: Option<u32>,
    pub dedup_key: Option<String>,
    /// Retry publishing while the broker is unreachable (Celery's `retry`, default true).
    pub retry: Option<bool>,
    pub retry_policy: Option<RetryPolicy>,
}

/// A request to run a task by name with Celery-style arguments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRequest {
    pub name: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    pub options: TaskOptions,
}

/// What was queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub task_id: TaskId,
    pub eta: Option<DateTime<Utc>>,
    /// True when a task with the same `dedup_key` was already pending: its id is returned.
    pub duplicate: bool,
}

/// Limits on what producers may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPolicy {
    /// How far ahead an eta may be (default 30 days).
    pub eta_horizon: Duration,
    /// How long a revoke is remembered (at least as long as results are kept).
    pub revoke_ttl: Duration,
    /// Largest serialized arguments accepted, in bytes.
    pub max_args_bytes: usize,
}

impl Default for TaskPolicy {
    fn default() -> Self {
        Self {
            eta_horizon: Duration::from_secs(30 * 24 * 3600),
            revoke_ttl: Duration::from_secs(7 * 24 * 3600),
            max_args_bytes: 64 * 1024,
        }
    }
}

/// The producer-side task use cases.
#[derive(Clone)]
pub struct TaskService {
    broker: Arc<dyn Broker>,
    results: Arc<dyn ResultBackend>,
    clock: Arc<dyn Clock>,
    policy: TaskPolicy,
    events: Option<Arc<dyn EventLog>>,
    submit_store: Option<Arc<dyn SubmitStore>>,
}

impl std::fmt::Debug for TaskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskService").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// Runs `attempt` again while the broker is unavailable, as Celery's `retry_policy` says
/// (`None`: once). Safe for enqueues: an id already queued is not queued twice.
async fn retrying<T, F, Fut>(policy: Option<RetryPolicy>, mut attempt: F) -> Result<T, BrokerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BrokerError>>,
{
    let mut n = 0;
    loop {
        match attempt().await {
            Err(BrokerError::Unavailable(m)) if policy.is_some_and(|p| n < p.max_retries) => {
                let pause = policy.map(|p| p.interval(n)).unwrap_or_default();
                tracing::warn!(error = %m, retry = n + 1, pause_ms = pause.as_millis() as u64, "broker unavailable; retrying");
                tokio::time::sleep(pause).await;
                n += 1;
            }
            other => return other,
        }
    }
}

fn seconds(field: &str, v: f64) -> Result<TimeDelta, ValidationError> {
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(ValidationError::new(field, "must be a non-negative number of seconds"));
    }
    Ok(TimeDelta::microseconds((v * 1e6) as i64))
}

impl TaskService {
    pub fn new(
        broker: Arc<dyn Broker>,
        results: Arc<dyn ResultBackend>,
        clock: Arc<dyn Clock>,
        policy: TaskPolicy,
    ) -> Self {
        Self { broker, results, clock, policy, events: None, submit_store: None }
    }

    /// Submits of fresh ids go through `store` in one round trip (message, PENDING record and
    /// event together) instead of separate calls to the broker, results and event log.
    #[must_use]
    pub fn with_submit_store(mut self, store: Arc<dyn SubmitStore>) -> Self {
        self.submit_store = Some(store);
        self
    }

    /// Also records producer-side events (PENDING on send and replay, REVOKED on revoke) in
    /// the monitor's event log, so a task shows there before any worker has touched it.
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn EventLog>) -> Self {
        self.events = Some(events);
        self
    }

    /// Best effort: the monitor's history must never fail a producer.
    async fn note(&self, records: &[TaskRecord]) {
        if let Some(log) = &self.events
            && !records.is_empty()
        {
            let events: Vec<TaskEvent> = records.iter().map(TaskEvent::of).collect();
            if let Err(e) = log.append(&events).await {
                tracing::warn!(error = %e, "task events not recorded");
            }
        }
    }

    pub fn policy(&self) -> TaskPolicy {
        self.policy
    }

    /// Checks a request against the task's contract and the policy and builds its message.
    ///
    /// # Errors
    /// `Invalid`, naming the field: unknown task (`name`), bad arguments (`args.<name>`),
    /// `countdown` with `eta`, eta in the past or beyond the horizon, `expires` before the
    /// eta, bad queue or priority, arguments too large.
    pub fn build(&self, req: &TaskRequest) -> Result<TaskMessage, AppError> {
        let spec =
            spec(&req.name).ok_or_else(|| ValidationError::new("name", format!("unknown task {:?}", req.name)))?;
        let args = normalize_args(spec.arg_names, &req.args, &req.kwargs)?;
        let size = serde_json::to_vec(&args).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > self.policy.max_args_bytes {
            return Err(ValidationError::new(
                "args",
                format!("must be at most {} bytes of JSON", self.policy.max_args_bytes),
            )
            .into());
        }
        spec.check_args(&args)?;
        let o = &req.options;
        let now = self.clock.now();
        let eta = match (o.countdown, o.eta) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::new("countdown", "give either countdown or eta, not both").into());
            }
            (Some(c), None) => Some(now + seconds("countdown", c)?),
            (None, Some(eta)) => {
                if eta < now {
                    return Err(ValidationError::new("eta", "must not be in the past").into());
                }
                Some(eta)
            }
            (None, None) => None,
        };
        let horizon = TimeDelta::from_std(self.policy.eta_horizon).unwrap_or(TimeDelta::MAX);
        if eta.is_some_and(|e| e - now > horizon) {
            let field = if o.countdown.is_some() { "countdown" } else { "eta" };
            return Err(
                ValidationError::new(field, format!("must be at most {} days ahead", horizon.num_days())).into()
            );
        }
        let expires = match o.expires {
            None => None,
            Some(Expires::In(s)) => Some(now + seconds("expires", s)?),
            Some(Expires::At(t)) => Some(t),
        };
        if let Some(x) = expires
            && (x <= now || eta.is_some_and(|e| x <= e))
        {
            return Err(ValidationError::new("expires", "must be later than now and than the eta").into());
        }
        let queue = match &o.queue {
            Some(q) => QueueName::new(q)?,
            None => QueueName::new(spec.defaults.queue)?,
        };
        let priority = o.priority.map(Priority::new).transpose()?.unwrap_or_default();
        if let Some(k) = &o.dedup_key
            && (k.is_empty() || k.len() > 200)
        {
            return Err(ValidationError::new("dedup_key", "must be 1 to 200 bytes").into());
        }
        let id = o.task_id.unwrap_or_else(TaskId::generate);
        Ok(TaskMessage {
            id,
            name: spec.name.to_owned(),
            args,
            queue,
            priority,
            eta,
            expires,
            parent_id: o.parent_id,
            root_id: o.root_id.or(o.parent_id),
            retries: 0,
            max_retries: o.max_retries.unwrap_or(spec.defaults.max_retries),
            retry_delay_secs: spec.defaults.retry_delay_secs,
            soft_time_limit_secs: spec.defaults.soft_time_limit_secs,
            time_limit_secs: spec.defaults.time_limit_secs,
            dedup_key: o.dedup_key.clone(),
            created_at: now,
        })
    }

    /// Validates and queues a task; its record starts as PENDING. With a `dedup_key` that
    /// is already pending or running, returns that task instead of queueing a second one.
    ///
    /// # Errors
    /// `Invalid` (see [`Self::build`]); `Conflict` for a `task_id` already in use;
    /// `Unavailable` when the broker cannot be reached (nothing is left half-written).
    #[tracing::instrument(skip_all, fields(task = %req.name), err)]
    pub async fn submit(&self, req: &TaskRequest) -> Result<Submitted, AppError> {
        let msg = self.build(req)?;
        let policy = match (req.options.retry, req.options.retry_policy) {
            (Some(false), _) => None,
            (_, Some(p)) => {
                p.validate()?;
                Some(p)
            }
            (_, None) => Some(RetryPolicy::default()),
        };
        let caller_chose_id = req.options.task_id.is_some();
        if !caller_chose_id && let Some(store) = &self.submit_store {
            return self.submit_in_one_round_trip(store.as_ref(), msg, policy).await;
        }
        if self.events.is_none() {
            return self.send(msg, policy, caller_chose_id).await;
        }
        if !caller_chose_id && msg.dedup_key.is_none() {
            // The event cannot depend on the outcome (no dedup, a fresh id): send it in the
            // same round trip as the record and the message.
            let pending = TaskRecord::pending(&msg, self.clock.now());
            let (out, ()) = tokio::join!(self.send(msg, policy, false), self.note(std::slice::from_ref(&pending)));
            return out;
        }
        let out = self.send(msg.clone(), policy, caller_chose_id).await?;
        self.note_queued(&[&msg], std::slice::from_ref(&out)).await;
        Ok(out)
    }

    /// A fresh id's submit as one call of the submit store: the message, its PENDING record
    /// (written only if the message is queued) and, without a dedup key, its PENDING event.
    /// Retried under `policy` while Redis is unavailable (the same id again is safe: an id
    /// already queued is not queued twice, a record is never overwritten).
    async fn submit_in_one_round_trip(
        &self,
        store: &dyn SubmitStore,
        msg: TaskMessage,
        policy: Option<RetryPolicy>,
    ) -> Result<Submitted, AppError> {
        let pending = TaskRecord::pending(&msg, self.clock.now());
        let events =
            if self.events.is_some() && msg.dedup_key.is_none() { vec![TaskEvent::of(&pending)] } else { vec![] };
        let outcome = retrying(policy, || async {
            let outcomes = store.submit(std::slice::from_ref(&msg), std::slice::from_ref(&pending), &events).await;
            match outcomes {
                Ok(o) => Ok(o.first().copied().unwrap_or(EnqueueOutcome::Queued(msg.id))),
                Err(WorkerStoreError::Broker(e)) => Err(e),
                Err(WorkerStoreError::Results(ResultError::Unavailable(m))) => Err(BrokerError::Unavailable(m)),
                Err(WorkerStoreError::Results(ResultError::Internal(m))) => Err(BrokerError::Internal(m)),
            }
        })
        .await?;
        if let EnqueueOutcome::Duplicate(first) = outcome
            && first != msg.id
        {
            return Ok(Submitted { task_id: first, eta: msg.eta, duplicate: true });
        }
        if let Some(parent) = msg.parent_id {
            self.results.add_child(parent, msg.id).await?;
        }
        let out = Submitted { task_id: msg.id, eta: msg.eta, duplicate: false };
        if msg.dedup_key.is_some() {
            self.note_queued(&[&msg], std::slice::from_ref(&out)).await;
        }
        Ok(out)
    }

    /// Queues a typed task (what handlers and services use for follow-up tasks).
    ///
    /// # Errors
    /// As [`Self::submit`].
    pub async fn submit_typed<T: TaskContract>(
        &self,
        args: &T::Args,
        options: TaskOptions,
    ) -> Result<Submitted, AppError> {
        let kwargs = match serde_json::to_value(args) {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) => {
                return Err(AppError::Internal(format!("arguments of {} are not a JSON object", T::NAME)));
            }
        };
        self.submit(&TaskRequest { name: T::NAME.to_owned(), args: Vec::new(), kwargs, options }).await
    }

    /// Queues `msg` exactly once per task id, however often it is called: the way a handler
    /// that may be redelivered queues a follow-up task (give it a [`TaskId::derived`] id).
    /// A task already queued, running or finished is not queued again.
    ///
    /// # Errors
    /// `Unavailable` when the broker or result backend cannot be reached.
    pub async fn ensure_queued(&self, mut msg: TaskMessage) -> Result<Submitted, AppError> {
        // The id doubles as the dedup key, so the broker refuses a second copy while the
        // first is waiting or running; the record (NX) tells whether it was ever sent.
        msg.dedup_key = Some(format!("task:{}", msg.id));
        let record = TaskRecord::pending(&msg, self.clock.now());
        if !self.results.create(&record).await?
            && let Some(existing) = self.results.get(msg.id).await?
            && existing.state != TaskState::Pending
        {
            return Ok(Submitted { task_id: msg.id, eta: existing.eta, duplicate: true });
        }
        let outcome = self.broker.enqueue(std::slice::from_ref(&msg)).await?;
        if let Some(parent) = msg.parent_id {
            self.results.add_child(parent, msg.id).await?;
        }
        let duplicate = matches!(outcome.first(), Some(EnqueueOutcome::Duplicate(_)));
        let out = Submitted { task_id: msg.id, eta: msg.eta, duplicate };
        self.note_queued(&[&msg], std::slice::from_ref(&out)).await;
        Ok(out)
    }

    /// Enqueues, retrying per `policy` while the broker is unavailable.
    async fn publish(&self, msg: &TaskMessage, policy: Option<RetryPolicy>) -> Result<EnqueueOutcome, BrokerError> {
        retrying(policy, || async {
            let outcomes = self.broker.enqueue(std::slice::from_ref(msg)).await?;
            Ok(outcomes.first().copied().unwrap_or(EnqueueOutcome::Queued(msg.id)))
        })
        .await
    }

    async fn send(
        &self,
        msg: TaskMessage,
        policy: Option<RetryPolicy>,
        caller_chose_id: bool,
    ) -> Result<Submitted, AppError> {
        let record = TaskRecord::pending(&msg, self.clock.now());
        let outcome = if caller_chose_id {
            // A caller's id may be taken: find out before queueing anything.
            if !self.results.create(&record).await? {
                return Err(AppError::Conflict {
                    field: "task_id".into(),
                    message: format!("task {} exists already", msg.id),
                });
            }
            self.publish(&msg, policy).await
        } else {
            // A fresh id cannot be taken: write the record and queue the task in one round
            // trip. (A worker may write STARTED before PENDING lands; `create` is NX, so the
            // later PENDING never overwrites it.)
            let (created, published) = tokio::join!(self.results.create(&record), self.publish(&msg, policy));
            if let Err(e) = created {
                if published.is_ok() {
                    tracing::warn!(error = %e, task_id = %msg.id, "task queued, but its PENDING record was not written");
                } else {
                    return Err(e.into());
                }
            }
            published
        };
        self.settle(&msg, outcome).await
    }

    /// Cleans up after a publish: removes the record of a task that was not queued (or was
    /// a duplicate), and links a child to its parent.
    async fn settle(
        &self,
        msg: &TaskMessage,
        outcome: Result<EnqueueOutcome, BrokerError>,
    ) -> Result<Submitted, AppError> {
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                if let Err(del) = self.results.delete(msg.id).await {
                    tracing::error!(error = %del, task_id = %msg.id, "could not remove the record of a task that was not queued");
                }
                return Err(e.into());
            }
        };
        if let EnqueueOutcome::Duplicate(first) = outcome
            && first != msg.id
        {
            self.results.delete(msg.id).await?;
            return Ok(Submitted { task_id: first, eta: msg.eta, duplicate: true });
        }
        if let Some(parent) = msg.parent_id {
            self.results.add_child(parent, msg.id).await?;
        }
        Ok(Submitted { task_id: msg.id, eta: msg.eta, duplicate: false })
    }

    /// Records the PENDING event of each task that was really queued.
    async fn note_queued(&self, msgs: &[&TaskMessage], out: &[Submitted]) {
        if self.events.is_none() {
            return;
        }
        let now = self.clock.now();
        let records: Vec<TaskRecord> = msgs
            .iter()
            .zip(out)
            .filter(|(m, s)| !s.duplicate && s.task_id == m.id)
            .map(|(m, _)| TaskRecord::pending(m, now))
            .collect();
        self.note(&records).await;
    }

    /// Queues many tasks at once: one broker call for all of them, their PENDING records
    /// written concurrently (pipelined by the adapters). Ids are always generated here.
    ///
    /// # Errors
    /// `Invalid` naming the request (`tasks[3].args.x`) if any is invalid (nothing is
    /// queued then); `Unavailable` when the broker cannot be reached.
    pub async fn submit_many(&self, reqs: &[TaskRequest]) -> Result<Vec<Submitted>, AppError> {
        let mut msgs = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let at = |e: ValidationError| ValidationError::new(format!("tasks[{i}].{}", e.field), e.reason);
            if r.options.task_id.is_some() {
                return Err(at(ValidationError::new("task_id", "cannot be chosen in a bulk request")).into());
            }
            msgs.push(self.build(r).map_err(|e| match e {
                AppError::Invalid(v) => AppError::Invalid(at(v)),
                other => other,
            })?);
        }
        let now = self.clock.now();
        let records: Vec<TaskRecord> = msgs.iter().map(|m| TaskRecord::pending(m, now)).collect();
        // The ids were generated here (a bulk request cannot choose them): no record exists.
        let (created, published) = tokio::join!(self.results.create_fresh(&records), self.publish_many(&msgs));
        if let Err(e) = created {
            tracing::warn!(error = %e, "tasks queued, but their PENDING records were not written");
        }
        let outcomes = match published {
            Ok(o) => o,
            Err(e) => {
                for m in &msgs {
                    let _ = self.results.delete(m.id).await;
                }
                return Err(e.into());
            }
        };
        let mut out = Vec::with_capacity(msgs.len());
        for (m, o) in msgs.iter().zip(outcomes) {
            out.push(self.settle(m, Ok(o)).await?);
        }
        self.note_queued(&msgs.iter().collect::<Vec<_>>(), &out).await;
        Ok(out)
    }

    async fn publish_many(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError> {
        retrying(Some(RetryPolicy::default()), || self.broker.enqueue(msgs)).await
    }

    /// # Errors
    /// `NotFound` for an unknown (or expired) task id.
    pub async fn get(&self, id: TaskId) -> Result<TaskRecord, AppError> {
        self.results.get(id).await?.ok_or_else(|| AppError::NotFound { entity: "task", id: id.to_string() })
    }

    /// Revokes a task that has not finished: it will not run (or not run again).
    ///
    /// # Errors
    /// `NotFound`; `Conflict` if it has finished already.
    #[tracing::instrument(skip(self), err)]
    pub async fn revoke(&self, id: TaskId) -> Result<TaskRecord, AppError> {
        let rec = self.get(id).await?;
        if rec.state.is_terminal() {
            return Err(AppError::Conflict {
                field: "task_id".into(),
                message: format!("task {id} is {} already", rec.state),
            });
        }
        self.broker.revoke(id, "revoked", self.policy.revoke_ttl).await?;
        let mut u = StateUpdate::new(TaskState::Revoked, self.clock.now());
        u.error = Some(TaskFailure::new("Revoked", "revoked by request"));
        let rec = self.results.update(id, &u).await?.unwrap_or(rec);
        self.note(std::slice::from_ref(&rec)).await;
        Ok(rec)
    }

    /// Takes a dead-lettered task and queues it again.
    ///
    /// # Errors
    /// `NotFound` if the task is not in the dead-letter list.
    #[tracing::instrument(skip(self), err)]
    pub async fn replay(&self, id: TaskId) -> Result<TaskRecord, AppError> {
        // PENDING is written before the task is queued again, so that a fast worker's outcome
        // of the new run can never be overwritten by it.
        let now = self.clock.now();
        let before = self.results.get(id).await?;
        let pending = StateUpdate::new(TaskState::Pending, now);
        if before.is_some() {
            self.results.update(id, &pending).await?;
        }
        let msg = match self.broker.replay(id).await {
            Ok(msg) => msg,
            Err(e) => {
                // Not dead-lettered (or the broker is down): the record goes back as it was.
                if let Some(b) = &before {
                    let mut restore = StateUpdate::new(b.state, self.clock.now());
                    restore.result.clone_from(&b.result);
                    restore.error.clone_from(&b.error);
                    restore.retries = Some(b.retries);
                    if let Err(re) = self.results.update(id, &restore).await {
                        tracing::error!(error = %re, task_id = %id, "could not restore the record of a task not replayed");
                    }
                }
                return Err(e.into());
            }
        };
        if before.is_none() {
            // The record had expired: a new one, never over a worker's newer write (NX).
            self.results.create(&TaskRecord::pending(&msg, now)).await?;
        }
        let rec = self.results.get(id).await?.unwrap_or_else(|| TaskRecord::pending(&msg, now));
        self.note(std::slice::from_ref(&TaskRecord::pending(&msg, now))).await;
        Ok(rec)
    }

    /// Waits without polling until the task finishes or `timeout` passes.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn wait(&self, id: TaskId, timeout: Duration) -> Result<TaskRecord, AppError> {
        self.results.wait(id, timeout).await?.ok_or_else(|| AppError::NotFound { entity: "task", id: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{broker::MockBroker, clock::MockClock, results::MockResultBackend};
    use serde_json::json;

    fn fixed_clock(now: DateTime<Utc>) -> Arc<MockClock> {
        let mut c = MockClock::new();
        c.expect_now().returning(move || now);
        Arc::new(c)
    }

    fn svc(broker: MockBroker, results: MockResultBackend) -> TaskService {
        TaskService::new(Arc::new(broker), Arc::new(results), fixed_clock(Utc::now()), TaskPolicy::default())
    }

    fn req(name: &str, kwargs: Value) -> TaskRequest {
        TaskRequest { name: name.into(), kwargs: kwargs.as_object().cloned().unwrap_or_default(), ..Default::default() }
    }

    fn field(e: AppError) -> String {
        match e {
            AppError::Invalid(v) => v.field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn unknown_task_and_bad_args_name_the_field() {
        let s = svc(MockBroker::new(), MockResultBackend::new());
        assert_eq!(field(s.build(&req("nope", json!({}))).unwrap_err()), "name");
        assert_eq!(
            field(s.build(&req("process_bid_assignment", json!({"bid_id": "x", "master_id": 1}))).unwrap_err()),
            "args.bid_id"
        );
        assert_eq!(field(s.build(&req("process_bid_assignment", json!({"bid_id": 1}))).unwrap_err()), "args.master_id");
    }

    #[test]
    fn countdown_becomes_an_eta_and_past_etas_are_refused() {
        let now = Utc::now();
        let s = TaskService::new(
            Arc::new(MockBroker::new()),
            Arc::new(MockResultBackend::new()),
            fixed_clock(now),
            TaskPolicy::default(),
        );
        let mut r = req("diag.noop", json!({"x": 1}));
        r.options.countdown = Some(10.0);
        assert_eq!(s.build(&r).unwrap().eta, Some(now + TimeDelta::seconds(10)));
        r.options.countdown = None;
        r.options.eta = Some(now - TimeDelta::seconds(1));
        assert_eq!(field(s.build(&r).unwrap_err()), "eta");
        r.options.eta = Some(now + TimeDelta::days(31));
        assert_eq!(field(s.build(&r).unwrap_err()), "eta");
        r.options.countdown = Some(1.0);
        assert_eq!(field(s.build(&r).unwrap_err()), "countdown");
    }

    #[test]
    fn expires_must_follow_the_eta() {
        let s = svc(MockBroker::new(), MockResultBackend::new());
        let mut r = req("diag.noop", json!({}));
        r.options.countdown = Some(60.0);
        r.options.expires = Some(Expires::In(30.0));
        assert_eq!(field(s.build(&r).unwrap_err()), "expires");
    }

    #[test]
    fn defaults_come_from_the_contract() {
        let s = svc(MockBroker::new(), MockResultBackend::new());
        let m = s.build(&req("send_notification", json!({"user_id": 1, "message": "hi"}))).unwrap();
        assert_eq!((m.max_retries, m.retry_delay_secs, m.queue.as_str()), (3, 60, "default"));
    }

    #[tokio::test]
    async fn submit_records_pending_then_enqueues() {
        let mut results = MockResultBackend::new();
        results.expect_create().withf(|r| r.state == TaskState::Pending).times(1).returning(|_| Ok(true));
        let mut broker = MockBroker::new();
        broker.expect_enqueue().times(1).returning(|m| Ok(vec![EnqueueOutcome::Queued(m[0].id)]));
        let s = svc(broker, results);
        let out = s.submit(&req("diag.noop", json!({"x": 1}))).await.unwrap();
        assert!(!out.duplicate);
    }

    #[tokio::test]
    async fn a_broker_outage_leaves_nothing_half_written() {
        let mut results = MockResultBackend::new();
        results.expect_create().returning(|_| Ok(true));
        results.expect_delete().times(1).returning(|_| Ok(()));
        let mut broker = MockBroker::new();
        broker.expect_enqueue().returning(|_| Err(BrokerError::Unavailable("refused".into())));
        let s = svc(broker, results);
        let mut r = req("diag.noop", json!({}));
        r.options.retry = Some(false);
        assert!(matches!(s.submit(&r).await, Err(AppError::Unavailable(_))));
    }

    #[tokio::test]
    async fn publishing_is_retried_while_the_broker_is_unreachable() {
        let mut results = MockResultBackend::new();
        results.expect_create().returning(|_| Ok(true));
        let mut broker = MockBroker::new();
        let mut seq = mockall::Sequence::new();
        broker
            .expect_enqueue()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Err(BrokerError::Unavailable("refused".into())));
        broker.expect_enqueue().times(1).in_sequence(&mut seq).returning(|m| Ok(vec![EnqueueOutcome::Queued(m[0].id)]));
        let s = svc(broker, results);
        let mut r = req("diag.noop", json!({}));
        r.options.retry_policy =
            Some(RetryPolicy { max_retries: 3, interval_start: 0.0, interval_step: 0.01, interval_max: 0.01 });
        assert!(s.submit(&r).await.is_ok());
    }

    #[tokio::test]
    async fn publishing_gives_up_after_the_policy_and_removes_the_record() {
        let mut results = MockResultBackend::new();
        results.expect_create().returning(|_| Ok(true));
        results.expect_delete().times(1).returning(|_| Ok(()));
        let mut broker = MockBroker::new();
        broker.expect_enqueue().times(3).returning(|_| Err(BrokerError::Unavailable("refused".into())));
        let s = svc(broker, results);
        let mut r = req("diag.noop", json!({}));
        r.options.retry_policy =
            Some(RetryPolicy { max_retries: 2, interval_start: 0.0, interval_step: 0.0, interval_max: 0.0 });
        assert!(matches!(s.submit(&r).await, Err(AppError::Unavailable(_))));
    }

    #[test]
    fn retry_policy_intervals_grow_by_step_up_to_max() {
        let p = RetryPolicy { max_retries: 5, interval_start: 0.1, interval_step: 0.2, interval_max: 0.4 };
        let ms: Vec<u128> = (0..4).map(|n| p.interval(n).as_millis()).collect();
        assert_eq!(ms, vec![100, 300, 400, 400]);
        assert!(RetryPolicy { interval_step: -1.0, ..p }.validate().is_err());
    }

    #[tokio::test]
    async fn bulk_submit_queues_all_in_one_broker_call() {
        let mut results = MockResultBackend::new();
        results.expect_create_fresh().times(1).withf(|r| r.len() == 3).returning(|_| Ok(()));
        let mut broker = MockBroker::new();
        broker
            .expect_enqueue()
            .times(1)
            .withf(|m| m.len() == 3)
            .returning(|m| Ok(m.iter().map(|x| EnqueueOutcome::Queued(x.id)).collect()));
        let s = svc(broker, results);
        let reqs: Vec<_> = (0..3).map(|i| req("diag.noop", json!({"x": i}))).collect();
        let out = s.submit_many(&reqs).await.unwrap();
        assert_eq!(out.len(), 3);
    }

    #[tokio::test]
    async fn bulk_submit_names_the_bad_request_and_queues_nothing() {
        let s = svc(MockBroker::new(), MockResultBackend::new());
        let reqs = vec![req("diag.noop", json!({})), req("diag.sleep", json!({"ms": "x"}))];
        assert_eq!(field(s.submit_many(&reqs).await.unwrap_err()), "tasks[1].args.ms");
    }

    #[tokio::test]
    async fn a_duplicate_dedup_key_returns_the_first_task() {
        let first = TaskId::generate();
        let mut results = MockResultBackend::new();
        results.expect_create().returning(|_| Ok(true));
        results.expect_delete().times(1).returning(|_| Ok(()));
        let mut broker = MockBroker::new();
        broker.expect_enqueue().returning(move |_| Ok(vec![EnqueueOutcome::Duplicate(first)]));
        let s = svc(broker, results);
        let mut r = req("diag.noop", json!({}));
        r.options.dedup_key = Some("k".into());
        let out = s.submit(&r).await.unwrap();
        assert_eq!((out.task_id, out.duplicate), (first, true));
    }

    #[tokio::test]
    async fn revoking_a_finished_task_is_a_conflict() {
        let mut results = MockResultBackend::new();
        results.expect_get().returning(|id| {
            let s = svc(MockBroker::new(), MockResultBackend::new());
            let mut m = s.build(&req("diag.noop", json!({}))).unwrap();
            m.id = id;
            let mut r = TaskRecord::pending(&m, Utc::now());
            r.state = TaskState::Success;
            Ok(Some(r))
        });
        let s = svc(MockBroker::new(), results);
        assert!(matches!(s.revoke(TaskId::generate()).await, Err(AppError::Conflict { .. })));
    }
}
