# What every bench script starts with; source it after the knobs (`source "$(dirname "$0")/lib.sh"`).
# It leaves the shell in the repository's root with:
#   bin   the release `switchboard` binary, just built
#   work  a scratch folder for this run, removed on exit
#   stop_on_exit   an array: append the pid of every background process; on exit they are
#                  stopped last started first (the service before the sink it delivers to)
#   wait_until CMD...   runs CMD every 0.1 s until it succeeds, for at most 10 s (a server starting)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet -p switchboard --bin switchboard
bin="$root/target/release/switchboard"

work="$(mktemp -d)"
stop_on_exit=()
cleanup() {
  local i pid
  for ((i = ${#stop_on_exit[@]} - 1; i >= 0; i--)); do
    pid=${stop_on_exit[i]}
    kill "$pid" 2>/dev/null || true   # it may have ended already
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Not fatal when it runs out: what comes next fails with a clearer message than a timeout would.
wait_until() {
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
}
