# The black-box server suite, written once and run for every mode: srv_base.bats,
# srv_process.bats and srv_thread.bats each call these bodies with their mode, so a title names
# both the spec ID and the mode. Every body bounds its time and stops only what it started.
# srv_process_<ipc>.bats run the PROCESS calls again with SRV_IPC set (srv_start below).
# Options beyond SPEC IUT (--max-conn, --heartbeat, ...) are reference extras: start_server
# skips the test for an implementation whose echo-server does not take them.

LENGTH_FRAMING=length:N:0:4:65536

# The reactor→worker channel the bodies ask for: empty = the implementation's default (no --ipc);
# srv_process_<channel>.bats set it after loading this file, so the environment never does.
SRV_IPC=

# srv_start ARGS...: start_server ARGS, plus `--ipc $SRV_IPC` when a channel was chosen.
srv_start() {
  start_server "$@" ${SRV_IPC:+--ipc "$SRV_IPC"}
}

srv_setup() {
  require_impl
  LOADGEN="$BUILD_DIR/bench/server_loadgen"
  [[ -x $LOADGEN ]] || { echo "missing $LOADGEN: build the preset first" >&2; return 1; }
  [[ -x $TCP_CLIENT ]] || { echo "missing $TCP_CLIENT: build the preset first" >&2; return 1; }
  BG_PIDS=()
  STOPPED_PIDS=()
}

# Stops the background clients a test started (by pid), then the server.
srv_teardown() {
  local p
  for p in "${STOPPED_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_server
}

# len_packet_to VAR BODY_TEXT: VAR = hex of a 4-byte big-endian length + the (ASCII) body,
# without a fork (forks cost tens of ms each on a loaded 2-core CI machine).
len_packet_to() {
  local -n into=$1
  local body=$2 i h
  printf -v into '%08x' "${#body}"
  for ((i = 0; i < ${#body}; i++)); do
    printf -v h '%02x' "'${body:i:1}"
    into+=$h
  done
}

# bg OUT COMMAND...: runs COMMAND in the background with stdout to OUT and records its pid in
# BG_PIDS (teardown stops it). COMMAND is an executable, not a function: $! must be its pid,
# not a subshell's whose death would orphan it.
bg() {
  local out=$1
  shift
  "$@" >"$out" 3>&- &
  BG_PIDS+=($!)
}

# wait_bg: waits for every background command (each bounded by its own timeout).
wait_bg() {
  local p
  for p in "${BG_PIDS[@]}"; do wait "$p" || true; done
  BG_PIDS=()
}

hex_len_packet() {  # BODY_TEXT -> hex of a 4-byte big-endian length + body
  local packet
  len_packet_to packet "$1"
  printf '%s' "$packet"
}

# pause SECONDS: sleep without forking /usr/bin/sleep (read times out on a pipe nobody writes).
pause() {
  local fd
  exec {fd}<> <(:)
  read -rt "$1" -u "$fd" || true
  exec {fd}>&-
}

# PROCESS and THREAD keep connections in the master's reactors, so a worker that stops
# (max_request, reload) closes none of them (SRV-PROC-1, SRV-THREAD-1); a BASE worker owns its
# connections and closes them, between responses, when it stops.
mode_keeps_connections() {
  [[ $1 != base ]]
}

# wait_children PID N: waits (5 s at most) until PID has exactly N child processes.
wait_children() {
  local attempt n=-1
  for ((attempt = 0; attempt < 100; attempt++)); do
    n=$(ps -o pid= --ppid "$1" | wc -l)
    [[ $n -eq $2 ]] && return 0
    pause 0.05
  done
  echo "expected $2 children of $1, found $n" >&2
  return 1
}

# --- SPEC IUT options only ------------------------------------------------------------------

srv_kernel_chosen_port() {
  srv_start --mode "$1" --workers 1 --framing none
  [[ $SERVER_PORT -gt 0 && $SERVER_PORT -lt 65536 ]]
  run -0 tcp_client send --port "$SERVER_PORT" 68656c6c6f
  json_is '.echo_ok == true'
}

srv_byte_at_a_time() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING"
  run -0 tcp_client send --port "$SERVER_PORT" --chunk 1 "$(hex_len_packet hello)" "$(hex_len_packet world)" "$(hex_len_packet '')"
  json_is '.echo_ok == true and .closed_by_peer == false'
}

srv_pipelined() {
  srv_start --mode "$1" --workers 1 --framing "$LENGTH_FRAMING"
  local packets=() p packet
  for ((p = 0; p < 50; p++)); do
    len_packet_to packet "packet-$p"
    packets+=("$packet")
  done
  run -0 tcp_client send --port "$SERVER_PORT" "${packets[@]}"
  json_is '.echo_ok == true'
}

# The good packet before the bad header is answered before the close, in every mode.
srv_oversize_header() {
  srv_start --mode "$1" --workers 1 --framing length:N:0:4:1024
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet ok)" 00100000
  json_is '.closed_by_peer == true and .received_hex == "'"$(hex_len_packet ok)"'"'
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet still-served)"
  json_is '.echo_ok == true'
}

