#!/bin/sh
# tests/fuzz/run.sh - runs herald's libFuzzer targets.
#   sh tests/fuzz/run.sh <dir-with-fuzz-binaries> <seconds> [target-name]
# For each fuzz_* binary in the directory (or only the named one): first replays every input
# of its seed corpus tests/fuzz/corpus/<name>/ once, then fuzzes for <seconds> starting from
# that corpus. New interesting inputs go to a scratch corpus under build/, not into the
# repository (minimize them into the seed corpus with -merge=1 by hand). A crash, leak or
# timeout leaves its input in build/fuzz-artifacts/<name>/ and makes the script exit 1.
set -u

dir=${1:?usage: run.sh <dir-with-fuzz-binaries> <seconds> [target-name]}
seconds=${2:?usage: run.sh <dir-with-fuzz-binaries> <seconds> [target-name]}
only=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
found=0

for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    if [ -n "$only" ] && [ "$name" != "$only" ]; then
        continue
    fi
    found=1
    seeds="$root/tests/fuzz/corpus/$name"
    scratch="$root/build/fuzz-corpus/$name"
    artifacts="$root/build/fuzz-artifacts/$name"
    mkdir -p "$seeds" "$scratch" "$artifacts"

    # Replay: every seed (crashers included) must pass before fuzzing starts.
    if [ -n "$(ls -A "$seeds")" ]; then
        if ! "$bin" -runs=0 -timeout=10 -artifact_prefix="$artifacts/" "$seeds" \
            >"$artifacts/replay.log" 2>&1; then
            echo "FAIL $name: seed corpus replay failed (see $artifacts/replay.log)"
            tail -n 30 "$artifacts/replay.log"
            status=1
            continue
        fi
    fi
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$scratch" "$seeds" >"$artifacts/fuzz.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$artifacts/fuzz.log")
        echo "ok   $name: ${runs:-?} runs in ${seconds}s"
    else
        echo "FAIL $name: finding after fuzzing (see $artifacts/fuzz.log and crash inputs there)"
        grep -E "ERROR|SUMMARY|Test unit written" "$artifacts/fuzz.log" | head -n 10
        status=1
    fi
done

if [ "$found" -eq 0 ]; then
    echo "FAIL no fuzz targets found in $dir${only:+ named $only}"
    exit 1
fi
exit $status
