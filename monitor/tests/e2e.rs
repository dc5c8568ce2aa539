//! End to end with the three real binaries: `goodrobot-api`, `goodrobot-worker` and
//! `goodrobot-monitor` run as child processes over the real Redis (a random key prefix,
//! unlinked at the end) and the real Postgres (a database of their own, dropped at the end).
//!
//! A bot registers a client and a master, the client posts an order, the master bids, the
//! client picks the bid: the worker runs `process_bid_assignment`, which queues
//! `send_notification`; an admin also queues a task due in an hour. Then Debian's headless
//! chromium logs in to the monitor, sees the worker online and the flow's tasks in their
//! states, the assignment's child on its page, and revokes the delayed task through the UI.
//! The monitor is killed and started again: nothing is lost. Last, the three `/metrics`
//! parse and count what ran. Screenshots (`e2e-*.png`) and the processes' logs
//! (`e2e-logs/`) go to `target/artifacts/`.
//!
//! The whole scenario runs twice: on this machine's Redis, and on a local Redis Cluster
//! (3 masters + 3 replicas, `REDIS_URL` the masters' seed list, the test process's shared
//! cluster), where the binaries find out by themselves that it is a cluster. The browser
//! part runs on both (it costs a few seconds); the cluster run's files carry `cluster` in
//! their names.
//!
//! The API and worker binaries are the monitor's siblings in the target directory:
//! `cargo test --workspace` builds them; `cargo test -p goodrobot-monitor` alone does not
//! (run `cargo build --workspace --bins` first).

mod common;

use common::{
    PASSWORD, USER,
    browser::{TempDir, artifacts_dir, browser, chromedriver, free_port, log_in, row, screenshot, wait_for},
    field_value, password_hash,
    real::{PrefixOn, Redis},
    urlencode,
};
use fantoccini::Locator;
use goodrobot_domain::task::{TaskId, TaskState};
use goodrobot_migrations::test_database::TestDatabase;
use prometheus_parse::{Sample, Scrape, Value as PromValue};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a binary may take to answer its health check.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long an observed state (a task's end, a counter, a heartbeat) may take to show.
const STATE_DEADLINE: Duration = Duration::from_secs(30);
/// Between two looks at an observed state.
const POLL: Duration = Duration::from_millis(50);

const ADMIN_KEY: &str = "e2e-admin-key-000000000000000000000000000";
const BOT_KEY: &str = "e2e-bot-key-00000000000000000000000000000";

/// A built binary of the workspace: the monitor's own, or a sibling of it.
fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_goodrobot-monitor")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (`cargo test -p goodrobot-monitor` builds only \
         the monitor's own binary; `cargo test --workspace` builds them all)",
        path.display()
    );
    path
}

/// One running binary, killed on drop; its standard error goes to a log file.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin` with only `env` (and `PATH`) in its environment, in `cwd` (so no `.env`
    /// file of the developer's is read).
    fn spawn(name: &'static str, bin: &Path, env: &[(&str, String)], cwd: &Path, log: PathBuf) -> Self {
        let err = File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Self { name, child, log }
    }

    /// The last lines of its log.
    fn tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(8 * 1024)));
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} ({}), last lines:\n{}",
            self.name,
            self.log.display(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    /// Panics if it has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status})\n{}", self.name, self.tail());
        }
    }

    /// Kills it (SIGKILL) and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The three binaries over one Redis prefix and one database. Fields drop in order: the
/// processes first, then the Redis keys, the database and the working directory.
struct Stack {
    api: Proc,
    worker: Proc,
    monitor: Proc,
    api_url: String,
    monitor_url: String,
    monitor_port: u16,
    worker_id: String,
    worker_metrics_url: String,
    http: reqwest::Client,
    redis: PrefixOn,
    /// `REDIS_URL` of the three processes.
    redis_url: String,
    _db: TestDatabase,
    cwd: TempDir,
    logs: PathBuf,
}

