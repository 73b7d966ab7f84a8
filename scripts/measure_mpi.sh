#!/usr/bin/env bash
# Time per epoch of `hetal server train` in one process and on R MPI ranks (default 2), one
# thread each, on the same keys and ciphertexts (docs/scale-out.md). Needs a release build with
# the `mpi` feature:   cargo build --release -p hetal-bench --features mpi
# Usage: scripts/measure_mpi.sh [RANKS] [extra keygen arguments...]
#   default workload: insecure-boot-n12-l9, 1024 digits rows, batch 256 (2 row blocks of 128),
#   4 steps, 1 epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}
shift || true
hetal=${HETAL:-target/release/hetal}
root=$(mktemp -d /tmp/hetal-mpi-measure.XXXXXX)
trap 'rm -rf "$root"' EXIT
keygen=(--backend ckks --preset insecure-boot-n12-l9 --key-seed 5 --limit-train 1024
  --limit-val 100 --limit-test 60 --batch 256 --epochs 1 --patience 0 "$@")
"$hetal" client keygen --dir "$root/one" "${keygen[@]}" >/dev/null
"$hetal" client encrypt --dir "$root/one" >/dev/null
cp -r "$root/one" "$root/many"
cp -r "$root/one.client" "$root/many.client"
run_rounds() { # dir, command...
  local dir=$1
  shift
  for _ in 1 2 3 4; do
    "$@" --dir "$dir" --quiet | grep -E "training finished|MPI rank|epoch [0-9]+ done" || true
    [ -e "$dir/model.msg" ] && break
    "$hetal" client evaluate --dir "$dir" >/dev/null
  done
}
echo "== one process, 1 thread"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" \
  bash -c "$(declare -f run_rounds); hetal=$hetal; run_rounds $root/one $hetal server train --threads 1"
echo "== mpirun -np $ranks, 1 thread per rank"
/usr/bin/time -f "wall %e s, peak RSS of mpirun %M KiB" \
  bash -c "$(declare -f run_rounds); hetal=$hetal; run_rounds $root/many mpirun --allow-run-as-root --oversubscribe -np $ranks $hetal server train --mpi --threads 1"
"$hetal" client decrypt --dir "$root/one" | grep "test accuracy"
"$hetal" client decrypt --dir "$root/many" | grep "test accuracy"
if cmp -s "$root/one.client/model.json" "$root/many.client/model.json"; then
  echo "decrypted models: identical"
else
  echo "decrypted models: differ"
fi
