#!/usr/bin/env python3
"""herald-alertd over HTTP: tenants (412 without config, fallback, isolation), the per-tenant
config API, the v2 API (alerts, groups, silences, status, receivers) with upstream's error
shapes, webhook delivery end to end, restart persistence (SIGTERM and kill -9), and amtool
0.25 against it. Last line: "N passed, N failed"."""
import json
import os
import signal
import subprocess
import tempfile
import time

from amlib import AMTOOL, Sink, alertd, rfc3339
from harness import Runner, check, check_eq, check_in

run = Runner()
A = "/alertmanager/api/v2"


def H(tenant):
    return {"X-Scope-OrgID": tenant}


def webhook_cfg(sink, path="/hook", extra_route=""):
    return ("route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 200ms\n"
            "  group_interval: 1s\n  repeat_interval: 1h\n%s"
            "receivers:\n  - name: hook\n    webhook_configs:\n      - url: %s\n"
            % (extra_route, sink.url(path)))


def user_cfg(am_yaml, templates=None):
    out = "alertmanager_config: |\n" + "".join("  " + l + "\n" for l in am_yaml.splitlines())
    if templates:
        out += "template_files:\n" + "".join(
            "  %s: %s\n" % (k, json.dumps(v)) for k, v in templates.items())
    return out


@run.test
def unconfigured_tenant_gets_412():
    d = alertd().start()
    r = d.get(A + "/alerts", H("t1"))
    check_eq(r.status, 412, "status")
    check_eq(r.text, "the Alertmanager is not configured\n", "body")
    check_eq(d.get(A + "/alerts").status, 401, "no org id")
    check_eq(d.get("/api/v1/alerts", H("t1")).status, 404, "no stored config")


@run.test
def config_api_roundtrip_and_validation():
    sink = Sink()
    d = alertd().start()
    bad = user_cfg("route: {receiver: nope}\nreceivers: [{name: r}]")
    r = d.post("/api/v1/alerts", bad, H("t1"))
    check_eq(r.status, 400, "invalid config")
    check_eq(r.text, "error validating Alertmanager config: undefined receiver \"nope\" used "
             "in route\n", "message")
    r = d.post("/api/v1/alerts", "alertmanager_config: ''\n", H("t1"))
    check_eq(r.status, 400, "empty config")
    check_in("configuration provided is empty", r.text, "empty message")
    r = d.post("/api/v1/alerts", "a: [\n", H("t1"))
    check_eq(r.status, 400, "bad yaml")
    check_in("error marshalling YAML Alertmanager config", r.text)
    check_eq(d.get(A + "/status", H("t1")).status, 412, "nothing applied")
    good = user_cfg(webhook_cfg(sink), {"x.tmpl": '{{ define "x" }}X{{ end }}'})
    r = d.post("/api/v1/alerts", good, H("t1"))
    check_eq(r.status, 201, "created")
    r = d.get("/api/v1/alerts", H("t1"))
    check_eq(r.status, 200, "get")
    got = r.json()
    check_in("receiver: hook", got["alertmanager_config"], "config text")
    check_eq(got["template_files"], {"x.tmpl": '{{ define "x" }}X{{ end }}'}, "templates")
    y = d.get("/api/v1/alerts", {"X-Scope-OrgID": "t1", "Accept": "application/yaml"})
    check(y.text.startswith("template_files:\n    x.tmpl:"), "yaml form: %r" % y.text[:80])
    st = d.get(A + "/status", H("t1")).json()
    check_in("receiver: hook", st["config"]["original"], "status shows the config")
    check_eq(d.get(A + "/receivers", H("t1")).json(), [{"name": "hook"}], "receivers")
    check_eq(d.request("DELETE", "/api/v1/alerts", None, H("t1")).status, 200, "delete")
    check_eq(d.get(A + "/alerts", H("t1")).status, 412, "gone after delete")
    sink.close()


