#!/usr/bin/env python3
"""Times OpenFHE's CKKS operations (single thread: set OMP_NUM_THREADS=1) and prints one JSON object.

Needs the PyPI wheel `openfhe==1.6.1.0.22.4` under CPython 3.10 (see scripts/compare_peers.sh).
Parameters mirror a hetal preset: ring degree 2^logn, `levels` rescaling primes of `scale_bits`
above a first prime of `first_bits`, hybrid key switching with `dnum` digits, FIXEDMANUAL scaling.
"""
import argparse
import json
import math
import random
import statistics
import sys
import time


def timed(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logn", type=int, default=16)
    ap.add_argument("--levels", type=int, default=20)
    ap.add_argument("--dnum", type=int, default=3)
    ap.add_argument("--scale-bits", type=int, default=40)
    ap.add_argument("--first-bits", type=int, default=60)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()

    import openfhe as of
    from openfhe import (CCParamsCKKSRNS, GenCryptoContext, KeySwitchTechnique, PKESchemeFeature,
                         ScalingTechnique, SecurityLevel)

    n = 1 << a.logn
    slots = n // 2
    p = CCParamsCKKSRNS()
    p.SetMultiplicativeDepth(a.levels)
    p.SetScalingModSize(a.scale_bits)
    p.SetFirstModSize(a.first_bits)
    p.SetRingDim(n)
    p.SetBatchSize(slots)
    p.SetSecurityLevel(SecurityLevel.HEStd_NotSet)
    p.SetKeySwitchTechnique(KeySwitchTechnique.HYBRID)
    p.SetNumLargeDigits(a.dnum)
    p.SetScalingTechnique(ScalingTechnique.FIXEDMANUAL)
    cc = GenCryptoContext(p)
    for f in (PKESchemeFeature.PKE, PKESchemeFeature.KEYSWITCH, PKESchemeFeature.LEVELEDSHE):
        cc.Enable(f)
    kp = cc.KeyGen()
    cc.EvalMultKeyGen(kp.secretKey)
    steps = list(range(1, 9))
    cc.EvalRotateKeyGen(kp.secretKey, steps)
    rng = random.Random(0)
    x = [rng.uniform(-1, 1) for _ in range(slots)]
    y = [rng.uniform(-1, 1) for _ in range(slots)]
    px, py = cc.MakeCKKSPackedPlaintext(x), cc.MakeCKKSPackedPlaintext(y)
    cx, cy = cc.Encrypt(kp.publicKey, px), cc.Encrypt(kp.publicKey, py)
    m = cc.GetCyclotomicOrder()

    def hoisted():
        pre = cc.EvalFastRotationPrecompute(cx)
        return [cc.EvalFastRotation(cx, k, m, pre) for k in steps]

    r = a.reps
    res = {
        "encode": timed(lambda: cc.MakeCKKSPackedPlaintext(x), r),
        "encrypt": timed(lambda: cc.Encrypt(kp.publicKey, px), r),
        "decrypt": timed(lambda: cc.Decrypt(cx, kp.secretKey), r),
        "add": timed(lambda: cc.EvalAdd(cx, cy), max(r, 20)),
        "mul_plain": timed(lambda: cc.EvalMult(cx, py), max(r, 10)),
        "mul_relin_rescale": timed(lambda: cc.ModReduce(cc.EvalMult(cx, cy)), r),
        "rotate": timed(lambda: cc.EvalRotate(cx, 1), r),
        "rotate_hoisted_8": timed(hoisted, r),
    }
    prod = cc.Decrypt(cc.ModReduce(cc.EvalMult(cx, cy)), kp.secretKey)
    prod.SetLength(slots)
    err = max(abs(g - xi * yi) for g, xi, yi in zip(prod.GetRealPackedValue(), x, y))
    log_q = math.log2(int(str(cc.GetElementParams().GetModulus())))
    out = {
        "library": "OpenFHE " + getattr(of, "__version__", "1.6"),
        "params": {"logn": a.logn, "limbs": a.levels + 1, "dnum": a.dnum, "scale_bits": a.scale_bits,
                   "first_bits": a.first_bits, "log_q": round(log_q, 1)},
        "mul_precision_bits": round(-math.log2(err), 2) if err > 0 else None,
        "ms": res,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
