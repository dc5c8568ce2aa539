//! A local Redis Cluster (3 masters + 3 replicas on free loopback ports) for integration tests.
//!
//! [`RedisCluster::shared`] is one cluster per test process for ordinary tests;
//! [`RedisCluster::start`] gives a private one to fault tests that kill, pause, restart, reshard
//! or fail over nodes. Blocking std code driving the `redis-server` and `redis-cli` binaries;
//! every wait observes the cluster until a deadline and then panics with what it last saw.
//!
//! The servers run with `cluster-node-timeout 2000` (a killed master is replaced in about 4 s),
//! `cluster-replica-validity-factor 0` (a replica can always fail over) and
//! `cluster-allow-replica-migration no` (a master emptied by a reshard stays an empty master
//! with its replica instead of turning into a replica, so slots can be moved back to it),
//! no persistence, and `repl-diskless-sync-delay 0` (a replica syncs at once, not after 5 s).

use std::fmt;
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;
const NODES: usize = 6;
const NODE_TIMEOUT_MS: &str = "2000";
/// Cluster and bus ports are both below 65535 and distinct from each other.
const MAX_PORT: u16 = 55000;
const BUS_PORT_OFFSET: u16 = 10000;
/// Deadline of every wait on the cluster's state.
const WAIT: Duration = Duration::from_secs(30);
/// Deadline of a server's start (until it answers).
const START: Duration = Duration::from_secs(10);
/// Interval between two observations while waiting.
const POLL: Duration = Duration::from_millis(50);
/// Deadline of one redis-cli command against one node.
const QUERY: Duration = Duration::from_secs(5);
/// Deadline of `redis-cli --cluster create` / `reshard`.
const CLUSTER_COMMAND: Duration = Duration::from_secs(180);

/// A local Redis Cluster of 3 masters + 3 replicas on free loopback ports.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Mutex<Vec<Node>>,
    /// Serialises topology changes (reshards, manual failovers) of this cluster.
    topology: Mutex<()>,
    /// Removes `dir` when the test process exits (the shared cluster is never dropped).
    _dir_watchdog: Watchdog,
}

/// One node as `CLUSTER NODES` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub port: u16,
    pub id: String,
    pub master: bool,
    /// The master of a replica (`None` for a master).
    pub master_id: Option<String>,
}

