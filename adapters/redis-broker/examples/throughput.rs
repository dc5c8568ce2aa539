//! The adapter's own figures against `REDIS_URL` (default the local Redis), under a random
//! key prefix deleted at the end: `cargo run --release -p goodrobot-redis-broker --example
//! throughput [N]`.
//!
//! 1. single enqueue, one call at a time, and 64 calls at a time;
//! 2. bulk enqueue in calls of 1,000;
//! 3. processing like a worker of concurrency 64: fetch up to the free slots, then per task
//!    STARTED, SUCCESS (results stored, fenced) and ack;
//! 4. enqueue → delivery latency with an idle fetch waiting.

use chrono::Utc;
use goodrobot_domain::task::{QueueName, StateUpdate, TaskId, TaskMessage, TaskRecord, TaskState};
use goodrobot_ports::{Broker, FetchRequest, ResultBackend};
use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;

const CONC: usize = 64;

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

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn single_sequential(broker: &RedisBroker, q: &QueueName, n: usize) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        broker.enqueue(&[noop(q, i)]).await.unwrap();
    }
    rate(n, t.elapsed())
}

async fn single_concurrent(broker: &RedisBroker, q: &QueueName, n: usize) -> f64 {
    let t = Instant::now();
    let callers: Vec<_> = (0..CONC)
        .map(|c| {
            let (broker, q) = (broker.clone(), q.clone());
            tokio::spawn(async move {
                for i in (c..n).step_by(CONC) {
                    broker.enqueue(&[noop(&q, i)]).await.unwrap();
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
    rate(n, t.elapsed())
}

async fn bulk(broker: &RedisBroker, q: &QueueName, n: usize) -> (f64, Vec<TaskMessage>) {
    let msgs: Vec<_> = (0..n).map(|i| noop(q, i)).collect();
    let t = Instant::now();
    for chunk in msgs.chunks(1000) {
        broker.enqueue(chunk).await.unwrap();
    }
    (rate(n, t.elapsed()), msgs)
}

/// The PENDING records a producer writes (not timed).
async fn pending_records(results: &RedisResults, msgs: Vec<TaskMessage>) {
    let msgs = Arc::new(msgs);
    let writers: Vec<_> = (0..CONC)
        .map(|c| {
            let (results, msgs) = (results.clone(), msgs.clone());
            tokio::spawn(async move {
                for m in msgs.iter().skip(c).step_by(CONC) {
                    results.create(&TaskRecord::pending(m, Utc::now())).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
}

/// Drains `q` like a worker; returns tasks/s.
async fn process(broker: &RedisBroker, results: &RedisResults, q: &QueueName, n: usize) -> f64 {
    let slots = Arc::new(Semaphore::new(CONC));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut jobs = tokio::task::JoinSet::new();
    while done.load(std::sync::atomic::Ordering::Relaxed) < n {
        let mut permits = vec![slots.clone().acquire_owned().await.unwrap()];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let req = FetchRequest {
            worker_id: "bench".into(),
            queues: vec![q.clone()],
            max: permits.len(),
            lease: Duration::from_secs(30),
            wait: Duration::from_millis(200),
        };
        for d in broker.fetch(&req).await.unwrap() {
            let permit = permits.pop().unwrap();
            let (broker, results, done) = (broker.clone(), results.clone(), done.clone());
            jobs.spawn(async move {
                let mut u = StateUpdate::new(TaskState::Started, Utc::now());
                u.worker = Some("bench".into());
                u.fence = Some(d.token.fence);
                u.attempt = Some(d.attempt);
                results.record(&d.message, &u).await.unwrap();
                let mut s = StateUpdate::new(TaskState::Success, Utc::now());
                s.fence = Some(d.token.fence);
                s.result = d.message.args.get("x").cloned();
                results.record(&d.message, &s).await.unwrap();
                broker.ack(&d.token).await.unwrap();
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(permit);
            });
        }
        while jobs.try_join_next().is_some() {}
    }
    rate(n, t.elapsed())
}

async fn latency(broker: &RedisBroker, q: &QueueName, n: usize) -> (f64, f64) {
    let waiter = broker.clone();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let req = FetchRequest {
            worker_id: "bench".into(),
            queues: vec![q.clone()],
            max: 1,
            lease: Duration::from_secs(30),
            wait: Duration::from_secs(5),
        };
        let w = waiter.clone();
        let fetch = tokio::spawn(async move { w.fetch(&req).await.unwrap() });
        // Let the fetch block first (an idle worker).
        tokio::time::sleep(Duration::from_millis(2)).await;
        let t = Instant::now();
        broker.enqueue(&[noop(q, i)]).await.unwrap();
        let got = fetch.await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        broker.ack(&got[0].token).await.unwrap();
    }
    lat.sort_by(f64::total_cmp);
    (lat[n / 2], lat[n * 99 / 100])
}

/// Redis's count and total µs of EVALSHA calls so far (to see the scripts' server cost).
async fn evalsha_stats(conn: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await.unwrap();
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")).unwrap_or("");
    let field = |name: &str| -> u64 {
        line.split([':', ',']).find_map(|kv| kv.strip_prefix(name)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("calls="), field("usec="))
}

/// Prints the server cost of the scripts run by `phase` (per task of `n`).
async fn server_cost<T>(
    conn: &mut redis::aio::MultiplexedConnection,
    name: &str,
    n: usize,
    phase: impl Future<Output = T>,
) -> T {
    let (c0, u0) = evalsha_stats(conn).await;
    let t = Instant::now();
    let out = phase.await;
    let wall = t.elapsed();
    let (c1, u1) = evalsha_stats(conn).await;
    eprintln!(
        "{name}: {} script calls, {:.1} µs each, {:.1} µs of scripts per task, Redis busy with scripts {:.0}% of {:.2} s",
        c1 - c0,
        (u1 - u0) as f64 / (c1 - c0).max(1) as f64,
        (u1 - u0) as f64 / n as f64,
        (u1 - u0) as f64 / 1e4 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    out
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("bench-broker:{:016x}", rand::random::<u64>());
    let pool = RedisPool::connect(&RedisConfig::new(url.clone(), prefix.clone())).await.unwrap();
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let results = RedisResults::new(pool.clone(), RedisResultsConfig::default());
    let q = QueueName::new("bench").unwrap();

    let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let c = &mut conn;
    let seq =
        server_cost(c, "single", 5_000, single_sequential(&broker, &QueueName::new("single").unwrap(), 5_000)).await;
    let conc = server_cost(
        c,
        "single x64",
        20_000,
        single_concurrent(&broker, &QueueName::new("single-conc").unwrap(), 20_000),
    )
    .await;
    let (bulk_rate, msgs) = server_cost(c, "bulk", n, bulk(&broker, &q, n)).await;
    server_cost(c, "pending records", n, pending_records(&results, msgs)).await;
    let processed = server_cost(c, "process", n, process(&broker, &results, &q, n)).await;
    let (p50, p99) = latency(&broker, &QueueName::new("latency").unwrap(), 2_000).await;
    println!(
        "{}",
        serde_json::json!({
            "n": n,
            "enqueue_single_sequential_per_s": seq.round(),
            "enqueue_single_64_concurrent_per_s": conc.round(),
            "bulk_enqueue_per_s": bulk_rate.round(),
            "process_per_s": processed.round(),
            "latency_p50_ms": (p50 * 1000.0).round() / 1000.0,
            "latency_p99_ms": (p99 * 1000.0).round() / 1000.0,
        })
    );

    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("UNLINK").arg(keys).query_async::<()>(&mut conn).await.unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}
