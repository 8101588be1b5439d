/* tests/tools/promql_test.c - conformance runner for Prometheus' PromQL `.test` scripts
 * (format: ../shared/conformance/promql/README.md). Loads series into a memstore, runs each
 * eval through the engine and compares results, errors and annotations.
 *
 * Usage: promql_test [-v] [-2] [-e epsilon] [-k known_failures.txt] file.test...
 *        promql_test -serve PORT file.test   (benchmarks: loads the file's data, serves the
 *        query API on 127.0.0.1:PORT, prints "READY", stops on SIGTERM/SIGINT)
 * -2: engine settings of a Prometheus 2.x/3.x default install (for differential tests)
 * instead of the ones upstream's test scripts assume (delayed name removal, 10k samples).
 * Per file it prints one line:
 *   FILE <name> passed=P failed=F known=K skipped_nh=N exp_passed=X exp_total=Y
 * and, for each failure, `FAIL <name>:<line>: <expr>: <reason>` (known failures print as
 * KNOWN). Sections (between `clear`s) that load native histograms are skipped; evals that
 * use experimental features are run and counted apart. Exit status 1 if anything failed. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/labels.h"
#include "common/http.h"
#include "common/timeutil.h"
#include "promql/api.h"
#include "promql/promql.h"
#include "storage/memstore.h"

#define MAX_LINES 200000
#define MAX_EXPECT 512

typedef struct {
    const char *file;
    char **lines;
    size_t n_lines;
    memstore_t *store;
    int section_nh, section_exp;
    int verbose;
    int load_only; /* -serve: run load/clear commands, skip evals */
    char **known;
    size_t n_known;
    int passed, failed, known_failed, skipped_nh, exp_passed, exp_total;
} runner_t;

typedef struct {
    labels_t *ls;
    double *vals; /* NAN-boxed: absent slots flagged in `present` */
    int *present;
    size_t n;
} expect_series_t;

/* ---- small parsing helpers -------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static int parse_dur(const char *s, int64_t *ms)
{
    err_t e = {0};
    return duration_parse(s, ms, &e);
}

static int parse_float(const char *s, double *v)
{
    char *end;
    if (strcasecmp(s, "inf") == 0 || strcasecmp(s, "+inf") == 0) {
        *v = INFINITY;
        return 0;
    }
    if (strcasecmp(s, "-inf") == 0) {
        *v = -INFINITY;
        return 0;
    }
    if (strcasecmp(s, "nan") == 0) {
        *v = NAN;
        return 0;
    }
    if (strcmp(s, "stale") == 0) {
        *v = sample_stale_nan();
        return 0;
    }
    *v = strtod(s, &end);
    if (*end != '\0' || end == s) {
        int64_t ms;
        if (parse_dur(s, &ms) == 0) {
            *v = (double)ms / 1000;
            return 0;
        }
        return -1;
    }
    return 0;
}

/* Splits `series values...` at the end of the series part (quote- and brace-aware). */
static char *split_series(char *line)
{
    int depth = 0, in_q = 0;
    char *p = line;
    for (; *p != '\0'; p++) {
        if (in_q) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
            } else if (*p == '"') {
                in_q = 0;
            }
            continue;
        }
        if (*p == '"') {
            in_q = 1;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            depth--;
            if (depth == 0) {
                p++;
                break;
            }
        } else if ((*p == ' ' || *p == '\t') && depth == 0) {
            break;
        }
    }
    if (*p == '\0') {
        return p;
    }
    *p = '\0';
    return p + 1;
}

typedef struct {
    double *v;
    int *present;
    size_t n, cap;
    int has_hist;
} values_t;

static void values_push(values_t *vs, double v, int present)
{
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 16;
        vs->v = realloc(vs->v, vs->cap * sizeof(double));
        vs->present = realloc(vs->present, vs->cap * sizeof(int));
    }
    vs->v[vs->n] = v;
    vs->present[vs->n++] = present;
}

