//! Real `goodrobot-worker` processes against the real Redis: SIGKILL mid-run loses nothing,
//! a long eta runs once and on time, SIGTERM finishes the running task. The SIGKILL tests
//! also run on a local Redis Cluster (3 masters + 3 replicas, `REDIS_URL` a seed list).

use goodrobot_bootstrap::{Infra, Settings};
use goodrobot_domain::task::{QueueName, TaskId, TaskRecord, TaskState};
use goodrobot_ports::services::{TaskPolicy, TaskRequest, TaskService};
use goodrobot_testkit::redis_cluster::RedisCluster;
use serde_json::json;
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The Redis a test runs on: this machine's single node, or the test process's shared Redis
/// Cluster (found out by the binaries themselves with `INFO cluster`, as in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Redis {
    Node,
    Cluster,
}

impl Redis {
    /// `REDIS_URL` for this test and its workers (on the cluster: the masters' seed list).
    fn url(self) -> String {
        match self {
            Redis::Node => std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            Redis::Cluster => RedisCluster::shared().url(),
        }
    }

    /// One URL per node that holds keys (the node; every master of the cluster).
    fn key_holders(self) -> Vec<String> {
        match self {
            Redis::Node => vec![self.url()],
            Redis::Cluster => {
                RedisCluster::shared().masters().iter().map(|m| format!("redis://127.0.0.1:{}", m.port)).collect()
            }
        }
    }
}

/// A key prefix of this test's own, deleted when the test ends.
struct Space {
    redis: Redis,
    /// `REDIS_URL` of this test and its workers.
    redis_url: String,
    prefix: String,
    infra: Infra,
    tasks: TaskService,
    workers: Vec<Child>,
    database_url: Option<String>,
}

impl Space {
    async fn new(redis: Redis) -> Self {
        Self::with_database(redis, None).await
    }

    /// A space whose workers (and this test) also share a Postgres database.
    async fn with_database(redis: Redis, database_url: Option<String>) -> Self {
        let prefix = format!("grtest-{:016x}", rand::random::<u64>());
        let redis_url = redis.url();
        let mut env =
            HashMap::from([("REDIS_URL".to_owned(), redis_url.clone()), ("REDIS_PREFIX".to_owned(), prefix.clone())]);
        if let Some(db) = &database_url {
            env.insert("DATABASE_URL".to_owned(), db.clone());
        }
        let settings = Settings::from_map(&env).unwrap();
        let infra = Infra::from_settings(&settings).await.unwrap();
        let tasks =
            TaskService::new(infra.broker.clone(), infra.results.clone(), infra.clock.clone(), TaskPolicy::default());
        Self { redis, redis_url, prefix, infra, tasks, workers: Vec::new(), database_url }
    }

    fn spawn_worker(&mut self, lease_secs: u64, concurrency: usize) -> usize {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_goodrobot-worker"));
        cmd.env_clear();
        if let Some(db) = &self.database_url {
            cmd.env("DATABASE_URL", db).env("RUN_MIGRATIONS", "false");
        }
        let child = cmd
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", &self.redis_url)
            .env("REDIS_PREFIX", &self.prefix)
            .env("TASK_LEASE_SECS", lease_secs.to_string())
            .env("WORKER_CONCURRENCY", concurrency.to_string())
            .env("SHUTDOWN_TIMEOUT_SECS", "30")
            .env("RUST_LOG", "warn")
            // Several workers on this host: each its own free port.
            .env("WORKER_METRICS_ADDR", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn goodrobot-worker");
        self.workers.push(child);
        self.workers.len() - 1
    }

    fn signal(&self, i: usize, sig: &str) {
        let pid = self.workers[i].id().to_string();
        let ok = Command::new("kill").args([&format!("-{sig}"), &pid]).status().unwrap().success();
        assert!(ok, "kill -{sig} {pid}");
    }

    fn wait_exit(&mut self, i: usize, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.workers[i].try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "worker {i} did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn finished(&self, id: TaskId) -> TaskRecord {
        let r = self.infra.results.wait(id, Duration::from_secs(60)).await.unwrap().expect("record");
        assert!(r.state.is_terminal(), "task {id} not finished: {r:#?}");
        r
    }

    /// Waits until the task has started (bounded).
    async fn started(&self, id: TaskId) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.infra.results.get(id).await.unwrap();
            if r.is_some_and(|r| r.state == TaskState::Started) {
                return;
            }
            assert!(Instant::now() < deadline, "task {id} did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        // Each node's keys under the prefix (on a cluster, SCAN sees one node's keys), unlinked
        // one by one (keys of several slots may not share a command on a cluster).
        let target = self.redis;
        let holders = std::panic::catch_unwind(move || target.key_holders()).unwrap_or_default();
        for node in holders {
            let Ok(mut c) = redis::Client::open(node).and_then(|client| client.get_connection()) else { continue };
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut c).unwrap_or_default();
            let mut unlink = redis::pipe();
            for key in &keys {
                unlink.cmd("UNLINK").arg(key).ignore();
            }
            let _: redis::RedisResult<()> = unlink.query(&mut c);
        }
    }
}

