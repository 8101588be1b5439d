#!/usr/bin/env python3
"""Differential test against Debian's Prometheus 2.42: Prometheus scrapes itself and herald,
remote-writes everything to herald-promd, and after
HERALD_RW_SECONDS (default 30; the acceptance run uses 180) herald's series, labels and
label values answers must equal Prometheus' own for the same window. Skipped (counted as
passed with a SKIP line) when /usr/bin/prometheus is missing.

Debian's Prometheus 2.42 accepts `remote_write.headers` in its config but does not send them
(checked by capturing its requests), so herald runs with multitenancy off and the data lands
in tenant "anonymous", as it would in Mimir."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Daemon, Runner, check, free_port, http_request  # noqa: E402

PROMETHEUS = shutil.which("prometheus")
SECONDS = int(os.environ.get("HERALD_RW_SECONDS", "30"))
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
  - url: http://127.0.0.1:%(hport)d/api/v1/push
    queue_config: {batch_send_deadline: 1s, min_backoff: 50ms}
"""


class Prometheus:
    def __init__(self, hport):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="prometheus-")
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROM_CONFIG % {"pport": self.port, "hport": hport})
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + self.tmp + "/data",
             "--web.listen-address=127.0.0.1:%d" % self.port], stdout=self.log,
            stderr=subprocess.STDOUT)

    def wait_ready(self):
        for _ in range(200):
            try:
                if http_request(self.port, "GET", "/-/ready", timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus not ready")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


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


@run.test
def prometheus_remote_write_matches_prometheus():
    if PROMETHEUS is None:
        print("SKIP prometheus not installed")
        return
    d = Daemon("herald-promd", args=["-blocks-storage.tsdb.dir=tsdb",
                                     "-auth.multitenancy-enabled=false"]).start()
    p = Prometheus(d.port)
    try:
        p.wait_ready()
        t0 = time.time()
        time.sleep(SECONDS)
        hdr = {}
        window = (t0 - 60, time.time() - 8)
        # warm up both APIs so the handler series they create exist, then let them settle
        answers(d.port, "/prometheus", window, hdr)
        answers(p.port, "", window)
        last = None
        for attempt in range(8):
            time.sleep(5)
            window = (t0 - 60, time.time() - 8)
            h = answers(d.port, "/prometheus", window, hdr)
            pr = answers(p.port, "", window)
            last = diff(h, pr)
            if not last:
                print("NOTE equal after %ds of remote write (attempt %d): %d series, %d label "
                      "names, %d metric names" % (SECONDS, attempt + 1, len(h["series"]),
                                                  len(h["labels"]), len(h["names"])))
                break
        check(not last, "herald differs from Prometheus: " + "; ".join(last or []))
        r = http_request(d.port, "GET", "/metrics")
        samples = [l for l in r.text.splitlines()
                   if l.startswith('cortex_ingester_ingested_samples_total{user="anonymous"}')]
        check(samples, "ingested samples metric for tenant anonymous")
        print("NOTE " + samples[0])
    finally:
        p.stop()


if __name__ == "__main__":
    run.main()
