#!/usr/bin/env python3
"""Ruler integration suite: real bin/herald-promd and bin/herald-logd driven over HTTP as the
seed document's curl commands drive them. Config API (POST/GET/DELETE, YAML and JSON, 202s,
400 on bad groups with nothing changed, limits), persistence across a restart, the read API
(/prometheus/api/v1/rules|alerts), herald-logd's differences (404 on empty listings,
rules/alerts), and the seed's metrics flow end to end: samples pushed for tenant prod make an
alert fire, it reaches the embedded Alertmanager with tenant="prod" and a webhook receiver
routed by the seed's fallback config, and tenant stage sees none of it. Standard library only."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ROOT, Daemon, Runner, check, check_eq, check_in, free_port  # noqa: E402

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RW_ENCODE = os.path.join(BUILD, "tools", "rw_encode")
CFG = "/prometheus/config/v1/rules"

run = Runner()

GROUP = """name: app.rules
interval: 1s
rules:
  - alert: HighErrorRate
    expr: rate(errors[5m]) > 0.02
    for: 0s
    labels:
      severity: page
    annotations:
      summary: "errors at {{ $value }} on {{ $labels.job }}"
  - record: job:errors:rate5m
    expr: sum by (job) (rate(errors[5m]))
"""


def h(tenant, **extra):
    d = {"X-Scope-OrgID": tenant}
    d.update(extra)
    return d


def wait_for(fn, timeout=15.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def promd(extra=(), data_dir=None):
    args = ["-blocks-storage.tsdb.dir=tsdb", "-ruler.evaluation-delay-duration=0s",
            "-ruler.tenant-label-name=tenant", "-ruler.poll-interval=1s"]
    if data_dir:
        args.append("-ruler-storage.filesystem.dir=" + data_dir)
    return Daemon("herald-promd", args=args + list(extra))


@run.test
def promd_per_tenant_rule_limits_from_runtime_config():
    """ruler_max_rules_per_rule_group overridden for one tenant in runtime_config.file."""
    d = promd()
    rt = os.path.join(d.tmp, "rt.yaml")
    with open(rt, "w") as f:
        f.write("overrides:\n  prod:\n    ruler_max_rules_per_rule_group: 1\n")
    d.args.append("-runtime-config.file=" + rt)
    d.start()
    r = d.post(CFG + "/ns", GROUP, h("prod"))
    check_eq(r.status, 400, "prod is limited to 1 rule per group")
    check_in("per-user rules per rule group limit (limit: 1 actual: 2) exceeded", r.text,
             "Mimir's text")
    check_eq(d.post(CFG + "/ns", GROUP, h("stage")).status, 202, "stage keeps the default (20)")


# ---- config API (herald-promd) -----------------------------------------------------------

@run.test
def promd_config_api_roundtrip():
    d = promd().start()
    r = d.get(CFG, h("prod"))
    check_eq((r.status, r.body.strip()), (200, b"{}"), "empty listing (Mimir: 200 {})")
    r = d.post(CFG + "/prod", GROUP, h("prod"))
    check_eq(r.status, 202, "POST")
    check_eq(r.json(), {"status": "success", "data": None, "errorType": "", "error": ""}, "body")
    r = d.get(CFG, h("prod"))
    check_eq(r.status, 200, "GET all")
    j = r.json()
    check_eq(list(j), ["prod"], "namespaces")
    check_eq(j["prod"][0]["name"], "app.rules", "group")
    check_eq(j["prod"][0]["interval"], "1s", "interval")
    check_eq(j["prod"][0]["rules"][0]["for"] if "for" in j["prod"][0]["rules"][0] else "0s",
             "0s", "for 0s is omitted")
    r = d.get(CFG + "/prod/app.rules", h("prod", Accept="application/yaml"))
    check_eq(r.status, 200, "GET group yaml")
    check_eq(r.header("content-type"), "application/yaml", "content type")
    check(r.text.startswith("name: app.rules\ninterval: 1s\nrules:\n    - alert: HighErrorRate\n"),
          "Mimir's YAML layout: %r" % r.text)
    check_eq(d.get(CFG + "/prod/nope", h("prod")).text, "group does not exist\n", "missing")
    check_eq(d.get(CFG, h("stage")).body.strip(), b"{}", "tenant stage sees nothing")
    r = d.delete(CFG + "/prod/app.rules", h("prod"))
    check_eq(r.status, 202, "DELETE group")
    check_eq(d.get(CFG, h("prod")).body.strip(), b"{}", "deleted")
    r = d.delete(CFG + "/prod", h("prod"))
    check_eq((r.status, r.text), (404, "group namespace does not exist\n"), "DELETE missing ns")


@run.test
def promd_bad_groups_rejected_and_nothing_changes():
    d = promd().start()
    check_eq(d.post(CFG + "/ns", GROUP, h("t")).status, 202, "good group")
    before = d.get(CFG, h("t")).body
    bad = GROUP.replace("rate(errors[5m]) > 0.02", "rate(errors[5m] > 0.02")
    r = d.post(CFG + "/ns", bad, h("t"))
    check_eq(r.status, 400, "bad expression")
    check_in('group "app.rules", rule 1, "HighErrorRate": could not parse expression: ', r.text,
             "message")
    r = d.post(CFG + "/ns", "name: [oops\n", h("t"))
    check_eq((r.status, r.text), (400, "unable to decode rule group\n"), "not YAML")
    r = d.post(CFG + "/ns", "name: g\nrules: []\n", h("t"))
    check_eq(r.text, "invalid rules configuration: rule group 'g' has no rules\n", "no rules")
    many = "name: big\nrules:\n" + "".join("  - record: r%d\n    expr: up\n" % i for i in range(21))
    r = d.post(CFG + "/ns", many, h("t"))
    check_eq(r.text, "per-user rules per rule group limit (limit: 20 actual: 21) exceeded\n",
             "limit")
    check_eq(d.get(CFG, h("t")).body, before, "stored rules unchanged")
    r = d.get("/prometheus/api/v1/rules?type=xyz", h("t"))
    check_eq((r.status, r.json()), (400, {"status": "error", "data": None,
                                         "errorType": "bad_data",
                                         "error": 'not supported value "xyz"'}), "type filter")


@run.test
def promd_rules_survive_restart_with_url_escaped_namespace():
    d = promd()
    rules_dir = os.path.join(d.tmp, "rules-store")
    d.args.append("-ruler-storage.filesystem.dir=" + rules_dir)
    d.start()
    ns = "alloy%2Fmonitoring%2Fapp%2F2f6c"
    check_eq(d.post(CFG + "/" + ns, GROUP, h("prod")).status, 202, "POST")
    check(os.path.exists(os.path.join(rules_dir, "prod", ns)), "file <dir>/<tenant>/<ns>")
    d.stop()
    d.start()
    j = d.get(CFG, h("prod")).json()
    check_eq(list(j), ["alloy/monitoring/app/2f6c"], "namespace after restart")
    groups = d.get("/prometheus/api/v1/rules", h("prod")).json()["data"]["groups"]
    check_eq([(g["file"], g["name"]) for g in groups], [("alloy/monitoring/app/2f6c", "app.rules")],
             "loaded after restart")


@run.test
def promd_read_api_shape_and_filters():
    d = promd().start()
    d.post(CFG + "/prod", GROUP, h("prod"))
    r = d.get("/prometheus/api/v1/rules", h("prod"))
    j = r.json()
    check_eq((j["status"], j["errorType"], j["error"]), ("success", "", ""), "envelope")
    g = j["data"]["groups"][0]
    check_eq(sorted(g), ["evaluationTime", "file", "interval", "lastEvaluation", "name", "rules",
                         "sourceTenants"], "group keys")
    check_eq((g["interval"], g["sourceTenants"]), (1, None), "group fields")
    a = g["rules"][0]
    check_eq(sorted(a), ["alerts", "annotations", "duration", "evaluationTime", "health",
                         "keepFiringFor", "labels", "lastError", "lastEvaluation", "name",
                         "query", "state", "type"], "alerting rule keys")
    check_eq((a["type"], a["labels"], a["duration"]), ("alerting", {"severity": "page"}, 0),
             "alerting rule")
    rec = g["rules"][1]
    check_eq(sorted(rec), ["evaluationTime", "health", "labels", "lastError", "lastEvaluation",
                           "name", "query", "type"], "recording rule keys")
    only = d.get("/prometheus/api/v1/rules?type=record", h("prod")).json()["data"]["groups"]
    check_eq([x["name"] for x in only[0]["rules"]], ["job:errors:rate5m"], "type=record")
    none = d.get("/prometheus/api/v1/rules?rule_group[]=other", h("prod")).json()
    check_eq(none["data"]["groups"], [], "rule_group filter")
    d.post(CFG + "/fmt", "name: f\nrules:\n- record: r\n  expr: sum(rate(x[5m]))by(job)>1\n",
           h("prod"))
    g = d.get("/prometheus/api/v1/rules?file[]=fmt", h("prod")).json()["data"]["groups"]
    check_eq(g[0]["rules"][0]["query"], "sum by (job) (rate(x[5m])) > 1", "query as printed")
    r = d.get("/prometheus/api/v1/alerts", h("stage"))
    check_eq(r.json(), {"status": "success", "data": {"alerts": []}, "errorType": "",
                        "error": ""}, "alerts, none")


@run.test
def promd_restart_keeps_pending_and_firing_alerts():
    d = promd()
    d.start()
    group = ("name: restart\ninterval: 1s\nrules:\n"
             "  - alert: SlowOne\n    expr: flag > 0\n    for: 1h\n"
             "  - alert: FastOne\n    expr: flag > 0\n")
    check_eq(d.post(CFG + "/ns", group, h("prod")).status, 202, "POST")
    check_eq(push(d, "prod", ["flag{job=\"x\"} 1 %d" % int(time.time() * 1000)]).status, 200,
             "push")

    def states():
        out = {}
        for g in d.get("/prometheus/api/v1/rules", h("prod")).json()["data"]["groups"]:
            for r in g["rules"]:
                for a in r.get("alerts", []):
                    out[r["name"]] = (a["state"], a["activeAt"])
        return out if len(out) == 2 else None
    before = wait_for(states, what="both alerts active")
    check_eq((before["SlowOne"][0], before["FastOne"][0]), ("pending", "firing"), "states")
    time.sleep(1.5)  # a few more evaluations write ALERTS_FOR_STATE
    d.stop()
    d.start()
    after = wait_for(states, what="alerts after restart")
    # ALERTS_FOR_STATE keeps activeAt in whole seconds, as Prometheus does
    check_eq((after["FastOne"][0], after["FastOne"][1][:19]),
             (before["FastOne"][0], before["FastOne"][1][:19]),
             "firing alert keeps activeAt, stays firing")
    check_eq(after["SlowOne"][0], "pending", "pending alert still pending")
    t0, t1 = (time.mktime(time.strptime(x[1][:19], "%Y-%m-%dT%H:%M:%S"))
              for x in (before["SlowOne"], after["SlowOne"]))
    check(0 <= t1 - t0 <= 15, "pending activeAt restored, shifted by the outage only: %r -> %r"
          % (before["SlowOne"], after["SlowOne"]))


# ---- herald-logd ---------------------------------------------------------------------------

@run.test
def logd_config_api_and_differences():
    d = Daemon("herald-logd", args=["-ruler.evaluation-interval=1s"]).start()
    base = "/loki/api/v1/rules"
    r = d.get(base, h("prod"))
    check_eq((r.status, r.text), (404, "no rule groups found\n"), "empty listing (Loki: 404)")
    group = ('name: logs\ninterval: 1s\nrules:\n  - alert: ManyErrors\n'
             '    expr: sum(rate({level="error"}[5m])) > 5\n    labels:\n      type: logs\n')
    r = d.post(base + "/prod", group, h("prod"))
    check_eq(r.status, 202, "POST to the local store (contract: writable)")
    j = d.get(base, h("prod")).json()  # the seed pipes this into jq
    check_eq(j["prod"][0]["rules"][0]["alert"], "ManyErrors", "listing")
    check_eq(list(d.get(base + "?labels=type:logs", h("prod")).json()), ["prod"], "labels=")
    check_eq(d.get(base + "?labels=type:metrics,x:y", h("prod")).status, 404, "labels= none")
    r = d.get(base + "/alerts", h("prod"))
    check_eq(r.json()["data"], {"alerts": []}, "rules/alerts answers the tenant's alerts")
    check(os.path.exists(os.path.join(d.tmp, "data/loki/rules/prod/prod")), "file on disk")

    def evaluated():
        g = d.get("/prometheus/api/v1/rules", h("prod")).json()["data"]["groups"]
        return g and g[0]["rules"][0]["health"] != "unknown" and g[0]
    g = wait_for(evaluated, what="first evaluation")
    check_eq(sorted(g), ["evaluationTime", "file", "interval", "lastEvaluation", "limit",
                         "name", "rules"], "Loki group keys")
    check("keepFiringFor" not in g["rules"][0], "Loki rules have no keepFiringFor")
    r = d.delete(base + "/prod/logs", h("prod"))
    check_eq(r.status, 202, "DELETE")
    check_eq(d.get(base, h("prod")).status, 404, "empty again")


# ---- the seed's metrics flow end to end ----------------------------------------------------

class Hook(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.got.append((self.path, json.loads(self.rfile.read(n))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def _go_g(v):
    """Go's %v of a float64 for ordinary magnitudes: the shortest repr that reads back."""
    for prec in range(1, 18):
        s = "%.*g" % (prec, v)
        if float(s) == v:
            return s
    return repr(v)


