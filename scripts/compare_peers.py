#!/usr/bin/env python3
"""Side-by-side CKKS timings, single-threaded, in one run: hetal vs OpenFHE 1.6 (and HEaaN FGb).

    python3 scripts/compare_peers.py                 # hetal N16_L20 vs OpenFHE (21 limbs, dnum 3)
    HEAAN_DIR=/path/to/unpacked/wheel python3 scripts/compare_peers.py --heaan
    HEAAN_DIR=... python3 scripts/compare_peers.py --no-openfhe --boot   # bootstrapping, hetal vs HEaaN FGb

`--boot` runs hetal's N = 2^16 bootstrap (`boot_n16`, example `bootstrap_n16`, ~11 GiB) and HEaaN's FGb
bootstrap one after the other, each under `flock /tmp/hetal-bigmem.lock` (the machine's big-memory lock).
HEaaN's "encode" only fills a message (its encoding to a polynomial happens inside `encrypt`), so the
HEaaN table also prints encode+encrypt, the comparable sum.

OpenFHE is installed at run time from PyPI (`openfhe==1.6.1.0.22.4`, CPython 3.10 from pyenv) into a
scratch virtual environment outside the repository (PEERS_VENV, default ~/.cache/hetal-peers/py310).
HEaaN's CPU wheel ships in the public CryptoLabInc/HETAL repository; unpack it (it is a zip) into a
folder outside the repository and point HEAAN_DIR at it; it needs CPython 3.8 (pyenv). Nothing from
either peer is committed. Prints a table of median milliseconds and the ratio hetal/peer per operation
(below 1.0 means hetal is faster), plus the machine's load average before and after.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPS = ["encode", "encrypt", "decrypt", "add", "mul_plain", "mul_relin_rescale", "rotate", "rotate_hoisted_8"]


def pyenv_python(version_prefix):
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for v in sorted(root.glob(version_prefix + "*"), reverse=True):
        exe = v / "bin" / "python"
        if exe.exists():
            return str(exe)
    return shutil.which("python" + version_prefix)


def openfhe_python():
    venv = Path(os.environ.get("PEERS_VENV", Path.home() / ".cache" / "hetal-peers" / "py310"))
    py = venv / "bin" / "python"
    if not py.exists():
        base = pyenv_python("3.10")
        if base is None:
            sys.exit("CPython 3.10 is needed for the openfhe wheel (pyenv install 3.10)")
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "numpy", "openfhe==1.6.1.0.22.4"], check=True)
    return str(py)


def run_json(cmd, env_extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1", **env_extra)
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    result = json.loads(out.strip().splitlines()[-1])
    # Echo each result as it arrives, so that a later failure (or a long wait for the big-memory
    # lock) does not lose it.
    print("  -> " + json.dumps(result), file=sys.stderr, flush=True)
    return result


def hetal(preset, reps):
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "hetal-bench"], check=True, cwd=ROOT)
    return run_json(["cargo", "run", "--release", "-q", "-p", "hetal-bench", "--", "ckks-ops", "--preset", preset,
                     "--reps", str(reps), "--threads", "1", "--json"], {})


def table(title, ours, peer, ops):
    print(f"\n{title}")
    print(f"  hetal: {json.dumps(ours['params'])}")
    print(f"  peer:  {peer['library']} {json.dumps(peer['params'])}")
    print(f"  {'op':<20} {'hetal ms':>10} {'peer ms':>10} {'hetal/peer':>10}")
    for op in ops:
        a = ours["ms"].get(op)
        b = peer["ms"].get(op if op in peer["ms"] else op.replace("_hoisted", ""))
        if a is None or b is None:
            continue
        print(f"  {op:<20} {a:>10.2f} {b:>10.2f} {a / b:>10.3f}")
    print(f"  precision after mul: hetal {ours.get('mul_precision_bits')} bits, peer {peer.get('mul_precision_bits')} bits")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--heaan", action="store_true", help="also compare with HEaaN FGb (needs HEAAN_DIR)")
    ap.add_argument("--no-openfhe", action="store_true")
    ap.add_argument("--boot", action="store_true", help="bootstrapping: hetal boot_n16 vs HEaaN FGb (needs HEAAN_DIR)")
    ap.add_argument("--boot-runs", type=int, default=3, help="hetal bootstraps timed (median reported)")
    a = ap.parse_args()
    load_before = os.getloadavg()
    results = {}
    if not a.no_openfhe:
        ours = hetal("N16_L20", a.reps)
        peer = run_json([openfhe_python(), str(ROOT / "scripts/peers/openfhe_ops.py"), "--logn", "16", "--levels", "20",
                         "--dnum", str(ours["params"]["dnum"]), "--reps", str(a.reps)], {})
        results["openfhe"] = (ours, peer)
    if a.heaan:
        if "HEAAN_DIR" not in os.environ:
            sys.exit("--heaan needs HEAAN_DIR (the unpacked HEaaN CPU wheel)")
        ours = hetal("N16_L12", a.reps)
        peer = run_json([pyenv_python("3.8"), str(ROOT / "scripts/peers/heaan_ops.py")], {"REPS": str(a.reps)})
        results["heaan"] = (ours, peer)
    if a.boot:
        if "HEAAN_DIR" not in os.environ:
            sys.exit("--boot needs HEAAN_DIR (the unpacked HEaaN CPU wheel)")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "hetal-ckks", "--example", "bootstrap_n16"],
                       check=True, cwd=ROOT)
        ours = run_json(["flock", "/tmp/hetal-bigmem.lock", str(ROOT / "target/release/examples/bootstrap_n16"),
                         str(a.boot_runs), "--json"], {})
        peer = run_json(["flock", "/tmp/hetal-bigmem.lock", pyenv_python("3.8"),
                         str(ROOT / "scripts/peers/heaan_ops.py")], {"REPS": "1", "HEAAN_BOOT": "1"})
        results["boot"] = (ours, peer)
    load_after = os.getloadavg()
    if "openfhe" in results:
        table("hetal N16_L20 vs OpenFHE 1.6 (N = 2^16, 21 limbs, same dnum), 1 thread", *results["openfhe"], OPS)
    if "heaan" in results:
        ops = [o for o in OPS if o != "rotate_hoisted_8"] + ["rotate_hoisted_8"]
        table("hetal N16_L12 vs HEaaN FGb (N = 2^16, 13 limbs), 1 thread; HEaaN's 8 rotations are not hoisted",
              *results["heaan"], ops)
    if "heaan" in results:
        ours, peer = results["heaan"]
        a_ms = ours["ms"]["encode"] + ours["ms"]["encrypt"]
        b_ms = peer["ms"]["encode"] + peer["ms"]["encrypt"]
        print(f"  {'encode+encrypt':<20} {a_ms:>10.2f} {b_ms:>10.2f} {a_ms / b_ms:>10.3f}"
              "   (HEaaN's encode only fills a message; compare this sum)")
    if "boot" in results:
        ours, peer = results["boot"]
        hb = peer["ms"]["bootstrap"] / 1e3
        print("\nbootstrapping, N = 2^16, 32768 slots, 1 thread")
        print(f"  hetal {ours['preset']}: {ours['bootstrap_cpu_s']:.2f} s CPU ({ours['bootstrap_wall_s']:.2f} s wall, "
              f"median of {ours['runs']}), {ours['levels_left']} levels left, precision mean "
              f"{ours['precision_mean_bits']:.2f} / min {ours['precision_min_bits']:.2f} bits, keygen {ours['keygen_s']:.0f} s, "
              f"VmHWM {ours['vm_hwm']}")
        pp = peer.get("bootstrap_precision_bits", {})
        print(f"  HEaaN FGb: {hb:.2f} s wall, {peer.get('level_after_bootstrap')} levels left, precision mean "
              f"{pp.get('mean')} / min {pp.get('min')} bits")
        print(f"  ratio hetal/HEaaN (hetal wall / HEaaN wall): {ours['bootstrap_wall_s'] / hb:.3f}")
    print(f"\nload average (1, 5, 15 min): before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