impl Stack {
    async fn start(on: Redis) -> Self {
        let (api_bin, worker_bin, monitor_bin) =
            (binary("goodrobot-api"), binary("goodrobot-worker"), binary("goodrobot-monitor"));
        let redis = PrefixOn::new("e2e", on);
        let redis_url = on.url();
        let db = TestDatabase::migrated().await;
        let cwd = TempDir::new("gr-monitor-e2e");
        let logs = artifacts_dir().join(artifact("e2e-logs", on));
        std::fs::create_dir_all(&logs).unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();

        let (api_port, monitor_port) = (free_port(), free_port());
        let shared = [("REDIS_URL", redis_url.clone()), ("REDIS_PREFIX", redis.prefix.clone())];
        let mut api_env = shared.to_vec();
        api_env.extend([
            ("DATABASE_URL", db.url().to_owned()),
            // The test database is migrated already.
            ("RUN_MIGRATIONS", "false".to_owned()),
            ("API_ADDR", format!("127.0.0.1:{api_port}")),
            ("API_KEYS", format!("admin:{ADMIN_KEY},bot:{BOT_KEY}")),
        ]);
        let mut worker_env = shared.to_vec();
        worker_env.extend([
            ("DATABASE_URL", db.url().to_owned()),
            ("RUN_MIGRATIONS", "false".to_owned()),
            ("WORKER_CONCURRENCY", "2".to_owned()),
            ("SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
            // Any free port: the worker logs the one it got.
            ("WORKER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ]);
        let mut api = Proc::spawn("goodrobot-api", &api_bin, &api_env, &cwd.0, logs.join("api.log"));
        let mut worker = Proc::spawn("goodrobot-worker", &worker_bin, &worker_env, &cwd.0, logs.join("worker.log"));
        let mut monitor =
            Self::spawn_monitor(&monitor_bin, &redis_url, &redis, monitor_port, &cwd.0, &logs, "monitor.log");

        // The worker's id and metrics address, from its start-up line.
        let started = wait_log_line(&mut worker, "starting; metrics at /metrics").await;
        let worker_id = started["fields"]["worker"].as_str().expect("the start-up line names the worker").to_owned();
        let metrics_addr = started["fields"]["metrics"].as_str().expect("and its metrics address").to_owned();

        // Each binary found out by itself whether `REDIS_URL` is a cluster (`INFO cluster`).
        for p in [&mut api, &mut worker, &mut monitor] {
            let connected = wait_log_line(p, "redis connected").await;
            assert_eq!(connected["fields"]["cluster"].as_bool(), Some(on == Redis::Cluster), "{}", p.tail());
        }

        let mut stack = Self {
            api,
            worker,
            monitor,
            api_url: format!("http://127.0.0.1:{api_port}"),
            monitor_url: format!("http://127.0.0.1:{monitor_port}"),
            monitor_port,
            worker_id,
            worker_metrics_url: format!("http://{metrics_addr}/metrics"),
            http,
            redis,
            redis_url,
            _db: db,
            cwd,
            logs,
        };
        stack.wait_healthy("api", &format!("{}/api/v1/ready", stack.api_url)).await;
        stack.wait_healthy("worker", &stack.worker_metrics_url.clone()).await;
        stack.wait_healthy("monitor", &format!("{}/health", stack.monitor_url)).await;
        // Ready too: on the cluster, every node up and every slot served.
        stack.wait_healthy("monitor", &format!("{}/ready", stack.monitor_url)).await;
        stack
    }

    fn spawn_monitor(
        bin: &Path,
        redis_url: &str,
        redis: &PrefixOn,
        port: u16,
        cwd: &Path,
        logs: &Path,
        log: &str,
    ) -> Proc {
        let env = [
            ("REDIS_URL", redis_url.to_owned()),
            ("REDIS_PREFIX", redis.prefix.clone()),
            ("MONITOR_ADDR", format!("127.0.0.1:{port}")),
            ("MONITOR_ADMIN_USER", USER.to_owned()),
            ("MONITOR_ADMIN_PASSWORD_HASH", password_hash()),
            ("MONITOR_QUEUES", "default".to_owned()),
        ];
        Proc::spawn("goodrobot-monitor", bin, &env, cwd, logs.join(log))
    }

    /// Kills the monitor (SIGKILL: it keeps nothing it could flush) and starts a new one on
    /// the same port and Redis.
    async fn restart_monitor(&mut self) {
        self.monitor.kill();
        self.monitor = Self::spawn_monitor(
            &binary("goodrobot-monitor"),
            &self.redis_url,
            &self.redis,
            self.monitor_port,
            &self.cwd.0,
            &self.logs,
            "monitor-restarted.log",
        );
        self.wait_healthy("monitor", &format!("{}/health", self.monitor_url)).await;
    }

    /// Every process's last log lines.
    fn log_tails(&self) -> String {
        [&self.api, &self.worker, &self.monitor].map(Proc::tail).join("\n")
    }

    fn assert_running(&mut self) {
        self.api.assert_running();
        self.worker.assert_running();
        self.monitor.assert_running();
    }

    /// Polls `url` until it answers 200 (each process must still be running meanwhile).
    async fn wait_healthy(&mut self, what: &str, url: &str) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            self.assert_running();
            match self.http.get(url).send().await {
                Ok(r) if r.status() == StatusCode::OK => return,
                Ok(r) if Instant::now() >= deadline => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    panic!("{what} not healthy at {url}: {status} {body}\n{}", self.log_tails());
                }
                Err(e) if Instant::now() >= deadline => {
                    panic!("{what} not healthy at {url}: {e}\n{}", self.log_tails())
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// A call to the API with `key`, acting for `acting` (a bot's `X-Acting-User`); panics
    /// with the processes' logs unless it answers `expect`.
    async fn api(
        &self,
        key: &str,
        acting: Option<i64>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expect: u16,
    ) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.api_url)).bearer_auth(key);
        if let Some(user) = acting {
            req = req.header("x-acting-user", user.to_string());
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_tails()));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), expect, "{method} {path} {body:?}: {text}\n{}", self.log_tails());
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Waits (server-side, `?wait=`) for a task to finish; its record as the API shows it.
    async fn finished(&self, id: &str) -> Value {
        let t =
            self.api(ADMIN_KEY, None, reqwest::Method::GET, &format!("/api/v1/tasks/{id}?wait=20"), None, 200).await;
        let state = t["state"].as_str().unwrap_or_default();
        assert!(
            ["SUCCESS", "FAILURE", "REVOKED"].contains(&state),
            "task {id} did not finish: {t:#}\n{}",
            self.log_tails()
        );
        t
    }

