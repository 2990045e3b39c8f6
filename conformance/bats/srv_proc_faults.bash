# PROCESS-only fault bodies (SRV-PROC-2, SRV-PROC-5): workers killed with kill -9 while clients
# talk to the server. Written once, run on the implementation's default channel by
# srv_modes.bats and on a chosen one by srv_process_<channel>.bats (SRV_IPC, see srv_suite.bash).
# Needs srv_suite.bash loaded first (srv_start, bg, worker_pids, pause).

# now_us: the wall clock in microseconds, without a fork.
now_us() {
  local t=${EPOCHREALTIME/[.,]/}
  echo "$((10#$t))"
}

# SRV-PROC-2: one packet every 500 ms on one connection; every worker is killed between two of
# them (nothing in flight) and restarted. The connection stays open and every packet is echoed.
# The kill lands mid-gap, 250 ms from either packet; the pids are read before the client starts
# so no fork delays it.
srv_proc_kill_keeps_connection() {
  srv_start --mode process --workers 2 --framing "$LENGTH_FRAMING"
  wait_workers process 2
  local out=$BATS_TEST_TMPDIR/slow packets=() i p victims
  victims=$(worker_pids process)
  for ((i = 0; i < 4; i++)); do packets+=("$(hex_len_packet "packet-$i")"); done
  bg "$out" timeout 30 "$TCP_CLIENT" send --port "$SERVER_PORT" --chunk 12 --gap-ms 500 --timeout-ms 10000 "${packets[@]}"
  pause 0.75
  for p in $victims; do kill -KILL "$p"; done
  wait_bg
  run cat "$out"
  json_is '.echo_ok == true and .closed_by_peer == false'
  wait_workers process 2
}

# SRV-PROC-5: the only worker is stopped (SIGSTOP) when a request reaches the server, then
# killed with it in flight (sent to the worker, in its channel or in its hands). That client is
# answered or its connection closed within 1 s of the kill (+1 s slack for a loaded machine),
# never left waiting. A connection that holds half a packet across the kill is kept, and its
# packet, completed after the kill, is served by the replacement (over a fresh channel).
srv_proc_kill_in_flight() {
  srv_start --mode process --workers 1 --framing "$LENGTH_FRAMING"
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet warm)"
  wait_workers process 1
  local dir=$BATS_TEST_TMPDIR worker victim killed_at waited_us
  worker=$(worker_pids process)
  STOPPED_PIDS+=("$worker")
  kill -STOP "$worker"
  bg "$dir/victim" timeout 30 "$TCP_CLIENT" send --port "$SERVER_PORT" --timeout-ms 10000 "$(hex_len_packet stuck)"
  victim=${BG_PIDS[-1]}
  # Its 4-byte header now, its body 1.5 s later: long after the kill.
  bg "$dir/bystander" timeout 30 "$TCP_CLIENT" send --port "$SERVER_PORT" --chunk 4 --gap-ms 1500 --timeout-ms 10000 \
    "$(hex_len_packet late)"
  pause 0.3
  killed_at=$(now_us)
  kill -KILL "$worker"
  STOPPED_PIDS=()
  wait "$victim" || true
  waited_us=$(($(now_us) - killed_at))
  wait_bg
  run cat "$dir/victim"
  json_is '.closed_by_peer == true or .echo_ok == true'
  ((waited_us < 2000000)) || { echo "the in-flight client waited $((waited_us / 1000)) ms after the kill" >&2; return 1; }
  run cat "$dir/bystander"
  json_is '.echo_ok == true and .closed_by_peer == false'
  wait_workers process 1
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet after)"
  json_is '.echo_ok == true'
}

# SRV-PROC-2, SRV-PROC-5 under load: 10 connections keep a request in flight while a worker is
# killed -9 three times, 400 ms apart, so it dies mid-message with its channel in use (a ring or
# stream it was reading or writing). Every answer that arrives is whole and right (errors), no
# connection is left waiting (the loadgen's drain, bounded at 5 s past its 2 s, would keep it
# running), and the replacements serve on fresh channels.
srv_proc_kill_under_load() {
  srv_start --mode process --workers 2 --framing "$LENGTH_FRAMING"
  wait_workers process 2
  local out=$BATS_TEST_TMPDIR/loadgen round started took_us p victim killed=" "
  started=$(now_us)
  bg "$out" timeout 30 "$LOADGEN" --port "$SERVER_PORT" --conns 10 --size 256 --duration 2 --warmup 0 --on-close reconnect
  for ((round = 0; round < 3; round++)); do
    pause 0.4
    victim=""
    for p in $(worker_pids process); do
      [[ $killed == *" $p "* ]] || { victim=$p; break; }
    done
    [[ -n $victim ]] || continue  # the replacements are not up yet: the next round kills one
    killed+="$victim "
    kill -KILL "$victim"
  done
  wait_bg
  took_us=$(($(now_us) - started))
  run cat "$out"
  json_is '.errors == 0 and .requests > 100'
  ((took_us < 5500000)) || { echo "the loadgen took $((took_us / 1000)) ms: a request was left waiting" >&2; return 1; }
  wait_workers process 2
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet after-kills)"
  json_is '.echo_ok == true'
}
