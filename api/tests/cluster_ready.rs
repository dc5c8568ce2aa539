//! The real `goodrobot-api` on a private local Redis Cluster (3 masters + 3 replicas;
//! `REDIS_URL` is the masters' seed list and the binary finds out by itself that it is a
//! cluster). `/api/v1/ready` answers 200 on the healthy cluster; 503 naming the dead node while
//! a master is dead and its slots are served by nobody (its replica is held back with
//! `cluster-replica-no-failover`, so the window does not depend on timing); 200 again once the
//! replica has taken over. Tasks are queued (202) and read back on the cluster before the fault
//! and after the failover.

use goodrobot_testkit::redis_cluster::{ClusterNode, RedisCluster};
use serde_json::{Value, json};
use std::{
    fs::File,
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long the binary may take to answer `/ready` with 200 after its start.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long `/ready` may take to follow the cluster's state.
const STATE_DEADLINE: Duration = Duration::from_secs(30);
/// Between two looks at the endpoint.
const POLL: Duration = Duration::from_millis(50);

/// An answer of the API.
#[derive(Debug)]
struct Reply {
    status: u16,
    text: String,
    body: Value,
}

/// The `goodrobot-api` binary over a Redis URL, killed on drop; its JSON log goes to a file in
/// a working directory of its own (so no `.env` of the developer's is read), removed on drop.
struct Api {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Api {
    fn start(redis_url: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gr-api-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // A port that was free a moment ago.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = File::create(dir.join("api.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_goodrobot-api"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis_url)
            .env("REDIS_PREFIX", format!("gr-api-cluster-{}", uuid::Uuid::new_v4().simple()))
            .env("API_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting goodrobot-api");
        Self { child, addr: format!("127.0.0.1:{port}"), dir }
    }

    /// Its log's lines, parsed (lines that are not JSON left out).
    fn log(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.join("api.log")).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The last lines of its log.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("api.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- goodrobot-api, last lines:\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// Panics if it has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("goodrobot-api exited ({status})\n{}", self.tail());
        }
    }

    /// One HTTP/1.1 request (`Connection: close`), its answer.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, String> {
        let mut stream = TcpStream::connect(&self.addr).map_err(|e| format!("{method} {path}: connect: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        stream.write_all(format!("{head}{body}").as_bytes()).map_err(|e| format!("{method} {path}: write: {e}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(|e| format!("{method} {path}: read: {e}"))?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, payload) = raw.split_once("\r\n\r\n").ok_or_else(|| format!("{method} {path}: answered {raw:?}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{method} {path}: status line of {head:?}"))?;
        let chunked = head.lines().any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        let text = if chunked { dechunk(payload) } else { payload.to_owned() };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, text, body })
    }

    /// A request that must answer `expect`; its body.
    fn call(&mut self, method: &str, path: &str, body: Option<Value>, expect: u16) -> Value {
        self.assert_running();
        let reply = self.request(method, path, body.as_ref()).unwrap_or_else(|e| panic!("{e}\n{}", self.tail()));
        assert_eq!(reply.status, expect, "{method} {path} {body:?}: {}\n{}", reply.text, self.tail());
        reply.body
    }

    /// Polls `GET /api/v1/ready` until `accept` takes the answer (the process must keep
    /// running); panics after `within` with the last answer seen.
    fn ready_until(&mut self, what: &str, within: Duration, accept: impl Fn(&Reply) -> bool) -> Reply {
        let deadline = Instant::now() + within;
        loop {
            self.assert_running();
            let seen = match self.request("GET", "/api/v1/ready", None) {
                Ok(reply) if accept(&reply) => return reply,
                Ok(reply) => format!("{} {}", reply.status, reply.text),
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "{what}: not seen within {within:?}; last answer: {seen}\n{}",
                self.tail()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Queues `n` tasks (202 each) and reads each back: the record the API wrote, PENDING (no
    /// worker runs here), with its arguments.
    fn queue_and_read_back(&mut self, n: i64) {
        for x in 0..n {
            let queued = self.call("POST", "/api/v1/tasks", Some(json!({"name": "diag.noop", "args": [x]})), 202);
            assert_eq!(queued["duplicate"], false, "{queued:#}");
            let id = queued["task_id"].as_str().unwrap_or_else(|| panic!("no task_id in {queued:#}")).to_owned();
            let task = self.call("GET", &format!("/api/v1/tasks/{id}"), None, 200);
            assert_eq!(
                (task["task_id"].as_str(), task["name"].as_str(), task["state"].as_str(), &task["args"]),
                (Some(id.as_str()), Some("diag.noop"), Some("PENDING"), &json!({"x": x})),
                "{task:#}"
            );
        }
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The body of a `Transfer-Encoding: chunked` payload.
fn dechunk(mut payload: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = payload.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        payload = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The `redis` entry of a `/ready` answer.
fn redis_dependency(reply: &Reply) -> Value {
    let deps = reply.body["dependencies"].as_array().unwrap_or_else(|| panic!("no dependencies in {}", reply.text));
    deps.iter().find(|d| d["name"] == "redis").cloned().unwrap_or_else(|| panic!("no redis in {}", reply.text))
}

/// The replica of `master` now.
fn replica_of(cluster: &RedisCluster, master: &ClusterNode) -> ClusterNode {
    let nodes = cluster.nodes();
    nodes
        .iter()
        .find(|n| n.master_id.as_deref() == Some(master.id.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{} has no replica in {nodes:?}", master.port))
}

#[test]
fn ready_follows_the_clusters_health_through_a_failover_and_tasks_are_queued_and_read_back() {
    let cluster = RedisCluster::start();
    let mut api = Api::start(&cluster.url());

    // --- The healthy cluster.
    let ready = api.ready_until("200 on the healthy cluster", START_DEADLINE, |r| r.status == 200);
    assert_eq!(ready.body["status"], "ok", "{}", ready.text);
    assert_eq!(redis_dependency(&ready)["ok"], true, "{}", ready.text);
    let connected = api.log().into_iter().find(|l| l["fields"]["message"] == "redis connected");
    let connected = connected.unwrap_or_else(|| panic!("no `redis connected` line\n{}", api.tail()));
    assert_eq!(connected["fields"]["cluster"], true, "the API did not find out it is a cluster: {connected}");
    api.queue_and_read_back(6);

    // --- A master dies and nobody serves its slots: its replica is told not to take over.
    let victim = cluster.masters().into_iter().next().expect("a master");
    let replica = replica_of(&cluster, &victim);
    let hold = cluster.cli(replica.port, &["CONFIG", "SET", "cluster-replica-no-failover", "yes"]);
    assert_eq!(hold.trim(), "OK", "CONFIG SET on replica {}", replica.port);
    cluster.kill(victim.port);
    let dead = format!("127.0.0.1:{}", victim.port);
    let down = api.ready_until(&format!("503 naming {dead}"), STATE_DEADLINE, |r| {
        r.status == 503 && redis_dependency(r)["error"].as_str().is_some_and(|e| e.contains(&dead))
    });
    assert_eq!(down.body["status"], "unavailable", "{}", down.text);
    let redis = redis_dependency(&down);
    assert_eq!(redis["ok"], false, "{}", down.text);
    assert!(redis["error"].as_str().is_some_and(|e| e.starts_with("cluster: ")), "{}", down.text);

    // --- The replica takes over: ready again, and tasks still go through.
    let release = cluster.cli(replica.port, &["CONFIG", "SET", "cluster-replica-no-failover", "no"]);
    assert_eq!(release.trim(), "OK", "CONFIG SET on replica {}", replica.port);
    let promoted = cluster.wait_failover_of(victim.port);
    assert_eq!(promoted.port, replica.port, "the promoted node");
    let back = api.ready_until("200 after the failover", STATE_DEADLINE, |r| r.status == 200);
    assert_eq!(redis_dependency(&back)["ok"], true, "{}", back.text);
    api.queue_and_read_back(6);
}
