//! The real services: adapters over the Redis on this machine under a random key prefix
//! whose keys are deleted (UNLINK) when the guard drops (also when a test fails).

use goodrobot_bootstrap::{Infra, Settings};
use std::collections::HashMap;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A key prefix of this test's own; its keys are deleted on drop.
#[derive(Debug)]
pub struct RedisPrefix {
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new(label: &str) -> Self {
        Self { prefix: format!("gr-monitor-test-{label}-{:016x}", rand::random::<u64>()) }
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
        let mut conn = redis::Client::open(REDIS_URL).unwrap().get_connection().unwrap();
        let mut cursor = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
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
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(REDIS_URL).and_then(|c| c.get_connection()) else { return };
        let keys = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.keys())).unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
        }
    }
}
