#!/usr/bin/env python3
"""Side-by-side CKKS timings, single-threaded, in one run: hetal vs OpenFHE 1.6 (and HEaaN FGb, DESILO).

    python3 scripts/compare_peers.py                 # hetal N16_L20 vs OpenFHE (21 limbs, dnum 3)
    HEAAN_DIR=/path/to/unpacked/wheel python3 scripts/compare_peers.py --heaan
    HEAAN_DIR=... python3 scripts/compare_peers.py --boot-only     # bootstrapping only, all four libraries
    python3 scripts/compare_peers.py --boot-only --boot-libs openfhe,desilo --boot-runs 1
    python3 scripts/compare_peers.py --boot-only --dry-run         # what would run, and which libraries are available

`--boot` (or `--boot-only`, which skips the per-operation tables) measures single-threaded N = 2^16
full-slot (32768 slots) bootstrapping of each library in `--boot-libs` (default: every one available;
HEaaN only with HEAAN_DIR), each in its own process, one after the other, each holding the machine's
big-memory lock /tmp/hetal-bigmem.lock (flock(2) on that file, the lock `flock /tmp/hetal-bigmem.lock`
takes; the child process inherits it, so it stays held until that process exits; peaks: hetal ~12 GiB,
OpenFHE ~13 GiB, DESILO ~18 GiB on a 24 GiB machine):
  * hetal: `boot_n16` through the example `bootstrap_n16 RUNS --json --pair` (built with cargo;
    honours CARGO_TARGET_DIR): the single bootstrap, and the pair bootstrap of two real ciphertexts
    as a second row `hetal BOOT_N16 pair/2` (time per real ciphertext refreshed, precision of the
    real parts);
  * hetal-deep: the same example with `--preset boot-n16-deep` (14 levels after each bootstrap);
  * HEaaN FGb: `scripts/peers/heaan_ops.py` with HEAAN_BOOT=1 (CPython 3.8 from pyenv, HEAAN_DIR);
  * OpenFHE 1.6.1 and DESILO FHE 2.0.0: the full-slot bootstrap workers of the shared peer benchmark,
    ../shared/bench/peers/ckks_ops.py (CKKS_OPS overrides the path; it is called, never copied),
    run in-process by `scripts/peers/ckks_ops_boot.py`, which also records the mean precision.
Each library uses its own bootstrappable parameters (see ckks_ops.py and RESULTS.md there), so the
table compares bootstrap implementations at different parameter sets, not equal circuits. It prints
per library: median bootstrap wall and CPU time over `--boot-runs` timed calls (after a warm-up
where the library's measurement does one), levels left after bootstrap (for multiplications, as
each library counts them), precision over all slots for inputs uniform in [-1, 1] (-log2 of the
mean / max abs error), key generation time (what each measurement times: OpenFHE includes
EvalBootstrapSetup, DESILO excludes the secret and public key), peak RSS of the process (wait4's
ru_maxrss) and hetal/peer ratios (and each hetal row / HEaaN, where HEaaN ran), plus the load average before/after; the raw JSON goes to target/peers/boot_compare.json (written after each
library, so a later failure keeps the earlier results).

OpenFHE is installed at run time from PyPI (`openfhe==1.6.1.0.22.4`, CPython 3.10 from pyenv) into a
virtual environment outside the repository (PEERS_VENV, default ~/.cache/hetal-peers/py310); DESILO
likewise (`desilofhe==2.0.0` and numpy, CPython 3.11; DESILO_VENV, default ~/.cache/hetal-peers/py311).
HEaaN's CPU wheel ships in the public CryptoLabInc/HETAL repository; unpack it (it is a zip) into a
folder outside the repository and point HEAAN_DIR at it; it needs CPython 3.8 (pyenv). HEaaN's
"encode" only fills a message (its encoding to a polynomial happens inside `encrypt`), so the HEaaN
table also prints encode+encrypt, the comparable sum. Nothing from any peer is committed. The
per-operation tables print median milliseconds and the ratio hetal/peer per operation (below 1.0
means hetal is faster), plus the machine's load average before and after.
"""
import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPS = ["encode", "encrypt", "decrypt", "add", "mul_plain", "mul_relin_rescale", "rotate", "rotate_hoisted_8"]
BIGMEM_LOCK = "/tmp/hetal-bigmem.lock"
BOOT_LIBS = ["hetal", "hetal-deep", "heaan", "openfhe", "desilo"]
CKKS_OPS = Path(os.environ.get("CKKS_OPS", ROOT.parent / "shared" / "bench" / "peers" / "ckks_ops.py"))
VENVS = {  # library -> (env var, default folder, CPython version, packages)
    "openfhe": ("PEERS_VENV", "py310", "3.10", ["numpy", "openfhe==1.6.1.0.22.4"]),
    "desilo": ("DESILO_VENV", "py311", "3.11", ["numpy", "desilofhe==2.0.0"]),
}


