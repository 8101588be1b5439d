#!/usr/bin/env python3
"""Template corpus suite: replays tests/template/cases/*.jsonl (expectations recorded from
amtool 0.25 / promtool 2.42 by gen_oracle.py, or hand-derived where no oracle exists, as each
case's "source" says) through build/tools/template_corpus, under the sanitizer build when it
exists. Last line: "N passed, N failed"."""
import glob
import os
import subprocess
import sys

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")


def main():
    cands = [os.path.join(BUILD, "san-address-undefined", "tools", "template_corpus"),
             os.path.join(BUILD, "tools", "template_corpus")]
    tool = next((c for c in cands if os.access(c, os.X_OK)), None)
    cases = sorted(glob.glob(os.path.join(ROOT, "tests", "template", "cases", "*.jsonl")))
    if tool is None or not cases:
        print("FAIL template_corpus tool or corpus missing (make build/tools/template_corpus)")
        print("0 passed, 1 failed")
        return 1
    p = subprocess.run([tool] + cases, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace")
    lines = p.stdout.rstrip("\n").split("\n")
    for line in lines[:-1]:
        print(line)
    last = lines[-1] if lines else ""
    if p.returncode not in (0, 1) or not last.endswith("failed"):
        print(last)
        print("0 passed, 1 failed")
        return 1
    print(last)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
