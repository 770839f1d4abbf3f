#!/usr/bin/env bash
# Soak: `switchboard serve` (release build, SQLite store) under a steady webhook load for a long time,
# delivering to one destination (`switchboard bench sink`) that fails a share of deliveries with 503
# and now and then stalls before answering. Every INTERVAL it records the service's RSS, the queue
# depth (/health queueDepth) and that interval's webhook latency into a CSV; at the end it checks:
#   1. RSS flat: after the warm-up, the largest RSS sample is within RSS_TOLERANCE (10 %) of the smallest;
#   2. queue depth bounded: never above QUEUE_MAX, and not growing (the mean of the last third of the
#      samples after the warm-up is at most 1.5 x the mean of the first third, plus one interval's load);
#   3. nothing acknowledged lost: every 200 the load generator counted is an event in the store (events
#      >= acked, events <= sent), and every event has its one delivery to the sink, in one of the states
#      delivered, dead or pending (none vanished).
# Exit status 0 when all three hold. Not part of CI (docs/reliability.md, ## Soak).
#
# Usage: bench/soak.sh                      (30 minutes at 2,000/s)
#        DURATION=2m RATE=500 bench/soak.sh (a smoke run of the script itself)
# Knobs: DURATION=30m RATE=2000 INTERVAL=10 WARMUP=(DURATION/6) CONCURRENCY=256 FAIL_RATE=0.1
#        STALL_EVERY=2000 STALL_FOR=5s RSS_TOLERANCE=0.10 QUEUE_MAX=(10 x RATE) PORT=18080 SINK_PORT=18090
#        OUT=target/soak/soak-<time>.csv
set -euo pipefail

DURATION=${DURATION:-30m}
RATE=${RATE:-2000}
INTERVAL=${INTERVAL:-10}
CONCURRENCY=${CONCURRENCY:-256}
FAIL_RATE=${FAIL_RATE:-0.1}
STALL_EVERY=${STALL_EVERY:-2000}
STALL_FOR=${STALL_FOR:-5s}
RSS_TOLERANCE=${RSS_TOLERANCE:-0.10}
QUEUE_MAX=${QUEUE_MAX:-$((RATE * 10))}
PORT=${PORT:-18080}
SINK_PORT=${SINK_PORT:-18090}

seconds_of() {
  local d=$1
  case "$d" in
    *h) echo $(( ${d%h} * 3600 )) ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}
duration_s=$(seconds_of "$DURATION")
warmup_s=$(seconds_of "${WARMUP:-$((duration_s / 6))s}")

source "$(dirname "$0")/lib.sh"

stamp=$(date -u +%Y%m%dT%H%MZ)
OUT=${OUT:-$root/target/soak/soak-$stamp.csv}
mkdir -p "$(dirname "$OUT")"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/client_secret"
cat > "$work/switchboard.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
[webhooks]
client_secrets = ["file:$work/client_secret"]
[store]
url = "sqlite://$work/data/switchboard.db"
[status_page]
enabled = false
[logging]
level = "warn"
[[destinations]]
name = "sink"
url = "http://127.0.0.1:$SINK_PORT/"
TOML

"$bin" bench sink --listen "127.0.0.1:$SINK_PORT" --every "${INTERVAL}s" \
  --fail-rate "$FAIL_RATE" --stall-every "$STALL_EVERY" --stall-for "$STALL_FOR" > "$work/sink.log" &
stop_on_exit+=($!)
"$bin" serve --config "$work/switchboard.toml" 2> "$work/serve.log" &
serve_pid=$!
stop_on_exit+=($serve_pid)
wait_until curl -sf "http://127.0.0.1:$PORT/readyz"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "soak: ${duration_s} s at ${RATE}/s, samples every ${INTERVAL} s, warm-up ${warmup_s} s;" \
  "sink fails ${FAIL_RATE} and stalls every ${STALL_EVERY}th delivery for ${STALL_FOR}"
echo "samples: $OUT"
echo "elapsed_s,rss_kb,queue_depth,sent,acked,errors,p50_ms,p99_ms,max_ms" > "$OUT"

