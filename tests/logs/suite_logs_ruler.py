#!/usr/bin/env python3
"""The seed's log alerting flow end to end (seed/alerting-flow.md, "Log Alert Lifecycle"):
bin/herald-promd runs the Alertmanager with a fallback config routing tenant="prod" to a
webhook served by this test; bin/herald-logd's LogQL ruler sends to it
(ruler.alertmanager_url, ruler.tenant_label_name=tenant). A rule group
`sum(rate({level="error"}[1m])) > 0.1` is POSTed to /loki/api/v1/rules/<ns> for tenant prod,
error lines are pushed for prod, the alert fires, reaches the webhook with tenant="prod" and
the rule's type="logs", shows in logd's /prometheus/api/v1/alerts and
/loki/api/v1/rules/alerts (contract.md item 3), while tenant stage sees nothing. Also: rule
validation refuses a log query. Standard library only."""
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Daemon, Runner, check, check_eq, check_in, free_port, wait_until  # noqa

run = Runner()

GROUP = """name: log-alerts
interval: 1s
rules:
  - alert: ManyErrors
    expr: sum(rate({level="error"}[1m])) > 0.1
    for: 0s
    labels:
      type: logs
    annotations:
      summary: "{{ $value }} error lines/s"
"""


def h(tenant, **extra):
    d = {"X-Scope-OrgID": tenant}
    d.update(extra)
    return d


