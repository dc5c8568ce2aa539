//! Settling a claim: renew, ack, retry, release, dead-letter — each a script that first
//! checks the token's fence against the task's current claim (`LeaseLost` if it is not).

use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, TaskFailure, TaskMessage};
use goodrobot_ports::{BrokerError, LeaseToken};
use redis::Value;
use std::time::Duration;

use super::RedisBroker;
use crate::{
    codec::{array, encode, epoch_ms, int, json, ms},
    conn::Failure,
};

impl RedisBroker {
    /// One script call per queue, all in one round trip.
    pub(super) async fn renew_all(&self, tokens: &[LeaseToken], lease: Duration) -> Result<Vec<bool>, Failure> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_queue: Vec<(&QueueName, Vec<usize>)> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            match by_queue.iter_mut().find(|(q, _)| *q == &t.queue) {
                Some((_, positions)) => positions.push(i),
                None => by_queue.push((&t.queue, vec![i])),
            }
        }
        let mut pipe = redis::pipe();
        for (queue, positions) in &by_queue {
            let k = self.keys(queue);
            let mut cmd = self.scripts().renew.call(&[&k.inflight, &k.claim]);
            cmd.arg(ms(lease));
            for &i in positions {
                cmd.arg(tokens[i].task_id.to_string()).arg(tokens[i].fence);
            }
            pipe.add_command(cmd);
        }
        let replies: Vec<Value> = self.redis().pipeline(&pipe).await?;
        let mut held = vec![false; tokens.len()];
        for ((_, positions), reply) in by_queue.iter().zip(&replies) {
            let items = array(reply, "renew")?;
            for (&i, item) in positions.iter().zip(items.iter().skip(1)) {
                held[i] = int(item, "renew")? == 1;
            }
        }
        Ok(held)
    }

    pub(super) async fn settle_ack(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        let k = self.keys(&token.queue);
        let mut cmd = self.scripts().ack.call(&[&k.msg, &k.inflight, &k.claim, &k.dedup, &k.dedup_of]);
        cmd.arg(token.task_id.to_string()).arg(token.fence);
        self.settled(token, &cmd).await
    }

    /// The task stays in its queue (the token's), as `msg` with the token's id.
    pub(super) async fn settle_retry(
        &self,
        token: &LeaseToken,
        msg: &TaskMessage,
        at: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let mut next = msg.clone();
        next.id = token.task_id;
        if next.queue != token.queue {
            tracing::warn!(task_id = %token.task_id, from = %token.queue, to = %next.queue, "a retry stays in the queue it was fetched from");
            next.queue = token.queue.clone();
        }
        let k = self.keys(&token.queue);
        let mut cmd = self.scripts().retry.call(&[
            &k.msg,
            &k.ready,
            &k.delayed,
            &k.inflight,
            &k.claim,
            &k.seq,
            &k.dedup,
            &k.dedup_of,
            &k.wake,
        ]);
        cmd.arg(token.task_id.to_string())
            .arg(token.fence)
            .arg(encode(&next)?)
            .arg(epoch_ms(at))
            .arg(next.dedup_key.as_deref().unwrap_or(""));
        self.settled(token, &cmd).await
    }

    pub(super) async fn settle_release(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        let k = self.keys(&token.queue);
        let mut cmd = self.scripts().release.call(&[&k.msg, &k.ready, &k.inflight, &k.claim, &k.seq, &k.wake]);
        cmd.arg(token.task_id.to_string()).arg(token.fence);
        self.settled(token, &cmd).await
    }

    pub(super) async fn settle_dead_letter(
        &self,
        token: &LeaseToken,
        failure: &TaskFailure,
    ) -> Result<(), BrokerError> {
        let k = self.keys(&token.queue);
        let mut cmd = self.scripts().dead_letter.call(&[&k.msg, &k.inflight, &k.claim, &k.dead, &k.dedup, &k.dedup_of]);
        cmd.arg(token.task_id.to_string()).arg(token.fence).arg(json(failure)?);
        self.settled(token, &cmd).await
    }

    /// Runs a settling script: 1 is done, 0 is a lost lease.
    async fn settled(&self, token: &LeaseToken, cmd: &redis::Cmd) -> Result<(), BrokerError> {
        match self.redis().query::<i64>(cmd).await? {
            1 => Ok(()),
            _ => Err(BrokerError::LeaseLost(token.task_id)),
        }
    }
}
