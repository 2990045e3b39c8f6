# SRV-8 / SRV-11 from the shell: the reference's kv_server example, whose store lives in a task
# worker (SET: task + finish -> on_finish answers; GET: taskwait), persisted to a log file.
load helpers

KV="$BUILD_DIR/reference/examples/kv_server"

setup() {
  require_impl
  [[ $IMPL == reference ]] || skip "kv_server is an example program of the reference implementation"
  [[ -x $KV ]] || skip "kv_server not built"
  KV_LOG=$(mktemp)
  KV_OUT=$(mktemp)
  KV_PID=""
}

teardown() {
  if [[ -n ${KV_PID:-} ]]; then
    local kids
    kids=$(descendants "$KV_PID")
    kill -KILL "$KV_PID" $kids 2>/dev/null || true
    wait "$KV_PID" 2>/dev/null || true
  fi
  rm -f "$KV_LOG" "$KV_OUT" "$KV_OUT.err"
}

start_kv() {
  "$KV" --workers 2 --log "$KV_LOG" >"$KV_OUT" 2>"$KV_OUT.err" 3>&- &
  KV_PID=$!
  local i line=""
  for ((i = 0; i < 100; i++)); do
    line=$(head -n 1 "$KV_OUT")
    [[ $line == listening* ]] && break
    sleep 0.05
  done
  [[ $line == listening* ]] || { echo "kv_server did not listen: $(cat "$KV_OUT.err")" >&2; return 1; }
  KV_PORT=${line#listening }
}

stop_kv() {  # SIGTERM; requires exit 0 within 10 s
  local pid=$KV_PID i rc=0
  KV_PID=""
  kill -TERM "$pid"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || { echo "kv_server exited $rc: $(cat "$KV_OUT.err")" >&2; return 1; }
}

frame() {  # TEXT -> hex of a 4-byte big-endian length + TEXT
  local body=$1
  printf '%08x%s' "${#body}" "$(printf '%s' "$body" | od -An -tx1 | tr -d ' \n')"
}

kv_call() {  # REQUEST EXPECTED_ANSWER
  local expected
  expected=$(frame "$2")
  run -0 tcp_client send --port "$KV_PORT" --expect-bytes $((${#expected} / 2)) "$(frame "$1")"
  json_is ".received_hex == \"$expected\""
}

# bats test_tags=spec:SRV-8
@test "SRV-8: kv_server answers SET once its task worker logged it and GET through taskwait" {
  start_kv
  kv_call "SET color blue" "OK"
  kv_call "GET color" "VALUE blue"
  kv_call "GET missing" "NOT_FOUND"
  stop_kv
}

# bats test_tags=spec:SRV-11
@test "SRV-11: kv_server exits 0 on SIGTERM and its log brings the data back after a restart" {
  start_kv
  kv_call "SET k1 v1" "OK"
  kv_call "SET k1 v2" "OK"
  stop_kv
  start_kv
  kv_call "GET k1" "VALUE v2"
  stop_kv
}
