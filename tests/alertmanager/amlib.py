"""Shared helpers for the Alertmanager suites: a webhook sink on 127.0.0.1 that records
every request (time, path, body), herald-alertd started with a fallback config, and Debian's
prometheus-alertmanager 0.25 started as the oracle. Standard library only."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Daemon, free_port, http_request  # noqa: E402

UPSTREAM_AM = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")


class Sink:
    """Records POSTs: list of (monotonic time, path, body bytes, headers)."""

    def __init__(self, status=200):
        self.hits = []
        self.status = status
        self.lock = threading.Lock()
        sink = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with sink.lock:
                    sink.hits.append((time.monotonic(), self.path, body, dict(self.headers)))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, prefix=""):
        with self.lock:
            return [h for h in self.hits if h[1].startswith(prefix)]

    def wait(self, prefix, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.get(prefix)) >= n:
                return self.get(prefix)
            time.sleep(0.05)
        return self.get(prefix)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def alertd(fallback=None, args=(), multitenancy=True, data=None):
    """herald-alertd with an optional fallback Alertmanager config (text)."""
    extra = list(args)
    d = Daemon("herald-alertd", args=extra)
    if fallback is not None:
        path = os.path.join(d.tmp, "fallback.yaml")
        with open(path, "w") as f:
            f.write(fallback)
        d.args.append("-alertmanager.configs.fallback=" + path)
    if not multitenancy:
        d.args.append("-auth.multitenancy-enabled=false")
    if data is not None:
        d.args += ["-alertmanager.storage.path=" + os.path.join(data, "am"),
                   "-alertmanager-storage.filesystem.dir=" + os.path.join(data, "cfg")]
    return d


class Upstream:
    """Debian's Alertmanager 0.25, one process per config, cluster off."""

    def __init__(self, config, external_url="http://am.example:9093/alertmanager"):
        self.tmp = tempfile.mkdtemp(prefix="am025-")
        self.port = free_port()
        path = os.path.join(self.tmp, "am.yaml")
        with open(path, "w") as f:
            f.write(config)
        log = open(os.path.join(self.tmp, "am.log"), "ab")
        self.proc = subprocess.Popen(
            [UPSTREAM_AM, "--config.file=" + path, "--storage.path=" + self.tmp,
             "--web.listen-address=127.0.0.1:%d" % self.port, "--cluster.listen-address=",
             "--web.external-url=" + external_url],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        log.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if http_request(self.port, "GET", "/alertmanager/-/ready", timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("upstream alertmanager did not start")

    def post(self, path, body):
        return http_request(self.port, "POST", "/alertmanager" + path, body)

    def delete(self, path):
        return http_request(self.port, "DELETE", "/alertmanager" + path)

    def get(self, path):
        return http_request(self.port, "GET", "/alertmanager" + path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def notification_key(body):
    """What must match between herald and upstream: receiver, group key, status, alerts."""
    m = json.loads(body)
    alerts = sorted((a["status"], json.dumps(a["labels"], sort_keys=True),
                     json.dumps(a["annotations"], sort_keys=True), a["fingerprint"])
                    for a in m["alerts"])
    return (m["receiver"], m["groupKey"], m["status"], m.get("truncatedAlerts"),
            json.dumps(m["groupLabels"], sort_keys=True), tuple(alerts))
