#!/usr/bin/env python3
"""Live differential test of herald-promd's ruler against Debian's Prometheus 2.42 (issue 6):
the same rule group, the same remote-written samples, then the same alerts (labels, state,
expanded annotations, value, activeAt), the same rule states in /api/v1/rules and the same
recorded series. Skipped (counted as passed, with a SKIP line) without /usr/bin/prometheus.

Timeline (one process pair, ~30 s): a counter per job is pushed to both on a 1 s grid; phase
"low" (every job at 1/s), phase "high" (api at 10/s, db at 20/s, web still 1/s: alerts go
pending, then firing), phase "low again" (alerts resolve and leave the listings). Each phase's
samples are pushed in one request when the phase starts, with timestamps from "now" on the
grid up to the phase's end: an evaluation at time T then always finds the grid samples up to
T, so rate() over a 5 s window equals the slope exactly whatever the evaluation phase of each
program, and a loaded machine delaying a push cannot make the two disagree. The two programs
evaluate at their own offsets within the second, hence activeAt is compared within 1.5 s and
comparisons are retried for a few seconds until the states settle.

Prometheus 2.42 has no keep_firing_for, so the group does not use it. Standard library only."""
import datetime
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import (PROMETHEUS, ROOT, Daemon, Prometheus, check,  # noqa: E402
                     cleanup_all, http_request)

BUILD = os.environ.get("HERALD_BUILD") or os.path.join(ROOT, "build")
RW_ENCODE = os.path.join(BUILD, "tools", "rw_encode")
TENANT = {"X-Scope-OrgID": "team-a"}
RW_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}
RECORD = "job:errors:rate5s"
CHAINED = "ChainedBurst"  # reads RECORD: compared on its own, see chain_lag()

GROUP = """name: differential
interval: 1s
rules:
  - record: job:errors:rate5s
    expr: sum by (job) (rate(errors_total[5s]))
  - alert: ErrorsBurst
    expr: sum by (job, instance) (rate(errors_total[5s])) > 5
    for: 0s
    labels:
      severity: '{{ if gt $value 15.0 }}critical{{ else }}warning{{ end }}'
      team: core
    annotations:
      summary: 'errors on {{ $labels.job }} at {{ $value | humanize }}/s'
      exact: '{{ printf "%.2f" $value }}'
  - alert: ErrorsSustained
    expr: sum by (job) (rate(errors_total[5s])) > 5
    for: 3s
    labels:
      owner: 'team-{{ $labels.job }}'
    annotations:
      description: '{{ $labels.job }} has {{ printf "%.2f" $value }} errors/s for 3s'
      rounded: '{{ $value | humanize }}'
  - alert: ChainedBurst
    expr: job:errors:rate5s > 5
  - alert: NeverFires
    expr: job:errors:rate5s > 1000
    for: 0s
    annotations:
      summary: 'not {{ $labels.job }}'
"""

PROM_CONFIG = """global:
  evaluation_interval: 1s
rule_files: [%s]
"""

JOBS = {"api": "a", "db": "b", "web": "c"}  # job -> instance
LOW = {"api": 1, "db": 1, "web": 1}
HIGH = {"api": 10, "db": 20, "web": 1}

results = {"passed": 0, "failed": 0, "max_gap": 0.0}  # max_gap: activeAt, s


def compare(what, ok, detail=""):
    """One printed line per comparison; failures are collected and fail the test at the end."""
    results["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("same" if ok else "DIFF", what, "" if ok else ": " + detail), flush=True)


def start_prometheus():
    """Prometheus evaluating GROUP from a rule file, receiving remote write."""
    rules = "groups:\n" + textwrap.indent("- " + GROUP.replace("\n", "\n  "), "  ")
    return Prometheus(lambda port, tmp: PROM_CONFIG % json.dumps(os.path.join(tmp, "rules.yml")),
                      files={"rules.yml": rules}, args=["--web.enable-remote-write-receiver"])


class Pair:
    """The two programs under comparison and how to reach each one's APIs."""

    def __init__(self, herald, prom):
        self.herald = herald
        self.prom = prom
        self.counters = {job: 1000.0 for job in JOBS}
        self.next_ms = None

    def push_phase(self, slopes, seconds):
        """Samples on the 1 s grid from the last pushed one (or 10 s ago) to now + seconds."""
        now_ms = int(time.time() * 1000)
        if self.next_ms is None:
            self.next_ms = now_ms - 10000
        lines = []
        end = now_ms + seconds * 1000
        for job, inst in JOBS.items():
            t, c = self.next_ms, self.counters[job]
            while t <= end:
                lines.append('errors_total{instance="%s",job="%s"} %r %d' % (inst, job, c, t))
                c += slopes[job]
                t += 1000
            self.counters[job] = c
        self.next_ms = t
        body = subprocess.run([RW_ENCODE], input="\n".join(lines).encode(), capture_output=True,
                              check=True).stdout
        r1 = self.herald.post("/api/v1/push", body, dict(TENANT, **RW_HEADERS))
        r2 = http_request(self.prom.port, "POST", "/api/v1/write", body, RW_HEADERS)
        check(r1.status == 200 and r2.status == 204, "push: herald %d %s, prometheus %d %s" % (
            r1.status, r1.text[:200], r2.status, r2.text[:200]))

    def get(self, which, path):
        if which == "herald":
            r = self.herald.get("/prometheus" + path, TENANT)
        else:
            r = http_request(self.prom.port, "GET", path)
        if r.status != 200:
            raise AssertionError("%s %s -> %d %s" % (which, path, r.status, r.text[:300]))
        return r.json()["data"]

    def both(self, fn):
        return fn("herald"), fn("prometheus")


# ---- what is compared ------------------------------------------------------------------------

def parse_time(s):
    """RFC 3339 with up to nanoseconds (Go's format) -> seconds since the epoch."""
    main, _, frac = s.rstrip("Z").partition(".")
    tz = 0
    for sign in "+-":
        if sign in frac:
            frac, off = frac.split(sign)
            tz = (int(off[:2]) * 3600 + int(off[3:5]) * 60) * (1 if sign == "+" else -1)
    base = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0) - tz


