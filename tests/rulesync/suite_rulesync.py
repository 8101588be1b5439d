#!/usr/bin/env python3
"""herald-rulesync end to end: the seed's PrometheusRules (tenant prod/stage x type
metrics/logs) synced from a manifest directory, then from a fake Kubernetes API server, into
real herald-promd (Mimir ruler) and herald-logd (Loki ruler) processes. Checks placement
(ruler, tenant, namespace name), updates, deletions, unmanaged namespaces left alone, a bad
manifest aborting its component's reconcile with the error in the status page, and the
metrics rule evaluating in herald-promd. Last line: "N passed, N failed"."""
import json
import os
import signal
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)

from harness import Daemon, Runner, check, check_eq, check_in, wait_until  # noqa: E402
from fakekube import FakeKube  # noqa: E402
from fakeruler import FakeRuler  # noqa: E402

run = Runner()

UIDS = {
    "app-alerts": "2f6c8a1e-0d8e-4d3b-9d8e-6b1c2a3d4e5f",
    "app-alerts-stage": "3a7d9b2f-1e9f-4e4c-8e9f-7c2d3b4e5f60",
    "log-alerts": "4b8eac30-2fa0-4f5d-9fa0-8d3e4c5f6071",
    "log-alerts-stage": "5c9fbd41-30b1-4a6e-80b1-9e4f5d607182",
}


# ---- manifests ------------------------------------------------------------------------------
def prometheus_rule(name, tenant, typ, groups, namespace="monitoring", uid=True):
    meta = {"name": name, "namespace": namespace, "labels": {"tenant": tenant, "type": typ}}
    if uid:
        meta["uid"] = UIDS[name]
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": meta, "spec": {"groups": groups}}


def metrics_groups(threshold="0.02"):
    return [{"name": "app.rules", "interval": "1s", "rules": [
        {"alert": "HighErrorRate", "expr": "rate(errors_total[5m]) > " + threshold,
         "for": "1m", "labels": {"severity": "page"},
         "annotations": {"summary": "error rate high"}},
        {"record": "job:errors:rate5m", "expr": "sum by (job) (rate(errors_total[5m]))"}]}]


def log_groups(threshold="5"):
    return [{"name": "log.rules", "rules": [
        {"alert": "ErrorLogs", "expr": 'sum(rate({level="error"}[5m])) > ' + threshold,
         "for": "1m", "labels": {"severity": "warning"}}]}]


