# FRM: framing, black-box through `driver probe frame SPEC` (stdin in, one JSON line per packet).
bats_require_minimum_version 1.5.0
load helpers

# frame_hex SPEC HEX: feeds the bytes HEX (spaces allowed) as one read from a file.
frame_hex() {
  xxd -r -p <<<"${2// /}" >"$BATS_TEST_TMPDIR/stream"
  run_probe frame "$1" <"$BATS_TEST_TMPDIR/stream"
}

# frame_printf SPEC FORMAT ARGS...: feeds printf's output as one read from a file.
frame_printf() {
  local spec=$1
  shift
  # shellcheck disable=SC2059
  printf "$@" >"$BATS_TEST_TMPDIR/stream"
  run_probe frame "$spec" <"$BATS_TEST_TMPDIR/stream"
}

# bats test_tags=spec:FRM-1
@test "FRM-1: a length-framed packet is body_offset + L bytes, header included" {
  frame_hex length:N:0:4:1024 "00000005 68656c6c6f  00000002 6869"
  json_lines_are 'length == 2 and .[0] == {"len":9,"hex":"0000000568656c6c6f"} and .[1].hex == "000000026869"'
}

# bats test_tags=spec:FRM-1
@test "FRM-1: length_offset and body_offset place the field inside a longer header" {
  # 2 bytes of type, the 'n' length, 2 more header bytes, then a 3-byte body.
  frame_hex length:n:2:6:1024 "abab 0003 cdcd 414243"
  json_lines_are 'length == 1 and .[0] == {"len":9,"hex":"abab0003cdcd414243"}'
}

