//! Redis's own time per script call of each step a task goes through (from INFO
//! commandstats): `cargo run --release -p goodrobot-redis-broker --example script_costs`.

use chrono::Utc;
use goodrobot_domain::task::{QueueName, StateUpdate, TaskId, TaskMessage, TaskRecord, TaskState};
use goodrobot_ports::{Broker, FetchRequest, ResultBackend};
use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig};
use std::time::Duration;

const N: usize = 5000;

fn noop(queue: &QueueName, i: usize) -> TaskMessage {
    TaskMessage {
        id: TaskId::generate(),
        name: "diag.noop".into(),
        args: serde_json::json!({ "x": i }),
        queue: queue.clone(),
        priority: Default::default(),
        eta: None,
        expires: None,
        parent_id: None,
        root_id: None,
        retries: 0,
        max_retries: 3,
        retry_delay_secs: 60,
        soft_time_limit_secs: None,
        time_limit_secs: None,
        dedup_key: None,
        created_at: Utc::now(),
    }
}

async fn stats(conn: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await.unwrap();
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")).unwrap_or("");
    let field = |name: &str| -> u64 {
        line.split([':', ',']).find_map(|kv| kv.strip_prefix(name)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("calls="), field("usec="))
}

macro_rules! cost {
    ($conn:expr, $name:expr, $body:expr) => {{
        let (c0, u0) = stats($conn).await;
        let out = $body;
        let (c1, u1) = stats($conn).await;
        eprintln!(
            "{:>28}: {:>6} calls, {:>6.1} µs per call",
            $name,
            c1 - c0,
            (u1 - u0) as f64 / (c1 - c0).max(1) as f64
        );
        out
    }};
}

#[tokio::main]
async fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("bench-costs:{:016x}", rand::random::<u64>());
    let pool = RedisPool::connect(&RedisConfig::new(url.clone(), prefix.clone())).await.unwrap();
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let results = RedisResults::new(pool.clone(), RedisResultsConfig::default());
    let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let c = &mut conn;
    let q = QueueName::new("costs").unwrap();
    let msgs: Vec<_> = (0..N).map(|i| noop(&q, i)).collect();
    broker.ping().await.unwrap();
    results.ping().await.unwrap();
    cost!(
        c,
        "enqueue (one message)",
        for m in &msgs {
            broker.enqueue(std::slice::from_ref(m)).await.unwrap();
        }
    );
    cost!(
        c,
        "create PENDING",
        for m in &msgs {
            results.create(&TaskRecord::pending(m, Utc::now())).await.unwrap();
        }
    );
    let req = |max| FetchRequest {
        worker_id: "w".into(),
        queues: vec![q.clone()],
        max,
        lease: Duration::from_secs(30),
        wait: Duration::ZERO,
    };
    let mut got = cost!(c, "fetch of 1", {
        let mut v = Vec::new();
        for _ in 0..N / 2 {
            v.extend(broker.fetch(&req(1)).await.unwrap());
        }
        v
    });
    got.extend(cost!(c, "fetch of 16", {
        let mut v = Vec::new();
        for _ in 0..N / 32 {
            v.extend(broker.fetch(&req(16)).await.unwrap());
        }
        v
    }));
    // Half the tasks through `record` (reads the record back), half through `record_applied`.
    let (full, lean) = got.split_at(got.len() / 2);
    let started = |d: &goodrobot_ports::Delivery| {
        let mut u = StateUpdate::new(TaskState::Started, Utc::now());
        u.fence = Some(d.token.fence);
        u.worker = Some("w".into());
        u.attempt = Some(d.attempt);
        u
    };
    let success = |d: &goodrobot_ports::Delivery| {
        let mut u = StateUpdate::new(TaskState::Success, Utc::now());
        u.fence = Some(d.token.fence);
        u.result = Some(serde_json::json!(1));
        u
    };
    cost!(
        c,
        "record STARTED",
        for d in full {
            results.record(&d.message, &started(d)).await.unwrap();
        }
    );
    cost!(
        c,
        "record SUCCESS",
        for d in full {
            results.record(&d.message, &success(d)).await.unwrap();
        }
    );
    cost!(
        c,
        "record_applied STARTED",
        for d in lean {
            assert!(results.record_applied(&d.message, &started(d)).await.unwrap());
        }
    );
    cost!(
        c,
        "record_applied SUCCESS",
        for d in lean {
            assert!(results.record_applied(&d.message, &success(d)).await.unwrap());
        }
    );
    cost!(
        c,
        "renew (one token)",
        for d in got.iter().take(1000) {
            broker.renew(std::slice::from_ref(&d.token), Duration::from_secs(30)).await.unwrap();
        }
    );
    cost!(
        c,
        "ack",
        for d in &got {
            broker.ack(&d.token).await.unwrap();
        }
    );

    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(c).await.unwrap();
    for chunk in keys.chunks(1000) {
        redis::cmd("UNLINK").arg(chunk).query_async::<()>(c).await.unwrap();
    }
}
