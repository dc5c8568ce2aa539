//! `goodrobot-bench [N]`: the task queue's figures against `REDIS_URL`, one JSON line last.
//!
//! Phases (each with its own random key prefix, deleted at the end), mirroring the peers'
//! benchmarks in `../shared/peers`:
//! 1. single enqueue: N/2 `diag.noop` tasks, one `TaskService::submit` awaited at a time;
//! 2. bulk enqueue: N tasks with `submit_many` in chunks of 1000;
//! 3. processing: one worker (concurrency `CONC`, default 64) drains the N bulk tasks, results
//!    stored; the clock runs from the first to the last completion (boot excluded);
//! 4. latency: `LAT_N` tasks (default 2000) sent one at a time to an idle worker, each after
//!    the previous finished; latency = started_at − created_at of the task's record;
//! 5. backlog: processing rate of the first `BACKLOG_SAMPLE` tasks (default 20000) with 2,000
//!    and with `BACKLOG_BIG` (default 1,000,000) tasks waiting.

use anyhow::{Context, bail};
use goodrobot_bootstrap::{Backend, Infra, Settings};
use goodrobot_domain::task::{QueueName, TaskState};
use goodrobot_ports::services::{TaskPolicy, TaskRequest, TaskService};
use goodrobot_worker::{Worker, WorkerConfig, WorkerDeps};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

fn env_num(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name} must be a positive integer")),
        Err(_) => Ok(default),
    }
}

struct Bench {
    settings: Settings,
    conc: usize,
}

struct Run {
    infra: Infra,
    tasks: TaskService,
}

fn noop(i: usize) -> TaskRequest {
    TaskRequest {
        name: "diag.noop".into(),
        kwargs: json!({ "x": i }).as_object().cloned().unwrap_or_default(),
        ..Default::default()
    }
}

impl Bench {
    async fn run_env(&self, tag: &str) -> anyhow::Result<Run> {
        let mut s = self.settings.clone();
        s.redis_prefix = format!("{}-{tag}", s.redis_prefix);
        let infra = Infra::from_settings(&s).await?;
        if infra.tasks != Backend::Redis {
            bail!("goodrobot-bench needs REDIS_URL");
        }
        let tasks =
            TaskService::new(infra.broker.clone(), infra.results.clone(), infra.clock.clone(), TaskPolicy::default())
                .with_events(infra.events.clone());
        Ok(Run { infra, tasks })
    }

    fn worker(&self, run: &Run, conc: usize) -> Worker {
        let deps = WorkerDeps::from_infra(&run.infra);
        let config = WorkerConfig {
            concurrency: conc,
            queues: vec![QueueName::default_queue()],
            lease: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            worker_id: None,
        };
        Worker::new(config, deps)
    }

