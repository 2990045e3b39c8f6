# SRV in THREAD mode: the shared server suite (srv_suite.bash) through IMPL's `driver echo-server
# --mode thread`. Skipped as a whole while `driver info` does not list the mode. THREAD's own
# tests (SRV-THREAD-*, kill -9 of a worker) go below the shared ones.
load helpers
load srv_suite

setup() {
  srv_setup
  require_mode thread
}

teardown() {
  srv_teardown
}

# bats test_tags=spec:SRV-1
@test "SRV-1: the server listens on a kernel-chosen port and reports it (THREAD)" {
  srv_kernel_chosen_port thread
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets sent one byte at a time come back whole and in order (THREAD)" {
  srv_byte_at_a_time thread
}

# bats test_tags=spec:FRM-3
@test "FRM-3: many pipelined packets in one write are echoed in order (THREAD)" {
  srv_pipelined thread
}

# bats test_tags=spec:FRM-3
@test "FRM-3: slow clients sending one byte at a time are served while a loadgen is (THREAD)" {
  srv_slow_clients thread
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an oversize length header closes that connection only (THREAD)" {
  srv_oversize_header thread
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split over TCP delivers each packet, the empty one too (THREAD)" {
  srv_eof_split thread
}

# bats test_tags=spec:FRM-8
@test "FRM-8: an EOF-mode buffer reaching max_length without EOF closes the connection (THREAD)" {
  srv_eof_check_overflow thread
}

# bats test_tags=spec:SRV-5
@test "SRV-5: 1000 concurrent connections are all served (THREAD)" {
  srv_thousand_connections thread
}

# bats test_tags=spec:SRV-5
@test "SRV-5: max_conn overflow: connections past max_conn are closed at once, the first ones served (THREAD)" {
  srv_max_conn_overflow thread
}

# bats test_tags=spec:SRV-6
@test "SRV-6: max_request replaces workers under load and no request fails (THREAD)" {
  srv_max_request thread
}

# bats test_tags=spec:SRV-7,spec:SRV-13
@test "SRV-7: heartbeat closes an idle connection within [idle, idle+interval], never an active one (SRV-13) (THREAD)" {
  srv_heartbeat thread
}

# bats test_tags=spec:SRV-11
@test "SRV-11: SIGTERM with requests in flight: every answer whole, all connections closed, exit 0 (THREAD)" {
  srv_sigterm_in_flight thread
}

# bats test_tags=spec:SRV-12
@test "SRV-12: a client that never reads cannot grow the server's memory; others are served (THREAD)" {
  srv_slow_reader thread
}

# bats test_tags=spec:SRV-14
@test "SRV-14: 100 SIGUSR1 reloads in a row under load leave worker_num workers and fail no request (THREAD)" {
  srv_hundred_reloads thread
}

# bats test_tags=spec:SRV-15
@test "SRV-15: out of fds (ulimit -n), existing connections are served and accepting resumes (THREAD)" {
  srv_fd_exhaustion thread
}

# bats test_tags=spec:SRV-15
@test "SRV-15: max_conn above RLIMIT_NOFILE fails the start with an error naming max_conn (THREAD)" {
  srv_max_conn_above_nofile thread
}

# --- THREAD only --------------------------------------------------------------
