#!/usr/bin/env python3
"""Builds the template corpus (tests/template/cases/*.jsonl) from the case sources in
tests/template/src/, taking every expectation it can from the real tools:

  src/am.tsv        id <TAB> data <TAB> template
                    -> `amtool template render` (Alertmanager 0.25, Debian) with the data
                       file tests/template/data/<data>.json and Debian's default.tmpl
  src/am_html.tsv   the same, rendered as HTML (--template.type=html, i.e. html/template as
                    Alertmanager uses for e-mail bodies)
  src/defaults.txt  one default template name per line, run on every data file
                    -> amtool, as above; compares herald's own default templates
  src/prom.tsv      id <TAB> labels (JSON) <TAB> value <TAB> template
                    -> `promtool test rules` (Prometheus 2.42, Debian): the template is an
                       annotation of alert "A" over a series with those labels and value; the
                       expanded annotation is read back from promtool's report. Templates
                       that do not parse are checked with `promtool check rules` instead.
  src/manual.tsv    flavour <TAB> id <TAB> data (JSON) <TAB> template <TAB> expected output
                    -> no oracle binary (Loki, generic JSON data); the expectation is written
                       by hand from the upstream documentation/source and says so.

In templates and expectations, \\n, \\t and \\\\ are escapes. Run from anywhere:
    python3 tests/template/gen_oracle.py
It is not run by `make test` (that only replays cases/*.jsonl); rerun it after editing src/.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
AM_DEFAULTS = ["/usr/share/prometheus/alertmanager/default.tmpl",
               "/usr/share/prometheus/alertmanager/email.tmpl"]
AMTOOL_SRC = "amtool 0.25 (Debian) template render"
PROMTOOL_SRC = "promtool 2.42 (Debian) test rules"


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(s[i + 1], "\\" + s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def rows(name):
    path = os.path.join(HERE, "src", name)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line.split("\t")


def load_data(name):
    with open(os.path.join(HERE, "data", name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def amtool(template, data_name, kind="text"):
    cmd = ["amtool", "template", "render", "--template.type=" + kind] + ["--template.glob=" + g for g in AM_DEFAULTS] + [
           "--template.data=" + os.path.join(HERE, "data", data_name + ".json"),
           "--template.text=" + template]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 0:
        return {"expect": p.stdout}
    err = p.stderr
    prefix = "amtool: error: "
    if err.startswith(prefix):
        err = err[len(prefix):]
    return {"error": err.rstrip("\n")}


def am_cases(src="am.tsv", kind="text"):
    out = []
    for r in rows(src):
        cid, data, tpl = r[0], r[1], unescape(r[2])
        c = {"id": cid, "flavour": "am" if kind == "text" else "am_html", "template": tpl,
             "data": load_data(data),
             "source": AMTOOL_SRC + " --template.type=" + kind + " with data/" + data + ".json"}
        c.update(amtool(tpl, data, kind))
        out.append(c)
    return out


def am_html_cases():
    return am_cases("am_html.tsv", "html")


def default_cases():
    out = []
    datas = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(HERE, "data", "*.json")))
    for r in rows("defaults.txt"):
        name = r[0]
        for data in datas:
            tpl = '{{ template "%s" . }}' % name
            c = {"id": "default/%s/%s" % (name, data), "flavour": "am", "template": tpl,
                 "data": load_data(data),
                 "source": AMTOOL_SRC + " with Debian's default.tmpl and data/" + data + ".json"}
            c.update(amtool(tpl, data))
            out.append(c)
    return out


# ---- Prometheus -----------------------------------------------------------------------------

QUERY_SERIES = [
    ({"instance": "a:9100", "job": "node"}, 1),
    ({"instance": "b:9100", "job": "node"}, 2.5),
    ({"instance": "c:9100", "job": "api"}, 1000),
]


def series_value(v):
    return "NaN" if isinstance(v, str) or v != v else repr(v)


def promql_labels(ls):
    return "{" + ", ".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                           for k, v in sorted(ls.items())) + "}"


def go_unquote_all(s):
    """Parses Go %q strings in promtool's labels output: returns a dict."""
    res, i = {}, 0
    pat = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="')
    while True:
        m = pat.match(s, i)
        if not m:
            return res
        j, buf = m.end(), []
        while s[j] != '"':
            if s[j] == "\\":
                e = s[j + 1]
                if e in "abfnrtv":
                    buf.append({"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                                "t": "\t", "v": "\v"}[e])
                    j += 2
                elif e == "x":
                    buf.append(chr(int(s[j + 2:j + 4], 16)))
                    j += 4
                elif e == "u":
                    buf.append(chr(int(s[j + 2:j + 6], 16)))
                    j += 6
                elif e == "U":
                    buf.append(chr(int(s[j + 2:j + 10], 16)))
                    j += 10
                else:
                    buf.append(e)
                    j += 2
            else:
                buf.append(s[j])
                j += 1
        res[m.group(1)] = "".join(buf)
        i = j + 1
        if i < len(s) and s[i] == ",":
            i += 1


def run_promtool(cases):
    """One promtool run: an alert rule per case, labelled case=<n>; returns {n: text}."""
    d = tempfile.mkdtemp(prefix="herald-tmpl-")
    rules, series = [], []
    for n, c in enumerate(cases):
        # the series label that tells cases apart is part of $labels, so the case records it
        c["data"]["labels"]["case_series"] = str(n)
        ls = dict(c["data"]["labels"])
        series.append({"series": "case_metric" + promql_labels(ls),
                       "values": " ".join([series_value(c["data"]["value"])] * 3)})
        rules.append({"alert": "A", "expr": 'case_metric{case_series="%d"} * 1' % n,
                      "labels": {"case": str(n)}, "annotations": {"t": c["template"]}})
    for ls, v in QUERY_SERIES:
        series.append({"series": "q_metric" + promql_labels(ls), "values": "%s %s %s" % (v, v, v)})
    with open(os.path.join(d, "r.yml"), "w") as f:
        json.dump({"groups": [{"name": "g", "rules": rules}]}, f)
    # promtool 2.42's test files have no external_labels/external_url: both are empty
    test = {"rule_files": ["r.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "alert_rule_test": [{"eval_time": "2m", "alertname": "A",
                                            "exp_alerts": []}]}]}
    with open(os.path.join(d, "t.yml"), "w") as f:
        json.dump(test, f)
    p = subprocess.run(["promtool", "test", "rules", "t.yml"], cwd=d, capture_output=True,
                       text=True)
    got = {}
    for m in re.finditer(r"Labels:\{(.*?)\}\n\s*Annotations:\{(.*?)\},?\n", p.stdout + p.stderr):
        ls = go_unquote_all(m.group(1))
        ann = go_unquote_all(m.group(2))
        if "case" in ls:
            got[int(ls["case"])] = ann.get("t", "")
    return got


