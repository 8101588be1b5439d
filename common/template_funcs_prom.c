/* common/template_funcs_prom.c - Prometheus' template functions for alerting rule
 * annotations and labels (template/template.go of Prometheus 2.42, plus toDuration from
 * later releases): query results (query, first, label, value, strvalue, sortByLabel), the
 * humanize family, time conversions, URL helpers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/template_int.h"
#include "common/timeutil.h"

int tmpl__to_float(tstate_t *st, tv_t v, double *f)
{
    switch (v.kind) {
    case TV_FLOAT:
        *f = v.u.f;
        return 0;
    case TV_INT:
    case TV_UINT8:
    case TV_DURATION:
        *f = (double)v.u.i;
        return 0;
    case TV_STRING: {
        const char *s = tstate_strdup(st, v.u.s.p, v.u.s.n);
        if (tmpl__parse_go_float(s, f) == 0) {
            return 0;
        }
        return tstate_fail(st, "strconv.ParseFloat: parsing \"%s\": invalid syntax", s);
    }
    default:
        return tstate_fail(st, "can't convert %s to float", tv_type_name(v));
    }
}

static int ret_str(tstate_t *st, buf_t *b, tv_t *out)
{
    *out = tstate_buf_value(st, b);
    buf_fini(b);
    return 0;
}

/* fmt.Sprintf("%.4g<suffix>", v) */
static void g4(buf_t *b, double v, const char *suffix)
{
    tv_t arg = tv_float(v);
    tv_sprintf("%.4g", 4, &arg, 1, b);
    buf_puts(b, suffix);
}

static void scale_down(double *v, const char *const *prefixes, double base, const char **p)
{
    for (int i = 0; prefixes[i] != NULL && fabs(*v) < 1; i++) {
        *p = prefixes[i];
        *v *= base;
    }
}

static const char *const small_prefixes[] = {"m", "u", "n", "p", "f", "a", "z", "y", NULL};

static int f_humanize(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y", NULL};
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    const char *prefix = "";
    if (v == 0 || isnan(v) || isinf(v)) {
        g4(&b, v, "");
    } else if (fabs(v) >= 1) {
        for (int i = 0; big[i] != NULL && fabs(v) >= 1000; i++) {
            prefix = big[i];
            v /= 1000;
        }
        g4(&b, v, prefix);
    } else {
        scale_down(&v, small_prefixes, 1000, &prefix);
        g4(&b, v, prefix);
    }
    return ret_str(st, &b, out);
}

static int f_humanize1024(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    static const char *const big[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi", NULL};
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    const char *prefix = "";
    if (fabs(v) > 1 && !isnan(v) && !isinf(v)) {
        for (int i = 0; big[i] != NULL && fabs(v) >= 1024; i++) {
            prefix = big[i];
            v /= 1024;
        }
    }
    g4(&b, v, prefix);
    return ret_str(st, &b, out);
}

int tmpl__f_humanize_duration(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    if (isnan(v) || isinf(v)) {
        g4(&b, v, "");
    } else if (v == 0) {
        g4(&b, v, "s");
    } else if (fabs(v) >= 1) {
        const char *sign = v < 0 ? "-" : "";
        v = fabs(v);
        int64_t d = tmpl__f2i(v);
        int64_t s = d % 60, m = d / 60 % 60, h = d / 3600 % 24, days = d / 86400;
        if (d < 0) { /* Go's int64 of a huge float: print the wrapped value's parts */
            sign = "";
        }
        if (days != 0) {
            buf_printf(&b, "%s%lldd %lldh %lldm %llds", sign, (long long)days, (long long)h,
                       (long long)m, (long long)s);
        } else if (h != 0) {
            buf_printf(&b, "%s%lldh %lldm %llds", sign, (long long)h, (long long)m, (long long)s);
        } else if (m != 0) {
            buf_printf(&b, "%s%lldm %llds", sign, (long long)m, (long long)s);
        } else {
            buf_puts(&b, sign);
            g4(&b, v, "s");
        }
    } else {
        const char *prefix = "";
        scale_down(&v, small_prefixes, 1000, &prefix);
        g4(&b, v, prefix);
        buf_putc(&b, 's');
    }
    return ret_str(st, &b, out);
}

static int f_humanize_percentage(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    g4(&b, v * 100, "%");
    return ret_str(st, &b, out);
}

/* Prometheus' floatToTime: millisecond precision (model.Time), UTC. */
static int float_to_time(tstate_t *st, double v, tv_t *out)
{
    if (isnan(v) || isinf(v)) {
        return tstate_fail(st, "value is NaN or Inf");
    }
    double ns = v * 1e9;
    if (ns > 9.2233720368547758e18 || ns < -9.2233720368547758e18) {
        buf_t b;
        buf_init(&b);
        tv_print(tv_float(v), &b);
        tstate_fail(st, "%s cannot be represented as a nanoseconds timestamp since it overflows "
                        "int64", b.data);
        buf_fini(&b);
        return -1;
    }
    int64_t ms = (int64_t)ns / 1000000; /* TimeFromUnixNano truncates to ms */
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        sec--;
    }
    *out = tv_time_sec(sec, (int32_t)(rem * 1000000));
    return 0;
}

