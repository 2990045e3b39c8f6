#!/usr/bin/env bash
# Installs the build at $1 into a scratch prefix, then builds and runs a consumer through
# find_package and through pkg-config.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$src/consumer" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cmake" >/dev/null
"$scratch/cmake/consumer"
flags=$(PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig" pkg-config --cflags --libs procspec)
# shellcheck disable=SC2086
${CXX:-c++} "$src/consumer/main.cc" $flags -o "$scratch/pc-consumer"
"$scratch/pc-consumer"
echo "find_package and pkg-config consumers built and ran"
