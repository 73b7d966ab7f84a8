#!/usr/bin/env bash
# Runs the README's two-process flow end to end and reports the wall time and peak RSS of every
# command (`/usr/bin/time -v`). Usage: scripts/measure_two_process.sh [PRESET] [EPOCHS] [DIR]
# (defaults: boot-n16, 1 epoch, /tmp/hetal-two-process). Takes the big-memory lock that
# scripts/compare_peers.py uses, so that no other N = 2^16 run shares the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-boot-n16}
epochs=${2:-1}
dir=${3:-/tmp/hetal-two-process}
bin=target/release/hetal
[ -x "$bin" ] || cargo build --release -p hetal-bench
rm -rf "$dir" "$dir.client"
exec 9>/tmp/hetal-bigmem.lock
flock 9
step() {
  local name=$1; shift
  local log
  log=$(mktemp)
  if ! /usr/bin/time -v "$bin" "$@" >"$log.out" 2>"$log"; then
    cat "$log.out" "$log" >&2
    exit 1
  fi
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  printf '%-28s wall %-10s peak RSS %6.2f GiB\n' "$name" "$wall" "$(echo "$rss / 1048576" | bc -l)"
  grep -E "test accuracy|encrypted inference|training finished|epoch [0-9]+:" "$log.out" | head -3 | sed 's/^/    /' || true
  rm -f "$log" "$log.out"
}
step "client keygen" client keygen --dir "$dir" --backend ckks --preset "$preset" --epochs "$epochs" --patience 0
step "client encrypt" client encrypt --dir "$dir"
round=0
while [ ! -e "$dir/model.msg" ]; do
  step "server train (round $round)" server train --dir "$dir" --quiet
  [ -e "$dir/model.msg" ] && break
  step "client evaluate (round $round)" client evaluate --dir "$dir"
  round=$((round + 1))
done
step "client decrypt" client decrypt --dir "$dir"
step "client infer-request" client infer-request --dir "$dir"
step "server infer" server infer --dir "$dir"
step "client infer-result" client infer-result --dir "$dir"
