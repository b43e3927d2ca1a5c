#!/usr/bin/env bash
# check_install.sh BUILD_DIR CONSUMER_SOURCE CXX
set -euo pipefail
build=$1 consumer=$2 cxx=$3
work=$(mktemp -d /tmp/conduit-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/conduit/conduit.hpp"
test -f "$prefix/lib/cmake/conduit/conduitConfig.cmake"
test -f "$prefix/lib/pkgconfig/conduit.pc"

echo "== find_package(conduit)"
cmake -S "$consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$work/build" >/dev/null
CONDUIT_NAMESPACE=$work/ns "$work/build/consumer"

echo "== pkg-config conduit"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pkg-config --exists conduit
# shellcheck disable=SC2046
"$cxx" -o "$work/consumer-pc" "$consumer/main.cpp" $(pkg-config --cflags --libs --static conduit)
CONDUIT_NAMESPACE=$work/ns2 "$work/consumer-pc"
if [ -f "$prefix/lib/cmake/conduit/conduitMpiTargets.cmake" ]; then
  echo "== find_package(conduit): conduit::mpi"
  cmake -S "$consumer/../consumer_mpi" -B "$work/build-mpi" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  cmake --build "$work/build-mpi" >/dev/null
  mpirun --allow-run-as-root --oversubscribe -np 2 "$work/build-mpi/consumer_mpi"
fi
echo "== conduit tour, installed: finds the installed examples"
test -x "$prefix/libexec/conduit/examples/pipe"
# The listings are read whole before grep looks: `conduit ... | grep -q` under pipefail failed
# now and then (grep -q exits at its first match; a conduit still writing then dies of SIGPIPE).
listing=$("$prefix/bin/conduit" tour --list --json)
if ! grep -q "\"program\": \"$prefix/libexec/conduit/examples/pipe\"" <<<"$listing"; then
  echo "the installed tour does not list the installed examples:" >&2
  echo "$listing" >&2
  exit 1
fi
listing=$("$prefix/bin/conduit" tour --list)
if grep -q "not built" <<<"$listing"; then
  echo "an installed example is missing:" >&2
  grep "not built" <<<"$listing" >&2
  exit 1
fi
CONDUIT_NAMESPACE=$work/ns3 "$prefix/bin/conduit" tour pipe shared_counter >/dev/null
echo "install: ok"