@run.test
def local_storage_backend_is_read_only():
    sink = Sink()
    local = tempfile.mkdtemp(prefix="am-local-")
    with open(os.path.join(local, "t1.yaml"), "w") as f:
        f.write(webhook_cfg(sink))
    d = alertd(args=["-alertmanager-storage.backend=local",
                     "-alertmanager-storage.local.path=" + local]).start()
    check_eq(d.get(A + "/receivers", H("t1")).json(), [{"name": "hook"}], "loaded from t1.yaml")
    check_eq(d.get(A + "/alerts", H("t2")).status, 412, "no file, no fallback")
    check_in("receiver: hook", d.get("/api/v1/alerts", H("t1")).json()["alertmanager_config"],
             "GET shows the file")
    r = d.post("/api/v1/alerts", user_cfg(webhook_cfg(sink)), H("t1"))
    check_eq((r.status, r.text), (500, "local alertmanager config storage is read-only\n"),
             "read-only")
    sink.close()


@run.test
def alerts_post_get_and_errors():
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink)).start()
    now = time.time()
    body = [{"labels": {"alertname": "A", "tenant": "prod", "empty": ""},
             "annotations": {"summary": "s"}, "startsAt": rfc3339(now - 60),
             "generatorURL": "http://prom/graph"},
            {"labels": {"alertname": "B"}, "startsAt": rfc3339(now),
             "endsAt": rfc3339(now - 10)}]
    r = d.post(A + "/alerts", body, H("t1"))
    check_eq(r.status, 400, "one invalid alert")
    check_eq(r.json(), "start time must be before end time", "validation message")
    got = d.get(A + "/alerts", H("t1")).json()
    check_eq(len(got), 1, "the valid alert was stored")
    a = got[0]
    check_eq(a["labels"], {"alertname": "A", "tenant": "prod"}, "empty label dropped")
    check_eq(a["receivers"], [{"name": "hook"}], "receivers")
    check_eq(a["status"]["state"], "active", "state")
    check_eq(a["generatorURL"], "http://prom/graph", "generatorURL")
    r = d.post(A + "/alerts", "not json", H("t1"))
    check_eq(r.status, 400, "malformed JSON")
    check_in("parsing alerts body", r.json()["message"], "message")
    r = d.post(A + "/alerts", [{"annotations": {}}], H("t1"))
    check_eq(r.status, 422, "labels missing")
    check_eq(r.json(), {"code": 602, "message": "0.labels in body is required"}, "openapi error")
    r = d.get(A + "/alerts?filter=alertname%3D~%22(%22", H("t1"))
    check_eq(r.status, 400, "bad filter regex")
    r = d.get(A + "/alerts?filter=tenant%3D%22prod%22&filter=alertname%3D%22A%22", H("t1"))
    check_eq(len(r.json()), 1, "filter match")
    r = d.get(A + "/alerts?filter=tenant%3D%22dev%22", H("t1"))
    check_eq(r.json(), [], "filter excludes")
    check_eq(d.get(A + "/alerts?receiver=nomatch", H("t1")).json(), [], "receiver filter")
    check_eq(d.get(A + "/alerts?active=false", H("t1")).json(), [], "active=false")
    groups = d.get(A + "/alerts/groups", H("t1")).json()
    check_eq(len(groups), 1, "one group")
    check_eq(groups[0]["labels"], {"alertname": "A"}, "group labels")
    check_eq(groups[0]["receiver"], {"name": "hook"}, "group receiver")
    r = d.get("/alertmanager/api/v1/alerts", H("t1"))
    check_eq(r.status, 410, "v1 removed")
    sink.close()


@run.test
def fifty_megabyte_body_is_refused_and_daemon_lives():
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink)).start()
    big = b'[{"labels":{"a":"' + b"x" * (50 * 1024 * 1024)
    r = d.post(A + "/alerts", big, H("t1"), timeout=60)
    check_eq(r.status, 400, "truncated JSON")
    check_in("parsing alerts body", r.json()["message"], "message")
    check_eq(d.get(A + "/alerts", H("t1")).status, 200, "still up")
    sink.close()


