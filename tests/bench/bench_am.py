#!/usr/bin/env python3
"""Alertmanager benchmark, herald-alertd vs Debian's Alertmanager 0.25 on this machine:
  1. POST /api/v2/alerts throughput, batches of 100 alerts, 4 keep-alive client processes
     (after one warm-up round, so both stores hold the alerts being re-posted);
  2. notification latency after group_wait (webhook to a local sink);
  3. resident memory of herald with 10,000 tenants holding 10 alerts each.
Prints figures and ratios; appends them to build/bench-results.txt."""
import http.client
import json
import multiprocessing
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "alertmanager"))
from amlib import UPSTREAM_AM, Sink, Upstream, alertd  # noqa: E402

CLIENTS = 4
BATCHES = int(os.environ.get("AM_BENCH_BATCHES", "400"))
TENANTS = int(os.environ.get("AM_BENCH_TENANTS", "10000"))
ROOT = os.path.dirname(os.path.dirname(HERE))


def config(url, group_wait="1s"):
    return ("route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: %s\n"
            "  group_interval: 1m\nreceivers:\n  - name: r\n    webhook_configs: [{url: '%s'}]\n"
            % (group_wait, url))


def batch(client, i):
    return json.dumps([{"labels": {"alertname": "Bench%d" % (j % 10), "client": str(client),
                                   "instance": "i-%d-%d" % (i % 50, j)},
                        "annotations": {"summary": "benchmark alert"}} for j in range(100)])


def _client(args):
    """One client process (no shared GIL): BATCHES/CLIENTS posts on a keep-alive connection."""
    port, path, headers, c = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    bodies = [batch(c, i) for i in range(50)]
    h = dict(headers, **{"Content-Type": "application/json"})
    errors = 0
    for i in range(BATCHES // CLIENTS):
        conn.request("POST", path, body=bodies[i % 50], headers=h)
        r = conn.getresponse()
        r.read()
        errors += r.status != 200
    conn.close()
    return errors


def throughput(port, path, headers):
    with multiprocessing.Pool(CLIENTS) as pool:
        pool.map(_client, [(port, path, headers, c) for c in range(CLIENTS)])  # warm-up
        t0 = time.time()
        errors = sum(pool.map(_client, [(port, path, headers, c) for c in range(CLIENTS)]))
        dt = time.time() - t0
    if errors:
        print("  errors: %d" % errors)
    return (BATCHES // CLIENTS) * CLIENTS * 100 / dt


def latency(port, path, headers, sink, prefix, n=5):
    """Median delay (ms) between group_wait expiry and the webhook's arrival."""
    out = []
    time.sleep(1.5)  # let the throughput phase's groups flush first
    for i in range(n):
        name = b'"alertname":"Lat%d"' % i
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t0 = time.monotonic()
        conn.request("POST", path, body=json.dumps([{"labels": {"alertname": "Lat%d" % i}}]),
                     headers=dict(headers, **{"Content-Type": "application/json"}))
        conn.getresponse().read()
        deadline = t0 + 10
        while time.monotonic() < deadline:
            hits = [h for h in sink.get(prefix) if name in h[2]]
            if hits:
                out.append((hits[0][0] - t0 - 1.0) * 1000)
                break
            time.sleep(0.005)
    return sorted(out)[len(out) // 2] if out else float("nan")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory(sink):
    d = alertd(fallback=config(sink.url("/mem"), group_wait="1h"),
               args=["-log.level=warn"]).start()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    body = json.dumps([{"labels": {"alertname": "M%d" % j, "instance": "x"}} for j in range(10)])
    t0 = time.time()
    for t in range(TENANTS):
        conn.request("POST", "/alertmanager/api/v2/alerts", body=body,
                     headers={"X-Scope-OrgID": "tenant-%d" % t, "Content-Type": "application/json"})
        conn.getresponse().read()
    dt = time.time() - t0
    kb = rss_kb(d.proc.pid)
    d.cleanup()
    return kb, dt


def main():
    sink = Sink()
    results = []
    d = alertd(fallback=config(sink.url("/h")), args=["-log.level=warn"]).start()
    hdr = {"X-Scope-OrgID": "bench"}
    herald_tp = throughput(d.port, "/alertmanager/api/v2/alerts", hdr)
    herald_lat = latency(d.port, "/alertmanager/api/v2/alerts", hdr, sink, "/h")
    d.cleanup()
    results.append("herald-alertd POST alerts: %.0f alerts/s" % herald_tp)
    results.append("herald-alertd notification latency after group_wait: %.1f ms (median)"
                   % herald_lat)
    if UPSTREAM_AM:
        up = Upstream(config(sink.url("/u")))
        up_tp = throughput(up.port, "/alertmanager/api/v2/alerts", {})
        up_lat = latency(up.port, "/alertmanager/api/v2/alerts", {}, sink, "/u")
        up.stop()
        results.append("alertmanager-0.25 POST alerts: %.0f alerts/s" % up_tp)
        results.append("alertmanager-0.25 notification latency after group_wait: %.1f ms "
                       "(median)" % up_lat)
        results.append("ratio herald/alertmanager alerts/s: %.1fx" % (herald_tp / up_tp))
    kb, dt = memory(sink)
    results.append("herald-alertd %d tenants x 10 alerts: RSS %.1f MiB (loaded in %.1fs)"
                   % (TENANTS, kb / 1024.0, dt))
    sink.close()
    for r in results:
        print(r)
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench-results.txt"), "a") as f:
        f.write("== bench_am %s\n" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        for r in results:
            f.write(r + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
