#!/usr/bin/env python3
"""Fuzz suite for `make test`: builds every tests/fuzz/fuzz_*.c as a libFuzzer target
(clang, ASan+UBSan, into build/fuzz-build) and runs each through tests/fuzz/run.sh for a
short time: seed-corpus replay, then FUZZ_SECONDS (default 10) of fuzzing. One pass/fail
line per target; the last line is "N passed, N failed".
"""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = "build/fuzz-build"
SECONDS = os.environ.get("FUZZ_SECONDS", "10")


def build():
    cmd = ["make", "--no-print-directory", "-j2", "fuzz-bins", "CC=clang", "BUILD=" + BUILD,
           "CFLAGS=-O1 -g -fsanitize=fuzzer-no-link,address,undefined",
           "LDFLAGS=-fsanitize=address,undefined"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    return proc.returncode == 0, proc.stdout


def main():
    targets = sorted(os.path.basename(p)[:-2]
                     for p in glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")))
    if not targets:
        print("0 passed, 0 failed")
        return 0
    ok, log = build()
    if not ok:
        # Another make may have been rewriting the shared fuzz library at the same moment.
        ok, log = build()
    if not ok:
        for line in log.strip().split("\n")[-30:]:
            print("    " + line)
        print("FAIL build of fuzz targets")
        print("0 passed, %d failed" % len(targets))
        return 1
    passed = failed = 0
    env = dict(os.environ)
    # The fuzzer owns the sanitizer settings of its child; keep leak checks on.
    env.pop("ASAN_OPTIONS", None)
    env.pop("UBSAN_OPTIONS", None)
    for name in targets:
        proc = subprocess.run(
            ["sh", "tests/fuzz/run.sh", os.path.join(BUILD, "fuzz"), SECONDS, name],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace")
        out = proc.stdout.strip()
        if proc.returncode == 0:
            passed += 1
            print(out)
        else:
            failed += 1
            for line in out.split("\n"):
                print(line if line.startswith("FAIL") else "    " + line)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
