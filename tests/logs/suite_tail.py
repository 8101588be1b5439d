#!/usr/bin/env python3
"""Live tail suite: a real bin/herald-logd, lines pushed through POST /loki/api/v1/push and read
back over GET /loki/api/v1/tail with a small WebSocket client written here (RFC 6455 framing,
client-side masking; standard library only). Covers: exactly the matching lines arrive (selector
+ pipeline), the initial look-back (`start`, `limit`), delay_for, tenant isolation, the plain
400s before the upgrade, Close 1011 after it (metric query, too many tails), pings every
second, the client's Close 1000, dropped_entries over a tail's bound, the legacy
/api/prom/tail frame shape, the categorize-labels encoding flag (structured metadata and parsed
labels apart from the stream labels) and the querier's tail limits as config keys."""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Daemon, Runner, check, check_eq, check_in, wait_until  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
run = Runner()


# ---- a minimal WebSocket client -------------------------------------------------------------
class WS:
    """One WebSocket connection (or the HTTP answer that refused it: .status / .body)."""

    def __init__(self, port, path, tenant=None, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.pings = []        # monotonic arrival times of server pings
        self.close_code = None
        self.close_reason = None
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if tenant is not None:
            lines.append("X-Scope-OrgID: " + tenant)
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_head()
        self.status = int(head.split(b" ", 2)[1])
        self.headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = b""
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            check_eq(self.headers.get("sec-websocket-accept"), want, "Sec-WebSocket-Accept")
        else:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            self.body, self.buf = self.buf[:n], self.buf[n:]

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + body)

    def close(self, code=1000):
        self.send(0x8, struct.pack("!H", code))

    def frame(self, timeout):
        """(opcode, payload) of the next server frame, or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if len(self.buf) >= 2:
                    b0, b1 = self.buf[0], self.buf[1]
                    check(b1 & 0x80 == 0, "server frames are not masked")
                    n, off = b1 & 0x7f, 2
                    if n == 126 and len(self.buf) >= 4:
                        n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                    elif n == 127 and len(self.buf) >= 10:
                        n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
                    if n < 126 or off > 2:
                        if len(self.buf) >= off + n:
                            payload = self.buf[off:off + n]
                            self.buf = self.buf[off + n:]
                            check(b0 & 0x80, "server frames are not fragmented")
                            return b0 & 0x0f, payload
                self._fill()
        except socket.timeout:
            return None

    def message(self, timeout=5.0):
        """The next text message as JSON, answering pings; None on timeout or Close."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            f = self.frame(left)
            if f is None:
                return None
            op, payload = f
            if op == 0x9:
                self.pings.append(time.monotonic())
                self.send(0xa, payload)
            elif op == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                self.close_reason = payload[2:].decode()
                return None
            elif op == 0x1:
                return json.loads(payload)

    def entries(self, want, timeout=5.0):
        """Collects (labels, ts, line) from v1 frames until `want` entries or the timeout."""
        got, drops = [], []
        deadline = time.monotonic() + timeout
        while len(got) < want:
            m = self.message(max(0.0, deadline - time.monotonic()))
            if m is None:
                break
            for s in m["streams"]:
                for v in s["values"]:
                    got.append((s["stream"], v[0], v[1]))
            drops += m.get("dropped_entries", [])
        return got, drops

    def shut(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- helpers --------------------------------------------------------------------------------
def logd():
    return Daemon("herald-logd").start()


def now_ns():
    return time.time_ns()


def push(d, tenant, streams):
    """streams: [(labels dict, [(ts_ns, line[, structured metadata dict]), ...])]; expects 204."""
    body = {"streams": [{"stream": ls, "values": [[str(v[0])] + list(v[1:]) for v in vals]}
                        for ls, vals in streams]}
    r = d.post("/loki/api/v1/push", body, headers={"X-Scope-OrgID": tenant})
    check_eq(r.status, 204, "push status (%s)" % r.text)


def tail_path(query, **params):
    params["query"] = query
    return "/loki/api/v1/tail?" + urllib.parse.urlencode(params)


def rfc3339nano(ns):
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction trimmed."""
    secs, frac = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += ("." + "%09d" % frac).rstrip("0")
    return text + "Z"


def lines_of(entries):
    return [e[2] for e in entries]


# ---- tests ----------------------------------------------------------------------------------
@run.test
def tail_receives_exactly_the_matching_lines():
    d = logd()
    ws = WS(d.port, tail_path('{app="api"} |= "error"', start=now_ns()), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t = now_ns()
    push(d, "t1", [({"app": "api"}, [(t, "error one"), (t + 1, "info two"),
                                     (t + 2, "error three")]),
                   ({"app": "web"}, [(t + 3, "error from web")])])
    got, drops = ws.entries(2)
    check_eq(lines_of(got), ["error one", "error three"], "lines")
    check_eq([e[1] for e in got], [str(t), str(t + 2)], "timestamps (strings of ns)")
    check_eq(got[0][0].get("app"), "api", "stream labels")
    check_eq(drops, [], "nothing dropped")
    extra = ws.message(1.0)  # and nothing else arrives
    check(extra is None, "unexpected frame %r" % (extra,))
    ws.shut()


@run.test
def pipeline_stages_apply_to_tailed_lines():
    d = logd()
    q = '{app="api"} | logfmt | level="error" | line_format "{{.msg}}"'
    ws = WS(d.port, tail_path(q, start=now_ns()), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t = now_ns()
    push(d, "t1", [({"app": "api"}, [(t, "level=info msg=fine"), (t + 1, "level=error msg=boom"),
                                     (t + 2, "level=error msg=again")])])
    got, _ = ws.entries(2)
    check_eq(lines_of(got), ["boom", "again"], "formatted lines")
    check_eq(got[0][0].get("level"), "error", "parsed label in the stream")
    ws.shut()

    # the deprecated `regexp` parameter adds a |~ line filter
    ws = WS(d.port, tail_path('{app="api"}', start=now_ns(), regexp="b.om|ag"), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t = now_ns()
    push(d, "t1", [({"app": "api"}, [(t, "boom"), (t + 1, "calm"), (t + 2, "again")])])
    got, _ = ws.entries(2)
    check_eq(lines_of(got), ["boom", "again"], "regexp filter")
    ws.shut()


@run.test
def initial_lookback_sends_the_newest_limit_entries_oldest_first():
    d = logd()
    t = now_ns() - 60 * 10**9
    push(d, "t1", [({"app": "api"}, [(t + i, "old %d" % i) for i in range(5)])])
    ws = WS(d.port, tail_path('{app="api"}', limit=3), tenant="t1")  # start: 1h ago
    check_eq(ws.status, 101, "upgrade")
    got, _ = ws.entries(3)
    check_eq(lines_of(got), ["old 2", "old 3", "old 4"], "look-back")
    t2 = now_ns()
    push(d, "t1", [({"app": "api"}, [(t2, "live")])])
    got, _ = ws.entries(1)
    check_eq(lines_of(got), ["live"], "then live entries")
    ws.shut()

    ws = WS(d.port, tail_path('{app="api"}', start=t + 3), tenant="t1")  # start bounds it
    got, _ = ws.entries(10, timeout=1.5)
    check_eq(lines_of(got), ["old 3", "old 4", "live"], "look-back from start")
    ws.shut()


@run.test
def tenants_are_isolated():
    d = logd()
    ws = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="team-a")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    push(d, "team-b", [({"app": "api"}, [(now_ns(), "b's line")])])
    check(ws.message(1.5) is None, "team-a must not see team-b's push")
    push(d, "team-a", [({"app": "api"}, [(now_ns(), "a's line")])])
    got, _ = ws.entries(1)
    check_eq(lines_of(got), ["a's line"], "team-a's own line")
    ws.shut()


@run.test
def parameter_and_tenant_errors_are_plain_400s_before_the_upgrade():
    d = logd()
    cases = [
        (tail_path('{app="api"'), "parse error"),
        (tail_path('{app="api"}', limit=0), "limit must be a positive value"),
        (tail_path('{app="api"}', limit="x"), 'strconv.Atoi: parsing "x": invalid syntax'),
        (tail_path('{app="api"}', delay_for=6), "delay_for can't be greater than 5"),
        (tail_path('{app="api"}', delay_for="soon"), "strconv.Atoi: parsing \"soon\""),
        (tail_path('{app="api"}', start="yesterday"), "could not parse 'start' parameter"),
    ]
    for path, text in cases:
        ws = WS(d.port, path, tenant="t1")
        check_eq(ws.status, 400, "status for %s" % path)
        check_in(text, ws.body.decode(), "body for %s" % path)
        check_in("text/plain", ws.headers.get("content-type", ""), "content type")
        ws.shut()
    ws = WS(d.port, tail_path('{app="api"}'))  # no X-Scope-OrgID
    check_eq(ws.status, 401, "no tenant")
    check_in("no org id", ws.body.decode(), "401 body")
    ws.shut()
    r = d.get(tail_path('{app="api"}'), headers={"X-Scope-OrgID": "t1"})  # not a WebSocket
    check_eq(r.status, 400, "plain GET")
    check_in("websocket: the client is not using the websocket protocol", r.text, "body")


@run.test
def metric_query_and_too_many_tails_close_with_1011():
    d = logd()
    ws = WS(d.port, tail_path('count_over_time({app="api"}[1m])'), tenant="t1")
    check_eq(ws.status, 101, "metric query upgrades first, as Loki")
    check(ws.message(3.0) is None, "no data")
    check_eq(ws.close_code, 1011, "close code")
    check_eq(ws.close_reason, "only log selector is supported", "close reason")
    ws.shut()

    open_ = [WS(d.port, tail_path('{app="api"}'), tenant="busy") for _ in range(10)]
    for w in open_:
        check_eq(w.status, 101, "within the limit")
    extra = WS(d.port, tail_path('{app="api"}'), tenant="busy")
    check(extra.message(3.0) is None, "no data")
    check_eq(extra.close_code, 1011, "11th tail")
    check_eq(extra.close_reason,
             "max concurrent tail requests limit exceeded, count > limit (11 > 10)", "reason")
    extra.shut()
    other = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="calm")
    time.sleep(0.2)
    push(d, "calm", [({"app": "api"}, [(now_ns(), "per tenant")])])
    check_eq(lines_of(other.entries(1)[0]), ["per tenant"], "another tenant is not limited")
    other.shut()
    open_[0].close()
    check(open_[0].message(3.0) is None and open_[0].close_code == 1000, "closed")
    open_[0].shut()

    def slot_freed():
        w = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="busy")
        ok = w.message(1.2) is None and w.close_code is None
        w.shut()
        return ok
    wait_until(slot_freed, timeout=6, what="the closed tail's slot to be released")
    for w in open_[1:]:
        w.shut()


@run.test
def server_pings_every_second_and_client_close_1000_ends_it():
    d = logd()
    ws = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    t0 = time.monotonic()
    ws.message(3.3)
    check(len(ws.pings) >= 2, "at least 2 pings in 3.3s, got %d" % len(ws.pings))
    check(ws.pings[0] - t0 < 1.6, "first ping within ~1s")
    ws.close(1000)
    check(ws.message(3.0) is None, "no data after Close")
    check_eq(ws.close_code, 1000, "the server answers the Close with 1000")
    ws.sock.settimeout(3)
    check_eq(ws.sock.recv(1), b"", "then closes the TCP connection")
    ws.shut()
    push(d, "t1", [({"app": "api"}, [(now_ns(), "after close")])])  # pushes are unaffected


@run.test
def delay_for_holds_entries_back():
    d = logd()
    ws = WS(d.port, tail_path('{app="api"}', start=now_ns(), delay_for=2), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t0 = time.monotonic()
    push(d, "t1", [({"app": "api"}, [(now_ns(), "delayed")])])
    got, _ = ws.entries(1, timeout=5)
    check_eq(lines_of(got), ["delayed"], "delivered")
    waited = time.monotonic() - t0
    check(waited >= 1.8, "delivered after %.2fs, before delay_for=2" % waited)
    ws.shut()


@run.test
def entries_over_the_bound_are_reported_as_dropped():
    d = logd()
    ws = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t = now_ns()
    push(d, "t1", [({"app": "api"}, [(t + i, "bulk %d" % i) for i in range(6000)])])
    got, drops = ws.entries(5000, timeout=8)
    check_eq(len(got), 5000, "a tail holds 5000 entries")
    more, more_drops = ws.entries(1, timeout=0.7)
    check_eq((more, more_drops), ([], []), "and nothing beyond them")
    check_eq(len(drops), 1000, "the 1000 others are listed as dropped")
    check_eq(lines_of(got)[:2], ["bulk 0", "bulk 1"], "oldest first")
    check_eq(drops[0]["labels"].get("app"), "api", "dropped entry labels")
    check_eq(drops[0]["timestamp"], str(t + 5000), "dropped entry timestamp")
    push(d, "t1", [({"app": "api"}, [(now_ns(), "after the burst")])])
    got, drops = ws.entries(1)
    check_eq(lines_of(got), ["after the burst"], "the tail goes on")
    ws.shut()


@run.test
def legacy_path_uses_the_legacy_frame_shape():
    d = logd()
    ws = WS(d.port, "/api/prom/tail?" + urllib.parse.urlencode(
        {"query": '{app="api"}', "start": now_ns()}), tenant="t1")
    check_eq(ws.status, 101, "upgrade")
    time.sleep(0.2)
    t = now_ns() // 10**6 * 10**6 + 500000  # a fraction with trailing zeros to trim
    push(d, "t1", [({"app": "api"}, [(t, "legacy line")])])
    m = ws.message(5)
    check(m is not None, "a frame")
    check_eq(sorted(m), ["dropped_entries", "streams"], "keys")
    check_eq(m["dropped_entries"], None, "dropped_entries is null")
    s = m["streams"][0]
    check_in('app="api"', s["labels"], "labels as a string")
    check_eq(s["entries"], [{"ts": rfc3339nano(t), "line": "legacy line"}], "entries")
    ws.shut()


CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def values_of(ws, want, timeout=5.0):
    """(frames, [(stream, value)]) from v1 frames until `want` values or the timeout."""
    frames, got = [], []
    deadline = time.monotonic() + timeout
    while len(got) < want:
        m = ws.message(max(0.0, deadline - time.monotonic()))
        if m is None:
            break
        frames.append(m)
        got += [(s["stream"], v) for s in m["streams"] for v in s["values"]]
    return frames, got


@run.test
def categorize_labels_puts_metadata_and_parsed_labels_in_a_third_element():
    d = logd()
    own = {"app": "api", "service_name": "api"}  # service_name: added at ingestion
    t = now_ns() - 30 * 10**9
    push(d, "t1", [({"app": "api"}, [(t, "level=info msg=old", {"trace_id": "t0"})])])
    ws = WS(d.port, tail_path('{app="api"} | logfmt'), tenant="t1", headers=CATEGORIZE)
    check_eq(ws.status, 101, "upgrade")
    frames, got = values_of(ws, 1)
    check_eq(got, [(own, [str(t), "level=info msg=old",
                          {"structuredMetadata": {"trace_id": "t0"},
                           "parsed": {"level": "info", "msg": "old"}}])],
             "look-back entry, categorized")
    check_eq(list(frames[0]), ["streams", "encodingFlags"], "frame keys, in Loki's order")
    check_eq(frames[0]["encodingFlags"], ["categorize-labels"], "flag echoed")

    t = now_ns()
    push(d, "t1", [({"app": "api"}, [(t, "level=error msg=boom", {"trace_id": "t1"}),
                                     (t + 1, "level=warn", {"trace_id": "t2", "user": "u"}),
                                     (t + 2, "plain")])])
    frames, got = values_of(ws, 3)
    check_eq(got, [(own, [str(t), "level=error msg=boom",
                          {"structuredMetadata": {"trace_id": "t1"},
                           "parsed": {"level": "error", "msg": "boom"}}]),
                   (own, [str(t + 1), "level=warn",
                          {"structuredMetadata": {"trace_id": "t2", "user": "u"},
                           "parsed": {"level": "warn"}}]),
                   (own, [str(t + 2), "plain", {}])],
             "live entries: stream labels only, an empty third element when nothing is apart")
    check(all(f.get("encodingFlags") == ["categorize-labels"] for f in frames),
          "every frame carries the flag")
    ws.shut()

    # without the flag: everything in the stream labels, two-element values, no flag
    ws = WS(d.port, tail_path('{app="api"} | logfmt | level="warn"'), tenant="t1")
    frames, got = values_of(ws, 1)
    check_eq(got, [(dict(own, trace_id="t2", user="u", level="warn"), [str(t + 1), "level=warn"])],
             "labels merged, no third element")
    check("encodingFlags" not in frames[0], "no flag without the header")
    ws.shut()

    # the legacy route keeps its frame shape (no flag, no third element), labels categorized
    ws = WS(d.port, "/api/prom/tail?" + urllib.parse.urlencode(
        {"query": '{app="api"} |= "warn"'}), tenant="t1", headers=CATEGORIZE)
    m = ws.message(5)
    check(m is not None, "a legacy frame")
    check_eq(sorted(m), ["dropped_entries", "streams"], "legacy keys")
    check_eq(m["streams"], [{"labels": '{app="api", service_name="api"}',
                             "entries": [{"ts": rfc3339nano(t + 1), "line": "level=warn"}]}],
             "legacy stream")
    ws.shut()


@run.test
def tail_limits_come_from_the_querier_config():
    d = Daemon("herald-logd", config="querier:\n  max_concurrent_tail_requests: 2\n"
                                     "  tail_max_duration: 2s\n").start()
    first = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="t1")
    second = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="t1")
    t0 = time.monotonic()
    third = WS(d.port, tail_path('{app="api"}', start=now_ns()), tenant="t1")
    check(third.message(3.0) is None, "no data")
    check_eq(third.close_code, 1011, "third tail")
    check_eq(third.close_reason,
             "max concurrent tail requests limit exceeded, count > limit (3 > 2)", "reason")
    third.shut()
    for w in (first, second):
        check(w.message(4.0) is None, "no data before the end")
        check_eq((w.close_code, w.close_reason), (1011, "reached tail max duration limit"),
                 "tail_max_duration ends the tail")
        w.shut()
    took = time.monotonic() - t0
    check(1.5 <= took <= 4.0, "ended after %.2fs with tail_max_duration: 2s" % took)


if __name__ == "__main__":
    run.main()
