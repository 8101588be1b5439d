#!/usr/bin/env python3
"""Loki push API of herald-logd (api-reference.md section 3.1): every status and error text,
JSON (v1 and legacy), snappy-protobuf, Content-Encoding handling, validation limits, the rate
and stream limits, auth off, a kill -9 in the middle of concurrent pushes (every
acknowledged entry must be readable after the crash), and real clients (winston-loki over
protobuf, pino-loki over JSON) installed with npm into build/ on the first run. Stored data
is read back from the stopped store with build/tools/logstore_tool. Standard library only."""
import gzip
import os
import shutil
import signal
import subprocess
import threading
import time
import zlib

from logs_util import (BUILD, Logd, dump, json_body, now_ns, proto_push,  # noqa: E402
                       snappy_literal)
from harness import Runner, check, check_eq, check_in  # noqa: E402

run = Runner()
T1 = {"X-Scope-OrgID": "t1"}
JSON = dict(T1, **{"Content-Type": "application/json"})
PROTO = dict(T1, **{"Content-Type": "application/x-protobuf"})


def text(r):
    return r.body.decode("utf-8", "replace").rstrip("\n")


@run.test
def statuses_and_errors():
    d = Logd().start()
    now = now_ns()
    ok = json_body([({"app": "api", "level": "error"}, [(now, "connection refused"),
                                                       (now + 1, "retrying", {"trace": "t1"})])])
    r = d.post("/loki/api/v1/push", ok, {"Content-Type": "application/json"})
    check_eq((r.status, text(r)), (401, "no org id"), "no tenant")
    r = d.post("/loki/api/v1/push", ok, JSON)
    check_eq((r.status, r.body), (204, b""), "json push")
    r = d.post("/loki/api/v1/push", ok, T1)
    check_eq((r.status, text(r)), (400, "mime: no media type"), "missing Content-Type")
    r = d.post("/loki/api/v1/push", ok, dict(JSON, **{"Content-Encoding": "br"}))
    check_eq((r.status, text(r)), (400, 'Content-Encoding "br" not supported'), "encoding")
    gz = json_body([({"app": "gz"}, [(now, "gzipped")])])
    r = d.post("/loki/api/v1/push", gzip.compress(gz), dict(JSON, **{"Content-Encoding": "gzip"}))
    check_eq(r.status, 204, "gzip")
    co = zlib.compressobj(wbits=-15)
    raw = co.compress(json_body([({"app": "df"}, [(now, "deflated")])])) + co.flush()
    r = d.post("/loki/api/v1/push", raw, dict(JSON, **{"Content-Encoding": "deflate"}))
    check_eq(r.status, 204, "deflate")
    pb = snappy_literal(proto_push([('{app="pb", env="prod"}', [(now, "from proto", {"k": "v"})])]))
    r = d.post("/loki/api/v1/push", pb, PROTO)
    check_eq((r.status, r.body), (204, b""), "protobuf")
    r = d.post("/loki/api/v1/push", pb, dict(PROTO, **{"Content-Encoding": "snappy"}))
    check_eq(r.status, 204, "protobuf with Content-Encoding: snappy")
    r = d.post("/loki/api/v1/push", ok, dict(T1, **{"Content-Type": "text/plain"}))
    check_eq((r.status, text(r)), (400, "snappy: corrupt input"), "json sent as protobuf")
    r = d.post("/loki/api/v1/push",
               b'{"streams":[{"stream":{"a":"b"},"values":[[1700000000000000000,"x"]]}]}', JSON)
    check_eq(r.status, 400, "timestamp as a number")
    r = d.post("/loki/api/v1/push", b'{"streams":[]}', JSON)
    check_eq((r.status, text(r)), (422, "error at least one valid stream is required for "
                                         "ingestion"), "no streams")
    legacy = (b'{"streams":[{"labels":"{app=\\"legacy\\"}","entries":[{"ts":"%s","line":"old '
              b'api"}]}]}' % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode())
    r = d.post("/api/prom/push", legacy, JSON)
    check_eq(r.status, 204, "legacy push")
    check_eq(d.post("/loki/api/v1/push", ok, {"X-Scope-OrgID": "a|b",
                                              "Content-Type": "application/json"}).status >= 400,
             True, "several tenants")
    validation_errors(d, now)
    metrics = d.get("/metrics").text
    check_in('loki_distributor_lines_received_total{tenant="t1"}', metrics, "metrics")
    check_in('loki_discarded_samples_total{reason="greater_than_max_sample_age",tenant="t1"}',
             metrics, "discard metrics")
    check_eq(d.stop(), 0, "clean exit")
    rows = dump(d.data, "t1")
    lines = {(r["stream"], r["line"]) for r in rows}
    for want in [('{app="api", level="error", service_name="api"}', "connection refused"),
                 ('{app="api", level="error", service_name="api"}', "retrying"),
                 ('{app="gz", service_name="gz"}', "gzipped"),
                 ('{app="df", service_name="df"}', "deflated"),
                 ('{app="pb", env="prod", service_name="pb"}', "from proto"),
                 ('{app="legacy", service_name="legacy"}', "old api"),
                 ('{app="good", service_name="good"}', "kept")]:
        check(want in lines, "stored %r (have %r)" % (want, sorted(lines)))
    check(not any(r["line"] in ("stale", "too many") for r in rows), "invalid entries stored")
    md = [r["md"] for r in rows if r["line"] == "retrying"]
    check_eq(md, [{"trace": "t1"}], "structured metadata")
    check_eq(len([r for r in rows if r["line"] == "from proto"]), 1, "duplicate push dropped")