static int f_humanize_timestamp(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v;
    tv_t t;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    if (isnan(v) || isinf(v)) {
        g4(&b, v, "");
    } else if (float_to_time(st, v, &t) < 0) {
        buf_fini(&b);
        return -1;
    } else {
        tv_print(t, &b);
    }
    return ret_str(st, &b, out);
}

static int f_to_time(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    return float_to_time(st, v, out);
}

static int f_to_duration(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    double v;
    if (tmpl__to_float(st, a[0], &v) < 0) {
        return -1;
    }
    if (isnan(v) || isinf(v)) {
        return tstate_fail(st, "value is NaN or Inf");
    }
    *out = (tv_t){.kind = TV_DURATION, .u.i = tmpl__f2i(v * 1e9)};
    return 0;
}

static int f_parse_duration(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *s = tstate_strdup(st, a[0].u.s.p, a[0].u.s.n);
    int64_t ms;
    err_t derr = {0};
    if (duration_parse(s, &ms, &derr) < 0) {
        return tstate_fail(st, "not a valid duration string: \"%s\"", s);
    }
    *out = tv_float((double)ms / 1000);
    return 0;
}

/* ---- query results -------------------------------------------------------------------- */

static int f_query(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const tmpl_prom_data_t *d = st->prom;
    if (d == NULL || d->query == NULL) {
        return tstate_fail(st, "query is not available here");
    }
    tmpl_sample_t *samples = NULL;
    size_t ns = 0;
    err_t qerr = {0};
    const char *q = tstate_strdup(st, a[0].u.s.p, a[0].u.s.n);
    if (d->query(d->query_arg, q, d->ts_ms, st->arena, &samples, &ns, &qerr) < 0) {
        return tstate_fail(st, "%s", qerr.msg);
    }
    tv_list_t *l = tv_list_new(st->arena, ns);
    for (size_t i = 0; l != NULL && i < ns; i++) {
        tv_map_t *m = tv_map_new(st->arena, 2);
        if (m == NULL) {
            return tstate_fail(st, "out of memory");
        }
        m->e[0] = (struct tv_map_entry){"Labels", 6,
                                        tmpl__kv_from_labels(st->arena, samples[i].labels,
                                                             samples[i].n_labels, TVT_STRMAP)};
        m->e[1] = (struct tv_map_entry){"Value", 5, tv_float(samples[i].value)};
        l->items[i] = tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_PROMSAMPLE);
    }
    if (l == NULL) {
        return tstate_fail(st, "out of memory");
    }
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_PROMRESULT);
    return 0;
}

static int check_result(tstate_t *st, tv_t v, tv_type_t want, const char *type)
{
    if (v.type != want) {
        return tstate_errorf(st, "wrong type for value; expected %s; got %s", type,
                             tv_type_name(v));
    }
    return 0;
}

static int f_first(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (a[0].kind != TV_NIL && check_result(st, a[0], TVT_PROMRESULT, "template.queryResult") < 0) {
        return -1;
    }
    if (a[0].kind == TV_NIL || a[0].u.list == NULL || a[0].u.list->n == 0) {
        return tstate_fail(st, "first() called on vector with no elements");
    }
    *out = a[0].u.list->items[0];
    return 0;
}

static const tv_t *sample_field(tv_t s, const char *name)
{
    return s.kind == TV_MAP ? tv_map_get(s.u.map, name, strlen(name)) : NULL;
}