def pyenv_python(version_prefix):
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for v in sorted(root.glob(version_prefix + "*"), reverse=True):
        exe = v / "bin" / "python"
        if exe.exists():
            return str(exe)
    return shutil.which("python" + version_prefix)


def venv_python(lib, create=True):
    """The interpreter of the library's virtual environment, created (outside the repository) if
    missing and `create`; None if it is missing and cannot be created."""
    var, folder, version, packages = VENVS[lib]
    venv = Path(os.environ.get(var, Path.home() / ".cache" / "hetal-peers" / folder))
    py = venv / "bin" / "python"
    if py.exists():
        return str(py)
    base = pyenv_python(version)
    if not create or base is None:
        if create:
            sys.exit(f"CPython {version} is needed for {lib} (pyenv install {version}), or set {var}")
        return None if base is None else str(py)
    print(f"creating {venv} for {lib}: {' '.join(packages)}", file=sys.stderr, flush=True)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q"] + packages, check=True)
    return str(py)


def openfhe_python():
    return venv_python("openfhe")


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


# --------------------------------------------------------------------------- bootstrapping


def hetal_boot_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return (target if target.is_absolute() else ROOT / target) / "release" / "examples" / "bootstrap_n16"


def boot_available(lib):
    """None if `lib` can be measured here, else why not (nothing is installed or built)."""
    if lib in ("hetal", "hetal-deep"):
        return None if shutil.which("cargo") or hetal_boot_binary().exists() else "no cargo"
    if lib == "heaan":
        if "HEAAN_DIR" not in os.environ:
            return "HEAAN_DIR is not set"
        return None if pyenv_python("3.8") else "no CPython 3.8 (pyenv install 3.8)"
    if not CKKS_OPS.exists():
        return f"{CKKS_OPS} is missing (set CKKS_OPS)"
    if venv_python(lib, create=False) is None:
        var, _, version, _ = VENVS[lib]
        return f"no CPython {version} for its virtual environment (pyenv install {version}, or set {var})"
    return None


def boot_command(lib, runs, scratch, dry_run):
    """(command, extra environment, JSON file the command writes or None for 'last stdout line')."""
    if lib in ("hetal", "hetal-deep"):
        if not dry_run:
            subprocess.run(["cargo", "build", "--release", "-q", "-p", "hetal-ckks", "--example", "bootstrap_n16"],
                           check=True, cwd=ROOT)
        # hetal: the single and the pair bootstrap of BOOT_N16; hetal-deep: the deeper preset
        # (its key set, about 19.6 GiB, is above the default budget of 80 % of the available memory)
        extra = ["--pair"] if lib == "hetal" else ["--preset", "boot-n16-deep", "--budget-gib", "21"]
        return [str(hetal_boot_binary()), str(runs), "--json"] + extra, {}, None
    if lib == "heaan":
        return ([pyenv_python("3.8"), str(ROOT / "scripts/peers/heaan_ops.py")],
                {"REPS": "1", "HEAAN_BOOT": "1", "BOOT_REPS": str(runs)}, None)
    py = venv_python(lib, create=not dry_run) or f"<{VENVS[lib][0]} python>"
    out = scratch / f"boot-{lib}.json"
    name = {"openfhe": "openfhe", "desilo": "desilofhe"}[lib]
    return [py, str(ROOT / "scripts/peers/ckks_ops_boot.py"), str(CKKS_OPS), name, str(runs), str(out)], {}, out


