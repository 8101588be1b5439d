#!/usr/bin/env python3
"""Ruler benchmark: RULES alerting rules (500 groups, 15 s interval) over SERIES series of one
tenant, herald-promd vs Debian's Prometheus 2.42, the same rules and the same pushed data,
one run each, sequentially. Each rule selects SERIES/RULES series and about half of them are
above its threshold, so every cycle keeps ~SERIES/2 pending alerts (for: 1h, nothing is sent)
and writes their ALERTS / ALERTS_FOR_STATE series.

Figure: CPU seconds (utime + stime from /proc) per evaluation cycle, measured over CYCLES
cycles after a warm-up, and the herald/Prometheus ratio. Appends to build/bench-results.txt.
Environment: BENCH_RULES (10000), BENCH_SERIES (100000), BENCH_CYCLES (3)."""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("HERALD_BIN") or os.path.join(ROOT, "bin")
BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RULES = int(os.environ.get("BENCH_RULES", "10000"))
SERIES = int(os.environ.get("BENCH_SERIES", "100000"))
CYCLES = int(os.environ.get("BENCH_CYCLES", "3"))
GROUPS = 500
INTERVAL = 15
TENANT = "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_ready(port, path):
    for _ in range(600):
        try:
            if request(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server on %d not ready" % port)


def rule_file(groups):
    per = RULES // GROUPS
    out = ["groups:"]
    for g in groups:
        out += ["    - name: g%d" % g, "      interval: %ds" % INTERVAL, "      rules:"]
        for i in range(per):
            n = g * per + i
            out += ["        - alert: Bench%d" % n,
                    "          expr: bench_metric{rule=\"r%d\"} > 50" % n,
                    "          for: 1h"]
    return "\n".join(out) + "\n"


def write_rules(dir_, files=10):
    per_file = GROUPS // files
    paths = []
    for f in range(files):
        p = os.path.join(dir_, "ns%d" % f)
        with open(p, "w") as fh:
            fh.write(rule_file(range(f * per_file, (f + 1) * per_file)))
        paths.append(p)
    return paths


def push_data(port, path, headers):
    per_rule = max(1, SERIES // RULES)
    now = int(time.time() * 1000)
    lines = []
    for s in range(SERIES):
        rule, inst = s // per_rule, s % per_rule
        v = (s * 37) % 100
        lines.append('bench_metric{rule="r%d", inst="i%d"} %d %d' % (rule, inst, v, now))
    for i in range(0, len(lines), 20000):
        body = subprocess.run([os.path.join(BUILD, "tools", "rw_encode")],
                              input="\n".join(lines[i:i + 20000]).encode(),
                              capture_output=True, check=True).stdout
        st, data = request(port, "POST", path, body, headers)
        if st // 100 != 2:
            raise RuntimeError("push failed: %d %r" % (st, data[:200]))


def measure(pid, label):
    time.sleep(INTERVAL + 5)  # warm-up: every group evaluated at least once
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(INTERVAL * CYCLES)
    c1, t1 = cpu_seconds(pid), time.time()
    per_cycle = (c1 - c0) / ((t1 - t0) / INTERVAL)
    print("%-12s %8.3f CPU s per %ds cycle (%d rules, %d series)" %
          (label, per_cycle, INTERVAL, RULES, SERIES), flush=True)
    return per_cycle


def run_herald(tmp):
    rules_dir = os.path.join(tmp, "rules", TENANT)
    os.makedirs(rules_dir)
    write_rules(rules_dir)
    port = free_port()
    p = subprocess.Popen([os.path.join(BIN, "herald-promd"), "-server.http-listen-address=127.0.0.1",
                          "-server.http-listen-port=%d" % port,
                          "-blocks-storage.tsdb.dir=" + os.path.join(tmp, "tsdb"),
                          "-ruler-storage.filesystem.dir=" + os.path.join(tmp, "rules"),
                          "-ruler.evaluation-delay-duration=0s", "-ruler.alertmanager-url=",
                          "-ruler.max-rule-groups-per-tenant=0"],
                         cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, "/ready")
        push_data(port, "/api/v1/push", {"X-Scope-OrgID": TENANT, "Content-Encoding": "snappy",
                                         "Content-Type": "application/x-protobuf"})
        return measure(p.pid, "herald")
    finally:
        p.terminate()
        p.wait()


def prometheus_config(path, rule_paths):
    with open(path, "w") as f:
        f.write("global:\n  evaluation_interval: %ds\n" % INTERVAL)
        if rule_paths:
            f.write("rule_files:\n" + "".join("  - %s\n" % p for p in rule_paths))


def run_prometheus(tmp):
    """The data is pushed before the rules are loaded (SIGHUP): pushing into a Prometheus
    that already evaluates 10,000 rules on this shared machine timed out."""
    paths = write_rules(tmp)
    cfg = os.path.join(tmp, "prometheus.yml")
    prometheus_config(cfg, [])
    port = free_port()
    p = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                          "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                          "--web.listen-address=127.0.0.1:%d" % port,
                          "--web.enable-remote-write-receiver"],
                         cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, "/-/ready")
        push_data(port, "/api/v1/write", {"Content-Encoding": "snappy",
                                          "Content-Type": "application/x-protobuf"})
        prometheus_config(cfg, paths)
        p.send_signal(signal.SIGHUP)
        return measure(p.pid, "prometheus")
    finally:
        p.terminate()
        p.wait()


def main():
    tmp = tempfile.mkdtemp(prefix="bench-ruler-")
    try:
        os.makedirs(os.path.join(tmp, "h"))
        os.makedirs(os.path.join(tmp, "p"))
        h = run_herald(os.path.join(tmp, "h"))
        p = run_prometheus(os.path.join(tmp, "p")) if shutil.which("prometheus") else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    line = "ruler: herald %.3f CPU s/cycle" % h
    if p:
        line += ", prometheus %.3f, herald uses %.2fx less CPU" % (p, p / h if h > 0 else 0)
    print(line)
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "bench-results.txt"), "a") as f:
        f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
