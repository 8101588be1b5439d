#!/usr/bin/env python3
"""Query benchmark: herald's PromQL engine against Debian's Prometheus 2.42, same data, same run.

One day of data at 15 s (http_requests_total: 50 instances x 4 codes x 2 methods = 400
counters; latency_seconds_bucket: 20 instances x 10 buckets = 200 series; 1000 `noise`
series for regex selection) is written as OpenMetrics for `promtool tsdb
create-blocks-from openmetrics` and as a .test `load` block for herald. Herald serves it with
`promql_test -serve` (the engine and query API over the in-memory store); Prometheus reads the
blocks. Both listen on 127.0.0.1 free ports and are stopped by PID. Each query runs warm-up
then ROUNDS times on each side, alternating; the median wall time per query and the ratio
Prometheus/herald are printed, plus the results' equality (series and values, relative
1e-9). Last line: `N passed, N failed` (a query fails if answers differ or herald is not
at least 2x faster). BENCH_ROUNDS overrides the rounds."""
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
SERVER = os.path.join(BUILD, "tools", "promql_test")
STEP = 15
N_STEPS = 5760  # one day
END = N_STEPS * STEP - 3
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))

QUERIES = [
    ("rate", {"query": "rate(http_requests_total[5m])", "time": END}),
    ("sum by", {"query": "sum by (code) (rate(http_requests_total[5m]))", "time": END}),
    ("histogram_quantile", {"query": "histogram_quantile(0.9, sum by (le) "
                                     "(rate(latency_seconds_bucket[5m])))", "time": END}),
    ("topk", {"query": "topk(5, rate(http_requests_total[5m]))", "time": END}),
    ("regex matchers", {"query": "count(noise{shard=~\"1.*|2.*|3[0-4]\", kind!~\"b|c\"})",
                        "time": END}),
    ("1-day range, 15s step", {"query": "sum by (code) (rate(http_requests_total[5m]))",
                               "start": 307, "end": END, "step": 15}),
    ("1h range, 15s step, per series", {"query": "rate(http_requests_total{method=\"GET\"}[5m])",
                                        "start": END - 3600, "end": END, "step": 15}),
]


def gen():
    rnd = random.Random(7)
    series = []
    for inst in range(50):
        for code in ("200", "404", "500", "503"):
            for method in ("GET", "POST"):
                v, vals = 0.0, []
                rate = rnd.uniform(0.1, 20)
                for i in range(N_STEPS):
                    v += rnd.expovariate(1.0 / rate) if rnd.random() < 0.9 else 0
                    vals.append(round(v, 2))
                series.append(("http_requests_total", {"instance": str(inst), "code": code,
                                                       "method": method}, vals))
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for inst in range(20):
        cum = [0.0] * len(bounds)
        out = [[] for _ in bounds]
        for i in range(N_STEPS):
            for b in range(len(bounds)):
                cum[b] += rnd.randint(0, 3) * (b + 1)
            for b in range(1, len(bounds)):
                cum[b] = max(cum[b], cum[b - 1])
            for b in range(len(bounds)):
                out[b].append(cum[b])
        for b, ub in enumerate(bounds):
            series.append(("latency_seconds_bucket", {"instance": str(inst), "le": ub}, out[b]))
    for shard in range(500):
        for kind in ("a", "b"):
            series.append(("noise", {"shard": str(shard), "kind": kind},
                           [float(i % 97) for i in range(0, N_STEPS, 4)]))
    return series


def labels_text(labels, sep):
    return "{" + sep.join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(labels.items())) + "}"


def write_data(series, om_path, test_path):
    with open(om_path, "w") as om, open(test_path, "w") as tf:
        tf.write("load %ds\n" % STEP)
        typed = set()
        for name, labels, vals in series:
            if name not in typed:
                om.write("# TYPE %s gauge\n" % name)
                typed.add(name)
            step_mult = 4 if name == "noise" else 1
            ls = labels_text(labels, ",")
            for i, v in enumerate(vals):
                om.write("%s%s %r %d\n" % (name, ls, v, i * STEP * step_mult))
            if step_mult == 1:
                tf.write("  %s%s %s\n" % (name, labels_text(labels, ", "), " ".join(repr(v) for v in vals)))
            else:
                tf.write("  %s%s %s\n" % (name, labels_text(labels, ", "),
                                          " ".join("%r _ _ _" % v for v in vals)))
        om.write("# EOF\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, params):
    url = "http://127.0.0.1:%d%s?%s" % (port, path, urllib.parse.urlencode(params))
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.perf_counter() - t0, json.loads(body)


def path_of(params):
    return "/api/v1/query_range" if "step" in params else "/api/v1/query"


def same(a, b):
    def norm(res):
        d = res["data"]
        out = {}
        for s in d["result"]:
            key = json.dumps(s["metric"], sort_keys=True)
            pts = s.get("values") or [s["value"]]
            out[key] = [(float(t), float(v)) for t, v in pts]
        return out
    x, y = norm(a), norm(b)
    if x.keys() != y.keys():
        return False
    for k in x:
        if len(x[k]) != len(y[k]):
            return False
        for (t1, v1), (t2, v2) in zip(x[k], y[k]):
            if t1 != t2 or not (v1 == v2 or (math.isnan(v1) and math.isnan(v2)) or
                                abs(v1 - v2) <= 1e-9 * max(abs(v1), abs(v2))):
                return False
    return True


def wait_ready(port):
    for _ in range(600):
        try:
            _, r = get(port, "/api/v1/query", {"query": "count(noise)", "time": END})
            if r["data"]["result"]:
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    return False


def main():
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        print("SKIP prometheus/promtool not installed")
        print("0 passed, 0 failed")
        return 0
    tmp = tempfile.mkdtemp(prefix="herald-bench-")
    procs = []
    try:
        om, tf = os.path.join(tmp, "data.om"), os.path.join(tmp, "data.test")
        write_data(gen(), om, tf)
        data = os.path.join(tmp, "tsdb")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", om, data],
                       check=True, stdout=subprocess.DEVNULL)
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        pport, hport = free_port(), free_port()
        procs.append(subprocess.Popen(
            ["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + data,
             "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % pport],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([SERVER, "-serve", str(hport), tf],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        hpath = "/prometheus"
        if not wait_ready(pport):
            print("FAIL prometheus did not start")
            print("0 passed, 1 failed")
            return 1
        for _ in range(600):
            try:
                get(hport, hpath + "/api/v1/query", {"query": "1"})
                break
            except OSError:
                time.sleep(0.5)
        passed = failed = 0
        print("NOTE %-32s %12s %12s %8s" % ("query", "prometheus", "herald", "ratio"))
        for name, params in QUERIES:
            p = path_of(params)
            _, pr = get(pport, p, params)
            _, hr = get(hport, hpath + p, params)
            equal = same(pr, hr)
            pt, ht = [], []
            for _ in range(ROUNDS):
                pt.append(get(pport, p, params)[0])
                ht.append(get(hport, hpath + p, params)[0])
            pm, hm = statistics.median(pt), statistics.median(ht)
            ratio = pm / hm if hm > 0 else float("inf")
            ok = equal and ratio >= 2.0
            print("%s %-32s %10.2fms %10.2fms %7.1fx%s" % (
                "NOTE" if ok else "FAIL", name, pm * 1e3, hm * 1e3, ratio,
                "" if equal else "  (results differ)"))
            passed += ok
            failed += not ok
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