def to_yaml(v, indent=0):
    """A small YAML writer: dicts, lists and scalars (strings quoted as JSON, valid YAML)."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        out = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(x, indent + 2)))
            else:
                out.append("%s%s: %s" % (pad, k, to_yaml(x, 0)))
        return "\n".join(out)
    if isinstance(v, list):
        if not v:
            return "[]"
        out = []
        for x in v:
            body = to_yaml(x, indent + 2).lstrip() if isinstance(x, (dict, list)) else to_yaml(x)
            out.append("%s- %s" % (pad, body))
        return "\n".join(out)
    return json.dumps(v)


def seed_objects():
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring",
                                                                 "labels": {"team": "sre"}}},
        prometheus_rule("app-alerts", "prod", "metrics", metrics_groups()),
        prometheus_rule("app-alerts-stage", "stage", "metrics", metrics_groups("0.05")),
        prometheus_rule("log-alerts", "prod", "logs", log_groups()),
        prometheus_rule("log-alerts-stage", "stage", "logs", log_groups("10")),
    ]


def write_manifests(d, objects):
    """Namespace + metrics rules as one multi-document YAML file, log rules as a List in
    JSON: both forms a manifest directory accepts."""
    docs = [o for o in objects if o["kind"] == "Namespace" or
            o["metadata"]["labels"].get("type") == "metrics"]
    logs = [o for o in objects if o not in docs]
    with open(os.path.join(d, "seed.yaml"), "w") as f:
        f.write("\n---\n".join(to_yaml(o) for o in docs) + "\n")
    with open(os.path.join(d, "logs.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": logs}, f)


# ---- daemons --------------------------------------------------------------------------------
def start_rulers():
    promd = Daemon("herald-promd", config="ruler:\n  poll_interval: 1s\n").start()
    logd = Daemon("herald-logd").start()
    return promd, logd


def rulesync_config(promd, logd, source):
    entries = []
    for kind, d, typ in (("mimir_rules", promd, "metrics"), ("loki_rules", logd, "logs")):
        entries.append(kind + ":")
        for tenant in ("prod", "stage"):
            entries.append("""  - address: http://127.0.0.1:%d
    tenant_id: %s
    sync_interval: 2s
    copy_object_labels: [type]
    rule_selector:
      match_labels: {tenant: %s, type: %s}""" % (d.port, tenant, tenant, typ))
    return source + "\n".join(entries) + "\n"


def start_rulesync(promd, logd, manifest_dir):
    cfg = rulesync_config(promd, logd, "manifest_dir: %s\n" % manifest_dir)
    return Daemon("herald-rulesync", config=cfg).start()


def mimir_rules(promd, tenant):
    r = promd.get("/prometheus/config/v1/rules", headers={"X-Scope-OrgID": tenant})
    check_eq(r.status, 200, "mimir listing status")
    return r.json()


def loki_rules(logd, tenant):
    r = logd.get("/loki/api/v1/rules", headers={"X-Scope-OrgID": tenant})
    if r.status == 404:
        return {}
    check_eq(r.status, 200, "loki listing status")
    return r.json()


def mimir_ns(name):
    return "alloy/monitoring/%s/%s" % (name, UIDS[name])


def loki_ns(name):
    return "alloy-monitoring-%s-%s" % (name, UIDS[name])


def status(rs):
    r = rs.get("/status")
    check_eq(r.status, 200, "status")
    return r.json()


def component(rs, cid):
    return [c for c in status(rs)["components"] if c["id"] == cid][0]


def first_rule(listing, ns):
    return listing[ns][0]["rules"][0]


def wait_seed_synced(promd, logd):
    wait_until(lambda: mimir_ns("app-alerts") in mimir_rules(promd, "prod"), timeout=15,
               what="prod metrics rules in herald-promd")
    wait_until(lambda: mimir_ns("app-alerts-stage") in mimir_rules(promd, "stage"), timeout=15,
               what="stage metrics rules in herald-promd")
    wait_until(lambda: loki_ns("log-alerts") in loki_rules(logd, "prod"), timeout=15,
               what="prod log rules in herald-logd")
    wait_until(lambda: loki_ns("log-alerts-stage") in loki_rules(logd, "stage"), timeout=15,
               what="stage log rules in herald-logd")


def check_seed_placement(promd, logd):
    prod, stage = mimir_rules(promd, "prod"), mimir_rules(promd, "stage")
    check_eq(sorted(prod), [mimir_ns("app-alerts")], "prod Mimir namespaces")
    check_eq(sorted(stage), [mimir_ns("app-alerts-stage")], "stage Mimir namespaces")
    alert = first_rule(prod, mimir_ns("app-alerts"))
    check_eq(alert["expr"], "rate(errors_total[5m]) > 0.02", "prod expr")
    check_eq(alert["labels"], {"severity": "page", "type": "metrics"}, "labels + copied type")
    check_eq(prod[mimir_ns("app-alerts")][0]["interval"], "1s", "interval")
    lprod, lstage = loki_rules(logd, "prod"), loki_rules(logd, "stage")
    check_eq(sorted(lprod), [loki_ns("log-alerts")], "prod Loki namespaces")
    check_eq(sorted(lstage), [loki_ns("log-alerts-stage")], "stage Loki namespaces")
    check_eq(first_rule(lstage, loki_ns("log-alerts-stage"))["labels"]["type"], "logs", "type")
    check_eq(loki_rules(logd, "anonymous"), {}, "no rules for other tenants")


# ---- tests: manifest directory --------------------------------------------------------------
@run.test
def seed_rules_land_in_the_right_ruler_tenant_and_namespace():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    write_manifests(d, seed_objects())
    rs = start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    check_seed_placement(promd, logd)
    st = status(rs)
    check_eq(st["source"], "manifest_dir", "source")
    check_eq(len(st["components"]), 4, "components")
    wait_until(lambda: all(c["health"] == "healthy" and c["last_sync"] for c in
                           status(rs)["components"]), timeout=10, what="all healthy")
    check_eq(component(rs, "mimir_rules[0]")["managed_namespaces"], [mimir_ns("app-alerts")],
             "managed namespaces in the status")
    metrics = rs.get("/metrics").text
    check_in('mimir_rules_events_total{component_id="mimir_rules[0]",type="sync-mimir"}', metrics)
    check_in("loki_rules_loki_client_request_duration_seconds_bucket", metrics)
    check_in('msg="added rule group"', rs.log())
    time.sleep(2.5)  # another sync: what the rulers answer re-serialises to the same bytes
    check('msg="updated rule group"' not in rs.log(), "steady state posts nothing")


@run.test
def metrics_rule_evaluates_in_promd():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    write_manifests(d, seed_objects())
    start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)

    def evaluated():
        r = promd.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": "prod"}).json()
        groups = r["data"]["groups"]
        ok = [g for g in groups if g["file"] == mimir_ns("app-alerts") and
              all(rule["health"] == "ok" for rule in g["rules"]) and
              not g["lastEvaluation"].startswith("0001")]
        return ok
    groups = wait_until(evaluated, timeout=20, what="the synced group evaluated")
    names = [rule["name"] for rule in groups[0]["rules"]]
    check_eq(names, ["HighErrorRate", "job:errors:rate5m"], "rules evaluated")


@run.test
def edit_updates_and_delete_removes_groups():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    objs = seed_objects()
    write_manifests(d, objs)
    rs = start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    objs[1] = prometheus_rule("app-alerts", "prod", "metrics", metrics_groups("0.5"))
    objs[3] = prometheus_rule("log-alerts", "prod", "logs", log_groups("50"))
    write_manifests(d, objs)
    wait_until(lambda: first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"]
               == "rate(errors_total[5m]) > 0.5", timeout=10, what="Mimir group updated")
    wait_until(lambda: first_rule(loki_rules(logd, "prod"), loki_ns("log-alerts"))["expr"]
               .endswith("> 50"), timeout=10, what="Loki group updated")
    check_in('msg="updated rule group"', rs.log())
    objs = [o for o in objs if o["metadata"]["name"] not in ("app-alerts", "log-alerts-stage")]
    write_manifests(d, objs)
    wait_until(lambda: mimir_rules(promd, "prod") == {}, timeout=10, what="Mimir group deleted")
    wait_until(lambda: loki_rules(logd, "stage") == {}, timeout=10, what="Loki group deleted")
    check(mimir_ns("app-alerts-stage") in mimir_rules(promd, "stage"), "stage rules kept")
    check_in('msg="removed rule group"', rs.log())
    os.remove(os.path.join(d, "seed.yaml"))
    wait_until(lambda: mimir_rules(promd, "stage") == {}, timeout=10, what="file removed")


@run.test
def unmanaged_namespaces_are_never_touched():
    promd, logd = start_rulers()
    group = "name: manual\nrules:\n  - alert: Manual\n    expr: up == 0\n"
    stale = "name: old\nrules:\n  - alert: Old\n    expr: up == 0\n"
    hdr = {"X-Scope-OrgID": "prod"}
    unmanaged = ["prod-manual", "alloy/monitoring/no-uid-here", "other/monitoring/x/" +
                 UIDS["app-alerts"]]
    for ns in unmanaged:
        r = promd.post("/prometheus/config/v1/rules/" + urllib.parse.quote(ns, safe=""),
                       body=group, headers=hdr)
        check_eq(r.status, 202, "POST " + ns)
    # a managed namespace left behind by an object that no longer exists: garbage-collected
    leftover = "alloy/monitoring/deleted/" + UIDS["log-alerts"]
    r = promd.post("/prometheus/config/v1/rules/" + urllib.parse.quote(leftover, safe=""),
                   body=stale, headers=hdr)
    check_eq(r.status, 202, "POST leftover")
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    write_manifests(d, seed_objects())
    start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    wait_until(lambda: leftover not in mimir_rules(promd, "prod"), timeout=10,
               what="leftover managed namespace removed")
    time.sleep(2.5)  # at least one more sync_interval
    prod = mimir_rules(promd, "prod")
    for ns in unmanaged:
        check(ns in prod and prod[ns][0]["name"] == "manual", "unmanaged %s kept" % ns)


@run.test
def bad_manifest_aborts_its_component_and_shows_in_status():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    objs = seed_objects()
    write_manifests(d, objs)
    rs = start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    bad = prometheus_rule("bad", "prod", "metrics", [{"name": "b", "rules": [
        {"alert": "Broken", "expr": "rate(errors_total[5m] > 1"}]}], uid=False)
    with open(os.path.join(d, "bad.yml"), "w") as f:
        f.write(to_yaml(bad) + "\n")
    c = wait_until(lambda: (lambda c: c if c["health"] == "unhealthy" else None)(
        component(rs, "mimir_rules[0]")), timeout=10, what="prod Mimir component unhealthy")
    check_in("failed to convert rule group: ", c["message"])
    check_in("could not parse expression", c["message"])
    # the whole reconcile of that component is aborted: an edit is not applied...
    objs[1] = prometheus_rule("app-alerts", "prod", "metrics", metrics_groups("0.9"))
    objs[2] = prometheus_rule("app-alerts-stage", "stage", "metrics", metrics_groups("0.9"))
    write_manifests(d, objs)
    # ...while the other components go on
    wait_until(lambda: first_rule(mimir_rules(promd, "stage"), mimir_ns("app-alerts-stage"))
               ["expr"].endswith("> 0.9"), timeout=10, what="stage component still syncing")
    check_eq(first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"],
             "rate(errors_total[5m]) > 0.02", "prod group left as it was")
    check_in("failed to process event", rs.log())
    h = rs.get("/-/healthy")
    check_eq((h.status, h.text.strip()), (500, "unhealthy components: mimir_rules[0]"), "healthy")
    os.remove(os.path.join(d, "bad.yml"))
    wait_until(lambda: first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"]
               .endswith("> 0.9"), timeout=10, what="prod synced once the bad manifest left")
    c = wait_until(lambda: (lambda c: c if c["health"] == "healthy" else None)(
        component(rs, "mimir_rules[0]")), timeout=10, what="healthy again")
    check_in("failed to convert rule group", c["last_error"])
    check(c["last_error_time"] is not None, "last error time kept")


@run.test
def ruler_4xx_is_not_retried_and_other_namespaces_go_on():
    promd = Daemon("herald-promd", config="limits:\n  ruler_max_rules_per_rule_group: 1\n").start()
    logd = Daemon("herald-logd").start()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    small = prometheus_rule("log-alerts", "prod", "metrics", [{"name": "one", "rules": [
        {"alert": "Down", "expr": "up == 0"}]}])   # one rule: accepted
    write_manifests(d, seed_objects()[:2] + [small])  # app-alerts has two rules: 400
    rs = start_rulesync(promd, logd, d)
    want = "alloy/monitoring/log-alerts/" + UIDS["log-alerts"]
    wait_until(lambda: want in mimir_rules(promd, "prod"), timeout=10,
               what="the acceptable namespace synced")
    c = wait_until(lambda: (lambda c: c if c["health"] == "unhealthy" else None)(
        component(rs, "mimir_rules[0]")), timeout=10, what="unhealthy after the 400")
    check_in("error POST /prometheus/config/v1/rules/alloy%2Fmonitoring%2Fapp-alerts%2F", c["message"])
    check_in("server returned HTTP status 400 Bad Request: per-user rules per rule group limit",
             c["message"])
    check(mimir_ns("app-alerts") not in mimir_rules(promd, "prod"), "rejected group absent")
    check_in("unrecoverable error or max retries exceeded\" component=mimir_rules[0] retries=0/5",
             rs.log())
    check('mimir_rules_events_retried_total{component_id="mimir_rules[0]"' not in
          rs.get("/metrics").text, "a 4xx is not retried")


POSTED_GROUP = """name: app.rules
interval: 1s
rules:
    - alert: HighErrorRate
      expr: rate(errors_total[5m]) > 0.02
      for: 1m
      labels:
        severity: page
      annotations:
        summary: error rate high
    - record: job:errors:rate5m
      expr: sum by (job) (rate(errors_total[5m]))
