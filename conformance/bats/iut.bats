# The driver interface itself (SPEC IUT).
load helpers

@test "IUT: info names the implementation and lists its probes" {
  run -0 driver info
  json_is '(.name | type == "string") and (.probes | type == "array") and (.modes | type == "array") and (.ipc | type == "array")'
}

@test "IUT: an unknown probe is reported as unsupported (exit 77), not as a pass" {
  run -77 driver probe no-such-probe
}
