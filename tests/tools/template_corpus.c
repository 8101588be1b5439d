/* tests/tools/template_corpus.c - runs template corpus cases (JSON lines) through herald's
 * engine and compares with the recorded expectation.
 *
 * Usage: template_corpus FILE.jsonl...   (prints one FAIL line per mismatch, then
 * "N passed, N failed"). With -p, prints each case's output as JSON lines instead
 * ({"id":..., "output":...} or {"id":..., "error":...}) for tests/template/gen_oracle.py.
 *
 * A case: {"id", "flavour": "am"|"am_html"|"prom"|"loki"|"json", "template", "files": {name: text},
 * "name" (template to run, optional), "data", "expect" | "error", "source"}.
 *   am:   data is a webhook-shaped payload; the set holds herald's defaults, then "files";
 *         "template" is run as Alertmanager's ExecuteTextString (am_html: ExecuteHTMLString).
 *   prom: data {"labels", "externalLabels", "externalURL", "value", "queries": {q: [{labels,
 *         value}]}}; "template" is expanded as an alerting rule annotation of alert "A".
 *   loki: data {"labels", "line", "ts"}; "template" is a line_format template.
 *   json: data is the dot as JSON; plain Go built-ins only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/template.h"

typedef struct {
    label_t *ls;
    size_t n;
} label_set_t;

static label_set_t labels_of(const json_t *o)
{
    label_set_t s = {NULL, 0};
    size_t cap = json_object_size(o);
    s.ls = calloc(cap + 1, sizeof(label_t));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        s.ls[s.n].name = k;
        s.ls[s.n++].value = json_string_value(v) ? json_string_value(v) : "";
    }
    return s;
}

/* The fake PromQL engine: answers only the queries recorded in the case. */
static int fake_query(void *arg, const char *query, int64_t ts_ms, arena_t *a,
                      tmpl_sample_t **out, size_t *n_out, err_t *err)
{
    const json_t *res = json_object_get((const json_t *)arg, query);
    if (res == NULL) {
        return err_set(err, ERR_EXECUTION, "query not recorded: %s", query);
    }
    size_t n = json_array_size(res);
    tmpl_sample_t *s = arena_calloc(a, (n + 1) * sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(res, i);
        label_set_t ls = labels_of(json_object_get(e, "labels"));
        label_t *copy = arena_alloc(a, (ls.n + 1) * sizeof(label_t));
        memcpy(copy, ls.ls, ls.n * sizeof(label_t));
        free(ls.ls);
        s[i].labels = copy;
        s[i].n_labels = ls.n;
        s[i].value = json_number_value(json_object_get(e, "value"));
    }
    *out = s;
    *n_out = n;
    return 0;
}

static int run_am(const json_t *c, int html, buf_t *out, err_t *err)
{
    tmpl_t *t = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    int rc = tmpl_add_am_defaults(t, err);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(c, "files"), k, v)
    {
        if (rc == 0) {
            rc = tmpl_parse(t, k, json_string_value(v), err);
        }
    }
    const char *name = json_string_value(json_object_get(c, "name"));
    const json_t *data = json_object_get(c, "data");
    if (rc == 0 && name != NULL) {
        rc = tmpl_execute_am(t, name, data, NULL, out, err);
    } else if (rc == 0) {
        const char *text = json_string_value(json_object_get(c, "template"));
        rc = html ? tmpl_am_expand_html(t, text, data, NULL, out, err)
                  : tmpl_am_expand(t, text, data, NULL, out, err);
    }
    tmpl_unref(t);
    return rc;
}

static int run_prom(const json_t *c, buf_t *out, err_t *err)
{
    const json_t *d = json_object_get(c, "data");
    label_set_t ls = labels_of(json_object_get(d, "labels"));
    label_set_t ext = labels_of(json_object_get(d, "externalLabels"));
    tmpl_prom_data_t pd = {
        .labels = ls.ls, .n_labels = ls.n, .external_labels = ext.ls,
        .n_external_labels = ext.n,
        .external_url = json_string_value(json_object_get(d, "externalURL")),
        .value = json_is_string(json_object_get(d, "value"))
                     ? strtod(json_string_value(json_object_get(d, "value")), NULL)
                     : json_number_value(json_object_get(d, "value")),
        .query = fake_query, .query_arg = json_object_get(d, "queries"),
    };
    int rc = tmpl_prom_expand(NULL, "__alert_A", json_string_value(json_object_get(c, "template")),
                              &pd, out, err);
    free(ls.ls);
    free(ext.ls);
    return rc;
}

