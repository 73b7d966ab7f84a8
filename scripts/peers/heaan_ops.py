#!/usr/bin/env python3
"""Times HEaaN's CPU build (the wheel shipped in the public CryptoLabInc/HETAL repository) at its FGb
preset, single thread with OMP_NUM_THREADS=1, and prints one JSON object.

Needs CPython 3.8 and HEAAN_DIR pointing at the unpacked wheel (see scripts/compare_peers.py).
FGb: N = 2^16, 32768 slots, fresh ciphertexts at level 12 (13 limbs). REPS: timed calls per op.
HEAAN_BOOT=1 also makes the context bootstrappable (bootstrap keys) and times BOOT_REPS (default 1)
full-slot bootstraps after one warm-up: median wall and process-CPU milliseconds, precision of the
last one over all slots, its output level and the input level bootstrapping needs.
"""
import json
import math
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.environ["HEAAN_DIR"])
import heaan  # noqa: E402


def timed(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    reps = int(os.environ.get("REPS", "5"))
    boot = os.environ.get("HEAAN_BOOT", "0") == "1"
    ctx = heaan.make_context(heaan.ParameterPreset.FGb)
    if boot:
        heaan.make_bootstrappable(ctx)
    sk = heaan.SecretKey(ctx)
    kg = heaan.KeyGenerator(ctx, sk)
    t0 = time.perf_counter()
    kg.gen_common_keys()
    keygen_s = time.perf_counter() - t0
    kp = kg.keypack
    enc, dec, ev = heaan.Encryptor(ctx), heaan.Decryptor(ctx), heaan.HomEvaluator(ctx, kp)
    slots = 1 << heaan.get_log_full_slots(ctx)
    rng = random.Random(0)
    x = [rng.uniform(-1, 1) for _ in range(slots)]
    y = [rng.uniform(-1, 1) for _ in range(slots)]

    def message(v):
        msg = heaan.Message(heaan.get_log_full_slots(ctx))
        msg.set_data([complex(z, 0) for z in v])
        return msg

    mx, my = message(x), message(y)
    cx, cy = heaan.Ciphertext(ctx), heaan.Ciphertext(ctx)
    enc.encrypt(mx, kp, cx)
    enc.encrypt(my, kp, cy)
    out = heaan.Ciphertext(ctx)
    dmsg = heaan.Message(heaan.get_log_full_slots(ctx))

    def rot8():
        for k in range(1, 9):
            ev.left_rotate(cx, k, out)

    res = {
        "encode": timed(lambda: message(x), reps),
        "encrypt": timed(lambda: enc.encrypt(mx, kp, out), reps),
        "decrypt": timed(lambda: dec.decrypt(cx, sk, dmsg), reps),
        "add": timed(lambda: ev.add(cx, cy, out), max(reps, 20)),
        "mul_plain": timed(lambda: ev.mult(cx, my, out), reps),
        "mul_relin_rescale": timed(lambda: ev.mult(cx, cy, out), reps),
        "rotate": timed(lambda: ev.left_rotate(cx, 1, out), reps),
        "rotate_8": timed(rot8, max(1, reps // 2)),
    }
    ev.mult(cx, cy, out)
    dec.decrypt(out, sk, dmsg)
    err = max(abs(dmsg[i].real - x[i] * y[i]) for i in range(slots))
    result = {
        "library": "HEaaN (CPU wheel, FGb)",
        "params": {"logn": 16, "limbs": cx.level + 1, "level": cx.level},
        "keygen_s": round(keygen_s, 2),
        "mul_precision_bits": round(-math.log2(err), 2),
        "ms": res,
    }
    if boot:
        c3 = heaan.Ciphertext(ctx)
        enc.encrypt(mx, kp, c3)
        ev.level_down(c3, ev.min_level_for_bootstrap, c3)
        b = heaan.Ciphertext(ctx)
        ev.bootstrap(c3, b)  # warm-up
        walls, cpus = [], []
        for _ in range(max(1, int(os.environ.get("BOOT_REPS", "1")))):
            c0, t0 = time.process_time(), time.perf_counter()
            ev.bootstrap(c3, b)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        result["ms"]["bootstrap"] = statistics.median(walls) * 1e3
        result["bootstrap_cpu_ms"] = statistics.median(cpus) * 1e3
        result["bootstrap_runs"] = len(walls)
        result["min_level_for_bootstrap"] = ev.min_level_for_bootstrap
        dec.decrypt(b, sk, dmsg)
        errs = [abs(dmsg[i].real - x[i]) for i in range(slots)]
        result["bootstrap_precision_bits"] = {"min": round(-math.log2(max(errs)), 2),
                                              "mean": round(-math.log2(sum(errs) / slots), 2)}
        result["level_after_bootstrap"] = b.level
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
