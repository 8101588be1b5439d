#!/usr/bin/env python3
"""Log push benchmark of herald-logd (no Loki binary to compare with: absolute figures).
Pushes BENCH_LOG_ENTRIES (default 1,000,000) logfmt-like lines of ~130 bytes over
BENCH_LOG_STREAMS (200) streams in batches of 1000 entries, from 2 client processes on
keep-alive connections, half as JSON and half as snappy-protobuf. Reports entries/s and MB/s
pushed, the daemon's RSS after the pushes, and after a clean stop (every head flushed to
zstd chunks) the on-disk bytes per entry of index + chunks. Appends to
build/bench-results.txt."""
import http.client
import multiprocessing
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "logs"))
from logs_util import BUILD, Logd, json_body, proto_push, snappy_literal, store_stats  # noqa

ENTRIES = int(os.environ.get("BENCH_LOG_ENTRIES", "1000000"))
STREAMS = int(os.environ.get("BENCH_LOG_STREAMS", "200"))
BATCH = 1000
CLIENTS = 2
CONFIG = ("limits_config:\n  ingestion_rate_mb: 100000\n  ingestion_burst_size_mb: 100000\n"
          "  max_global_streams_per_user: 0\n")
PATHS = ["/api/v1/users/%d", "/api/v1/orders/%d", "/healthz", "/metrics", "/api/v1/cart/%d"]


def line(rng, i):
    path = rng.choice(PATHS)
    if "%d" in path:
        path = path % rng.randint(1, 99999)
    return ('level=%s caller=server.go:%d msg="request served" method=%s path=%s status=%d '
            'duration=%.1fms req=%08x' % (rng.choice(["info"] * 8 + ["warn", "error"]),
                                          rng.randint(10, 900), rng.choice(["GET", "POST"]),
                                          path, rng.choice([200] * 9 + [500]),
                                          rng.random() * 100, i))


def bodies(client, n_batches, base_ns):
    """Pre-built request bodies (so the clients measure the server, not Python)."""
    rng = random.Random(client)
    out = []
    for b in range(n_batches):
        s = (client * 7919 + b) % STREAMS
        vals = [(base_ns + (b * BATCH + k) * 1000 + client, line(rng, b * BATCH + k))
                for k in range(BATCH)]
        labels = {"app": "app-%d" % (s % 20), "pod": "pod-%d" % s, "env": "prod"}
        if b % 2 == 0:
            out.append(("application/json", json_body([(labels, vals)])))
        else:
            sel = '{app="%s", pod="%s", env="prod"}' % (labels["app"], labels["pod"])
            out.append(("application/x-protobuf", snappy_literal(proto_push([(sel, vals)]))))
    return out


def client(args):
    port, bs = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    errors = 0
    t0 = time.time()
    for ctype, body in bs:
        conn.request("POST", "/loki/api/v1/push", body=body,
                     headers={"X-Scope-OrgID": "bench", "Content-Type": ctype})
        r = conn.getresponse()
        r.read()
        errors += r.status != 204
    return time.time() - t0, errors, sum(len(b) for _, b in bs)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def main():
    n_batches = ENTRIES // BATCH // CLIENTS
    base = time.time_ns() - 3600 * 10**9
    work = [bodies(c, n_batches, base) for c in range(CLIENTS)]
    raw_bytes = sum(len(v[1]) for w in work for v in w)
    d = Logd(config=CONFIG).start()
    rss0 = rss_kb(d.proc.pid)
    t0 = time.time()
    # Workers must not inherit the harness's SIGTERM cleanup (it would remove the daemon's
    # directory when the pool ends them).
    with multiprocessing.Pool(CLIENTS, initializer=signal.signal,
                              initargs=(signal.SIGTERM, signal.SIG_DFL)) as pool:
        res = pool.map(client, [(d.port, w) for w in work])
    wall = time.time() - t0
    errors = sum(r[1] for r in res)
    rss1 = rss_kb(d.proc.pid)
    check_stop = d.stop(timeout=120)
    stats = store_stats(d.data)
    n = n_batches * CLIENTS * BATCH
    disk = int(stats["bytes"])
    lines = [
        "herald-logd push: %d entries in %.2fs = %.0f entries/s, %.1f MB/s of request bodies "
        "(%d errors, exit %s)" % (n, wall, n / wall, raw_bytes / wall / 1e6, errors, check_stop),
        "herald-logd RSS: %d MB idle -> %d MB after the pushes (%.0f B/entry held in heads)"
        % (rss0 // 1024, rss1 // 1024, (rss1 - rss0) * 1024.0 / n),
        "herald-logd disk after flush: %.1f MB index+chunks = %.1f B/entry (~%d B lines, zstd "
        "blocks of 256 KiB); WAL %s B" % (disk / 1e6, disk / n, 130, stats["wal_bytes"]),
    ]
    for ln in lines:
        print(ln)
    with open(os.path.join(BUILD, "bench-results.txt"), "a") as f:
        f.write("== bench_logs %s\n%s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), "\n".join(lines)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
