#!/usr/bin/env python3
"""Differential test: the same config and the same alerts, silences and expiries, at the same
moments, to herald-alertd (one tenant per scenario) and to Debian's Alertmanager 0.25 (one
process per scenario); both notify webhook receivers on one local sink. Each scenario passes
when both send the same notifications (receiver, group key, status, alerts, truncation) at
the same moments (within 0.5 s). Last line: "N passed, N failed"."""
import json
import sys
import threading
import time

from amlib import UPSTREAM_AM, Sink, Upstream, alertd, notification_key, rfc3339
from harness import Runner, check, check_eq

run = Runner()
TOLERANCE = 0.5
EXTERNAL = "http://am.example:9093/alertmanager"
A = "/api/v2"

BASE = ("route:\n  receiver: r1\n  group_wait: 1s\n  group_interval: 1s\n"
        "  repeat_interval: 1h\n%(route)s"
        "receivers:\n"
        "  - name: r1\n    webhook_configs: [{url: '{URL}/r1'%(r1)s}]\n"
        "  - name: r2\n    webhook_configs: [{url: '{URL}/r2'}]\n%(extra)s")


def cfg(route="", r1="", extra=""):
    return BASE % {"route": route, "r1": r1, "extra": extra}


SEED = ("route:\n  group_by: [alertname, tenant, cluster]\n  receiver: default-receiver\n"
        "  group_wait: 1s\n  group_interval: 1s\n"
        "  routes:\n"
        "    - receiver: stage-receiver\n      matchers: ['tenant=\"stage\"']\n"
        "    - receiver: prod-receiver\n      matchers: ['tenant=\"prod\"']\n"
        "receivers:\n"
        "  - name: default-receiver\n    webhook_configs: [{url: '{URL}/default'}]\n"
        "  - name: stage-receiver\n    webhook_configs: [{url: '{URL}/stage'}]\n"
        "  - name: prod-receiver\n    webhook_configs: [{url: '{URL}/prod'}]\n")


class Target:
    """One system under comparison: herald (a tenant) or upstream (a process)."""

    def __init__(self, name, post, delete):
        self.name, self._post, self._delete = name, post, delete
        self.silences = {}

    def alerts(self, alerts):
        r = self._post(A + "/alerts", alerts)
        check(r.status == 200, "%s: POST alerts %d %r" % (self.name, r.status, r.body[:200]))

    def silence(self, key, body):
        r = self._post(A + "/silences", body)
        check(r.status == 200, "%s: POST silence %d %r" % (self.name, r.status, r.body[:200]))
        self.silences[key] = r.json()["silenceID"]

    def expire(self, key):
        r = self._delete(A + "/silence/" + self.silences[key])
        check(r.status == 200, "%s: expire %d" % (self.name, r.status))


def alert(name, **labels):
    return {"labels": dict(alertname=name, **labels)}


def resolved(name, **labels):
    return {"labels": dict(alertname=name, **labels), "endsAt": rfc3339(time.time() - 0.5)}


def silence_body(**labels):
    now = time.time()
    return {"matchers": [{"name": k, "value": v, "isRegex": False} for k, v in labels.items()],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + 3600), "createdBy": "t",
            "comment": "diff"}


SCENARIOS = {
    "grouping": dict(
        config=cfg(route="  group_by: [alertname]\n"), duration=3,
        steps=[(0, "alerts", [alert("A", instance="1"), alert("A", instance="2"),
                              alert("B", instance="1")])]),
    "group_by_all": dict(
        config=cfg(route="  group_by: ['...']\n"), duration=3,
        steps=[(0, "alerts", [alert("A", instance="1"), alert("A", instance="2")])]),
    "nested_continue": dict(
        config=cfg(route="  routes:\n    - {receiver: r1, matchers: [team=a], continue: true,"
                         " routes: [{receiver: r2, matchers: ['sev=~\"crit|page\"']}]}\n"
                         "    - {receiver: r2, matchers: [sev=page]}\n"
                         "    - {receiver: r1, matchers: [sev=page]}\n"), duration=3,
        steps=[(0, "alerts", [alert("X", team="a", sev="page"), alert("Y", team="b")])]),
    "repeat_interval": dict(
        config=cfg(route="  repeat_interval: 2500ms\n").replace("  repeat_interval: 1h\n", "", 1),
        duration=7.6, steps=[(0, "alerts", [alert("R")])]),
    "send_resolved": dict(
        config=cfg(), duration=4,
        steps=[(0, "alerts", [alert("S")]), (2.5, "alerts", [resolved("S")])]),
    "no_send_resolved": dict(
        config=cfg(r1=", send_resolved: false"), duration=4,
        steps=[(0, "alerts", [alert("S"), alert("T")]), (2.5, "alerts", [resolved("S")])]),
    "inhibition": dict(
        config=cfg(route="  group_by: [alertname]\n",
                   extra="inhibit_rules:\n  - source_matchers: [sev=critical]\n"
                         "    target_matchers: [sev=warning]\n    equal: [cluster]\n"),
        duration=3,
        steps=[(0, "alerts", [alert("Src", sev="critical", cluster="c1"),
                              alert("Tgt", sev="warning", cluster="c1"),
                              alert("Other", sev="warning", cluster="c2")])]),
    "silence_create": dict(
        config=cfg(route="  group_by: [alertname]\n"), duration=3,
        steps=[(0, "silence", ("s1", dict(alertname="Quiet"))),
               (0.2, "alerts", [alert("Quiet"), alert("Loud")])]),
    "silence_expire": dict(
        config=cfg(route="  group_by: [alertname]\n"), duration=4.5,
        steps=[(0, "silence", ("s1", dict(alertname="Quiet"))),
               (0.2, "alerts", [alert("Quiet")]), (2.5, "expire", "s1")]),
    "mute_time_interval": dict(
        config=cfg(route="  group_by: [alertname]\n  routes:\n"
                         "    - {receiver: r2, matchers: [muted=yes], "
                         "mute_time_intervals: [always]}\n",
                   extra="time_intervals:\n  - name: always\n    time_intervals:\n"
                         "      - weekdays: ['sunday:saturday']\n"),
        duration=3, steps=[(0, "alerts", [alert("M", muted="yes"), alert("N")])]),
    "fallback_tenant_routing": dict(
        config=None, duration=3,
        steps=[(0, "alerts", [alert("E", tenant="prod", cluster="c"),
                              alert("E", tenant="stage", cluster="c"),
                              alert("E", tenant="dev")])]),
    "max_alerts": dict(
        config=cfg(r1=", max_alerts: 2"), duration=3,
        steps=[(0, "alerts", [alert("Many", i=str(i)) for i in range(5)])]),
    "group_interval_update": dict(
        config=cfg(), duration=3.6,
        steps=[(0, "alerts", [alert("G", i="1")]), (1.5, "alerts", [alert("G", i="2")])]),
    "resolve_timeout": dict(
        config=cfg(extra="global:\n  resolve_timeout: 2s\n"), duration=4.6,
        steps=[(0, "alerts", [alert("Timeout")])]),
}