def validation_errors(d, now):
    old = now - 8 * 24 * 3600 * 10**9
    r = d.post("/loki/api/v1/push", json_body([({"app": "good"}, [(now, "kept"), (old, "stale")])]),
               JSON)
    check_eq(r.status, 400, "too old")
    check(text(r).startswith("entry for stream '{app=\"good\", service_name=\"good\"}' has "
                             "timestamp too old: "), "too old text: " + text(r))
    r = d.post("/loki/api/v1/push", json_body([({"app": "x"}, [(now + 3600 * 10**9, "future")])]),
               JSON)
    check(r.status == 400 and "has timestamp too new: " in text(r), "too new: " + text(r))
    r = d.post("/loki/api/v1/push", json_body([({"app": "x"}, [(now, "x" * (256 * 1024 + 1))])]),
               JSON)
    check_eq((r.status, text(r)), (400, "Max entry size '262144' bytes exceeded for stream "
                                        "'{app=\"x\", service_name=\"x\"}' while adding an entry "
                                        "with length '262145' bytes"), "line too long")
    many = {"l%02d" % i: "v" for i in range(16)}
    r = d.post("/loki/api/v1/push", json_body([(many, [(now, "too many")])]), JSON)
    check(r.status == 400 and "has 16 label names; limit 15" in text(r), "labels: " + text(r))
    pb = snappy_literal(proto_push([("{app=}", [(now, "x")])]))
    r = d.post("/loki/api/v1/push", pb, PROTO)
    check(r.status == 400 and text(r).startswith("Error parsing labels '{app=}' with error: "),
          "bad selector: " + text(r))


@run.test
def rate_and_stream_limits():
    cfg = ("limits_config:\n  ingestion_rate_mb: 0.0001\n  ingestion_burst_size_mb: 0.0001\n"
           "  max_global_streams_per_user: 2\n")
    d = Logd(config=cfg).start()
    now = now_ns()
    r = d.post("/loki/api/v1/push", json_body([({"app": "a"}, [(now, "x" * 200)])]), JSON)
    check_eq(r.status, 429, "over the burst")
    check(text(r).startswith("Ingestion rate limit exceeded for user t1 (limit: 104 bytes/sec) "
                             "while attempting to ingest '1' lines totaling '200' bytes"),
          "rate text: " + text(r))
    for app in ("a", "b"):
        r = d.post("/loki/api/v1/push", json_body([({"app": app}, [(now, "y")])]), JSON)
        check_eq(r.status, 204, "stream " + app)
    r = d.post("/loki/api/v1/push", json_body([({"app": "c"}, [(now, "z")])]), JSON)
    check_eq(r.status, 429, "third stream")
    check_in("Maximum active stream limit exceeded when trying to create stream {app=\"c\", "
             "service_name=\"c\"}", text(r), "stream limit text")


@run.test
def auth_disabled_and_no_structured_metadata():
    d = Logd(config="auth_enabled: false\nlimits_config:\n  allow_structured_metadata: false\n"
             ).start()
    now = now_ns()
    r = d.post("/loki/api/v1/push", json_body([({"app": "a"}, [(now, "plain")])]),
               {"Content-Type": "application/json"})
    check_eq(r.status, 204, "no tenant needed")
    r = d.post("/loki/api/v1/push", json_body([({"app": "a"}, [(now, "md", {"k": "v"})])]),
               {"Content-Type": "application/json"})
    check(r.status == 400 and "structured metadata, but this feature is disallowed" in text(r),
          "disallowed metadata: " + text(r))
    d.stop()
    check_eq([r["line"] for r in dump(d.data, "fake")], ["plain"], "stored as tenant fake")


@run.test
def per_tenant_overrides_and_reload():
    d = Logd(config="runtime_config:\n  file: overrides.yaml\n")
    over = os.path.join(d.tmp, "overrides.yaml")
    with open(over, "w") as f:
        f.write("overrides:\n  small:\n    max_line_size: 10B\n")
    d.start()
    body = json_body([({"app": "a"}, [(now_ns(), "x" * 20)])])
    r = d.post("/loki/api/v1/push", body, dict(JSON, **{"X-Scope-OrgID": "small"}))
    check(r.status == 400 and "Max entry size '10' bytes exceeded" in text(r), text(r))
    check_eq(d.post("/loki/api/v1/push", body, JSON).status, 204, "other tenant")
    with open(over, "w") as f:
        f.write("overrides:\n  small:\n    max_line_size: 100B\n")
    d.signal(signal.SIGHUP)
    d.wait_log("reload", timeout=10)
    r = d.post("/loki/api/v1/push", body, dict(JSON, **{"X-Scope-OrgID": "small"}))
    check_eq(r.status, 204, "after SIGHUP: " + text(r))