/* One value item: `5`, `_`, `_xN`, `AxN`, `A+BxN`, `A-BxN`, `stale`, `{{...}}`. */
static int parse_item(const char *it, values_t *vs)
{
    if (strncmp(it, "{{", 2) == 0) {
        vs->has_hist = 1;
        values_push(vs, 0, 0);
        return 0;
    }
    if (strcmp(it, "_") == 0) {
        values_push(vs, 0, 0);
        return 0;
    }
    const char *x = strrchr(it, 'x');
    if (x != NULL && x != it && isdigit((unsigned char)x[1])) {
        long n = strtol(x + 1, NULL, 10);
        char head[128];
        snprintf(head, sizeof(head), "%.*s", (int)(x - it), it);
        if (strcmp(head, "_") == 0) {
            for (long i = 0; i < n; i++) {
                values_push(vs, 0, 0);
            }
            return 0;
        }
        /* find the +/- separating A and B (not a leading sign or an exponent sign) */
        char *sep = NULL;
        for (char *p = head + 1; *p != '\0'; p++) {
            if ((*p == '+' || *p == '-') && p[-1] != 'e' && p[-1] != 'E') {
                sep = p;
                break;
            }
        }
        double a, b = 0;
        int neg = 0;
        if (sep != NULL) {
            neg = *sep == '-';
            *sep = '\0';
            if (parse_float(sep + 1, &b) < 0) {
                return -1;
            }
        }
        if (parse_float(head, &a) < 0) {
            return -1;
        }
        for (long i = 0; i <= n; i++) {
            values_push(vs, neg ? a - b * (double)i : a + b * (double)i, 1);
        }
        return 0;
    }
    double v;
    if (parse_float(it, &v) < 0) {
        return -1;
    }
    values_push(vs, v, 1);
    return 0;
}