srv_eof_split() {
  srv_start --mode "$1" --workers 1 --framing eof-split:0d0a:1024
  run -0 tcp_client send --port "$SERVER_PORT" --chunk 3 610d0a0d0a620d0a
  json_is '.echo_ok == true'
}

srv_eof_check_overflow() {
  srv_start --mode "$1" --workers 1 --framing eof-check:0d0a:16
  run -0 tcp_client send --port "$SERVER_PORT" 41414141414141414141414141414141414141
  json_is '.closed_by_peer == true'
}

srv_thousand_connections() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING"
  run -0 timeout 60 "$LOADGEN" --port "$SERVER_PORT" --conns 1000 --size 64 --requests 5000 --duration 20 --warmup 0
  json_is '.errors == 0 and .requests >= 5000'
}

# Several clients trickle their packets one byte every 20 ms while a loadgen hammers other
# connections: a slow client holds nobody up, and is itself served whole.
srv_slow_clients() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING"
  local dir=$BATS_TEST_TMPDIR i
  bg "$dir/loadgen" timeout 30 "$LOADGEN" --port "$SERVER_PORT" --conns 8 --size 256 --duration 1 --warmup 0
  for ((i = 0; i < 4; i++)); do
    bg "$dir/slow$i" timeout 30 "$TCP_CLIENT" send --port "$SERVER_PORT" --chunk 1 --gap-ms 20 --timeout-ms 5000 \
      "$(hex_len_packet "slow-$i")" "$(hex_len_packet "client-$i")"
  done
  wait_bg
  for ((i = 0; i < 4; i++)); do
    run cat "$dir/slow$i"
    json_is '.echo_ok == true and .closed_by_peer == false'
  done
  run cat "$dir/loadgen"
  json_is '.errors == 0 and .requests > 100'
}

# SRV-11: a loadgen keeps a request in flight on every connection when SIGTERM lands. Every
# answer that arrives is whole and right (errors counts truncated or wrong ones), each
# connection loses at most the one request the server had not read when it closed, the server
# closes every connection (the loadgen ends well before its 10 s) and exits 0.
srv_sigterm_in_flight() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING"
  local out=$BATS_TEST_TMPDIR/loadgen
  local started=$SECONDS
  bg "$out" timeout 30 "$LOADGEN" --port "$SERVER_PORT" --conns 20 --size 256 --duration 10 --warmup 0 --on-close count
  pause 0.5
  stop_server
  wait_bg
  ((SECONDS - started < 8)) || { echo "connections outlived the server's shutdown" >&2; return 1; }
  run cat "$out"
  json_is '.requests > 0 and .errors == 0 and .unanswered <= 20'
}

# SRV-15 at run time: under `ulimit -n 64` the server runs out of fds before its connections
# do (max_conn defaults to the limit, and the server needs a few fds of its own). The ones
# already in are still served and, once some close, new clients get in again. Clients past the
# limit are refused or left waiting (the reference refuses them at once; SPEC asks neither).
srv_fd_exhaustion() {
  SERVER_ULIMIT_N=64 srv_start --mode "$1" --workers 1 --framing "$LENGTH_FRAMING"
  run -0 tcp_client crowd --port "$SERVER_PORT" --ping "$(hex_len_packet ping)" --conns 72 --close 10 --reopen 5 --timeout-ms 300
  json_is '.served > 0 and .refused + .timed_out > 0 and .served_again == .served and .reopened_served == 5'
}

# --- reference extras ---------------------------------------------------------------------

srv_max_conn_above_nofile() {
  require_impl
  run timeout 10 bash -c 'ulimit -n 64 && exec "$0" echo-server --mode "$1" --workers 1 --max-conn 1000 "${@:2}"' \
    "$DRIVER" "$1" ${SRV_IPC:+--ipc "$SRV_IPC"}
  [[ $status -ne 77 ]] || skip "echo-server --mode $1 unsupported by $IMPL"
  if [[ $status -eq 2 && $output == usage:* ]]; then skip "$IMPL's echo-server does not take --max-conn (reference extra)"; fi
  [[ $status -ne 0 && $status -ne 124 && $output != *listening* && $output == *max_conn* ]] ||
    { echo "expected a start failure naming max_conn, got exit $status: $output"; false; }
}

