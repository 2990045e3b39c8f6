# SRV in PROCESS mode: the shared server suite (srv_suite.bash) through IMPL's `driver echo-server
# --mode process`. Skipped as a whole while `driver info` does not list the mode. PROCESS's own
# tests (SRV-PROC-*, kill -9 of a worker) are in srv_modes.bats. srv_process_<ipc>.bats repeat
# this list over one more channel each: add a test there too.
load helpers
load srv_suite

setup() {
  srv_setup
  require_mode process
}

teardown() {
  srv_teardown
}

# bats test_tags=spec:SRV-1
@test "SRV-1: the server listens on a kernel-chosen port and reports it (PROCESS)" {
  srv_kernel_chosen_port process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets sent one byte at a time come back whole and in order (PROCESS)" {
  srv_byte_at_a_time process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: many pipelined packets in one write are echoed in order (PROCESS)" {
  srv_pipelined process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: slow clients sending one byte at a time are served while a loadgen is (PROCESS)" {
  srv_slow_clients process
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an oversize length header closes that connection only (PROCESS)" {
  srv_oversize_header process
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split over TCP delivers each packet, the empty one too (PROCESS)" {
  srv_eof_split process
}

# bats test_tags=spec:FRM-8
@test "FRM-8: an EOF-mode buffer reaching max_length without EOF closes the connection (PROCESS)" {
  srv_eof_check_overflow process
}

# bats test_tags=spec:SRV-5
@test "SRV-5: 1000 concurrent connections are all served (PROCESS)" {
  srv_thousand_connections process
}

# bats test_tags=spec:SRV-5
@test "SRV-5: max_conn overflow: connections past max_conn are closed at once, the first ones served (PROCESS)" {
  srv_max_conn_overflow process
}

# bats test_tags=spec:SRV-6
@test "SRV-6: max_request replaces workers under load and no request fails (PROCESS)" {
  srv_max_request process
}

# bats test_tags=spec:SRV-7,spec:SRV-13
@test "SRV-7: heartbeat closes an idle connection within [idle, idle+interval], never an active one (SRV-13) (PROCESS)" {
  srv_heartbeat process
}

# bats test_tags=spec:SRV-11
@test "SRV-11: SIGTERM with requests in flight: every answer whole, all connections closed, exit 0 (PROCESS)" {
  srv_sigterm_in_flight process
}

# bats test_tags=spec:SRV-12
@test "SRV-12: a client that never reads cannot grow the server's memory; others are served (PROCESS)" {
  srv_slow_reader process
}

# bats test_tags=spec:SRV-14
@test "SRV-14: 100 SIGUSR1 reloads in a row under load leave worker_num workers and fail no request (PROCESS)" {
  srv_hundred_reloads process
}

# bats test_tags=spec:SRV-15
@test "SRV-15: out of fds (ulimit -n), existing connections are served and accepting resumes (PROCESS)" {
  srv_fd_exhaustion process
}

# bats test_tags=spec:SRV-15
@test "SRV-15: max_conn above RLIMIT_NOFILE fails the start with an error naming max_conn (PROCESS)" {
  srv_max_conn_above_nofile process
}

# bats test_tags=spec:SRV-12
@test "SRV-12: stopped workers cannot make the server buffer a fast sender's bytes without bound (PROCESS)" {
  srv_stalled_workers process
}

# --- PROCESS only -------------------------------------------------------------