    /// A scrape of `url`, parsed (it must parse).
    async fn scrape(&self, url: &str) -> (Scrape, String) {
        let resp = self.http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log_tails()));
        assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
        let ct = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{url}");
        let text = resp.text().await.unwrap();
        let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .unwrap_or_else(|e| panic!("{url} does not parse as the Prometheus text format: {e}\n{text}"));
        let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let declared = types.len();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), declared, "{url} declares a family twice:\n{text}");
        (parsed, text)
    }

    /// Scrapes `url` until `check` accepts it (the counters follow the work by a moment: a
    /// run is counted just after it is recorded, a heartbeat every 2 s).
    async fn scrape_until(&self, url: &str, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + STATE_DEADLINE;
        loop {
            let (s, text) = self.scrape(url).await;
            if check(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{url}: {what} not seen within {STATE_DEADLINE:?}:\n{text}\n{}",
                self.log_tails()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The first line of `p`'s JSON log whose message is `message` (within [`START_DEADLINE`]).
async fn wait_log_line(p: &mut Proc, message: &str) -> Value {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        p.assert_running();
        let text = std::fs::read_to_string(&p.log).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["fields"]["message"].as_str() == Some(message));
        if let Some(v) = found {
            return v;
        }
        assert!(Instant::now() < deadline, "{} never logged {message:?}\n{}", p.name, p.tail());
        tokio::time::sleep(POLL).await;
    }
}

/// A logged-in client of the monitor's JSON API: the session cookie and the CSRF token.
struct MonitorSession {
    cookie: String,
    csrf: String,
}

/// `name=value` of cookie `name` among a response's `Set-Cookie` headers.
fn cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let kv = c.split(';').next()?;
        kv.split_once('=').filter(|(k, _)| *k == name).map(|_| kv.to_owned())
    })
}

