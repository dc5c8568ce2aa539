//! Enqueueing: messages grouped by queue, up to [`CHUNK`] per script call; the calls of up
//! to [`TRANSACTION`] messages go in one `MULTI`/`EXEC` round trip, and a few such round
//! trips are on the wire at once.

use futures::{StreamExt, stream::FuturesOrdered};
use goodrobot_domain::task::{QueueName, TaskId, TaskMessage};
use goodrobot_ports::EnqueueOutcome;
use redis::Value;

use super::RedisBroker;
use crate::{
    codec::{encode, epoch_ms, task_id},
    conn::Failure,
};

/// Messages per script call (bounds the time one call holds Redis).
const CHUNK: usize = 500;
/// Messages per round trip; a call of at most this many is all-or-nothing.
const TRANSACTION: usize = 10_000;
/// Round trips of one bulk enqueue on the wire at once.
const IN_FLIGHT: usize = 4;
/// On a cluster, how long a process goes before adding a queue's name to the known queues again.
const REREGISTER: std::time::Duration = std::time::Duration::from_secs(10);

/// One script call: a queue and the positions of its messages in the caller's slice.
type Call<'a> = (&'a QueueName, &'a [usize]);

impl RedisBroker {
    /// Whether enqueues wait for replicas (`REDIS_WAIT_REPLICAS`).
    pub(crate) fn durable(&self) -> bool {
        self.inner.cfg.wait_replicas > 0
    }

    /// The enqueue script call for the messages of `queue` at `positions` of `msgs`.
    fn enqueue_call(
        &self,
        queue: &QueueName,
        msgs: &[TaskMessage],
        positions: &[usize],
        stored: &[Vec<u8>],
    ) -> redis::Cmd {
        let k = self.keys(queue);
        let mut cmd =
            self.scripts().enqueue.call(&[&k.msg, &k.ready, &k.delayed, &k.seq, &k.dedup, &k.dedup_of, &k.wake]);
        cmd.arg(positions.len());
        for &i in positions {
            let m = &msgs[i];
            cmd.arg(m.id.to_string())
                .arg(&stored[i])
                .arg(m.eta.map(|eta| epoch_ms(eta).to_string()).unwrap_or_default())
                .arg(m.dedup_key.as_deref().unwrap_or(""));
        }
        cmd
    }

    /// Adds to `pipe` the enqueue of `msgs`, all of `queue` (at most one script's worth);
    /// returns the names to register (see [`Self::register`]). Its one reply is read by
    /// [`Self::enqueue_outcomes`].
    pub(crate) fn push_enqueue(
        &self,
        pipe: &mut redis::Pipeline,
        queue: &QueueName,
        msgs: &[TaskMessage],
    ) -> Result<Vec<String>, Failure> {
        let stored = msgs.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let positions: Vec<usize> = (0..msgs.len()).collect();
        pipe.add_command(self.enqueue_call(queue, msgs, &positions, &stored));
        Ok(self.names_to_register([queue]))
    }

    /// The outcomes of one enqueue script call of the messages with `ids`, in order.
    pub(crate) fn enqueue_outcomes(&self, ids: &[TaskId], reply: &Value) -> Result<Vec<EnqueueOutcome>, Failure> {
        let Value::Array(items) = reply else {
            return Err(Failure::Internal(format!("unexpected enqueue reply: {reply:?}")));
        };
        if items.len() != ids.len() {
            return Err(Failure::Internal("enqueue reply of the wrong length".into()));
        }
        ids.iter()
            .zip(items)
            .map(|(&id, item)| match item {
                Value::Int(1) => Ok(EnqueueOutcome::Queued(id)),
                other => Ok(EnqueueOutcome::Duplicate(task_id(other, "enqueue")?)),
            })
            .collect()
    }

    /// `WAIT <replicas> <timeout ms>` of durable enqueue.
    fn wait_cmd(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(self.inner.cfg.wait_replicas)
            .arg(u64::try_from(self.inner.cfg.wait_timeout.as_millis()).unwrap_or(u64::MAX));
        cmd
    }