@run.test
def tenant_limits_with_runtime_overrides():
    """Mimir's per-tenant Alertmanager limits, set for one tenant in the runtime config:
    alerts over the count are dropped (200, logged, counted), silences over the count or
    size are refused with Alertmanager's texts; other tenants are unaffected."""
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink))
    rt = os.path.join(d.tmp, "rt.yaml")
    with open(rt, "w") as f:
        f.write("overrides:\n  t1:\n    alertmanager_max_alerts_count: 2\n"
                "    alertmanager_max_silences_count: 1\n"
                "    alertmanager_max_silence_size_bytes: 400\n")
    d.args.append("-runtime-config.file=" + rt)
    d.start()
    alerts = [{"labels": {"alertname": "A%d" % i}} for i in range(3)]
    check_eq(d.post(A + "/alerts", alerts, H("t1")).status, 200, "accepted, as upstream")
    check_eq(len(d.get(A + "/alerts", H("t1")).json()), 2, "the third alert was dropped")
    check_eq(d.post(A + "/alerts", alerts[:1], H("t1")).status, 200, "update of a held alert")
    check_eq(d.post(A + "/alerts", alerts, H("t2")).status, 200, "t2")
    check_eq(len(d.get(A + "/alerts", H("t2")).json()), 3, "t2 has no limit")
    check_in('alertmanager_alerts_insert_limited_total{user="t1"} 1',
             d.get("/metrics").text, "limited counter")
    check_in("too many alerts, limit: 2", d.log_tail(), "logged")
    now = time.time()
    sil = {"matchers": [{"name": "a", "value": "b", "isRegex": False}],
           "startsAt": rfc3339(now - 10), "endsAt": rfc3339(now + 3600),
           "createdBy": "ops", "comment": "x"}
    check_eq(d.post(A + "/silences", sil, H("t1")).status, 200, "first silence")
    r = d.post(A + "/silences", sil, H("t1"))
    check_eq((r.status, r.json()), (400, "exceeded maximum number of silences: 1 (limit: 1)"),
             "second silence")
    check_eq(d.post(A + "/silences", sil, H("t2")).status, 200, "t2 silence")
    big = dict(sil, comment="y" * 500)
    r = d.post(A + "/silences", big, H("t2"))
    check_eq(r.status, 200, "t2 has no size limit")
    with open(rt, "w") as f:
        f.write("overrides:\n  t2:\n    alertmanager_max_silence_size_bytes: 400\n")
    d.args = [a for a in d.args if not a.startswith("-runtime-config")] + [
        "-runtime-config.file=" + rt]
    d.stop()
    d.start()
    r = d.post(A + "/silences", big, H("t2"))
    check_eq(r.status, 400, "over the size limit after restart")
    check(r.json().startswith("silence exceeded maximum size: ") and
          r.json().endswith(" bytes (limit: 400 bytes)"), "size message: %r" % r.json())
    sink.close()


def limits_daemon(sink, overrides):
    """A daemon whose runtime config holds `overrides`, with tenants t1..t3 each running a
    webhook config of its own (/t1, /t2, /t3) that groups by alertname; group_interval is long
    so that a failed notification is not tried again during the test."""
    d = alertd()
    rt = os.path.join(d.tmp, "rt.yaml")
    with open(rt, "w") as f:
        f.write("overrides:\n" + overrides)
    d.args.append("-runtime-config.file=" + rt)
    d.start()
    for t in ("t1", "t2", "t3"):
        cfg = webhook_cfg(sink, "/" + t).replace("group_interval: 1s", "group_interval: 1m")
        check_eq(d.post("/api/v1/alerts", user_cfg(cfg), H(t)).status, 201, "config " + t)
    return d


