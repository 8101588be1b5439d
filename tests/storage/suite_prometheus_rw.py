#!/usr/bin/env python3
"""Differential test against Debian's Prometheus 2.42: Prometheus scrapes itself and herald,
remote-writes everything to herald-promd (multitenancy on, its default) as tenant "team-a", and
after HERALD_RW_SECONDS (default 30; the acceptance run uses 180) herald's series, labels and
label values answers for team-a must equal Prometheus' own for the same window, while tenant
"team-b" must see no series, label names or metric names. Skipped (counted as passed with a
SKIP line) when /usr/bin/prometheus is missing.

The Prometheus config sets `remote_write.headers: {X-Scope-OrgID: team-a}`, which is how a
tenant is chosen against Mimir. Debian's prometheus 2.42+ds accepts that setting but does not
send the header (checked by capturing its requests), so Prometheus remote-writes through a
small reverse proxy started by this test (standard library only): it forwards each POST body
and its headers unchanged (bar per-connection ones such as Connection) to herald's
/api/v1/push, sets `X-Scope-OrgID: team-a`, and relays herald's status, headers and body back. The tenant header path in herald is therefore exercised for
real; what this test does not show is Prometheus itself sending the header. With a Prometheus
that does send it, the proxy only rewrites the header to the same value (the NOTE line counts
how many pushes already carried it)."""
import contextlib
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import (PROMETHEUS, Daemon, Prometheus, Runner, check,  # noqa: E402
                     http_request)

SECONDS = int(os.environ.get("HERALD_RW_SECONDS", "30"))
TENANT = "team-a"
OTHER_TENANT = "team-b"
run = Runner()

PROM_CONFIG = """
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:%(pport)d']}]
  - job_name: herald
    static_configs: [{targets: ['127.0.0.1:%(hport)d']}]
remote_write:
  - url: http://127.0.0.1:%(wport)d/api/v1/push
    headers: {X-Scope-OrgID: %(tenant)s}
    queue_config: {batch_send_deadline: 1s, min_backoff: 50ms}
"""

# Connection-level headers belong to one hop; the proxy sets its own.
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
               "transfer-encoding", "upgrade"}


class TenantProxy:
    """Reverse proxy in front of herald's push endpoint that sets X-Scope-OrgID (see the
    module docstring for why). Counts pushes, and those that already carried the header."""

    def __init__(self, upstream_port, tenant):
        proxy = self
        self.upstream_port = upstream_port
        self.tenant = tenant
        self.lock = threading.Lock()
        self.forwarded = 0
        self.had_header = 0
        self.failed = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep Prometheus' connections alive
            timeout = 30                   # idle keep-alive connections end on their own

            def do_POST(self):
                proxy.forward(self)

            def log_message(self, fmt, *args):  # quiet: the suite prints its own lines
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.block_on_close = False  # do not wait for idle keep-alive threads
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, req):
        length = req.headers.get("Content-Length")
        if length is None:  # Prometheus always sends one; a chunked body is not relayed
            self.reply(req, 411, {"Content-Type": "text/plain"}, b"length required")
            return
        body = req.rfile.read(int(length))
        headers = {k: v for k, v in req.headers.items()
                   if k.lower() not in HOP_HEADERS and k.lower() != "x-scope-orgid"}
        headers["X-Scope-OrgID"] = self.tenant
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            conn.request("POST", req.path, body=body, headers=headers)
            resp = conn.getresponse()
            status, data = resp.status, resp.read()
            relay = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_HEADERS}
        except OSError as e:
            status, data, relay = 502, str(e).encode(), {"Content-Type": "text/plain"}
        finally:
            conn.close()
        with self.lock:
            self.forwarded += 1
            self.had_header += "X-Scope-OrgID" in req.headers
            self.failed += status // 100 != 2
        self.reply(req, status, relay, data)

    @staticmethod
    def reply(req, status, headers, data):
        req.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "date", "server"):
                req.send_header(k, v)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_prometheus(hport, wport):
    """Prometheus scraping itself and herald (hport), remote-writing to wport."""
    return Prometheus(lambda port, tmp: PROM_CONFIG % {
        "pport": port, "hport": hport, "wport": wport, "tenant": TENANT})


def get(port, path, params, headers=None):
    q = urllib.parse.urlencode(params)
    r = http_request(port, "GET", path + "?" + q, headers=headers, timeout=30)
    if r.status != 200:
        raise AssertionError("%s -> %d %s" % (path, r.status, r.text[:300]))
    return json.loads(r.body)["data"]