/* Splits on whitespace, keeping `{{ ... }}` together. */
static int parse_values(char *s, values_t *vs)
{
    while (*s != '\0') {
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        char *start = s;
        if (strncmp(s, "{{", 2) == 0) {
            char *end = strstr(s, "}}");
            s = end != NULL ? end + 2 : s + strlen(s);
            while (*s != '\0' && *s != ' ' && *s != '\t') {
                s++;
            }
        } else {
            while (*s != '\0' && *s != ' ' && *s != '\t') {
                s++;
            }
        }
        char save = *s;
        *s = '\0';
        int rc = parse_item(start, vs);
        *s = save;
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- commands --------------------------------------------------------------------------- */

static int cmd_load(runner_t *r, size_t *li, const char *args)
{
    int64_t step;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", args);
    if (parse_dur(trim(buf), &step) < 0) {
        fprintf(stderr, "%s:%zu: bad load step\n", r->file, *li + 1);
        return -1;
    }
    arena_t *a = arena_new(0, NULL);
    for ((*li)++; *li < r->n_lines; (*li)++) {
        char *line = trim(r->lines[*li]);
        if (*line == '\0' || *line == '#') {
            break;
        }
        char *copy = strdup(line);
        char *vals = split_series(copy);
        size_t sl = strlen(copy);
        if (sl > 3 && strcmp(copy + sl - 3, "@st") == 0) {
            free(copy);
            continue;
        }
        err_t err = {0};
        labels_t *ls = labels_parse(a, copy, &err);
        values_t vs = {0};
        if (ls == NULL || parse_values(vals, &vs) < 0) {
            fprintf(stderr, "%s:%zu: bad load line: %s\n", r->file, *li + 1, err.msg);
        }
        for (size_t i = 0; ls != NULL && i < vs.n; i++) {
            if (vs.present[i]) {
                memstore_add(r->store, ls, (int64_t)i * step, vs.v[i], &err);
            }
        }
        free(vs.v);
        free(vs.present);
        free(copy);
    }
    arena_free(a);
    (*li)--;
    return 0;
}

typedef struct {
    int is_range, ordered, expect_fail, fail_is_regex;
    int64_t t, start, end, step;
    char *expr;
    char fail_text[1024];
    char *warn[64], *info[64];
    int warn_re[64], info_re[64];
    int n_warn, n_info, no_warn, no_info;
    int expect_string, expect_matrix;
    char *string_val;
    int64_t m_start, m_end, m_step;
    int is_scalar;
    double scalar;
    expect_series_t series[MAX_EXPECT];
    size_t n_series;
    int has_hist;
    size_t line;
} eval_t;

static int regex_find(const char *re, const char *s)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (c == NULL) {
        return 0;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return rc >= 0;
}

static char *unquote_string(const char *s)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    promql_expr_t *e = promql_parse(a, s, &err);
    const char *v = e != NULL && promql_expr_type(e) == PROMQL_TYPE_STRING ? promql_format(a, e) : NULL;
    char *out = NULL;
    if (v != NULL) {
        /* format re-quotes; strip the quotes by evaluating a string literal */
        promql_result_t res;
        memstore_t *m = memstore_new();
        if (promql_eval_instant(a, memstore_queryable(m), e, 0, NULL, &res, &err) == 0) {
            out = strdup(res.str);
        }
        memstore_free(m);
    }
    arena_free(a);
    return out;
}

static int parse_expect(eval_t *ev, char *line)
{
    char *rest = trim(line + 6);
    char *type = rest;
    while (*rest != '\0' && *rest != ' ' && *rest != '\t') {
        rest++;
    }
    if (*rest != '\0') {
        *rest++ = '\0';
    }
    rest = trim(rest);
    if (strcmp(type, "range") == 0) {
        char a[64], b[64], s[64];
        if (sscanf(rest, "vector from %63s to %63s step %63s", a, b, s) != 3 ||
            parse_dur(a, &ev->m_start) < 0 || parse_dur(b, &ev->m_end) < 0 ||
            parse_dur(s, &ev->m_step) < 0) {
            return -1;
        }
        ev->expect_matrix = 1;
        return 0;
    }
    if (strcmp(type, "string") == 0) {
        ev->expect_string = 1;
        ev->string_val = unquote_string(rest);
        return ev->string_val != NULL ? 0 : -1;
    }
    int is_re = 0;
    char *text = NULL;
    if (strncmp(rest, "msg:", 4) == 0 || strncmp(rest, "regex:", 6) == 0) {
        is_re = rest[0] == 'r';
        text = trim(rest + (is_re ? 6 : 4));
    }
    if (strcmp(type, "fail") == 0) {
        ev->expect_fail = 1;
        ev->fail_is_regex = is_re;
        snprintf(ev->fail_text, sizeof(ev->fail_text), "%s", text != NULL ? text : "");
    } else if (strcmp(type, "ordered") == 0) {
        ev->ordered = 1;
    } else if (strcmp(type, "no_warn") == 0) {
        ev->no_warn = 1;
    } else if (strcmp(type, "no_info") == 0) {
        ev->no_info = 1;
    } else if (strcmp(type, "warn") == 0 && ev->n_warn < 64) {
        ev->warn_re[ev->n_warn] = is_re;
        ev->warn[ev->n_warn++] = text;
    } else if (strcmp(type, "info") == 0 && ev->n_info < 64) {
        ev->info_re[ev->n_info] = is_re;
        ev->info[ev->n_info++] = text;
    } else {
        return -1;
    }
    return 0;
}

static int parse_result_line(eval_t *ev, char *line, arena_t *a)
{
    double v;
    if (ev->n_series == 0 && parse_float(line, &v) == 0 && strchr(line, ' ') == NULL) {
        ev->is_scalar = 1;
        ev->scalar = v;
        return 0;
    }
    if (ev->n_series == MAX_EXPECT) {
        return -1;
    }
    char *vals = split_series(line);
    err_t err = {0};
    expect_series_t *es = &ev->series[ev->n_series];
    es->ls = labels_parse(a, line, &err);
    values_t vs = {0};
    if (es->ls == NULL || parse_values(vals, &vs) < 0) {
        free(vs.v);
        free(vs.present);
        return -1;
    }
    ev->has_hist |= vs.has_hist;
    es->vals = vs.v;
    es->present = vs.present;
    es->n = vs.n;
    ev->n_series++;
    return 0;
}

/* `eval[_fail|_warn|_info|_ordered] instant at T expr` / `eval range from A to B step S expr` */
static int parse_eval_head(eval_t *ev, char *line)
{
    char *p = line + 4;
    if (*p == '_') {
        char *w = p + 1;
        ev->expect_fail = strncmp(w, "fail", 4) == 0;
        ev->ordered = strncmp(w, "ordered", 7) == 0;
        if (strncmp(w, "warn", 4) == 0) {
            ev->warn[ev->n_warn++] = NULL;
        }
        if (strncmp(w, "info", 4) == 0) {
            ev->info[ev->n_info++] = NULL;
        }
        while (*p != ' ' && *p != '\t' && *p != '\0') {
            p++;
        }
    }
    p = trim(p);
    char a[64], b[64], s[64];
    int n = 0;
    if (sscanf(p, "instant at %63s %n", a, &n) == 1 && n > 0) {
        ev->expr = p + n;
        return parse_dur(a, &ev->t);
    }
    if (sscanf(p, "range from %63s to %63s step %63s %n", a, b, s, &n) == 3 && n > 0) {
        ev->is_range = 1;
        ev->expr = p + n;
        if (parse_dur(a, &ev->start) < 0 || parse_dur(b, &ev->end) < 0 ||
            parse_dur(s, &ev->step) < 0 || ev->end < ev->start) {
            return -1;
        }
        return 0;
    }
    return -1;
}

/* ---- comparison --------------------------------------------------------------------------- */

/* Relative tolerance of value comparisons: upstream's 1e-6, or -e for differential runs. */
static struct {
    double epsilon;
    int delayed_names;
    size_t max_samples;
} cfg_ = {1e-6, 1, 10000};

static int float_eq(double a, double b)
{
    if (sample_is_stale(a) || sample_is_stale(b)) {
        return sample_is_stale(a) && sample_is_stale(b);
    }
    if ((isnan(a) && isnan(b)) || a == b) {
        return 1;
    }
    double sum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || sum < 2.2250738585072014e-308) {
        return diff < cfg_.epsilon * 2.2250738585072014e-308;
    }
    return diff / fmin(sum, 1.7976931348623157e308) < cfg_.epsilon;
}