@run.test
def notification_rate_limits_with_runtime_overrides():
    """alertmanager_notification_rate_limit 0.1/s for t1 (burst 1): of three notifications one
    goes out, two fail at once without retry, counted as rate-limited and failed. t3 has the
    same tenant rate but a per-integration override of 0 (no limit) for webhook; t2 none."""
    sink = Sink()
    d = limits_daemon(sink, "  t1:\n    alertmanager_notification_rate_limit: 0.1\n"
                            "  t3:\n    alertmanager_notification_rate_limit: 0.1\n"
                            "    alertmanager_notification_rate_limit_per_integration:\n"
                            "      webhook: 0\n")
    alerts = [{"labels": {"alertname": "R%d" % i}} for i in range(3)]
    for t in ("t1", "t2", "t3"):
        check_eq(d.post(A + "/alerts", alerts, H(t)).status, 200, "alerts " + t)
    sink.wait("/t2", 3, timeout=5)
    sink.wait("/t3", 3, timeout=5)
    sink.wait("/t1", 1, timeout=5)
    time.sleep(1.0)  # a retry (0.5 s backoff) would have arrived by now
    check_eq(len(sink.get("/t1")), 1, "t1: one notification within its burst")
    check_eq(len(sink.get("/t2")), 3, "t2: no limit")
    check_eq(len(sink.get("/t3")), 3, "t3: the webhook override lifts the tenant rate")
    m = d.get("/metrics").text
    check_in('alertmanager_notification_rate_limited_total{user="t1",integration="webhook"} 2',
             m, "rate-limited counter")
    check_in('alertmanager_notifications_failed_total{user="t1",integration="webhook"} 2', m,
             "counted as failed")
    check_in('alertmanager_notifications_total{user="t1",integration="webhook"} 3', m,
             "three attempts, none retried")
    check('rate_limited_total{user="t2"' not in m and 'rate_limited_total{user="t3"' not in m,
          "no rate-limited notification for t2 and t3")
    check_in("failed to notify due to rate limits", d.log_tail(), "Mimir's error logged")
    sink.close()


@run.test
def aggregation_group_limit_with_runtime_overrides():
    """alertmanager_max_dispatcher_aggregation_groups 2 for t1: the third group is not created
    (logged, counted); its alert is still held and listed but never notified. t2: no limit."""
    sink = Sink()
    d = limits_daemon(sink, "  t1:\n    alertmanager_max_dispatcher_aggregation_groups: 2\n")
    alerts = [{"labels": {"alertname": "G%d" % i}} for i in range(3)]
    for t in ("t1", "t2"):
        check_eq(d.post(A + "/alerts", alerts, H(t)).status, 200, "alerts " + t)
    sink.wait("/t2", 3, timeout=5)
    sink.wait("/t1", 2, timeout=5)
    time.sleep(0.5)
    check_eq(len(sink.get("/t1")), 2, "t1: two groups notified")
    check_eq(len(d.get(A + "/alerts", H("t1")).json()), 3, "the third alert is held")
    check_eq(len(d.get(A + "/alerts/groups", H("t1")).json()), 2, "t1 has two groups")
    check_eq(len(d.get(A + "/alerts/groups", H("t2")).json()), 3, "t2 has three")
    m = d.get("/metrics").text
    check_in('alertmanager_dispatcher_aggregation_group_limit_reached_total{user="t1"} 1', m,
             "limit counter")
    check('aggregation_group_limit_reached_total{user="t2"' not in m, "t2 never limited")
    log = d.log_tail()
    check_in('msg="Failed to create aggregation group"', log, "upstream log line")
    check_in('err="too many aggregation groups, cannot create new group for alert" groups=2 '
             'limit=2', log, "its fields")
    # The held alert gets no group on later updates either while the limit stands.
    d.post(A + "/alerts", alerts[2:], H("t1"))
    time.sleep(0.5)
    check_in('alertmanager_dispatcher_aggregation_group_limit_reached_total{user="t1"} 2',
             d.get("/metrics").text, "counted again")
    check_eq(len(sink.get("/t1")), 2, "still two notifications")
    sink.close()