def promtool_check(template):
    d = tempfile.mkdtemp(prefix="herald-tmpl-")
    with open(os.path.join(d, "r.yml"), "w") as f:
        json.dump({"groups": [{"name": "g", "rules": [
            {"alert": "A", "expr": "up", "annotations": {"t": template}}]}]}, f)
    p = subprocess.run(["promtool", "check", "rules", "r.yml"], cwd=d, capture_output=True,
                       text=True)
    m = re.search(r'annotation "t": (.*)', p.stdout + p.stderr)
    return m.group(1) if m else None


def query_results(queries):
    """Asks Prometheus itself what each query returns, through an annotation."""
    probe = []
    for q in queries:
        tpl = ('{{ range query "%s" }}{{ range $k, $v := .Labels }}{{ printf "%%q=%%q," $k $v }}'
               '{{ end }}{{ printf "%%v" .Value }}\n{{ end }}') % q.replace('"', '\\"')
        probe.append({"template": tpl, "data": {"labels": {"probe": "1"}, "value": 0}})
    got = run_promtool(probe)
    res = {}
    for i, q in enumerate(queries):
        samples = []
        for line in got.get(i, "").split("\n"):
            if not line:
                continue
            lab, _, val = line.rpartition(",")
            ls = {}
            for m in re.finditer(r'"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"', lab):
                ls[json.loads('"%s"' % m.group(1))] = json.loads('"%s"' % m.group(2))
            samples.append({"labels": ls, "value": float(val)})
        res[q] = samples
    return res


def prom_cases():
    src = []
    for r in rows("prom.tsv"):
        cid, labels, value, tpl = r[0], json.loads(r[1]), float(r[2]), unescape(r[3])
        src.append({"id": cid, "flavour": "prom", "template": tpl,
                    # JSON has no NaN: such values are written as strings
                    "data": {"labels": labels, "value": value if value == value else "NaN",
                             "externalLabels": {}, "externalURL": ""}})
    queries = sorted({q for c in src for q in re.findall(r'query "([^"]+)"', c["template"])})
    qres = query_results(queries) if queries else {}
    parse_bad = {}
    for c in src:
        msg = promtool_check(c["template"])
        if msg is not None:
            parse_bad[c["id"]] = msg
    good = [c for c in src if c["id"] not in parse_bad]
    got = run_promtool(good)
    for n, c in enumerate(good):
        c["data"]["queries"] = {q: qres[q] for q in queries if q in c["template"]}
        c["expect"] = got.get(n)
        c["source"] = PROMTOOL_SRC + " (annotation of alert A)"
    for c in src:
        if c["id"] in parse_bad:
            c["parse_error"] = parse_bad[c["id"]]
            c["source"] = "promtool 2.42 (Debian) check rules"
    return src


def manual_cases():
    out = []
    for r in rows("manual.tsv"):
        flavour, cid, data, tpl, want = r[0], r[1], json.loads(r[2]), unescape(r[3]), unescape(r[4])
        c = {"id": cid, "flavour": flavour, "template": tpl, "data": data,
             "source": r[5] if len(r) > 5 else "hand-written from upstream docs/source"}
        if want.startswith("ERROR: "):
            c["error"] = want[len("ERROR: "):]
        else:
            c["expect"] = want
        out.append(c)
    return out


def write(name, cases):
    with open(os.path.join(HERE, "cases", name), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")
    print("%-16s %d cases" % (name, len(cases)))


def main():
    which = sys.argv[1:] or ["am", "am_html", "defaults", "prom", "manual"]
    gens = {"am": am_cases, "am_html": am_html_cases, "defaults": default_cases,
            "prom": prom_cases, "manual": manual_cases}
    for w in which:
        write(w + ".jsonl", gens[w]())


if __name__ == "__main__":
    main()
