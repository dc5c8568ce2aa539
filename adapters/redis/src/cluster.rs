//! Redis Cluster: finding out whether the server is one, the cluster client (it follows
//! MOVED/ASK and refreshes its slot map by itself), pipelines split by hash slot, where a
//! slot lives (for the blocking waits, which need a connection of their own on that node),
//! and the cluster's health as `/ready` reports it.

use redis::{
    Arg, Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisResult, Value,
    aio::ConnectionLike,
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo},
};
use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

/// Whether the URL list names a cluster: forced by `REDIS_CLUSTER`, else asked of the first
/// seed that answers (`INFO cluster` → `cluster_enabled:1`).
///
/// # Errors
/// No seed answered within `timeout` (described, without the URL).
pub(crate) async fn detect(seeds: &[ConnectionInfo], timeout: Duration) -> Result<bool, String> {
    let mut last = "no seed node given".to_owned();
    for seed in seeds {
        let probe = async {
            let client = redis::Client::open(seed.clone())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("INFO").arg("cluster").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(Ok(info)) => return Ok(info_field(&info, "cluster_enabled") == Some("1")),
            Ok(Err(e)) => last = crate::redis_error_kind(&e),
            Err(_) => last = "timeout: no answer to INFO cluster".to_owned(),
        }
    }
    Err(last)
}

/// The seed list of `REDIS_URL`: one URL or several separated by commas.
///
/// # Errors
/// A URL that does not parse (described, without the URL).
pub(crate) fn seeds(urls: &str) -> Result<Vec<ConnectionInfo>, String> {
    let seeds: Vec<ConnectionInfo> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| u.into_connection_info().map_err(|e| crate::redis_error_kind(&e)))
        .collect::<Result<_, _>>()?;
    if seeds.is_empty() { Err("no URL given".to_owned()) } else { Ok(seeds) }
}

/// The async cluster connection (shared by every caller: it multiplexes per node).
///
/// # Errors
/// No seed answered, or the cluster's slot map could not be read.
pub(crate) async fn connect(seeds: Vec<ConnectionInfo>, connect_timeout: Duration) -> RedisResult<ClusterConnection> {
    ClusterClient::builder(seeds)
        .connection_timeout(connect_timeout)
        .response_timeout(Duration::from_secs(5))
        .retries(8)
        .min_retry_wait(20)
        .max_retry_wait(500)
        .build()?
        .get_async_connection()
        .await
}

/// `field:value` of an `INFO` / `CLUSTER INFO` reply.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.trim_end().strip_prefix(field)?.strip_prefix(':'))
}

/// The hash slot of `key` as Redis Cluster computes it: CRC16/XMODEM of the hash tag (the
/// text between the first `{` and the next `}`, if not empty) or of the whole key, mod 16384.
pub fn key_slot(key: impl AsRef<[u8]>) -> u16 {
    let key = key.as_ref();
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let len = rest.iter().position(|&b| b == b'}')?;
            (len > 0).then(|| &rest[..len])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % 16_384
}

/// The hash slot of a command's first key (`None`: a command without keys).
pub(crate) fn command_slot(cmd: &Cmd) -> Option<u16> {
    let mut args = cmd.args_iter().filter_map(|a| match a {
        Arg::Simple(s) => Some(s),
        _ => None,
    });
    let name = args.next()?.to_ascii_uppercase();
    let key = match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let _script = args.next()?;
            let numkeys = args.next()?;
            if numkeys == b"0" {
                return None;
            }
            args.next()?
        }
        b"PING" | b"INFO" | b"CLUSTER" | b"CLIENT" | b"SCRIPT" | b"TIME" | b"MULTI" | b"EXEC" | b"DBSIZE" | b"SCAN"
        | b"FLUSHDB" | b"FLUSHALL" | b"CONFIG" | b"HELLO" | b"AUTH" | b"SELECT" | b"WAIT" => return None,
        _ => args.next()?,
    };
    Some(key_slot(key))
}

