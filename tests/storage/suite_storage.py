#!/usr/bin/env python3
"""Storage integration suite: a real bin/herald-promd fed remote-write bodies built by
build/tools/rw_encode (protobuf-c + snappy), checked through the HTTP APIs, plus kill -9
recovery (checked with build/tools/tsdb_dump) and malformed bodies. Standard library only."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ROOT, Daemon, Runner, check, check_eq, check_in, wait_until  # noqa: E402

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RW_ENCODE = os.path.join(BUILD, "tools", "rw_encode")
TSDB_DUMP = os.path.join(BUILD, "tools", "tsdb_dump")

run = Runner()


def encode(lines):
    """Remote-write body (snappy protobuf) from `metric{labels} value ts_ms` lines."""
    p = subprocess.run([RW_ENCODE], input="\n".join(lines).encode(), capture_output=True,
                       check=True)
    return p.stdout


def now_ms():
    return int(time.time() * 1000)


def push(d, tenant, body, extra=None, timeout=10.0):
    h = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
         "X-Prometheus-Remote-Write-Version": "0.1.0"}
    if tenant is not None:
        h["X-Scope-OrgID"] = tenant
    h.update(extra or {})
    return d.post("/api/v1/push", body, h, timeout=timeout)


def api(d, tenant, path, **params):
    q = urllib.parse.urlencode([(k, x) for k, v in params.items()
                                for x in (v if isinstance(v, list) else [v])])
    r = d.get("/prometheus/api/v1/" + path + ("?" + q if q else ""), {"X-Scope-OrgID": tenant})
    return r


def data(r):
    check_eq(r.status, 200, "status of %r" % r)
    j = r.json()
    check_eq(j["status"], "success", "envelope")
    return j["data"]


def promd(extra_args=()):
    return Daemon("herald-promd", args=["-blocks-storage.tsdb.dir=tsdb"] + list(extra_args))


@run.test
def push_then_series_labels_values():
    d = promd().start()
    t = now_ms()
    body = encode(['up{job="api",instance="a:1"} 1 %d' % t,
                   'up{job="db",instance="b:2"} 0 %d' % t,
                   'http_requests_total{job="api",code="200"} 10 %d' % t,
                   'http_requests_total{job="api",code="500"} 2 %d' % t])
    r = push(d, "team-a", body)
    check_eq(r.status, 200, "push status")
    check_eq(r.body, b"", "push body")
    got = data(api(d, "team-a", "series", **{"match[]": "up"}))
    check_eq(got, [{"__name__": "up", "instance": "a:1", "job": "api"},
                   {"__name__": "up", "instance": "b:2", "job": "db"}], "series")
    got = data(api(d, "team-a", "series", **{"match[]": ['up{job="db"}', '{code="500"}']}))
    check_eq([s["__name__"] for s in got], ["http_requests_total", "up"], "two match[]")
    check_eq(data(api(d, "team-a", "labels")), ["__name__", "code", "instance", "job"], "labels")
    check_eq(data(api(d, "team-a", "labels", **{"match[]": "up"})), ["__name__", "instance", "job"],
             "labels with match[]")
    check_eq(data(api(d, "team-a", "label/__name__/values")), ["http_requests_total", "up"],
             "names")
    check_eq(data(api(d, "team-a", "label/code/values", **{"match[]": '{code=~"5.."}'})), ["500"],
             "values with match[]")
    # time window before the data: nothing
    check_eq(data(api(d, "team-a", "series", **{"match[]": "up", "start": "1000", "end": "2000"})),
             [], "window")
    # POST form, as Grafana sends it
    r = d.post("/prometheus/api/v1/series", "match[]=up&match[]=http_requests_total",
               {"X-Scope-OrgID": "team-a", "Content-Type": "application/x-www-form-urlencoded"})
    check_eq(len(data(r)), 4, "POST series")
    # errors as Prometheus words them
    r = api(d, "team-a", "series")
    check_eq(r.status, 400, "no match[]")
    check_eq(r.json()["error"], "no match[] parameter provided", "no match[] message")
    r = api(d, "team-a", "series", **{"match[]": "up", "start": "yesterday"})
    check_eq(r.status, 400, "bad start")
    check_in('invalid parameter "start"', r.json()["error"], "bad start message")
    r = api(d, "team-a", "label/bad-name/values")
    check_eq(r.status, 400, "bad label name")
    check_eq(r.json()["error"], 'invalid label name: "bad-name"', "bad label name message")


@run.test
def tenants_are_isolated():
    d = promd().start()
    t = now_ms()
    check_eq(push(d, "a", encode(['only_a{x="1"} 1 %d' % t])).status, 200, "push a")
    check_eq(push(d, "b", encode(['only_b{x="2"} 1 %d' % t])).status, 200, "push b")
    check_eq(data(api(d, "a", "label/__name__/values")), ["only_a"], "a names")
    check_eq(data(api(d, "b", "label/__name__/values")), ["only_b"], "b names")
    check_eq(data(api(d, "a", "series", **{"match[]": "only_b"})), [], "a cannot see b")
    check_eq(data(api(d, "c", "labels")), [], "unknown tenant")
    r = push(d, None, encode(['x 1 %d' % t]))
    check_eq(r.status, 401, "no tenant")


def huge_push_status(port, size):
    """Status code for a push of `size` zero bytes, read even if the server stops reading."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /api/v1/push HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: t\r\n"
              b"Content-Encoding: snappy\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"\0" * (1 << 20)
    sent = 0
    try:
        while sent < size:
            sent += s.send(chunk[:min(len(chunk), size - sent)])
    except OSError:
        pass  # answered and closed early
    try:
        line = s.recv(4096).split(b"\r\n", 1)[0].decode()
    except OSError:
        return None
    finally:
        s.close()
    m = re.match(r"HTTP/1\.[01] (\d+)", line)
    return int(m.group(1)) if m else None


