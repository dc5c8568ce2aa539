//! The hot paths on Redis. A worker's two calls per task: the claim script also records
//! STARTED for the tasks it claims (their records live in the queue's slot), and one
//! `settle.lua` records the outcome and acknowledges, retries or dead-letters the delivery.
//! A producer's submit in one round trip on one connection: the enqueue script, then
//! `record_pending.lua` (the PENDING records of the messages now queued, same slot) and the
//! events, pipelined.

use async_trait::async_trait;
use goodrobot_domain::task::{StateUpdate, TaskMessage, TaskRecord};
use goodrobot_ports::{
    Broker, BrokerError, Claimed, Delivery, EnqueueOutcome, EventLog, FetchRequest, ResultBackend, Settled, Settlement,
    StartStamp, SubmitStore, TaskEvent, WorkerStore, WorkerStoreError,
};
use goodrobot_redis::RedisEventLog;
use redis::Value;

use crate::{
    RedisBroker, RedisResults,
    broker::fetch::Stamp,
    codec::{array, encode, epoch_ms, int, json},
    results::{
        patch::{fields, patch},
        push_patch,
    },
};

/// [`WorkerStore`] and [`SubmitStore`] on Redis: a [`RedisBroker`] and the [`RedisResults`]
/// of the same Redis (and the event log a submit appends to).
#[derive(Debug, Clone)]
pub struct RedisWorkerStore {
    broker: RedisBroker,
    results: RedisResults,
    events: Option<RedisEventLog>,
}

impl RedisWorkerStore {
    pub fn new(broker: RedisBroker, results: RedisResults) -> Self {
        Self { broker, results, events: None }
    }

    /// Submits append their events to `events` in the same round trip.
    #[must_use]
    pub fn with_events(mut self, events: RedisEventLog) -> Self {
        self.events = Some(events);
        self
    }

    /// The separate calls, for what one round trip does not cover (several queues, more
    /// than one script's worth of messages, durable enqueue's WAIT).
    async fn submit_separately(
        &self,
        msgs: &[TaskMessage],
        records: &[TaskRecord],
        events: &[TaskEvent],
    ) -> Result<Vec<EnqueueOutcome>, WorkerStoreError> {
        let outcomes = self.broker.enqueue(msgs).await?;
        // Each record only for a message queued, never over one a worker already wrote (NX).
        let creates = records
            .iter()
            .zip(&outcomes)
            .filter(|(r, o)| matches!(o, EnqueueOutcome::Queued(id) if *id == r.id))
            .map(|(r, _)| self.results.create(r));
        futures::future::try_join_all(creates).await?;
        if let Some(log) = &self.events
            && !events.is_empty()
            && let Err(e) = log.append(events).await
        {
            tracing::warn!(error = %e, "task events not recorded");
        }
        Ok(outcomes)
    }
}

/// Messages of one submit that fit one enqueue script call.
const ONE_ROUND_TRIP: usize = 500;