    pub(super) async fn enqueue_all(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, Failure> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let stored = msgs.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let mut by_queue: Vec<(&QueueName, Vec<usize>)> = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            match by_queue.iter_mut().find(|(q, _)| *q == &m.queue) {
                Some((_, positions)) => positions.push(i),
                None => by_queue.push((&m.queue, vec![i])),
            }
        }
        let calls: Vec<Call<'_>> =
            by_queue.iter().flat_map(|(q, positions)| positions.chunks(CHUNK).map(move |c| (*q, c))).collect();
        let mut round_trips: Vec<Vec<Call<'_>>> = Vec::new();
        let mut size = 0;
        for call in calls {
            if round_trips.is_empty() || size + call.1.len() > TRANSACTION {
                round_trips.push(Vec::new());
                size = 0;
            }
            size += call.1.len();
            round_trips.last_mut().into_iter().for_each(|rt| rt.push(call));
        }
        let mut answers = Vec::with_capacity(round_trips.len());
        let mut on_the_wire = FuturesOrdered::new();
        for calls in &round_trips {
            if on_the_wire.len() >= IN_FLIGHT
                && let Some(answer) = on_the_wire.next().await
            {
                answers.push(answer?);
            }
            on_the_wire.push_back(self.enqueue_round_trip(calls, msgs, &stored));
        }
        while let Some(answer) = on_the_wire.next().await {
            answers.push(answer?);
        }
        let mut out = vec![None; msgs.len()];
        for (i, outcome) in answers.into_iter().flatten() {
            out[i] = Some(outcome);
        }
        out.into_iter()
            .enumerate()
            .map(|(i, o)| o.ok_or_else(|| Failure::Internal(format!("no enqueue outcome for message {i}"))))
            .collect()
    }

    async fn enqueue_round_trip(
        &self,
        calls: &[Call<'_>],
        msgs: &[TaskMessage],
        stored: &[Vec<u8>],
    ) -> Result<Vec<(usize, EnqueueOutcome)>, Failure> {
        let replies = if self.durable() {
            self.enqueue_durably(calls, msgs, stored).await?
        } else {
            let mut pipe = redis::pipe();
            // All or nothing across queues on one node; a cluster has no transaction across
            // slots, so there each queue's part is atomic on its own (one script each).
            let cluster = self.redis().pool().is_cluster();
            if calls.len() > 1 && !cluster {
                pipe.atomic();
            }
            for (queue, positions) in calls {
                pipe.add_command(self.enqueue_call(queue, msgs, positions, stored));
            }
            let names = self.names_to_register(calls.iter().map(|(q, _)| *q));
            if cluster {
                let (replies, ()) = tokio::join!(self.redis().pipeline::<Vec<Value>>(&pipe), self.register(&names));
                replies?
            } else {
                // One node: the registration rides in the same round trip.
                self.push_register(&mut pipe, &names);
                self.redis().pipeline::<Vec<Value>>(&pipe).await?
            }
        };
        if replies.len() != calls.len() {
            return Err(Failure::Internal(format!("{} replies to {} enqueue calls", replies.len(), calls.len())));
        }
        let mut out = Vec::new();
        for ((_, positions), reply) in calls.iter().zip(&replies) {
            let of_call: Vec<TaskId> = positions.iter().map(|&i| msgs[i].id).collect();
            for (&i, outcome) in positions.iter().zip(self.enqueue_outcomes(&of_call, reply)?) {
                out.push((i, outcome));
            }
        }
        Ok(out)
    }

    /// The names of `queues` to add to the known queues (`<p>:queues`, where lookups by id
    /// look) with this enqueue. On one node every one, in the enqueue's own round trip (no
    /// extra call). On a cluster that set is one key every submit would hit, so a process adds
    /// a queue again only [`REREGISTER`] after it last did (a set lost with a Redis restart is
    /// rebuilt within that time).
    pub(crate) fn names_to_register<'a>(&self, queues: impl IntoIterator<Item = &'a QueueName>) -> Vec<String> {
        let cluster = self.redis().pool().is_cluster();
        let done = self.inner.registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut names: Vec<String> = queues
            .into_iter()
            .map(QueueName::as_str)
            .filter(|q| !cluster || done.get(*q).is_none_or(|at| at.elapsed() >= REREGISTER))
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// One node: `names`' registration as a command of `pipe` (the same round trip).
    pub(crate) fn push_register(&self, pipe: &mut redis::Pipeline, names: &[String]) {
        if !names.is_empty() {
            pipe.cmd("SADD").arg(&self.inner.queues).arg(names).ignore();
        }
    }

    /// Adds `names` to the known queues on a call of its own, best effort: on a cluster the set
    /// may live on a node that is down, which must not fail an enqueue that happened (a name
    /// not added is tried again with the next enqueue).
    pub(crate) async fn register(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        match self.redis().query::<i64>(redis::cmd("SADD").arg(&self.inner.queues).arg(names)).await {
            Ok(_) => {
                let mut done = self.inner.registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = std::time::Instant::now();
                done.extend(names.iter().map(|n| (n.clone(), now)));
            }
            Err(e) => tracing::warn!(error = ?e, "queue names not registered yet; retried with the next enqueue"),
        }
    }

    /// Durable enqueue: `WAIT` blocks the connection it runs on, so each group of scripts
    /// (one node: all of them, atomically; a cluster: each queue's) and its `WAIT` go over a
    /// connection of their own to the queue's node, never the shared one.
    async fn enqueue_durably(
        &self,
        calls: &[Call<'_>],
        msgs: &[TaskMessage],
        stored: &[Vec<u8>],
    ) -> Result<Vec<Value>, Failure> {
        let groups: Vec<&[Call<'_>]> =
            if self.redis().pool().is_cluster() { calls.chunks(1).collect() } else { vec![calls] };
        let runs = groups.into_iter().map(|group| async move {
            let mut pipe = redis::pipe();
            if group.len() > 1 {
                pipe.atomic();
            }
            for (queue, positions) in group {
                pipe.add_command(self.enqueue_call(queue, msgs, positions, stored));
            }
            let first = &self.keys(group[0].0).msg;
            let mut own = self.redis().pool().checkout(first).await.map_err(Failure::Unavailable)?;
            let mut replies = pipe.query_async::<Vec<Value>>(own.conn()).await;
            if let Err(e) = &replies
                && crate::conn::is_noscript(e)
            {
                self.redis().reload_scripts().await?;
                replies = pipe.query_async::<Vec<Value>>(own.conn()).await;
            }
            let replies = replies.map_err(|e| Failure::of(&e))?;
            let acked: i64 = self.wait_cmd().query_async(own.conn()).await.map_err(|e| Failure::of(&e))?;
            own.reusable();
            let want = i64::from(self.inner.cfg.wait_replicas);
            if acked < want {
                return Err(Failure::Unavailable(format!(
                    "enqueued on the master but acknowledged by {acked} of {want} replicas within {} ms: \
                     the outcome is unknown (a failover may lose it); enqueueing the same task id again is safe",
                    self.inner.cfg.wait_timeout.as_millis()
                )));
            }
            Ok::<_, Failure>(replies)
        });
        let replies: Vec<Value> = futures::future::try_join_all(runs).await?.into_iter().flatten().collect();
        self.register(&self.names_to_register(calls.iter().map(|(q, _)| *q))).await;
        Ok(replies)
    }
}
