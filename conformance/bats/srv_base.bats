# SRV / SRV-BASE: BASE mode from outside, through IMPL's `driver echo-server` and real TCP clients.
# The mode-independent tests are the shared bodies of srv_suite.bash (run for every mode); the
# SRV-BASE-* ones below are BASE's own.
load helpers
load srv_suite

setup() {
  srv_setup
}

teardown() {
  srv_teardown
}

# bats test_tags=spec:SRV-1
@test "SRV-1: the server listens on a kernel-chosen port and reports it (BASE)" {
  srv_kernel_chosen_port base
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets sent one byte at a time come back whole and in order (BASE)" {
  srv_byte_at_a_time base
}

# bats test_tags=spec:FRM-3
@test "FRM-3: many pipelined packets in one write are echoed in order (BASE)" {
  srv_pipelined base
}

# bats test_tags=spec:FRM-3
@test "FRM-3: slow clients sending one byte at a time are served while a loadgen is (BASE)" {
  srv_slow_clients base
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an oversize length header closes that connection only (BASE)" {
  srv_oversize_header base
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split over TCP delivers each packet, the empty one too (BASE)" {
  srv_eof_split base
}

# bats test_tags=spec:FRM-8
@test "FRM-8: an EOF-mode buffer reaching max_length without EOF closes the connection (BASE)" {
  srv_eof_check_overflow base
}

# bats test_tags=spec:SRV-5
@test "SRV-5: 1000 concurrent connections are all served (BASE)" {
  srv_thousand_connections base
}

# bats test_tags=spec:SRV-5
@test "SRV-5: max_conn overflow: connections past max_conn are closed at once, the first ones served (BASE)" {
  srv_max_conn_overflow base
}

# bats test_tags=spec:SRV-6
@test "SRV-6: max_request replaces workers under load and no request fails (BASE)" {
  srv_max_request base
}

# bats test_tags=spec:SRV-7,spec:SRV-13
@test "SRV-7: heartbeat closes an idle connection within [idle, idle+interval], never an active one (SRV-13) (BASE)" {
  srv_heartbeat base
}

# bats test_tags=spec:SRV-11
@test "SRV-11: SIGTERM with requests in flight: every answer whole, all connections closed, exit 0 (BASE)" {
  srv_sigterm_in_flight base
}

# bats test_tags=spec:SRV-12
@test "SRV-12: a client that never reads cannot grow the server's memory; others are served (BASE)" {
  srv_slow_reader base
}

# bats test_tags=spec:SRV-14
@test "SRV-14: 100 SIGUSR1 reloads in a row under load leave worker_num workers and fail no request (BASE)" {
  srv_hundred_reloads base
}

# bats test_tags=spec:SRV-15
@test "SRV-15: out of fds (ulimit -n), existing connections are served and accepting resumes (BASE)" {
  srv_fd_exhaustion base
}

# bats test_tags=spec:SRV-15
@test "SRV-15: max_conn above RLIMIT_NOFILE fails the start with an error naming max_conn (BASE)" {
  srv_max_conn_above_nofile base
}

# bats test_tags=spec:SRV-12
@test "SRV-12: stopped workers cannot make the server buffer a fast sender's bytes without bound (BASE)" {
  srv_stalled_workers base
}

# --- BASE only --------------------------------------------------------------------------------

# bats test_tags=spec:SRV-BASE-1
@test "SRV-BASE-1: one worker and nothing to manage is a single process; more workers get a manager" {
  start_server --mode base --workers 1 --framing none
  run -0 bash -c "ps -o pid= --ppid $SERVER_PID | wc -l"
  [[ $output -eq 0 ]]
  stop_server
  start_server --mode base --workers 2 --framing none
  wait_children "$SERVER_PID" 2
}

# bats test_tags=spec:SRV-BASE-2
@test "SRV-BASE-2: kill -9 of a worker closes only its connections; the manager restarts it" {
  start_server --mode base --workers 2 --framing "$LENGTH_FRAMING"
  local victim attempt n=0
  wait_children "$SERVER_PID" 2
  victim=$(ps -o pid= --ppid "$SERVER_PID" | head -n 1 | tr -d ' ')
  kill -KILL "$victim"
  for ((attempt = 0; attempt < 100; attempt++)); do
    n=$(ps -o pid= --ppid "$SERVER_PID" | grep -vc "^ *$victim$" || true)
    [[ $n -eq 2 ]] && break
    sleep 0.05
  done
  [[ $n -eq 2 ]]
  for ((round = 0; round < 10; round++)); do
    run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet "after-restart-$round")"
    json_is '.echo_ok == true'
  done
}
