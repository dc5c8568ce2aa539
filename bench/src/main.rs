//! `goodrobot-bench [N]`: the task queue's figures against `REDIS_URL`, one JSON line last.
//!
//! `REDIS_URL` is one node or a Redis Cluster's comma-separated seed list (read by
//! `goodrobot_bootstrap::Settings` as the binaries read it; `REDIS_WAIT_REPLICAS` /
//! `REDIS_WAIT_TIMEOUT_MS` turn on durable enqueue). `QUEUES` (comma-separated, default
//! `default`): the tasks of every phase are spread round-robin over these queues and the
//! worker consumes all of them (in the order given, as a worker does).
//!
//! Phases (each with its own random key prefix, deleted at the end), mirroring the peers'
//! benchmarks in `../shared/peers`:
//! 1. single enqueue: N/2 `diag.noop` tasks, one `TaskService::submit` awaited at a time;
//! 2. bulk enqueue: N tasks with `submit_many` in chunks of 1000;
//! 3. processing: one worker (concurrency `CONC`, default 64) drains the N bulk tasks, results
//!    stored; the clock runs from the first to the last completion (boot excluded);
//! 4. latency: `LAT_N` tasks (default 2000; 0 skips) sent one at a time to an idle worker,
//!    each after the previous finished; latency = started_at − created_at of the task's record;
//! 5. backlog: processing rate of the first `BACKLOG_SAMPLE` tasks (default 20000; 0 skips the
//!    phase) with 2,000 and with `BACKLOG_BIG` (default 1,000,000; 0 skips) tasks waiting.
//!
//! Redis's own time, per node (every master of a cluster, or the one node): phases 1–3 are
//! each a window opened by `CONFIG RESETSTAT` on every master and closed by reading `INFO
//! commandstats` and `INFO cpu` of every master (so the worker's boot and shutdown and
//! anything else that node served meanwhile are in it). Per processed (or enqueued) task:
//! - `*_redis_cpu_us_per_task[_by_node]`: CPU time of Redis's main thread (user + sys, the
//!   `used_cpu_*_main_thread` delta): commands, protocol parsing, socket I/O and, on a
//!   cluster, feeding the replicas — what bounds one node's throughput;
//! - `redis_us_per_task[_by_node]` (processing only): command time from `INFO commandstats`:
//!   `EVALSHA` (whose time includes the commands its scripts call) plus every command the
//!   processing scripts never call (`XADD`, `EXISTS`, `BLPOP`, …). The commands the scripts
//!   call (`HSET`, `ZADD`, … in [`SCRIPT_INNER`]) are listed in `redis_cmd_us_per_task` but
//!   not added again (Redis counts a script's inner calls under their own names too);
//! - `redis_evalsha_us_per_task_by_node`: `EVALSHA` alone;
//! - `*bench_cpu_us_per_task`: CPU time of this process (worker, producer, Redis clients;
//!   `/proc/self/stat`, 10 ms ticks) in the same window.

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use goodrobot_bootstrap::{Backend, Infra, Settings};
use goodrobot_domain::task::{QueueName, TaskState};
use goodrobot_ports::services::{TaskOptions, TaskPolicy, TaskRequest, TaskService};
use goodrobot_redis::{RedisConfig, RedisPool, key_slot};
use goodrobot_worker::{Worker, WorkerConfig, WorkerDeps};
use serde_json::json;
use std::{
    collections::{BTreeMap, HashMap},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// Commands that the scripts of the processing path (`prelude`, `fetch`, `result_apply`,
/// `ack`) call: their time is already inside `EVALSHA`'s.
const SCRIPT_INNER: &[&str] = &[
    "del",
    "hdel",
    "hget",
    "hgetall",
    "hincrby",
    "hmget",
    "hset",
    "llen",
    "lpush",
    "pexpire",
    "rpush",
    "time",
    "zadd",
    "zcard",
    "zpopmin",
    "zrange",
    "zrangebyscore",
    "zrem",
];

fn env_num(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name} must be a positive integer")),
        Err(_) => Ok(default),
    }
}

/// One master (`None`: the only node) and how it is named in the figures.
#[derive(Clone)]
struct Node {
    addr: Option<(String, u16)>,
    label: String,
}

/// What one node's `INFO` said at the end of a window.
struct NodeStats {
    label: String,
    /// command → (calls, µs), since the window's `CONFIG RESETSTAT`.
    commands: BTreeMap<String, (u64, u64)>,
    /// Main thread CPU µs during the window.
    cpu_us: f64,
}

/// An open stats window: every master's main-thread CPU time at its start, and this
/// process's.
struct Window {
    nodes: Vec<Node>,
    cpu0: Vec<f64>,
    own0: Option<f64>,
}