fn sleep_task(ms: u64) -> TaskRequest {
    TaskRequest {
        name: "diag.sleep".into(),
        kwargs: json!({ "ms": ms }).as_object().cloned().unwrap(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_worker_mid_run_loses_no_task() {
    sigkill_of_a_worker_mid_run_loses_no_task_on(Redis::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_worker_mid_run_loses_no_task_on_a_redis_cluster() {
    sigkill_of_a_worker_mid_run_loses_no_task_on(Redis::Cluster).await;
}

async fn sigkill_of_a_worker_mid_run_loses_no_task_on(redis: Redis) {
    let mut s = Space::new(redis).await;
    let reqs: Vec<TaskRequest> = (0..2000).map(|_| sleep_task(5)).collect();
    let ids: Vec<TaskId> = s.tasks.submit_many(&reqs).await.unwrap().into_iter().map(|x| x.task_id).collect();
    let concurrency = 8;
    let victim = s.spawn_worker(2, concurrency);
    s.spawn_worker(2, concurrency);
    // Kill the victim once the run is under way.
    let queue = QueueName::default_queue();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.infra.broker.stats(&queue).await.unwrap().ready > 1500 {
        assert!(Instant::now() < deadline, "workers made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.signal(victim, "KILL");
    s.wait_exit(victim, Duration::from_secs(5));

    let mut reruns = 0;
    for id in &ids {
        let r = s.finished(*id).await;
        assert_eq!(r.state, TaskState::Success, "{r:#?}");
        if r.attempts > 1 {
            reruns += 1;
        }
    }
    assert!(reruns <= concurrency, "{reruns} tasks ran twice; the killed worker held at most {concurrency}");
    // A task whose outcome the victim recorded but did not ack stays in flight until its
    // lease runs out and the other worker settles it: the queue empties, nothing is dead.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = s.infra.broker.stats(&queue).await.unwrap();
        let left = (stats.ready, stats.delayed, stats.in_flight, stats.dead);
        if left == (0, 0, 0, 0) {
            break;
        }
        assert_eq!(stats.dead, 0, "{stats:?}");
        assert!(Instant::now() < deadline, "the queue never emptied: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_an_eta_beyond_the_lease_runs_once_within_100_ms_of_its_eta() {
    let mut s = Space::new(Redis::Node).await;
    s.spawn_worker(1, 2);
    let mut req = TaskRequest { name: "diag.noop".into(), ..Default::default() };
    req.options.countdown = Some(2.0);
    let sub = s.tasks.submit(&req).await.unwrap();
    let eta = sub.eta.unwrap();
    let r = s.finished(sub.task_id).await;
    assert_eq!((r.state, r.attempts), (TaskState::Success, 1));
    let started = r.started_at.unwrap();
    let late = (started - eta).num_milliseconds();
    assert!((0..=100).contains(&late), "started {late} ms after its eta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_task_finish_and_the_worker_exit_0() {
    let mut s = Space::new(Redis::Node).await;
    let w = s.spawn_worker(30, 2);
    let id = s.tasks.submit(&sleep_task(3000)).await.unwrap().task_id;
    s.started(id).await;
    s.signal(w, "TERM");
    let status = s.wait_exit(w, Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    let r = s.infra.results.get(id).await.unwrap().unwrap();
    assert_eq!(r.state, TaskState::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_task_is_redelivered_later() {
    let mut s = Space::new(Redis::Node).await;
    let w = s.spawn_worker(2, 2);
    let id = s.tasks.submit(&sleep_task(3000)).await.unwrap().task_id;
    s.started(id).await;
    s.signal(w, "TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.signal(w, "TERM");
    let status = s.wait_exit(w, Duration::from_secs(2));
    assert!(!status.success());
    assert_eq!(s.infra.results.get(id).await.unwrap().unwrap().state, TaskState::Started);
    s.spawn_worker(2, 2);
    let r = s.finished(id).await;
    assert_eq!((r.state, r.attempts), (TaskState::Success, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_notification_rate_limit_holds_across_two_worker_processes() {
    let db = goodrobot_migrations::test_database::TestDatabase::migrated().await;
    let mut s = Space::with_database(Redis::Node, Some(db.url().to_owned())).await;
    let user = s
        .infra
        .users
        .create(goodrobot_domain::NewUser {
            tg_id: goodrobot_domain::TgId::new(77).unwrap(),
            role: goodrobot_domain::Role::Master,
            name: goodrobot_domain::PersonName::new("Rate").unwrap(),
            phone: None,
        })
        .await
        .unwrap();
    let reqs: Vec<TaskRequest> = (0..90)
        .map(|i| TaskRequest {
            name: "send_notification".into(),
            kwargs: json!({"user_id": user.id, "message": format!("n{i}")}).as_object().cloned().unwrap(),
            ..Default::default()
        })
        .collect();
    s.spawn_worker(30, 45);
    s.spawn_worker(30, 45);
    let ids: Vec<TaskId> = s.tasks.submit_many(&reqs).await.unwrap().into_iter().map(|x| x.task_id).collect();
    let mut starts = Vec::new();
    for id in ids {
        let r = s.finished(id).await;
        assert_eq!((r.state, r.retries), (TaskState::Success, 0), "{r:#?}");
        starts.push(r.started_at.unwrap());
    }
    starts.sort();
    let span = (starts[89] - starts[0]).num_milliseconds();
    // 30 a second for both workers together: the 90 starts span at least ~2 s (one worker
    // limited on its own, two would take ~0.5 s).
    assert!(span >= 1500, "90 starts within {span} ms: the limit did not hold across processes");
}

/// Orders (and a bid on every tenth) in the test's database, for a report to read.
async fn seed_orders(s: &Space, n: usize) -> (u64, u64) {
    use futures::{StreamExt, TryStreamExt};
    use goodrobot_domain::{
        Address, Category, Description, NewBid, NewOrder, NewUser, Note, PersonName, Price, Role, TgId,
    };
    let person = |tg: i64, role| NewUser {
        tg_id: TgId::new(tg).unwrap(),
        role,
        name: PersonName::new("Seed").unwrap(),
        phone: None,
    };
    let client = s.infra.users.create(person(1, Role::Client)).await.unwrap();
    let master = s.infra.users.create(person(2, Role::Master)).await.unwrap();
    let now = chrono::Utc::now();
    let bids: Vec<bool> = futures::stream::iter(0..n)
        .map(|i| async move {
            let order = NewOrder {
                client_id: client.id,
                category: Category::new("plumbing").unwrap(),
                address: Address::new("Main st 1").unwrap(),
                description: Description::new("leak").unwrap(),
                when_at: now + chrono::Duration::days(1),
            };
            let order = s.infra.orders.create(order, now).await?;
            if i % 10 == 0 {
                let bid = NewBid {
                    order_id: order.id,
                    master_id: master.id,
                    price: Price::new(100).unwrap(),
                    note: Note::new("").unwrap(),
                };
                s.infra.bids.create(bid, now).await?;
            }
            Ok::<_, goodrobot_ports::RepoError>(i % 10 == 0)
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .unwrap();
    (n as u64, bids.iter().filter(|b| **b).count() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_whose_worker_is_killed_resumes_from_its_checkpoint_in_another_worker() {
    a_report_whose_worker_is_killed_resumes_from_its_checkpoint_in_another_worker_on(Redis::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_whose_worker_is_killed_resumes_from_its_checkpoint_in_another_worker_on_a_redis_cluster() {
    a_report_whose_worker_is_killed_resumes_from_its_checkpoint_in_another_worker_on(Redis::Cluster).await;
}

async fn a_report_whose_worker_is_killed_resumes_from_its_checkpoint_in_another_worker_on(redis: Redis) {
    let db = goodrobot_migrations::test_database::TestDatabase::migrated().await;
    let mut s = Space::with_database(redis, Some(db.url().to_owned())).await;
    let (orders, bids) = seed_orders(&s, 5000).await;
    let req = TaskRequest {
        name: "generate_analytics_report".into(),
        kwargs: json!({"report_type": "summary"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    let id = s.tasks.submit(&req).await.unwrap().task_id;
    let victim = s.spawn_worker(2, 1);

    // Kill the first worker once it has reported (so checkpointed) two pages of the fifty.
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let r = s.infra.results.get(id).await.unwrap();
        let scanned = r.as_ref().and_then(|r| r.progress.as_ref()).and_then(|p| p["scanned"].as_u64());
        if let Some(n) = scanned.filter(|n| *n >= 200) {
            break n;
        }
        assert!(r.as_ref().is_none_or(|r| !r.state.is_terminal()), "the report finished before the kill: {r:#?}");
        assert!(Instant::now() < deadline, "the report made no progress: {r:#?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    s.signal(victim, "KILL");
    s.wait_exit(victim, Duration::from_secs(5));
    let before = s.infra.results.get(id).await.unwrap().unwrap();
    assert!(!before.state.is_terminal(), "the report finished before the kill: {before:#?}");
    let progress = before.progress.clone().unwrap();
    assert_eq!(progress["total"], orders, "{progress}");
    assert!(progress["percent"].as_u64().unwrap() < 100, "{progress}");

    // Another worker takes the task once the dead one's lease runs out.
    s.spawn_worker(2, 1);
    let r = s.finished(id).await;
    assert_eq!((r.state, r.attempts), (TaskState::Success, 2), "{r:#?}");
    let report = r.result.clone().unwrap();
    // Every order counted once: the resumed run neither skipped nor re-read a page.
    assert_eq!(report["orders_total"], orders, "{report}");
    assert_eq!(report["prices"]["bids"], bids, "{report}");
    let progress = r.progress.clone().unwrap();
    let resumed_from = progress["resumed_from"].as_u64().expect("the second run resumed");
    assert!(resumed_from >= seen && resumed_from < orders, "resumed from {resumed_from}, {seen} seen before the kill");
    assert_eq!((progress["scanned"].as_u64(), progress["percent"].as_u64()), (Some(orders), Some(100)), "{progress}");
    // The checkpoint is dropped once the report is done.
    let key = goodrobot_worker::checkpoint_key(id);
    assert_eq!(s.infra.cache.get_key(&key).await.unwrap(), None);
}
