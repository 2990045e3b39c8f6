#!/usr/bin/env bash
# make compare: for each implementation (default: reference pcntl swoole) run the Bats suites
# through its driver, check its echo-server (and measure it when bench/server_loadgen is built),
# then write results/IMPLEMENTATIONS.md with scripts/matrix.py and print it.
# Reports go to build/reports/compare/IMPL/, outside build/reports/*.xml, so CI's closing summary
# does not count these runs twice. Exit status: non-zero only when the harness itself broke (a
# driver without a valid `info`, a missing report, the matrix tests); differences between
# implementations are the output, not an error. PROCSPEC_REFERENCE_JUNIT=FILE reuses a Bats
# report of the reference instead of running its suites again.
set -uo pipefail
cd "$(dirname "$0")/.."
read -ra impls <<<"${*:-reference pcntl swoole}"
out=build/reports/compare
loadgen=${PROCSPEC_BUILD_DIR:-build/release}/bench/server_loadgen
status=0
serving=()

# SPEC.md lives beside the repository (../shared); in a git worktree, beside the main checkout.
find_spec() {
  local top common
  top=$(git rev-parse --show-toplevel 2>/dev/null) || top=$PWD
  common=$(cd "$(git rev-parse --git-common-dir 2>/dev/null || echo .)" && pwd)
  for f in "${PROCSPEC_SPEC:-}" "$top/../shared/SPEC.md" "$common/../../shared/SPEC.md" "$top/SPEC.md"; do
    [[ -n "$f" && -f "$f" ]] && { echo "$f"; return; }
  done
}

# Bats 1.8.2 writes the --report-formatter file after bats itself has exited: wait for the end tag.
wait_for_report() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q '</testsuites>' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "compare: $1 was not completed" >&2
  return 1
}

echo "== compare: matrix generator tests"
python3 -m unittest discover -s scripts/tests -p 'test_matrix.py' || status=1

rm -rf "$out"
for impl in "${impls[@]}"; do
  dir=$out/$impl
  driver=conformance/impls/$impl/driver
  mkdir -p "$dir"
  echo "== compare: $impl"
  if ! "$driver" info >"$dir/info.json" 2>"$dir/info.err" || ! jq -e 'type == "object"' "$dir/info.json" >/dev/null; then
    echo "compare: $impl: \`$driver info\` failed: $(head -c 300 "$dir/info.err")" >&2
    status=1
    continue
  fi
  if jq -e '.available == false' "$dir/info.json" >/dev/null; then
    # Every test would only skip (about 20 s of Bats start-up): the matrix marks them unavailable.
    echo "  $impl is unavailable here: $(jq -r .reason "$dir/info.json") — its tests are not run"
    python3 scripts/compare_server.py --driver "$driver" --info "$dir/info.json" --out "$dir/server.json" || status=1
    continue
  fi
  # CI has just run the reference's suites in `make conformance`: reuse that report, not the time.
  if [[ $impl == reference && -s "${PROCSPEC_REFERENCE_JUNIT:-}" ]]; then
    echo "  reusing $PROCSPEC_REFERENCE_JUNIT"
    cp "$PROCSPEC_REFERENCE_JUNIT" "$dir/report.xml"
  else
    IMPL=$impl bats --report-formatter junit -o "$dir" conformance/bats >"$dir/bats.tap" 2>&1
  fi
  if wait_for_report "$dir/report.xml"; then
    mv "$dir/report.xml" "$dir/bats.xml"
    scripts/junit_summary.py "$dir/bats.xml" | tail -n 1 | sed "s/^/  bats: /"
  else
    status=1
  fi
  python3 scripts/compare_server.py --driver "$driver" --info "$dir/info.json" --out "$dir/server.json" || status=1
  if jq -e '[.runs[] | select(.echo == "ok")] | length > 0' "$dir/server.json" >/dev/null 2>&1; then
    serving+=(--impl "$impl")
  fi
done

# Load figures, side by side, for every implementation whose echo-server works (with the epoll
# floor of the same pass), by the bench's own runner and load generator.
if [[ ! -x "$loadgen" ]]; then
  echo "compare: $loadgen is not built; server load figures skipped (echo checks only)"
elif [[ ${#serving[@]} -eq 0 ]]; then
  echo "compare: no implementation's echo-server works; server load figures skipped"
else
  echo "== compare: server load (${PROCSPEC_COMPARE_PROFILE:-smoke} profile)"
  scripts/server_bench.py "${PROCSPEC_COMPARE_PROFILE:-smoke}" "${serving[@]}" --out "$out/server_bench.json" ||
    echo "compare: server_bench reported errors (see the matrix)"
fi

spec=$(find_spec)
[[ -n "$spec" ]] || echo "compare: SPEC.md not found (../shared/SPEC.md); known differences are not marked" >&2
python3 scripts/matrix.py --reports "$out" ${spec:+--spec "$spec"} --out results/IMPLEMENTATIONS.md "${impls[@]}" ||
  status=1
echo "== results/IMPLEMENTATIONS.md"
cat results/IMPLEMENTATIONS.md
exit $status