/// Runs `pipeline` on the cluster. A pipeline whose commands touch several slots (not a
/// transaction: MULTI/EXEC is always one slot) is sent as one sub-pipeline per slot, all at
/// once, and the replies are put back in the order of the commands; each sub-pipeline is
/// atomic per slot as far as scripts go, nothing more (a cluster has no cross-slot atomicity).
/// A command without keys goes with the command before it (so `WAIT` after a write reaches
/// the node that took the write).
pub(crate) async fn pipeline(
    conn: &mut ClusterConnection,
    pipeline: &Pipeline,
    offset: usize,
    count: usize,
) -> RedisResult<Vec<Value>> {
    if pipeline.is_transaction() {
        return conn.req_packed_commands(pipeline, offset, count).await;
    }
    let mut groups: Vec<(Option<u16>, Vec<usize>)> = Vec::new();
    let mut previous = None;
    for (i, cmd) in pipeline.cmd_iter().enumerate() {
        // A command without keys (e.g. WAIT) goes with the command before it.
        let slot = command_slot(cmd).or(previous);
        previous = slot;
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, members)) => members.push(i),
            None => groups.push((slot, vec![i])),
        }
    }
    if groups.len() <= 1 {
        return conn.req_packed_commands(pipeline, offset, count).await;
    }
    let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
    let runs = groups.iter().map(|(_, members)| {
        let mut sub = redis::pipe();
        for &i in members {
            sub.add_command(commands[i].clone());
        }
        let mut conn = conn.clone();
        async move { conn.req_packed_commands(&sub, 0, sub.len()).await }
    });
    let replies = futures::future::try_join_all(runs).await?;
    let mut out = vec![Value::Nil; commands.len()];
    for ((_, members), reply) in groups.iter().zip(replies) {
        for (&i, value) in members.iter().zip(reply) {
            out[i] = value;
        }
    }
    Ok(out.into_iter().skip(offset).take(count).collect())
}

/// `SCRIPT LOAD` on every node (a pipeline would reach one node only).
/// All at once, so a fresh connection pays one round trip, not one per script.
pub(crate) async fn load_scripts(conn: &mut ClusterConnection, codes: &[&str]) -> RedisResult<()> {
    let loads = codes.iter().map(|code| {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(*code);
        let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllNodes, Some(ResponsePolicy::AllSucceeded)));
        let mut conn = conn.clone();
        async move { conn.route_command(cmd, routing).await }
    });
    futures::future::try_join_all(loads).await?;
    Ok(())
}

/// A node of the cluster, as `CLUSTER NODES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterNodeInfo {
    pub host: String,
    pub port: u16,
    pub master: bool,
    /// The node marked itself or was marked failing (`fail`, `fail?`) or is not connected.
    pub failing: bool,
    /// Slot ranges it serves (masters).
    pub slots: Vec<(u16, u16)>,
}

impl ClusterNodeInfo {
    pub(crate) fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The cluster's nodes as one node sees them (`CLUSTER NODES`).
///
/// # Errors
/// No node answered (described).
pub(crate) async fn nodes(conn: &mut ClusterConnection) -> Result<Vec<ClusterNodeInfo>, String> {
    let text: String = conn
        .route_command(
            redis::cmd("CLUSTER").arg("NODES").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
        )
        .await
        .and_then(|v| redis::from_redis_value(v).map_err(Into::into))
        .map_err(|e| crate::redis_error_kind(&e))?;
    Ok(parse_nodes(&text))
}

/// Parses `CLUSTER NODES`.
pub(crate) fn parse_nodes(text: &str) -> Vec<ClusterNodeInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            // `host:port@bus[,hostname]`
            let addr = fields[1].split('@').next()?;
            let (host, port) = addr.rsplit_once(':')?;
            let flags = fields[2];
            let failing = flags.split(',').any(|f| matches!(f, "fail" | "fail?" | "noaddr" | "handshake"))
                || fields[7] != "connected";
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(ClusterNodeInfo {
                host: if host.is_empty() { "127.0.0.1".to_owned() } else { host.to_owned() },
                port: port.parse().ok()?,
                master: flags.split(',').any(|f| f == "master"),
                failing,
                slots,
            })
        })
        .collect()
}

