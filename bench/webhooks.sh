#!/usr/bin/env bash
# Webhook ingress benchmark: `switchboard serve` (release build, SQLite store, group commit with
# fsync) under the open-loop load generator `switchboard bench webhooks`, which runs beside it as
# a second process on the same machine. Every 200 counted here was durably committed first.
#
# Usage: bench/webhooks.sh
# Knobs: RATE=10000 DURATION=60s LOW_RATE=2000 LOW_DURATION=30s CONCURRENCY=256 PORT=18080
#        DESTINATION=1 also delivers every event to `switchboard bench sink` (a third process) and
#        reports how long delivery took to catch up.
set -euo pipefail

RATE=${RATE:-10000}
DURATION=${DURATION:-60s}
LOW_RATE=${LOW_RATE:-2000}
LOW_DURATION=${LOW_DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-256}
PORT=${PORT:-18080}
DESTINATION=${DESTINATION:-0}
SINK_PORT=${SINK_PORT:-18090}

source "$(dirname "$0")/lib.sh"

# A throwaway client secret for this run only.
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
TOML
if [[ "$DESTINATION" == "1" ]]; then
  cat >> "$work/switchboard.toml" <<TOML
[[destinations]]
name = "sink"
url = "http://127.0.0.1:$SINK_PORT/"
TOML
  "$bin" bench sink --listen "127.0.0.1:$SINK_PORT" --every 1h > "$work/sink.log" &
  stop_on_exit+=($!)
fi

"$bin" serve --config "$work/switchboard.toml" &
stop_on_exit+=($!)
wait_until curl -sf "http://127.0.0.1:$PORT/readyz"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%Y-%m-%dT%H:%MZ)"
url="http://127.0.0.1:$PORT/webhooks/intercom"
echo "== sustained: $RATE/s for $DURATION"
"$bin" bench webhooks --url "$url" --secret "file:$work/client_secret" --rate "$RATE" --duration "$DURATION" --concurrency "$CONCURRENCY"
echo "== latency: $LOW_RATE/s for $LOW_DURATION"
"$bin" bench webhooks --url "$url" --secret "file:$work/client_secret" --rate "$LOW_RATE" --duration "$LOW_DURATION" --concurrency "$CONCURRENCY"

if [[ "$DESTINATION" == "1" ]]; then
  echo "== delivery: waiting for the queue to drain"
  started=$(date +%s)
  for _ in $(seq 1 600); do
    depth=$(curl -s "http://127.0.0.1:$PORT/health" | sed -n 's/.*"queueDepth":\([0-9]*\).*/\1/p')
    [[ "${depth:-1}" == "0" ]] && break
    sleep 1
  done
  echo "delivery: queue empty $(( $(date +%s) - started )) s after the load ended (queueDepth=${depth:-unknown})"
fi