static void fmt_labels(const labels_t *ls, char *out, size_t n)
{
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    snprintf(out, n, "%s", b.data != NULL ? b.data : "{}");
    buf_fini(&b);
}

static int check_annots(eval_t *ev, const char *const *got, size_t n, char *const *want,
                        const int *is_re, int n_want, int no, const char *kind, char *why,
                        size_t wn)
{
    if (no && n > 0) {
        snprintf(why, wn, "unexpected %s: %s", kind, got[0]);
        return -1;
    }
    if (n_want == 0) {
        return 0;
    }
    if (n == 0) {
        snprintf(why, wn, "expected a %s annotation, got none", kind);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int ok = 0;
        for (int k = 0; k < n_want && !ok; k++) {
            ok = want[k] == NULL || (is_re[k] ? regex_find(want[k], got[i]) : strcmp(want[k], got[i]) == 0);
        }
        if (!ok) {
            snprintf(why, wn, "%s not expected: %s", kind, got[i]);
            return -1;
        }
    }
    for (int k = 0; k < n_want; k++) {
        int ok = 0;
        for (size_t i = 0; i < n && !ok; i++) {
            ok = want[k] == NULL || (is_re[k] ? regex_find(want[k], got[i]) : strcmp(want[k], got[i]) == 0);
        }
        if (!ok) {
            snprintf(why, wn, "expected %s not produced: %s", kind, want[k]);
            return -1;
        }
    }
    return 0;
}

static int check_vector(eval_t *ev, const promql_result_t *res, char *why, size_t wn)
{
    char lb[512];
    if (res->type != PROMQL_TYPE_VECTOR) {
        snprintf(why, wn, "expected vector, got %s", promql_type_name(res->type));
        return -1;
    }
    if (res->n_vec != ev->n_series) {
        snprintf(why, wn, "expected %zu series, got %zu", ev->n_series, res->n_vec);
        return -1;
    }
    for (size_t i = 0; i < ev->n_series; i++) {
        expect_series_t *es = &ev->series[i];
        size_t j = 0;
        while (j < res->n_vec && !labels_equal(res->vec[j].labels, es->ls)) {
            j++;
        }
        fmt_labels(es->ls, lb, sizeof(lb));
        if (j == res->n_vec) {
            snprintf(why, wn, "expected series %s not found", lb);
            return -1;
        }
        if (ev->ordered && j != i) {
            snprintf(why, wn, "series %s at position %zu, expected %zu", lb, j, i);
            return -1;
        }
        if (es->n != 1 || !es->present[0] || !float_eq(es->vals[0], res->vec[j].v)) {
            snprintf(why, wn, "series %s: expected %g, got %g", lb, es->n ? es->vals[0] : NAN,
                     res->vec[j].v);
            return -1;
        }
    }
    return 0;
}

