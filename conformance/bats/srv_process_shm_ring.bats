# SRV in PROCESS mode over the shm-ring reactor→worker channel: the shared server suite
# (srv_suite.bash) and the kill -9 bodies (srv_proc_faults.bash), the same bodies as
# srv_process.bats and srv_modes.bats run, with SRV_IPC=shm-ring so that every server starts
# with `--ipc shm-ring`. Skipped as a whole, with the reason, unless `driver info` lists both the
# process mode and the shm-ring ipc. Keep the list in step with srv_process.bats.
load helpers
load srv_suite
load srv_proc_faults
SRV_IPC=shm-ring

setup() {
  srv_setup
  require_mode process
  require_ipc "$SRV_IPC"
}

teardown() {
  srv_teardown
}

# bats test_tags=spec:SRV-1
@test "SRV-1: the server listens on a kernel-chosen port and reports it (PROCESS, shm-ring)" {
  srv_kernel_chosen_port process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets sent one byte at a time come back whole and in order (PROCESS, shm-ring)" {
  srv_byte_at_a_time process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: many pipelined packets in one write are echoed in order (PROCESS, shm-ring)" {
  srv_pipelined process
}

# bats test_tags=spec:FRM-3
@test "FRM-3: slow clients sending one byte at a time are served while a loadgen is (PROCESS, shm-ring)" {
  srv_slow_clients process
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an oversize length header closes that connection only (PROCESS, shm-ring)" {
  srv_oversize_header process
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split over TCP delivers each packet, the empty one too (PROCESS, shm-ring)" {
  srv_eof_split process
}

# bats test_tags=spec:FRM-8
@test "FRM-8: an EOF-mode buffer reaching max_length without EOF closes the connection (PROCESS, shm-ring)" {
  srv_eof_check_overflow process
}

# bats test_tags=spec:SRV-5
@test "SRV-5: 1000 concurrent connections are all served (PROCESS, shm-ring)" {
  srv_thousand_connections process
}

# bats test_tags=spec:SRV-5
@test "SRV-5: max_conn overflow: connections past max_conn are closed at once, the first ones served (PROCESS, shm-ring)" {
  srv_max_conn_overflow process
}

# bats test_tags=spec:SRV-6
@test "SRV-6: max_request replaces workers under load and no request fails (PROCESS, shm-ring)" {
  srv_max_request process
}

# bats test_tags=spec:SRV-7,spec:SRV-13
@test "SRV-7: heartbeat closes an idle connection within [idle, idle+interval], never an active one (SRV-13) (PROCESS, shm-ring)" {
  srv_heartbeat process
}

# bats test_tags=spec:SRV-11
@test "SRV-11: SIGTERM with requests in flight: every answer whole, all connections closed, exit 0 (PROCESS, shm-ring)" {
  srv_sigterm_in_flight process
}

# bats test_tags=spec:SRV-12
@test "SRV-12: a client that never reads cannot grow the server's memory; others are served (PROCESS, shm-ring)" {
  srv_slow_reader process
}

# bats test_tags=spec:SRV-14
@test "SRV-14: 100 SIGUSR1 reloads in a row under load leave worker_num workers and fail no request (PROCESS, shm-ring)" {
  srv_hundred_reloads process
}

# bats test_tags=spec:SRV-15
@test "SRV-15: out of fds (ulimit -n), existing connections are served and accepting resumes (PROCESS, shm-ring)" {
  srv_fd_exhaustion process
}

# bats test_tags=spec:SRV-15
@test "SRV-15: max_conn above RLIMIT_NOFILE fails the start with an error naming max_conn (PROCESS, shm-ring)" {
  srv_max_conn_above_nofile process
}

# bats test_tags=spec:SRV-12
@test "SRV-12: stopped workers cannot make the server buffer a fast sender's bytes without bound (PROCESS, shm-ring)" {
  srv_stalled_workers process
}

# --- PROCESS only -------------------------------------------------------------

# --- PROCESS faults (srv_modes.bats runs them on the default channel) ----------

# bats test_tags=spec:SRV-PROC-2
@test "SRV-PROC-2: kill -9 of a worker keeps a slow client's connection; its later packets are served (PROCESS, shm-ring)" {
  srv_proc_kill_keeps_connection
}

# bats test_tags=spec:SRV-PROC-5
@test "SRV-PROC-5: a request in flight in a killed worker is answered or closed within 1 s; a half-sent packet is served after (PROCESS, shm-ring)" {
  srv_proc_kill_in_flight
}

# bats test_tags=spec:SRV-PROC-5,spec:SRV-PROC-2
@test "SRV-PROC-5: workers killed -9 under load: every answer right, no request left waiting, replacements serve (PROCESS, shm-ring)" {
  srv_proc_kill_under_load
}
