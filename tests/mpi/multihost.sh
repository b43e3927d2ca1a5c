#!/usr/bin/env bash
# multihost.sh [--expect-bytes N] MPIRUN PROGRAM [ARGS...]
# Makes three hosts as network namespaces on one bridge (10.77.0.1-3/24, see MULTIHOST.md),
# then runs PROGRAM with one rank per host under Open MPI, over TCP only (--mca btl tcp,self:
# no shared memory, so every message crosses the veth links). A launcher agent enters the
# host's namespace instead of ssh. Exit 77 (skipped) where namespaces cannot be made.
# --expect-bytes N: fail unless the hosts' eth0 links together received at least N bytes
# during PROGRAM (the proof that its messages crossed the network).
set -uo pipefail
expect_bytes=0
if [ "${1:-}" = --expect-bytes ]; then
  expect_bytes=$2
  shift 2
fi
mpirun=$1
shift
tag=cm$$
hosts=(1 2 3)
work=$(mktemp -d /tmp/conduit-multihost.XXXXXX)

cleanup() {
  for i in "${hosts[@]}"; do ip netns del "$tag-h$i" 2>/dev/null; done
  ip netns del "$tag-sw" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

skip() {
  echo "SKIP: $*"
  exit 77
}

command -v ip >/dev/null || skip "no ip command (iproute2)"
ip netns add "$tag-sw" 2>"$work/err" || skip "cannot make network namespaces: $(cat "$work/err")"
set -e
ip -n "$tag-sw" link add br0 type bridge
ip -n "$tag-sw" link set br0 up
for i in "${hosts[@]}"; do
  ns=$tag-h$i
  ip netns add "$ns"
  ip link add "${tag}h$i" type veth peer name "${tag}p$i"
  ip link set "${tag}h$i" netns "$ns"
  ip link set "${tag}p$i" netns "$tag-sw"
  ip -n "$tag-sw" link set "${tag}p$i" master br0 up
  ip -n "$ns" link set "${tag}h$i" name eth0
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  echo "10.77.0.$i slots=1" >>"$work/hostfile"
done

# The agent Open MPI calls as `agent [-options] HOST command...` instead of ssh.
cat >"$work/agent" <<AGENT
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
ns=$tag-h\${host##*.}
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$ns; \$*"
AGENT
chmod +x "$work/agent"

mpi_options=(--allow-run-as-root --hostfile "$work/hostfile" -np 3
  --mca plm_rsh_agent "$work/agent" --mca btl tcp,self --mca pml ob1
  --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24)
# Sanitizer settings reach the ranks on the other hosts too (see tests/mpi/CMakeLists.txt).
[[ -n "${ASAN_OPTIONS:-}" ]] && mpi_options+=(-x ASAN_OPTIONS)
launch() {
  ip netns exec "$tag-h1" unshare --uts sh -c "hostname $tag-h1; exec \"\$@\"" launcher "$@"
}

received() {  # bytes all hosts' eth0 received so far
  local total=0 i
  for i in "${hosts[@]}"; do
    total=$((total + $(ip netns exec "$tag-h$i" cat /sys/class/net/eth0/statistics/rx_bytes)))
  done
  echo "$total"
}

echo "== hosts: one rank on each"
launch "$mpirun" "${mpi_options[@]}" hostname | tee "$work/hostnames"
if [ "$(sort -u "$work/hostnames" | wc -l)" -ne 3 ]; then
  echo "FAIL: the ranks did not start on three different hosts"
  exit 1
fi
echo "== $*"
before=$(received)
set +e
launch timeout 240 "$mpirun" "${mpi_options[@]}" "$@"
status=$?
set -e
crossed=$(($(received) - before))
echo "== exit $status; the hosts' links received $crossed bytes"
if [ "$status" -eq 0 ] && [ "$crossed" -lt "$expect_bytes" ]; then
  echo "FAIL: expected at least $expect_bytes bytes across the links"
  exit 1
fi
exit $status