static int check_matrix(eval_t *ev, const promql_result_t *res, int64_t start, int64_t step,
                        char *why, size_t wn)
{
    char lb[512];
    if (res->type != PROMQL_TYPE_MATRIX) {
        snprintf(why, wn, "expected matrix, got %s", promql_type_name(res->type));
        return -1;
    }
    if (res->n_mat != ev->n_series) {
        snprintf(why, wn, "expected %zu series, got %zu", ev->n_series, res->n_mat);
        return -1;
    }
    for (size_t i = 1; i < res->n_mat; i++) {
        if (labels_cmp(res->mat[i - 1].labels, res->mat[i].labels) >= 0) {
            snprintf(why, wn, "matrix not sorted by labels");
            return -1;
        }
    }
    for (size_t i = 0; i < ev->n_series; i++) {
        expect_series_t *es = &ev->series[i];
        size_t j = 0;
        while (j < res->n_mat && !labels_equal(res->mat[j].labels, es->ls)) {
            j++;
        }
        fmt_labels(es->ls, lb, sizeof(lb));
        if (j == res->n_mat) {
            snprintf(why, wn, "expected series %s not found", lb);
            return -1;
        }
        const promql_series_t *s = &res->mat[j];
        size_t k = 0;
        for (size_t x = 0; x < es->n; x++) {
            if (!es->present[x]) {
                continue;
            }
            int64_t t = start + (int64_t)x * step;
            if (k >= s->n_points || s->points[k].t != t || !float_eq(s->points[k].v, es->vals[x])) {
                snprintf(why, wn, "series %s: point %zu (t=%lld) expected %g, got %s%g@%lld", lb, x,
                         (long long)t, es->vals[x], k >= s->n_points ? "none " : "",
                         k < s->n_points ? s->points[k].v : 0.0,
                         k < s->n_points ? (long long)s->points[k].t : 0LL);
                return -1;
            }
            k++;
        }
        if (k != s->n_points) {
            snprintf(why, wn, "series %s: expected %zu points, got %zu", lb, k, s->n_points);
            return -1;
        }
    }
    return 0;
}

static int check_result(eval_t *ev, const promql_result_t *res, char *why, size_t wn)
{
    if (ev->expect_string) {
        if (res->type != PROMQL_TYPE_STRING || strcmp(res->str, ev->string_val) != 0) {
            snprintf(why, wn, "expected string \"%s\"", ev->string_val);
            return -1;
        }
        return 0;
    }
    if (ev->is_scalar) {
        if (res->type != PROMQL_TYPE_SCALAR || !float_eq(res->scalar, ev->scalar)) {
            snprintf(why, wn, "expected scalar %g, got %s %g", ev->scalar,
                     promql_type_name(res->type), res->scalar);
            return -1;
        }
        return 0;
    }
    if (ev->is_range) {
        return check_matrix(ev, res, ev->start, ev->step, why, wn);
    }
    if (ev->expect_matrix) {
        return check_matrix(ev, res, ev->m_start, ev->m_step, why, wn);
    }
    if (res->type == PROMQL_TYPE_MATRIX && ev->n_series == 0 && res->n_mat == 0) {
        return 0;
    }
    return check_vector(ev, res, why, wn);
}

/* Runs `expr` once (instant at t, or the eval's range) and checks everything the eval
 * expects. pin: evaluate the expression with every selector pinned `@ eval time` (upstream's
 * step-invariance re-runs). */
static int run_once(runner_t *r, eval_t *ev, int64_t t, int pin, char *why, size_t wn)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    promql_result_t res;
    promql_opts_t opts = {.max_samples = cfg_.max_samples, .timeout_ms = 100000, .delayed_name_removal = cfg_.delayed_names};
    int rc = -1;
    promql_expr_t *e = promql_parse_flags(
        a, ev->expr, PROMQL_PARSE_EXPERIMENTAL_FUNCS | PROMQL_PARSE_DURATION_EXPR, &err);
    if (e != NULL && pin) {
        promql_pin_time(e, ev->t);
        /* re-parse the printed form: the printer must round-trip the @ modifiers */
        e = promql_parse_flags(a, promql_format(a, e),
                               PROMQL_PARSE_EXPERIMENTAL_FUNCS | PROMQL_PARSE_DURATION_EXPR, &err);
    }
    if (e != NULL) {
        rc = ev->is_range ? promql_eval_range(a, memstore_queryable(r->store), e, ev->start,
                                              ev->end, ev->step, &opts, &res, &err)
                          : promql_eval_instant(a, memstore_queryable(r->store), e, t, &opts,
                                                &res, &err);
    }
    int ok = 0;
    if (ev->expect_fail) {
        if (rc == 0) {
            snprintf(why, wn, "expected failure, query succeeded");
        } else if (ev->fail_text[0] != '\0' &&
                   !(ev->fail_is_regex ? regex_find(ev->fail_text, err.msg)
                                       : strcmp(ev->fail_text, err.msg) == 0)) {
            snprintf(why, wn, "wrong error: %s", err.msg);
        } else {
            ok = 1;
        }
    } else if (rc != 0) {
        snprintf(why, wn, "error: %s", err.msg);
    } else if (check_result(ev, &res, why, wn) == 0 &&
               check_annots(ev, res.warnings, res.n_warnings, ev->warn, ev->warn_re, ev->n_warn,
                            ev->no_warn, "warning", why, wn) == 0 &&
               check_annots(ev, res.infos, res.n_infos, ev->info, ev->info_re, ev->n_info,
                            ev->no_info, "info", why, wn) == 0) {
        ok = 1;
    }
    arena_free(a);
    return ok ? 0 : -1;
}

