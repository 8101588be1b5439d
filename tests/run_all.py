#!/usr/bin/env python3
"""Runs herald's test suites and sums their results.

Suites:
  unit         every unit-test binary <san-build>/tests/test_* (ASan+UBSan build)
  <folder>     every script tests/<folder>/suite_*.py (golden files, conformance,
               template corpus, integration against real daemons)
Each suite prints its own lines and ends with "N passed, N failed". The last line printed
here is the total in the same form. Exit status 1 if anything failed or a suite crashed.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOTAL_RE = re.compile(r"^(\d+) passed, (\d+) failed\s*$")


def run_suite(name, cmd, env):
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    out = proc.stdout.rstrip("\n").split("\n") if proc.stdout else []
    m = TOTAL_RE.match(out[-1]) if out else None
    passed, failed = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
    if proc.returncode != 0 and failed == 0:
        failed = 1  # crashed after printing its counts, or a sanitizer report
    shown = out if failed else [l for l in out if l.startswith(("FAIL", "SKIP", "NOTE"))]
    for line in shown[-200:]:
        print("    " + line)
    status = "ok" if failed == 0 else "FAILED (exit %d)" % proc.returncode
    print("%-40s %5d passed, %3d failed  %6.1fs  %s" %
          (name, passed, failed, time.time() - t0, status), flush=True)
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--san-build", default="build/san-address-undefined")
    ap.add_argument("--only", default="")
    args = ap.parse_args()

    env = dict(os.environ)
    env["HERALD_ROOT"] = ROOT
    env["HERALD_BUILD"] = os.path.join(ROOT, args.build)
    env["HERALD_BIN"] = os.path.join(ROOT, "bin")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    suites = []
    if args.only in ("", "unit"):
        unit_dir = os.path.join(ROOT, args.san_build if args.only == "" else args.build, "tests")
        for b in sorted(glob.glob(os.path.join(unit_dir, "test_*"))):
            if os.access(b, os.X_OK) and not b.endswith((".o", ".d")):
                suites.append(("unit/" + os.path.basename(b), [b]))
    for script in sorted(glob.glob(os.path.join(ROOT, "tests", "*", "suite_*.py"))):
        folder = os.path.basename(os.path.dirname(script))
        if args.only in ("", folder):
            name = folder + "/" + os.path.basename(script)[6:-3]
            suites.append((name, [sys.executable, script]))

    total_p = total_f = 0
    for name, cmd in suites:
        p, f = run_suite(name, cmd, env)
        total_p += p
        total_f += f
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
