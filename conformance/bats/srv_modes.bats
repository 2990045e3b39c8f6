# SRV-PROC / SRV-THREAD: what only the PROCESS and THREAD layouts promise, seen from outside:
# the process and thread tree, every channel, a worker killed with kill -9, a fatal signal.
# The kill -9 bodies (srv_proc_faults.bash) run here on the default channel; srv_process_<ipc>.bats
# run them again on their channel.
load helpers
load srv_suite
load srv_proc_faults

setup() {
  srv_setup
}

teardown() {
  srv_teardown
}

# srv_suite's version walks the body in bash (no fork, quadratic in a UTF-8 locale): SRV-PROC-4's
# 63000-byte body needs od's.
hex_len_packet() {  # BODY_TEXT -> hex of a 4-byte big-endian length + body
  local body=$1
  printf '%08x%s' "${#body}" "$(printf '%s' "$body" | od -v -An -tx1 | tr -d ' \n')"
}

# Waits (bounded) until PID has N children; prints them.
children_when() {
  local pid=$1 want=$2 i kids=""
  for ((i = 0; i < 100; i++)); do
    kids=$(ps -o pid= --ppid "$pid" | tr -d ' ')
    [[ $(printf '%s\n' "$kids" | grep -c .) -eq $want ]] && break
    sleep 0.05
  done
  printf '%s\n' "$kids"
}

# bats test_tags=spec:SRV-PROC-1
@test "SRV-PROC-1: PROCESS is a master with reactor threads, a manager and worker processes (every ipc)" {
  local ipc manager workers round
  for ipc in uds-dgram uds-stream sysvmsg uds-batch shm-ring; do
    start_server --mode process --workers 2 --framing length:N:0:4:1048576 --ipc "$ipc"
    manager=$(children_when "$SERVER_PID" 1)
    [[ $(printf '%s\n' "$manager" | grep -c .) -eq 1 ]]
    workers=$(children_when "$manager" 2)
    [[ $(printf '%s\n' "$workers" | grep -c .) -eq 2 ]]
    # main thread + at least one reactor thread
    [[ $(ls "/proc/$SERVER_PID/task" | wc -l) -ge 2 ]]
    for ((round = 0; round < 5; round++)); do
      run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet "$ipc-$round")" "$(hex_len_packet "second")"
      json_is '.echo_ok == true'
    done
    stop_server
  done
}

# bats test_tags=spec:SRV-PROC-4
# One argv string holds at most 128 KiB of hex, so 63000 bytes: several chunks on sysvmsg (msgmax
# 8 KiB); the megabyte case for every channel is in server_modes_test.cc.
@test "SRV-PROC-4: a 63000-byte packet crosses every PROCESS channel intact" {
  local ipc body
  body=$(head -c 63000 /dev/zero | tr '\0' 'q')
  for ipc in uds-dgram uds-stream sysvmsg uds-batch shm-ring; do
    start_server --mode process --workers 1 --framing length:N:0:4:1048576 --ipc "$ipc"
    run -0 tcp_client send --port "$SERVER_PORT" --timeout-ms 20000 "$(hex_len_packet "$body")"
    json_is '.echo_ok == true'
    stop_server
  done
}

# bats test_tags=spec:SRV-PROC-2
@test "SRV-PROC-2: kill -9 of a worker keeps a slow client's connection; its later packets are served" {
  srv_proc_kill_keeps_connection
}

# bats test_tags=spec:SRV-PROC-5
@test "SRV-PROC-5: a request in flight in a killed worker is answered or closed within 1 s; a half-sent packet is served after" {
  srv_proc_kill_in_flight
}

# bats test_tags=spec:SRV-PROC-5,spec:SRV-PROC-2
@test "SRV-PROC-5: workers killed -9 under load: every answer right, no request left waiting, replacements serve" {
  srv_proc_kill_under_load
}

# bats test_tags=spec:SRV-THREAD-1
@test "SRV-THREAD-1: THREAD is one process: a main thread and worker threads, no child process" {
  start_server --mode thread --workers 2 --framing length:N:0:4:65536 --ipc thread
  [[ -z $(ps -o pid= --ppid "$SERVER_PID") ]]
  # main + 2 workers (Swoole adds a manager thread; reactors are the workers themselves)
  [[ $(ls "/proc/$SERVER_PID/task" | wc -l) -ge 3 ]]
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet one)" "$(hex_len_packet two)"
  json_is '.echo_ok == true'
}

# bats test_tags=spec:SRV-THREAD-2
@test "SRV-THREAD-2: a fatal signal in a worker thread ends the process; clients see the close" {
  start_server --mode thread --workers 2 --framing length:N:0:4:65536 --ipc thread
  local out client pid=$SERVER_PID tid rc=0
  out=$(mktemp)
  timeout 60 "$TCP_CLIENT" idle --port "$SERVER_PORT" --timeout-ms 10000 >"$out" 3>&- &
  client=$!
  sleep 0.3
  tid=$(ls "/proc/$pid/task" | sort -n | tail -n 1)
  kill -SEGV "$tid"
  wait "$pid" || rc=$?
  SERVER_PID=""
  wait "$client"
  run jq -e '.closed_by_peer == true' "$out"
  rm -f "$out"
  [[ $status -eq 0 ]]
  died_of_signal "$rc" 11 "$SERVER_OUT.err"
}