/* Upstream's range-mode check: the same expression as a range query from t-1m to t+1m
 * every 1m must give the instant result at t. */
static int run_range_mode(runner_t *r, eval_t *ev, char *why, size_t wn)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    promql_result_t res;
    promql_opts_t opts = {.max_samples = cfg_.max_samples, .timeout_ms = 100000, .delayed_name_removal = cfg_.delayed_names};
    int ok = 0;
    promql_expr_t *e = promql_parse_flags(
        a, ev->expr, PROMQL_PARSE_EXPERIMENTAL_FUNCS | PROMQL_PARSE_DURATION_EXPR, &err);
    if (e == NULL || promql_eval_range(a, memstore_queryable(r->store), e, ev->t - 60000,
                                       ev->t + 60000, 60000, &opts, &res, &err) < 0) {
        snprintf(why, wn, "range mode: error: %s", err.msg);
        goto done;
    }
    /* the points at t, as an instant vector */
    promql_result_t at = {.type = PROMQL_TYPE_VECTOR};
    at.vec = arena_alloc(a, (res.n_mat + 1) * sizeof(*at.vec));
    for (size_t i = 0; i < res.n_mat; i++) {
        for (size_t k = 0; k < res.mat[i].n_points; k++) {
            if (res.mat[i].points[k].t == ev->t) {
                at.vec[at.n_vec++] = (promql_sample_t){res.mat[i].labels, ev->t,
                                                       res.mat[i].points[k].v};
            }
        }
    }
    if (ev->is_scalar) {
        at.type = PROMQL_TYPE_SCALAR;
        at.scalar = at.n_vec > 0 ? at.vec[0].v : NAN;
    }
    if (check_result(ev, &at, why, wn) < 0) {
        char tmp[1536];
        snprintf(tmp, sizeof(tmp), "range mode: %s", why);
        snprintf(why, wn, "%s", tmp);
        goto done;
    }
    ok = 1;
done:
    arena_free(a);
    return ok ? 0 : -1;
}

static int uses_query_context(const char *expr)
{
    return strstr(expr, "start()") != NULL || strstr(expr, "end()") != NULL ||
           strstr(expr, "range()") != NULL || strstr(expr, "step()") != NULL;
}

static int run_eval(runner_t *r, eval_t *ev, char *why, size_t wn)
{
    if (run_once(r, ev, ev->t, 0, why, wn) < 0) {
        return -1;
    }
    if (ev->is_range || ev->expect_fail) {
        return 0;
    }
    if (!ev->expect_matrix && !ev->expect_string && !ev->ordered &&
        !uses_query_context(ev->expr) && run_range_mode(r, ev, why, wn) < 0) {
        return -1;
    }
    /* step invariance: pinned to @ t, the result must not depend on the evaluation time */
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    promql_expr_t *e = promql_parse_flags(
        a, ev->expr, PROMQL_PARSE_EXPERIMENTAL_FUNCS | PROMQL_PARSE_DURATION_EXPR, &err);
    int pinnable = e != NULL && promql_pin_time(e, ev->t) == 0;
    arena_free(a);
    if (!pinnable) {
        return 0;
    }
    int64_t t = ev->t;
    int64_t times[5] = {-10 * t, 0, t / 5, t, 10 * t};
    int n = 5;
    if (t == 0) {
        times[0] = -1000;
        times[1] = 0;
        times[2] = 1000;
        n = 3;
    }
    for (int i = 0; i < n; i++) {
        if (run_once(r, ev, times[i], 1, why, wn) < 0) {
            char tmp[1536];
            snprintf(tmp, sizeof(tmp), "pinned @ %lld, evaluated at %lld: %s", (long long)t,
                     (long long)times[i], why);
            snprintf(why, wn, "%s", tmp);
            return -1;
        }
    }
    return 0;
}