@run.test
def silences_api():
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink)).start()
    now = time.time()
    sil = {"matchers": [{"name": "tenant", "value": "prod", "isRegex": False}],
           "startsAt": rfc3339(now - 10), "endsAt": rfc3339(now + 3600),
           "createdBy": "ops", "comment": "maintenance"}
    r = d.post(A + "/silences", sil, H("t1"))
    check_eq(r.status, 200, "created")
    sid = r.json()["silenceID"]
    check_eq(len(sid), 36, "uuid")
    d.post(A + "/alerts", [{"labels": {"alertname": "A", "tenant": "prod"}}], H("t1"))
    a = d.get(A + "/alerts", H("t1")).json()[0]
    check_eq(a["status"], {"inhibitedBy": [], "mutedBy": [], "silencedBy": [sid],
                           "state": "suppressed"}, "silenced")
    check_eq(d.get(A + "/alerts?silenced=false", H("t1")).json(), [], "silenced=false")
    got = d.get(A + "/silence/" + sid, H("t1")).json()
    check_eq(got["status"]["state"], "active", "state")
    check_eq(got["matchers"][0]["isEqual"], True, "isEqual default")
    lst = d.get(A + "/silences?filter=tenant%3D%22prod%22", H("t1")).json()
    check_eq([s["id"] for s in lst], [sid], "filtered list")
    check_eq(d.get(A + "/silences?filter=tenant%3D%22x%22", H("t1")).json(), [], "filter out")
    check_eq(d.get(A + "/silences", H("t2")).json(), [], "another tenant sees none")
    bad = dict(sil, endsAt=rfc3339(now - 5), startsAt=rfc3339(now - 10))
    r = d.post(A + "/silences", bad, H("t1"))
    check_eq((r.status, r.json()), (400, "Failed to create silence: end time can't be in the "
                                         "past"), "past end")
    bad = dict(sil, endsAt=rfc3339(now - 20))
    r = d.post(A + "/silences", bad, H("t1"))
    check_eq((r.status, r.json()), (400, "Failed to create silence: start time must be before "
                                         "end time"), "start after end")
    r = d.post(A + "/silences", {k: v for k, v in sil.items() if k != "createdBy"}, H("t1"))
    check_eq((r.status, r.json()["code"]), (422, 602), "required field")
    r = d.post(A + "/silences", dict(sil, id="5f5d3dfe-ffff-4c6f-a6ad-1234567890ab"), H("t1"))
    check_eq(r.status, 404, "update of unknown id")
    check_eq(d.get(A + "/silence/not-a-uuid", H("t1")).status, 422, "bad id")
    check_eq(d.delete(A + "/silence/" + sid, H("t1")).status, 200, "expire")
    check_eq(d.get(A + "/silence/" + sid, H("t1")).json()["status"]["state"], "expired", "exp")
    check_eq(d.get(A + "/alerts", H("t1")).json()[0]["status"]["state"], "active", "unsilenced")
    check_eq(d.delete(A + "/silence/" + sid, H("t1")).status, 500, "already expired")
    sink.close()


@run.test
def tenant_isolation():
    sink = Sink()
    d = alertd().start()
    for t in ("a", "b"):
        d.post("/api/v1/alerts", user_cfg(webhook_cfg(sink, "/" + t)), H(t))
    d.post(A + "/alerts", [{"labels": {"alertname": "OnlyA"}}], H("a"))
    now = time.time()
    d.post(A + "/silences", {"matchers": [{"name": "x", "value": "y", "isRegex": False}],
                             "startsAt": rfc3339(now), "endsAt": rfc3339(now + 60),
                             "createdBy": "a", "comment": "c"}, H("a"))
    check_eq(len(d.get(A + "/alerts", H("a")).json()), 1, "a sees its alert")
    check_eq(d.get(A + "/alerts", H("b")).json(), [], "b sees none")
    check_eq(d.get(A + "/silences", H("b")).json(), [], "b sees no silences")
    check_in("/a", d.get("/api/v1/alerts", H("a")).json()["alertmanager_config"], "a's config")
    check_in("/b", d.get("/api/v1/alerts", H("b")).json()["alertmanager_config"], "b's config")
    sink.wait("/a", 1, timeout=5)
    time.sleep(0.5)
    check_eq(len(sink.get("/a")), 1, "a notified")
    check_eq(len(sink.get("/b")), 0, "b's receiver never gets a's alert")
    sink.close()