impl Stack {
    /// Logs in to the monitor as a browser does: the form, its nonce cookie, the POST.
    async fn monitor_login(&self) -> MonitorSession {
        let form = self.http.get(format!("{}/login", self.monitor_url)).send().await.unwrap();
        let nonce_cookie = cookie(&form, "gr_monitor_login").expect("the login form sets its nonce cookie");
        let page = form.text().await.unwrap();
        let nonce = field_value(&page, "login_nonce").expect("the login form has its nonce field");
        let body =
            format!("username={}&password={}&login_nonce={nonce}&next=%2F", urlencode(USER), urlencode(PASSWORD));
        let resp = self
            .http
            .post(format!("{}/login", self.monitor_url))
            .header(header::COOKIE, nonce_cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login refused\n{}", self.log_tails());
        let cookie = cookie(&resp, "gr_monitor_session").expect("a session cookie");
        let me =
            self.monitor_get(&MonitorSession { cookie: cookie.clone(), csrf: String::new() }, "/api/session").await;
        let csrf = me["csrf_token"].as_str().expect("the session's CSRF token").to_owned();
        MonitorSession { cookie, csrf }
    }

    /// GET on the monitor's JSON API, logged in; the answer must be 200.
    async fn monitor_get(&self, s: &MonitorSession, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.monitor_url)).header(header::COOKIE, &s.cookie).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log_tails()));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "monitor GET {path}: {text}\n{}", self.log_tails());
        serde_json::from_str(&text).unwrap()
    }

    /// The monitor's task list as task id → (name, state).
    async fn monitor_tasks(&self, s: &MonitorSession) -> BTreeMap<String, (String, String)> {
        let page = self.monitor_get(s, "/api/tasks?per_page=100").await;
        page["items"]
            .as_array()
            .expect("a page of tasks")
            .iter()
            .map(|t| {
                let field = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
                (field("task_id"), (field("name"), field("state")))
            })
            .collect()
    }
}

fn sample<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

