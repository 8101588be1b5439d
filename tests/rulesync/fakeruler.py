"""A recording ruler config API for herald-rulesync's suite: answers the list, create and
delete calls a Mimir (or Loki) ruler answers, keeps the posted group bodies verbatim, and
records every request (method, raw path, headers, body) so a test can check the wire
format. `fail_next` makes the next requests answer an error status. Standard library only.
"""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRuler:
    def __init__(self, base="/prometheus/config/v1/rules", empty_status=200):
        self.base = base
        self.empty_status = empty_status  # Loki answers an empty listing with 404
        self.lock = threading.Lock()
        self.groups = {}    # (namespace, group name) -> posted YAML text
        self.requests = []  # (method, raw path, headers dict, body text)
        self.fail = []      # statuses to answer next, in order

    def fail_next(self, *statuses):
        with self.lock:
            self.fail.extend(statuses)

    def seen(self, method):
        with self.lock:
            return [r for r in self.requests if r[0] == method]

    def listing(self):
        """Namespace -> the group bodies posted to it, in name order."""
        out = {}
        for (ns, _), text in sorted(self.groups.items()):
            out.setdefault(ns, []).append(text)
        return out

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status, body=b"", ctype="text/plain"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                with fake.lock:
                    fake.requests.append((self.command, self.path,
                                          {k.lower(): v for k, v in self.headers.items()}, body))
                    return body, (fake.fail.pop(0) if fake.fail else None)

            def _parts(self):
                rest = self.path[len(fake.base):].lstrip("/")
                return [urllib.parse.unquote(p) for p in rest.split("/")] if rest else []

            def do_GET(self):
                _, fail = self._record()
                if fail:
                    return self._answer(fail, b"injected failure\n")
                with fake.lock:
                    text = "".join("%s:\n%s" % (json.dumps(ns), "".join(
                        "    - " + g.replace("\n", "\n      ").rstrip(" ") for g in groups))
                        for ns, groups in fake.listing().items())
                if not text:
                    if fake.empty_status == 404:
                        return self._answer(404, b"no rule groups found\n")
                    text = "{}\n"
                self._answer(200, text.encode(), "application/yaml")

            def do_POST(self):
                body, fail = self._record()
                if fail:
                    return self._answer(fail, b"injected failure\n")
                name = [ln for ln in body.splitlines() if ln.startswith("name: ")][0][6:]
                with fake.lock:
                    fake.groups[(self._parts()[0], name)] = body
                self._answer(202, b'{"status":"success","data":null,"errorType":"","error":""}',
                             "application/json")

            def do_DELETE(self):
                _, fail = self._record()
                if fail:
                    return self._answer(fail, b"injected failure\n")
                ns, group = self._parts()
                with fake.lock:
                    fake.groups.pop((ns, group), None)
                self._answer(202, b'{"status":"success","data":null,"errorType":"","error":""}',
                             "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