static int run_loki(const json_t *c, buf_t *out, err_t *err)
{
    const json_t *d = json_object_get(c, "data");
    tmpl_t *t = tmpl_new("line", TMPL_FUNCS_LOKI);
    label_set_t ls = labels_of(json_object_get(d, "labels"));
    int rc = tmpl_parse(t, "line", json_string_value(json_object_get(c, "template")), err);
    if (rc == 0) {
        rc = tmpl_execute_loki(t, ls.ls, ls.n, json_string_value(json_object_get(d, "line")),
                               json_integer_value(json_object_get(d, "ts")), NULL, out, err);
    }
    free(ls.ls);
    tmpl_unref(t);
    return rc;
}

static int run_json(const json_t *c, buf_t *out, err_t *err)
{
    tmpl_t *t = tmpl_new("t", 0);
    int rc = tmpl_parse(t, "t", json_string_value(json_object_get(c, "template")), err);
    if (rc == 0) {
        rc = tmpl_execute_json(t, NULL, json_object_get(c, "data"), NULL, out, err);
    }
    tmpl_unref(t);
    return rc;
}

static int run_case(const json_t *c, buf_t *out, err_t *err)
{
    const char *fl = json_string_value(json_object_get(c, "flavour"));
    fl = fl != NULL ? fl : "json";
    if (strcmp(fl, "am") == 0 || strcmp(fl, "am_html") == 0) {
        return run_am(c, fl[2] == '_', out, err);
    }
    if (strcmp(fl, "prom") == 0) {
        return run_prom(c, out, err);
    }
    if (strcmp(fl, "loki") == 0) {
        return run_loki(c, out, err);
    }
    return run_json(c, out, err);
}

/* Compares one case; returns 1 if it passed. */
static int check(const json_t *c, const char *file, int print)
{
    buf_t out;
    buf_init(&out);
    err_t err = {0};
    int rc = run_case(c, &out, &err);
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *want = json_string_value(json_object_get(c, "expect"));
    const char *want_err = json_string_value(json_object_get(c, "error"));
    const char *got = out.data != NULL ? out.data : "";
    int ok;
    if (print) {
        json_t *o = json_pack("{s:s?}", "id", id);
        json_object_set_new(o, rc == 0 ? "output" : "error",
                            json_string(rc == 0 ? got : err.msg));
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        buf_fini(&out);
        return 1;
    }
    const char *fl = json_string_value(json_object_get(c, "flavour"));
    const char *parse_err = json_string_value(json_object_get(c, "parse_error"));
    size_t ml = strlen(err.msg), pl = parse_err != NULL ? strlen(parse_err) : 0;
    if (parse_err != NULL) {
        /* promtool reports only Go's parse error; herald prefixes it as Prometheus does */
        ok = rc != 0 && ml >= pl && strcmp(err.msg + ml - pl, parse_err) == 0;
        want_err = parse_err;
    } else if (fl != NULL && strcmp(fl, "prom") == 0) {
        /* Prometheus stores "<error expanding template: ...>" as the annotation on error */
        ok = want != NULL && strcmp(got, want) == 0;
    } else if (want_err != NULL) {
        ok = rc != 0 && strcmp(err.msg, want_err) == 0;
    } else {
        ok = rc == 0 && want != NULL && strcmp(got, want) == 0;
    }
    if (!ok) {
        printf("FAIL %s %s\n  want %s: %s\n  got  %s: %s\n", file, id ? id : "?",
               want_err ? "error" : "output", want_err ? want_err : want ? want : "(none)",
               rc ? "error" : "output", rc ? err.msg : got);
    }
    buf_fini(&out);
    return ok;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, print = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0) {
            print = 1;
            continue;
        }
        FILE *f = fopen(argv[i], "r");
        if (f == NULL) {
            printf("FAIL cannot open %s\n", argv[i]);
            failed++;
            continue;
        }
        char *line = NULL;
        size_t cap = 0;
        int lineno = 0;
        while (getline(&line, &cap, f) > 0) {
            lineno++;
            if (line[0] == '\n' || line[0] == '#') {
                continue;
            }
            json_error_t jerr;
            json_t *c = json_loads(line, 0, &jerr);
            if (c == NULL) {
                printf("FAIL %s:%d: bad JSON: %s\n", argv[i], lineno, jerr.text);
                failed++;
                continue;
            }
            if (check(c, argv[i], print)) {
                passed++;
            } else {
                failed++;
            }
            json_decref(c);
        }
        free(line);
        fclose(f);
    }
    if (!print) {
        printf("%d passed, %d failed\n", passed, failed);
    }
    return failed ? 1 : 0;
}
