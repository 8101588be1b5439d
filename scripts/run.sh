#!/usr/bin/env bash
# scripts/run.sh - what `make run` calls: herald-promd on :9009 and herald-logd on :3100 with
# the default configs of config/examples, in the foreground, data under ./data.
# Ctrl-C (or SIGTERM) stops both; SIGHUP reloads both configs. If one daemon dies, the other
# is stopped too and the exit status is 1. Extra arguments go to both daemons as flags,
# e.g. `scripts/run.sh -log.level=debug`.
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p data

bin/herald-promd -config.file=config/examples/herald-promd.yaml "$@" &
promd=$!
bin/herald-logd -config.file=config/examples/herald-logd.yaml "$@" &
logd=$!
echo "run: herald-promd (pid $promd) on :9009, herald-logd (pid $logd) on :3100; Ctrl-C stops both" >&2

# Background jobs of a script ignore SIGINT, so the signal is forwarded as SIGTERM.
stopping=0
stop_all() {
    stopping=1
    kill -TERM "$promd" "$logd" 2>/dev/null
}
trap stop_all INT TERM
trap 'kill -HUP "$promd" "$logd" 2>/dev/null' HUP

status=0
while :; do
    wait -n "$promd" "$logd"
    rc=$?
    # A trapped signal interrupts wait with a status above 128: keep waiting for the exits.
    if [ "$rc" -gt 128 ] && kill -0 "$promd" 2>/dev/null && kill -0 "$logd" 2>/dev/null; then
        continue
    fi
    [ "$stopping" -eq 0 ] && status=1
    stop_all
    break
done
wait "$promd" 2>/dev/null
wait "$logd" 2>/dev/null
exit "$status"
