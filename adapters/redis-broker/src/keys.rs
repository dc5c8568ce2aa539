//! Key names, built in Rust and handed to scripts as KEYS. All keys of one queue share the
//! hash tag `{q:<queue>}`, and so do the result records of its tasks (`{q:<queue>}:t:<id>`),
//! so every script touches a single hash slot (Redis Cluster) and a task's claim, record
//! and acknowledgement can be one script. A script that handles a batch of tasks builds
//! their record keys from the prefixes it is given (same tag, same slot).

use goodrobot_domain::task::{QueueName, TaskId};

/// Names a key from its parts under the prefix (`RedisPool::key` in production).
pub(crate) trait KeyName {
    fn key(&self, parts: &[&str]) -> String;
}

impl KeyName for goodrobot_redis::RedisPool {
    fn key(&self, parts: &[&str]) -> String {
        goodrobot_redis::RedisPool::key(self, parts)
    }
}

/// The keys of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueKeys {
    /// HASH id → stored message (priority digit + JSON).
    pub msg: String,
    /// ZSET id → priority/sequence score (lowest first).
    pub ready: String,
    /// ZSET id → due time (ms since the epoch, Redis clock).
    pub delayed: String,
    /// ZSET id → lease deadline (ms, Redis clock).
    pub inflight: String,
    /// HASH id → `<fence>:<deliveries>` (fence 0: not held).
    pub claim: String,
    /// HASH `back` / `front` / `fence` counters.
    pub seq: String,
    /// HASH id → `{"failure":…,"message":…}`.
    pub dead: String,
    /// HASH dedup key → id of the task holding it.
    pub dedup: String,
    /// HASH id → the dedup key it holds.
    pub dedup_of: String,
    /// LIST of wake tokens (at most one) that blocked fetches pop.
    pub wake: String,
    /// `<task>` + id: HASH, the task's result record.
    pub task: String,
    /// `<done>` + id: LIST, one token while the record is terminal.
    pub done: String,
    /// HASH id → revoke reason of tasks of this queue revoked while in flight.
    pub revoked: String,
    /// ZSET id → when that mark expires (ms, Redis clock).
    pub revoked_exp: String,
}

impl QueueKeys {
    pub(crate) fn new(pool: &impl KeyName, queue: &QueueName) -> Self {
        let tag = format!("{{q:{queue}}}");
        let k = |part: &str| pool.key(&[&tag, part]);
        Self {
            msg: k("msg"),
            ready: k("ready"),
            delayed: k("delayed"),
            inflight: k("inflight"),
            claim: k("claim"),
            seq: k("seq"),
            dead: k("dead"),
            dedup: k("dedup"),
            dedup_of: k("dedup-of"),
            wake: k("wake"),
            task: k("t:"),
            done: k("d:"),
            revoked: k("revoked"),
            revoked_exp: k("revoked-exp"),
        }
    }

    /// The keys of the result record of task `id` of this queue.
    pub(crate) fn record(&self, id: TaskId) -> TaskKeys {
        TaskKeys { rec: format!("{}{id}", self.task), done: format!("{}{id}", self.done) }
    }

    #[cfg(test)]
    pub(crate) fn all(&self) -> [&str; 14] {
        [
            &self.msg,
            &self.ready,
            &self.delayed,
            &self.inflight,
            &self.claim,
            &self.seq,
            &self.dead,
            &self.dedup,
            &self.dedup_of,
            &self.wake,
            &self.task,
            &self.done,
            &self.revoked,
            &self.revoked_exp,
        ]
    }
}

/// The keys of one task's result, in its queue's slot ([`QueueKeys::record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskKeys {
    /// HASH field → JSON of that field of the record (a null field is absent).
    pub rec: String,
    /// LIST holding one token while the record is terminal (what `wait` blocks on).
    pub done: String,
}

/// The revocation store (one slot of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevocationKeys {
    /// HASH id → reason.
    pub reasons: String,
    /// ZSET id → expiry (ms, Redis clock).
    pub expiry: String,
}

impl RevocationKeys {
    pub(crate) fn new(pool: &impl KeyName) -> Self {
        Self { reasons: pool.key(&["{revoked}", "reasons"]), expiry: pool.key(&["{revoked}", "expiry"]) }
    }
}

/// The set of queue names ever enqueued to (how `revoke` and `replay` find a task's queue).
pub(crate) fn queues_key(pool: &impl KeyName) -> String {
    pool.key(&["queues"])
}

/// The part of `key` Redis Cluster hashes: the text between the first `{` and the next `}`
/// if that is not empty, else the whole key.
#[cfg(test)]
pub(crate) fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `RedisPool::key`'s naming: `<prefix>:<part>:<part>…`.
    struct Prefix(&'static str);

    impl KeyName for Prefix {
        fn key(&self, parts: &[&str]) -> String {
            std::iter::once(self.0).chain(parts.iter().copied()).collect::<Vec<_>>().join(":")
        }
    }

    fn pool(prefix: &'static str) -> Prefix {
        Prefix(prefix)
    }

    #[test]
    fn hash_tag_follows_the_cluster_rule() {
        assert_eq!(hash_tag("p:{q:default}:ready"), "q:default");
        assert_eq!(hash_tag("p:{}:x{y}"), "p:{}:x{y}");
        assert_eq!(hash_tag("plain"), "plain");
        assert_eq!(hash_tag("a{b}{c}"), "b");
    }

    #[test]
    fn every_key_of_a_queue_has_the_queue_tag() {
        let p = pool("test-keys");
        let q = QueueName::new("reports.v2-slow_1").unwrap();
        let keys = QueueKeys::new(&p, &q);
        for k in keys.all() {
            assert_eq!(hash_tag(k), "q:reports.v2-slow_1", "{k}");
            assert!(k.starts_with("test-keys:"), "{k}");
        }
        let distinct: std::collections::HashSet<&str> = keys.all().into_iter().collect();
        assert_eq!(distinct.len(), 14);
    }

    #[test]
    fn a_braced_prefix_still_gives_one_slot_per_queue() {
        for prefix in ["a{b", "a}b", "{x}"] {
            let p = pool(prefix);
            let q = QueueName::new("default").unwrap();
            let keys = QueueKeys::new(&p, &q);
            let tags: std::collections::HashSet<&str> = keys.all().into_iter().map(hash_tag).collect();
            assert_eq!(tags.len(), 1, "prefix {prefix}: {tags:?}");
        }
    }

    #[test]
    fn every_key_of_a_task_result_has_its_queues_tag() {
        let p = pool("test-keys");
        let id = TaskId::generate();
        let q = QueueName::new("reports").unwrap();
        let keys = QueueKeys::new(&p, &q).record(id);
        for k in [&keys.rec, &keys.done] {
            assert_eq!(hash_tag(k), "q:reports", "{k}");
            assert!(k.ends_with(&id.to_string()), "{k}");
        }
        assert_ne!(keys.rec, keys.done);
    }

    #[test]
    fn revocation_keys_share_one_tag() {
        let keys = RevocationKeys::new(&pool("test-keys"));
        assert_eq!(hash_tag(&keys.reasons), hash_tag(&keys.expiry));
    }
}