/// Where each slot lives (masters), read from `CLUSTER SLOTS` when first needed and again
/// after a blocking wait met MOVED/ASK or a dead node.
#[derive(Debug, Default)]
pub(crate) struct SlotOwners {
    ranges: Mutex<Option<Vec<SlotRange>>>,
}

/// `(first slot, last slot, master host, master port)`.
type SlotRange = (u16, u16, String, u16);

impl SlotOwners {
    pub(crate) fn forget(&self) {
        *self.ranges.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// `(host, port)` of the master serving `slot`.
    pub(crate) async fn owner(&self, conn: &mut ClusterConnection, slot: u16) -> Result<(String, u16), String> {
        if let Some(found) = self.lookup(slot) {
            return Ok(found);
        }
        let reply = conn
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await
            .map_err(|e| crate::redis_error_kind(&e))?;
        let ranges = parse_slots(&reply);
        *self.ranges.lock().unwrap_or_else(PoisonError::into_inner) = Some(ranges);
        self.lookup(slot).ok_or_else(|| format!("no master serves slot {slot}"))
    }

    fn lookup(&self, slot: u16) -> Option<(String, u16)> {
        let ranges = self.ranges.lock().unwrap_or_else(PoisonError::into_inner);
        ranges.as_ref()?.iter().find(|r| r.0 <= slot && slot <= r.1).map(|r| (r.2.clone(), r.3))
    }
}

/// `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`.
fn parse_slots(reply: &Value) -> Vec<SlotRange> {
    let Value::Array(ranges) = reply else { return Vec::new() };
    ranges
        .iter()
        .filter_map(|r| {
            let Value::Array(parts) = r else { return None };
            let start = int(parts.first()?)?;
            let end = int(parts.get(1)?)?;
            let Value::Array(master) = parts.get(2)? else { return None };
            let host = match master.first()? {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                Value::SimpleString(s) => s.clone(),
                _ => return None,
            };
            let port = int(master.get(1)?)?;
            Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?, host, u16::try_from(port).ok()?))
        })
        .collect()
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// The connection info of `host:port` with everything else (user, password, database,
/// protocol) as the seed has it.
pub(crate) fn node_info(seed: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match seed.addr() {
        ConnectionAddr::Tcp(_, _) | ConnectionAddr::Unix(_) => ConnectionAddr::Tcp(host.to_owned(), port),
        other => {
            // TLS and other transports: same kind, other host and port.
            let mut other = other.clone();
            if let ConnectionAddr::TcpTls { host: h, port: p, .. } = &mut other {
                host.clone_into(h);
                *p = port;
            }
            other
        }
    };
    seed.clone().set_addr(addr)
}

/// Idle connections to nodes for blocking waits, by `host:port` (a few kept per node).
#[derive(Debug, Default)]
pub(crate) struct NodeConns {
    idle: Mutex<HashMap<(String, u16), Vec<redis::aio::MultiplexedConnection>>>,
}

impl NodeConns {
    const KEEP: usize = 16;

    pub(crate) fn take(&self, node: &(String, u16)) -> Option<redis::aio::MultiplexedConnection> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).get_mut(node)?.pop()
    }

    pub(crate) fn put(&self, node: (String, u16), conn: redis::aio::MultiplexedConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(node).or_default();
        if list.len() < Self::KEEP {
            list.push(conn);
        }
    }
}

/// How every error of [`health`] starts (its text names nodes, never secrets).
pub(crate) const HEALTH_PREFIX: &str = "cluster: ";