# bats test_tags=spec:FRM-2
@test "FRM-2: every pack code reads its width, sign and byte order" {
  local host_le
  host_le=$(printf '\x01\x00' | od -An -tu2 | tr -d ' ')
  [[ $host_le == 1 ]] || skip "big-endian host: host-order cases below are written for little-endian"
  local -A header=(
    [c]=03 [C]=03 [s]=0300 [S]=0300 [n]=0003 [v]=0300 [l]=03000000 [L]=03000000
    [N]=00000003 [V]=03000000 [q]=0300000000000000 [Q]=0300000000000000
    [J]=0000000000000003 [P]=0300000000000000
  )
  local code width
  for code in "${!header[@]}"; do
    width=$(( ${#header[$code]} / 2 ))
    frame_hex "length:$code:0:$width:64" "${header[$code]} 78797a ${header[$code]} 78797a"
    json_lines_are "length == 2 and all(.[]; .len == $width + 3 and .hex == \"${header[$code]}78797a\")"
  done
}

# bats test_tags=spec:FRM-2
@test "FRM-2: an unsupported pack code (i) is a settings error, not a run-time one" {
  run --separate-stderr driver probe frame length:i:0:4:1024 </dev/null
  expect_status 2
  [[ $stderr == *"package_length_type"* && $stderr == *"'i'"* ]] || { echo "$stderr"; false; }
  run --separate-stderr driver probe frame length:N:0:70000:1048576 </dev/null
  expect_status 2
  [[ $stderr == *"package_body_offset 70000 is outside 0..65535"* ]] || { echo "$stderr"; false; }
}

# bats test_tags=spec:FRM-3
@test "FRM-3: packets dribbled over many reads come out whole, once, in order" {
  run_probe frame length:N:0:4:1024 < <(
    for byte in 00 00 00 03 61 62 63 00 00; do printf "\\x$byte"; sleep 0.01; done
    printf '\x00\x01z\x00\x00\x00\x00'
  )
  json_lines_are '[.[].hex] == ["00000003616263", "000000017a", "00000000"]'
}

# bats test_tags=spec:FRM-4
@test "FRM-4: a header announcing more than max_length closes with a reason naming the length" {
  frame_hex length:N:0:4:64 "00000002 6869  0000ffff 6869"
  json_lines_are 'length == 2 and .[0].hex == "000000026869"'
  json_is '(.closed | contains("length 65535")) and (.closed | contains("package_max_length 64")) and .warned == true'
}

# bats test_tags=spec:FRM-4
@test "FRM-4: a negative length (signed code) and a 64-bit length >= 2^63 close the connection" {
  frame_hex length:l:0:4:64 "ffffffff 6869"
  json_lines_are 'length == 1 and (.[0].closed | contains("length -1"))'
  frame_hex length:J:0:8:64 "8000000000000000 6869"
  json_lines_are 'length == 1 and (.[0].closed | contains("9223372036854775808"))'
}

# bats test_tags=spec:FRM-4
@test "FRM-4: L = 0 is a header-only packet with body_offset > 0 and a close with body_offset 0" {
  frame_hex length:N:0:4:64 "00000000 00000001 7a"
  json_lines_are '[.[].hex] == ["00000000", "000000017a"]'
  frame_hex length:N:0:0:64 "00000000"
  json_lines_are 'length == 1 and (.[0].closed | contains("length 0"))'
}

# bats test_tags=spec:FRM-4
@test "FRM-4: an incomplete packet is neither delivered nor a reason to close" {
  frame_hex length:N:0:4:64 "00000010 616263"
  [[ -z $output ]] || { echo "$output"; false; }
}

# bats test_tags=spec:FRM-5
@test "FRM-5: max_length is enforced exactly, even below 65536" {
  frame_hex length:N:0:4:8 "00000004 61626364"
  json_lines_are 'length == 1 and .[0].len == 8'
  frame_hex length:N:0:4:8 "00000005 6162636465"
  json_lines_are 'length == 1 and (.[0].closed | contains("9-byte packet, above package_max_length 8"))'
  run --separate-stderr driver probe frame length:N:0:8:4 </dev/null
  expect_status 2
  [[ $stderr == *"package_max_length 4 is below package_body_offset 8"* ]] || { echo "$stderr"; false; }
}

# bats test_tags=spec:FRM-6
@test "FRM-6: EOF split gives one packet per EOF, EOF included, an empty one too" {
  frame_printf eof-split:0d0a:1024 'a\r\nb\r\n\r\n'
  json_lines_are '[.[].hex] == ["610d0a", "620d0a", "0d0a"]'
}

# bats test_tags=spec:FRM-6
@test "FRM-6: an EOF split across two reads is still found" {
  run_probe frame eof-split:3c3c454f463e3e:1024 < <(printf 'one<<EO'; sleep 0.05; printf 'F>>two<<EOF>>')
  json_lines_are '[.[].len] == [10, 10]'
}

# bats test_tags=spec:FRM-6
@test "FRM-6: package_eof longer than 8 bytes is a settings error" {
  run --separate-stderr driver probe frame eof-split:000102030405060708:1024 </dev/null
  expect_status 2
  [[ $stderr == *"package_eof must be 1..8 bytes, got 9"* ]] || { echo "$stderr"; false; }
}

# bats test_tags=spec:FRM-7
@test "FRM-7: EOF check delivers two packets of one read as one piece" {
  frame_printf eof-check:0d0a:1024 'a\r\nb\r\n'
  json_lines_are 'length == 1 and .[0] == {"len":6,"hex":"610d0a620d0a"}'
}

# bats test_tags=spec:FRM-8
@test "FRM-8: a buffer reaching max_length without EOF closes, in both EOF modes" {
  frame_printf eof-split:0d0a:8 'ok\r\n12345678'
  json_lines_are 'length == 2 and .[0].hex == "6f6b0d0a" and (.[1].closed | contains("package_max_length 8"))'
  frame_printf eof-check:0d0a:8 '12345678\r\n'
  json_lines_are 'length == 1 and (.[0].closed | contains("package_max_length 8"))'
}

# bats test_tags=spec:FRM-9
@test "FRM-9: with no protocol each read is delivered as it came" {
  frame_printf none 'GET / HTTP/1.1\r\n\r\n'
  json_lines_are 'length == 1 and .[0].len == 18'
}

@test "IUT: frame with a malformed SPEC string is a usage error" {
  run --separate-stderr driver probe frame length:N:0:4 </dev/null
  expect_status 2
  [[ $stderr == *"is not none, length:TYPE:LENGTH_OFFSET:BODY_OFFSET:MAX"* ]] || { echo "$stderr"; false; }
  run driver probe frame </dev/null
  expect_status 2
}
