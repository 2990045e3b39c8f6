#!/usr/bin/env bash
# Runs every benchmark program of the release build and writes Google Benchmark JSON (with the
# machine context) to results/latest/. Profiles: smoke (CI, <1 min), quick (default), full.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-quick}
build=${PROCSPEC_BUILD_DIR:-build/release}
out=results/latest
mkdir -p "$out"

case "$profile" in
  smoke) reps=1; min_time=0.05 ;;
  quick) reps=3; min_time=0.2 ;;
  full)  reps=5; min_time=0.5 ;;
  *) echo "run_bench.sh: unknown profile '$profile' (smoke|quick|full)" >&2; exit 2 ;;
esac

shopt -s nullglob
programs=("$build"/bench/*_bench)
[[ ${#programs[@]} -gt 0 ]] || { echo "run_bench.sh: no benchmark programs in $build/bench" >&2; exit 1; }
for prog in "${programs[@]}"; do
  name=$(basename "$prog" _bench)
  echo "== $name ($profile: $reps repetitions, min_time $min_time s)" >&2
  # Debian's Google Benchmark 1.7.1 takes a bare number of seconds for min_time.
  "$prog" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time" \
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$name.json.tmp" --benchmark_out_format=json
  mv "$out/$name.json.tmp" "$out/$name.json"
done