#[async_trait]
impl SubmitStore for RedisWorkerStore {
    #[tracing::instrument(level = "debug", skip_all, fields(count = msgs.len()), err)]
    async fn submit(
        &self,
        msgs: &[TaskMessage],
        records: &[TaskRecord],
        events: &[TaskEvent],
    ) -> Result<Vec<EnqueueOutcome>, WorkerStoreError> {
        let Some(first) = msgs.first() else { return Ok(Vec::new()) };
        let one_queue = msgs.iter().all(|m| m.queue == first.queue);
        if !one_queue || msgs.len() > ONE_ROUND_TRIP || records.len() != msgs.len() || self.broker.durable() {
            return self.submit_separately(msgs, records, events).await;
        }
        let mut pipe = redis::pipe();
        let new_names = self.broker.push_enqueue(&mut pipe, &first.queue, msgs).map_err(BrokerError::from)?;
        let k = self.broker.keys(&first.queue);
        let mut rec = self.broker.scripts().record_pending.call(&[&k.msg, &k.task]);
        rec.arg(self.results.ttl_ms()).arg(records.len());
        for r in records {
            let f = fields(r).map_err(BrokerError::from)?;
            rec.arg(r.id.to_string()).arg(f.len());
            for (name, value) in &f {
                rec.arg(name).arg(value);
            }
        }
        pipe.add_command(rec).ignore();
        let replies: Vec<Value> = if self.broker.redis().pool().is_cluster() {
            // The queue names and the event stream live in other slots, maybe on a node that
            // is down: they go at the same time but on their own, and never fail the submit.
            let side = async {
                self.broker.register(&new_names).await;
                if let Some(log) = &self.events
                    && !events.is_empty()
                    && let Err(e) = log.append(events).await
                {
                    tracing::warn!(error = %e, "task events not recorded");
                }
            };
            let (replies, ()) = tokio::join!(self.broker.redis().pipeline::<Vec<Value>>(&pipe), side);
            replies.map_err(BrokerError::from)?
        } else {
            // One node: everything in one round trip on one connection.
            self.broker.push_register(&mut pipe, &new_names);
            if let Some(log) = &self.events {
                for e in events {
                    match log.append_command(e) {
                        Ok(cmd) => {
                            pipe.add_command(cmd).ignore();
                        }
                        Err(e) => tracing::warn!(error = %e, "task event not recorded"),
                    }
                }
            }
            self.broker.redis().pipeline::<Vec<Value>>(&pipe).await.map_err(BrokerError::from)?
        };
        let [reply] = replies.as_slice() else {
            return Err(BrokerError::Internal(format!("{} replies to one enqueue", replies.len())).into());
        };
        let ids: Vec<_> = msgs.iter().map(|m| m.id).collect();
        Ok(self.broker.enqueue_outcomes(&ids, reply).map_err(BrokerError::from)?)
    }
}

#[async_trait]
impl WorkerStore for RedisWorkerStore {
    #[tracing::instrument(level = "debug", skip_all, fields(worker = %req.worker_id, max = req.max), err)]
    async fn claim(&self, req: &FetchRequest, stamp: &StartStamp) -> Result<Vec<Claimed>, WorkerStoreError> {
        let stamp = Stamp {
            ttl_ms: self.results.ttl_ms(),
            worker: json(&stamp.worker).map_err(BrokerError::from)?,
            clock: stamp.clock.clone(),
        };
        Ok(self.broker.claim_waiting(req, Some(&stamp)).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %d.message.id, state = %update.state), err)]
    async fn settle(&self, d: &Delivery, update: &StateUpdate, how: &Settlement) -> Result<Settled, WorkerStoreError> {
        let k = self.broker.keys(&d.token.queue);
        let rec = k.record(d.token.task_id);
        let mut cmd = self.broker.scripts().settle.call(&[
            &k.msg,
            &k.ready,
            &k.delayed,
            &k.inflight,
            &k.claim,
            &k.seq,
            &k.dead,
            &k.dedup,
            &k.dedup_of,
            &k.wake,
            &rec.rec,
            &rec.done,
        ]);
        cmd.arg(d.token.task_id.to_string()).arg(d.token.fence);
        match how {
            Settlement::Ack => {
                cmd.arg("ack");
            }
            Settlement::Retry { next, at } => {
                cmd.arg("retry")
                    .arg(encode(next).map_err(BrokerError::from)?)
                    .arg(epoch_ms(*at))
                    .arg(next.dedup_key.as_deref().unwrap_or(""));
            }
            Settlement::DeadLetter(f) => {
                cmd.arg("dead").arg(json(f).map_err(BrokerError::from)?);
            }
        }
        let p = patch(update).map_err(BrokerError::from)?;
        push_patch(&mut cmd, self.results.ttl_ms(), &p, None).map_err(BrokerError::from)?;
        let reply: Value = self.broker.redis().query(&cmd).await.map_err(BrokerError::from)?;
        let [recorded, held] = array(&reply, "settle").map_err(BrokerError::from)? else {
            return Err(BrokerError::Internal(format!("unexpected settle reply: {reply:?}")).into());
        };
        let held = int(held, "settle lease").map_err(BrokerError::from)? == 1;
        let recorded = match int(recorded, "settle recorded").map_err(BrokerError::from)? {
            // No record (expired, or never written): made from the message, then changed.
            // Not for a delivery that lost its lease: a newer one owns the task and its record.
            -1 if held => self.results.record_applied(&d.message, update).await?,
            -1 => false,
            n => n == 1,
        };
        Ok(Settled { recorded, lease_held: held })
    }
}
