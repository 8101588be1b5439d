"""Helpers of the log suites (standard library only): a herald-logd with the log store,
Loki push bodies (JSON, and protobuf wrapped in snappy's block format written with literal
chunks only, which every snappy decoder accepts), and reading a stopped store back with
build/tools/logstore_tool."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ROOT, Daemon  # noqa: E402

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
TOOL = os.path.join(BUILD, "tools", "logstore_tool")


def logd_has_logstore():
    """True when bin/herald-logd lists the logstore module (else the tool serves it)."""
    with open(os.path.join(ROOT, "cmd", "herald-logd", "main.c")) as f:
        return "logstore_module_init" in f.read()


class Logd(Daemon):
    """herald-logd with the log store and push routes; data under <tmp>/data/loki."""

    def __init__(self, config=None, args=()):
        Daemon.__init__(self, "herald-logd", config=config, args=args)
        self.data = os.path.join(self.tmp, "data", "loki")

    def command(self):
        cmd = Daemon.command(self)
        if not logd_has_logstore():
            cmd = [TOOL, "serve"] + cmd[1:]
        return cmd


def now_ns():
    return time.time_ns()


def json_body(streams):
    """streams: [(labels dict, [(ts_ns, line[, md dict])...])...] -> Loki JSON v1 bytes."""
    out = []
    for labels, values in streams:
        vals = []
        for v in values:
            row = [str(v[0]), v[1]]
            if len(v) > 2:
                row.append(v[2])
            vals.append(row)
        out.append({"stream": labels, "values": vals})
    return json.dumps({"streams": out}).encode()


# ---- protobuf + snappy ----------------------------------------------------------------------
def _varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _s(num, text):
    return _field(num, 2, text.encode() if isinstance(text, str) else text)


def proto_push(streams):
    """streams: [(selector text, [(ts_ns, line[, md dict])...])...] -> PushRequest bytes."""
    req = b""
    for labels, values in streams:
        st = _s(1, labels)
        for v in values:
            ts = _field(1, 0, _varint(v[0] // 10**9)) + _field(2, 0, _varint(v[0] % 10**9))
            e = _field(1, 2, ts) + _s(2, v[1])
            for k, val in (v[2] if len(v) > 2 else {}).items():
                e += _field(3, 2, _s(1, k) + _s(2, val))
            st += _field(2, 2, e)
        req += _field(1, 2, st)
    return req


def snappy_literal(data):
    """Snappy block format using literal elements only (a valid, uncompressed encoding)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2, n & 0xFF, n >> 8])
        out += chunk
    return bytes(out)


# ---- reading back ---------------------------------------------------------------------------
def dump(data_dir, tenant, selector="{}"):
    """Entries of a stopped store: list of dicts {stream, ts (int), line, md}."""
    p = subprocess.run([TOOL, "dump", data_dir, tenant, selector], capture_output=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("logstore_tool dump failed: %s" % p.stderr.decode()[-2000:])
    rows = []
    for line in p.stdout.decode().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            r["ts"] = int(r["ts"])
            rows.append(r)
    return rows


def store_stats(data_dir):
    p = subprocess.run([TOOL, "stats", data_dir], capture_output=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("logstore_tool stats failed: %s" % p.stderr.decode())
    return dict(kv.split("=") for kv in p.stdout.decode().split())