class Hook(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.got.append((self.path, json.loads(self.rfile.read(n))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def push(d, tenant, level, n):
    now = time.time_ns()
    values = [[str(now - (n - i) * 10**9), "line %d" % i] for i in range(n)]
    body = {"streams": [{"stream": {"app": "shop", "level": level}, "values": values}]}
    r = d.post("/loki/api/v1/push", body, h(tenant))
    check_eq(r.status, 204, "push: " + r.text)


def start_pair(hook_port):
    promd = Daemon("herald-promd", args=["-blocks-storage.tsdb.dir=tsdb"])
    fallback = os.path.join(promd.tmp, "fallback.yaml")
    with open(fallback, "w") as f:
        f.write('route:\n  group_by: ["alertname", "tenant"]\n  receiver: default\n'
                '  group_wait: 0s\n  group_interval: 1s\n  routes:\n'
                '    - receiver: prod\n      matchers:\n        - tenant="prod"\n'
                'receivers:\n  - name: default\n  - name: prod\n    webhook_configs:\n'
                '      - url: http://127.0.0.1:%d/hook\n' % hook_port)
    promd.args.append("-alertmanager.configs.fallback=" + fallback)
    promd.start()
    logd = Daemon("herald-logd", args=[
        "-ruler.alertmanager-url=http://127.0.0.1:%d/alertmanager" % promd.port,
        "-ruler.tenant-label-name=tenant", "-ruler.evaluation-interval=1s",
        "-ruler.poll-interval=1s", "-ruler.evaluation-delay-duration=0s"]).start()
    return promd, logd


@run.test
def seed_log_flow_end_to_end():
    hook_port = free_port()
    srv = http.server.HTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _flow(hook_port)
    finally:
        srv.shutdown()
        srv.server_close()


def _flow(hook_port):
    promd, logd = start_pair(hook_port)
    r = logd.post("/loki/api/v1/rules/prod", GROUP, h("prod"))
    check_eq(r.status, 202, "POST the log rule group: " + r.text)
    check_eq(logd.post("/loki/api/v1/rules/stage", GROUP, h("stage")).status, 202, "stage too")
    push(logd, "prod", "error", 20)  # 20 lines in the last 20 s: rate 1/3 per s > 0.1
    push(logd, "stage", "info", 20)  # stage has traffic, but no errors

    def firing():
        for g in logd.get("/prometheus/api/v1/rules", h("prod")).json()["data"]["groups"]:
            for rule in g["rules"]:
                if rule.get("state") == "firing":
                    return rule
        return None
    rule = wait_until(firing, timeout=20, what="the log rule to fire")
    check_eq(rule["query"], '(sum(rate({level="error"}[1m])) > 0.1)',
             "Loki's canonical text (BinOpExpr.String() adds the parentheses)")
    check_eq(rule["alerts"][0]["labels"], {"alertname": "ManyErrors", "type": "logs"},
             "alert labels on the ruler")
    alerts = logd.get("/prometheus/api/v1/alerts", h("prod")).json()["data"]["alerts"]
    check_eq([a["labels"]["alertname"] for a in alerts], ["ManyErrors"], "logd alerts")
    r = logd.get("/loki/api/v1/rules/alerts", h("prod"))
    check_eq(r.status, 200, "rules/alerts (contract item 3)")
    check_eq([a["state"] for a in r.json()["data"]["alerts"]], ["firing"], "rules/alerts")

    def in_am():
        a = promd.get("/alertmanager/api/v2/alerts", h("prod"))
        return a.status == 200 and a.json()
    am = wait_until(in_am, timeout=20, what="the alert in the Alertmanager")
    check_eq(am[0]["labels"], {"alertname": "ManyErrors", "type": "logs", "tenant": "prod"},
             "labels in the Alertmanager")
    hook = wait_until(lambda: Hook.got, timeout=20, what="the webhook")
    labels = hook[0][1]["alerts"][0]["labels"]
    check_eq((labels["alertname"], labels["tenant"], labels["type"]),
             ("ManyErrors", "prod", "logs"), "webhook payload")
    check_eq(hook[0][1]["receiver"], "prod", "routed by tenant")
    check_eq(logd.get("/prometheus/api/v1/alerts", h("stage")).json()["data"]["alerts"], [],
             "stage: no log alert")
    check_eq(promd.get("/alertmanager/api/v2/alerts", h("stage")).json(), [],
             "stage: nothing in the Alertmanager")


@run.test
def rule_validation_refuses_log_queries():
    logd = Daemon("herald-logd", args=["-ruler.evaluation-interval=1s"]).start()
    bad = GROUP.replace('sum(rate({level="error"}[1m])) > 0.1', "'{level=\"error\"}'")
    r = logd.post("/loki/api/v1/rules/prod", bad, h("prod"))
    check_eq(r.status, 400, "log query in a rule")
    check_in("could not parse expression for alert 'ManyErrors' in group 'log-alerts'", r.text,
             "Loki's wrapping")
    check_in("only sample expression supported", r.text, "reason")
    bad = GROUP.replace('sum(rate({level="error"}[1m])) > 0.1', 'sum(rate({level="error"}[1m])')
    r = logd.post("/loki/api/v1/rules/prod", bad, h("prod"))
    check_eq(r.status, 400, "syntax error")
    check_in("parse error at line 1", r.text, "LogQL parse error")
    check_eq(logd.get("/loki/api/v1/rules", h("prod")).status, 404, "nothing stored")


@run.test
def alert_value_of_a_grouped_query():
    logd = Daemon("herald-logd", args=["-ruler.evaluation-interval=1s",
                                       "-ruler.poll-interval=1s"]).start()
    push(logd, "prod", "error", 6)
    group = ('name: rec\ninterval: 1s\nrules:\n  - alert: Count\n'
             '    expr: sum by (app) (count_over_time({level="error"}[1m])) >= 6\n')
    check_eq(logd.post("/loki/api/v1/rules/prod", group, h("prod")).status, 202, "POST")

    def value():
        alerts = logd.get("/prometheus/api/v1/alerts", h("prod")).json()["data"]["alerts"]
        return alerts and alerts[0]
    a = wait_until(value, timeout=15, what="the alert")
    check_eq((a["labels"], float(a["value"])), ({"alertname": "Count", "app": "shop"}, 6.0),
             "grouped value of the LogQL instant query")


@run.test
def recording_rules_remote_written_to_promd():
    """ruler.remote_write (Loki): recorded samples of tenant prod are remote-written to
    herald-promd with X-Scope-OrgID prod (a header in the client config is replaced by the
    rule's tenant), and can be queried there; a tenant with ruler_remote_write_disabled
    sends nothing."""
    promd = Daemon("herald-promd", args=["-blocks-storage.tsdb.dir=tsdb"]).start()
    logd = Daemon("herald-logd", config="""auth_enabled: true
common:
  path_prefix: ./data
runtime_config:
  file: rt.yaml
ruler:
  evaluation_interval: 1s
  poll_interval: 1s
  storage:
    type: local
    local:
      directory: ./data/rules
  remote_write:
    enabled: true
    clients:
      promd:
        url: http://127.0.0.1:%d/api/v1/push
        remote_timeout: 5s
        headers:
          X-Scope-OrgID: somebody-else
""" % promd.port)
    with open(os.path.join(logd.tmp, "rt.yaml"), "w") as f:
        f.write("overrides:\n  stage:\n    ruler_remote_write_disabled: true\n")
    logd.start()
    group = ('name: rec\ninterval: 1s\nrules:\n  - record: app:errors:count1m\n'
             '    expr: sum by (app) (count_over_time({level="error"}[1m]))\n')
    for tenant in ("prod", "stage"):
        push(logd, tenant, "error", 7)
        check_eq(logd.post("/loki/api/v1/rules/" + tenant, group, h(tenant)).status, 202,
                 "POST " + tenant)

    def recorded():
        r = promd.get("/prometheus/api/v1/query?query=app:errors:count1m", h("prod"))
        res = r.json()["data"]["result"] if r.status == 200 else []
        return res and res[0]
    got = wait_until(recorded, timeout=20, what="the recorded series in herald-promd")
    check_eq((got["metric"], got["value"][1]),
             ({"__name__": "app:errors:count1m", "app": "shop"}, "7"), "recorded sample")
    time.sleep(2)
    for tenant in ("stage", "somebody-else"):
        r = promd.get("/prometheus/api/v1/query?query=app:errors:count1m", h(tenant))
        check_eq(r.json()["data"]["result"], [], "nothing written for " + tenant)
    check_in('herald_ruler_remote_write_samples_total{client="promd"}', logd.get("/metrics").text,
             "counted")


run.main()