    async fn bulk(&self, run: &Run, n: usize) -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut i = 0;
        while i < n {
            let chunk: Vec<TaskRequest> = (i..(i + 1000).min(n)).map(noop).collect();
            run.tasks.submit_many(&chunk).await?;
            i += chunk.len();
        }
        Ok(n as f64 / t.elapsed().as_secs_f64())
    }

    /// Starts a worker over what is queued and measures `count` completions.
    async fn drain(&self, run: &Run, count: usize) -> anyhow::Result<f64> {
        let worker = self.worker(run, self.conc);
        let counters = worker.counters();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.run(stop.clone()));
        let mut first = None;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let done = counters.succeeded.load(Ordering::Relaxed) as usize;
            if done >= 1 && first.is_none() {
                first = Some((Instant::now(), done));
            }
            if done >= count {
                break;
            }
            if Instant::now() > deadline {
                bail!("drain stalled at {done}/{count}");
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let end = Instant::now();
        stop.cancel();
        handle.await??;
        let (t0, n0) = first.unwrap_or((end, 0));
        Ok((count - n0) as f64 / (end - t0).as_secs_f64().max(1e-9))
    }

    async fn latency(&self, run: &Run, n: usize) -> anyhow::Result<(f64, f64)> {
        let worker = self.worker(run, 1);
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.run(stop.clone()));
        let mut lat = Vec::with_capacity(n);
        for i in 0..n {
            let id = run.tasks.submit(&noop(i)).await?.task_id;
            let r = run.tasks.wait(id, Duration::from_secs(30)).await?;
            if r.state != TaskState::Success {
                bail!("latency task {id} ended {:?}", r.state);
            }
            let started = r.started_at.context("no started_at")?;
            lat.push((started - r.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
        stop.cancel();
        handle.await??;
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| lat[((p / 100.0 * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
        Ok((pct(50.0), pct(99.0)))
    }

    async fn cleanup(&self, tag: &str) -> anyhow::Result<()> {
        let url = self.settings.redis_url.clone().context("REDIS_URL")?;
        let client = redis::Client::open(url)?;
        let mut c = client.get_multiplexed_async_connection().await?;
        let pattern = format!("{}-{tag}*", self.settings.redis_prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut c)
                .await?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK").arg(&keys).query_async(&mut c).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().context("usage: goodrobot-bench [N]")?,
        None => 20_000,
    };
    let mut settings = Settings::from_env()?;
    if settings.redis_url.is_none() {
        settings.redis_url = Some("redis://127.0.0.1:6379".into());
    }
    settings.redis_prefix = format!("grbench-{:08x}", rand::random::<u32>());
    settings.redis_pool_size = settings.redis_pool_size.max(32);
    let bench = Bench { settings, conc: env_num("CONC", 64)? };
    let lat_n = env_num("LAT_N", 2000)?;
    let sample = env_num("BACKLOG_SAMPLE", 20_000)?;
    let big = env_num("BACKLOG_BIG", 1_000_000)?;
    let mut figures: HashMap<String, serde_json::Value> = HashMap::new();

    let result = async {
        // 1. single enqueue
        let run = bench.run_env("single").await?;
        let t = Instant::now();
        for i in 0..n / 2 {
            run.tasks.submit(&noop(i)).await?;
        }
        let single = (n / 2) as f64 / t.elapsed().as_secs_f64();
        eprintln!("single enqueue: {:.0}/s", single);
        bench.cleanup("single").await?;

        // 2 + 3. bulk enqueue, then drain
        let run = bench.run_env("bulk").await?;
        let bulk = bench.bulk(&run, n).await?;
        eprintln!("bulk enqueue: {:.0}/s", bulk);
        let process = bench.drain(&run, n).await?;
        eprintln!("processing (conc {}): {:.0}/s", bench.conc, process);
        bench.cleanup("bulk").await?;

        // 4. latency on an idle worker
        let run = bench.run_env("lat").await?;
        let (p50, p99) = bench.latency(&run, lat_n).await?;
        eprintln!("latency p50 {p50:.3} ms, p99 {p99:.3} ms");
        bench.cleanup("lat").await?;

        // 5. backlog
        let mut backlog = serde_json::Map::new();
        for (tag, waiting) in [("bl-small", 2_000usize), ("bl-big", big)] {
            if waiting == 0 {
                continue;
            }
            let run = bench.run_env(tag).await?;
            bench.bulk(&run, waiting.max(sample)).await?;
            let rate = bench.drain(&run, sample.min(waiting.max(sample))).await?;
            eprintln!("processing with {waiting} waiting: {rate:.0}/s");
            backlog.insert(format!("process_per_s_backlog_{waiting}"), json!(rate.round()));
            bench.cleanup(tag).await?;
        }

        figures.insert(String::from("enqueue_per_s"), json!(single.round()));
        figures.insert(String::from("bulk_enqueue_per_s"), json!(bulk.round()));
        figures.insert(String::from("process_per_s"), json!(process.round()));
        figures.insert(String::from("latency_p50_ms"), json!((p50 * 1000.0).round() / 1000.0));
        figures.insert(String::from("latency_p99_ms"), json!((p99 * 1000.0).round() / 1000.0));
        figures.extend(backlog);
        anyhow::Ok(())
    }
    .await;
    for tag in ["single", "bulk", "lat", "bl-small", "bl-big"] {
        let _ = bench.cleanup(tag).await;
    }
    result?;
    let mut out = serde_json::Map::new();
    out.insert("system".into(), json!("goodrobot"));
    out.insert("n".into(), json!(n));
    out.insert("concurrency".into(), json!(bench.conc));
    out.insert("latency_n".into(), json!(lat_n));
    out.extend(figures);
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
