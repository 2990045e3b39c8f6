#!/usr/bin/env bash
# Runs every benchmark program of the release build and writes Google Benchmark JSON (with the
# machine context and the placement check) to results/latest/<program>.json.
#   scripts/run_bench.sh [smoke|quick|full]
#     smoke  CI: 1 repetition, 1 KiB IPC sizes only, no million-message runs, under a minute
#     quick  the default of `make bench`: 3 repetitions, every size, about 2-3 minutes
#     full   FULL=1: 5 repetitions, longer runs (the figures to commit)
# Env: PROCSPEC_BUILD_DIR (build/release), PROCSPEC_RESULTS_DIR (results/latest),
#      PROCSPEC_BENCH_PIN=1 pins the two sides of each benchmark to two CPUs,
#      PROCSPEC_BENCH_PROGRAMS="process_ipc pool" runs only those programs (the other JSON stays).
# Before overwriting, the committed results/latest/*.json are archived (from git HEAD) to
# results/history/<date>-<commit>/ so report.py can compare with the previous committed run.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-quick}
build=${PROCSPEC_BUILD_DIR:-build/release}
out=${PROCSPEC_RESULTS_DIR:-results/latest}

case "$profile" in
  smoke) reps=1; min_time=0.05; budget=60 ;;
  quick) reps=3; min_time=0.2; budget=240 ;;
  full)  reps=5; min_time=0.5; budget=900 ;;
  *) echo "run_bench.sh: unknown profile '$profile' (smoke|quick|full)" >&2; exit 2 ;;
esac

# Per-program filter per profile (a Google Benchmark regex); default: everything.
filter_for() {
  case "$1:$2" in
    smoke:ipc) echo '/1024/' ;;
    # The million-message runs take seconds each: the quick and full profiles have them.
    smoke:channel | smoke:process_ipc) echo '-Million' ;;
    *) echo '.' ;;
  esac
}

archive_committed() {
  [[ "$out" == results/latest ]] || return 0
  git rev-parse --git-dir >/dev/null 2>&1 || return 0
  local files
  files=$(git ls-tree --name-only HEAD results/latest/ 2>/dev/null | grep '\.json$' || true)
  [[ -n "$files" ]] || return 0
  local first stamp
  first=$(echo "$files" | head -1)
  stamp=$(git show "HEAD:$first" | python3 -c '
import json, sys
c = json.load(sys.stdin).get("context", {})
print(c.get("date", "unknown")[:10] + "-" + c.get("commit", "unknown"))')
  [[ -d "results/history/$stamp" ]] && return 0
  mkdir -p "results/history/$stamp"
  while read -r f; do
    git show "HEAD:$f" >"results/history/$stamp/$(basename "$f")"
  done <<<"$files"
  echo "run_bench.sh: archived the committed run to results/history/$stamp" >&2
}

shopt -s nullglob
if [[ -n ${PROCSPEC_BENCH_PROGRAMS:-} ]]; then
  programs=()
  for p in $PROCSPEC_BENCH_PROGRAMS; do
    [[ -x $build/bench/${p}_bench ]] || { echo "run_bench.sh: no program $build/bench/${p}_bench" >&2; exit 2; }
    programs+=("$build/bench/${p}_bench")
  done
else
  programs=("$build"/bench/*_bench)
fi
[[ ${#programs[@]} -gt 0 ]] || { echo "run_bench.sh: no benchmark programs in $build/bench" >&2; exit 1; }
archive_committed
mkdir -p "$out"
start=$SECONDS
chunk=${PROCSPEC_BENCH_CHUNK:-12}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for prog in "${programs[@]}"; do
  name=$(basename "$prog" _bench)
  filter=$(filter_for "$profile" "$name")
  mapfile -t tests < <("$prog" --benchmark_list_tests=true --benchmark_filter="$filter" 2>/dev/null)
  total=${#tests[@]}
  [[ $total -gt 0 ]] || { echo "== $name: no benchmarks match '$filter'" >&2; continue; }
  echo "== $name: $total benchmarks × $reps repetitions, min_time $min_time s ($profile)" >&2
  # Random interleaving reports a benchmark only after its last repetition, i.e. near the end
  # of a program's run; running a few benchmarks at a time keeps progress visible (each chunk
  # interleaves its own repetitions, and runs its own placement check).
  rm -f "$tmp"/part-*.json
  done_count=0
  for ((i = 0; i < total; i += chunk)); do
    part=("${tests[@]:i:chunk}")
    regex="^($(IFS='|'; echo "${part[*]}"))\$"
    # Debian's Google Benchmark 1.7.1 takes a bare number of seconds for min_time.
    timeout "$budget" "$prog" --benchmark_filter="$regex" --benchmark_repetitions="$reps" \
      --benchmark_min_time="$min_time" --benchmark_enable_random_interleaving=true \
      --benchmark_report_aggregates_only=true --benchmark_color=false \
      --benchmark_out="$tmp/part-$(printf %04d "$i").json" --benchmark_out_format=json 2>"$tmp/stderr" |
      awk -v done="$done_count" -v total="$total" -v reps="$reps" '
        (reps == 1 ? /^BM_/ : /_median /) || /ERROR OCCURRED/ {
          n++; line = sprintf("[%d/%d] %-44s %10s %-3s", done + n, total, $1, $2, $3)
          for (i = 4; i <= NF; i++) if ($i ~ /^(items_per_second|p50_us|p99_us)=/) line = line " " $i
          if ($0 ~ /ERROR/) line = sprintf("[%d/%d] %s", done + n, total, $0)
          print line; fflush()
        }' || { echo "run_bench.sh: $name failed; its stderr ends with:" >&2; tail -n 20 "$tmp/stderr" >&2; exit 1; }
    done_count=$((done_count + ${#part[@]}))
    echo "   ... $done_count/$total done, $((SECONDS - start)) s" >&2
  done
  python3 scripts/merge_bench_json.py "$tmp"/part-*.json >"$out/$name.json.tmp"
  mv "$out/$name.json.tmp" "$out/$name.json"
done
echo "run_bench.sh: $profile profile done in $((SECONDS - start)) s -> $out" >&2