static int is_known(runner_t *r, size_t line)
{
    char key[512];
    const char *base = strrchr(r->file, '/');
    snprintf(key, sizeof(key), "%s:%zu ", base != NULL ? base + 1 : r->file, line);
    for (size_t i = 0; i < r->n_known; i++) {
        if (strncmp(r->known[i], key, strlen(key)) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_experimental(const char *expr)
{
    static const char *const words[] = {
        "limitk",   "limit_ratio",  "info(",        "double_exponential",
        "mad_over", "ts_of_",       "anchored",      "smoothed",
        "fill(",    "fill_left",    "fill_right",   "step()",        "range()",
        "min_of(",  "max_of(",      "histogram_quantiles", "start_timestamp", "__type__",
        "__unit__",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(expr, words[i]) != NULL) {
            return 1;
        }
    }
    /* start()/end() as functions, not as @ modifiers */
    for (const char *p = expr; (p = strstr(p, "start()")) != NULL || (p = NULL, 0); p++) {
        const char *q = p;
        while (q > expr && q[-1] == ' ') {
            q--;
        }
        if (q == expr || q[-1] != '@') {
            return 1;
        }
    }
    for (const char *p = expr; (p = strstr(p, "end()")) != NULL; p++) {
        const char *q = p;
        while (q > expr && q[-1] == ' ') {
            q--;
        }
        if ((q == expr || q[-1] != '@') && (p == expr || !isalpha((unsigned char)p[-1]))) {
            return 1;
        }
    }
    /* duration arithmetic inside brackets or after offset */
    for (const char *p = strchr(expr, '['); p != NULL; p = strchr(p + 1, '[')) {
        const char *q = strchr(p, ']');
        for (const char *x = p; q != NULL && x < q; x++) {
            if (*x == '+' || *x == '*' || *x == '/' || *x == '(' || *x == '%' || *x == '^' ||
                (*x == '-' && x > p + 1)) {
                return 1;
            }
        }
    }
    const char *o = strstr(expr, "offset");
    return o != NULL && strpbrk(o + 6, "(*+/") != NULL && strpbrk(o + 6, "(*+/") < o + 12;
}

static void cmd_eval(runner_t *r, size_t *li)
{
    eval_t *ev = calloc(1, sizeof(*ev));
    arena_t *a = arena_new(0, NULL);
    char why[2048] = "";
    char *head = strdup(trim(r->lines[*li]));
    ev->line = *li + 1;
    int bad = parse_eval_head(ev, head) < 0;
    for ((*li)++; *li < r->n_lines; (*li)++) {
        char *line = trim(r->lines[*li]);
        if (*line == '\0' || *line == '#') {
            break;
        }
        if (strncmp(line, "expect ", 7) == 0) {
            bad |= parse_expect(ev, line) < 0;
        } else if (!ev->is_scalar) {
            bad |= parse_result_line(ev, line, a) < 0;
        }
    }
    (*li)--;
    int exp = r->section_exp || is_experimental(ev->expr != NULL ? ev->expr : "");
    if (r->section_nh || ev->has_hist) {
        r->skipped_nh++;
    } else if (bad) {
        r->failed++;
        printf("FAIL %s:%zu: cannot parse eval command\n", r->file, ev->line);
    } else {
        int ok = run_eval(r, ev, why, sizeof(why)) == 0;
        if (exp) {
            r->exp_total++;
            r->exp_passed += ok;
            if (!ok && r->verbose) {
                printf("EXPFAIL %s:%zu: %s: %s\n", r->file, ev->line, ev->expr, why);
            }
        } else if (ok) {
            r->passed++;
        } else if (is_known(r, ev->line)) {
            r->known_failed++;
            if (r->verbose) {
                printf("KNOWN %s:%zu: %s: %s\n", r->file, ev->line, ev->expr, why);
            }
        } else {
            r->failed++;
            printf("FAIL %s:%zu: %s: %s\n", r->file, ev->line, ev->expr, why);
        }
    }
    for (size_t i = 0; i < ev->n_series; i++) {
        free(ev->series[i].vals);
        free(ev->series[i].present);
    }
    free(ev->string_val);
    free(head);
    free(ev);
    arena_free(a);
}

/* Marks whether the section starting at line `from` (up to the next clear) loads native
 * histograms or experimental metadata labels. */
static void scan_section(runner_t *r, size_t from)
{
    r->section_nh = r->section_exp = 0;
    int in_load = 0;
    for (size_t i = from; i < r->n_lines; i++) {
        const char *l = r->lines[i];
        while (*l == ' ' || *l == '\t') {
            l++;
        }
        if (strncmp(l, "clear", 5) == 0) {
            break;
        }
        if (*l == '\0' || *l == '#') {
            in_load = 0;
            continue;
        }
        if (strncmp(l, "load", 4) == 0) {
            in_load = 1;
            r->section_nh |= strncmp(l, "load_with_nhcb", 14) == 0;
            continue;
        }
        if (in_load) {
            r->section_nh |= strstr(l, "{{") != NULL;
            r->section_exp |= strstr(l, "__type__") != NULL || strstr(l, "__unit__") != NULL ||
                              strstr(l, "@st") != NULL;
        }
    }
}

static int run_file(runner_t *r)
{
    scan_section(r, 0);
    for (size_t i = 0; i < r->n_lines; i++) {
        char *line = trim(r->lines[i]);
        char word[32] = "";
        sscanf(line, "%31s", word);
        for (char *p = word; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        if (*line == '\0' || *line == '#') {
            continue;
        }
        if (strcmp(word, "clear") == 0) {
            memstore_clear(r->store);
            scan_section(r, i + 1);
        } else if (strncmp(word, "load", 4) == 0) {
            cmd_load(r, &i, line + strlen(word));
        } else if (strncmp(word, "eval", 4) == 0) {
            if (!r->load_only) {
                cmd_eval(r, &i);
            }
        } else {
            printf("FAIL %s:%zu: unknown command %s\n", r->file, i + 1, word);
            r->failed++;
        }
    }
    return 0;
}

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char **lines = calloc(MAX_LINES, sizeof(char *));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while (*n < MAX_LINES && (len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        lines[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
}

static queryable_t *serve_store(void *ctx, const char *tenant)
{
    return memstore_queryable(ctx);
}

static int serve(int port, const char *file)
{
    runner_t r = {.file = file, .load_only = 1};
    err_t err = {0};
    r.lines = read_lines(file, &r.n_lines);
    if (r.lines == NULL) {
        fprintf(stderr, "cannot read %s\n", file);
        return 1;
    }
    r.store = memstore_new();
    run_file(&r);
    free_lines(r.lines, r.n_lines);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    http_server_opts_t o = {.listen_address = "127.0.0.1", .port = port, .threads = 2,
                            .no_auth_tenant = "anonymous"};
    http_server_t *srv = http_server_new(&o, &err);
    promql_api_t *api = srv != NULL ? promql_api_register(srv, serve_store, r.store, NULL, &err) : NULL;
    if (api == NULL || http_server_start(srv, &err) < 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    printf("READY %d series\n", (int)memstore_series_count(r.store));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    http_server_free(srv);
    promql_api_free(api);
    memstore_free(r.store);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "-serve") == 0) {
        return serve(atoi(argv[2]), argv[3]);
    }
    runner_t base = {0};
    int i = 1, any_failed = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            base.verbose = 1;
        } else if (strcmp(argv[i], "-2") == 0) {
            /* Prometheus 2.x defaults: names dropped at once, no test sample limit */
            cfg_.delayed_names = 0;
            cfg_.max_samples = 50000000;
        } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            cfg_.epsilon = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) {
            base.known = read_lines(argv[++i], &base.n_known);
        }
    }
    for (; i < argc; i++) {
        runner_t r = base;
        r.file = argv[i];
        r.lines = read_lines(argv[i], &r.n_lines);
        if (r.lines == NULL) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            any_failed = 1;
            continue;
        }
        r.store = memstore_new();
        run_file(&r);
        const char *base_name = strrchr(r.file, '/');
        printf("FILE %s passed=%d failed=%d known=%d skipped_nh=%d exp_passed=%d exp_total=%d\n",
               base_name != NULL ? base_name + 1 : r.file, r.passed, r.failed, r.known_failed,
               r.skipped_nh, r.exp_passed, r.exp_total);
        any_failed |= r.failed > 0;
        memstore_free(r.store);
        free_lines(r.lines, r.n_lines);
    }
    if (base.known != NULL) {
        free_lines(base.known, base.n_known);
    }
    return any_failed;
}
