//! The worker's two calls per task on Redis: the claim script also records STARTED for the
//! tasks it claims (their records live in the queue's slot), and one `settle.lua` records the
//! outcome and acknowledges, retries or dead-letters the delivery.

use async_trait::async_trait;
use goodrobot_domain::task::StateUpdate;
use goodrobot_ports::{
    BrokerError, Claimed, Delivery, FetchRequest, ResultBackend, Settled, Settlement, StartStamp, WorkerStore,
    WorkerStoreError,
};
use redis::Value;

use crate::{
    RedisBroker, RedisResults,
    broker::fetch::Stamp,
    codec::{array, encode, epoch_ms, int, json},
    results::{patch::patch, push_patch},
};

/// [`WorkerStore`] on Redis: a [`RedisBroker`] and the [`RedisResults`] of the same Redis.
#[derive(Debug, Clone)]
pub struct RedisWorkerStore {
    broker: RedisBroker,
    results: RedisResults,
}

impl RedisWorkerStore {
    pub fn new(broker: RedisBroker, results: RedisResults) -> Self {
        Self { broker, results }
    }
}

#[async_trait]
impl WorkerStore for RedisWorkerStore {
    #[tracing::instrument(level = "debug", skip_all, fields(worker = %req.worker_id, max = req.max), err)]
    async fn claim(&self, req: &FetchRequest, stamp: &StartStamp) -> Result<Vec<Claimed>, WorkerStoreError> {
        let stamp = Stamp {
            ttl_ms: self.results.ttl_ms(),
            worker: json(&stamp.worker).map_err(BrokerError::from)?,
            at: json(&stamp.at).map_err(BrokerError::from)?,
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
            -1 => {
                self.results.record_applied(&d.message, update).await?
            }
            n => n == 1,
        };
        Ok(Settled { recorded, lease_held: held })
    }
}