@run.test
def malformed_bodies_are_rejected_and_data_survives():
    d = promd().start()
    t = now_ms()
    good = encode(['keep_me{job="x"} 42 %d' % t])
    check_eq(push(d, "t", good).status, 200, "first push")
    r = push(d, "t", good[:-4])
    check_eq(r.status, 400, "truncated snappy")
    check(len(r.text.strip()) > 0, "message for truncated snappy")
    # valid snappy framing (literal-only block) around bytes that are not a protobuf
    garbage = b"\x0a\xff\xff\xff\xff\x0fgarbage!"
    r = push(d, "t", bytes([len(garbage)]) + bytes([(len(garbage) - 1) << 2]) + garbage)
    check_eq(r.status, 400, "garbage protobuf")
    r = push(d, "t", b"")
    check_eq(r.status, 400, "empty body")
    # invalid UTF-8 label value, next to a good series: the good one is stored
    bad = encode(['good_too{job="y"} 1 %d' % t, r'bad_utf8{job="\xff\xfe"} 1 %d' % t])
    r = push(d, "t", bad)
    check_eq(r.status, 400, "invalid utf-8")
    check_in("err-mimir-label-value-invalid", r.text, "utf-8 message")
    # 100 MiB + 1 byte: refused before decoding (the server may answer before reading it all)
    status = huge_push_status(d.port, 100 * 1024 * 1024 + 1)
    check(status in (400, 413), "100 MiB body answered %r" % status)
    v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    r = push(d, "t", good, {"Content-Type": v2})
    check_eq(r.status, 400, "remote write 2.0")
    check_in("io.prometheus.write.v2.Request", r.text, "2.0 message")
    check_eq(d.get("/ready").status, 200, "daemon still up")
    check_eq(data(api(d, "t", "label/__name__/values")), ["good_too", "keep_me"], "data intact")


@run.test
def validation_errors_use_mimir_texts():
    d = promd(["-validation.max-label-names-per-series=3"]).start()
    t = now_ms()
    r = push(d, "t", encode(['m{a="1",b="2",c="3"} 1 %d' % t]))
    check_eq(r.status, 400, "too many labels")
    check_in("received a series whose number of labels exceeds the limit (actual: 4, limit: 3)",
             r.text, "message")
    check_in("err-mimir-max-label-names-per-series", r.text, "id")
    check_eq(push(d, "t", encode(['m{a="1"} 1 %d' % t])).status, 200, "ok")
    r = push(d, "t", encode(['m{a="1"} 1 %d' % (t - 60000)]))
    check_eq(r.status, 400, "out of order")
    check_in("err-mimir-sample-out-of-order", r.text, "ooo id")