def alerts(pair, which):
    """{labels: (state, annotations, value, activeAt)} of /api/v1/alerts, CHAINED aside."""
    out = {}
    for a in pair.get(which, "/api/v1/alerts")["alerts"]:
        if a["labels"]["alertname"] == CHAINED:
            continue
        key = json.dumps(a["labels"], sort_keys=True)
        out[key] = (a["state"], json.dumps(a.get("annotations") or {}, sort_keys=True),
                    float(a["value"]), parse_time(a["activeAt"]))
    return out


def rules(pair, which):
    """{rule name: fields Prometheus 2.42 and Mimir share} of /api/v1/rules."""
    out = {}
    for g in pair.get(which, "/api/v1/rules")["groups"]:
        for r in g["rules"]:
            f = {k: r.get(k) for k in ("type", "health", "query", "labels")}
            f["lastError"] = r.get("lastError") or ""  # Prometheus omits it when empty
            if r["type"] == "alerting":
                f.update({k: r.get(k) for k in ("state", "duration", "annotations")})
                f["alerts"] = sorted((json.dumps(a["labels"], sort_keys=True), a["state"])
                                     for a in r.get("alerts") or [])
            if r["name"] == CHAINED:
                del f["state"], f["alerts"]
            for k in ("labels", "annotations"):
                f[k] = f.get(k) or {}  # Prometheus omits empty maps; Mimir writes {}
            out[r["name"]] = f
    return out


def chain_lag(pair, which):
    """{job: activeAt(CHAINED) - activeAt(ErrorsSustained)}: both test the same value, but
    CHAINED reads it from the recording rule evaluated just before it in the same group.
    Prometheus commits each rule's output before the next rule runs, so it is 0 there."""
    at = {}
    for a in pair.get(which, "/api/v1/alerts")["alerts"]:
        at[(a["labels"]["alertname"], a["labels"]["job"])] = parse_time(a["activeAt"])
    return {job: round(at[(CHAINED, job)] - at[("ErrorsSustained", job)], 3)
            for (name, job) in at if name == CHAINED and ("ErrorsSustained", job) in at}


def recorded(pair, which):
    """{labels: value} of an instant query of the recording rule's name."""
    q = "/api/v1/query?" + urllib.parse.urlencode({"query": RECORD})
    res = pair.get(which, q)["result"]
    return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in res}


def close(a, b):
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def diff_alerts(h, p):
    out = []
    for k in sorted(set(h) | set(p)):
        if k not in h or k not in p:
            out.append("%s only in %s" % (k, "herald" if k in h else "prometheus"))
            continue
        (hs, ha, hv, ht), (ps, pa, pv, pt) = h[k], p[k]
        if (hs, ha) != (ps, pa):
            out.append("%s: herald %s %s, prometheus %s %s" % (k, hs, ha, ps, pa))
        if not close(hv, pv):
            out.append("%s: value herald %r, prometheus %r" % (k, hv, pv))
        results["max_gap"] = max(results["max_gap"], abs(ht - pt))
        if abs(ht - pt) > 1.5:
            out.append("%s: activeAt herald %.3f, prometheus %.3f" % (k, ht, pt))
    return out


def diff_rules(h, p):
    out = []
    for name in sorted(set(h) | set(p)):
        hr, pr = h.get(name), p.get(name)
        if hr is None or pr is None:
            out.append("%s only in %s" % (name, "herald" if hr else "prometheus"))
            continue
        for k in sorted(pr):
            if hr.get(k) != pr[k]:
                out.append("%s.%s: herald %r, prometheus %r" % (name, k, hr.get(k), pr[k]))
    return out


def diff_recorded(h, p):
    out = ["%s only in %s" % (k, "herald" if k in h else "prometheus")
           for k in sorted(set(h) ^ set(p))]
    out += ["%s: herald %r, prometheus %r" % (k, h[k], p[k])
            for k in sorted(set(h) & set(p)) if not close(h[k], p[k])]
    return out


