#!/usr/bin/env python3
"""LogQL benchmark: a real bin/herald-logd on a free 127.0.0.1 port. Pushes N lines
(BENCH_LOGQL_LINES, default 200,000) over 20 streams and the last 50 minutes through the JSON
push API, then times typical queries: `sum by (level) (count_over_time(...))`, a `|=` line
filter, `| json | status >= 500`, a 1000-entry log query and a 1 h range metric query. Each
query runs once to warm up, then BENCH_ROUNDS times (default 5); the median wall time and the
lines scanned per second (from the response's stats) are printed. Absolute figures only: no
Loki binary is available here to compare with. Appends a summary to build/bench-results.txt.
Last line: `N passed, N failed` (a query fails if it does not answer 200)."""
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ROOT, Daemon  # noqa: E402

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
N_LINES = int(os.environ.get("BENCH_LOGQL_LINES", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
NS = 10**9
H = {"X-Scope-OrgID": "bench"}
SPAN_S = 3000  # the lines cover the last 50 minutes
PATHS = ["/api/orders", "/api/users", "/api/cart", "/health", "/login"]


def gen_line(rng, i):
    status = rng.choice([200] * 8 + [404, 500, 503])
    msg = "timeout talking to db" if status == 503 else "ok"
    return json.dumps({"i": i, "path": rng.choice(PATHS), "status": status,
                       "latency_ms": rng.randint(1, 900), "msg": msg})


def push_all(d, now_s):
    rng = random.Random(1)
    streams = [{"app": "app%d" % (k % 5), "level": ["info", "warn", "error", "debug"][k // 5],
                "job": "bench"} for k in range(20)]
    batch, t0 = 10000, time.time()
    start_ns = (now_s - SPAN_S) * NS
    for b in range(0, N_LINES, batch):
        per = {}
        for i in range(b, min(N_LINES, b + batch)):
            ts = start_ns + i * (SPAN_S * NS // N_LINES)
            per.setdefault(i % 20, []).append([str(ts), gen_line(rng, i)])
        body = {"streams": [{"stream": streams[k], "values": v} for k, v in per.items()]}
        r = d.post("/loki/api/v1/push", body, H, timeout=120)
        if r.status != 204:
            raise RuntimeError("push failed: %d %s" % (r.status, r.text[:300]))
    return N_LINES / (time.time() - t0)


def queries(now_s):
    end = str(now_s * NS)
    start = str((now_s - 3600) * NS)
    return [
        ("count_over_time by", "/loki/api/v1/query",
         {"query": 'sum by (level) (count_over_time({job="bench"}[1h]))', "time": end}),
        ("|= filter, limit 1000", "/loki/api/v1/query_range",
         {"query": '{job="bench"} |= "timeout"', "start": start, "end": end, "limit": "1000"}),
        ("json + label filter", "/loki/api/v1/query",
         {"query": 'sum(count_over_time({job="bench"} | json | status >= 500 [1h]))',
          "time": end}),
        ("log query limit 1000", "/loki/api/v1/query_range",
         {"query": '{job="bench"}', "start": start, "end": end, "limit": "1000"}),
        ("1h range rate by, 60s step", "/loki/api/v1/query_range",
         {"query": 'sum by (level) (rate({job="bench"}[1m]))', "start": start, "end": end,
          "step": "60"}),
    ]


def time_query(d, path, params):
    url = path + "?" + urllib.parse.urlencode(params)
    r = d.get(url, H, timeout=300)
    if r.status != 200:
        return None, r
    times, lines = [], 0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        r = d.get(url, H, timeout=300)
        times.append(time.perf_counter() - t0)
        lines = r.json()["data"]["stats"]["summary"]["totalLinesProcessed"]
    return (statistics.median(times), lines), r


def main():
    now_s = int(time.time())
    d = Daemon("herald-logd", args=["-distributor.ingestion-rate-limit-mb=100000",
                                    "-distributor.ingestion-burst-size-mb=100000",
                                    "-ingester.per-stream-rate-limit=1GB",
                                    "-ingester.per-stream-rate-limit-burst=1GB"]).start()
    passed = failed = 0
    out = []
    try:
        rate = push_all(d, now_s)
        out.append("push: %d lines at %.0f lines/s (JSON, batches of 10000)" % (N_LINES, rate))
        print(out[-1], flush=True)
        for name, path, params in queries(now_s):
            res, r = time_query(d, path, params)
            if res is None:
                failed += 1
                print("FAIL %-28s %d %s" % (name, r.status, r.text[:200]), flush=True)
                continue
            passed += 1
            secs, lines = res
            out.append("%-28s %8.1f ms  %10d lines scanned  %6.1f M lines/s" %
                       (name, secs * 1000, lines, lines / secs / 1e6 if secs > 0 else 0))
            print(out[-1], flush=True)
    finally:
        d.cleanup()
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "bench-results.txt"), "a") as f:
        for line in out:
            f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + "logql: " + line + "\n")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
