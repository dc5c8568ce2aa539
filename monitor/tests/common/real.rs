//! The real services: adapters over the Redis on this machine (or the test process's local
//! Redis Cluster) under a random key prefix whose keys are deleted (UNLINK) when the guard
//! drops (also when a test fails).

use goodrobot_bootstrap::{Infra, Settings};
use goodrobot_testkit::redis_cluster::RedisCluster;
use std::collections::HashMap;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The Redis a test runs on: this machine's single node, or the test process's shared local
/// Redis Cluster (3 masters + 3 replicas; the binaries find out it is one with `INFO cluster`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redis {
    Node,
    Cluster,
}

impl Redis {
    /// `REDIS_URL` for the processes (on the cluster: the masters' seed list).
    pub fn url(self) -> String {
        match self {
            Redis::Node => REDIS_URL.to_owned(),
            Redis::Cluster => RedisCluster::shared().url(),
        }
    }

    /// One URL per node that holds keys (the node; every master of the cluster).
    pub fn key_holders(self) -> Vec<String> {
        match self {
            Redis::Node => vec![REDIS_URL.to_owned()],
            Redis::Cluster => {
                RedisCluster::shared().masters().iter().map(|m| format!("redis://127.0.0.1:{}", m.port)).collect()
            }
        }
    }
}

/// A key prefix of this test's own on `redis`; its keys (on every node) are deleted on drop.
#[derive(Debug)]
pub struct PrefixOn {
    pub prefix: String,
    pub redis: Redis,
}

impl PrefixOn {
    pub fn new(label: &str, redis: Redis) -> Self {
        Self { prefix: new_prefix(label), redis }
    }
}

impl Drop for PrefixOn {
    fn drop(&mut self) {
        let redis = self.redis;
        for node in std::panic::catch_unwind(move || redis.key_holders()).unwrap_or_default() {
            unlink_under(&node, &self.prefix);
        }
    }
}

/// A random key prefix for a test.
fn new_prefix(label: &str) -> String {
    format!("gr-monitor-test-{label}-{:016x}", rand::random::<u64>())
}

/// Keys under `prefix` on the node at `url` (a cluster node lists only its own).
fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut cursor = 0u64;
    let mut out = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
            .unwrap();
        out.extend(batch);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// Unlinks the keys under `prefix` on the node at `url`, one command per key (on a cluster
/// keys of several slots may not share a command); never panics.
fn unlink_under(url: &str, prefix: &str) {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else { return };
    let keys = std::panic::catch_unwind(|| keys_under(url, prefix)).unwrap_or_default();
    for chunk in keys.chunks(500) {
        let mut unlink = redis::pipe();
        for key in chunk {
            unlink.cmd("UNLINK").arg(key).ignore();
        }
        let _: redis::RedisResult<()> = unlink.query(&mut conn);
    }
}

/// A key prefix of this test's own; its keys are deleted on drop.
#[derive(Debug)]
pub struct RedisPrefix {
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new(label: &str) -> Self {
        Self { prefix: new_prefix(label) }
    }

    /// The settings of a process using this prefix (memory repositories, Redis for the rest).
    pub fn settings(&self) -> Settings {
        let env = HashMap::from([
            ("REDIS_URL".to_owned(), REDIS_URL.to_owned()),
            ("REDIS_PREFIX".to_owned(), self.prefix.clone()),
        ]);
        Settings::from_map(&env).unwrap()
    }

    /// Fresh adapters over this prefix (what a restarted process builds).
    pub async fn infra(&self) -> Infra {
        Infra::from_settings(&self.settings()).await.expect("Redis at 127.0.0.1:6379")
    }

    /// Keys under the prefix.
    pub fn keys(&self) -> Vec<String> {
        keys_under(REDIS_URL, &self.prefix)
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        unlink_under(REDIS_URL, &self.prefix);
    }
}