def settle(pair, what, fetch, differ, expect, timeout=6.0):
    """Compares fetch() of both until they agree and `expect` holds on Prometheus' answer (the
    reference), or the timeout: evaluation offsets differ, so one may be an evaluation ahead."""
    deadline = time.time() + timeout
    while True:
        h, p = pair.both(lambda w: fetch(pair, w))
        problems = differ(h, p)
        if not expect(p):
            problems = problems + ["prometheus not yet in the expected state: %r" % (p,)]
        if not problems or time.time() >= deadline:
            compare(what, not problems, "; ".join(problems))
            return h, p
        time.sleep(0.25)


def budget(until, reserve):
    """Seconds left for one comparison when `reserve` more must still fit before `until`."""
    return max(0.5, min(6.0, until - reserve - time.time()))


def check_phase(pair, phase, expect_alerts, until):
    """Alerts, rules and recorded series of one phase; expect_alerts: {alertname: state}.
    Retries stop at `until` (the end of the phase's samples), so one difference does not
    push the later comparisons past the data."""
    def names(p):
        return {json.loads(k)["alertname"]: v[0] for k, v in p.items()} == expect_alerts
    h, p = settle(pair, "%s: /api/v1/alerts (%s: labels, state, annotations, value, "
                  "activeAt)" % (phase, ", ".join(sorted(expect_alerts)) or "none"), alerts,
                  diff_alerts, names, timeout=budget(until, 3))
    settle(pair, "%s: /api/v1/rules (type, health, state, query, labels, annotations, alerts)"
           % phase, rules, diff_rules, lambda p: True, timeout=budget(until, 1))
    settle(pair, "%s: recorded series %s" % (phase, RECORD), recorded, diff_recorded,
           lambda p: len(p) == len(JOBS), timeout=budget(until, 0))
    return h, p


def main():
    """Runs the scenario; the last line counts comparisons, as run_all.py expects."""
    if PROMETHEUS is None:
        print("SKIP prometheus not installed")
        print("1 passed, 0 failed")
        return 0
    prom = start_prometheus()
    try:
        herald = Daemon("herald-promd", args=[
            "-blocks-storage.tsdb.dir=tsdb", "-ruler.evaluation-delay-duration=0s",
            "-ruler.evaluation-interval=1s", "-ruler.poll-interval=1s",
            "-ruler.alertmanager-url="]).start()
        prom.wait_ready()
        r = herald.post("/prometheus/config/v1/rules/diff", GROUP, TENANT)
        check(r.status == 202, "POST rules: %d %s" % (r.status, r.text))
        _scenario(Pair(herald, prom))
    except Exception as e:  # a program that would not start or answer: one more failure
        compare("scenario ran to the end", False, "%s: %s" % (type(e).__name__, e))
    finally:
        cleanup_all()
        prom.stop()
    print("%d passed, %d failed" % (results["passed"], results["failed"]), flush=True)
    return 1 if results["failed"] else 0


def check_chain(pair):
    """Compares chain_lag(): a rule sees the records of earlier rules of its own group from
    the same evaluation."""
    h_lag, p_lag = pair.both(lambda w: chain_lag(pair, w))
    same = h_lag == p_lag and len(p_lag) == 2
    what = ("high: an alert reading a recording rule of its own group sees this "
            "evaluation's records")
    detail = ("activeAt lag behind the same expression read directly, herald %r, prometheus "
              "%r (s)" % (h_lag, p_lag))
    compare(what, same, detail)


def _scenario(pair):
    t0 = time.time()
    pair.push_phase(LOW, 8)
    time.sleep(6)
    check_phase(pair, "low", {}, t0 + 8)
    time.sleep(max(0.0, t0 + 8 - time.time()))

    pair.push_phase(HIGH, 14)
    t1 = time.time()
    # api and db cross 5/s 1-2 s in; ErrorsSustained stays pending for 3 s after that
    def early(p):
        return sorted(v[0] for v in p.values()) == ["firing", "firing", "pending", "pending"]
    deadline = t1 + 6
    while time.time() < deadline and not early(alerts(pair, "prometheus")):
        time.sleep(0.1)
    settle(pair, "high, early: ErrorsBurst firing, ErrorsSustained pending", alerts,
           diff_alerts, early, timeout=2.0)
    time.sleep(max(0.0, t1 + 8 - time.time()))
    firing, _ = check_phase(pair, "high", {"ErrorsBurst": "firing",
                                           "ErrorsSustained": "firing"}, t1 + 13)
    check_chain(pair)
    time.sleep(max(0.0, t1 + 14 - time.time()))

    pair.push_phase(LOW, 12)
    t2 = time.time()
    time.sleep(7)
    check_phase(pair, "low again", {}, t2 + 11)
    h_rules, p_rules = pair.both(lambda w: rules(pair, w))
    compare("low again: resolved alerts gone from both rule listings",
            all(not r.get("alerts") for r in list(h_rules.values()) + list(p_rules.values())),
            "herald %r / prometheus %r" % (
                {n: r.get("alerts") for n, r in h_rules.items()},
                {n: r.get("alerts") for n, r in p_rules.items()}))
    print("NOTE %d alerts compared while firing; largest activeAt gap %.3fs; scenario took "
          "%.1fs" % (len(firing), results["max_gap"], time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