# SRV-5: with max_conn 4, connections 5..8 are accepted and closed at once while the first four
# (each served before the next is opened) keep being served; closing two lets two new ones in.
srv_max_conn_overflow() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING" --max-conn 4
  run -0 tcp_client crowd --port "$SERVER_PORT" --ping "$(hex_len_packet ping)" --conns 8 --close 2 --reopen 2
  json_is '.served == 4 and .refused == 4 and .timed_out == 0 and .served_again == 4 and .reopened_served == 2'
}

# SRV-6: with max_request 50 and two workers under load, workers are replaced (new pids/tids)
# and no request fails: every answer is whole and right, and a reconnecting client is always
# let in. PROCESS/THREAD also keep every connection open through the replacements.
srv_max_request() {
  SERVER_REFUSABLE=max_request srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING" --max-request 50
  local before
  before=$(server_tids "$SERVER_PID" | sort)
  run -0 timeout 30 "$LOADGEN" --port "$SERVER_PORT" --conns 10 --size 256 --duration 1 --warmup 0 --on-close reconnect
  json_is '.errors == 0 and .requests > 200'
  if mode_keeps_connections "$1"; then json_is '.server_closes == 0 and .unanswered == 0'; fi
  local fresh
  fresh=$(comm -13 <(echo "$before") <(server_tids "$SERVER_PID" | sort) | wc -l)
  [[ $fresh -gt 0 ]] || { echo "no worker was replaced (same tids before and after)" >&2; return 1; }
}

# SRV-7, SRV-13: idle 1 s checked every 1 s: an idle connection is closed no sooner than 1 s
# and within 2 s (+1.5 s slack for a loaded machine); one pinging every 300 ms is never closed.
srv_heartbeat() {
  srv_start --mode "$1" --workers 1 --framing "$LENGTH_FRAMING" --heartbeat 1:1
  local dir=$BATS_TEST_TMPDIR
  bg "$dir/idle" timeout 30 "$TCP_CLIENT" idle --port "$SERVER_PORT" --timeout-ms 6000
  bg "$dir/active" timeout 30 "$TCP_CLIENT" idle --port "$SERVER_PORT" --timeout-ms 2500 --ping-ms 300 --ping "$(hex_len_packet beat)"
  wait_bg
  run cat "$dir/idle"
  json_is '.closed_by_peer == true and .after_ms >= 1000 and .after_ms <= 3500'
  run cat "$dir/active"
  json_is '.closed_by_peer == false and .pings >= 5'
}

# SRV-12: a client sends 32 MiB and never reads. The output buffer (1 MiB) caps what the
# server holds for it: the server tree's RSS grows by less than 16 MiB, another client is
# served meanwhile, and the refused send is logged.
srv_slow_reader() {
  # ASan's quarantine would hold the freed per-packet buffers and look like growth.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" \
    srv_start --mode "$1" --workers 1 --framing none --output-buffer 1048576
  run -0 tcp_client send --port "$SERVER_PORT" 7761726d  # warm the worker before measuring
  local rss0 out=$BATS_TEST_TMPDIR/noread attempt
  rss0=$(server_tree_rss_kb "$SERVER_PID")
  bg "$out" timeout 30 "$TCP_CLIENT" noread --port "$SERVER_PORT" --bytes $((32 << 20)) --hold-ms 10000
  for ((attempt = 0; attempt < 200; attempt++)); do
    [[ -s $out ]] && break
    pause 0.05
  done
  run cat "$out"
  json_is '.sent > 0'
  run -0 tcp_client send --port "$SERVER_PORT" 6f74686572
  json_is '.echo_ok == true'
  local rss1
  rss1=$(server_tree_rss_kb "$SERVER_PID")
  # Measured growth in release: 1 MiB, 5 MiB over shm_ring (its rings' pages, mapped in both
  # processes). TSan keeps shadow memory for every page touched (about 3x), ASan's allocator
  # redzones and quarantine add their own (18 MiB seen over shm_ring); unbounded buffering of
  # the 32 MiB would still exceed each cap.
  local cap=$((16 * 1024))
  case ${PROCSPEC_SANITIZER:-} in
    tsan) cap=$((48 * 1024)) ;;
    asan) cap=$((24 * 1024)) ;;
  esac
  echo "# RSS grew from $rss0 to $rss1 KiB (cap $cap KiB)" >&3
  ((rss1 - rss0 < cap)) || { echo "RSS grew from $rss0 to $rss1 KiB (cap $cap KiB)" >&2; return 1; }
  # PROCESS/THREAD reactors pace a fast sender to the worker (back-pressure), so the refused
  # answer may come a little later than in BASE: wait for it, bounded.
  for ((attempt = 0; attempt < 200; attempt++)); do
    grep -qi 'output buffer' "$SERVER_OUT.err" && break
    pause 0.05
  done
  grep -qi 'output buffer' "$SERVER_OUT.err" || { echo "no output-buffer error logged: $(head -c 2000 "$SERVER_OUT.err")" >&2; return 1; }
}