def sender(d, n_series, base, stop, acked):
    """Pushes one sample per series per request, timestamps base + k*1000, until stopped;
    appends k to `acked` after each 200."""
    k = 0
    while not stop.is_set():
        lines = ['load{series="%d"} %d %d' % (i, k, base + k * 1000) for i in range(n_series)]
        body = encode(lines)
        try:
            r = push(d, "crash", body)
        except OSError:
            return
        if r.status != 200:
            return
        acked.append(k)
        k += 1


@run.test
def kill_9_loses_no_acknowledged_sample():
    d = promd().start()
    n_series = 200
    base = now_ms() - 3600 * 1000
    stop, acked = threading.Event(), []
    th = threading.Thread(target=sender, args=(d, n_series, base, stop, acked))
    th.start()
    time.sleep(3.0)
    d.proc.send_signal(signal.SIGKILL)  # in the middle of the push stream
    d.proc.wait()
    stop.set()
    th.join()
    check(len(acked) > 10, "only %d pushes acknowledged before the kill" % len(acked))
    last = acked[-1]
    d.start()  # same data dir: replays the WAL
    m = d.wait_log(r'msg="WAL replay done" tenant=crash records=(\d+) series=(\d+) '
                   r'samples=(\d+) duration_ms=(\d+) samples_per_second=([0-9.e+]+)')
    print("NOTE replay: records=%s series=%s samples=%s duration_ms=%s samples/s=%s" % m.groups())
    got = data(api(d, "crash", "series", **{"match[]": "load"}))
    check_eq(len(got), n_series, "series after restart")
    d.stop()
    out = subprocess.run([TSDB_DUMP, os.path.join(d.tmp, "tsdb"), "crash", "load"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    check_eq(out[-1].split()[0], "series=%d" % n_series, "dumped series")
    for line in out[:-1]:
        m = re.match(r'(\{.*\}) (\d+) (-?\d+) (-?\d+) ', line)
        n, mint, maxt = int(m.group(2)), int(m.group(3)), int(m.group(4))
        check_eq(mint, base, "first sample of %s" % m.group(1))
        check(maxt >= base + last * 1000, "%s: last acked k=%d missing (max %d)" %
              (m.group(1), last, (maxt - base) // 1000))
        check_eq(n, (maxt - mint) // 1000 + 1, "no gap in %s" % m.group(1))
    print("NOTE kill -9: %d pushes acknowledged, all %d x %d samples recovered" %
          (len(acked), n_series, last + 1))


@run.test
def runtime_overrides_per_tenant():
    """runtime_config.file: a tenant's overrides apply to its pushes only, are re-read when the
    file changes, and a bad new file keeps the previous overrides."""
    d = promd(["-runtime-config.file=rt.yaml", "-runtime-config.reload-period=200ms"])
    rt = os.path.join(d.tmp, "rt.yaml")

    def write(text):
        with open(rt + ".tmp", "w") as f:
            f.write(text)
        os.rename(rt + ".tmp", rt)

    write("overrides:\n  team-a:\n    max_label_names_per_series: 3\n")
    d.start()
    body = encode(['m{a="1",b="2",c="3"} 1 %d' % now_ms()])  # 4 names with __name__
    r = push(d, "team-a", body)
    check_eq(r.status, 400, "team-a over its own limit: %r" % r.body)
    check_in(b"max-label-names-per-series", r.body, "Mimir's error id")
    check_eq(push(d, "team-b", body).status, 200, "team-b keeps the default limit (30)")
    write("overrides:\n  team-a:\n    max_label_names_per_series: 10\n")
    wait_until(lambda: push(d, "team-a", body).status == 200, timeout=10,
               what="team-a's raised limit to apply")
    write("overrides:\n  team-a:\n    no_such_limit: 1\n")
    time.sleep(1.0)
    check_eq(push(d, "team-a", body).status, 200, "a bad file keeps the previous overrides")
    check_in("runtime config load failed", d.log_tail(), "the bad file is logged")
    d.stop()
    d2 = promd(["-runtime-config.file=" + rt])
    d2.spawn()
    check_eq(d2.wait_exit(), 1, "a bad runtime config at start fails the start, as Mimir")


if __name__ == "__main__":
    run.main()
