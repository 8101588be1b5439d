/* tests/tools/rules_test.c - runs `promtool test rules` files through herald's
 * ruler and PromQL engine: `rules_test FILE...`. For each test: the input
 * series (promtool's expanding notation `1+2x3`, `_`, `stale`) go into an
 * in-memory store, the rule files are loaded into a ruler without scheduler,
 * every rule is evaluated at each evaluation_interval step from 0, and at each
 * eval_time the firing alerts (alert_rule_test) and expression results
 * (promql_expr_test) are compared with the expectations. Prints one line per
 * failure and `N passed, N failed`; exit 1 on any failure. Times start at the
 * Unix epoch, as promtool's. */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "promql/promql.h"
#include "ruler/ruler.h"
#include "ruler/ruler_promql.h"
#include "storage/memstore.h"

#define TENANT "test"

/* ---- YAML to jansson (scalars stay strings)
 * ------------------------------------------ */

static json_t *node_json(yaml_document_t *doc, yaml_node_t *n)
{
    if (n == NULL) {
        return json_null();
    }
    if (n->type == YAML_SCALAR_NODE) {
        return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            json_array_append_new(a, node_json(doc, yaml_document_get_node(doc, *it)));
        }
        return a;
    }
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE) {
            json_object_set_new(o, (const char *)k->data.scalar.value,
                                node_json(doc, yaml_document_get_node(doc, p->value)));
        }
    }
    return o;
}

static json_t *load_yaml(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    json_t *out = NULL;
    if (yaml_parser_load(&parser, &doc)) {
        out = node_json(&doc, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return out;
}

static const char *str_of(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

static int64_t dur_of(const json_t *o, const char *key, int64_t dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    int64_t ms = dflt;
    err_t err = {0};
    if (s != NULL && duration_parse(s, &ms, &err) < 0) {
        fprintf(stderr, "bad duration %s: %s\n", s, err.msg);
    }
    return ms;
}

/* ---- the store the rules read and write
 * ---------------------------------------------- */

typedef struct {
    appender_t base;
    memstore_t *m;
} mem_appender_t;

static int ma_append(appender_t *ap, const labels_t *ls, int64_t t, double v, err_t *err)
{
    return memstore_add(((mem_appender_t *)ap)->m, ls, t, v, err);
}

static int ma_commit(appender_t *ap, err_t *err)
{
    free(ap);
    return 0;
}

static void ma_rollback(appender_t *ap)
{
    free(ap);
}

static const appender_ops_t ma_ops = {ma_append, ma_commit, ma_rollback};

static queryable_t *st_queryable(void *arg, const char *tenant)
{
    return memstore_queryable(arg);
}

static appender_t *st_appender(void *arg, const char *tenant)
{
    mem_appender_t *a = calloc(1, sizeof(*a));
    a->base.ops = &ma_ops;
    a->m = arg;
    return &a->base;
}

/* promtool's expanding notation: `a+bxn`, `a-bxn`, `axn`, `_`, `_xn`, `stale`,
 * numbers. */
static int load_series(memstore_t *m, const char *series, const char *values, int64_t step)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    labels_t *ls = labels_parse(a, series, &err);
    char *copy = strdup(values), *save = NULL;
    int64_t i = 0;
    for (char *tok = strtok_r(copy, " \t\n", &save); ls != NULL && tok != NULL;
         tok = strtok_r(NULL, " \t\n", &save)) {
        char *x = strchr(tok, 'x');
        long n = x != NULL ? strtol(x + 1, NULL, 10) : 0;
        if (tok[0] == '_') {
            i += x != NULL ? n : 1;
            continue;
        }
        if (strcmp(tok, "stale") == 0) {
            memstore_add(m, ls, i++ * step, sample_stale_nan(), &err);
            continue;
        }
        char *end = NULL;
        double start = strtod(tok, &end), delta = 0;
        if (x != NULL && end < x) {
            delta = strtod(end, NULL); /* "+b" or "-b" before the x */
        }
        for (long k = 0; k <= n; k++) {
            memstore_add(m, ls, i++ * step, start + delta * (double)k, &err);
        }
    }
    free(copy);
    arena_free(a);
    if (ls == NULL) {
        fprintf(stderr, "bad series %s: %s\n", series, err.msg);
        return -1;
    }
    return 0;
}

/* ---- comparing
 * ----------------------------------------------------------------------- */

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Canonical text of a string map, without `skip`. */
static char *canon(const json_t *o, const char *skip)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    char **items = calloc(json_object_size(o) + 1, sizeof(char *));
    json_object_foreach((json_t *)o, k, v)
    {
        if (skip == NULL || strcmp(k, skip) != 0) {
            char *s = NULL;
            if (asprintf(&s, "%s=%s", k, json_is_string(v) ? json_string_value(v) : "") < 0) {
                s = NULL;
            }
            items[n++] = s;
        }
    }
    qsort(items, n, sizeof(char *), kv_cmp);
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i ? ", " : "", items[i]);
        free(items[i]);
    }
    buf_puts(&b, "}");
    free(items);
    return buf_steal(&b, NULL);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Both lists sorted, then compared line by line. */
