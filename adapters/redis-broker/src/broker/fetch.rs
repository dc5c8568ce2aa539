//! Fetching: one `fetch.lua` round per queue (reclaim, promote, claim — one atomic step),
//! the revocations of what was claimed in one more call, and, when nothing is due, a
//! blocking pop on the queues' wake lists until an enqueue pushes a token or the next due
//! time / lease expiry the rounds reported, whichever is first.

use goodrobot_domain::task::{QueueName, TaskFailure};
use goodrobot_ports::{BrokerError, Claimed, Delivery, FetchRequest, LeaseToken};
use redis::Value;
use std::time::Duration;
use tokio::time::Instant;

use super::RedisBroker;
use crate::{
    codec::{array, bytes, decode, from_epoch_ms, int, ms, task_id, text},
    conn::Failure,
};

/// How long a wake token lives (as `prelude.lua` sets it).
const WAKE_TTL_MS: i64 = 60_000;
/// At most this many tasks are claimed by one script call.
const MAX_CLAIM: usize = 1000;

/// STARTED as a claim records it: the result TTL in ms, the worker (JSON) and the clock
/// read at each round.
#[derive(Clone)]
pub(crate) struct Stamp {
    pub ttl_ms: u64,
    pub worker: String,
    pub clock: std::sync::Arc<dyn goodrobot_ports::Clock>,
}

/// What one round on one queue gave.
struct Round {
    deliveries: Vec<Claimed>,
    /// How long until something may become due there (`None`: nothing is scheduled).
    next: Option<Duration>,
    /// Redis's clock (ms) when the round ran.
    now: i64,
    /// Whether any revocation is stored at all (read in the same round trip).
    revocations: bool,
}

/// What a fetch round over the queues gave.
struct Rounds {
    deliveries: Vec<Claimed>,
    next: Option<Duration>,
    now: i64,
    revocations: bool,
}

/// A wake token popped for a fetch that was dropped meanwhile goes back to its list, so that
/// another waiting fetch gets it.
fn give_back_token(answer: &Value) -> Option<redis::Pipeline> {
    let Value::Array(pair) = answer else { return None };
    let [key, token] = pair.as_slice() else { return None };
    let key = bytes(key, "wake key").ok()?;
    let mut pipe = redis::pipe();
    pipe.lpush(key, bytes(token, "wake token").ok()?).pexpire(key, WAKE_TTL_MS);
    Some(pipe)
}

impl RedisBroker {
    pub(super) async fn fetch_waiting(&self, req: &FetchRequest) -> Result<Vec<Delivery>, BrokerError> {
        Ok(self.claim_waiting(req, None).await?.into_iter().map(|c| c.delivery).collect())
    }

    /// Claims like `fetch`; with a `stamp`, each claimed task that may start at once gets
    /// STARTED recorded by the claim script itself (`Claimed::started`).
    pub(crate) async fn claim_waiting(
        &self,
        req: &FetchRequest,
        stamp: Option<&Stamp>,
    ) -> Result<Vec<Claimed>, BrokerError> {
        if req.max == 0 || req.queues.is_empty() {
            return Ok(Vec::new());
        }
        let deadline =
            Instant::now().checked_add(req.wait).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        loop {
            let Rounds { deliveries: mut got, next, now: redis_now, revocations } = self.fetch_once(req, stamp).await?;
            if !got.is_empty() {
                if revocations && let Err(e) = self.fill_revocations(&mut got, redis_now).await {
                    // Claimed is claimed: the tasks are handed out without the global store's
                    // word (it only knows tasks revoked before they were ever queued).
                    tracing::warn!(error = ?e, "revocation store unreadable; delivering without it");
                }
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(got);
            }
            // A millisecond more, so that the due time has surely passed on Redis's clock.
            let wake_at = next.map_or(deadline, |d| (now + d + Duration::from_millis(1)).min(deadline));
            let keys: Vec<String> = req.queues.iter().map(|q| self.keys(q).wake.clone()).collect();
            self.wait_for_wake(keys, wake_at).await?;
        }
    }

