//! Revokes and replays: calls that name a task by id alone. The revocation store has a slot
//! of its own; the task's queue is found among the known queues (one script per queue in one
//! round trip — queues are few).

use goodrobot_domain::task::{TaskId, TaskMessage};
use goodrobot_ports::BrokerError;
use std::{collections::HashMap, time::Duration};

use super::RedisBroker;
use crate::{
    codec::{DeadLetter, encode, ms},
    conn::Failure,
};

/// `TIME`'s answer: seconds and microseconds.
type RedisTime = (i64, i64);

/// How often `replay` reads a dead letter again if it changed under it.
const REPLAY_TRIES: usize = 3;

impl RedisBroker {
    /// Records the revocation, then drops the task from whichever queue holds it waiting and
    /// frees its dedup key.
    pub(super) async fn revoke_task(&self, id: TaskId, reason: &str, ttl: Duration) -> Result<(), Failure> {
        let r = &self.inner.revocations;
        let mut pipe = redis::pipe();
        let mut mark = self.scripts().revoke_mark.call(&[&r.reasons, &r.expiry]);
        mark.arg(id.to_string()).arg(reason).arg(ms(ttl));
        pipe.add_command(mark).ignore().cmd("SMEMBERS").arg(&self.inner.queues);
        let (names,): (Vec<String>,) = self.redis().pipeline(&pipe).await?;
        let mut drop = redis::pipe();
        for name in names.iter().filter_map(|n| goodrobot_domain::task::QueueName::new(n).ok()) {
            let k = self.keys(&name);
            let mut cmd = self.scripts().revoke_drop.call(&[
                &k.msg,
                &k.ready,
                &k.delayed,
                &k.claim,
                &k.dedup,
                &k.dedup_of,
                &k.revoked,
                &k.revoked_exp,
            ]);
            cmd.arg(id.to_string()).arg(reason).arg(ms(ttl));
            drop.add_command(cmd).ignore();
        }
        if !names.is_empty() {
            self.redis().pipeline::<()>(&drop).await?;
        }
        Ok(())
    }

    /// The live revocations among `ids` at `now` (ms on Redis's clock; Redis is asked if
    /// `None`), in one round trip of plain reads.
    pub(super) async fn revoked_reasons(
        &self,
        ids: &[TaskId],
        now: Option<i64>,
    ) -> Result<HashMap<TaskId, String>, Failure> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let r = &self.inner.revocations;
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("TIME").cmd("HMGET").arg(&r.reasons).arg(&names).cmd("ZMSCORE").arg(&r.expiry).arg(&names);
        let ((secs, micros), reasons, until): (RedisTime, Vec<Option<String>>, Vec<Option<f64>>) =
            self.redis().pipeline(&pipe).await?;
        let now = now.unwrap_or(secs * 1000 + micros / 1000);
        Ok(ids
            .iter()
            .zip(reasons.into_iter().zip(until))
            .filter_map(|(id, (reason, until))| match (reason, until) {
                (Some(reason), Some(until)) if until > now as f64 => Some((*id, reason)),
                _ => None,
            })
            .collect())
    }

    /// Finds the dead letter, then swaps it atomically for a ready message with its retries
    /// reset, due now (provided it did not change in between).
    pub(super) async fn replay_dead(&self, id: TaskId) -> Result<TaskMessage, BrokerError> {
        for _ in 0..REPLAY_TRIES {
            let queues = self.known_queues().await?;
            let mut read = redis::pipe();
            for q in &queues {
                read.hget(&self.keys(q).dead, id.to_string());
            }
            let found: Vec<Option<Vec<u8>>> =
                if queues.is_empty() { Vec::new() } else { self.redis().pipeline(&read).await? };
            let Some((queue, raw)) = queues.iter().zip(found).find_map(|(q, raw)| raw.map(|r| (q, r))) else {
                return Err(BrokerError::NotFound(id));
            };
            let mut msg = DeadLetter::parse(&raw)?.message;
            msg.retries = 0;
            msg.eta = None;
            let k = self.keys(queue);
            let mut cmd = self.scripts().replay.call(&[
                &k.msg,
                &k.ready,
                &k.claim,
                &k.seq,
                &k.dead,
                &k.dedup,
                &k.dedup_of,
                &k.wake,
            ]);
            cmd.arg(id.to_string()).arg(&raw).arg(encode(&msg)?).arg(msg.dedup_key.as_deref().unwrap_or(""));
            if self.redis().query::<i64>(&cmd).await? >= 0 {
                return Ok(msg);
            }
        }
        Err(BrokerError::NotFound(id))
    }
}