/// This process's CPU seconds (user + sys, all threads) from `/proc/self/stat`, in clock
/// ticks of 10 ms (`CLK_TCK` = 100 on Linux); `None` elsewhere.
fn own_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct Bench {
    settings: Settings,
    conc: usize,
    queues: Vec<QueueName>,
    /// For the bench's own reads and clean-up (the phases each build their own `Infra`).
    admin: RedisPool,
}

struct Run {
    infra: Infra,
    tasks: TaskService,
}

fn noop(queues: &[QueueName], i: usize) -> TaskRequest {
    TaskRequest {
        name: "diag.noop".into(),
        kwargs: json!({ "x": i }).as_object().cloned().unwrap_or_default(),
        options: TaskOptions { queue: Some(queues[i % queues.len()].to_string()), ..Default::default() },
        ..Default::default()
    }
}

/// `cmdstat_<name>:calls=…,usec=…,…` lines of `INFO commandstats`.
fn parse_commandstats(info: &str) -> BTreeMap<String, (u64, u64)> {
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |f: &str| rest.split(',').find_map(|kv| kv.strip_prefix(f)?.strip_prefix('=')?.parse().ok());
            Some((name.to_owned(), (field("calls")?, field("usec")?)))
        })
        .collect()
}

/// Main-thread CPU seconds (user + sys) from `INFO cpu`.
fn parse_main_thread_cpu(info: &str) -> anyhow::Result<f64> {
    let field = |f: &str| -> anyhow::Result<f64> {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(f)?.strip_prefix(':')?.parse().ok())
            .with_context(|| format!("INFO cpu has no {f}"))
    };
    Ok(field("used_cpu_user_main_thread")? + field("used_cpu_sys_main_thread")?)
}

/// A master of `CLUSTER NODES` and the slot ranges it serves.
struct Master {
    addr: String,
    slots: Vec<(u16, u16)>,
}

