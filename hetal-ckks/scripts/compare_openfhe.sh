#!/usr/bin/env bash
# Side-by-side timing of hetal-ckks and OpenFHE 1.6.1 at the peer-benchmark setting:
# N = 2^16, 60-bit first prime, scale 2^40, L = 20, dnum 3, one thread.
#
# OpenFHE is installed at run time from PyPI into a scratch virtual environment outside the
# repository (CPython 3.10 is required by its wheel; set PY310 to choose the interpreter) and
# timed by the team's peer script (shared/bench/peers/ckks_ops.py; set PEERS_DIR to override).
# hetal-ckks is timed by `cargo run --release -p hetal-ckks --example peer_ops`.
# Prints both tables and the ratios hetal/OpenFHE per op (wall-clock medians and CPU medians;
# below 1 means hetal-ckks is faster). Nothing is written inside the repository.
#
# Usage: hetal-ckks/scripts/compare_openfhe.sh   (from anywhere; takes ~10 minutes)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS_DIR:-}
if [[ -z "$PEERS" ]]; then
    for d in "$ROOT/shared/bench/peers" "$ROOT/../shared/bench/peers"; do
        [[ -f "$d/ckks_ops.py" ]] && PEERS=$(cd "$d" && pwd) && break
    done
fi
[[ -n "$PEERS" && -f "$PEERS/ckks_ops.py" ]] || { echo "ckks_ops.py not found: set PEERS_DIR" >&2; exit 1; }

if [[ -z "${PY310:-}" ]]; then
    candidates=()
    if command -v pyenv >/dev/null; then
        candidates+=("$(pyenv root)"/versions/3.10.*/bin/python)
    fi
    candidates+=("$(command -v python3.10 || true)")
    for c in "${candidates[@]}"; do
        if [[ -n "$c" && -x "$c" ]] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            PY310=$c
            break
        fi
    done
    [[ -n "${PY310:-}" ]] || { echo "CPython 3.10 not found (the openfhe wheel is cp310-only): set PY310" >&2; exit 1; }
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/hetal-openfhe.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
echo "== installing OpenFHE into $SCRATCH/venv"
"$PY310" -m venv "$SCRATCH/venv"
"$SCRATCH/venv/bin/pip" install --quiet --disable-pip-version-check numpy openfhe==1.6.1.0.22.4

echo "== OpenFHE (logN=16, 1 thread)"
OMP_NUM_THREADS=1 "$SCRATCH/venv/bin/python" "$PEERS/ckks_ops.py" --libs openfhe --logn 16 --threads 1 \
    --no-bootstrap --python "$SCRATCH/venv/bin/python" --python-openfhe "$SCRATCH/venv/bin/python" \
    --outdir "$SCRATCH/peers"

echo "== hetal-ckks (logN=16, 1 thread)"
(cd "$ROOT" && RAYON_NUM_THREADS=1 PEER_OPS_JSON="$SCRATCH/hetal.json" \
    cargo run --quiet --release -p hetal-ckks --example peer_ops)

python3 - "$SCRATCH/peers/results.json" "$SCRATCH/hetal.json" <<'PY'
import json, sys
peer = json.load(open(sys.argv[1]))
ours = json.load(open(sys.argv[2]))
rows = {}
for res in peer["results"]:
    if res["lib"] == "openfhe" and res["logn"] == 16 and res["threads"] == 1:
        for r in res["rows"]:
            rows[r["op"]] = r
print()
print("| op | hetal ms | OpenFHE ms | ratio (wall) | hetal cpu ms | OpenFHE cpu ms | ratio (cpu) |")
print("|---|---|---|---|---|---|---|")
for op, h in ours.items():
    o = rows.get(op)
    if o is None:
        print(f"| {op} | {h['median_ms']:.2f} | n/a | n/a | {h['cpu_median_ms']:.2f} | n/a | n/a |")
        continue
    print(f"| {op} | {h['median_ms']:.2f} | {o['median_ms']:.2f} | {h['median_ms'] / o['median_ms']:.2f} "
          f"| {h['cpu_median_ms']:.2f} | {o['cpu_median_ms']:.2f} | {h['cpu_median_ms'] / o['cpu_median_ms']:.2f} |")
PY