/// What is wrong with the cluster, naming the node, or `Ok` when every node answers, says
/// `cluster_state:ok`, and every slot is served by a live master.
pub(crate) async fn health(conn: &mut ClusterConnection) -> Result<(), String> {
    let nodes = nodes(conn).await.map_err(|e| format!("{HEALTH_PREFIX}CLUSTER NODES failed: {e}"))?;
    // A failing master that still owns slots: those slots are down until its replica takes over.
    if let Some(bad) = nodes.iter().find(|n| n.failing && n.master && !n.slots.is_empty()) {
        return Err(format!("{HEALTH_PREFIX}node {} is failing or disconnected and serves slots", bad.addr()));
    }
    let covered: u32 = nodes
        .iter()
        .filter(|n| n.master && !n.failing)
        .flat_map(|n| n.slots.iter().map(|(a, b)| u32::from(b - a) + 1))
        .sum();
    if covered != 16_384 {
        return Err(format!("{HEALTH_PREFIX}only {covered} of 16384 slots are served by a live master"));
    }
    // Nodes that failed and serve nothing (a replaced master, a replica) do not stop traffic:
    // they are only logged. Every live node must agree that the cluster is ok.
    for node in &nodes {
        if node.failing {
            tracing::warn!(node = %node.addr(), "a Redis Cluster node is failing (it serves no slots)");
            continue;
        }
        if !node.master {
            // A replica's state is in CLUSTER NODES' flags (failing or not), and the cluster
            // client keeps connections to masters only.
            continue;
        }
        let routing =
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: node.host.clone(), port: node.port });
        let info: String = conn
            .route_command(redis::cmd("CLUSTER").arg("INFO").clone(), routing)
            .await
            .and_then(|v| redis::from_redis_value(v).map_err(Into::into))
            .map_err(|e| {
                format!("{HEALTH_PREFIX}node {} does not answer: {}", node.addr(), crate::redis_error_kind(&e))
            })?;
        let state = info_field(&info, "cluster_state").unwrap_or("unknown");
        if state != "ok" {
            return Err(format!("{HEALTH_PREFIX}node {} says cluster_state:{state}", node.addr()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_of_a_script_call_is_its_first_key() {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg("abc").arg(2).arg("p:{q:a}:ready").arg("p:{q:a}:msg").arg("x");
        assert_eq!(command_slot(&cmd), Some(key_slot("q:a")));
        let mut keyless = redis::cmd("EVALSHA");
        keyless.arg("abc").arg(0).arg("x");
        assert_eq!(command_slot(&keyless), None);
        assert_eq!(command_slot(redis::cmd("HGETALL").arg("p:{t:1}:rec")), Some(key_slot("t:1")));
        assert_eq!(command_slot(&redis::cmd("PING")), None);
    }

    #[test]
    fn cluster_nodes_are_parsed_with_their_slots_and_failures() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master,fail - 0 1426238318243 3 disconnected 10923-16383
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461->-67ed]
";
        let nodes = parse_nodes(text);
        assert_eq!(nodes.len(), 4);
        assert!(!nodes[0].master);
        assert_eq!(nodes[1].slots, vec![(5461, 10922)]);
        assert!(nodes[2].failing);
        assert_eq!(nodes[3].slots, vec![(0, 5460)]);
        assert_eq!(nodes[3].addr(), "127.0.0.1:30001");
    }

    #[test]
    fn key_slots_are_redis_clusters() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(key_slot("foo"), 12_182);
        assert_eq!(key_slot("123456789"), 12_739);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
        assert_ne!(key_slot("foo{}{bar}"), key_slot("bar"));
    }

    #[test]
    fn info_fields_are_read() {
        let info = "# Cluster\r\ncluster_enabled:1\r\ncluster_state:ok\r\n";
        assert_eq!(info_field(info, "cluster_enabled"), Some("1"));
        assert_eq!(info_field(info, "cluster_state"), Some("ok"));
        assert_eq!(info_field(info, "cluster"), None);
    }

    #[test]
    fn seeds_are_split_on_commas() {
        let s = seeds("redis://127.0.0.1:7000, redis://:secret@127.0.0.1:7001").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].redis_settings().password(), Some("secret"));
        assert!(seeds(" , ").is_err());
    }

    #[test]
    fn a_tls_url_is_refused_at_start_up_while_tls_is_not_built_in() {
        let err = seeds("rediss://127.0.0.1:6380").unwrap_err();
        assert!(!err.is_empty());
    }
}
