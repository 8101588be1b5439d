/* promql/agg.c - aggregation operators. One pass groups the input vector by the by/without
 * labels (64-bit signatures, as Prometheus), accumulating per group; sums use Kahan
 * compensation and avg switches to an incremental mean when the running sum overflows, as
 * Prometheus 3.x does, so results agree to the last bit in the common cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_int.h"

typedef struct {
    const labels_t *ls;
    double v, c, mean, count;
    int incremental;
    uint8_t drop_name;
    double *vals; /* quantile */
    size_t n_vals, cap_vals;
    promql__elem_t *els; /* topk/bottomk/limitk */
    size_t n_els, cap_els;
} group_t;

void promql__kahan_inc(double inc, double *sum, double *c)
{
    double t = *sum + inc;
    if (isinf(t)) {
        *c = 0;
    } else if (fabs(*sum) >= fabs(inc)) {
        *c += (*sum - t) + inc;
    } else {
        *c += (inc - t) + *sum;
    }
    *sum = t;
}

static int nan_first_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    if (isnan(a)) {
        return isnan(b) ? 0 : -1;
    }
    if (isnan(b)) {
        return 1;
    }
    return a < b ? -1 : a > b ? 1 : 0;
}

double promql__quantile(double q, double *vals, size_t n)
{
    if (n == 0 || isnan(q)) {
        return NAN;
    }
    if (q < 0) {
        return -INFINITY;
    }
    if (q > 1) {
        return INFINITY;
    }
    qsort(vals, n, sizeof(*vals), nan_first_cmp);
    double rank = q * (double)(n - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin((double)n - 1, lower + 1);
    double w = rank - floor(rank);
    return vals[(size_t)lower] * (1 - w) + vals[(size_t)upper] * w;
}

static const labels_t *group_labels(promql__ev_t *ev, promql_expr_t *e, const labels_t *ls)
{
    if (!e->u.agg.without && e->u.agg.n_grouping == 0) {
        return labels_empty();
    }
    labels_builder_reset(ev->lb, ls);
    labels_builder_keep(ev->lb, e->u.agg.grouping, e->u.agg.n_grouping, !e->u.agg.without);
    if (e->u.agg.without) {
        labels_builder_del(ev->lb, "__name__");
    }
    return labels_builder_build(ev->lb);
}

static uint64_t group_sig(promql__ev_t *ev, promql__memo_t *memo, promql_expr_t *e,
                          const promql__elem_t *el)
{
    uint64_t sig;
    if (!e->u.agg.without && e->u.agg.n_grouping == 0) {
        return 0;
    }
    if (promql__memo_get(memo, el->sid, &sig)) {
        return sig;
    }
    sig = promql__signature(el->ls, e->u.agg.grouping, e->u.agg.n_grouping, !e->u.agg.without);
    promql__memo_put(ev, memo, el->sid, sig);
    return sig;
}

static int push_val(promql__ev_t *ev, group_t *g, double v)
{
    if (g->n_vals == g->cap_vals) {
        size_t nc = g->cap_vals ? g->cap_vals * 2 : 8;
        g->vals = arena_realloc(ev->a, g->vals, g->cap_vals * sizeof(double), nc * sizeof(double));
        if (g->vals == NULL) {
            return -1;
        }
        g->cap_vals = nc;
    }
    g->vals[g->n_vals++] = v;
    return 0;
}

static void avg_add(group_t *g, double f)
{
    g->count++;
    if (!g->incremental) {
        double nv = g->v, nc = g->c;
        promql__kahan_inc(f, &nv, &nc);
        if (!isinf(nv)) {
            g->v = nv;
            g->c = nc;
            return;
        }
        g->incremental = 1;
        g->mean = g->v / (g->count - 1);
        g->c /= g->count - 1;
    }
    double q = (g->count - 1) / g->count;
    double m = q * g->mean, c = q * g->c;
    promql__kahan_inc(f / g->count, &m, &c);
    g->mean = m;
    g->c = c;
}

static void group_first(promql__agg_op_t op, group_t *g, double f)
{
    g->v = f;
    g->mean = f;
    g->count = 1;
    g->c = 0;
    if (op == AGG_STDDEV || op == AGG_STDVAR) {
        g->v = isnan(f) || isinf(f) ? NAN : 0;
    } else if (op == AGG_GROUP) {
        g->v = 1;
    }
}

static void group_add(promql__agg_op_t op, group_t *g, double f)
{
    double delta;
    switch (op) {
    case AGG_SUM:
        promql__kahan_inc(f, &g->v, &g->c);
        break;
    case AGG_AVG:
        avg_add(g, f);
        break;
    case AGG_MAX:
        if (g->v < f || isnan(g->v)) {
            g->v = f;
        }
        break;
    case AGG_MIN:
        if (g->v > f || isnan(g->v)) {
            g->v = f;
        }
        break;
    case AGG_COUNT:
        g->count++;
        break;
    case AGG_STDDEV:
    case AGG_STDVAR:
        g->count++;
        delta = f - g->mean;
        g->mean += delta / g->count;
        g->v += delta * (f - g->mean);
        break;
    default:
        break;
    }
}

static double group_result(promql__agg_op_t op, group_t *g, double q)
{
    switch (op) {
    case AGG_SUM:
        return isinf(g->v) ? g->v : g->v + g->c;
    case AGG_AVG:
        if (g->incremental) {
            return g->mean + g->c;
        }
        return g->v / g->count + g->c / g->count;
    case AGG_COUNT:
        return g->count;
    case AGG_STDVAR:
        return g->v / g->count;
    case AGG_STDDEV:
        return sqrt(g->v / g->count);
    case AGG_QUANTILE:
        return promql__quantile(q, g->vals, g->n_vals);
    default:
        return g->v;
    }
}

typedef struct {
    group_t *g;
    size_t n, cap;
    promql__u64map_t idx;
} groups_t;

/* The group for signature sig, created with labels from `ls` if new. */
static group_t *group_for(promql__ev_t *ev, promql_expr_t *e, groups_t *gs, uint64_t sig,
                          const labels_t *ls, int *is_new)
{
    long k = promql__u64map_get(&gs->idx, sig);
    *is_new = k < 0;
    if (k >= 0) {
        return &gs->g[k];
    }
    if (gs->n == gs->cap) {
        size_t nc = gs->cap ? gs->cap * 2 : 8;
        gs->g = arena_realloc(ev->a, gs->g, gs->cap * sizeof(group_t), nc * sizeof(group_t));
        if (gs->g == NULL) {
            return NULL;
        }
        gs->cap = nc;
    }
    if (promql__u64map_put(ev->a, &gs->idx, sig, gs->n) < 0) {
        return NULL;
    }
    group_t *g = &gs->g[gs->n++];
    memset(g, 0, sizeof(*g));
    g->ls = ls != NULL ? ls : group_labels(ev, e, NULL);
    return g;
}

static int agg_simple(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *in, double q,
                      promql__val_t *out)
{
    groups_t gs = {0};
    promql__agg_op_t op = e->u.agg.op;
    promql__memo_t *memo = promql__memo_for(ev, e);
    for (size_t i = 0; i < in->n; i++) {
        promql__elem_t *el = &in->e[i];
        int is_new;
        uint64_t sig = group_sig(ev, memo, e, el);
        long k = promql__u64map_get(&gs.idx, sig);
        group_t *g = group_for(ev, e, &gs, sig, k < 0 ? group_labels(ev, e, el->ls) : NULL, &is_new);
        if (g == NULL) {
            return -1;
        }
        if (is_new) {
            group_first(op, g, el->f);
            g->drop_name = el->drop_name;
        } else {
            g->drop_name |= el->drop_name;
            group_add(op, g, el->f);
        }
        if (op == AGG_QUANTILE && push_val(ev, g, el->f) < 0) {
            return -1;
        }
    }
    size_t cap = 0;
    for (size_t i = 0; i < gs.n; i++) {
        promql__elem_t el = {gs.g[i].ls, group_result(op, &gs.g[i], q), 0, gs.g[i].drop_name, 0};
        if (promql__vec_push(ev, &out->vec, &cap, el) < 0) {
            return -1;
        }
    }
    return 0;
}

static int count_values(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *in, const char *name,
                        promql__val_t *out)
{
    groups_t gs = {0};
    if (!labels_is_valid_name(name, strlen(name))) {
        return err_set(ev->err, ERR_EXECUTION, "invalid label name \"%s\"", name);
    }
    for (size_t i = 0; i < in->n; i++) {
        buf_t b;
        buf_init(&b);
        promql__fmt_float(&b, in->e[i].f);
        const char *val = arena_strdup(ev->a, b.data);
        buf_fini(&b);
        labels_builder_reset(ev->lb, in->e[i].ls);
        if (e->u.agg.without || e->u.agg.n_grouping > 0) {
            labels_builder_keep(ev->lb, e->u.agg.grouping, e->u.agg.n_grouping, !e->u.agg.without);
            if (e->u.agg.without) {
                labels_builder_del(ev->lb, "__name__");
            }
        } else {
            labels_builder_reset(ev->lb, NULL);
        }
        labels_builder_set(ev->lb, name, val);
        const labels_t *ls = labels_builder_build(ev->lb);
        int is_new;
        group_t *g = val != NULL ? group_for(ev, e, &gs, labels_hash(ls), ls, &is_new) : NULL;
        if (g == NULL) {
            return -1;
        }
        g->count++;
    }
    size_t cap = 0;
    for (size_t i = 0; i < gs.n; i++) {
        promql__elem_t el = {gs.g[i].ls, gs.g[i].count, 0, 0, 0};
        if (promql__vec_push(ev, &out->vec, &cap, el) < 0) {
            return -1;
        }
    }
    return 0;
}

/* 1 if a ranks before b for topk (NaN ranks last); bottomk reverses, NaN still last. */
static int ranks_before(double a, double b, int top)
{
    if (isnan(a)) {
        return 0;
    }
    if (isnan(b)) {
        return 1;
    }
    return top ? a > b : a < b;
}

static int push_el(promql__ev_t *ev, group_t *g, promql__elem_t el)
{
    if (g->n_els == g->cap_els) {
        size_t nc = g->cap_els ? g->cap_els * 2 : 4;
        g->els = arena_realloc(ev->a, g->els, g->cap_els * sizeof(el), nc * sizeof(el));
        if (g->els == NULL) {
            return -1;
        }
        g->cap_els = nc;
    }
    g->els[g->n_els++] = el;
    return 0;
}

/* Inserts el into the group's sorted top list of at most k (insertion, stable). */
static int topk_insert(promql__ev_t *ev, group_t *g, promql__elem_t el, size_t k, int top)
{
    size_t pos = g->n_els;
    while (pos > 0 && ranks_before(el.f, g->els[pos - 1].f, top)) {
        pos--;
    }
    if (pos >= k) {
        return 0;
    }
    if (g->n_els < k && push_el(ev, g, el) < 0) {
        return -1;
    }
    size_t last = g->n_els - 1;
    memmove(&g->els[pos + 1], &g->els[pos], (last - pos) * sizeof(el));
    g->els[pos] = el;
    return 0;
}

/* Hash-based sampling of limit_ratio: a series is kept when its hash position falls in the
 * ratio's part of [0, 1). */
static int ratio_keep(const labels_t *ls, double r)
{
    double off = (double)labels_hash(ls) / 18446744073709551615.0;
    return r >= 0 ? off < r : off >= 1.0 + r;
}

static int agg_k(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *in, double param,
                 promql__val_t *out)
{
    promql__agg_op_t op = e->u.agg.op;
    groups_t gs = {0};
    size_t cap = 0;
    if (isnan(param)) {
        return err_set(ev->err, ERR_EXECUTION,
                       op == AGG_LIMIT_RATIO ? "Ratio value is NaN" : "Parameter value is NaN");
    }
    if (op != AGG_LIMIT_RATIO && (param <= -9.223372036854775808e18 || param >= 9.223372036854775807e18)) {
        return err_set(ev->err, ERR_EXECUTION, "Scalar value %g %s int64", param,
                       param < 0 ? "underflows" : "overflows");
    }
    double r = param < -1 ? -1 : param > 1 ? 1 : param;
    if (op == AGG_LIMIT_RATIO && (param > 1 || param < -1)) {
        promql__annotate(ev, 1, e->u.agg.param, "ratio value should be between -1 and 1, got %g, capping to %g",
                         param, r);
    }
    int64_t k = (int64_t)param;
    k = k > (int64_t)in->n ? (int64_t)in->n : k;
    if ((op != AGG_LIMIT_RATIO && k < 1) || (op == AGG_LIMIT_RATIO && param == 0)) {
        return 0;
    }
    promql__memo_t *memo = promql__memo_for(ev, e);
    for (size_t i = 0; i < in->n; i++) {
        int is_new;
        group_t *g = group_for(ev, e, &gs, group_sig(ev, memo, e, &in->e[i]), labels_empty(), &is_new);
        if (g == NULL) {
            return -1;
        }
        int rc = 0;
        if (op == AGG_TOPK || op == AGG_BOTTOMK) {
            rc = topk_insert(ev, g, in->e[i], (size_t)k, op == AGG_TOPK);
        } else if (op == AGG_LIMITK ? g->n_els < (size_t)k : ratio_keep(in->e[i].ls, r)) {
            rc = push_el(ev, g, in->e[i]);
        }
        if (rc < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < gs.n; i++) {
        for (size_t j = 0; j < gs.g[i].n_els; j++) {
            if (promql__vec_push(ev, &out->vec, &cap, gs.g[i].els[j]) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int promql__eval_agg(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    promql__val_t in, param = {0};
    if (e->u.agg.param != NULL && promql__eval(ev, e->u.agg.param, ts, &param) < 0) {
        return -1;
    }
    if (promql__eval(ev, e->u.agg.expr, ts, &in) < 0) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->type = PROMQL_TYPE_VECTOR;
    switch (e->u.agg.op) {
    case AGG_COUNT_VALUES:
        return count_values(ev, e, &in.vec, param.str, out);
    case AGG_TOPK:
    case AGG_BOTTOMK:
    case AGG_LIMITK:
    case AGG_LIMIT_RATIO:
        return agg_k(ev, e, &in.vec, param.scalar, out);
    case AGG_QUANTILE:
        if (in.vec.n > 0 && (isnan(param.scalar) || param.scalar < 0 || param.scalar > 1)) {
            promql__annotate(ev, 1, e->u.agg.param, "quantile value should be between 0 and 1, got %s",
                             isnan(param.scalar) ? "NaN" : arena_sprintf(ev->a, "%g", param.scalar));
        }
        return agg_simple(ev, e, &in.vec, param.scalar, out);
    default:
        return agg_simple(ev, e, &in.vec, 0, out);
    }
}
