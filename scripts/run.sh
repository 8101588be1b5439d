#!/usr/bin/env bash
# scripts/run.sh - what `make run` calls: herald-promd on :9009, herald-logd on :3100 and
# herald-rulesync on :12345 with the default configs of config/examples, in the foreground,
# data under ./data (PrometheusRule manifests: ./data/manifests).
# Ctrl-C (or SIGTERM) stops all; SIGHUP reloads every config. If one daemon dies, the others
# are stopped too and the exit status is 1. Extra arguments go to herald-promd and herald-logd
# as flags, e.g. `scripts/run.sh -log.level=debug`.
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p data/manifests

bin/herald-promd -config.file=config/examples/herald-promd.yaml "$@" &
promd=$!
bin/herald-logd -config.file=config/examples/herald-logd.yaml "$@" &
logd=$!
bin/herald-rulesync -config.file=config/examples/herald-rulesync.yaml &
rulesync=$!
pids="$promd $logd $rulesync"
echo "run: herald-promd (pid $promd) on :9009, herald-logd (pid $logd) on :3100," \
    "herald-rulesync (pid $rulesync) on :12345 watching data/manifests; Ctrl-C stops all" >&2

# Background jobs of a script ignore SIGINT, so the signal is forwarded as SIGTERM.
stopping=0
stop_all() {
    stopping=1
    kill -TERM $pids 2>/dev/null
}
trap stop_all INT TERM
trap 'kill -HUP $pids 2>/dev/null' HUP

all_alive() {
    for p in $pids; do
        kill -0 "$p" 2>/dev/null || return 1
    done
}

status=0
while :; do
    wait -n $pids
    rc=$?
    # A trapped signal interrupts wait with a status above 128: keep waiting for the exits.
    if [ "$rc" -gt 128 ] && all_alive; then
        continue
    fi
    [ "$stopping" -eq 0 ] && status=1
    stop_all
    break
done
for p in $pids; do
    wait "$p" 2>/dev/null
done
exit "$status"
