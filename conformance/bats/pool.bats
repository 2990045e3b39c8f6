# SPEC POOL: the probes, and the reference's example queue consumer driven from the shell
# (kill -9 of a worker found via /proc, SIGUSR1, SIGTERM, Ctrl-C, manager death).
load helpers

CONSUMER="$BUILD_DIR/reference/examples/queue_consumer"

# bats test_tags=spec:POOL-3
@test "POOL-3: a SIGKILLed worker is restarted with the same id and a new pid, signal reported" {
  run_probe pool-restart
  json_is '.id == 0 and .old_pid > 0 and .new_pid > 0 and .old_pid != .new_pid and .exit_signal == 9'
}

# bats test_tags=spec:POOL-4
@test "POOL-4: SIGTERM to the manager reaps every worker and runs Shutdown" {
  run_probe pool-shutdown 4
  json_is '.reaped == 4 and .zombies == 0 and .shutdown_ran == true'
}

# bats test_tags=spec:POOL-6
@test "POOL-6: sendMessage to a missing worker is an error and the caller lives" {
  run_probe pool-send-missing
  json_is '.ok == false and .caller_alive == true'
}

# --- the example consumer (reference only: it is a program built on the library) -----------

consumer_setup() {
  [[ $IMPL == reference ]] || skip "the example consumer belongs to the reference implementation"
  [[ -x $CONSUMER ]] || skip "queue_consumer not built"
  KEY=$((0x51000000 + (RANDOM << 8) + BATS_TEST_NUMBER))
  OUT=$(mktemp)
  CONSUMER_PID=""
}

teardown() {
  if [[ -n ${CONSUMER_PID:-} ]]; then
    local kids
    kids=$(descendants "$CONSUMER_PID")
    kill -KILL "$CONSUMER_PID" $kids 2>/dev/null || true
    wait "$CONSUMER_PID" 2>/dev/null || true
  fi
  [[ -n ${KEY:-} ]] && ipcrm -Q "$KEY" 2>/dev/null || true
  [[ -n ${OUT:-} ]] && rm -f "$OUT" "$OUT.err"
  return 0
}

# wait_for CMD...: polls CMD every 50 ms, at most 20 s.
wait_for() {
  local i
  for ((i = 0; i < 400; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  echo "timed out waiting for: $*" >&2
  return 1
}

start_consumer() {  # WORKERS WORK_MS
  "$CONSUMER" run "$KEY" "$1" "$2" >"$OUT" 2>"$OUT.err" 3>&- &
  CONSUMER_PID=$!
  wait_for started_workers_are "$1"
}

started_workers_are() { [[ $(grep -c ' started$' "$OUT") -ge $1 ]]; }
workers() { cat /proc/"$CONSUMER_PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$'; }
worker_count_is() { [[ $(workers | wc -l) -eq $1 ]]; }
distinct_done() { grep '^done ' "$OUT" | awk '{print $2}' | sort -un | wc -l; }
all_done() { [[ $(distinct_done) -eq $1 ]]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
all_gone() { local p; for p in "$@"; do gone "$p" || return 1; done; }

# stop_consumer SIGNAL: sends it, waits (bounded) and checks exit status 0.
stop_consumer() {
  local pid=$CONSUMER_PID rc=0
  kill "-$1" "$pid"
  wait_for gone "$pid"
  wait "$pid" || rc=$?
  CONSUMER_PID=""
  [[ $rc -eq 0 ]] || { echo "consumer exited $rc: $(cat "$OUT.err")" >&2; return 1; }
}

# bats test_tags=spec:POOL-3
@test "POOL-3: kill -9 of a consumer worker loses no queued job" {
  consumer_setup
  start_consumer 3 2
  "$CONSUMER" send "$KEY" 300 0
  wait_for grep -q '^done ' "$OUT"
  victim=$(workers | head -n 1)
  kill -KILL "$victim"
  wait_for grep -q "^exit worker [0-9]* $victim code 0 signal 9" "$OUT"
  wait_for worker_count_is 3
  wait_for all_done 300
  old=$(workers)
  stop_consumer TERM
  grep -q '^stopped done' "$OUT"
  all_gone $old
}

# bats test_tags=spec:POOL-5
@test "POOL-5: SIGUSR1 replaces every consumer worker and loses no job" {
  consumer_setup
  start_consumer 2 5
  old=$(workers)
  "$CONSUMER" send "$KEY" 100 0
  kill -USR1 "$CONSUMER_PID"
  wait_for all_gone $old
  wait_for started_workers_are 4
  wait_for all_done 100
  ! grep -q 'signal 9' "$OUT"
  stop_consumer TERM
}

# bats test_tags=spec:POOL-4
@test "POOL-4: Ctrl-C (SIGINT) stops the consumer cleanly, no process left" {
  consumer_setup
  start_consumer 3 0
  old=$(workers)
  stop_consumer INT
  grep -q '^stopped done 0$' "$OUT"
  all_gone $old
}

# bats test_tags=spec:POOL-8
@test "POOL-8: when the consumer's manager is killed its workers exit" {
  consumer_setup
  start_consumer 2 0
  old=$(workers)
  kill -KILL "$CONSUMER_PID"
  wait "$CONSUMER_PID" 2>/dev/null || true
  CONSUMER_PID=""
  wait_for all_gone $old
}