def answers(port, prefix, window, headers=None):
    """series / labels / __name__ values / job values for the window, as comparable data."""
    w = [("start", "%.3f" % window[0]), ("end", "%.3f" % window[1])]
    series = get(port, prefix + "/api/v1/series", w + [("match[]", '{__name__=~".+"}')], headers)
    return {
        "series": sorted(json.dumps(s, sort_keys=True) for s in series),
        "labels": get(port, prefix + "/api/v1/labels", w, headers),
        "names": get(port, prefix + "/api/v1/label/__name__/values", w, headers),
        "jobs": get(port, prefix + "/api/v1/label/job/values", w, headers),
        "series_job": sorted(json.dumps(s, sort_keys=True) for s in get(
            port, prefix + "/api/v1/series", w + [("match[]", 'up'), ("match[]", '{job="herald"}')],
            headers)),
    }


def diff(a, b):
    out = []
    for k in a:
        if a[k] != b[k]:
            sa, sb = set(a[k]), set(b[k])
            out.append("%s: only herald %s, only prometheus %s (%d vs %d)" % (
                k, sorted(sa - sb)[:5], sorted(sb - sa)[:5], len(a[k]), len(b[k])))
    return out


def check_other_tenant_empty(port, window):
    """team-b never wrote anything: it must see none of team-a's data."""
    hdr = {"X-Scope-OrgID": OTHER_TENANT}
    w = [("start", "%.3f" % window[0]), ("end", "%.3f" % window[1])]
    for path, params in (("/prometheus/api/v1/series", w + [("match[]", '{__name__=~".+"}')]),
                         ("/prometheus/api/v1/labels", w),
                         ("/prometheus/api/v1/label/__name__/values", w),
                         ("/prometheus/api/v1/label/job/values", w)):
        got = get(port, path, params, hdr)
        check(got == [], "tenant %s sees data at %s: %s" % (OTHER_TENANT, path, got[:5]))


def compare_until_equal(port, pport, t0):
    """Compares herald (tenant team-a) with Prometheus until equal or out of attempts."""
    hdr = {"X-Scope-OrgID": TENANT}
    window = (t0 - 60, time.time() - 8)
    # warm up both APIs so the handler series they create exist, then let them settle
    answers(port, "/prometheus", window, hdr)
    answers(pport, "", window)
    last = None
    for attempt in range(8):
        time.sleep(5)
        window = (t0 - 60, time.time() - 8)
        h = answers(port, "/prometheus", window, hdr)
        pr = answers(pport, "", window)
        last = diff(h, pr)
        if not last:
            print("NOTE equal after %ds of remote write (attempt %d): %d series, %d label "
                  "names, %d metric names" % (SECONDS, attempt + 1, len(h["series"]),
                                              len(h["labels"]), len(h["names"])))
            break
    check(not last, "herald differs from Prometheus: " + "; ".join(last or []))
    check(h["series"], "tenant %s has series" % TENANT)
    return window


@run.test
def prometheus_remote_write_matches_prometheus():
    if PROMETHEUS is None:
        print("SKIP prometheus not installed")
        return
    with contextlib.ExitStack() as stack:  # stops Prometheus, then the proxy, then herald
        d = Daemon("herald-promd", args=["-blocks-storage.tsdb.dir=tsdb"])
        stack.callback(d.cleanup)
        d.start()
        check(d.get("/prometheus/api/v1/labels").status == 401,
              "multitenancy on: a query without X-Scope-OrgID is refused")
        proxy = TenantProxy(d.port, TENANT)
        stack.callback(proxy.stop)
        p = start_prometheus(d.port, proxy.port)
        stack.callback(p.stop)
        p.wait_ready()
        t0 = time.time()
        time.sleep(SECONDS)
        window = compare_until_equal(d.port, p.port, t0)
        check_other_tenant_empty(d.port, window)
        with proxy.lock:
            forwarded, had_header, failed = proxy.forwarded, proxy.had_header, proxy.failed
        print("NOTE proxy forwarded %d pushes (%d already carried X-Scope-OrgID, %d not 2xx)" %
              (forwarded, had_header, failed))
        check(forwarded > 0, "Prometheus remote-wrote through the proxy")
        r = http_request(d.port, "GET", "/metrics")
        samples = [l for l in r.text.splitlines()
                   if l.startswith('cortex_ingester_ingested_samples_total{user="%s"}' % TENANT)]
        check(samples, "ingested samples metric for tenant " + TENANT)
        check(not [l for l in r.text.splitlines()
                   if l.startswith("cortex_ingester_ingested_samples_total")
                   and 'user="%s"' % OTHER_TENANT in l],
              "no samples ingested for tenant " + OTHER_TENANT)
        print("NOTE " + samples[0])


if __name__ == "__main__":
    run.main()
