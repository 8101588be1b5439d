#!/usr/bin/env python3
"""make bench: runs every tests/bench/bench_*.py in turn. Each benchmark runs herald and the
Debian reference (Prometheus 2.42 / Alertmanager 0.25) side by side on the same machine and
prints its figures and herald/reference ratios. Results are appended to build/bench-results.txt."""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    failed = 0
    benches = sorted(glob.glob(os.path.join(ROOT, "tests", "bench", "bench_*.py")))
    if not benches:
        print("no benchmarks yet")
    env = dict(os.environ, HERALD_ROOT=ROOT, HERALD_BIN=os.path.join(ROOT, "bin"))
    for b in benches:
        print("== %s" % os.path.basename(b), flush=True)
        rc = subprocess.call([sys.executable, b] + sys.argv[1:], cwd=ROOT, env=env)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
