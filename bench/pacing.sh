#!/usr/bin/env bash
# The pacing benchmark, Rust and Node side by side in one run against one simulator:
#   - `switchboard bench pacing` (the intercom-api client with its proactive pacer), and
#   - bench/pacing.mjs (Intercom's official Node SDK, intercom-client 7.0.3, default retries),
# each as its own app with its own per-app limit, so neither eats the other's budget.
#
# Usage: bench/pacing.sh            (10,000 upserts, 10,000/min, budget fraction 1.0)
# Knobs: CONTACTS=N LIMIT=L FRACTION=F PORT=P bench/pacing.sh
set -euo pipefail

CONTACTS=${CONTACTS:-10000}
LIMIT=${LIMIT:-10000}
FRACTION=${FRACTION:-1.0}
PORT=${PORT:-4710}

source "$(dirname "$0")/lib.sh"
(cd bench && npm ci --ignore-scripts --no-audit --no-fund --silent)

# Two apps, each with the limit under test; the workspace limit is raised so it never binds.
cat > "$work/sim.toml" <<TOML
[[workspaces]]
id = "benchws1"
name = "Pacing benchmark"
rate_limit_per_minute = $((LIMIT * 10))

[[workspaces.apps]]
id_code = "benchrs1"
name = "Rust intercom-api"
token = "bench-token-rust"
rate_limit_per_minute = $LIMIT

[[workspaces.apps]]
id_code = "benchjs1"
name = "Node intercom-client 7.0.3"
token = "bench-token-node"
rate_limit_per_minute = $LIMIT
TOML

"$bin" sim --config "$work/sim.toml" --port "$PORT" > "$work/sim.log" 2>&1 &
stop_on_exit+=($!)
# The simulator is up once its port takes a connection.
sim_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT"); }
wait_until sim_listening

url="http://127.0.0.1:$PORT"
echo "pacing benchmark: $CONTACTS upserts each, limit $LIMIT/min per app, budget fraction $FRACTION, $url" >&2
"$bin" bench pacing --contacts "$CONTACTS" --limit-per-minute "$LIMIT" --budget-fraction "$FRACTION" \
  --base-url "$url" --token bench-token-rust > "$work/rust.out" &
rust_pid=$!
node bench/pacing.mjs --contacts "$CONTACTS" --limit-per-minute "$LIMIT" --budget-fraction "$FRACTION" \
  --base-url "$url" --token bench-token-node > "$work/node.out" &
node_pid=$!
status=0
wait "$rust_pid" || status=$?
wait "$node_pid" || status=$?
grep '^pacing:' "$work/rust.out" | sed 's/^pacing:/pacing (rust intercom-api):/'
grep '^pacing-node:' "$work/node.out" | sed 's/^pacing-node:/pacing (node intercom-client 7.0.3):/'
exit "$status"