@run.test
def webhook_grouping_resolve_and_inhibition():
    sink = Sink()
    cfg = webhook_cfg(sink) + ("inhibit_rules:\n  - source_matchers: [severity=critical]\n"
                               "    target_matchers: [severity=warning]\n    equal: [cluster]\n")
    d = alertd(fallback=cfg).start()
    d.post(A + "/alerts", [{"labels": {"alertname": "Up", "severity": "critical", "cluster": "c1"}},
                           {"labels": {"alertname": "Disk", "severity": "warning", "cluster": "c1"}},
                           {"labels": {"alertname": "Disk2", "severity": "warning", "cluster": "c2"}}],
           H("t1"))
    hits = sink.wait("/hook", 2, timeout=5)
    time.sleep(0.5)
    names = sorted(json.loads(h[2])["groupLabels"]["alertname"] for h in sink.get("/hook"))
    check_eq(names, ["Disk2", "Up"], "Disk inhibited by Up in the same cluster")
    st = {a["labels"]["alertname"]: a["status"] for a in d.get(A + "/alerts", H("t1")).json()}
    check_eq(st["Disk"]["state"], "suppressed", "inhibited state")
    check_eq(len(st["Disk"]["inhibitedBy"]), 1, "inhibitedBy")
    n0 = len(sink.get("/hook"))
    d.post(A + "/alerts", [{"labels": {"alertname": "Up", "severity": "critical", "cluster": "c1"},
                            "endsAt": rfc3339(time.time() - 1)}], H("t1"))
    hits = sink.wait("/hook", n0 + 2, timeout=5)
    msgs = [json.loads(h[2]) for h in hits[n0:]]
    by = {m["groupLabels"]["alertname"]: m["status"] for m in msgs}
    check_eq(by, {"Up": "resolved", "Disk": "firing"}, "resolved sent, target uninhibited")
    sink.close()


@run.test
def reload_switches_fallback_tenants():
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink, "/before")).start()
    d.post(A + "/alerts", [{"labels": {"alertname": "One"}}], H("t1"))
    sink.wait("/before", 1, timeout=5)
    with open(os.path.join(d.tmp, "fallback.yaml"), "w") as f:
        f.write(webhook_cfg(sink, "/after"))
    check_eq(d.post("/-/reload").status, 200, "reload")
    d.post(A + "/alerts", [{"labels": {"alertname": "Two"}}], H("t1"))
    hits = sink.wait("/after", 1, timeout=5)
    check(hits, "new fallback receiver used after reload")
    with open(os.path.join(d.tmp, "fallback.yaml"), "w") as f:
        f.write("route: {receiver: nope}\n")
    d.post("/-/reload")  # the bad fallback is refused and logged
    check_eq(d.get(A + "/receivers", H("t1")).json(), [{"name": "hook"}], "old config kept")
    sink.close()