def run_steps(targets, steps, duration):
    t0 = time.monotonic()
    for at, kind, arg in steps:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for t in targets:
            if kind == "alerts":
                t.alerts(arg)
            elif kind == "silence":
                t.silence(arg[0], silence_body(**arg[1]))
            else:
                t.expire(arg)
    delay = t0 + duration - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    return t0


def notifications(sink, prefix, t0):
    out = []
    for ts, path, body, _ in sink.get(prefix):
        out.append((round(ts - t0, 2), path[len(prefix):], notification_key(body)))
    return sorted(out, key=lambda n: (n[0], n[1]))


def compare(mine, theirs):
    """Pairs each upstream notification with an unused identical herald one in time."""
    check_eq(len(mine), len(theirs), "notification count (herald %s, upstream %s)" %
             ([(n[0], n[1]) for n in mine], [(n[0], n[1]) for n in theirs]))
    used = set()
    for t_up, path, key in theirs:
        match = [i for i, (t, p, k) in enumerate(mine)
                 if i not in used and p == path and k == key]
        check(match, "upstream sent %s at %.2fs, herald did not: %s" % (path, t_up, key))
        best = min(match, key=lambda i: abs(mine[i][0] - t_up))
        check(abs(mine[best][0] - t_up) <= TOLERANCE,
              "%s at %.2fs upstream vs %.2fs herald" % (path, t_up, mine[best][0]))
        used.add(best)


SINK = Sink()


def herald():
    """A fresh herald-alertd per scenario (the runner stops daemons after each test)."""
    fallback = SEED.replace("{URL}", SINK.url("/h/fallback_tenant_routing"))
    return alertd(fallback=fallback, args=["-alertmanager.web.external-url=" + EXTERNAL]).start(), SINK


def scenario(name):
    spec = SCENARIOS[name]

    def test():
        d, sink = herald()
        hdr = {"X-Scope-OrgID": name}
        config = spec["config"] or SEED
        if spec["config"] is not None:
            body = "alertmanager_config: |\n" + "".join(
                "  " + l + "\n" for l in config.replace("{URL}", sink.url("/h/" + name))
                .splitlines())
            r = d.post("/api/v1/alerts", body, hdr)
            check_eq(r.status, 201, "herald config: " + r.text)
        up = Upstream(config.replace("{URL}", sink.url("/u/" + name)))
        try:
            targets = [Target("herald", lambda p, b: d.post("/alertmanager" + p, b, hdr),
                              lambda p: d.delete("/alertmanager" + p, hdr)),
                       Target("upstream", up.post, up.delete)]
            t0 = run_steps(targets, spec["steps"], spec["duration"])
            mine = notifications(sink, "/h/" + name, t0)
            theirs = notifications(sink, "/u/" + name, t0)
            check(theirs or name in ("silence_create",), "upstream sent nothing")
            compare(mine, theirs)
            print("NOTE %s: %d notifications matched" % (name, len(theirs)))
        finally:
            up.stop()
    test.__name__ = name
    return test


for _name in SCENARIOS:
    run.test(scenario(_name))

if __name__ == "__main__":
    if UPSTREAM_AM is None:
        print("SKIP prometheus-alertmanager not installed")
        print("0 passed, 0 failed")
        sys.exit(0)
    run.main()
