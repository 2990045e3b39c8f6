#!/usr/bin/env bash
# Checks the Debian packages a make target needs and installs the missing ones (as root), or
# prints the one apt-get command to run. Usage: scripts/deps.sh GROUP...
#   build  compilers and CMake        test  GoogleTest, Bats, jq     bench  Google Benchmark, perf,
#   php    PHP drivers (issue 8)      report  matplotlib              sanitize/fuzz  clang runtimes
set -euo pipefail

declare -A group=(
  [build]="cmake ninja-build g++ make pkg-config"
  [test]="libgtest-dev libgmock-dev bats jq python3 procps"
  [bench]="libbenchmark-dev linux-perf python3"
  [report]="python3-matplotlib"
  [sanitize]="clang libclang-rt-14-dev"
  [fuzz]="clang libclang-rt-14-dev"
  [php]="php8.2-cli"
)

wanted=()
for g in "${@:-build test}"; do
  for name in $g; do
    [[ -n "${group[$name]+x}" ]] || { echo "deps.sh: unknown group '$name' (${!group[*]})" >&2; exit 2; }
    read -ra pkgs <<<"${group[$name]}"
    wanted+=("${pkgs[@]}")
  done
done

missing=()
for p in $(printf '%s\n' "${wanted[@]}" | sort -u); do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
# Another apt (a parallel make, unattended-upgrades) may hold the dpkg lock: wait rather than fail.
lock_wait=(-o DPkg::Lock::Timeout=300)
if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be absent or stale; refresh once before installing.
apt-get "${lock_wait[@]}" update -qq >&2
apt-get "${lock_wait[@]}" install -y --no-install-recommends "${missing[@]}" >&2