# SRV-14: 100 SIGUSR1 to the server, 20 ms apart (each lands during the previous reload), under
# load: afterwards exactly two workers and no failed request.
srv_hundred_reloads() {
  srv_start --mode "$1" --workers 2 --framing "$LENGTH_FRAMING"
  local out=$BATS_TEST_TMPDIR/loadgen i
  bg "$out" timeout 30 "$LOADGEN" --port "$SERVER_PORT" --conns 10 --size 256 --duration 2.5 --warmup 0 --on-close reconnect
  local tick
  exec {tick}<> <(:)  # read -t on a silent pipe: 20 ms pauses without a fork each
  for ((i = 0; i < 100; i++)); do
    kill -USR1 "$SERVER_PID"
    read -rt 0.02 -u "$tick" || true
  done
  exec {tick}>&-
  wait_bg
  run cat "$out"
  json_is '.errors == 0 and .requests > 200'
  if mode_keeps_connections "$1"; then json_is '.server_closes == 0 and .unanswered == 0'; fi
  if [[ $1 != thread ]]; then wait_workers "$1" 2; fi
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet after-reloads)"
  json_is '.echo_ok == true'
}

# wait_workers MODE N: BASE workers are the server's children; PROCESS workers are the
# manager's (the server's only child process).
wait_workers() {
  if [[ $1 == base ]]; then
    wait_children "$SERVER_PID" "$2"
  else
    local manager
    manager=$(ps -o pid= --ppid "$SERVER_PID" | head -n 1 | tr -d ' ')
    [[ -n $manager ]] || { echo "no manager process under $SERVER_PID" >&2; return 1; }
    wait_children "$manager" "$2"
  fi
}

# worker_pids MODE: the worker processes of the running server (BASE: its children; PROCESS:
# the manager's).
worker_pids() {
  if [[ $1 == base ]]; then
    ps -o pid= --ppid "$SERVER_PID" | tr -d ' '
  else
    local manager
    manager=$(ps -o pid= --ppid "$SERVER_PID" | head -n 1 | tr -d ' ')
    ps -o pid= --ppid "$manager" | tr -d ' '
  fi
}

# SRV-12, the other way round: the workers are stopped (SIGSTOP) while a client sends 64 MiB.
# Whoever reads the socket must stop reading when it cannot pass the bytes on: the server
# tree's RSS grows by less than 16 MiB (the client stalls instead). After SIGCONT the server
# serves again. Worker processes only (BASE, PROCESS): a THREAD worker cannot be stopped alone.
srv_stalled_workers() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" \
    srv_start --mode "$1" --workers 2 --framing none
  run -0 tcp_client send --port "$SERVER_PORT" 7761726d
  wait_workers "$1" 2
  local rss0 rss1 p
  rss0=$(server_tree_rss_kb "$SERVER_PID")
  for p in $(worker_pids "$1"); do
    STOPPED_PIDS+=("$p")
    kill -STOP "$p"
  done
  run -0 tcp_client noread --port "$SERVER_PORT" --bytes $((64 << 20)) --hold-ms 0
  rss1=$(server_tree_rss_kb "$SERVER_PID")
  for p in "${STOPPED_PIDS[@]}"; do kill -CONT "$p"; done
  STOPPED_PIDS=()
  ((rss1 - rss0 < 16 * 1024)) || { echo "RSS grew from $rss0 to $rss1 KiB while the workers were stopped ($output)" >&2; return 1; }
  run -0 tcp_client send --port "$SERVER_PORT" --timeout-ms 10000 6f74686572
  json_is '.echo_ok == true'
}
