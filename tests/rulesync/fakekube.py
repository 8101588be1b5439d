"""A fake Kubernetes API server for herald-rulesync's suite: serves LIST and WATCH of
PrometheusRules and Namespaces from an in-memory store, as the real API server does (a
resourceVersion per change, watch events as newline-delimited JSON over a chunked
response, 410 Gone for a watch from a compacted resourceVersion). Standard library only.

    kube = FakeKube().start()
    kube.put(prometheus_rule_object)      # ADDED or MODIFIED event to every watcher
    kube.delete("PrometheusRule", "monitoring", "app-alerts")
    kube.expire_watches()                 # ERROR 410 to every watcher: clients re-LIST
    kube.stop()
"""
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PATHS = {
    "/apis/monitoring.coreos.com/v1/prometheusrules": "PrometheusRule",
    "/api/v1/namespaces": "Namespace",
}


class FakeKube:
    def __init__(self, token=None):
        self.lock = threading.Lock()
        self.objects = {}      # (kind, namespace, name) -> object
        self.rv = 100
        self.watchers = []     # (kind, queue)
        self.requests = []     # (method, path, query) seen
        self.token = token
        self.server = None

    # ---- store -------------------------------------------------------------------------
    def _bump(self, obj):
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)

    def _notify(self, kind, event):
        for k, q in list(self.watchers):
            if k == kind:
                q.put(event)

    def put(self, obj):
        with self.lock:
            kind = obj["kind"]
            meta = obj["metadata"]
            key = (kind, meta.get("namespace", ""), meta["name"])
            typ = "MODIFIED" if key in self.objects else "ADDED"
            obj = json.loads(json.dumps(obj))
            self._bump(obj)
            self.objects[key] = obj
            self._notify(kind, {"type": typ, "object": obj})

    def delete(self, kind, namespace, name):
        with self.lock:
            obj = self.objects.pop((kind, namespace, name))
            self._bump(obj)
            self._notify(kind, {"type": "DELETED", "object": obj})

    def expire_watches(self):
        with self.lock:
            for kind in PATHS.values():
                self._notify(kind, {"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "too old resource version", "reason": "Expired", "code": 410}})

    def count(self, method, path, watch):
        with self.lock:
            return sum(1 for m, p, q in self.requests
                       if m == method and p == path and ("watch" in q) == watch)

    # ---- server ------------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                u = urlparse(self.path)
                q = parse_qs(u.query)
                with fake.lock:
                    fake.requests.append(("GET", u.path, q))
                if fake.token and self.headers.get("Authorization") != "Bearer " + fake.token:
                    return self._json(401, {"kind": "Status", "code": 401})
                kind = PATHS.get(u.path)
                if kind is None:
                    return self._json(404, {"kind": "Status", "code": 404})
                if "watch" in q:
                    return self._watch(kind)
                with fake.lock:
                    items = [o for (k, _, _), o in sorted(fake.objects.items()) if k == kind]
                    body = {"kind": kind + "List", "apiVersion": "v1",
                            "metadata": {"resourceVersion": str(fake.rv)}, "items": items}
                return self._json(200, body)

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _watch(self, kind):
                q = queue.Queue()
                with fake.lock:
                    fake.watchers.append((kind, q))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while fake.server is not None:
                        try:
                            ev = q.get(timeout=0.5)
                        except queue.Empty:
                            continue
                        self._chunk(json.dumps(ev).encode() + b"\n")
                        if ev["type"] == "ERROR":
                            break
                    self._chunk(b"")
                except OSError:
                    pass
                finally:
                    with fake.lock:
                        fake.watchers.remove((kind, q))
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        srv, self.server = self.server, None
        if srv is not None:
            srv.shutdown()
            srv.server_close()
