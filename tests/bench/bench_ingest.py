#!/usr/bin/env python3
"""Ingest benchmark: herald-promd vs Debian's Prometheus 2.42 remote-write receiver
(--web.enable-remote-write-receiver), the same pre-encoded remote-write payloads (built once
by build/tools/rw_encode -gen), the same machine, one run each, sequentially.

Figures: samples/s (wall clock from the first request to the last answer, W sender threads
over keep-alive connections, each thread owning whole series groups so per-series order
holds), resident memory growth per active series after the ingest (VmRSS after - before),
and bytes per sample on disk (data directory after the ingest: WAL for both, since no block
is cut within the run; herald's head is then also cut into blocks offline to report block
bytes per sample). Prints herald/Prometheus ratios; appends them to
build/bench-results.txt. Environment: BENCH_SERIES (20000), BENCH_STEPS (60),
BENCH_THREADS (4), BENCH_WAL_COMPRESSION (true, as Prometheus 2.42's default)."""
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("HERALD_BIN") or os.path.join(ROOT, "bin")
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
SERIES = int(os.environ.get("BENCH_SERIES", "20000"))
STEPS = int(os.environ.get("BENCH_STEPS", "60"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WAL_COMPRESSION = os.environ.get("BENCH_WAL_COMPRESSION", "true")
BATCH = 2000  # series per request, about what Prometheus sends per shard


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dir_bytes(path):
    total = 0
    for dp, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dp, f))
            except OSError:
                pass
    return total


def wait_ready(port, path):
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server on %d not ready" % port)


def generate(tmp):
    start = int(time.time() * 1000) - (STEPS * 15000) - 60000
    out = subprocess.run([os.path.join(BUILD, "tools", "rw_encode"), "-gen", tmp, str(SERIES),
                          str(STEPS), str(start), "15000", str(BATCH)],
                         capture_output=True, text=True, check=True).stdout
    groups = {}
    for name in sorted(os.listdir(tmp)):
        g = int(name.split("-")[0])
        with open(os.path.join(tmp, name), "rb") as f:
            groups.setdefault(g, []).append(f.read())
    return int(out.strip()), [groups[g] for g in sorted(groups)]


def send_all(port, path, groups, headers):
    """Sends every payload; each thread takes whole groups. Returns (seconds, errors)."""
    errors = []
    work = list(range(len(groups)))
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not work:
                    return
                g = work.pop(0)
            for body in groups[g]:
                conn.request("POST", path, body, headers)
                r = conn.getresponse()
                data = r.read()
                if r.status // 100 != 2:
                    errors.append("%d %s" % (r.status, data[:200]))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.time() - t0, errors


def run_target(name, cmd, port, paths, data_dir, groups, headers, cwd):
    """paths: (readiness path, write path)."""
    log = open(os.path.join(cwd, name + ".log"), "wb")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, paths[0])
        time.sleep(1.0)
        before = rss_kb(proc.pid)
        secs, errors = send_all(port, paths[1], groups, headers)
        time.sleep(2.0)  # let background flushes settle before measuring
        after = rss_kb(proc.pid)
        disk = dir_bytes(data_dir)
    finally:
        proc.terminate()
        proc.wait()
        log.close()
    return {"seconds": secs, "errors": errors, "rss_before_kb": before, "rss_after_kb": after,
            "disk": disk}