/// A counter's or gauge's value; 0 when it has no sample with these labels.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, metric, labels).map(|x| &x.value) {
        Some(PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v)) => *v,
        None => 0.0,
        other => panic!("{metric}{labels:?} is not a single value: {other:?}"),
    }
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// The name of an artifact (a screenshot, the logs' directory) of the run on `on`.
fn artifact(name: &str, on: Redis) -> String {
    match (on, name.rsplit_once('.')) {
        (Redis::Node, _) => name.to_owned(),
        (Redis::Cluster, Some((stem, ext))) => format!("{stem}-cluster.{ext}"),
        (Redis::Cluster, None) => format!("{name}-cluster"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_binaries_run_a_flow_that_the_monitor_shows_in_a_browser_keeps_across_a_restart_and_counts() {
    three_binaries(Redis::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_the_three_binaries_run_the_same_flow_that_the_monitor_shows_keeps_and_counts() {
    three_binaries(Redis::Cluster).await;
}

/// The scenario of the module's documentation, on `on`.
async fn three_binaries(on: Redis) {
    use reqwest::Method;
    let mut stack = Stack::start(on).await;

    // --- The flow, through the API as the bot and an admin would drive it.
    let client = stack
        .api(
            BOT_KEY,
            None,
            Method::POST,
            "/api/v1/users",
            Some(json!({"tg_id": 1001, "role": "client", "name": "Анна"})),
            201,
        )
        .await;
    let master = stack
        .api(
            BOT_KEY,
            None,
            Method::POST,
            "/api/v1/users",
            Some(json!({"tg_id": 2002, "role": "master", "name": "Борис"})),
            201,
        )
        .await;
    let (client, master) = (id(&client), id(&master));
    let when = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let order = json!({"client_id": client, "category": "plumbing", "address": "Lenina 1", "description": "Leaking tap", "when_at": when});
    let order = id(&stack.api(BOT_KEY, Some(client), Method::POST, "/api/v1/orders", Some(order), 201).await);
    let bid = json!({"master_id": master, "price": 150_000, "note": "Tomorrow"});
    let bid = id(&stack
        .api(BOT_KEY, Some(master), Method::POST, &format!("/api/v1/orders/{order}/bids"), Some(bid), 201)
        .await);
    let accepted = stack
        .api(BOT_KEY, Some(client), Method::POST, &format!("/api/v1/bids/{bid}/assign?master_id={master}"), None, 202)
        .await;
    let assign = accepted["task_id"].as_str().expect("the assignment's task id").to_owned();
    let delayed = stack
        .api(
            ADMIN_KEY,
            None,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "diag.noop", "kwargs": {"x": 1}, "countdown": 3600})),
            202,
        )
        .await;
    let delayed = delayed["task_id"].as_str().expect("the delayed task's id").to_owned();

    let assigned = stack.finished(&assign).await;
    assert_eq!(
        (assigned["state"].as_str(), assigned["name"].as_str()),
        (Some("SUCCESS"), Some("process_bid_assignment")),
        "{assigned:#}"
    );
    let notify = assigned["result"]["notification_task_id"].as_str().expect("a notification task").to_owned();
    let notified = stack.finished(&notify).await;
    assert_eq!(
        (notified["state"].as_str(), notified["name"].as_str()),
        (Some("SUCCESS"), Some("send_notification")),
        "{notified:#}"
    );
    assert_eq!(notified["parent_id"].as_str(), Some(assign.as_str()));
    let o = stack.api(BOT_KEY, None, Method::GET, &format!("/api/v1/orders/{order}"), None, 200).await;
    assert_eq!((o["status"].as_str(), o["master_id"].as_i64()), (Some("assigned"), Some(master)), "{o:#}");
    let pending = stack.api(ADMIN_KEY, None, Method::GET, &format!("/api/v1/tasks/{delayed}"), None, 200).await;
    assert_eq!(pending["state"].as_str(), Some("PENDING"), "{pending:#}");
    let [assign_id, notify_id, delayed_id] = [&assign, &notify, &delayed].map(|t| TaskId::parse(t).unwrap());

    // --- A person in a browser.
    let driver = chromedriver().await;
    let c = browser(&driver).await;
    let base = stack.monitor_url.clone();
    c.goto(&format!("{base}/")).await.unwrap();
    log_in(&c, USER, PASSWORD).await;
    let worker_row = format!(r#"#workers tr[data-worker="{}"]"#, stack.worker_id);
    wait_for(&c, &worker_row).await;
    // Its heartbeat counts the two runs (it beats every 2 s; the page polls every 2 s).
    wait_for(&c, &format!(r#"{worker_row}[data-processed="2"]"#)).await;
    wait_for(&c, r#"#queues tr[data-queue="default"]"#).await;
    screenshot(&c, &artifact("e2e-overview.png", on)).await;

    c.goto(&format!("{base}/tasks")).await.unwrap();
    wait_for(&c, &row(assign_id, TaskState::Success)).await;
    wait_for(&c, &row(notify_id, TaskState::Success)).await;
    wait_for(&c, &row(delayed_id, TaskState::Pending)).await;
    screenshot(&c, &artifact("e2e-tasks.png", on)).await;

    // The assignment's page names its child.
    c.find(Locator::Css(&format!(r#"#tasks tr[data-task="{assign}"] a"#))).await.unwrap().click().await.unwrap();
    wait_for(&c, "#task-state .state-success").await;
    let child = wait_for(&c, &format!(r#"#children a[href="/tasks/{notify}"]"#)).await;
    let children = c.find(Locator::Css("#children")).await.unwrap().text().await.unwrap();
    assert!(children.contains("send_notification") && children.contains("SUCCESS"), "children: {children}");
    // The children are below the fold: scroll them into the screenshot.
    c.execute("arguments[0].scrollIntoView({block: 'center'})", vec![serde_json::to_value(&child).unwrap()])
        .await
        .unwrap();
    screenshot(&c, &artifact("e2e-task.png", on)).await;

    // Revoke the delayed task through its page.
    c.goto(&format!("{base}/tasks/{delayed}")).await.unwrap();
    wait_for(&c, "#action-revoke").await.click().await.unwrap();
    let badge = wait_for(&c, "#task-state .state-revoked").await;
    assert_eq!(badge.text().await.unwrap(), "REVOKED");
    screenshot(&c, &artifact("e2e-revoked.png", on)).await;
    c.close().await.unwrap();
    drop(driver);
    // The API sees it too: the revocation is in the shared result backend.
    let revoked = stack.api(ADMIN_KEY, None, Method::GET, &format!("/api/v1/tasks/{delayed}"), None, 200).await;
    assert_eq!(revoked["state"].as_str(), Some("REVOKED"), "{revoked:#}");

    // --- A monitor restart loses nothing.
    let session = stack.monitor_login().await;
    let before = stack.monitor_tasks(&session).await;
    let expected: BTreeMap<String, (String, String)> = [
        (&assign, "process_bid_assignment", "SUCCESS"),
        (&notify, "send_notification", "SUCCESS"),
        (&delayed, "diag.noop", "REVOKED"),
    ]
    .into_iter()
    .map(|(id, name, state)| (id.clone(), (name.to_owned(), state.to_owned())))
    .collect();
    assert_eq!(before, expected, "the monitor's task list before the restart");
    let detail_before = stack.monitor_get(&session, &format!("/api/tasks/{assign}")).await;
    stack.restart_monitor().await;
    // The session lives in Redis: the same cookie still works.
    let me = stack.monitor_get(&session, "/api/session").await;
    assert_eq!(me["csrf_token"].as_str(), Some(session.csrf.as_str()));
    assert_eq!(stack.monitor_tasks(&session).await, before, "the task list after the restart");
    let detail_after = stack.monitor_get(&session, &format!("/api/tasks/{assign}")).await;
    assert_eq!(detail_after["children"], detail_before["children"]);
    assert_eq!(detail_after["timeline"], detail_before["timeline"]);
    assert_eq!(detail_after["children"][0]["task_id"].as_str(), Some(notify.as_str()), "{detail_after:#}");
    let workers = stack.monitor_get(&session, "/api/workers").await;
    let ids: Vec<&str> =
        workers.as_array().expect("a list of workers").iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, [stack.worker_id.as_str()]);

    // --- Every /metrics parses, and counts what ran.
    let worker = stack
        .scrape_until(&stack.worker_metrics_url.clone(), "both runs counted", |s| {
            value(s, "goodrobot_worker_task_runs_total", &[("name", "send_notification"), ("state", "SUCCESS")]) >= 1.0
        })
        .await;
    let runs = |name, state| value(&worker, "goodrobot_worker_task_runs_total", &[("name", name), ("state", state)]);
    assert_eq!(runs("process_bid_assignment", "SUCCESS"), 1.0);
    assert_eq!(runs("send_notification", "SUCCESS"), 1.0);
    for name in ["process_bid_assignment", "send_notification", "diag.noop"] {
        for state in ["FAILURE", "RETRY", "REVOKED"] {
            assert_eq!(runs(name, state), 0.0, "{name} {state}");
        }
    }
    assert_eq!(runs("diag.noop", "SUCCESS"), 0.0, "the revoked task never ran");
    assert_eq!(value(&worker, "goodrobot_worker_task_retries_total", &[]), 0.0);
    assert_eq!(value(&worker, "goodrobot_worker_task_dead_lettered_total", &[]), 0.0);
    assert_eq!(value(&worker, "goodrobot_worker_queue_depth", &[("queue", "default"), ("kind", "ready")]), 0.0);
    assert_eq!(value(&worker, "goodrobot_worker_queue_depth", &[("queue", "default"), ("kind", "in_flight")]), 0.0);
    assert_eq!(value(&worker, "goodrobot_worker_queue_stats_up", &[("queue", "default")]), 1.0);

    let (api, api_text) = stack.scrape(&format!("{}/metrics", stack.api_url)).await;
    let requests = |route, method, status| {
        value(&api, "goodrobot_http_requests_total", &[("route", route), ("method", method), ("status", status)])
    };
    assert_eq!(requests("/api/v1/users", "POST", "201"), 2.0, "{api_text}");
    assert_eq!(requests("/api/v1/orders", "POST", "201"), 1.0, "{api_text}");
    assert_eq!(requests("/api/v1/orders/:id/bids", "POST", "201"), 1.0, "{api_text}");
    assert_eq!(requests("/api/v1/bids/:bid_id/assign", "POST", "202"), 1.0, "{api_text}");
    assert_eq!(requests("/api/v1/tasks", "POST", "202"), 1.0, "{api_text}");
    assert_eq!(requests("/api/v1/tasks/:task_id", "GET", "200"), 4.0, "{api_text}");
    assert_eq!(requests("/api/v1/orders/:id", "GET", "200"), 1.0, "{api_text}");
    assert!(requests("/api/v1/ready", "GET", "200") >= 1.0, "{api_text}");
    let submitted = |name| value(&api, "goodrobot_api_tasks_submitted_total", &[("name", name), ("outcome", "queued")]);
    assert_eq!((submitted("process_bid_assignment"), submitted("diag.noop")), (1.0, 1.0), "{api_text}");
    assert!(
        api.docs.keys().all(|k| !k.starts_with("goodrobot_worker_")),
        "with Redis the API runs no embedded worker: {api_text}"
    );

    let worker_id = stack.worker_id.clone();
    let monitor = stack
        .scrape_until(&format!("{}/metrics", stack.monitor_url), "the worker's heartbeat with both runs", |s| {
            value(s, "goodrobot_worker_tasks_total", &[("worker", worker_id.as_str()), ("outcome", "succeeded")]) >= 2.0
        })
        .await;
    assert_eq!(value(&monitor, "goodrobot_workers_online", &[]), 1.0);
    let by_worker = |outcome| {
        value(&monitor, "goodrobot_worker_tasks_total", &[("worker", worker_id.as_str()), ("outcome", outcome)])
    };
    assert_eq!((by_worker("succeeded"), by_worker("failed"), by_worker("retried")), (2.0, 0.0, 0.0));
    let tasks = |name, state| value(&monitor, "goodrobot_tasks_total", &[("name", name), ("state", state)]);
    for name in ["process_bid_assignment", "send_notification"] {
        assert_eq!((tasks(name, "STARTED"), tasks(name, "SUCCESS"), tasks(name, "FAILURE")), (1.0, 1.0, 0.0), "{name}");
    }
    assert_eq!((tasks("diag.noop", "REVOKED"), tasks("diag.noop", "STARTED")), (1.0, 0.0));
    assert_eq!(value(&monitor, "goodrobot_queue_depth", &[("queue", "default"), ("kind", "ready")]), 0.0);
    assert_eq!(value(&monitor, "goodrobot_queue_depth", &[("queue", "default"), ("kind", "dead")]), 0.0);

    stack.assert_running();
}
