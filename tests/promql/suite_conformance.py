#!/usr/bin/env python3
"""PromQL conformance: runs build/tools/promql_test over Prometheus' .test scripts in
$HERALD_ROOT/../shared/conformance/promql (when that folder exists) and over the project's own
tests/promql/*.test. An eval fails unless it passes or tests/promql/known_failures.txt lists
it (`file.test:LINE reason`). Native-histogram evals and evals that use experimental
features are reported as skipped, with the experimental pass count. Last line:
`N passed, N failed`."""
import glob
import os
import re
import subprocess
import sys

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RUNNER = os.path.join(BUILD, "tools", "promql_test")
KNOWN = os.path.join(ROOT, "tests", "promql", "known_failures.txt")
FILE_RE = re.compile(r"^FILE (\S+) passed=(\d+) failed=(\d+) known=(\d+) skipped_nh=(\d+) "
                     r"exp_passed=(\d+) exp_total=(\d+)$")


def run(files, label):
    cmd = [RUNNER, "-k", KNOWN] + files
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    totals = [0] * 6
    seen = 0
    for line in proc.stdout.splitlines():
        m = FILE_RE.match(line)
        if not m:
            if line.startswith(("FAIL", "KNOWN")):
                print(line)
            continue
        seen += 1
        vals = [int(x) for x in m.groups()[1:]]
        totals = [a + b for a, b in zip(totals, vals)]
        p, f, k, nh, ep, et = vals
        run_n = p + f + k
        pct = 100.0 * p / run_n if run_n else 100.0
        print("NOTE %-12s %-28s %4d/%-4d passed (%5.1f%%), %d known, %d skipped (native "
              "histograms), experimental %d/%d" % (label, m.group(1), p, run_n, pct, k, nh, ep, et))
    if proc.returncode not in (0, 1) or seen != len(files):
        print("FAIL runner crashed on %s (exit %d)" % (label, proc.returncode))
        totals[1] += 1
    return totals


def main():
    if not os.access(RUNNER, os.X_OK):
        print("FAIL %s not built (make %s)" % (RUNNER, os.path.relpath(RUNNER, ROOT)))
        print("0 passed, 1 failed")
        return 1
    groups = []
    shared = os.path.join(ROOT, "..", "shared", "conformance", "promql")
    if os.path.isdir(shared):
        groups.append(("upstream", sorted(glob.glob(os.path.join(shared, "*.test")))))
    else:
        print("SKIP %s not present" % shared)
    groups.append(("herald", sorted(glob.glob(os.path.join(ROOT, "tests", "promql", "*.test")))))
    grand = [0] * 6
    for label, files in groups:
        if not files:
            continue
        t = run(files, label)
        run_n = t[0] + t[1] + t[2]
        print("NOTE %-12s total: %d/%d passed (%.2f%%), %d known failures, %d skipped "
              "(native histograms), experimental features %d/%d passed" %
              (label, t[0], run_n, 100.0 * t[0] / run_n if run_n else 100.0, t[2], t[3],
               t[4], t[5]))
        grand = [a + b for a, b in zip(grand, t)]
    print("%d passed, %d failed" % (grand[0], grand[1]))
    return 1 if grand[1] else 0


if __name__ == "__main__":
    sys.exit(main())
