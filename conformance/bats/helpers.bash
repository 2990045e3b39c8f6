# Shared by every .bats file. Tests reach the implementation only through driver().
bats_require_minimum_version 1.5.0

IMPL=${IMPL:-reference}
ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# PROCSPEC_IMPLS_DIR lets a test fixture supply its own implementations (scripts/tests/fixtures).
DRIVER="${PROCSPEC_IMPLS_DIR:-$ROOT/conformance/impls}/$IMPL/driver"

# An implementation that is not installed on this machine (Swoole without its extension) says so
# in `driver info` with "available":false and a reason. Every test of it is then skipped with that
# one reason: never failed, never passed. Asked once per Bats run, cached in BATS_RUN_TMPDIR.
require_impl() {
  local cache="${BATS_RUN_TMPDIR:-${BATS_TMPDIR:-/tmp}}/procspec-unavailable${DRIVER//[^A-Za-z0-9]/_}"
  if [[ ! -e "$cache" ]]; then
    local info
    info=$("$DRIVER" info 2>/dev/null) || info='{}'
    jq -r 'select(.available == false) | "\(.name // "implementation") unavailable: \(.reason // "no reason given")"' \
      <<<"$info" >"$cache.$$" 2>/dev/null || : >"$cache.$$"
    mv -f "$cache.$$" "$cache"
  fi
  if [[ -s "$cache" ]]; then
    skip "$(head -n 1 "$cache")"
  fi
}

# The default per-test setup. A .bats file that defines its own setup() must call require_impl
# first; run_probe checks it too.
setup() {
  require_impl
}

# Runs the implementation's driver; exit 77 means the implementation cannot do it.
driver() {
  "$DRIVER" "$@"
}

# run_probe NAME ARGS...: runs a probe under `run`, skipping (never passing) when unsupported.
run_probe() {
  require_impl
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
