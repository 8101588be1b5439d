#!/usr/bin/env python3
"""The seed document's whole flow, black box: PrometheusRule manifests labelled tenant and
type, synced by bin/herald-rulesync (as Alloy's mimir.rules.kubernetes /
loki.rules.kubernetes would) into bin/herald-promd's PromQL ruler and bin/herald-logd's LogQL
ruler; metrics remote-written and log lines pushed for tenant prod; both rulers fire; the
alerts reach herald-promd's multi-tenant Alertmanager, are routed by the seed's fallback
config on tenant="prod" and delivered to the prod receiver's webhook with tenant and type
labels; tenant stage gets nothing. Then the seed's verification commands (curl | jq) are
checked to answer JSON. Standard library only."""
import json
import os
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "integration"))
sys.path.insert(0, os.path.join(TESTS, "alertmanager"))
from amlib import Sink  # noqa: E402
from harness import ROOT, Daemon, Runner, check, check_eq, check_in  # noqa: E402

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RW_ENCODE = os.path.join(BUILD, "tools", "rw_encode")

run = Runner()


def alerts_at(sink, path):
    """The alerts of every notification the webhook sink got on `path`."""
    return [a for h in sink.get(path) if h[1] == path for a in json.loads(h[2])["alerts"]]


def fallback(sink):
    """The seed's fallback routing, with webhook receivers."""
    return """route:
  group_by: ["alertname", "tenant", "cluster"]
  receiver: default-receiver
  group_wait: 500ms
  group_interval: 1s
  routes:
    - receiver: stage-receiver
      matchers:
        - tenant="stage"
    - receiver: prod-receiver
      matchers:
        - tenant="prod"
receivers:
  - name: default-receiver
    webhook_configs: [{url: "%s"}]
  - name: stage-receiver
    webhook_configs: [{url: "%s"}]
  - name: prod-receiver
    webhook_configs: [{url: "%s"}]
""" % (sink.url("/default"), sink.url("/stage"), sink.url("/prod"))


def manifest(name, tenant, kind, uid, rule):
    return """apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: %s
  namespace: monitoring
  uid: %s
  labels:
    tenant: %s
    type: %s
spec:
  groups:
    - name: %s.rules
      interval: 1s
      rules:
%s""" % (name, uid, tenant, kind, name, rule)


METRIC_RULE = """        - alert: HighErrorRate
          expr: rate(app_errors_total[1m]) > 0.02
          labels:
            severity: page
          annotations:
            summary: "error rate {{ $value }}"
"""
LOG_RULE = """        - alert: HighLogErrorRate
          expr: sum by (app) (count_over_time({level="error"}[1m])) > 3
          labels:
            severity: page
          annotations:
            summary: "{{ $value }} error lines from {{ $labels.app }}"
"""


def rulesync_config(promd_port, logd_port, manifests):
    targets = []
    for tenant in ("stage", "prod"):
        targets.append(("mimir_rules", promd_port, tenant, "metrics"))
        targets.append(("loki_rules", logd_port, tenant, "logs"))
    out = "manifest_dir: %s\n" % manifests
    for section in ("mimir_rules", "loki_rules"):
        out += "%s:\n" % section
        for sec, port, tenant, kind in targets:
            if sec != section:
                continue
            out += ("  - address: http://127.0.0.1:%d\n    tenant_id: %s\n"
                    "    sync_interval: 2s\n"
                    "    rule_selector:\n      match_labels:\n        tenant: %s\n"
                    "        type: %s\n    copy_object_labels: [type]\n"
                    % (port, tenant, tenant, kind))
    return out


def push_metrics(d, tenant):
    now = int(time.time() * 1000)
    lines = ['app_errors_total{job="app"} %d %d' % (i * 10, now - (60 - i * 5) * 1000)
             for i in range(13)]
    body = subprocess.run([RW_ENCODE], input="\n".join(lines).encode(), capture_output=True,
                          check=True).stdout
    r = d.post("/api/v1/push", body, {"X-Scope-OrgID": tenant,
                                      "Content-Type": "application/x-protobuf",
                                      "Content-Encoding": "snappy"})
    check_eq(r.status, 200, "remote write for %s" % tenant)


def push_logs(d, tenant):
    now = time.time_ns()
    values = [[str(now - i * 1000000000), "level=error msg=\"connection refused\" n=%d" % i]
              for i in range(10)]
    body = {"streams": [{"stream": {"app": "api", "level": "error"}, "values": values}]}
    r = d.post("/loki/api/v1/push", json.dumps(body),
               {"X-Scope-OrgID": tenant, "Content-Type": "application/json"})
    check_eq(r.status, 204, "log push for %s" % tenant)


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