def run_locked(cmd, env_extra):
    """Runs cmd holding the big-memory lock (inherited by the child, so held until it exits), its
    stdout echoed to stderr. Returns (stdout lines, process info: exit code, peak RSS of the process
    and its descendants from wait4, their CPU time, wall time and load averages after the lock was
    taken)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1", **env_extra)
    fd = os.open(BIGMEM_LOCK, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {BIGMEM_LOCK} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        print("+ (holding " + BIGMEM_LOCK + ") " + shlex.join(cmd), file=sys.stderr, flush=True)
        load_before, t0 = os.getloadavg(), time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, pass_fds=(fd,))
        lines = []
        for line in p.stdout:
            lines.append(line.rstrip("\n"))
            print("  | " + line, end="", file=sys.stderr, flush=True)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
    finally:
        os.close(fd)  # the child has exited: this releases the lock
    return lines, {"exit_code": p.returncode, "peak_rss_gib": round(ru.ru_maxrss / 2**20, 2),
                   "process_cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
                   "process_wall_s": round(time.perf_counter() - t0, 1),
                   "load_before": load_before, "load_after": os.getloadavg()}


def last_json(lines):
    for line in reversed(lines):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def summarize_boot(lib, lines, out_file):
    """The common fields from one library's own output (None where it does not measure them)."""
    if lib in ("hetal", "hetal-deep"):
        r = last_json(lines)
        return r, {"library": f"hetal {r['preset']}", "runs": r["runs"], "wall_s": r["bootstrap_wall_s"],
                   "cpu_s": r["bootstrap_cpu_s"], "levels_left": r["levels_left"],
                   "prec_mean": r["precision_mean_bits"], "prec_min": r["precision_min_bits"],
                   "keygen_s": r["keygen_s"], "note": f"VmHWM {r['vm_hwm']}; precision from the complex error, "
                   "worst run"}
    if lib == "heaan":
        r = last_json(lines)
        pp = r.get("bootstrap_precision_bits", {})
        lvl, low = r.get("level_after_bootstrap"), r.get("min_level_for_bootstrap")
        cpu = r.get("bootstrap_cpu_ms")
        return r, {"library": "HEaaN FGb", "runs": r.get("bootstrap_runs", 1), "wall_s": r["ms"]["bootstrap"] / 1e3,
                   "cpu_s": None if cpu is None else cpu / 1e3,
                   "levels_left": None if lvl is None or low is None else lvl - low,
                   "prec_mean": pp.get("mean"), "prec_min": pp.get("min"), "keygen_s": r.get("keygen_s"),
                   "note": f"output level {lvl}, bootstrap input level {low} (levels left = the difference); "
                   "keygen = gen_common_keys with bootstrap keys; precision of the real parts, last run"}
    r = json.loads(Path(out_file).read_text())
    if r.get("error"):
        raise RuntimeError(f"ckks_ops worker: {r['error']}")
    rows = [x for x in r.get("rows", []) if x.get("op") == "bootstrap" and x.get("threads") == 1]
    if not rows:
        raise RuntimeError("ckks_ops worker reported no 1-thread bootstrap row")
    row, info = rows[-1], r.get("info", {})
    params = " ".join(r.get("params", {}).values())
    calls = r.get("precision_calls") or []
    m = re.search(r"precision after bootstrap ([\d.]+) b", params)
    prec_min = calls[-1]["min_bits"] if calls else (float(m.group(1)) if m else None)
    prec_mean = calls[-1]["mean_bits"] if calls else None
    if lib == "openfhe":
        m = re.search(r"bootstrap depth (\d+), total depth (\d+)", params)
        lv = re.search(r"levels left after bootstrap ~(\S+?),", params)
        levels = int(m.group(2)) - int(m.group(1)) if m else None
        note = (f"levels left = total depth - bootstrap depth (FLEXIBLEAUTO: the output still has a pending "
                f"rescale; ckks_ops's depth - GetLevel() says ~{lv.group(1) if lv else '?'}); keygen includes "
                "EvalBootstrapSetup")
        keygen = info.get("boot_setup_keygen_s")
    else:
        m = re.search(r"output level (\d+)", params)
        levels = int(m.group(1)) if m else None
        note = "levels left = DESILO's output level (bootstrap input at level 0); keygen excludes sk/pk"
        keygen = info.get("boot_keygen_s")
    note += "; precision of the real parts of the warm-up bootstrap"
    return r, {"library": f"{'OpenFHE' if lib == 'openfhe' else 'DESILO'} {info.get('version', '?')}",
               "runs": row["reps"], "wall_s": row["median_ms"] / 1e3, "cpu_s": row["cpu_median_ms"] / 1e3,
               "levels_left": levels, "prec_mean": prec_mean, "prec_min": prec_min, "keygen_s": keygen,
               "note": note, "params": params}