/// The live masters of `CLUSTER NODES`.
fn parse_cluster_nodes(text: &str) -> Vec<Master> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || !f[2].split(',').any(|flag| flag == "master") || f[2].contains("fail") {
                return None;
            }
            let addr = f[1].split(['@', ',']).next()?;
            let slots = f[8..]
                .iter()
                .filter(|r| !r.starts_with('['))
                .filter_map(|r| match r.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => r.parse().ok().map(|s| (s, s)),
                })
                .collect();
            Some(Master { addr: addr.to_owned(), slots })
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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
        // As the API submits: one round trip per task.
        let tasks = match &infra.submit_store {
            Some(store) => tasks.with_submit_store(store.clone()),
            None => tasks,
        };
        Ok(Run { infra, tasks })
    }

    fn worker(&self, run: &Run, conc: usize) -> Worker {
        let deps = WorkerDeps::from_infra(&run.infra);
        let config = WorkerConfig {
            concurrency: conc,
            queues: self.queues.clone(),
            lease: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            worker_id: None,
        };
        Worker::new(config, deps)
    }

    /// Every master now (the one node: one entry without an address).
    async fn nodes(&self) -> anyhow::Result<Vec<Node>> {
        let masters = self.admin.masters().await.map_err(|e| anyhow::anyhow!("listing the masters: {e}"))?;
        if masters.is_empty() {
            return Ok(vec![Node { addr: None, label: "single".into() }]);
        }
        Ok(masters.into_iter().map(|(h, p)| Node { label: format!("{h}:{p}"), addr: Some((h, p)) }).collect())
    }

    async fn info(&self, node: &Node, section: &str) -> anyhow::Result<String> {
        Ok(self.admin.on_node(node.addr.as_ref(), redis::cmd("INFO").arg(section)).await?)
    }

    /// `CONFIG RESETSTAT` on every master and their CPU time now.
    async fn open_window(&self) -> anyhow::Result<Window> {
        let nodes = self.nodes().await?;
        let mut cpu0 = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let () = self.admin.on_node(node.addr.as_ref(), redis::cmd("CONFIG").arg("RESETSTAT")).await?;
            cpu0.push(parse_main_thread_cpu(&self.info(node, "cpu").await?)?);
        }
        Ok(Window { nodes, cpu0, own0: own_cpu_secs() })
    }

    /// The nodes' figures since the window opened, and this process's CPU µs.
    async fn close_window(&self, w: Window) -> anyhow::Result<(Vec<NodeStats>, Option<f64>)> {
        let own = w.own0.zip(own_cpu_secs()).map(|(a, b)| (b - a) * 1e6);
        let mut out = Vec::with_capacity(w.nodes.len());
        for (node, cpu0) in w.nodes.into_iter().zip(w.cpu0) {
            let cpu1 = parse_main_thread_cpu(&self.info(&node, "cpu").await?)?;
            let commands = parse_commandstats(&self.info(&node, "commandstats").await?);
            out.push(NodeStats { label: node.label, commands, cpu_us: (cpu1 - cpu0) * 1e6 });
        }
        Ok((out, own))
    }

    /// Where each queue's keys live: `{queue: "host:port (slot S)"}`; warns when two queues
    /// share a master (their load would not spread).
    async fn queue_nodes(&self) -> anyhow::Result<serde_json::Value> {
        let nodes = self.nodes().await?;
        let mut out = serde_json::Map::new();
        let Some(first) = nodes.first().filter(|n| n.addr.is_some()) else {
            for q in &self.queues {
                out.insert(q.to_string(), json!(format!("single (slot {})", key_slot(format!("{{q:{q}}}")))));
            }
            return Ok(out.into());
        };
        let text: String = self.admin.on_node(first.addr.as_ref(), redis::cmd("CLUSTER").arg("NODES")).await?;
        let masters = parse_cluster_nodes(&text);
        let mut seen: HashMap<String, &QueueName> = HashMap::new();
        for q in &self.queues {
            let slot = key_slot(format!("{{q:{q}}}"));
            let owner = masters
                .iter()
                .find(|m| m.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
                .map_or_else(|| "?".to_owned(), |m| m.addr.clone());
            if let Some(other) = seen.insert(owner.clone(), q) {
                eprintln!("warning: queues {other} and {q} are both on {owner}");
            }
            out.insert(q.to_string(), json!(format!("{owner} (slot {slot})")));
        }
        Ok(out.into())
    }

    async fn bulk(&self, run: &Run, n: usize) -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut i = 0;
        while i < n {
            let chunk: Vec<TaskRequest> = (i..(i + 1000).min(n)).map(|i| noop(&self.queues, i)).collect();
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
            let id = run.tasks.submit(&noop(&self.queues, i)).await?.task_id;
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

    /// Deletes every key of the phase `tag`: `SCAN` on every master, `UNLINK` per hash slot
    /// (a cluster node refuses a multi-key command across slots).
    async fn cleanup(&self, tag: &str) -> anyhow::Result<()> {
        let pattern = format!("{}-{tag}*", self.settings.redis_prefix);
        for node in self.nodes().await? {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = self
                    .admin
                    .on_node(
                        node.addr.as_ref(),
                        redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(10_000),
                    )
                    .await?;
                let groups: Vec<Vec<String>> = if node.addr.is_none() {
                    if keys.is_empty() { Vec::new() } else { vec![keys] }
                } else {
                    let mut by_slot: HashMap<u16, Vec<String>> = HashMap::new();
                    for k in keys {
                        by_slot.entry(key_slot(&k)).or_default().push(k);
                    }
                    by_slot.into_values().collect()
                };
                futures::stream::iter(groups)
                    .map(|keys| {
                        let node = &node;
                        async move { self.admin.on_node::<()>(node.addr.as_ref(), redis::cmd("UNLINK").arg(keys)).await }
                    })
                    .buffer_unordered(64)
                    .try_collect::<Vec<()>>()
                    .await?;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// Per-task figures of a stats window: CPU by node and of this process (the worker, the
/// producer and the drivers), and (`commands`) command time.
fn per_task(
    (stats, own_cpu_us): &(Vec<NodeStats>, Option<f64>),
    tasks: usize,
    commands: bool,
    prefix: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let n = tasks.max(1) as f64;
    let mut out = serde_json::Map::new();
    if let Some(us) = own_cpu_us {
        out.insert(format!("{prefix}bench_cpu_us_per_task"), json!(round3(us / n)));
    }
    let cpu: serde_json::Map<_, _> = stats.iter().map(|s| (s.label.clone(), json!(round3(s.cpu_us / n)))).collect();
    out.insert(
        format!("{prefix}redis_cpu_us_per_task"),
        json!(round3(stats.iter().map(|s| s.cpu_us).sum::<f64>() / n)),
    );
    out.insert(format!("{prefix}redis_cpu_us_per_task_by_node"), cpu.into());
    if !commands {
        return out;
    }
    let mut by_node = serde_json::Map::new();
    let mut evalsha_by_node = serde_json::Map::new();
    let mut by_cmd: BTreeMap<String, f64> = BTreeMap::new();
    let mut calls = 0u64;
    let mut total = 0.0;
    for s in stats {
        let mut node_us = 0u64;
        for (cmd, &(c, us)) in &s.commands {
            *by_cmd.entry(cmd.clone()).or_default() += us as f64 / n;
            if cmd.starts_with("config") || cmd == "info" {
                continue; // the bench's own reads
            }
            if !SCRIPT_INNER.contains(&cmd.as_str()) {
                node_us += us;
                calls += c;
            }
        }
        let evalsha = s.commands.get("evalsha").map_or(0, |&(_, us)| us);
        by_node.insert(s.label.clone(), json!(round3(node_us as f64 / n)));
        evalsha_by_node.insert(s.label.clone(), json!(round3(evalsha as f64 / n)));
        total += node_us as f64 / n;
    }
    out.insert("redis_us_per_task".into(), json!(round3(total)));
    out.insert("redis_us_per_task_by_node".into(), by_node.into());
    out.insert("redis_evalsha_us_per_task_by_node".into(), evalsha_by_node.into());
    out.insert("redis_calls_per_task".into(), json!(round3(calls as f64 / n)));
    let by_cmd: serde_json::Map<_, _> = by_cmd.into_iter().map(|(k, v)| (k, json!(round3(v)))).collect();
    out.insert("redis_cmd_us_per_task".into(), by_cmd.into());
    out
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
    let queues = std::env::var("QUEUES")
        .unwrap_or_else(|_| "default".into())
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(QueueName::new)
        .collect::<Result<Vec<_>, _>>()
        .context("QUEUES")?;
    if queues.is_empty() {
        bail!("QUEUES names no queue");
    }
    let admin = RedisPool::connect(&RedisConfig {
        url: settings.redis_url.clone().unwrap_or_default(),
        prefix: settings.redis_prefix.clone(),
        pool_size: 4,
        connect_timeout: settings.redis_connect_timeout,
        cluster: settings.redis_cluster,
    })
    .await
    .context("connecting to REDIS_URL")?;
    let bench = Bench { settings, conc: env_num("CONC", 64)?, queues, admin };
    let lat_n = env_num("LAT_N", 2000)?;
    let sample = env_num("BACKLOG_SAMPLE", 20_000)?;
    let big = env_num("BACKLOG_BIG", 1_000_000)?;
    let mut figures = serde_json::Map::new();

    let result = async {
        figures.insert("queue_nodes".into(), bench.queue_nodes().await?);

        // 1. single enqueue
        let run = bench.run_env("single").await?;
        let window = bench.open_window().await?;
        let t = Instant::now();
        for i in 0..n / 2 {
            run.tasks.submit(&noop(&bench.queues, i)).await?;
        }
        let single = (n / 2) as f64 / t.elapsed().as_secs_f64();
        figures.extend(per_task(&bench.close_window(window).await?, n / 2, false, "enqueue_"));
        eprintln!("single enqueue: {:.0}/s", single);
        bench.cleanup("single").await?;

        // 2 + 3. bulk enqueue, then drain
        let run = bench.run_env("bulk").await?;
        let window = bench.open_window().await?;
        let bulk = bench.bulk(&run, n).await?;
        figures.extend(per_task(&bench.close_window(window).await?, n, false, "bulk_"));
        eprintln!("bulk enqueue: {:.0}/s", bulk);
        let window = bench.open_window().await?;
        let process = bench.drain(&run, n).await?;
        figures.extend(per_task(&bench.close_window(window).await?, n, true, ""));
        eprintln!("processing (conc {}): {:.0}/s", bench.conc, process);
        bench.cleanup("bulk").await?;

        figures.insert(String::from("enqueue_per_s"), json!(single.round()));
        figures.insert(String::from("bulk_enqueue_per_s"), json!(bulk.round()));
        figures.insert(String::from("process_per_s"), json!(process.round()));

        // 4. latency on an idle worker
        if lat_n > 0 {
            let run = bench.run_env("lat").await?;
            let (p50, p99) = bench.latency(&run, lat_n).await?;
            eprintln!("latency p50 {p50:.3} ms, p99 {p99:.3} ms");
            bench.cleanup("lat").await?;
            figures.insert(String::from("latency_p50_ms"), json!(round3(p50)));
            figures.insert(String::from("latency_p99_ms"), json!(round3(p99)));
        }

        // 5. backlog
        if sample > 0 {
            for (tag, waiting) in [("bl-small", 2_000usize), ("bl-big", big)] {
                if waiting == 0 {
                    continue;
                }
                let run = bench.run_env(tag).await?;
                bench.bulk(&run, waiting.max(sample)).await?;
                let rate = bench.drain(&run, sample.min(waiting.max(sample))).await?;
                eprintln!("processing with {waiting} waiting: {rate:.0}/s");
                figures.insert(format!("process_per_s_backlog_{waiting}"), json!(rate.round()));
                bench.cleanup(tag).await?;
            }
        }
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
    out.insert("cluster".into(), json!(bench.admin.is_cluster()));
    out.insert("masters".into(), json!(bench.nodes().await?.len()));
    out.insert("wait_replicas".into(), json!(bench.settings.redis_wait_replicas));
    out.insert("queues".into(), json!(bench.queues.iter().map(ToString::to_string).collect::<Vec<_>>()));
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        out.insert("loadavg".into(), json!(load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")));
    }
    out.extend(figures);
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
