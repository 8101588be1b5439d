"""Integration harness: real herald daemons from bin/, driven over HTTP.

Each Daemon runs on a free 127.0.0.1 port, in its own temporary directory (its working
directory, so the default ./data lands there), with an optional generated config file. It is
stopped by PID (SIGTERM, then SIGKILL after a timeout) and always cleaned up: after each test
by the Runner, and at interpreter exit otherwise. Standard library only.

    from harness import Daemon, Runner, check_eq, wait_until
    run = Runner()

    @run.test
    def ready_answers():
        d = Daemon("herald-promd").start()
        r = d.get("/ready")
        check_eq(r.status, 200, "status")

    run.main()          # last line printed: "N passed, N failed"
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("HERALD_BIN") or os.path.join(ROOT, "bin")
KEEP_TMP = os.environ.get("HERALD_KEEP_TMP") == "1"  # keep temp dirs for post-mortems

_live = []  # daemons started and not yet cleaned up


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names -> value
        self.body = body        # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


def http_request(port, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP/1.1 request to 127.0.0.1:port. body: bytes, str, or a dict/list sent as
    JSON. Never raises on an HTTP status; raises OSError when the connection fails."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, hdrs, data)
    finally:
        conn.close()


class Daemon:
    """A herald program under test.

    prog:    "herald-promd", "herald-logd", "herald-alertd" or "herald-rulesync"
    config:  YAML text written to <tmp>/config.yaml and passed as -config.file (None: none)
    args:    extra flags
    port:    None picks a free one; passed as -server.http-listen-port, with the address
             -server.http-listen-address=127.0.0.1
    """

    def __init__(self, prog, config=None, args=(), port=None, env=None):
        self.prog = prog
        self.config = config
        self.args = list(args)
        self.port = port or free_port()
        self.env = env
        self.tmp = tempfile.mkdtemp(prefix=prog + "-")
        self.log_path = os.path.join(self.tmp, "daemon.log")
        self.config_path = os.path.join(self.tmp, "config.yaml") if config is not None else None
        self.proc = None
        self.returncode = None
        _live.append(self)

    def command(self):
        cmd = [os.path.join(BIN, self.prog),
               "-server.http-listen-address=127.0.0.1",
               "-server.http-listen-port=%d" % self.port]
        if self.config_path:
            cmd.append("-config.file=" + self.config_path)
        return cmd + self.args

    def write_config(self, text):
        """(Re)writes the config file, e.g. before a reload."""
        with open(self.config_path, "w") as f:
            f.write(text)

    def spawn(self):
        """Starts the process without waiting for readiness."""
        if self.config_path:
            self.write_config(self.config)
        env = dict(os.environ)
        env.update(self.env or {})
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=self.tmp, stdout=log,
                                     stderr=subprocess.STDOUT, env=env)
        log.close()
        return self

    def start(self, timeout=15.0):
        """Spawns and waits until /ready answers 200. Raises with the log tail if not."""
        self.spawn()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d before ready:\n%s" %
                                   (self.prog, self.proc.returncode, self.log_tail()))
            try:
                if http_request(self.port, "GET", "/ready", timeout=1.0).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s not ready after %.0fs:\n%s" % (self.prog, timeout, self.log_tail()))

    def wait_exit(self, timeout=15.0):
        """Waits for the process to end on its own; returns its exit code (None: still up)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit code (-9 if killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        return self.returncode

    def cleanup(self):
        self.stop(timeout=5.0)
        if self in _live:
            _live.remove(self)
        if not KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- logs -------------------------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def wait_log(self, pattern, timeout=10.0):
        """Waits until a log line matches the regex; returns the match or raises."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = rx.search(self.log())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("no log line matching %r in:\n%s" % (pattern, self.log_tail()))

    # ---- HTTP -------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10.0):
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, None, headers, **kw)

    def post(self, path, body=None, headers=None, **kw):
        return self.request("POST", path, body, headers, **kw)

    def delete(self, path, headers=None, **kw):
        return self.request("DELETE", path, None, headers, **kw)


def run_program(prog, args=(), timeout=15.0, cwd=None):
    """Runs a program to completion (for -help, bad configs); returns (code, stdout, stderr)."""
    p = subprocess.run([os.path.join(BIN, prog)] + list(args), cwd=cwd, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


PROMETHEUS = shutil.which("prometheus")  # Debian's Prometheus 2.42, the reference


class Prometheus:
    """The reference Prometheus on a free 127.0.0.1 port in a temporary directory.
    config(port, tmpdir) returns the prometheus.yml text (it may name files written in tmpdir
    through `files`, a {name: text} map). Stopped by PID in stop(), also at exit."""

    def __init__(self, config, files=None, args=()):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="prometheus-")
        for name, text in (files or {}).items():
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(text)
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config(self.port, self.tmp))
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + self.tmp + "/data",
             "--web.listen-address=127.0.0.1:%d" % self.port] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT)
        _live.append(self)

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.log_tail())
            try:
                if http_request(self.port, "GET", "/-/ready", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus not ready: " + self.log_tail())

    def log_tail(self):
        with open(os.path.join(self.tmp, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if not KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _live:
            _live.remove(self)

    cleanup = stop


def cleanup_all():
    for d in list(_live):
        d.cleanup()


atexit.register(cleanup_all)


def _on_term(signum, frame):
    cleanup_all()
    sys.exit(1)


signal.signal(signal.SIGTERM, _on_term)


def wait_until(fn, timeout=10.0, interval=0.1, what="condition"):
    """Polls fn() until it returns a truthy value (returned) or raises AssertionError after
    `timeout` seconds with the last value or exception, e.g. waiting for an alert to fire."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (OSError, ValueError, KeyError, IndexError) as e:  # not up yet, partial JSON
            last = e
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" %
                                 (timeout, what, last))
        time.sleep(interval)


# ---- assertions ---------------------------------------------------------------------------
def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def check_in(needle, hay, what=""):
    if needle not in hay:
        raise AssertionError("%s: %r not in %r" % (what, needle, hay[:2000]))


# ---- runner -------------------------------------------------------------------------------
class Runner:
    """Registers tests with @run.test and runs them in order, cleaning up every daemon a test
    started. Prints one FAIL block per failure and ends with "N passed, N failed"."""

    def __init__(self):
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self):
        only = sys.argv[1:]
        passed = failed = 0
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t0), flush=True)
            except Exception as e:  # a failed check, or a daemon that would not start
                failed += 1
                print("FAIL %s: %s" % (fn.__name__, e), flush=True)
                for line in traceback.format_exc().splitlines()[-6:]:
                    print("     " + line)
            finally:
                cleanup_all()
        print("%d passed, %d failed" % (passed, failed), flush=True)
        sys.exit(1 if failed else 0)