url="http://127.0.0.1:$PORT/webhooks/intercom"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
started=$(date +%s)
total_sent=0
total_acked=0
total_errors=0
while (( $(date +%s) - started < duration_s )); do
  # One load-generator run per interval: each line of the CSV has that interval's own latency.
  line=$("$bin" bench webhooks --url "$url" --secret "file:$work/client_secret" --rate "$RATE" \
    --duration "${INTERVAL}s" --concurrency "$CONCURRENCY" | grep '^webhooks:' || true)
  if ! kill -0 "$serve_pid" 2>/dev/null; then
    echo "FAIL: switchboard serve exited during the soak; its log:"; tail -20 "$work/serve.log"; exit 1
  fi
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status")
  depth=$(curl -s "http://127.0.0.1:$PORT/health" | sed -n 's/.*"queueDepth":\([0-9]*\).*/\1/p')
  sent=$(field sent "$line"); acked=$(field acked "$line"); errors=$(field errors "$line")
  total_sent=$((total_sent + ${sent:-0})); total_acked=$((total_acked + ${acked:-0}))
  total_errors=$((total_errors + ${errors:-0}))
  row="$(( $(date +%s) - started )),$rss,${depth:-},${sent:-},${acked:-},${errors:-},$(field p50_ms "$line"),$(field p99_ms "$line"),$(field max_ms "$line")"
  echo "$row" >> "$OUT"
  echo "sample: $row"
done
echo "load: sent=$total_sent acked=$total_acked errors=$total_errors"
tail -1 "$work/sink.log"

# Stop the service gracefully so the store is quiescent, then count what it holds.
kill -TERM "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
python3 - "$OUT" "$work/data/switchboard.db" "$warmup_s" "$RSS_TOLERANCE" "$QUEUE_MAX" "$RATE" "$INTERVAL" \
  "$total_sent" "$total_acked" <<'PY'
import csv, sqlite3, sys

out, db, warmup, tolerance, queue_max, rate, interval, sent, acked = sys.argv[1:]
warmup, tolerance, queue_max = int(warmup), float(tolerance), int(queue_max)
rate, interval, sent, acked = int(rate), int(interval), int(sent), int(acked)
rows = [r for r in csv.DictReader(open(out)) if r["rss_kb"] and r["queue_depth"]]
after = [r for r in rows if int(r["elapsed_s"]) > warmup] or rows
failed = False

def verdict(ok, text):
    global failed
    failed |= not ok
    print(("PASS" if ok else "FAIL") + ": " + text)

rss = [int(r["rss_kb"]) for r in after]
growth = max(rss) / min(rss) - 1
verdict(growth <= tolerance,
        f"RSS flat after the warm-up: {min(rss) / 1024:.1f} to {max(rss) / 1024:.1f} MiB "
        f"({growth:.1%}, limit {tolerance:.0%}; {len(rss)} samples)")

depth = [int(r["queue_depth"]) for r in after]
third = max(1, len(depth) // 3)
first, last = sum(depth[:third]) / third, sum(depth[-third:]) / third
verdict(max(depth) <= queue_max and last <= 1.5 * first + rate * interval,
        f"queue depth bounded: max {max(depth)} (limit {queue_max}); mean {first:.0f} in the first third "
        f"after the warm-up, {last:.0f} in the last")

conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
states = dict(conn.execute(
    "SELECT state, count(*) FROM deliveries WHERE destination = 'sink' GROUP BY state").fetchall())
without = conn.execute(
    "SELECT count(*) FROM events e WHERE NOT EXISTS "
    "(SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.destination = 'sink')").fetchone()[0]
delivered, dead, pending = (states.get(s, 0) for s in ("delivered", "dead", "pending"))
verdict(acked <= events <= sent and without == 0 and delivered + dead + pending == events,
        f"nothing acknowledged lost: acked {acked}, events stored {events} (sent {sent}); "
        f"sink deliveries delivered {delivered} + dead {dead} + pending {pending} = {delivered + dead + pending}, "
        f"events without one {without}")
sys.exit(1 if failed else 0)
PY