def boot_compare(libs, runs, dry_run):
    scratch = ROOT / "target" / "peers"
    path = scratch / "boot_compare.json"
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "runs_requested": runs,
              "threads": 1, "load_before": os.getloadavg(), "libs": {}}
    scratch.mkdir(parents=True, exist_ok=True)
    for lib in libs:
        if dry_run:
            cmd, env_extra, out = boot_command(lib, runs, scratch, dry_run)
            env = "".join(f"{k}={v} " for k, v in env_extra.items())
            print(f"[dry run] {lib}: OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 {env}flock {BIGMEM_LOCK} {shlex.join(cmd)}")
            continue
        entry, pair_entry = {}, None
        try:
            cmd, env_extra, out = boot_command(lib, runs, scratch, dry_run)
            entry.update(cmd=cmd, env=env_extra)
            if out is not None and out.exists():
                out.unlink()
            lines, proc = run_locked(cmd, env_extra)
            entry.update(proc)
            if proc["exit_code"] != 0:
                raise RuntimeError(f"exit code {proc['exit_code']} (-9: killed, usually for memory)")
            entry["raw"], entry["summary"] = summarize_boot(lib, lines, out)
            print("  -> " + json.dumps(entry["summary"]), file=sys.stderr, flush=True)
            r = entry["raw"]
            if lib == "hetal" and r.get("pair_cpu_s") is not None:
                # The pair bootstrap refreshes two real ciphertexts: its row is per real ciphertext.
                pair = dict(entry["summary"], library=f"hetal {r['preset']} pair/2",
                            wall_s=r["pair_wall_s"] / 2, cpu_s=r["pair_cpu_s"] / 2,
                            prec_mean=r["pair_real_precision_mean_bits"],
                            prec_min=r["pair_real_precision_min_bits"],
                            note="pair bootstrap of two real ciphertexts, time per real ciphertext refreshed; "
                                 "precision of the real parts of both outputs, worst run; same process as hetal")
                pair_entry = dict(entry, summary=pair)
        except Exception as e:  # record it and go on with the next library
            entry["error"] = f"{type(e).__name__}: {e}"
            print(f"  !! {lib}: {entry['error']}", file=sys.stderr, flush=True)
        report["libs"][lib] = entry
        if pair_entry is not None:
            report["libs"]["hetal-pair"] = pair_entry
        path.write_text(json.dumps(report, indent=1))
    if dry_run:
        return None
    report["load_after"] = os.getloadavg()
    path.write_text(json.dumps(report, indent=1))
    report["path"] = str(path)
    return report


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def print_boot(report):
    libs = report["libs"]
    print(f"\nbootstrapping, N = 2^16, 32768 slots (full), 1 thread, each library at its own bootstrappable "
          f"parameters; time = median of the timed runs")
    print(f"  {'library':<22} {'runs':>4} {'wall s':>7} {'CPU s':>7} {'levels':>6} {'prec mean':>9} {'prec min':>8} "
          f"{'keygen s':>8} {'peak RSS':>9} {'hetal/peer wall':>15} {'hetal/peer CPU':>14}")
    ours = libs.get("hetal", {}).get("summary")
    hetal_rows = ("hetal", "hetal-pair", "hetal-deep")
    for lib, e in libs.items():
        s = e.get("summary")
        if s is None:
            print(f"  {lib:<22} FAILED: {e.get('error')}")
            continue
        rw = ours["wall_s"] / s["wall_s"] if ours and lib not in hetal_rows else None
        rc = ours["cpu_s"] / s["cpu_s"] if ours and lib not in hetal_rows and s["cpu_s"] else None
        print(f"  {s['library']:<22} {s['runs']:>4} {s['wall_s']:>7.2f} {fmt(s['cpu_s'], '.2f'):>7} "
              f"{fmt(s['levels_left'], 'd'):>6} {fmt(s['prec_mean'], '.2f'):>9} {fmt(s['prec_min'], '.2f'):>8} "
              f"{fmt(s['keygen_s'], '.1f'):>8} {e['peak_rss_gib']:>5.2f} GiB {fmt(rw, '.3f'):>15} {fmt(rc, '.3f'):>14}")
    for lib, e in libs.items():
        s = e.get("summary")
        if s:
            print(f"  {s['library']}: {s['note']}; load {fmt_load(e['load_before'])} -> {fmt_load(e['load_after'])}, "
                  f"process {e['process_wall_s']:.0f} s wall")
            if s.get("params"):
                print(f"    {s['params']}")
    heaan = libs.get("heaan", {}).get("summary")
    if heaan:
        for lib in hetal_rows:
            s = libs.get(lib, {}).get("summary")
            if s:
                cpu = f", CPU {s['cpu_s'] / heaan['cpu_s']:.3f}" if s.get("cpu_s") and heaan.get("cpu_s") else ""
                print(f"  {s['library']} / HEaaN FGb: wall {s['wall_s'] / heaan['wall_s']:.3f}{cpu}")
    print("  levels = levels left for multiplications after the bootstrap, as each library counts them (notes "
          "above);\n  prec = -log2(mean / max abs error) over all slots, inputs uniform in [-1, 1]; peak RSS = the "
          "process's ru_maxrss (wait4)")
    print(f"  raw JSON: {report['path']}")


