# Shared by every .bats file. Tests reach the implementation only through driver().
bats_require_minimum_version 1.5.0

IMPL=${IMPL:-reference}
ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# PROCSPEC_IMPLS_DIR lets a test fixture supply its own implementations (scripts/tests/fixtures).
DRIVER="${PROCSPEC_IMPLS_DIR:-$ROOT/conformance/impls}/$IMPL/driver"

# An implementation that is not installed on this machine (Swoole without its extension) says so
# in `driver info` with "available":false and a reason. Every test of it is then skipped with that
# one reason: never failed, never passed. Asked once per Bats run, cached in BATS_RUN_TMPDIR.
require_impl() {
  local cache="${BATS_RUN_TMPDIR:-${BATS_TMPDIR:-/tmp}}/procspec-unavailable${DRIVER//[^A-Za-z0-9]/_}"
  if [[ ! -e "$cache" ]]; then
    local info
    info=$("$DRIVER" info 2>/dev/null) || info='{}'
    jq -r 'select(.available == false) | "\(.name // "implementation") unavailable: \(.reason // "no reason given")"' \
      <<<"$info" >"$cache.$$" 2>/dev/null || : >"$cache.$$"
    mv -f "$cache.$$" "$cache"
  fi
  if [[ -s "$cache" ]]; then
    skip "$(head -n 1 "$cache")"
  fi
}

# The default per-test setup. A .bats file that defines its own setup() must call require_impl
# first; run_probe checks it too.
setup() {
  require_impl
}

# Runs the implementation's driver; exit 77 means the implementation cannot do it.
driver() {
  "$DRIVER" "$@"
}

# run_probe NAME ARGS...: runs a probe under `run`, skipping (never passing) when unsupported.
run_probe() {
  require_impl
  run timeout 30 "$DRIVER" probe "$@"
  if [[ $status -eq 77 ]]; then
    skip "probe $1 unsupported by $IMPL"
  fi
  if [[ $status -ne 0 ]]; then
    echo "driver probe $* exited $status: $output" >&2
    return 1
  fi
}

# json_is JQ_EXPR: the last JSON line of $output satisfies the expression.
json_is() {
  local last
  last=$(printf '%s\n' "$output" | grep -E '^\{' | tail -n 1)
  jq -e "$1" <<<"$last" >/dev/null || { echo "expected: $1"; echo "output: $output"; false; }
}

# json_lines_are JQ_EXPR: the JSON lines of $output, slurped into an array, satisfy the expression.
json_lines_are() {
  printf '%s\n' "$output" | grep -E '^\{' | jq -s -e "$1" >/dev/null ||
    { echo "expected: $1"; echo "output: $output"; false; }
}

# --- servers (SPEC IUT echo-server) -----------------------------------------------------------
BUILD_DIR=${PROCSPEC_BUILD_DIR:-$ROOT/build/release}
TCP_CLIENT="$BUILD_DIR/conformance/tcp_client"

tcp_client() {
  timeout 60 "$TCP_CLIENT" "$@"
}

# The echo-server options of SPEC IUT; anything else is a reference extra (README, "The driver").
IUT_SERVER_OPTIONS=" --mode --workers --framing --ipc "

# extra_options ARGS...: the reference-extra option names among echo-server ARGS.
extra_options() {
  local a extras=()
  for a in "$@"; do
    [[ $a == --* && $IUT_SERVER_OPTIONS != *" $a "* ]] && extras+=("$a")
  done
  echo "${extras[*]}"
}

# start_server ARGS...: starts `driver echo-server ARGS` in the background, sets SERVER_PID and
# SERVER_PORT. Exit 77 (mode or channel unsupported) skips the test, and so does a usage error
# (exit 2, "usage:") when ARGS hold reference extras the implementation does not have.
# SERVER_ULIMIT_N=N runs the server under `ulimit -n N` (SRV-15). SERVER_REFUSABLE=SETTING: a start
# that fails with an error naming SETTING (the mode cannot do it, SRV-2) skips instead of failing.
# died_of_signal RC SIG ERRFILE: a process ended by fatal signal SIG. Its exit status is 128+SIG,
# except in a sanitizer build of the reference (make sanitize), where the sanitizer catches the
# signal, prints its report ("ThreadSanitizer: SEGV", "AddressSanitizer:DEADLYSIGNAL") to stderr
# and exits with its own code: the same death, reported its way.
died_of_signal() {
  local rc=$1 sig=$2 err=$3 name
  ((rc == 128 + sig)) && return 0
  name=$(kill -l "$sig")
  grep -qE "Sanitizer: ?($name|DEADLYSIGNAL)" "$err" 2>/dev/null
}

