# SPEC SIG: signals and role restrictions, through the IUT driver.
load helpers

teardown() {
  if [[ -n "${WAIT_PID:-}" ]]; then
    kill "$WAIT_PID" 2>/dev/null || true
    wait "$WAIT_PID" 2>/dev/null || true
  fi
}

# bats test_tags=spec:SIG-1
@test "SIG-1: a plain process registers SIGUSR1 and survives" {
  run_probe signal-register plain SIGUSR1
  json_is '.ok == true and .signal == 10'
}

# bats test_tags=spec:SIG-1
@test "SIG-1: a plain process registers a real-time signal (64)" {
  run_probe signal-register plain 64
  json_is '.ok == true and .signal == 64'
}

# bats test_tags=spec:SIG-1
@test "SIG-1: SIGKILL and SIGSTOP are refused with EINVAL" {
  run_probe signal-register plain SIGKILL
  json_is '.ok == false and .errno == "EINVAL"'
  run_probe signal-register plain SIGSTOP
  json_is '.ok == false and .errno == "EINVAL"'
}

# bats test_tags=spec:SIG-1
@test "SIG-1: signal numbers outside 1..64 are errors" {
  run_probe signal-register plain 65
  json_is '.ok == false'
  run_probe signal-register plain 0
  json_is '.ok == false'
}

# bats test_tags=spec:SIG-1
@test "SIG-1: removing a handler that was never registered is an error" {
  run_probe signal-unregister plain SIGUSR1
  json_is '.ok == false and .role_alive == true'
}

# bats test_tags=spec:SIG-1
@test "SIG-1: removing a registered handler succeeds" {
  run_probe signal-unregister plain SIGUSR1 registered
  json_is '.ok == true and .role_alive == true'
}

# bats test_tags=spec:SIG-2
@test "SIG-2: worker and task_worker refuse SIGTERM with an error naming the signal" {
  for role in worker task_worker; do
    run_probe signal-register "$role" SIGTERM
    json_is '.ok == false and (.message | test("SIGTERM"))'
  done
}

# bats test_tags=spec:SIG-2
@test "SIG-2: a worker may register SIGUSR1" {
  run_probe signal-register worker SIGUSR1
  json_is '.ok == true'
}

# bats test_tags=spec:SIG-3
@test "SIG-3: the manager refuses SIGTERM, SIGUSR1, SIGUSR2, SIGALRM and SIGCHLD" {
  for sig in SIGTERM SIGUSR1 SIGUSR2 SIGALRM SIGCHLD; do
    run_probe signal-register manager "$sig"
    json_is '.ok == false'
  done
  run_probe signal-register manager SIGINT
  json_is '.ok == true'
}

# bats test_tags=spec:SIG-4
@test "SIG-4: the master refuses SIGTERM, SIGUSR1, SIGUSR2 and SIGCHLD but takes SIGALRM" {
  for sig in SIGTERM SIGUSR1 SIGUSR2 SIGCHLD; do
    run_probe signal-register master "$sig"
    json_is '.ok == false'
  done
  run_probe signal-register master SIGALRM
  json_is '.ok == true'
}

# bats test_tags=spec:SIG-5
@test "SIG-5: user processes and pool workers may register SIGTERM" {
  for role in user pool_worker; do
    run_probe signal-register "$role" SIGTERM
    json_is '.ok == true'
  done
}

# bats test_tags=spec:SIG-6
@test "SIG-6: kill -USR1 from the shell runs the handler in the probe's event loop" {
  local out="$BATS_TEST_TMPDIR/signal-wait.out"
  timeout 20 "$DRIVER" probe signal-wait SIGUSR1 >"$out" 3>&- &
  WAIT_PID=$!
  local pid=""
  for _ in $(seq 200); do
    pid=$(grep -m1 '"ready":true' "$out" 2>/dev/null | jq -r '.pid' || true)
    [[ -n "$pid" ]] && break
    if ! kill -0 "$WAIT_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  if [[ -z "$pid" ]]; then
    wait "$WAIT_PID" && status=0 || status=$?
    WAIT_PID=""
    [[ $status -eq 77 ]] && skip "probe signal-wait unsupported by $IMPL"
    echo "never ready: $(cat "$out")"
    false
  fi
  kill -USR1 "$pid"
  wait "$WAIT_PID" && status=0 || status=$?
  WAIT_PID=""
  output=$(cat "$out")
  [[ $status -eq 0 ]] || { echo "exit $status: $output"; false; }
  json_is '.handler_ran == true and .signal == 10'
}

# bats test_tags=spec:SIG-7
@test "SIG-7: every role survives registering and removing a signal it may take" {
  for role in plain master manager worker task_worker user pool_worker; do
    run_probe signal-unregister "$role" SIGINT registered
    json_is '.ok == true and .role_alive == true'
  done
}

# bats test_tags=spec:SIG-7
@test "SIG-7: a manager asked to drop its own SIGTERM refuses and stays alive" {
  run_probe signal-unregister manager SIGTERM registered
  json_is '.role_alive == true'
}