    /// Blocks until a wake token arrives on one of `keys` or `until`. One `BLPOP` over all of
    /// them on one node; on a cluster one `BLPOP` per hash slot, all at once, on the nodes
    /// serving them (a cluster refuses a multi-key command across slots): the first to
    /// answer ends the others, which give back any token they popped meanwhile.
    async fn wait_for_wake(&self, keys: Vec<String>, until: Instant) -> Result<(), BrokerError> {
        let groups: Vec<Vec<String>> = if self.redis().pool().is_cluster() {
            let mut by_slot: Vec<(u16, Vec<String>)> = Vec::new();
            for key in keys {
                let slot = goodrobot_redis::key_slot(&key);
                match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                    Some((_, group)) => group.push(key),
                    None => by_slot.push((slot, vec![key])),
                }
            }
            by_slot.into_iter().map(|(_, group)| group).collect()
        } else {
            vec![keys]
        };
        let waits = groups.into_iter().map(|group| {
            let redis = self.redis().clone();
            Box::pin(async move {
                redis
                    .block(
                        group[0].clone(),
                        move |timeout| {
                            let mut cmd = redis::cmd("BLPOP");
                            cmd.arg(group).arg(format!("{timeout:.3}"));
                            cmd
                        },
                        give_back_token,
                        until,
                    )
                    .await
            })
        });
        let (first, _, _others_dropped) = futures::future::select_all(waits).await;
        first?;
        Ok(())
    }

    /// One round over the queues in order until `max` tasks are claimed; also the earliest
    /// time something may change if nothing was claimed.
    async fn fetch_once(&self, req: &FetchRequest, stamp: Option<&Stamp>) -> Result<Rounds, BrokerError> {
        let mut out = Rounds { deliveries: Vec::new(), next: None, now: 0, revocations: false };
        for queue in &req.queues {
            let want = req.max.saturating_sub(out.deliveries.len());
            if want == 0 {
                break;
            }
            let round = match self.claim(queue, want.min(MAX_CLAIM), req.lease, stamp).await {
                Ok(round) => round,
                // What earlier queues gave is claimed already: hand it out, not drop it.
                Err(e) if !out.deliveries.is_empty() => {
                    tracing::warn!(error = %e, %queue, "fetch round failed on a queue; delivering what was claimed");
                    break;
                }
                Err(e) => return Err(e),
            };
            out.deliveries.extend(round.deliveries);
            out.next = match (out.next, round.next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            out.now = out.now.max(round.now);
            out.revocations |= round.revocations;
        }
        Ok(out)
    }

    async fn claim(
        &self,
        queue: &QueueName,
        max: usize,
        lease: Duration,
        stamp: Option<&Stamp>,
    ) -> Result<Round, BrokerError> {
        let k = self.keys(queue);
        let mut cmd = self.scripts().fetch.call(&[
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
            &k.task,
            &k.done,
            &k.revoked,
            &k.revoked_exp,
        ]);
        cmd.arg(max).arg(ms(lease)).arg(self.inner.cfg.max_deliveries).arg(self.inner.cfg.batch.max(1));
        let stamped_at = match stamp {
            Some(s) => {
                let at = s.clock.now();
                cmd.arg("1").arg(s.ttl_ms).arg(&s.worker).arg(crate::codec::json(&at)?);
                Some(at)
            }
            None => {
                cmd.arg("0").arg(0).arg("").arg("");
                None
            }
        };
        let (reply, revocations): (Value, bool) = if self.redis().pool().is_cluster() {
            // The revocation store is in another slot, maybe on a node that is down: it is
            // asked at the same time but on its own, so a failed side read never discards
            // claimed tasks.
            let exists = redis::cmd("EXISTS").arg(&self.inner.revocations.reasons).clone();
            let (reply, revocations) =
                tokio::join!(self.redis().query::<Value>(&cmd), self.redis().query::<bool>(&exists));
            let revocations = revocations.unwrap_or_else(|e| {
                tracing::warn!(error = ?e, "cannot tell whether revocations exist; looking them up");
                true
            });
            (reply?, revocations)
        } else {
            let mut pipe = redis::pipe();
            pipe.add_command(cmd).cmd("EXISTS").arg(&self.inner.revocations.reasons);
            self.redis().pipeline(&pipe).await?
        };
        let items = array(&reply, "fetch")?;
        let [now, next, buried, claimed @ ..] = items else {
            return Err(Failure::Internal(format!("unexpected fetch reply: {reply:?}")).into());
        };
        let now = int(now, "fetch time")?;
        let next = u64::try_from(int(next, "fetch next")?).ok().map(Duration::from_millis);
        for id in array(buried, "fetch dead-lettered")? {
            tracing::warn!(task_id = %text(id, "dead-lettered id")?, %queue, "task dead-lettered: delivery limit exceeded");
        }
        let lease_until = from_epoch_ms(now.saturating_add(i64::try_from(ms(lease)).unwrap_or(i64::MAX)));
        let mut deliveries = Vec::with_capacity(claimed.len() / 6);
        for task in claimed.chunks(6) {
            let [id, fence, attempt, body, started, reason] = task else {
                return Err(Failure::Internal("fetch reply of the wrong length".into()).into());
            };
            let token = LeaseToken {
                task_id: task_id(id, "claimed id")?,
                queue: queue.clone(),
                fence: u64::try_from(int(fence, "fence")?).map_err(|_| Failure::Internal("negative fence".into()))?,
            };
            let attempt = u32::try_from(int(attempt, "attempt")?).unwrap_or(u32::MAX);
            let started_at = if int(started, "started")? == 1 { stamped_at } else { None };
            let reason = text(reason, "revoke reason")?;
            let revoked = (!reason.is_empty()).then(|| reason.to_owned());
            match decode(bytes(body, "stored message")?) {
                Ok(message) => deliveries
                    .push(Claimed { delivery: Delivery { message, attempt, token, lease_until, revoked }, started_at }),
                Err(e) => {
                    // It could never run: dead-letter it at once instead of redelivering it.
                    tracing::error!(task_id = %token.task_id, %queue, error = %e, "unreadable message dead-lettered");
                    self.settle_dead_letter(&token, &TaskFailure::new("InvalidMessage", e)).await?;
                }
            }
        }
        Ok(Round { deliveries, next, now, revocations })
    }

    /// Fills `revoked` of every delivery not marked in its queue from the revocation store
    /// (revoked before it was enqueued), with one round trip for all of them.
    async fn fill_revocations(&self, got: &mut [Claimed], now: i64) -> Result<(), Failure> {
        let ids: Vec<_> = got.iter().filter(|c| c.delivery.revoked.is_none()).map(|c| c.delivery.message.id).collect();
        let reasons = self.revoked_reasons(&ids, Some(now)).await?;
        if !reasons.is_empty() {
            for c in got.iter_mut().filter(|c| c.delivery.revoked.is_none()) {
                c.delivery.revoked = reasons.get(&c.delivery.message.id).cloned();
            }
        }
        Ok(())
    }
}
