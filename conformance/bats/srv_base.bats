# SRV / SRV-BASE: BASE mode from outside, through IMPL's `driver echo-server` and real TCP clients.
load helpers

setup() {
  require_impl
  LOADGEN="$BUILD_DIR/bench/server_loadgen"
  [[ -x $LOADGEN ]] || { echo "missing $LOADGEN: build the preset first" >&2; return 1; }
}

teardown() {
  stop_server
}

hex_len_packet() {  # BODY_TEXT -> hex of a 4-byte big-endian length + body
  local body=$1
  printf '%08x%s' "${#body}" "$(printf '%s' "$body" | od -An -tx1 | tr -d ' \n')"
}

# bats test_tags=spec:SRV-1
@test "SRV-1: the server listens on a kernel-chosen port and reports it" {
  start_server --mode base --workers 1 --framing none
  [[ $SERVER_PORT -gt 0 && $SERVER_PORT -lt 65536 ]]
  run -0 tcp_client send --port "$SERVER_PORT" 68656c6c6f
  json_is '.echo_ok == true'
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets sent one byte at a time come back whole and in order (BASE)" {
  start_server --mode base --workers 2 --framing length:N:0:4:65536
  run -0 tcp_client send --port "$SERVER_PORT" --chunk 1 "$(hex_len_packet hello)" "$(hex_len_packet world)" "$(hex_len_packet '')"
  json_is '.echo_ok == true and .closed_by_peer == false'
}

# bats test_tags=spec:FRM-3
@test "FRM-3: many pipelined packets in one write are echoed in order (BASE)" {
  start_server --mode base --workers 1 --framing length:N:0:4:65536
  local packets=() p
  for ((p = 0; p < 50; p++)); do packets+=("$(hex_len_packet "packet-$p")"); done
  run -0 tcp_client send --port "$SERVER_PORT" "${packets[@]}"
  json_is '.echo_ok == true'
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an oversize length header closes that connection only (BASE)" {
  start_server --mode base --workers 1 --framing length:N:0:4:1024
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet ok)" 00100000
  json_is '.closed_by_peer == true and .received_hex == "'"$(hex_len_packet ok)"'"'
  run -0 tcp_client send --port "$SERVER_PORT" "$(hex_len_packet still-served)"
  json_is '.echo_ok == true'
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split over TCP delivers each packet, the empty one too (BASE)" {
  start_server --mode base --workers 1 --framing eof-split:0d0a:1024
  run -0 tcp_client send --port "$SERVER_PORT" --chunk 3 610d0a0d0a620d0a
  json_is '.echo_ok == true'
}

# bats test_tags=spec:FRM-8
@test "FRM-8: an EOF-mode buffer reaching max_length without EOF closes the connection (BASE)" {
  start_server --mode base --workers 1 --framing eof-check:0d0a:16
  run -0 tcp_client send --port "$SERVER_PORT" 41414141414141414141414141414141414141
  json_is '.closed_by_peer == true'
}

# bats test_tags=spec:SRV-BASE-1
@test "SRV-BASE-1: one worker and nothing to manage is a single process; more workers get a manager" {
  start_server --mode base --workers 1 --framing none
  run -0 bash -c "ps -o pid= --ppid $SERVER_PID | wc -l"
  [[ $output -eq 0 ]]
  stop_server
  start_server --mode base --workers 2 --framing none
  local attempt n=0
  for ((attempt = 0; attempt < 50 && n < 2; attempt++)); do n=$(ps -o pid= --ppid "$SERVER_PID" | wc -l); sleep 0.05; done
  [[ $n -eq 2 ]]
}

# bats test_tags=spec:SRV-BASE-2
@test "SRV-BASE-2: kill -9 of a worker closes only its connections; the manager restarts it" {
  start_server --mode base --workers 2 --framing length:N:0:4:65536
  local victim attempt n=0
  for ((attempt = 0; attempt < 50 && n < 2; attempt++)); do n=$(ps -o pid= --ppid "$SERVER_PID" | wc -l); sleep 0.05; done
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

# bats test_tags=spec:SRV-11
@test "SRV-11: SIGTERM answers requests already sent, then the server exits 0 (BASE)" {
  start_server --mode base --workers 2 --framing length:N:0:4:65536
  local out
  out=$(mktemp)
  "$LOADGEN" --port "$SERVER_PORT" --conns 20 --size 256 --duration 3 --warmup 0 >"$out" 3>&- &
  local loadgen=$!
  sleep 0.5
  stop_server
  wait "$loadgen" || true
  # Every response the clients got matched its request (a mismatch would count as an error);
  # connections closed by the shutdown end the run early but never corrupt it.
  run jq -e '.requests > 0' "$out"
  rm -f "$out"
  [[ $status -eq 0 ]]
}

# bats test_tags=spec:SRV-5
@test "SRV-5: 1000 concurrent connections are all served (BASE)" {
  start_server --mode base --workers 2 --framing length:N:0:4:65536
  run -0 timeout 60 "$LOADGEN" --port "$SERVER_PORT" --conns 1000 --size 64 --requests 5000 --duration 20 --warmup 0
  json_is '.errors == 0 and .requests >= 5000'
}