start_server() {
  SERVER_OUT=$(mktemp)
  (
    [[ -z ${SERVER_ULIMIT_N:-} ]] || ulimit -n "$SERVER_ULIMIT_N"
    exec "$DRIVER" echo-server "$@"
  ) >"$SERVER_OUT" 2>"$SERVER_OUT.err" 3>&- &
  SERVER_PID=$!
  local i line=""
  for ((i = 0; i < 100; i++)); do
    line=$(head -n 1 "$SERVER_OUT")
    [[ $line == listening* ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" && rc=0 || rc=$?
      SERVER_PID=""
      [[ $rc -eq 77 ]] && skip "echo-server $* unsupported by $IMPL"
      local extras
      extras=$(extra_options "$@")
      if [[ $rc -eq 2 && -n $extras ]] && grep -q '^usage:' "$SERVER_OUT.err"; then
        skip "$IMPL's echo-server does not take $extras (reference extras)"
      fi
      if [[ -n ${SERVER_REFUSABLE:-} ]] && grep -q -- "$SERVER_REFUSABLE" "$SERVER_OUT.err"; then
        skip "$IMPL refuses $SERVER_REFUSABLE here: $(grep -m 1 -- "$SERVER_REFUSABLE" "$SERVER_OUT.err")"
      fi
      echo "echo-server $* exited $rc: $(cat "$SERVER_OUT.err")" >&2
      return 1
    fi
    sleep 0.05
  done
  [[ $line == listening* ]] || { echo "no 'listening PORT' from echo-server $*" >&2; return 1; }
  SERVER_PORT=${line#listening }
}

# stop_server: SIGTERM to the recorded pid; fails if it does not exit 0 within 10 s.
stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  local pid=$SERVER_PID rc=0 i
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "echo-server $pid ignored SIGTERM for 10 s" >&2
    return 1
  fi
  wait "$pid" || rc=$?
  rm -f "$SERVER_OUT" "$SERVER_OUT.err"
  [[ $rc -eq 0 ]] || { echo "echo-server exited $rc after SIGTERM" >&2; return 1; }
}

# driver_lists KEY VALUE: whether `driver info` lists VALUE in its array KEY ("modes", "ipc");
# asked once per Bats run and key.
driver_lists() {
  local cache="${BATS_RUN_TMPDIR:-${BATS_TMPDIR:-/tmp}}/procspec-$1${DRIVER//[^A-Za-z0-9]/_}"
  if [[ ! -e "$cache" ]]; then
    { "$DRIVER" info 2>/dev/null || echo '{}'; } | jq -r --arg k "$1" '(.[$k] // [])[]' >"$cache.$$" 2>/dev/null || : >"$cache.$$"
    mv -f "$cache.$$" "$cache"
  fi
  grep -qx -- "$2" "$cache"
}

# require_mode MODE: skips unless `driver info` lists MODE in "modes".
require_mode() {
  driver_lists modes "$1" || skip "$IMPL has no $1 mode (driver info \"modes\" lacks it)"
}

# require_ipc CHANNEL: skips unless `driver info` lists CHANNEL in "ipc" (SPEC IUT echo-server --ipc).
require_ipc() {
  driver_lists ipc "$1" || skip "$IMPL has no $1 ipc (driver info \"ipc\" lacks it)"
}

# server_tree_rss_kb PID: VmRSS of PID and its descendants, in KiB.
server_tree_rss_kb() {
  local p total=0 kb
  for p in "$1" $(descendants "$1"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# server_tids PID: the thread ids of PID and its descendants, one a line (workers are
# processes in BASE/PROCESS and threads in THREAD: a replaced worker shows up as a new tid).
server_tids() {
  local p
  for p in "$1" $(descendants "$1"); do
    ls "/proc/$p/task" 2>/dev/null || true
  done
}

# descendants PID: every process below PID (for fault tests that kill a worker).
descendants() {
  local kids
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do
    echo "$k"
    descendants "$k"
  done
}

# expect_status N: after a plain `run`, skip when the implementation cannot do it (77), else
# require exit status N.
expect_status() {
  if [[ $status -eq 77 ]]; then
    skip "unsupported by $IMPL"
  fi
  [[ $status -eq $1 ]] || { echo "expected exit $1, got $status: $output"; false; }
}
