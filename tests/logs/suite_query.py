#!/usr/bin/env python3
"""LogQL query API suite: a real bin/herald-logd on a free 127.0.0.1 port, fed through
POST /loki/api/v1/push (JSON), then every query endpoint, parameter and error of Loki's API
(api-reference.md §3.2, §3.4). Expected results are computed by hand from the pushed data
below: log queries (direction, limit, interval, filters, json/logfmt parsing, line_format,
categorize-labels), metric queries (count, rate, sum by, unwrap, topk, binary operators,
matrix steps and window bounds), labels/series/format_query/buildinfo and the deprecated
/api/prom routes. Standard library only."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Daemon, Runner, check, check_eq, check_in  # noqa: E402

run = Runner()
NS = 10**9
NOW = int(time.time())
BASE = (NOW // 60) * 60 - 1800  # 30 min ago, on a minute: well inside Loki's age limits
T = "t1"

# (stream labels, [(second offset from BASE, line, structured metadata)])
ERR = {"app": "api", "level": "error", "service_name": "api"}
INFO = {"app": "api", "level": "info", "service_name": "api"}
WEB = {"app": "web", "level": "error", "service_name": "web"}
DATA = [
    (ERR, [(1, '{"msg":"db down","status":500,"latency":120}', None),
           (11, '{"msg":"timeout","status":504,"latency":300}', None),
           (21, '{"msg":"db down","status":500,"latency":60}', None)]),
    (INFO, [(5, "method=GET path=/a status=200 dur=10", None),
            (15, "method=POST path=/b status=201 dur=30", None),
            (25, "method=GET path=/a status=200 dur=20", None),
            (35, "method=GET path=/c status=404 dur=5", None)]),
    (WEB, [(2, "plain error line", {"trace_id": "abc"})]),
]
LINE = {(tuple(sorted(s.items())), off): line for s, es in DATA for off, line, _ in es}


def ns(off):
    return str((BASE + off) * NS)


def h(tenant=T, **extra):
    d = {"X-Scope-OrgID": tenant}
    d.update(extra)
    return d


def start_logd():
    d = Daemon("herald-logd", args=["-ruler.evaluation-interval=1m"]).start()
    streams = []
    for labels, entries in DATA:
        values = []
        for off, line, md in entries:
            values.append([ns(off), line] + ([md] if md else []))
        streams.append({"stream": labels, "values": values})
    r = d.post("/loki/api/v1/push", {"streams": streams}, h())
    check_eq(r.status, 204, "push: " + r.text)
    return d


LOGD = None


def logd():
    global LOGD
    if LOGD is None or LOGD.proc.poll() is not None:
        LOGD = start_logd()
    return LOGD


def get(path, params, headers=None):
    return logd().get(path + "?" + urllib.parse.urlencode(params),
                      h() if headers is None else headers)


def ok(path, params, headers=None):
    r = get(path, params, headers)
    check_eq(r.status, 200, "%s %r: %s" % (path, params, r.text[:300]))
    j = r.json()
    check_eq(j["status"], "success", "status")
    return j["data"]


def ok_raw(path, params):
    r = get(path, params)
    check_eq(r.status, 200, "%s %r: %s" % (path, params, r.text[:300]))
    return r.json()


def qr(query, **kw):
    p = {"query": query, "start": str(BASE * NS), "end": str((BASE + 100) * NS)}
    p.update({k: str(v) for k, v in kw.items()})
    return ok("/loki/api/v1/query_range", p)


def qi(query, at):
    return ok("/loki/api/v1/query", {"query": query, "time": str((BASE + at) * NS)})


def err(path, params, status, text, headers=None):
    r = get(path, params, headers)
    check_eq((r.status, r.text), (status, text + "\n"), "%s %r" % (path, params))
    check_in("text/plain", r.header("content-type", ""), "plain-text error")


def vec(data):
    """{frozenset(labels): value} of a vector result."""
    check_eq(data["resultType"], "vector", "resultType")
    return {frozenset(s["metric"].items()): s["value"][1] for s in data["result"]}


def lab(**kw):
    return frozenset(kw.items())


# ---- log queries ----------------------------------------------------------------------------

@run.test
def log_query_backward_limit_merges_streams():
    d = qr('{app="api"}', limit=3)
    check_eq(d["resultType"], "streams", "resultType")
    check_eq([s["stream"] for s in d["result"]], [ERR, INFO], "streams sorted by labels")
    check_eq(d["result"][0]["values"], [[ns(21), LINE[(tuple(sorted(ERR.items())), 21)]]],
             "error stream: the newest of 3 overall")
    check_eq([v[0] for v in d["result"][1]["values"]], [ns(35), ns(25)], "info newest first")
    s = d["stats"]["summary"]
    check_eq(s["totalEntriesReturned"], 3, "stats")
    for k in ("bytesProcessedPerSecond", "linesProcessedPerSecond", "totalBytesProcessed",
              "totalLinesProcessed", "execTime", "queueTime", "subqueries", "splits", "shards",
              "totalPostFilterLines", "totalStructuredMetadataBytesProcessed"):
        check(k in s, "stats.summary." + k)
    for k in ("querier", "ingester", "cache", "index"):
        check(k in d["stats"], "stats." + k)


@run.test
def log_query_forward_direction_and_interval():
    d = qr('{app="api"}', limit=2, direction="FORWARD")
    check_eq([[v[0] for v in s["values"]] for s in d["result"]], [[ns(1)], [ns(5)]],
             "oldest 2 overall, forward")
    d = qr('{app="api"}', direction="forward", interval="10s")
    check_eq([[v[0] for v in s["values"]] for s in d["result"]],
             [[ns(1), ns(11), ns(21)], [ns(35)]], "one entry per 10s over the merged sequence")
    d = qr('{app="api"}', start=str((BASE + 5) * NS), end=str((BASE + 21) * NS),
           direction="forward")
    check_eq([[v[0] for v in s["values"]] for s in d["result"]],
             [[ns(11)], [ns(5), ns(15)]], "start <= ts < end")


@run.test
def log_query_filters_and_parsers():
    d = qr('{app="api"} |= "db down"')
    check_eq([(s["stream"], len(s["values"])) for s in d["result"]], [(ERR, 2)], "line filter")
    d = qr('{app="api", level="error"} | json | status >= 504')
    check_eq(len(d["result"]), 1, "json + label filter: one stream")
    want = dict(ERR, msg="timeout", status="504", latency="300")
    check_eq(d["result"][0]["stream"], want, "parsed labels join the stream")
    d = qr('{level="info"} | logfmt | line_format "{{.method}} {{.path}}"', direction="forward")
    check_eq(len(d["result"]), 4, "parsed labels make one stream per line here")
    check_eq([v[1] for v in sorted(v for s in d["result"] for v in s["values"])],
             ["GET /a", "POST /b", "GET /a", "GET /c"], "logfmt + line_format")
    check_eq(d["result"][0]["stream"], dict(INFO, method="GET", path="/a", status="200",
                                            dur="10"), "logfmt labels, streams sorted")
    d = qr('{app="api"} | logfmt | status="404"')
    check_eq(len(d["result"]), 1, "logfmt label filter")


@run.test
def structured_metadata_and_categorize_labels():
    d = qr('{app="web"}')
    check_eq(d["result"][0]["stream"], dict(WEB, trace_id="abc"), "metadata joins the labels")
    check("encodingFlags" not in d, "no flags by default")
    hd = h(**{"X-Loki-Response-Encoding-Flags": "categorize-labels"})
    p = {"query": '{app="web"}', "start": str(BASE * NS), "end": str((BASE + 100) * NS)}
    d = ok("/loki/api/v1/query_range", p, hd)
    check_eq(d["encodingFlags"], ["categorize-labels"], "flag echoed")
    check_eq(d["result"][0]["stream"], WEB, "stream labels only")
    check_eq(d["result"][0]["values"][0][2], {"structuredMetadata": {"trace_id": "abc"}},
             "third element")


@run.test
def log_query_by_form_post():
    body = urllib.parse.urlencode({"query": '{app="web"}', "start": str(BASE * NS),
                                   "end": str((BASE + 100) * NS)})
    r = logd().post("/loki/api/v1/query_range", body,
                    h(**{"Content-Type": "application/x-www-form-urlencoded"}))
    check_eq(r.status, 200, r.text)
    check_eq(r.json()["data"]["result"][0]["values"][0][1], "plain error line", "POST form")
    d = ok("/loki/api/v1/query_range", {"query": '{app="api"}', "since": "10m"})
    check_eq(d["result"], [], "since=10m before now: the data is 30 min old")
    d = ok("/loki/api/v1/query_range", {"query": '{app="api"}', "since": "45m"})
    check_eq(len(d["result"]), 2, "since=45m before now")


# ---- metric queries -------------------------------------------------------------------------

@run.test
def instant_count_rate_sum_by():
    v = vec(qi('count_over_time({app="api"}[1m])', 60))
    check_eq(v, {frozenset(ERR.items()): "3", frozenset(INFO.items()): "4"}, "count_over_time")
    v = vec(qi('sum by (level) (count_over_time({service_name=~".+"}[1m]))', 60))
    check_eq(v, {lab(level="error"): "4", lab(level="info"): "4"}, "sum by")
    v = vec(qi('rate({app="api", level="error"}[1m])', 60))
    check_eq(list(v.values()), ["0.05"], "rate = count / 60")
    v = vec(qi('sum(rate({app="api"}[1m]))', 60))
    check_eq(v, {lab(): repr(7 / 60)}, "sum(rate)")
    v = vec(qi('sum(bytes_over_time({app="web"}[1m]))', 60))
    check_eq(v, {lab(): str(len("plain error line"))}, "bytes_over_time")
    v = vec(qi('sum(count_over_time({app="api"}[10s]))', 21))
    check_eq(v, {lab(): "2"}, "window (11s, 21s]: the entries at 21 and 15")


@run.test
def unwrap_topk_binary_ops():
    v = vec(qi('sum by (app) (sum_over_time({app="api", level="error"} | json '
               '| unwrap latency [1m]))', 60))
    check_eq(v, {lab(app="api"): "480"}, "sum_over_time unwrap")
    v = vec(qi('max_over_time({level="info"} | logfmt | unwrap dur [1m]) by (level)', 60))
    check_eq(v, {lab(level="info"): "30"}, "max_over_time by")
    v = vec(qi('topk(1, sum by (level) (count_over_time({app="api"}[1m])))', 60))
    check_eq(v, {lab(level="info"): "4"}, "topk")
    v = vec(qi('sum(count_over_time({app="api", level="error"}[1m])) / '
               'sum(count_over_time({app="api"}[1m]))', 60))
    check_eq(v, {lab(): repr(3 / 7)}, "binary operator between two leaves")
    v = vec(qi('count_over_time({app="api"}[1m]) > 3', 60))
    check_eq(v, {frozenset(INFO.items()): "4"}, "comparison filter, no __name__")
    d = qi("1 + 1", 60)
    check_eq((d["resultType"], d["result"][1]), ("scalar", "2"), "scalar")


@run.test
def range_query_matrix_steps():
    d = qr('count_over_time({app="api", level="error"}[10s])', start=str((BASE + 10) * NS),
           end=str((BASE + 30) * NS), step="10")
    check_eq(d["resultType"], "matrix", "resultType")
    check_eq(d["result"], [{"metric": ERR, "values": [[BASE + 10, "1"], [BASE + 20, "1"],
                                                      [BASE + 30, "1"]]}], "one point per step")
    d = qr('sum(count_over_time({app="api"}[1m]))', start=str((BASE + 60) * NS),
           end=str((BASE + 61) * NS), step="0.5")
    check_eq(d["result"][0]["values"], [[BASE + 60, "7"], [BASE + 60.5, "7"], [BASE + 61, "6"]],
             "fractional steps as float seconds")


@run.test
def metric_query_errors():
    r = get("/loki/api/v1/query", {"query": 'count_over_time({app="api"} | json [1m])',
                                   "time": str((BASE + 60) * NS)})
    check_eq(r.status, 400, "pipeline error status")
    check(r.text.startswith("pipeline error: 'JSONParserErr' for series: '{"), r.text[:200])
    check_in("Use a label filter to intentionally skip this error.", r.text, "hint")
    err("/loki/api/v1/query", {"query": '{app="api"}'}, 400,
        "log queries are not supported as an instant query type, please change your query to "
        "a range query type")


# ---- parameters and errors ------------------------------------------------------------------

@run.test
def parameter_errors_as_loki():
    q = "/loki/api/v1/query_range"
    base = {"query": '{app="api"}', "start": str(BASE * NS), "end": str((BASE + 100) * NS)}

    def with_(**kw):
        p = dict(base)
        p.update(kw)
        return p
    err(q, with_(end=str((BASE - 1) * NS)), 400,
        "end timestamp must not be before or equal to start time")
    err(q, with_(step="0"), 400,
        "zero or negative query resolution step widths are not accepted. Try a positive integer")
    err(q, with_(start="0", end=str(NOW), step="1"), 400,
        "exceeded maximum resolution of 11,000 points per time series. Try increasing the "
        "value of the step parameter")
    err(q, with_(interval="-1"), 400, "interval must be >= 0")
    err(q, with_(limit="0"), 400, "limit must be a positive value")
    err(q, with_(limit="abc"), 400, 'strconv.Atoi: parsing "abc": invalid syntax')
    err(q, with_(direction="sideways"), 400, "invalid direction 'sideways'")
    err(q, with_(start="abc"), 400,
        'could not parse \'start\' parameter: strconv.ParseInt: parsing "abc": invalid syntax')
    err(q, with_(limit="6000"), 400, "max entries limit per query exceeded, limit > "
                                     "max_entries_limit_per_query (6000 > 5000)")
    check_eq(get(q, with_(query='count_over_time({app="api"}[1m])', limit="6000")).status, 200,
             "the entries limit does not apply to metric queries")
    err(q, with_(start=str((NOW - 31 * 86400) * NS), end=str(NOW * NS), step="3600"), 400,
        "the query time range exceeds the limit (query length: 744h0m0s, limit: 30d1h)")
    r = get(q, with_(query='{app="api"'))
    check_eq(r.status, 400, "syntax error")
    check(r.text.startswith("parse error at line 1, col "), r.text)
    r = get(q, base, headers={})
    check_eq((r.status, r.text), (401, "no org id\n"), "tenant required")


@run.test
def timestamps_in_every_accepted_form():
    for start in (str(BASE), "%d.000" % BASE, str(BASE * NS),
                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE))):
        d = qr('{app="web"}', start=start)
        check_eq(len(d["result"]), 1, "start=%s" % start)


# ---- labels, series, format_query, buildinfo, legacy ---------------------------------------

@run.test
def labels_values_series():
    p = {"start": str(BASE * NS), "end": str((BASE + 100) * NS)}
    check_eq(ok("/loki/api/v1/labels", p), ["app", "level", "service_name"], "labels")
    check_eq(ok("/loki/api/v1/label/level/values", p), ["error", "info"], "values")
    check_eq(ok("/loki/api/v1/label/level/values", dict(p, query='{app="web"}')), ["error"],
             "values with a selector")
    r = get("/loki/api/v1/label/nope/values", p)
    check_eq(r.json(), {"status": "success"}, "no values: Loki omits data")
    check_eq(ok("/loki/api/v1/series", dict(p, **{"match[]": '{app="api"}'})), [ERR, INFO],
             "series")
    check_eq(len(ok("/loki/api/v1/series", p)), 3, "series without match: all")
    body = urllib.parse.urlencode([("match[]", '{app="web"}'), ("match[]", '{level="info"}'),
                                   ("start", p["start"]), ("end", p["end"])])
    r = logd().post("/loki/api/v1/series", body,
                    h(**{"Content-Type": "application/x-www-form-urlencoded"}))
    check_eq(r.json()["data"], [INFO, WEB], "series by POST, two groups")


@run.test
def format_query_buildinfo_legacy():
    check_eq(ok("/loki/api/v1/format_query", {"query": '{app="api"}|="x"'}),
             '{app="api"} |= "x"', "format_query")
    r = logd().get("/loki/api/v1/status/buildinfo")
    check_eq(r.status, 200, "buildinfo needs no tenant")
    check(set(r.json()) >= {"version", "revision", "branch", "goVersion"}, "buildinfo keys")
    r = get("/api/prom/query", {"query": '{app="web"}', "start": str(BASE * NS),
                                "end": str((BASE + 100) * NS)})
    check_eq(r.status, 200, r.text)
    j = r.json()
    check_eq(j["streams"][0]["labels"],
             '{app="web", level="error", service_name="web", trace_id="abc"}', "legacy labels")
    check_eq(j["streams"][0]["entries"][0]["line"], "plain error line", "legacy entries")
    check_in("stats", j, "legacy stats")
    check_eq(get("/api/prom/query", {"query": 'count_over_time({app="web"}[1m])'}).status, 400,
             "legacy: streams only")
    r = get("/api/prom/label", {"start": str(BASE * NS), "end": str((BASE + 100) * NS)})
    check_eq(r.json(), {"values": ["app", "level", "service_name"]}, "legacy labels body")


@run.test
def query_timeout_is_loki_504():
    d = Daemon("herald-logd", args=["-querier.query-timeout=1ms"]).start()
    now = time.time_ns()
    values = [[str(now - (20000 - i) * 10**6), '{"i":%d,"msg":"x"}' % i] for i in range(20000)]
    r = d.post("/loki/api/v1/push", {"streams": [{"stream": {"job": "slow"}, "values": values}]},
               h())
    check_eq(r.status, 204, "push")
    r = d.get("/loki/api/v1/query?" + urllib.parse.urlencode(
        {"query": 'sum(count_over_time({job="slow"} | json | i > 5 [1m]))'}), h())
    check_eq((r.status, r.text), (504, "request timed out, decrease the duration of the request "
                                       "or add more label matchers (prefer exact match over "
                                       "regex match) to reduce the amount of data processed\n"),
             "timeout")


@run.test
def per_tenant_limits_from_the_runtime_config():
    d = Daemon("herald-logd")
    rt = os.path.join(d.tmp, "runtime.yaml")
    with open(rt, "w") as f:
        f.write("overrides:\n  small:\n    max_entries_limit_per_query: 2\n")
    d.args.append("-runtime-config.file=" + rt)
    d.start()
    p = urllib.parse.urlencode({"query": '{app="x"}', "limit": "3"})
    r = d.get("/loki/api/v1/query_range?" + p, h("small"))
    check_eq((r.status, r.text), (400, "max entries limit per query exceeded, limit > "
                                       "max_entries_limit_per_query (3 > 2)\n"), "override")
    check_eq(d.get("/loki/api/v1/query_range?" + p, h("other")).status, 200, "default limit")


@run.test
def index_stats_and_more_legacy_routes():
    p = {"start": str(BASE * NS), "end": str((BASE + 100) * NS)}
    j = ok_raw("/loki/api/v1/index/stats", dict(p, query='{app="api"}'))
    check_eq(j, {"streams": 2, "chunks": 2, "bytes": sum(len(l) for _, es in DATA[:2]
                                                         for _, l, _ in es), "entries": 7},
             "index/stats")
    check_eq(ok_raw("/api/prom/label/app/values", p), {"values": ["api", "web"]},
             "legacy label values")
    check_eq(ok("/api/prom/series", dict(p, match='{app="web"}')), [WEB], "legacy series")
    d = qr('{app="api"}', interval="10s")  # backward: 35, 25, (21), 15, (11), 5, (1)
    check_eq([(s["stream"], [v[0] for v in s["values"]]) for s in d["result"]],
             [(INFO, [ns(35), ns(25), ns(15), ns(5)])], "backward interval, merged sequence")


@run.test
def tenants_are_isolated():
    r = get("/loki/api/v1/query_range", {"query": '{app="api"}', "start": str(BASE * NS),
                                         "end": str((BASE + 100) * NS)}, h("other"))
    check_eq(r.json()["data"]["result"], [], "another tenant sees nothing")


run.main()