static int same_sets(char **got, size_t n_got, char **want, size_t n_want)
{
    qsort(got, n_got, sizeof(char *), str_cmp);
    qsort(want, n_want, sizeof(char *), str_cmp);
    if (n_got != n_want) {
        return 0;
    }
    for (size_t i = 0; i < n_got; i++) {
        if (strcmp(got[i], want[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void print_set(const char *what, char **v, size_t n)
{
    printf("      %s:\n", what);
    for (size_t i = 0; i < n; i++) {
        printf("        %s\n", v[i]);
    }
}

static void free_set(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static int check_alerts(ruler_t *r, const json_t *t, const char *where)
{
    const char *name = str_of(t, "alertname", "");
    buf_t b;
    buf_init(&b);
    ruler_alerts_json(r, TENANT, &b);
    json_t *alerts = json_loads(b.data, 0, NULL);
    buf_fini(&b);
    size_t i, n_got = 0, n_want = 0;
    json_t *a;
    char **got = calloc(json_array_size(alerts) + 1, sizeof(char *));
    json_array_foreach(alerts, i, a)
    {
        const json_t *ls = json_object_get(a, "labels");
        if (strcmp(str_of(a, "state", ""), "firing") == 0 &&
            strcmp(str_of(ls, "alertname", ""), name) == 0) {
            char *l = canon(ls, "alertname"), *an = canon(json_object_get(a, "annotations"), NULL);
            if (asprintf(&got[n_got], "%s %s", l, an) < 0) {
                got[n_got] = NULL;
            }
            n_got++;
            free(l);
            free(an);
        }
    }
    const json_t *exp = json_object_get(t, "exp_alerts");
    char **want = calloc(json_array_size(exp) + 1, sizeof(char *));
    json_array_foreach(exp, i, a)
    {
        char *l = canon(json_object_get(a, "exp_labels"), "alertname");
        char *an = canon(json_object_get(a, "exp_annotations"), NULL);
        if (asprintf(&want[n_want], "%s %s", l, an) < 0) {
            want[n_want] = NULL;
        }
        n_want++;
        free(l);
        free(an);
    }
    int ok = same_sets(got, n_got, want, n_want);
    if (!ok) {
        printf("FAIL %s: alertname %s\n", where, name);
        print_set("expected", want, n_want);
        print_set("got", got, n_got);
    }
    free_set(got, n_got);
    free_set(want, n_want);
    json_decref(alerts);
    return ok;
}

static char *sample_text(arena_t *a, const labels_t *ls, double v)
{
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    buf_printf(&b, " %.6g", v);
    return buf_steal(&b, NULL);
}

static int check_expr(memstore_t *m, const json_t *t, int64_t ts, const char *where)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    const char *q = str_of(t, "expr", "");
    promql_expr_t *e = promql_parse(a, q, &err);
    promql_result_t res;
    memset(&res, 0, sizeof(res));
    int ok =
        e != NULL && promql_eval_instant(a, memstore_queryable(m), e, ts, NULL, &res, &err) == 0;
    const json_t *exp = json_object_get(t, "exp_samples");
    size_t n_got = 0, n_want = 0, i;
    json_t *s;
    char **got = calloc(res.n_vec + 2, sizeof(char *));
    char **want = calloc(json_array_size(exp) + 1, sizeof(char *));
    if (res.type == PROMQL_TYPE_SCALAR) {
        got[n_got++] = sample_text(a, labels_empty(), res.scalar);
    }
    for (size_t k = 0; k < res.n_vec; k++) {
        got[n_got++] = sample_text(a, res.vec[k].labels, res.vec[k].v);
    }
    json_array_foreach(exp, i, s)
    {
        labels_t *ls = labels_parse(a, str_of(s, "labels", "{}"), &err);
        double v = strtod(str_of(s, "value", "0"), NULL);
        want[n_want++] = sample_text(a, ls != NULL ? ls : labels_empty(), v);
    }
    ok = ok && same_sets(got, n_got, want, n_want);
    if (!ok) {
        printf("FAIL %s: expr %s%s%s\n", where, q, err.msg[0] ? ": " : "", err.msg);
        print_set("expected", want, n_want);
        print_set("got", got, n_got);
    }
    free_set(got, n_got);
    free_set(want, n_want);
    arena_free(a);
    return ok;
}

/* ---- one test
 * ------------------------------------------------------------------------ */

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in != NULL ? fopen(to, "wb") : NULL;
    char chunk[8192];
    size_t n;
    while (out != NULL && (n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
        fwrite(chunk, 1, n, out);
    }
    int rc = out != NULL ? 0 : -1;
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL) {
        fclose(out);
    }
    return rc;
}

static ruler_t *load_rules(const json_t *file, const char *base_dir, const char *tmp,
                           const ruler_evaluator_t *ev)
{
    char path[4096], to[4096];
    snprintf(path, sizeof(path), "%s/%s", tmp, TENANT);
    mkdir(path, 0755);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(file, "rule_files"), i, f)
    {
        const char *name = json_string_value(f);
        snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : base_dir,
                 name[0] == '/' ? "" : "/", name);
        snprintf(to, sizeof(to), "%s/%s/%zu-%s", tmp, TENANT, i, basename(path));
        if (copy_file(path, to) < 0) {
            fprintf(stderr, "cannot read rule file %s\n", path);
        }
    }
    ruler_opts_t o;
    ruler_opts_default(&o, RULER_FLAVOR_MIMIR);
    o.rules_dir = tmp;
    o.manual = 1;
    o.evaluation_delay_ms = 0;
    o.alertmanager_url = NULL;
    err_t err = {0};
    ruler_t *r = ruler_new(&o, ev, &err);
    if (r == NULL) {
        fprintf(stderr, "ruler: %s\n", err.msg);
    }
    return r;
}

static int64_t max_eval_time(const json_t *t)
{
    int64_t max = 0;
    const char *lists[] = {"alert_rule_test", "promql_expr_test"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(t, lists[l]), i, c)
        {
            int64_t e = dur_of(c, "eval_time", 0);
            max = e > max ? e : max;
        }
    }
    return max;
}

static void run_test(const json_t *file, const json_t *t, const char *base_dir, size_t idx,
                     int *passed, int *failed)
{
    int64_t eval_iv = dur_of(file, "evaluation_interval", 60000);
    int64_t step = dur_of(t, "interval", eval_iv);
    memstore_t *m = memstore_new();
    promql_ruler_store_t st = {.queryable = st_queryable, .appender = st_appender, .arg = m};
    ruler_evaluator_t ev;
    promql_ruler_evaluator(&ev, &st);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(t, "input_series"), i, s)
    {
        load_series(m, str_of(s, "series", ""), str_of(s, "values", ""), step);
    }
    char tmp[] = "/tmp/herald-rules-test-XXXXXX";
    ruler_t *r = mkdtemp(tmp) != NULL ? load_rules(file, base_dir, tmp, &ev) : NULL;
    int64_t max = max_eval_time(t);
    err_t err = {0};
    for (int64_t ts = 0; r != NULL && ts <= max; ts += eval_iv) {
        ruler_eval_tenant_at(r, TENANT, ts, &err);
        json_t *c;
        char where[64];
        json_array_foreach(json_object_get(t, "alert_rule_test"), i, c)
        {
            int64_t e = dur_of(c, "eval_time", 0);
            if (e >= ts && e < ts + eval_iv) {
                snprintf(where, sizeof(where), "test %zu, alert_rule_test %zu", idx, i);
                *(check_alerts(r, c, where) ? passed : failed) += 1;
            }
        }
        json_array_foreach(json_object_get(t, "promql_expr_test"), i, c)
        {
            int64_t e = dur_of(c, "eval_time", 0);
            if (e >= ts && e < ts + eval_iv) {
                snprintf(where, sizeof(where), "test %zu, promql_expr_test %zu", idx, i);
                *(check_expr(m, c, e, where) ? passed : failed) += 1;
            }
        }
    }
    if (r == NULL) {
        (*failed)++;
    }
    ruler_free(r);
    memstore_free(m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", tmp);
    }
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int a = 1; a < argc; a++) {
        json_t *file = load_yaml(argv[a]);
        if (file == NULL) {
            printf("FAIL %s: cannot read the test file\n", argv[a]);
            failed++;
            continue;
        }
        char *dir_copy = strdup(argv[a]);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(file, "tests"), i, t)
        {
            run_test(file, t, dirname(dir_copy), i, &passed, &failed);
        }
        free(dir_copy);
        json_decref(file);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