def push(d, tenant, lines):
    body = subprocess.run([RW_ENCODE], input="\n".join(lines).encode(), capture_output=True,
                          check=True).stdout
    return d.post("/api/v1/push", body, h(tenant, **{"Content-Encoding": "snappy",
                                                     "Content-Type": "application/x-protobuf"}))


@run.test
def seed_metrics_flow_end_to_end():
    hook_port = free_port()
    srv = http.server.HTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _seed_flow(hook_port)
    finally:
        srv.shutdown()
        srv.server_close()


def _seed_flow(hook_port):
    d = promd()
    url = "http://127.0.0.1:%d/hook" % hook_port
    fallback = os.path.join(d.tmp, "fallback.yaml")
    with open(fallback, "w") as f:
        f.write('route:\n  group_by: ["alertname", "tenant"]\n  receiver: default\n'
                '  group_wait: 0s\n  group_interval: 1s\n  routes:\n'
                '    - receiver: prod\n      matchers:\n        - tenant="prod"\n'
                'receivers:\n  - name: default\n  - name: prod\n    webhook_configs:\n'
                '      - url: %s\n' % url)
    d.args += ["-alertmanager.configs.fallback=" + fallback,
               "-ruler.alertmanager-url=http://127.0.0.1:%d/alertmanager" % d.port]
    d.start()
    check_eq(d.post(CFG + "/prod", GROUP, h("prod")).status, 202, "POST rules")
    now = int(time.time() * 1000)
    lines = ["errors{job=\"api\"} %d %d" % (i * 10, now - (60 - i) * 1000) for i in range(61)]
    check_eq(push(d, "prod", lines).status, 200, "push")

    def firing():
        for g in d.get("/prometheus/api/v1/rules", h("prod")).json()["data"]["groups"]:
            for r in g["rules"]:
                if r.get("state") == "firing":
                    return r
        return None
    rule = wait_for(firing, what="the rule to fire")
    check_eq(rule["alerts"][0]["labels"], {"alertname": "HighErrorRate", "job": "api",
                                           "severity": "page"}, "alert labels")
    value = float(rule["alerts"][0]["value"])
    check_eq(rule["alerts"][0]["annotations"]["summary"], "errors at %s on api" % _go_g(value),
             "expanded annotation")

    def in_am():
        a = d.get("/alertmanager/api/v2/alerts", h("prod"))
        return a.status == 200 and a.json()
    alerts = wait_for(in_am, what="the alert in the Alertmanager")
    check_eq(alerts[0]["labels"].get("tenant"), "prod", "tenant label added")
    hook = wait_for(lambda: Hook.got, timeout=20, what="the webhook")
    check_eq(hook[0][1]["alerts"][0]["labels"]["alertname"], "HighErrorRate", "webhook payload")
    check_eq(d.get("/prometheus/api/v1/alerts", h("stage")).json()["data"]["alerts"], [],
             "stage sees none of it")
    q = d.get("/prometheus/api/v1/query?query=job:errors:rate5m", h("prod"))
    if q.status == 200:  # the PromQL query API is another module: check when present
        check(q.json()["data"]["result"], "recorded series queryable")


run.main()