def fmt_load(t):
    return "(" + ", ".join(f"{x:.2f}" for x in t) + ")"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--heaan", action="store_true", help="also compare with HEaaN FGb (needs HEAAN_DIR)")
    ap.add_argument("--no-openfhe", action="store_true", help="skip the per-operation comparison with OpenFHE")
    ap.add_argument("--boot", action="store_true",
                    help="bootstrapping at N = 2^16, one process per library in --boot-libs, under the big-memory lock")
    ap.add_argument("--boot-only", action="store_true", help="--boot without the per-operation comparisons")
    ap.add_argument("--boot-libs", default=None,
                    help=f"comma-separated subset of {','.join(BOOT_LIBS)} (default: all available; heaan needs HEAAN_DIR)")
    ap.add_argument("--boot-runs", type=int, default=3, help="timed bootstraps per library (median reported)")
    ap.add_argument("--dry-run", action="store_true", help="with --boot: print the commands, run nothing")
    a = ap.parse_args()
    boot = a.boot or a.boot_only
    boot_libs = []
    if boot:
        asked = a.boot_libs.split(",") if a.boot_libs else BOOT_LIBS
        for lib in asked:
            if lib not in BOOT_LIBS:
                sys.exit(f"unknown --boot-libs entry {lib!r} (known: {','.join(BOOT_LIBS)})")
            why = boot_available(lib)
            if why is None:
                boot_libs.append(lib)
            elif a.boot_libs:
                sys.exit(f"--boot-libs {lib}: {why}")
            else:
                print(f"bootstrapping: skipping {lib} ({why})", file=sys.stderr)
        if a.dry_run:
            print(f"bootstrapping libraries: {','.join(boot_libs)}; ckks_ops: {CKKS_OPS}")
            boot_compare(boot_libs, a.boot_runs, True)
            return
    load_before = os.getloadavg()
    results = {}
    if not a.no_openfhe and not a.boot_only:
        ours = hetal("N16_L20", a.reps)
        peer = run_json([openfhe_python(), str(ROOT / "scripts/peers/openfhe_ops.py"), "--logn", "16", "--levels", "20",
                         "--dnum", str(ours["params"]["dnum"]), "--reps", str(a.reps)], {})
        results["openfhe"] = (ours, peer)
    if a.heaan and not a.boot_only:
        if "HEAAN_DIR" not in os.environ:
            sys.exit("--heaan needs HEAAN_DIR (the unpacked HEaaN CPU wheel)")
        ours = hetal("N16_L12", a.reps)
        peer = run_json([pyenv_python("3.8"), str(ROOT / "scripts/peers/heaan_ops.py")], {"REPS": str(a.reps)})
        results["heaan"] = (ours, peer)
    boot_report = boot_compare(boot_libs, a.boot_runs, False) if boot else None
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
    if boot_report is not None:
        print_boot(boot_report)
    print(f"\nload average (1, 5, 15 min): before {fmt_load(load_before)}, after {fmt_load(load_after)}")


if __name__ == "__main__":
    main()
