#!/usr/bin/env python3
"""Differential rule tests: every tests/ruler/promtool/*_test.yml (promtool's `test rules`
format) must pass both Debian's promtool 2.42 (the oracle: the expectations are what
Prometheus does) and herald's ruler + PromQL engine through build/tools/rules_test. One
result per file and tool; last line `N passed, N failed`. Standard library only."""
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RULES_TEST = os.path.join(BUILD, "tools", "rules_test")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       cwd=os.path.join(HERE, "promtool"))
    return p.returncode, (p.stdout + p.stderr).strip()


def main():
    passed = failed = 0
    files = sorted(glob.glob(os.path.join(HERE, "promtool", "*_test.yml")))
    for f in files:
        name = os.path.basename(f)
        tools = [("herald", [RULES_TEST, f])]
        if shutil.which("promtool"):
            tools.insert(0, ("promtool", ["promtool", "test", "rules", f]))
        else:
            print("SKIP promtool %s: promtool not installed" % name)
        for tool, cmd in tools:
            rc, out = run(cmd)
            if rc == 0:
                passed += 1
                print("ok   %s %s" % (tool, name))
            else:
                failed += 1
                print("FAIL %s %s" % (tool, name))
                for line in out.splitlines()[-30:]:
                    print("     " + line)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
