# SPEC PRC through the driver's probes (black box).
load helpers

# bats test_tags=spec:PRC-4
@test "PRC-4: with redirect_stdio the parent reads what the child printed" {
  run_probe redirect-stdio
  json_is '.read == "hello\n"'
}

# bats test_tags=spec:PRC-6
@test "PRC-6: a dgram pipe returns one message per read" {
  run_probe pipe-boundaries 2
  json_is '.reads == ["AAAAA","BBBBB","CCCCC"]'
}

# bats test_tags=spec:PRC-6
@test "PRC-6: a stream pipe keeps the bytes in order but not the boundaries" {
  run_probe pipe-boundaries 1
  json_is '(.reads | join("")) == "AAAAABBBBBCCCCC" and (.reads | length) <= 3'
}

# bats test_tags=spec:PRC-7
@test "PRC-7: a dgram message longer than the default read size is not silently truncated" {
  run_probe pipe-oversize 2 70000
  json_is '.write_ok == true and .lost_bytes == 0 and (.read_bytes == 70000 or .errno != null)'
}

# bats test_tags=spec:PRC-7
@test "PRC-7: a stream pipe delivers a long write in pieces, losing nothing" {
  run_probe pipe-oversize 1 70000
  json_is '.write_ok == true and .lost_bytes == 0 and .read_bytes <= 70000'
}

# bats test_tags=spec:PRC-7
@test "PRC-7: a datagram larger than the pipe can carry is a write error" {
  run_probe pipe-oversize 2 67108864
  json_is '.write_ok == false and (.errno | type == "string") and .lost_bytes == 0'
}

# bats test_tags=spec:PRC-8
@test "PRC-8: an exec'd program's output is readable by the parent" {
  run_probe exec /bin/echo hello exec
  json_is '.ok == true and .output == "hello exec\n"'
}

# bats test_tags=spec:PRC-8
@test "PRC-8: a missing program is an error reported to the parent, not a success" {
  run_probe exec /nonexistent/program
  json_is '.ok == false'
}

# Issue 9's pipe types (procspec beyond Swoole): messages, never cut, an oversize write refused.
# bats test_tags=spec:PRC-6
@test "PRC-6: uds_batch and shm_ring pipes return one message per read" {
  local type
  for type in uds_batch shm_ring; do
    run_probe pipe-boundaries "$type"
    json_is '.reads == ["AAAAA","BBBBB","CCCCC"]'
  done
}

# bats test_tags=spec:PRC-7
@test "PRC-7: uds_batch and shm_ring pipes deliver a 70000-byte message whole and refuse 64 MiB" {
  local type
  for type in uds_batch shm_ring; do
    run_probe pipe-oversize "$type" 70000
    json_is '.write_ok == true and .lost_bytes == 0 and .read_bytes == 70000'
    run_probe pipe-oversize "$type" 67108864
    json_is '.write_ok == false and (.errno | type == "string") and .lost_bytes == 0'
  done
}