static int f_label(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (a[1].kind != TV_NIL && check_result(st, a[1], TVT_PROMSAMPLE, "*template.sample") < 0) {
        return -1;
    }
    const tv_t *ls = sample_field(a[1], "Labels");
    const tv_t *v = ls != NULL ? tv_map_get(ls->u.map, a[0].u.s.p, a[0].u.s.n) : NULL;
    if (a[1].kind == TV_NIL) {
        return tstate_fail(st, "runtime error: invalid memory address or nil pointer dereference");
    }
    *out = v != NULL ? *v : tv_str("", 0);
    return 0;
}

static int f_value(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (a[0].kind == TV_NIL || check_result(st, a[0], TVT_PROMSAMPLE, "*template.sample") < 0) {
        return a[0].kind == TV_NIL ? tstate_fail(st, "runtime error: invalid memory address or "
                                                     "nil pointer dereference")
                                   : -1;
    }
    *out = *sample_field(a[0], "Value");
    return 0;
}

static int f_strvalue(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t args[2] = {tv_cstr("__value__"), a[0]};
    return f_label(st, args, 2, out);
}

typedef struct {
    tv_t v;
    const char *key; /* the label's value ("" if absent) */
    size_t key_n, pos;
} sort_item_t;

static int by_label(const void *x, const void *y)
{
    const sort_item_t *a = x, *b = y;
    size_t m = a->key_n < b->key_n ? a->key_n : b->key_n;
    int c = memcmp(a->key, b->key, m);
    c = c != 0 ? c : (a->key_n > b->key_n) - (a->key_n < b->key_n);
    return c != 0 ? c : (a->pos > b->pos) - (a->pos < b->pos); /* stable, as sort.Stable */
}

static int f_sort_by_label(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (a[1].kind != TV_NIL && check_result(st, a[1], TVT_PROMRESULT, "template.queryResult") < 0) {
        return -1;
    }
    size_t cnt = a[1].kind == TV_LIST && a[1].u.list ? a[1].u.list->n : 0;
    tv_list_t *l = tv_list_new(st->arena, cnt);
    sort_item_t *items = arena_alloc(st->arena, (cnt + 1) * sizeof(*items));
    if (l == NULL || items == NULL) {
        return tstate_fail(st, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        const tv_t *ls = sample_field(a[1].u.list->items[i], "Labels");
        const tv_t *v = ls != NULL ? tv_map_get(ls->u.map, a[0].u.s.p, a[0].u.s.n) : NULL;
        items[i] = (sort_item_t){a[1].u.list->items[i], v ? v->u.s.p : "", v ? v->u.s.n : 0, i};
    }
    qsort(items, cnt, sizeof(*items), by_label);
    for (size_t i = 0; i < cnt; i++) {
        l->items[i] = items[i].v;
    }
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_PROMRESULT);
    return 0;
}

static int f_args(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_map_t *m = tv_map_new(st->arena, (size_t)n);
    for (int i = 0; m != NULL && i < n; i++) {
        const char *k = arena_sprintf(st->arena, "arg%d", i);
        m->e[i] = (struct tv_map_entry){k, k != NULL ? strlen(k) : 0, a[i]};
    }
    if (m == NULL) {
        return tstate_fail(st, "out of memory");
    }
    tv_map_sort(m);
    *out = (tv_t){.kind = TV_MAP, .u.map = m};
    return 0;
}

/* ---- links and hosts ------------------------------------------------------------------ */

static int link(tstate_t *st, tv_t expr, int tab, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "/graph?g0.expr=");
    tmpl__query_escape(expr.u.s.p, expr.u.s.n, &b);
    buf_printf(&b, "&g0.tab=%d", tab);
    return ret_str(st, &b, out);
}

static int f_graph_link(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return link(st, a[0], 0, out);
}

static int f_table_link(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return link(st, a[0], 1, out);
}

/* net.SplitHostPort, loosely: "[v6]:port", "host:port"; 0 if it is not host:port. */
static int split_host_port(const char *s, size_t n, size_t *host_start, size_t *host_end,
                           size_t *port_start)
{
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (colon == NULL) {
        return 0;
    }
    *port_start = (size_t)(colon - s) + 1;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close + 1 != colon) {
            return 0;
        }
        *host_start = 1;
        *host_end = (size_t)(close - s);
        return 1;
    }
    if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
        return 0; /* too many colons */
    }
    *host_start = 0;
    *host_end = (size_t)(colon - s);
    return 1;
}