"""


@run.test
def requests_on_the_wire():
    mimir = FakeRuler().start()
    loki = FakeRuler("/loki/api/v1/rules", empty_status=404).start()
    try:
        d = tempfile.mkdtemp(prefix="rulesync-manifests-")
        write_manifests(d, seed_objects())
        cfg = ("manifest_dir: %s\n"
               "mimir_rules:\n  - address: 127.0.0.1:%d\n    tenant_id: prod\n"
               "    sync_interval: 1s\n    http_headers: {X-Extra: on}\n"
               "    rule_selector: {match_labels: {tenant: prod, type: metrics}}\n"
               "loki_rules:\n  - address: http://127.0.0.1:%d/\n    sync_interval: 1s\n"
               "    rule_selector: {match_labels: {tenant: prod, type: logs}}\n"
               % (d, mimir.port, loki.port))
        rs = Daemon("herald-rulesync", config=cfg).start()
        wait_until(lambda: mimir.seen("POST") and loki.seen("POST"), timeout=10, what="POSTs")
        _, path, headers, body = mimir.seen("POST")[0]
        check_eq(path, "/prometheus/config/v1/rules/alloy%2Fmonitoring%2Fapp-alerts%2F" +
                 UIDS["app-alerts"], "escaped namespace")
        check("content-type" not in headers, "no Content-Type: %r" % headers)
        check_eq(headers.get("x-scope-orgid"), "prod", "tenant header")
        check_eq(headers.get("x-extra"), "on", "http_headers")
        check_eq(body, POSTED_GROUP, "body")
        _, lpath, lheaders, _ = loki.seen("POST")[0]
        check_eq(lpath, "/loki/api/v1/rules/" + loki_ns("log-alerts"), "Loki namespace")
        check("x-scope-orgid" not in lheaders, "empty tenant_id: no header")
        time.sleep(2.5)  # more syncs: what the ruler lists back equals what is wanted
        check_eq((len(mimir.seen("POST")), len(loki.seen("POST"))), (1, 1), "no re-POST")
        # a 500 is retried (and counted); the component recovers
        mimir.fail_next(500)
        want = 'mimir_rules_events_retried_total{component_id="mimir_rules[0]",type="sync-mimir"} 1'
        wait_until(lambda: want in rs.get("/metrics").text, timeout=10, what="a retry")
        check_in("server returned HTTP status 500 Internal Server Error: injected failure",
                 rs.log())
        # the object goes: its group is deleted, by name, in the escaped namespace
        write_manifests(d, [o for o in seed_objects() if o["metadata"]["name"] != "app-alerts"])
        wait_until(lambda: mimir.seen("DELETE"), timeout=10, what="DELETE")
        check_eq(mimir.seen("DELETE")[0][1], "/prometheus/config/v1/rules/alloy%2Fmonitoring%2F"
                 "app-alerts%2F" + UIDS["app-alerts"] + "/app.rules", "DELETE path")
        wait_until(lambda: component(rs, "mimir_rules[0]")["managed_namespaces"] == [],
                   timeout=10, what="namespace gone")
    finally:
        mimir.stop()
        loki.stop()


@run.test
def sighup_rescans_and_syntax_errors_keep_the_last_good_file():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    objs = seed_objects()
    write_manifests(d, objs)
    rs = start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    # same size and mtime: the 1 s poll cannot see this edit, only SIGHUP (or the 30 s rescan)
    # (written aside with the old mtimes, then renamed in, so no poll sees a changed mtime)
    path = os.path.join(d, "seed.yaml")
    stats = {f: os.stat(os.path.join(d, f)) for f in os.listdir(d)}
    objs[1] = prometheus_rule("app-alerts", "prod", "metrics", metrics_groups("0.03"))
    staging = tempfile.mkdtemp(prefix="rulesync-staging-", dir=d + "/..")
    write_manifests(staging, objs)
    for f, st in stats.items():
        os.utime(os.path.join(staging, f), ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(os.path.join(staging, f), os.path.join(d, f))
    check_eq(os.stat(path).st_size, stats["seed.yaml"].st_size, "same size")
    time.sleep(1.5)
    check(first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"].endswith(
        "> 0.02"), "not seen before SIGHUP")
    rs.signal(signal.SIGHUP)
    wait_until(lambda: first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"]
               .endswith("> 0.03"), timeout=5, what="seen after SIGHUP")
    with open(path, "w") as f:
        f.write("kind: PrometheusRule\nmetadata: {name: x\n")  # not YAML any more
    wait_until(lambda: status(rs)["errors"], timeout=10, what="file error in the status")
    check_in("seed.yaml: line", status(rs)["errors"][0])
    time.sleep(2.5)
    check(first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["expr"].endswith(
        "> 0.03"), "objects of the last good file kept")


@run.test
def reload_applies_new_arguments():
    promd, logd = start_rulers()
    d = tempfile.mkdtemp(prefix="rulesync-manifests-")
    write_manifests(d, seed_objects())
    rs = start_rulesync(promd, logd, d)
    wait_seed_synced(promd, logd)
    check_eq(rs.get("/-/healthy").status, 200, "healthy")
    cfg = rulesync_config(promd, logd, "manifest_dir: %s\n" % d).replace(
        "copy_object_labels: [type]", "copy_object_labels: [type]\n    external_labels: {env: eu}", 1)
    rs.write_config(cfg)
    r = rs.post("/-/reload")
    check_eq(r.status, 200, "reload")
    wait_until(lambda: first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))["labels"]
               .get("env") == "eu", timeout=10, what="external label after the reload")
    check_eq(first_rule(mimir_rules(promd, "stage"), mimir_ns("app-alerts-stage"))["labels"]
             .get("env"), None, "other components unchanged")
    check_in('mimir_rules_config_updates_total{component_id="mimir_rules[0]"} 1',
             rs.get("/metrics").text)


# ---- tests: Kubernetes API ------------------------------------------------------------------
@run.test
def kubernetes_list_and_watch():
    promd, logd = start_rulers()
    token_file = os.path.join(tempfile.mkdtemp(prefix="rulesync-sa-"), "token")
    with open(token_file, "w") as f:
        f.write("s3cret\n")
    kube = FakeKube(token="s3cret").start()
    try:
        for o in seed_objects():
            kube.put(o)
        cfg = rulesync_config(promd, logd, "kubernetes:\n  api_server: http://127.0.0.1:%d\n"
                              "  bearer_token_file: %s\n" % (kube.port, token_file))
        rs = Daemon("herald-rulesync", config=cfg).start()
        wait_seed_synced(promd, logd)
        check_seed_placement(promd, logd)
        check_eq(status(rs)["source"], "kubernetes", "source")
        path = "/apis/monitoring.coreos.com/v1/prometheusrules"
        wait_until(lambda: kube.count("GET", path, watch=True) >= 1, timeout=5, what="a watch")
        # MODIFIED event
        kube.put(prometheus_rule("app-alerts", "prod", "metrics", metrics_groups("0.7")))
        wait_until(lambda: first_rule(mimir_rules(promd, "prod"), mimir_ns("app-alerts"))
                   ["expr"].endswith("> 0.7"), timeout=10, what="update through WATCH")
        # a new object, ADDED
        extra = prometheus_rule("log-alerts", "stage", "logs", log_groups("3"),
                                namespace="payments")
        kube.put(extra)
        want = "alloy-payments-log-alerts-" + UIDS["log-alerts"]
        wait_until(lambda: want in loki_rules(logd, "stage"), timeout=10, what="ADDED synced")
        # 410 Gone: the client lists again, and sees a change made meanwhile
        lists = kube.count("GET", path, watch=False)
        kube.expire_watches()
        wait_until(lambda: kube.count("GET", path, watch=False) > lists, timeout=10,
                   what="re-LIST after 410")
        # DELETED
        kube.delete("PrometheusRule", "monitoring", "app-alerts-stage")
        wait_until(lambda: mimir_rules(promd, "stage") == {}, timeout=10, what="DELETED synced")
        # a namespace selector follows Namespace events
        kube.put({"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "monitoring", "labels": {"team": "other"}}})
        check(mimir_ns("app-alerts") in mimir_rules(promd, "prod"), "no selector: kept")
    finally:
        kube.stop()


@run.test
def kubernetes_namespace_selector():
    promd, logd = start_rulers()
    kube = FakeKube().start()
    try:
        for o in seed_objects():
            kube.put(o)
        cfg = ("kubernetes:\n  api_server: http://127.0.0.1:%d\n"
               "mimir_rules:\n  - address: http://127.0.0.1:%d\n    tenant_id: prod\n"
               "    rule_selector: {match_labels: {tenant: prod}}\n"
               "    rule_namespace_selector:\n      match_expression:\n"
               "        - {key: team, operator: In, values: [sre]}\n") % (kube.port, promd.port)
        Daemon("herald-rulesync", config=cfg).start()
        wait_until(lambda: mimir_ns("app-alerts") in mimir_rules(promd, "prod"), timeout=10,
                   what="synced while the namespace matches")
        kube.put({"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "monitoring", "labels": {"team": "other"}}})
        wait_until(lambda: mimir_rules(promd, "prod") == {}, timeout=10,
                   what="removed once the namespace no longer matches")
    finally:
        kube.stop()


@run.test
def kubernetes_through_a_kubeconfig():
    promd, logd = start_rulers()
    kube = FakeKube(token="from-kubeconfig").start()
    try:
        for o in seed_objects():
            kube.put(o)
        kc = os.path.join(tempfile.mkdtemp(prefix="rulesync-kc-"), "config")
        with open(kc, "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                    "clusters: [{name: fake, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
                    "contexts: [{name: test, context: {cluster: fake, user: me}}]\n"
                    "users: [{name: me, user: {token: from-kubeconfig}}]\n" % kube.port)
        cfg = rulesync_config(promd, logd, "kubernetes:\n  kubeconfig_file: %s\n" % kc)
        rs = Daemon("herald-rulesync", config=cfg).start()
        wait_seed_synced(promd, logd)
        check_eq(status(rs)["api_server"], "http://127.0.0.1:%d" % kube.port, "server")
    finally:
        kube.stop()


@run.test
def bad_config_is_refused():
    d = Daemon("herald-rulesync", config="mimir_rules:\n  - tenant_id: x\n")
    d.spawn()
    check_eq(d.wait_exit(), 1, "exit code")
    check_in("\"address\" is required", d.log())
    # No source at all: ./data/manifests (created), so that a bare start works.
    d2 = Daemon("herald-rulesync", config="", env={"KUBERNETES_SERVICE_HOST": ""}).start()
    check_in('dir=./data/manifests', d2.log(), "default manifest directory")
    check(os.path.isdir(os.path.join(d2.tmp, "data", "manifests")), "created")
    d2.stop()
    d3 = Daemon("herald-rulesync", config="manifest_dir: /\nloki_rules:\n"
                "  - {address: 'http://x', sync_interval: 0s}\n")
    d3.spawn()
    check_eq(d3.wait_exit(), 1, "exit code with sync_interval 0")
    check_in("loki_rules[0]: sync_interval must be greater than 0", d3.log())


if __name__ == "__main__":
    run.main()
