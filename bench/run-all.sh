#!/usr/bin/env bash
# Runs GoodRobot's benchmark and the peers' (../shared/peers) on this machine, one after the
# other, REPS times, and prints every JSON line plus the medians. Same Redis for all.
# Usage: bench/run-all.sh [N] [REPS]     (env BACKLOG_BIG for our 1M-backlog figure, 0 = skip;
# CONC, default 50: our worker's concurrency, the same as the BullMQ peer's Worker)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
REPS=${2:-3}
PEERS=${PEERS:-../shared/peers}
out=${OUT:-target/bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

cargo build --release --quiet -p goodrobot-bench
echo "redis-benchmark (LPUSH, SET; 50 clients, no pipelining):"
redis-benchmark -q -n 200000 -t set,lpush | tee "$out/redis-benchmark.txt"

for r in $(seq 1 "$REPS"); do
  echo "== rep $r"
  CONC=${CONC:-50} BACKLOG_BIG=0 ./target/release/goodrobot-bench "$N" 2>>"$out/goodrobot.log" | tail -n 1 | tee -a "$out/goodrobot.jsonl"
  "$PEERS/bullmq/run.sh" "$N" 2>>"$out/bullmq.log" | tail -n 1 | tee -a "$out/bullmq.jsonl"
  "$PEERS/apalis/run.sh" "$N" 2>>"$out/apalis.log" | tail -n 1 | tee -a "$out/apalis.jsonl"
  "$PEERS/celery/run.sh" 5000 2>>"$out/celery.log" | tee -a "$out/celery.txt"
done
if [ "${BACKLOG_BIG:-1000000}" != 0 ]; then
  echo "== backlog ${BACKLOG_BIG:-1000000}"
  CONC=${CONC:-50} BACKLOG_BIG=${BACKLOG_BIG:-1000000} LAT_N=100 ./target/release/goodrobot-bench "$N" 2>>"$out/goodrobot-backlog.log" \
    | tail -n 1 | tee "$out/goodrobot-backlog.jsonl"
fi

python3 - "$out" <<'PY'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
keys = ["enqueue_per_s", "bulk_enqueue_per_s", "process_per_s", "latency_p50_ms", "latency_p99_ms"]
print("\nmedians over the reps (" + str(out) + ")")
print("| system | " + " | ".join(keys) + " |")
medians = {}
for sys_ in ["goodrobot", "bullmq", "apalis"]:
    path = out / f"{sys_}.jsonl"
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.startswith("{")] if path.exists() else []
    med = [statistics.median([r[k] for r in rows if k in r]) if rows else float("nan") for k in keys]
    medians[sys_] = med
    print(f"| {sys_} | " + " | ".join(f"{m:,.3f}" if "ms" in k else f"{m:,.0f}" for k, m in zip(keys, med)) + " |")
print("\nratios, GoodRobot / peer (rates: higher is better; latencies: lower is better)")
print("| peer | " + " | ".join(keys) + " |")
for peer in ["bullmq", "apalis"]:
    ratios = [g / p if p else float("nan") for g, p in zip(medians["goodrobot"], medians[peer])]
    print(f"| {peer} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
PY
