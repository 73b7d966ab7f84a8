#!/usr/bin/env python3
"""One single-threaded N = 2^16 full-slot bootstrap worker of the shared peer benchmark, for
`scripts/compare_peers.py --boot`.

    PY scripts/peers/ckks_ops_boot.py PATH/TO/ckks_ops.py {openfhe|desilofhe} BOOT_REPS OUT.json

Loads `ckks_ops.py` (from ../shared/bench/peers, never copied here) and runs its own worker mode,
`--worker LIB 16 1 boot OUT.json --boot-reps BOOT_REPS`, in this process, so that the process's peak
RSS is the library's. ckks_ops reports precision as -log2(max abs error) only; to get the mean as
well (-log2(mean abs error) over all 32768 slots, hetal's and HEaaN's definition), its `prec_bits`
is wrapped to also record the mean of the same errors; the result is added to OUT.json as
`precision_calls` (one entry per call: the bootstrap worker calls it once, on the warm-up
bootstrap). If ckks_ops no longer has `prec_bits`, only its own figures are reported.
Needs the library's interpreter (OpenFHE: CPython 3.10; DESILO: 3.11) with numpy, and
OMP_NUM_THREADS=1 in the environment (OpenFHE fixes its thread count when it loads).
"""
import importlib.util
import json
import math
import sys


def main():
    path, lib, reps, out = sys.argv[1:5]
    spec = importlib.util.spec_from_file_location("ckks_ops", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    calls = []
    orig = getattr(mod, "prec_bits", None)
    if callable(orig):
        import numpy as np

        def prec_bits(got, want):
            err = np.abs(np.asarray(list(got), dtype=float)[: len(want)] - np.asarray(want, dtype=float))
            mx, mean = float(err.max()), float(err.mean())
            calls.append({"slots": int(err.size),
                          "min_bits": 99.0 if mx == 0 else -math.log2(mx),
                          "mean_bits": 99.0 if mean == 0 else -math.log2(mean)})
            return orig(got, want)

        mod.prec_bits = prec_bits
    sys.argv = [path, "--worker", lib, "16", "1", "boot", out, "--boot-reps", str(reps)]
    mod.main()
    with open(out) as fh:
        res = json.load(fh)
    res["precision_calls"] = calls
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