impl RedisCluster {
    /// One cluster per test process, started on first use, shared by every test of that process;
    /// its redis-servers are killed when the test process exits (by a watchdog process per server).
    pub fn shared() -> &'static RedisCluster {
        static SHARED: OnceLock<RedisCluster> = OnceLock::new();
        SHARED.get_or_init(RedisCluster::start)
    }

    /// A private cluster for fault tests (killing/pausing nodes); every process stopped on Drop
    /// (and by the watchdogs if the test process dies first).
    pub fn start() -> RedisCluster {
        let dir = new_temp_dir();
        let cluster = RedisCluster {
            _dir_watchdog: Watchdog::spawn(&remove_when_servers_are_gone(&dir)),
            dir,
            nodes: Mutex::new(Vec::new()),
            topology: Mutex::new(()),
        };
        for port in free_ports(NODES) {
            let node = cluster.launch_on_some_port(port);
            cluster.lock().push(node);
        }
        cluster.create();
        cluster.wait_ok();
        cluster.wait_replicas_up();
        cluster
    }

    /// Seed URLs of the masters, comma-separated: "redis://127.0.0.1:P1,redis://127.0.0.1:P2,…"
    /// (the running masters the cluster knows now).
    pub fn url(&self) -> String {
        let live = self.live_ports();
        let seeds: Vec<String> = self
            .masters()
            .iter()
            .filter(|m| live.contains(&m.port))
            .map(|m| format!("redis://127.0.0.1:{}", m.port))
            .collect();
        assert!(!seeds.is_empty(), "RedisCluster::url: no running master in {self:?}");
        seeds.join(",")
    }

    /// Current topology as CLUSTER NODES on a live node reports it, sorted by port
    /// (failed nodes included; nodes still in a handshake left out).
    pub fn nodes(&self) -> Vec<ClusterNode> {
        self.view().into_iter().map(|e| e.node).collect()
    }

    /// The masters of [`nodes`](Self::nodes) not flagged `fail` (a master emptied by a reshard
    /// is one; a dead master replaced by its replica is not).
    pub fn masters(&self) -> Vec<ClusterNode> {
        self.view().into_iter().filter(|e| e.node.master && !e.failed()).map(|e| e.node).collect()
    }

    /// The master serving `slot` (0..16384) now, as a live node sees it.
    pub fn master_of_slot(&self, slot: u16) -> ClusterNode {
        assert!(slot < SLOTS, "master_of_slot({slot}): a slot is below {SLOTS}");
        let view = self.view();
        view.iter()
            .find(|e| e.node.master && e.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .map(|e| e.node.clone())
            .unwrap_or_else(|| panic!("master_of_slot({slot}): no master serves it in {}", describe_view(&view)))
    }

    /// Moves every slot of master `from` to master `to` (`redis-cli --cluster reshard`, keys
    /// included); returns when done and [`wait_ok`](Self::wait_ok) holds.
    pub fn move_all_slots(&self, from: u16, to: u16) {
        let _topology = lock(&self.topology);
        self.wait_ok();
        let count = self.slot_count(from);
        self.reshard(from, to, count);
    }

    /// Moves `count` slots from master `from` to master `to` (same mechanism), for resharding
    /// while load runs; returns when done and [`wait_ok`](Self::wait_ok) holds.
    pub fn move_slots(&self, from: u16, to: u16, count: u32) {
        let _topology = lock(&self.topology);
        self.wait_ok();
        let have = self.slot_count(from);
        assert!(count <= have, "move_slots({from}, {to}, {count}): {from} only has {have} slots");
        self.reshard(from, to, count);
    }

    /// SIGKILL of the server on `port` (only processes this harness started).
    pub fn kill(&self, port: u16) {
        let replicas = self.replicas_of(port);
        let mut nodes = self.lock();
        let node = find(&mut nodes, port);
        let mut server = node.server.take().unwrap_or_else(|| panic!("kill({port}): it is not running"));
        // Child::kill is SIGKILL, which also ends a stopped process.
        let _ = server.kill();
        let _ = server.wait();
        node.watchdog = None; // its pid is gone: the watchdog must not kill a reused one later
        node.paused = false;
        node.replicas_when_stopped = replicas;
    }

    /// SIGSTOP of the server on `port`: it stays up but answers nobody.
    pub fn pause(&self, port: u16) {
        let replicas = self.replicas_of(port);
        let mut nodes = self.lock();
        let node = find(&mut nodes, port);
        assert!(!node.paused, "pause({port}): it is already paused");
        signal(node.pid(), "STOP");
        node.paused = true;
        node.replicas_when_stopped = replicas;
    }

    /// SIGCONT of a paused server (returns at once; [`wait_ok`](Self::wait_ok) waits for the
    /// cluster to settle).
    pub fn resume(&self, port: u16) {
        let mut nodes = self.lock();
        let node = find(&mut nodes, port);
        assert!(node.paused, "resume({port}): it is not paused");
        signal(node.pid(), "CONT");
        node.paused = false;
    }

    /// Restarts a killed node with its old config file; returns when it has rejoined
    /// ([`wait_ok`](Self::wait_ok), and every replica's link to its master up).
    pub fn restart(&self, port: u16) {
        let killed = find(&mut self.lock(), port).server.is_none();
        assert!(killed, "restart({port}): it is running (kill it first)");
        let node = self.launch(port).unwrap_or_else(|seen| panic!("restart({port}): {seen}"));
        *find(&mut self.lock(), port) = node;
        self.wait_ok();
        self.wait_replicas_up();
    }

    /// `CLUSTER FAILOVER` on replica `replica_port` (manual failover); returns when it is master,
    /// [`wait_ok`](Self::wait_ok) holds and every replica's link to its master is up.
    pub fn manual_failover(&self, replica_port: u16) {
        let _topology = lock(&self.topology);
        self.wait_ok();
        self.wait_replicas_up();
        let role = own_role(replica_port).unwrap_or_else(|seen| panic!("manual_failover({replica_port}): {seen}"));
        assert_eq!(role, Role::Replica, "manual_failover({replica_port}): it is not a replica");
        let answer = query(replica_port, &["CLUSTER", "FAILOVER"])
            .unwrap_or_else(|seen| panic!("manual_failover({replica_port}): {seen}"));
        assert_eq!(answer.trim(), "OK", "manual_failover({replica_port}): CLUSTER FAILOVER answered");
        poll(&format!("manual failover to {replica_port}"), WAIT, || match own_role(replica_port)? {
            Role::Master => Ok(()),
            Role::Replica => Err(format!("{replica_port} still reports itself a replica")),
        });
        self.wait_ok();
        self.wait_replicas_up();
    }

    /// Waits (at most ~30 s, then panics with what it last saw) until every live node reports
    /// `cluster_state:ok`, `cluster_slots_assigned:16384` and `cluster_slots_ok:16384`, the live
    /// nodes agree on which master owns each slot and on every live node's role (master, or
    /// replica of which master), every owner is a live node, and no live node is flagged
    /// failing (`fail`/`fail?`) by another. "Live": started by this harness, not killed or paused.
    pub fn wait_ok(&self) {
        poll("cluster ok", WAIT, || self.check_ok());
    }

    /// Waits until a replica of the dead (killed or paused) master `port` has been promoted and
    /// [`wait_ok`](Self::wait_ok) holds; returns the new master.
    pub fn wait_failover_of(&self, port: u16) -> ClusterNode {
        let replicas = {
            let mut nodes = self.lock();
            let node = find(&mut nodes, port);
            assert!(node.server.is_none() || node.paused, "wait_failover_of({port}): it is running");
            node.replicas_when_stopped.clone()
        };
        assert!(!replicas.is_empty(), "wait_failover_of({port}): it had no replica when it was stopped");
        let promoted = poll(&format!("failover of {port}"), WAIT, || {
            let live = self.live_ports();
            let mut seen = Vec::new();
            for &replica in replicas.iter().filter(|p| live.contains(p)) {
                match own_role(replica)? {
                    Role::Master => return Ok(replica),
                    Role::Replica => seen.push(format!("{replica} is still a replica")),
                }
            }
            Err(format!("replicas {replicas:?}: {}", seen.join(", ")))
        });
        self.wait_ok();
        self.nodes().into_iter().find(|n| n.port == promoted).expect("the promoted replica is in CLUSTER NODES")
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args>` and returns its stdout (an error reply is
    /// printed there too); panics if redis-cli fails (e.g. cannot connect) or takes over 5 s.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let output = run(redis_cli(port, args), QUERY).unwrap_or_else(|seen| panic!("{seen}"));
        assert!(output.status.success(), "redis-cli -p {port} {args:?} failed: {}", describe_output(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

// ---- cluster state ----------------------------------------------------------------------------

impl RedisCluster {
    fn lock(&self) -> MutexGuard<'_, Vec<Node>> {
        lock(&self.nodes)
    }

    /// Ports of the servers this harness has running and not paused, ascending.
    fn live_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.lock().iter().filter(|n| n.is_live()).map(|n| n.port).collect();
        ports.sort_unstable();
        ports
    }

    /// CLUSTER NODES of the first live node that answers, sorted by port.
    fn view(&self) -> Vec<Entry> {
        self.try_view().unwrap_or_else(|seen| panic!("{seen}"))
    }

    fn try_view(&self) -> Result<Vec<Entry>, String> {
        let mut seen = Vec::new();
        for port in self.live_ports() {
            match query(port, &["CLUSTER", "NODES"]) {
                Ok(text) => return Ok(parse_nodes(&text)),
                Err(e) => seen.push(e),
            }
        }
        Err(format!("CLUSTER NODES: no live node answered: {seen:?}"))
    }

    fn slot_count(&self, master: u16) -> u32 {
        let view = self.view();
        let entry = view.iter().find(|e| e.node.port == master && e.node.master);
        let entry = entry.unwrap_or_else(|| panic!("{master} is not a master in {}", describe_view(&view)));
        entry.slots.iter().map(|&(a, b)| u32::from(b - a) + 1).sum()
    }

    /// The replicas `port` has now if it is a master, as a live node sees it.
    fn replicas_of(&self, port: u16) -> Vec<u16> {
        let view = self.try_view().unwrap_or_default();
        let Some(id) = view.iter().find(|e| e.node.port == port && e.node.master).map(|e| &e.node.id) else {
            return Vec::new();
        };
        view.iter().filter(|e| e.node.master_id.as_ref() == Some(id)).map(|e| e.node.port).collect()
    }

    fn check_ok(&self) -> Result<(), String> {
        let live = self.live_ports();
        let mut agreed: Option<(u16, Picture)> = None;
        for &port in &live {
            let picture = picture_of(port, &live)?;
            match &agreed {
                None => agreed = Some((port, picture)),
                Some((first, theirs)) if theirs.owners != picture.owners => {
                    let (a, b) = (describe_owners(&theirs.owners), describe_owners(&picture.owners));
                    return Err(format!("nodes disagree on slot owners: {first} says {a}; {port} says {b}"));
                }
                Some((first, theirs)) if theirs.roles != picture.roles => {
                    let (a, b) = (&theirs.roles, &picture.roles);
                    return Err(format!(
                        "nodes disagree on roles (port, master of): {first} says {a:?}; {port} says {b:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        agreed.map(|_| ()).ok_or_else(|| "no live node".to_owned())
    }

    /// Waits until every live replica reports `master_link_status:up` (INFO replication).
    fn wait_replicas_up(&self) {
        poll("replication links up", WAIT, || {
            for port in self.live_ports() {
                if own_role(port)? == Role::Replica {
                    let info = query(port, &["INFO", "replication"])?;
                    let link = info_field(&info, "master_link_status").unwrap_or("?");
                    if link != "up" {
                        return Err(format!("replica {port} reports master_link_status:{link}"));
                    }
                }
            }
            Ok(())
        });
    }
}

// ---- starting servers and the cluster ---------------------------------------------------------

impl RedisCluster {
    /// Launches a new node on `port`, or on fresh ports if that one was taken meanwhile.
    fn launch_on_some_port(&self, mut port: u16) -> Node {
        let mut seen = Vec::new();
        for _ in 0..5 {
            match self.launch(port) {
                Ok(node) => return node,
                Err(e) => seen.push(e),
            }
            port = free_ports(1)[0];
        }
        panic!("cannot start a redis-server: {seen:#?}");
    }

    /// Starts `redis-server` on `port` with its watchdog and waits until it answers (Err if it
    /// exits first, e.g. because the port is taken).
    fn launch(&self, port: u16) -> Result<Node, String> {
        let server = self.spawn_server(port);
        let watchdog = Watchdog::spawn(&format!("kill -9 {}", server.id()));
        let mut node = Node {
            port,
            server: Some(server),
            watchdog: Some(watchdog),
            paused: false,
            replicas_when_stopped: Vec::new(),
        };
        let pid = format!("process_id:{}", node.pid());
        let deadline = Instant::now() + START;
        loop {
            if let Ok(Some(status)) = node.server.as_mut().map_or(Ok(None), Child::try_wait) {
                return Err(format!("redis-server on {port} exited ({status}): {}", self.log_tail(port)));
            }
            // Our server answering, not another process that had the port.
            match query(port, &["INFO", "server"]) {
                Ok(info) if info.lines().any(|l| l == pid) => return Ok(node),
                Ok(_) => return Err(format!("port {port} is answered by another redis-server")),
                Err(seen) if Instant::now() >= deadline => {
                    panic!(
                        "redis-server on {port} does not answer after {START:?}: {seen}; log: {}",
                        self.log_tail(port)
                    )
                }
                Err(_) => thread::sleep(POLL),
            }
        }
    }

    fn spawn_server(&self, port: u16) -> Child {
        let log = self.dir.join(format!("{port}.log"));
        let stderr = File::options().create(true).append(true).open(self.dir.join(format!("{port}.stderr")));
        let stderr = stderr.unwrap_or_else(|e| panic!("cannot create a file in {}: {e}", self.dir.display()));
        let conf = format!("nodes-{port}.conf");
        let port = port.to_string();
        #[rustfmt::skip]
        let args = [
            "--port", &port, "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-config-file", &conf,
            "--cluster-node-timeout", NODE_TIMEOUT_MS,
            "--cluster-replica-validity-factor", "0",
            "--cluster-allow-replica-migration", "no",
            "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0",
            "--dir", path_str(&self.dir), "--logfile", path_str(&log),
            "--daemonize", "no", "--protected-mode", "no",
        ];
        Command::new("redis-server")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server (is it installed?): {e}"))
    }

    fn log_tail(&self, port: u16) -> String {
        let mut text = String::new();
        for file in [format!("{port}.stderr"), format!("{port}.log")] {
            let content = fs::read_to_string(self.dir.join(file)).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            text += &lines[lines.len().saturating_sub(5)..].join("\n");
        }
        text
    }

    /// `redis-cli --cluster create` of the six nodes, one replica per master.
    fn create(&self) {
        let addresses: Vec<String> = self.live_ports().iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut command = Command::new("redis-cli");
        command.args(["--cluster", "create"]).args(&addresses).args(["--cluster-replicas", "1", "--cluster-yes"]);
        check_cluster_command(command);
    }

    /// `redis-cli --cluster reshard` of `count` slots from master `from` to master `to`, then wait_ok.
    fn reshard(&self, from: u16, to: u16, count: u32) {
        if count > 0 {
            let id = |port: u16| {
                let view = self.view();
                let entry = view.iter().find(|e| e.node.port == port && e.node.master);
                entry
                    .map(|e| e.node.id.clone())
                    .unwrap_or_else(|| panic!("{port} is not a master in {}", describe_view(&view)))
            };
            let (from_id, to_id) = (id(from), id(to));
            let mut command = Command::new("redis-cli");
            command.args(["--cluster", "reshard", &format!("127.0.0.1:{from}")]);
            command.args(["--cluster-from", &from_id, "--cluster-to", &to_id, "--cluster-slots", &count.to_string()]);
            command.arg("--cluster-yes");
            check_cluster_command(command);
        }
        self.wait_ok();
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.lock().clear(); // kills every server (Node::drop) and its watchdog
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RedisCluster");
        debug.field("dir", &self.dir);
        match self.nodes.try_lock() {
            Ok(nodes) => debug.field("nodes", &*nodes),
            Err(_) => debug.field("nodes", &"<locked>"),
        };
        debug.finish()
    }
}

// ---- processes --------------------------------------------------------------------------------

/// A redis-server this harness started (`server` is `None` once killed).
#[derive(Debug)]
struct Node {
    port: u16,
    server: Option<Child>,
    watchdog: Option<Watchdog>,
    paused: bool,
    /// The replicas this node had when the harness killed or paused it (for wait_failover_of).
    replicas_when_stopped: Vec<u16>,
}

impl Node {
    fn is_live(&self) -> bool {
        self.server.is_some() && !self.paused
    }

    fn pid(&self) -> u32 {
        self.server.as_ref().map(Child::id).unwrap_or_else(|| panic!("the server on {} is not running", self.port))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        // then `watchdog` is dropped, which kills it
    }
}

/// `sh -c 'tail --pid=<test pid> -f /dev/null; <then>'`: runs `then` once the test process has
/// exited, however it exits. In a process group of its own, so that dropping it (the harness
/// cleaned up itself) kills both the shell and its `tail`.
#[derive(Debug)]
struct Watchdog(Child);

impl Watchdog {
    fn spawn(then: &str) -> Watchdog {
        let script = format!("tail --pid={} -f /dev/null; {then}", std::process::id());
        let child = Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn the watchdog `{script}`: {e}"));
        Watchdog(child)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
    assert!(matches!(status, Ok(s) if s.success()), "kill -{signal} {pid}: {status:?}");
}

/// Runs `command` to its end, killing it after `timeout`.
fn run(mut command: Command, timeout: Duration) -> Result<Output, String> {
    let what = format!("{command:?}");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    thread::spawn(move || done.send(child.wait_with_output()));
    match outcome.recv_timeout(timeout) {
        Ok(output) => output.map_err(|e| format!("{what}: {e}")),
        Err(_) => {
            // Not reaped yet (its waiter has not returned), so the pid is still this child's.
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let output = outcome.recv().ok().and_then(Result::ok);
            Err(format!(
                "{what}: no end within {timeout:?}; {}",
                output.as_ref().map(describe_output).unwrap_or_default()
            ))
        }
    }
}

fn redis_cli(port: u16, args: &[&str]) -> Command {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args);
    command
}

/// One command against one node: its raw reply, or Err (cannot connect, error reply, timeout).
fn query(port: u16, args: &[&str]) -> Result<String, String> {
    let mut command = redis_cli(port, &["-e"]);
    command.args(args);
    let output = run(command, QUERY)?;
    if !output.status.success() {
        return Err(format!("redis-cli -p {port} {args:?}: {}", describe_output(&output)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).replace('\r', ""))
}

fn check_cluster_command(command: Command) {
    let what = format!("{command:?}");
    let output = run(command, CLUSTER_COMMAND).unwrap_or_else(|seen| panic!("{seen}"));
    assert!(output.status.success(), "{what} failed: {}", describe_output(&output));
}

fn describe_output(output: &Output) -> String {
    let text = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    format!("{}; stdout: {}; stderr: {}", output.status, text(&output.stdout), text(&output.stderr))
}

// ---- CLUSTER NODES ----------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Role {
    Master,
    Replica,
}

/// What `port` says of itself (the `myself` line of its CLUSTER NODES).
fn own_role(port: u16) -> Result<Role, String> {
    let view = parse_nodes(&query(port, &["CLUSTER", "NODES"])?);
    match view.iter().find(|e| e.flags.iter().any(|f| f == "myself")) {
        Some(e) if e.node.master => Ok(Role::Master),
        Some(_) => Ok(Role::Replica),
        None => Err(format!("{port}: no `myself` in CLUSTER NODES")),
    }
}

/// What one node reports of the cluster, for [`RedisCluster::wait_ok`].
#[derive(Debug)]
struct Picture {
    owners: Vec<Owner>,
    /// Each live node's port and the port of its master (`None`: it is a master).
    roles: Vec<(u16, Option<u16>)>,
}

/// `port`'s picture, or Err if it does not report a healthy cluster: cluster_state ok, all
/// slots assigned and ok, every slot on a live master, every live node known and not failing.
fn picture_of(port: u16, live: &[u16]) -> Result<Picture, String> {
    let info = query(port, &["CLUSTER", "INFO"])?;
    for (field, want) in [("cluster_state", "ok"), ("cluster_slots_assigned", "16384"), ("cluster_slots_ok", "16384")] {
        let got = info_field(&info, field).unwrap_or("?");
        if got != want {
            return Err(format!("node {port} reports {field}:{got}"));
        }
    }
    let view = parse_nodes(&query(port, &["CLUSTER", "NODES"])?);
    let owners = slot_owners(&view).map_err(|e| format!("node {port}: {e}"))?;
    if let Some(dead) = owners.iter().find(|o| !live.contains(&o.port)) {
        return Err(format!(
            "node {port}: slots {}-{} are on {}, which is not running",
            dead.first, dead.last, dead.port
        ));
    }
    let mut roles = Vec::new();
    for &other in live {
        let entry = view.iter().find(|e| e.node.port == other);
        let entry = entry.ok_or_else(|| format!("node {port} does not know {other}: {}", describe_view(&view)))?;
        if entry.flags.iter().any(|f| f == "fail" || f == "fail?") {
            return Err(format!("node {port} flags {other} {:?}", entry.flags));
        }
        let master =
            entry.node.master_id.as_ref().map(|id| view.iter().find(|e| &e.node.id == id).map_or(0, |e| e.node.port));
        roles.push((other, master));
    }
    Ok(Picture { owners, roles })
}

/// One line of CLUSTER NODES.
#[derive(Debug)]
struct Entry {
    node: ClusterNode,
    flags: Vec<String>,
    /// Served slot ranges (inclusive); migrating/importing markers left out.
    slots: Vec<(u16, u16)>,
}

impl Entry {
    fn failed(&self) -> bool {
        self.flags.iter().any(|f| f == "fail")
    }
}

/// Parses `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>…` lines.
fn parse_nodes(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = text.lines().filter_map(parse_node_line).collect();
    entries.sort_by_key(|e| e.node.port);
    entries
}

fn parse_node_line(line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [id, address, flags, master_id, _ping, _pong, _epoch, _link, slots @ ..] = fields.as_slice() else {
        return None;
    };
    let flags: Vec<String> = flags.split(',').map(str::to_owned).collect();
    if flags.iter().any(|f| f == "handshake" || f == "noaddr") {
        return None;
    }
    let port = address.split('@').next()?.rsplit(':').next()?.parse().ok()?;
    let slots = slots.iter().filter(|s| !s.starts_with('[')).filter_map(|s| parse_range(s)).collect();
    let node = ClusterNode {
        port,
        id: (*id).to_owned(),
        master: flags.iter().any(|f| f == "master"),
        master_id: (*master_id != "-").then(|| (*master_id).to_owned()),
    };
    Some(Entry { node, flags, slots })
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => text.parse().ok().map(|s| (s, s)),
    }
}

/// A range of slots and the master serving it, as one node sees it.
#[derive(Debug, PartialEq, Eq)]
struct Owner {
    first: u16,
    last: u16,
    id: String,
    port: u16,
}

/// Every slot's master in one node's view, as maximal ranges; Err if a slot has none or two.
fn slot_owners(view: &[Entry]) -> Result<Vec<Owner>, String> {
    let mut owner: Vec<Option<usize>> = vec![None; usize::from(SLOTS)];
    for (index, entry) in view.iter().enumerate().filter(|(_, e)| e.node.master) {
        for &(first, last) in &entry.slots {
            for slot in first..=last.min(SLOTS - 1) {
                if let Some(other) = owner[usize::from(slot)].replace(index) {
                    return Err(format!("slot {slot} on both {} and {}", view[other].node.port, entry.node.port));
                }
            }
        }
    }
    let mut owners: Vec<Owner> = Vec::new();
    for (slot, index) in (0..SLOTS).zip(owner) {
        let entry = &view[index.ok_or_else(|| format!("slot {slot} has no master"))?];
        match owners.last_mut() {
            Some(range) if range.id == entry.node.id => range.last = slot,
            _ => owners.push(Owner { first: slot, last: slot, id: entry.node.id.clone(), port: entry.node.port }),
        }
    }
    Ok(owners)
}

fn describe_owners(owners: &[Owner]) -> String {
    let ranges: Vec<String> = owners.iter().map(|o| format!("{}-{}→{}", o.first, o.last, o.port)).collect();
    ranges.join(" ")
}

fn describe_view(view: &[Entry]) -> String {
    let lines: Vec<String> = view
        .iter()
        .map(|e| {
            format!("{} {} {:?} master_id={:?} slots={:?}", e.node.port, e.node.id, e.flags, e.node.master_id, e.slots)
        })
        .collect();
    lines.join("; ")
}

fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')).map(str::trim)
}

// ---- helpers ----------------------------------------------------------------------------------

/// The cluster hash slot of a key (CRC16/XMODEM of the hash tag, mod 16384), as Redis computes it.
pub fn key_slot(key: &str) -> u16 {
    crc16(hash_tag(key.as_bytes())) % SLOTS
}

/// The part of a key Redis hashes: what is between the first `{` and the next `}` if that is
/// not empty, else the whole key.
fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else { return key };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(len) if len > 0 => &key[open + 1..open + 1 + len],
        _ => key,
    }
}

/// CRC16/XMODEM (polynomial 0x1021, initial value 0), the one Redis Cluster uses.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0, |crc, &byte| {
        (0..8)
            .fold(crc ^ (u16::from(byte) << 8), |crc, _| if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 })
    })
}

/// Calls `check` every [`POLL`] until it gives Ok, or panics after `timeout` with its last Err.
fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("{what}: not reached within {timeout:?}; last seen: {seen}")
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn find(nodes: &mut [Node], port: u16) -> &mut Node {
    nodes.iter_mut().find(|n| n.port == port).unwrap_or_else(|| panic!("port {port} is not a node of this cluster"))
}

/// `n` distinct ports below 55000 whose bus port (+10000) is free as well. The listeners are
/// held until all are picked, so no two picks (nor a pick and a bus port) coincide.
fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..10_000 {
        if ports.len() == n {
            return ports;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        held.push(listener);
        if port < MAX_PORT
            && let Ok(bus) = TcpListener::bind(("127.0.0.1", port + BUS_PORT_OFFSET))
        {
            held.push(bus);
            ports.push(port);
        }
    }
    panic!("no {n} free port pairs (P, P+{BUS_PORT_OFFSET}) below {MAX_PORT}; found {ports:?}");
}

/// A new directory under the system temp dir, for one cluster's config files and logs.
fn new_temp_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name =
        format!("goodrobot-redis-cluster-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let dir = std::env::temp_dir().join(name);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// Shell code removing `dir` once the servers (killed by their own watchdogs at about the same
/// time) stop writing into it: `rm -rf` again while a dying server recreated a log file in it.
fn remove_when_servers_are_gone(dir: &Path) -> String {
    let dir = sh_quote(dir);
    format!("for _ in 1 2 3 4 5 6 7 8 9 10; do rm -rf {dir}; [ -e {dir} ] || break; sleep 0.5; done")
}

/// `path` as one single-quoted shell word.
fn sh_quote(path: &Path) -> String {
    format!("'{}'", path_str(path).replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_are_the_ones_redis_computes() {
        assert_eq!(key_slot("foo"), 12_182);
        assert_eq!(key_slot("123456789"), 0x31C3 % SLOTS);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(key_slot("foo{{bar}}zap"), key_slot("{bar"));
        assert_eq!(key_slot("foo{bar}{zap}"), key_slot("bar"));
        assert_eq!(key_slot(""), 0);
    }

    #[test]
    fn cluster_nodes_lines_are_parsed() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
e7d1 127.0.0.1:30001@40001,host myself,master - 0 0 1 connected 0-5460 [5461->-67ed]
67ed 127.0.0.1:30002@40002 master,fail - 0 1426238316232 2 disconnected
";
        let view = parse_nodes(text);
        assert_eq!(view.iter().map(|e| e.node.port).collect::<Vec<_>>(), [30001, 30002, 30004]);
        assert_eq!(view[0].slots, [(0, 5460)]);
        assert!(view[0].node.master && view[1].failed() && !view[2].node.master);
        assert_eq!(view[2].node.master_id.as_deref(), Some("e7d1"));
        assert_eq!(slot_owners(&view), Err("slot 5461 has no master".to_owned()));
    }
}
