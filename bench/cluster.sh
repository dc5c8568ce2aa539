#!/usr/bin/env bash
# One node against a local Redis Cluster, in one run: starts a cluster of 3 masters + 3
# replicas (redis-server --cluster-enabled yes on free loopback ports, in a temp dir, no
# persistence, like the machine's Redis), then runs goodrobot-bench REPS times in each
# configuration, one configuration after the other within a rep (the order rotates by one
# from rep to rep):
#   single-1q     REDIS_URL=$SINGLE_URL QUEUES=default
#   single-3q     REDIS_URL=$SINGLE_URL QUEUES=$QUEUES3
#   cluster-1q    REDIS_URL=<cluster seeds> QUEUES=default           (one queue: one master)
#   cluster-3q    REDIS_URL=<cluster seeds> QUEUES=$QUEUES3          (one queue per master)
#   cluster-3q-wait1   the same with REDIS_WAIT_REPLICAS=1           (durable enqueue)
# prints the medians and the ratios against single-1q, and stops the cluster (also on error).
# Raw JSON lines, the cluster's topology, ping round trips and load averages in $OUT.
#
# Usage: bench/cluster.sh [N] [REPS]
#   env: SINGLE_URL (default redis://127.0.0.1:6379), QUEUES3 (default alpha,bravo,charlie:
#   their slots 5871, 13345, 4529 fall on three different masters of a fresh 3-master
#   cluster; checked, the bench warns otherwise), LAT_N (default 1000), CONFIGS (default all
#   five above), BENCH_BIN (default: target/release/goodrobot-bench, built first), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
REPS=${2:-3}
SINGLE_URL=${SINGLE_URL:-redis://127.0.0.1:6379}
QUEUES3=${QUEUES3:-alpha,bravo,charlie}
LAT_N=${LAT_N:-1000}
CONFIGS=${CONFIGS:-single-1q single-3q cluster-1q cluster-3q cluster-3q-wait1}
out=${OUT:-target/bench-cluster-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
else
  cargo build --release --quiet -p goodrobot-bench
  bin=target/release/goodrobot-bench
fi

dir=$(mktemp -d /tmp/grbench-cluster.XXXXXX)
ports=()
stop_cluster() {
  local pids=()
  for p in "${ports[@]}"; do
    if [ -s "$dir/$p/redis.pid" ]; then pids+=("$(cat "$dir/$p/redis.pid")"); fi
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir"
}
trap stop_cluster EXIT

# Six free ports whose cluster bus ports (+10000) are free too.
read -r -a ports < <(python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
got = []
while len(got) < 6:
    p = random.randint(20000, 45000)
    if all(abs(p - q) not in (0, 10000) for q in got) and free(p) and free(p + 10000):
        got.append(p)
print(*got)
PY
)
for p in "${ports[@]}"; do
  mkdir -p "$dir/$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --dir "$dir/$p" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
done
for p in "${ports[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes \
  >"$out/cluster-create.log" 2>&1
# Ready: every node sees cluster_state:ok and every master has its replica linked.
deadline=$((SECONDS + 60))
until {
  ok=1
  for p in "${ports[@]}"; do
    redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || ok=0
    if redis-cli -p "$p" info replication | grep -q '^role:master'; then
      redis-cli -p "$p" info replication | grep -q '^connected_slaves:1' || ok=0
    else
      redis-cli -p "$p" info replication | grep -q '^master_link_status:up' || ok=0
    fi
  done
  [ "$ok" = 1 ]
}; do
  if [ "$SECONDS" -gt "$deadline" ]; then echo "cluster not ready after 60 s" >&2; exit 1; fi
  sleep 0.2
done
cluster_url=$(printf 'redis://127.0.0.1:%s,' "${ports[@]}")
cluster_url=${cluster_url%,}
redis-cli -p "${ports[0]}" cluster nodes | sort -k2 >"$out/cluster-nodes.txt"
echo "cluster: ${ports[*]} (topology in $out/cluster-nodes.txt)"

{
  echo "start: $(date -Is) load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
  echo "round trip, redis-benchmark -c 1 -t ping (requests/s: 1e6/x = µs per round trip):"
  echo "  single $SINGLE_URL: $(redis-benchmark -u "$SINGLE_URL" -c 1 -n 20000 -t ping -q | tr '\r' '\n' | grep -a 'PING_MBULK' | tail -n 1)"
  echo "  cluster node ${ports[0]}: $(redis-benchmark -p "${ports[0]}" -c 1 -n 20000 -t ping -q | tr '\r' '\n' | grep -a 'PING_MBULK' | tail -n 1)"
} | tee "$out/context.txt"

run() {
  local name=$1
  local -a env_args=(-u REDIS_WAIT_REPLICAS -u REDIS_WAIT_TIMEOUT_MS -u REDIS_CLUSTER BACKLOG_SAMPLE=0 BACKLOG_BIG=0 "LAT_N=$LAT_N")
  case $name in
    single-1q) env_args+=("REDIS_URL=$SINGLE_URL" QUEUES=default) ;;
    single-3q) env_args+=("REDIS_URL=$SINGLE_URL" "QUEUES=$QUEUES3") ;;
    cluster-1q) env_args+=("REDIS_URL=$cluster_url" QUEUES=default) ;;
    cluster-3q) env_args+=("REDIS_URL=$cluster_url" "QUEUES=$QUEUES3") ;;
    cluster-3q-wait1) env_args+=("REDIS_URL=$cluster_url" "QUEUES=$QUEUES3" REDIS_WAIT_REPLICAS=1) ;;
    *) echo "unknown configuration $name" >&2; exit 2 ;;
  esac
  echo "== rep $r $name (load $(cut -d' ' -f1-3 /proc/loadavg))"
  env "${env_args[@]}" "$bin" "$N" 2>>"$out/$name.log" | tail -n 1 | tee -a "$out/$name.jsonl"
}
# The order rotates from rep to rep, so that no configuration always runs first or last.
read -r -a configs <<<"$CONFIGS"
for r in $(seq 1 "$REPS"); do
  for i in $(seq 0 $((${#configs[@]} - 1))); do run "${configs[$(((i + r - 1) % ${#configs[@]}))]}"; done
done
echo "end: $(date -Is) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/context.txt"

python3 - "$out" $CONFIGS <<'PY' | tee "$out/summary.md"
import json, statistics, sys, pathlib
out, configs = pathlib.Path(sys.argv[1]), sys.argv[2:]
runs = {c: [json.loads(l) for l in (out / f"{c}.jsonl").read_text().splitlines() if l.startswith("{")] for c in configs}
med = lambda rows, k: statistics.median([r[k] for r in rows if k in r]) if any(k in r for r in rows) else float("nan")
keys = [("enqueue_per_s", "single enqueue /s", 0), ("bulk_enqueue_per_s", "bulk enqueue /s", 0),
        ("process_per_s", "processing /s", 0), ("latency_p50_ms", "latency p50 ms", 3), ("latency_p99_ms", "p99 ms", 3),
        ("redis_us_per_task", "Redis cmd µs/task (all masters)", 1), ("redis_cpu_us_per_task", "Redis CPU µs/task (all masters)", 1),
        ("bench_cpu_us_per_task", "bench process CPU µs/task", 1),
        ("enqueue_redis_cpu_us_per_task", "Redis CPU µs/single enqueue", 1), ("bulk_redis_cpu_us_per_task", "Redis CPU µs/bulk task", 1)]
base = runs.get("single-1q")
print(f"\nmedians of {len(next(iter(runs.values())))} reps ({out})\n")
print("| configuration | " + " | ".join(h for _, h, _ in keys) + " | load avg (per rep) |")
print("|---|" + "---:|" * len(keys) + "---|")
for c, rows in runs.items():
    print(f"| {c} | " + " | ".join(f"{med(rows, k):,.{d}f}" for k, _, d in keys) + " | " + "; ".join(r.get("loadavg", "?") for r in rows) + " |")
if base:
    print("\nratios against single-1q (medians)\n")
    print("| configuration | " + " | ".join(h for _, h, _ in keys[:3]) + " |")
    print("|---|" + "---:|" * 3)
    for c, rows in runs.items():
        print(f"| {c} | " + " | ".join(f"{med(rows, k) / med(base, k):.2f}×" for k, _, _ in keys[:3]) + " |")
if "cluster-3q" in runs and "cluster-3q-wait1" in runs:
    a, b = runs["cluster-3q"], runs["cluster-3q-wait1"]
    print("\ndurable enqueue (REDIS_WAIT_REPLICAS=1) against cluster-3q, medians: " + ", ".join(
        f"{h} {med(b, k):,.0f} vs {med(a, k):,.0f} ({med(b, k) / med(a, k):.2f}×)" for k, h, _ in keys[:3]))
print("\nRedis time per processed task, per node (medians; queues on each node in brackets)\n")
print("| configuration | node | queues | cmd µs/task | of which EVALSHA | main-thread CPU µs/task |")
print("|---|---|---|---:|---:|---:|")
for c, rows in runs.items():
    qn = rows[0].get("queue_nodes", {})
    nodes = sorted(rows[0].get("redis_us_per_task_by_node", {}))
    for node in nodes:
        qs = ",".join(q for q, where in qn.items() if where.split(" ")[0] == node) or "—"
        m = lambda k: statistics.median([r[k][node] for r in rows if node in r.get(k, {})])
        print(f"| {c} | {node} | {qs} | {m('redis_us_per_task_by_node'):.1f} | {m('redis_evalsha_us_per_task_by_node'):.1f} | {m('redis_cpu_us_per_task_by_node'):.1f} |")
print("\nRedis command µs per processed task, by command, summed over the masters (medians; inner"
      " commands of scripts are inside evalsha too)\n")
cmds = sorted({k for rows in runs.values() for r in rows for k in r.get("redis_cmd_us_per_task", {})})
print("| command | " + " | ".join(runs) + " |")
print("|---|" + "---:|" * len(runs))
for k in cmds:
    vals = [statistics.median([r["redis_cmd_us_per_task"].get(k, 0.0) for r in rows]) for rows in runs.values()]
    if max(vals) >= 0.05:
        print(f"| {k} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
PY
