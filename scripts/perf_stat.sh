#!/usr/bin/env bash
# Wraps one benchmark in `perf stat` with the software events this machine supports
# (context-switches, cpu-migrations, task-clock, page-faults) plus hardware events where
# `perf stat -e instructions true` works (often not in a VM). Counts cover the benchmark process
# and its forked peers (perf follows children). Writes results/latest/perf-<program>-<filter>.txt.
#   scripts/perf_stat.sh BENCH_FILTER [program=ipc]
#   e.g. scripts/perf_stat.sh 'BM_UdsDgram_PingPong_Raw/1024' ipc
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: scripts/perf_stat.sh BENCH_FILTER [program]" >&2; exit 2; }
filter=$1
program=${2:-ipc}
build=${PROCSPEC_BUILD_DIR:-build/release}
out=${PROCSPEC_RESULTS_DIR:-results/latest}
prog="$build/bench/${program}_bench"
[[ -x "$prog" ]] || { echo "perf_stat.sh: $prog not built (make build)" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf_stat.sh: perf missing (scripts/deps.sh bench)" >&2; exit 1; }

matches=$("$prog" --benchmark_list_tests=true --benchmark_filter="$filter" 2>/dev/null | wc -l)
[[ $matches -gt 0 ]] || { echo "perf_stat.sh: no benchmark of $program matches '$filter'" >&2; exit 1; }

events=context-switches,cpu-migrations,task-clock,page-faults
hw=()
for e in instructions cycles cache-misses branch-misses; do
  if perf stat -x, -e "$e" true 2>&1 >/dev/null | grep -q -e 'not supported' -e 'not counted'; then continue; fi
  hw+=("$e")
done
[[ ${#hw[@]} -gt 0 ]] && events+=",$(IFS=,; echo "${hw[*]}")"

mkdir -p "$out"
safe=$(echo "$filter" | tr -c 'A-Za-z0-9_.-' '_' | sed 's/_*$//')
file="$out/perf-$program-$safe.txt"
{
  echo "# perf stat -e $events  $prog --benchmark_filter='$filter'"
  echo "# hardware events: ${hw[*]:-none (not supported on this machine)}"
  echo "# $(date -u +%FT%TZ)  $(uname -sr)  commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$file"
perf stat -e "$events" -o "$file.tmp" -- "$prog" --benchmark_filter="$filter" \
  --benchmark_min_time="${MIN_TIME:-0.5}" --benchmark_color=false | tee -a "$file"
cat "$file.tmp" >>"$file" && rm -f "$file.tmp"
tail -n 15 "$file"
echo "perf_stat.sh: wrote $file" >&2
