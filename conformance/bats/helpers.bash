# Shared by every .bats file. Tests reach the implementation only through driver().
bats_require_minimum_version 1.5.0

IMPL=${IMPL:-reference}
ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
DRIVER="$ROOT/conformance/impls/$IMPL/driver"

# Runs the implementation's driver; exit 77 means the implementation cannot do it.
driver() {
  "$DRIVER" "$@"
}

# run_probe NAME ARGS...: runs a probe under `run`, skipping (never passing) when unsupported.
run_probe() {
  run timeout 30 "$DRIVER" probe "$@"
  if [[ $status -eq 77 ]]; then
    skip "probe $1 unsupported by $IMPL"
  fi
  if [[ $status -ne 0 ]]; then
    echo "driver probe $* exited $status: $output" >&2
    return 1
  fi
}

# json_is JQ_EXPR: the last JSON line of $output satisfies the expression.
json_is() {
  local last
  last=$(printf '%s\n' "$output" | grep -E '^\{' | tail -n 1)
  jq -e "$1" <<<"$last" >/dev/null || { echo "expected: $1"; echo "output: $output"; false; }
}

# json_lines_are JQ_EXPR: the JSON lines of $output, slurped into an array, satisfy the expression.
json_lines_are() {
  printf '%s\n' "$output" | grep -E '^\{' | jq -s -e "$1" >/dev/null ||
    { echo "expected: $1"; echo "output: $output"; false; }
}