def main():
    tmp = tempfile.mkdtemp(prefix="bench-ingest-")
    try:
        payload_dir = os.path.join(tmp, "payloads")
        os.makedirs(payload_dir)
        n_samples, groups = generate(payload_dir)
        payload_bytes = sum(len(b) for g in groups for b in g)
        print("payloads: %d series x %d steps = %d samples, %d requests, %.1f MB snappy" %
              (SERIES, STEPS, n_samples, sum(len(g) for g in groups), payload_bytes / 1e6))
        hport, pport = free_port(), free_port()
        hdir = os.path.join(tmp, "herald")
        os.makedirs(hdir)
        herald = run_target(
            "herald", [os.path.join(BIN, "herald-promd"), "-server.http-listen-address=127.0.0.1",
                       "-server.http-listen-port=%d" % hport, "-blocks-storage.tsdb.dir=tsdb",
                       "-distributor.ingestion-rate-limit=0",
                       # Prometheus 2.42 compresses its WAL by default (Mimir does not)
                       "-blocks-storage.tsdb.wal-compression-enabled=" + WAL_COMPRESSION,
                       "-ingester.max-global-series-per-user=0"],
            hport, ("/ready", "/api/v1/push"), os.path.join(hdir, "tsdb"), groups,
            {"X-Scope-OrgID": "bench", "Content-Encoding": "snappy",
             "Content-Type": "application/x-protobuf"}, hdir)
        herald["blocks"] = block_figures(os.path.join(hdir, "tsdb"))
        pdir = os.path.join(tmp, "prom")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        prom = run_target(
            "prometheus", ["prometheus", "--config.file=prometheus.yml",
                           "--storage.tsdb.path=data", "--web.enable-remote-write-receiver",
                           "--web.listen-address=127.0.0.1:%d" % pport],
            pport, ("/-/ready", "/api/v1/write"), os.path.join(pdir, "data"), groups,
            {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
             "X-Prometheus-Remote-Write-Version": "0.1.0"}, pdir)
        report(n_samples, herald, prom)
        return 1 if herald["errors"] or prom["errors"] else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def block_figures(tsdb_dir):
    """Cuts herald's stopped head into 5-minute blocks (compacted) with tsdb_dump -cut; returns
    (block file bytes, chunk bytes, samples in blocks)."""
    p = subprocess.run([os.path.join(BUILD, "tools", "tsdb_dump"), "-cut", "300000", tsdb_dir,
                        "bench", '{__name__=~".+"}'], capture_output=True, text=True, check=True)
    fields = dict(f.split("=", 1) for f in p.stdout.splitlines()[-1].split())
    replay = re.search(r"samples=(\d+) duration_ms=(\d+)", p.stderr)
    return (int(fields.get("block_bytes", 0)), int(fields.get("chunk_bytes", 0)),
            int(fields.get("block_samples", 0)), replay.groups() if replay else None)


def report(n_samples, herald, prom):
    lines = []
    for name, r in (("herald", herald), ("prometheus", prom)):
        r["sps"] = n_samples / r["seconds"]
        r["rss_per_series"] = (r["rss_after_kb"] - r["rss_before_kb"]) * 1024.0 / SERIES
        r["disk_per_sample"] = r["disk"] / float(n_samples)
        lines.append("%-10s %10.0f samples/s  %8.0f B RSS/series (%d -> %d MB)  %6.2f B/sample "
                     "on disk  errors=%d%s" % (
                         name, r["sps"], r["rss_per_series"], r["rss_before_kb"] // 1024,
                         r["rss_after_kb"] // 1024, r["disk_per_sample"], len(r["errors"]),
                         (" first: " + r["errors"][0]) if r["errors"] else ""))
    bb, cb, bs, replay = herald["blocks"]
    if replay:
        lines.append("herald WAL replay (offline, tsdb_dump): %s samples in %s ms = %.0f "
                     "samples/s" % (replay[0], replay[1],
                                    int(replay[0]) * 1000.0 / max(1, int(replay[1]))))
    if bs > 0:
        lines.append("herald blocks (head cut offline into 5m blocks, 20 samples per chunk): "
                     "XOR chunks %.2f B/sample; whole files %.2f B/sample (index of %d series "
                     "included, %d samples)" % (cb / float(bs), bb / float(bs), SERIES, bs))
    lines.append("ratios herald/prometheus: samples/s %.2fx (goal >= 2), RSS per series %.2fx "
                 "(goal <= 0.5), disk bytes per sample %.2fx" % (
                     herald["sps"] / prom["sps"],
                     herald["rss_per_series"] / prom["rss_per_series"]
                     if prom["rss_per_series"] > 0 else float("nan"),
                     herald["disk_per_sample"] / prom["disk_per_sample"]))
    for line in lines:
        print(line)
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "bench-results.txt"), "a") as f:
        f.write("bench_ingest %s series=%d steps=%d threads=%d wal_compression=%s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), SERIES, STEPS, THREADS,
            WAL_COMPRESSION))
        for line in lines:
            f.write("  " + line + "\n")


if __name__ == "__main__":
    sys.exit(main())