@run.test
def seed_flow_metrics_and_logs_to_prod_receiver():
    sink = Sink()
    promd = Daemon("herald-promd", args=[
        "-blocks-storage.tsdb.dir=tsdb", "-ruler.evaluation-delay-duration=0s",
        "-ruler.tenant-label-name=tenant", "-ruler.poll-interval=1s"])
    fb = os.path.join(promd.tmp, "fallback.yaml")
    with open(fb, "w") as f:
        f.write(fallback(sink))
    am_url = "http://127.0.0.1:%d/alertmanager" % promd.port
    promd.args += ["-alertmanager.configs.fallback=" + fb, "-alertmanager.web.external-url=" + am_url,
                   "-ruler.alertmanager-url=" + am_url]
    promd.start()
    logd = Daemon("herald-logd", config="""auth_enabled: true
common:
  path_prefix: ./data
limits_config:
  ruler_evaluation_delay_duration: 0s
ruler:
  alertmanager_url: %s
  enable_api: true
  enable_alertmanager_v2: true
  evaluation_interval: 1s
  poll_interval: 1s
  tenant_label_name: tenant
  storage:
    type: local
    local:
      directory: ./data/rules
""" % am_url).start()

    manifests = os.path.join(promd.tmp, "manifests")
    os.makedirs(manifests)
    uids = {}
    for i, (tenant, kind) in enumerate([("stage", "metrics"), ("prod", "metrics"),
                                        ("stage", "logs"), ("prod", "logs")]):
        name = "%s-alerts-%s" % ("app" if kind == "metrics" else "log", tenant)
        uid = "2f6c8a1e-0d8e-4d3b-9d8e-6b1c2a3d4e%02x" % i
        uids[(tenant, kind)] = (name, uid)
        with open(os.path.join(manifests, name + ".yaml"), "w") as f:
            f.write(manifest(name, tenant, kind, uid,
                             METRIC_RULE if kind == "metrics" else LOG_RULE))
    sync = Daemon("herald-rulesync",
                  config=rulesync_config(promd.port, logd.port, manifests)).start()

    # Rules land in the right ruler, tenant and namespace (Alloy's naming).
    name, uid = uids[("prod", "metrics")]
    ns = "alloy/monitoring/%s/%s" % (name, uid)
    got = wait_for(lambda: promd.get("/prometheus/config/v1/rules",
                                     {"X-Scope-OrgID": "prod"}).json(), 20, "prod metric rules")
    check_eq(list(got), [ns], "Mimir namespace of the prod metrics PrometheusRule")
    name, uid = uids[("prod", "logs")]
    lns = "alloy-monitoring-%s-%s" % (name, uid)
    got = wait_for(lambda: (lambda r: r.status == 200 and r.json())(
        logd.get("/loki/api/v1/rules", {"X-Scope-OrgID": "prod"})), 20, "prod log rules")
    check_eq(list(got), [lns], "Loki namespace of the prod logs PrometheusRule")
    check_eq(list(promd.get("/prometheus/config/v1/rules", {"X-Scope-OrgID": "stage"}).json()),
             ["alloy/monitoring/%s/%s" % uids[("stage", "metrics")]], "stage metrics")

    push_metrics(promd, "prod")
    push_logs(logd, "prod")

    def prod_alerts():
        names = {(a["labels"]["alertname"], a["labels"].get("tenant"), a["labels"].get("type"))
                 for a in alerts_at(sink, "/prod")}
        want = {("HighErrorRate", "prod", "metrics"), ("HighLogErrorRate", "prod", "logs")}
        return want <= names and names
    try:
        wait_for(prod_alerts, 60, "both prod alerts at the prod receiver")
    except AssertionError:
        print("sink:", [(h[1], h[2][:500]) for h in sink.get()])
        for d, path in ((promd, "/prometheus/api/v1/rules"), (logd, "/prometheus/api/v1/rules")):
            print(path, d.get(path, {"X-Scope-OrgID": "prod"}).text[:3000])
        print("promd log:", promd.log_tail())
        print("logd log:", logd.log_tail())
        raise
    log_alert = [a for a in alerts_at(sink, "/prod") if a["labels"]["alertname"] == "HighLogErrorRate"][0]
    check_eq(log_alert["labels"].get("app"), "api", "log alert keeps its by-label")
    check_eq(log_alert["annotations"]["summary"], "10 error lines from api", "LogQL annotation")
    check_eq(alerts_at(sink, "/stage"), [], "stage receiver got nothing")
    check_eq(alerts_at(sink, "/default"), [], "default receiver got nothing")

    # The seed's verification commands answer JSON (`| jq`).
    for tenant in ("stage", "prod"):
        h = {"X-Scope-OrgID": tenant}
        for d, path in ((promd, "/prometheus/api/v1/rules"), (logd, "/loki/api/v1/rules"),
                        (promd, "/alertmanager/api/v2/alerts"),
                        (promd, "/prometheus/api/v1/alerts"), (logd, "/loki/api/v1/rules/alerts")):
            r = d.get(path, h)
            check_eq(r.status, 200, "%s %s" % (tenant, path))
            r.json()  # parses
    am = promd.get("/alertmanager/api/v2/alerts", {"X-Scope-OrgID": "prod"}).json()
    check_eq(sorted(a["labels"]["alertname"] for a in am), ["HighErrorRate", "HighLogErrorRate"],
             "prod's Alertmanager holds both alerts")
    check_eq(promd.get("/alertmanager/api/v2/alerts", {"X-Scope-OrgID": "stage"}).json(), [],
             "stage's Alertmanager holds none")
    lalerts = logd.get("/loki/api/v1/rules/alerts", {"X-Scope-OrgID": "prod"}).json()
    check_in("HighLogErrorRate", json.dumps(lalerts), "logd lists its firing alert")

    # Deleting a manifest removes its groups on the next sync.
    os.remove(os.path.join(manifests, uids[("prod", "logs")][0] + ".yaml"))
    wait_for(lambda: logd.get("/loki/api/v1/rules", {"X-Scope-OrgID": "prod"}).status == 404,
             20, "prod log rules deleted")
    sync.stop()
    logd.stop()
    promd.stop()
    sink.close()


if __name__ == "__main__":
    run.main()