@run.test
def failing_receiver_retries_counts_and_stops_quickly():
    sink = Sink(status=500)
    d = alertd(fallback=webhook_cfg(sink)).start()
    d.post(A + "/alerts", [{"labels": {"alertname": "Fail"}}], H("t1"))
    hits = sink.wait("/hook", 3, timeout=5)
    check(len(hits) >= 3, "retried after 5xx: %d attempts" % len(hits))
    gaps = [b[0] - a[0] for a, b in zip(hits, hits[1:])]
    check(gaps[0] >= 0.4, "backoff between attempts: %r" % gaps)
    m = d.get("/metrics").text
    check_in('alertmanager_notifications_failed_total{user="t1",integration="webhook"}', m,
             "failed counter")
    t0 = time.time()
    check_eq(d.stop(), 0, "exit code")
    check(time.time() - t0 < 3, "shutdown does not wait for the retries")
    sink.close()
    sink = Sink(status=400)
    d = alertd(fallback=webhook_cfg(sink)).start()
    d.post(A + "/alerts", [{"labels": {"alertname": "Perm"}}], H("t1"))
    sink.wait("/hook", 1, timeout=5)
    time.sleep(1.5)  # flushes at ~0.2 s and ~1.2 s after the post; the next at ~2.2 s
    check_eq(len(sink.get("/hook")), 2, "4xx is permanent: one attempt per flush")
    sink.close()


def sil_body(now):
    return {"matchers": [{"name": "alertname", "value": "P", "isRegex": False}],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + 3600), "createdBy": "ops",
            "comment": "keep"}


def restart_case(sig):
    sink = Sink()
    data = tempfile.mkdtemp(prefix="am-data-")
    cfg = webhook_cfg(sink).replace("repeat_interval: 1h", "repeat_interval: 1h")
    d = alertd(fallback=cfg, data=data).start()
    sid = d.post(A + "/silences", sil_body(time.time()), H("t1")).json()["silenceID"]
    d.post(A + "/alerts", [{"labels": {"alertname": "N"}}], H("t1"))
    sink.wait("/hook", 1, timeout=5)
    time.sleep(0.3)
    if sig == signal.SIGKILL:
        d.proc.kill()
        d.proc.wait()
    else:
        check_eq(d.stop(), 0, "clean exit")
    d2 = alertd(fallback=cfg, data=data).start()
    check_eq(d2.get(A + "/silence/" + sid, H("t1")).json()["id"], sid, "silence survived")
    d2.post(A + "/alerts", [{"labels": {"alertname": "N"}}], H("t1"))
    time.sleep(1.5)
    check_eq(len(sink.get("/hook")), 1, "no second notification before repeat_interval")
    sink.close()


@run.test
def restart_sigterm_keeps_silences_and_nflog():
    restart_case(signal.SIGTERM)


@run.test
def restart_kill9_keeps_silences_and_nflog():
    restart_case(signal.SIGKILL)


def amtool(d, *args):
    p = subprocess.run([AMTOOL, "--alertmanager.url=http://127.0.0.1:%d/alertmanager" % d.port]
                       + list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


@run.test
def amtool_025_works():
    if AMTOOL is None:
        print("SKIP amtool not installed")
        return
    sink = Sink()
    d = alertd(fallback=webhook_cfg(sink), multitenancy=False).start()
    d.post(A + "/alerts", [{"labels": {"alertname": "Tool", "team": "x"}}])
    rc, out = amtool(d, "alert", "query")
    check_eq(rc, 0, "alert query: " + out)
    check_in("Tool", out, "alert listed")
    rc, out = amtool(d, "silence", "add", "alertname=Tool", "--comment=c", "--author=me",
                     "--duration=1h")
    check_eq(rc, 0, "silence add: " + out)
    sid = out.strip()
    rc, out = amtool(d, "silence", "query")
    check_in(sid, out, "silence listed")
    rc, out = amtool(d, "alert", "query", "--silenced")
    check_in("Tool", out, "alert shown as silenced")
    rc, out = amtool(d, "silence", "expire", sid)
    check_eq(rc, 0, "expire: " + out)
    rc, out = amtool(d, "silence", "query", "--expired")
    check_in(sid, out, "expired listed")
    rc, out = amtool(d, "config", "show")
    check_in("receiver: hook", out, "config show")
    sink.close()


if __name__ == "__main__":
    run.main()