static int f_strip_port(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    size_t hs, he, ps;
    *out = a[0];
    if (split_host_port(a[0].u.s.p, a[0].u.s.n, &hs, &he, &ps)) {
        *out = tv_str(a[0].u.s.p + hs, he - hs);
    }
    return 0;
}

static int f_strip_domain(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *s = a[0].u.s.p;
    size_t hs = 0, he = a[0].u.s.n, ps = 0;
    int has_port = split_host_port(s, a[0].u.s.n, &hs, &he, &ps);
    if (!has_port) {
        hs = 0;
        he = a[0].u.s.n;
    }
    const char *host = tstate_strdup(st, s + hs, he - hs);
    if (tmpl__is_ip(host)) {
        *out = a[0];
        return 0;
    }
    const char *dot = strchr(host, '.');
    size_t hn = dot != NULL ? (size_t)(dot - host) : strlen(host);
    if (!has_port) {
        *out = tv_str(host, hn);
        return 0;
    }
    buf_t b;
    buf_init(&b);
    int v6 = memchr(host, ':', hn) != NULL;
    buf_printf(&b, v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", (int)hn, host, (int)(a[0].u.s.n - ps), s + ps);
    return ret_str(st, &b, out);
}

static int f_external_url(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_cstr(st->prom != NULL ? st->prom->external_url : "");
    return 0;
}

static int f_path_prefix(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    const char *u = st->prom != NULL && st->prom->external_url ? st->prom->external_url : "";
    const char *scheme = strstr(u, "://");
    const char *path = scheme != NULL ? strchr(scheme + 3, '/') : (u[0] == '/' ? u : NULL);
    if (path == NULL) {
        *out = tv_str("", 0);
        return 0;
    }
    size_t pn = strcspn(path, "?#");
    *out = tv_str(path, pn);
    return 0;
}

#define S TP_STRING
#define A TP_ANY
const tfunc_t tmpl__prom_funcs[] = {
    {"query", f_query, 1, {S}, 0, S, 0},
    {"first", f_first, 1, {A}, 0, S, 0},
    {"label", f_label, 2, {S, A}, 0, S, 0},
    {"value", f_value, 1, {A}, 0, S, 0},
    {"strvalue", f_strvalue, 1, {A}, 0, S, 0},
    {"args", f_args, 0, {A}, 1, A, 0},
    {"reReplaceAll", tmpl__f_re_replace_all, 3, {S, S, S}, 0, S, 0},
    {"safeHtml", tmpl__f_safe_html, 1, {S}, 0, S, 0},
    {"match", tmpl__f_match, 2, {S, S}, 0, S, 0},
    {"title", tmpl__f_title, 1, {S}, 0, S, 0},
    {"toUpper", tmpl__f_to_upper, 1, {S}, 0, S, 0},
    {"toLower", tmpl__f_to_lower, 1, {S}, 0, S, 0},
    {"graphLink", f_graph_link, 1, {S}, 0, S, 0},
    {"tableLink", f_table_link, 1, {S}, 0, S, 0},
    {"sortByLabel", f_sort_by_label, 2, {S, A}, 0, S, 0},
    {"humanize", f_humanize, 1, {A}, 0, S, 0},
    {"humanize1024", f_humanize1024, 1, {A}, 0, S, 0},
    {"humanizeDuration", tmpl__f_humanize_duration, 1, {A}, 0, S, 0},
    {"humanizePercentage", f_humanize_percentage, 1, {A}, 0, S, 0},
    {"humanizeTimestamp", f_humanize_timestamp, 1, {A}, 0, S, 0},
    {"toTime", f_to_time, 1, {A}, 0, S, 0},
    {"toDuration", f_to_duration, 1, {A}, 0, S, 0},
    {"pathPrefix", f_path_prefix, 0, {S}, 0, S, 0},
    {"externalURL", f_external_url, 0, {S}, 0, S, 0},
    {"parseDuration", f_parse_duration, 1, {S}, 0, S, 0},
    {"stripPort", f_strip_port, 1, {S}, 0, S, 0},
    {"stripDomain", f_strip_domain, 1, {S}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