@run.test
def kill9_keeps_every_acknowledged_entry():
    d = Logd().start()
    acked, lock, stop = [], threading.Lock(), threading.Event()
    base = now_ns()

    def pusher(w):
        i = 0
        while not stop.is_set():
            vals = [(base + w * 10**9 + i * 100 + k, "w%d-b%d-e%d" % (w, i, k)) for k in range(20)]
            use_proto = i % 2 == 1
            try:
                if use_proto:
                    body = snappy_literal(proto_push([('{worker="%d"}' % w, vals)]))
                    r = d.post("/loki/api/v1/push", body, PROTO, timeout=5)
                else:
                    r = d.post("/loki/api/v1/push", json_body([({"worker": str(w)}, vals)]),
                               JSON, timeout=5)
            except OSError:
                return  # the daemon died mid-request: not acknowledged
            if r.status == 204:
                with lock:
                    acked.extend(v[1] for v in vals)
            i += 1

    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    check(len(acked) > 200, "enough pushes acknowledged (%d)" % len(acked))
    print("     NOTE %d entries acknowledged before the kill" % len(acked))
    stored = {r["line"] for r in dump(d.data, "t1")}
    missing = [a for a in acked if a not in stored]
    check_eq(missing[:5], [], "acknowledged entries missing after kill -9 (%d of %d)" %
             (len(missing), len(acked)))
    # the daemon restarts on the same data (WAL replay) and keeps it after a clean stop
    d2 = Logd(args=["-common.path-prefix=" + d.data]).start()
    check_eq(d2.stop(), 0, "restart and clean stop")
    rows = dump(d.data, "t1")
    check(len(rows) >= len(acked), "entries after restart: %d < %d" % (len(rows), len(acked)))
    check_eq(len(rows), len({(r["stream"], r["ts"], r["line"]) for r in rows}), "no duplicates")


NODE_SCRIPT = r"""
const winston = require('winston');
const LokiTransport = require('winston-loki');
const pino = require('pino');
const [host, n] = [process.argv[2], parseInt(process.argv[3])];
const headers = {'X-Scope-OrgID': 't1'};
async function viaWinston() {
  let errors = 0;
  const t = new LokiTransport({host, headers, labels: {app: 'winston'}, json: false,
                               batching: true, interval: 0.2,
                               onConnectionError: (e) => { errors++; console.error(e); }});
  const log = winston.createLogger({transports: [t]});
  for (let i = 0; i < n; i++) log.info('winston line ' + i, {labels: {lvl: 'info'}});
  await new Promise((r) => setTimeout(r, 1500));
  await t.flush();
  t.close && t.close();
  if (errors) throw new Error('winston-loki errors: ' + errors);
}
async function viaPino() {
  const transport = pino.transport({target: 'pino-loki', options: {
      host, headers, labels: {app: 'pino'}, batching: false, silenceErrors: false}});
  const log = pino(transport);
  for (let i = 0; i < n; i++) log.info('pino line ' + i);
  await new Promise((r) => setTimeout(r, 1500));
  await new Promise((r) => transport.end(r));
}
viaWinston().then(viaPino).then(() => process.exit(0),
                                (e) => { console.error(e); process.exit(1); });
"""


def npm_dir():
    """build/npm-logs with winston, winston-loki, pino, pino-loki (installed once)."""
    d = os.path.join(BUILD, "npm-logs")
    mods = ("winston", "winston-loki", "pino", "pino-loki")
    if all(os.path.isdir(os.path.join(d, "node_modules", m)) for m in mods):
        return d
    os.makedirs(d, exist_ok=True)
    npm = shutil.which("npm")
    check(npm is not None, "npm is not installed")
    p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", d] + list(mods),
                       capture_output=True, timeout=600)
    check(p.returncode == 0, "npm install failed: %s" % p.stderr.decode()[-2000:])
    return d


@run.test
def real_clients_winston_and_pino():
    d_npm = npm_dir()
    script = os.path.join(d_npm, "push_clients.js")
    with open(script, "w") as f:
        f.write(NODE_SCRIPT)
    d = Logd().start()
    p = subprocess.run(["node", script, "http://127.0.0.1:%d" % d.port, "25"], cwd=d_npm,
                       capture_output=True, timeout=120)
    check(p.returncode == 0, "node clients failed: %s" % p.stderr.decode()[-2000:])
    check_eq(d.stop(), 0, "clean exit")
    rows = dump(d.data, "t1")
    winston = sorted(r["line"] for r in rows if '{app="winston"' in r["stream"])
    pino = [r for r in rows if '{app="pino"' in r["stream"]]
    check_eq(len(winston), 25, "winston-loki entries (protobuf)")
    check(all("winston line" in w for w in winston), "winston lines: %r" % winston[:3])
    check_eq(len(pino), 25, "pino-loki entries (JSON)")
    check_in("pino line", pino[0]["line"], "pino line")


run.main()
