/* promql/fn_range.c - functions over range vectors: rate/increase/delta with Prometheus'
 * extrapolation, irate/idelta, the *_over_time family, deriv/predict_linear (least squares
 * with Kahan sums), changes/resets and double_exponential_smoothing. Each takes the matrix
 * of its first range argument and emits one element per series. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_int.h"

/* The range argument's matrix and the position of the call's first matrix argument. */
static promql__mat_t *range_arg(promql_expr_t *call, promql__val_t *args, promql_expr_t **pos)
{
    for (size_t i = 0; i < call->u.call.n_args; i++) {
        if (args[i].type == PROMQL_TYPE_MATRIX) {
            *pos = call->u.call.args[i];
            return &args[i].mat;
        }
    }
    return NULL;
}

/* Appends one output element for series s. */
static int emit(promql__ev_t *ev, promql__val_t *out, size_t *cap, const promql__ser_t *s,
                double v, uint8_t drop)
{
    promql__elem_t el = {s->ls, v, 0, drop, s->sid};
    return promql__vec_push(ev, &out->vec, cap, el);
}

static int extrapolated(const promql__ser_t *s, const promql__mat_t *m, int kind, double *res)
{
    if (s->n < 2) {
        return 0;
    }
    int counter = kind != FK_DELTA;
    const sample_t *p = s->pts;
    double result = p[s->n - 1].v - p[0].v;
    if (counter) {
        for (size_t i = 1; i < s->n; i++) {
            if (p[i].v < p[i - 1].v) {
                result += p[i - 1].v;
            }
        }
    }
    double to_start = (double)(p[0].t - m->rstart) / 1000;
    double to_end = (double)(m->rend - p[s->n - 1].t) / 1000;
    double sampled = (double)(p[s->n - 1].t - p[0].t) / 1000;
    double avg = sampled / (double)(s->n - 1);
    double threshold = avg * 1.1;
    if (to_start >= threshold) {
        to_start = avg / 2;
    }
    if (counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start) {
            to_start = to_zero;
        }
    }
    if (to_end >= threshold) {
        to_end = avg / 2;
    }
    double factor = sampled != 0 ? (sampled + to_start + to_end) / sampled : 1.0;
    if (kind == FK_RATE) {
        factor /= (double)m->range_ms / 1000;
    }
    *res = result * factor;
    return 1;
}

static int instant_value(const promql__ser_t *s, int kind, double *res)
{
    if (s->n < 2) {
        return 0;
    }
    sample_t last = s->pts[s->n - 1], prev = s->pts[s->n - 2];
    double v = kind == FK_IRATE && last.v < prev.v ? last.v : last.v - prev.v;
    int64_t dt = last.t - prev.t;
    if (dt == 0) {
        return 0;
    }
    *res = kind == FK_IRATE ? v / ((double)dt / 1000) : v;
    return 1;
}

static int is_counter_name(const char *n)
{
    static const char *const sfx[] = {"_total", "_sum", "_count", "_bucket"};
    size_t ln = strlen(n);
    for (size_t i = 0; i < 4; i++) {
        size_t ls = strlen(sfx[i]);
        if (ln >= ls && strcmp(n + ln - ls, sfx[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Info annotation for rate/increase over a series whose name does not look like a counter;
 * checked once per series per query. */
static void check_counter(promql__ev_t *ev, promql__memo_t *memo, const promql__ser_t *s,
                          promql_expr_t *pos)
{
    uint64_t seen;
    if (promql__memo_get(memo, s->sid, &seen)) {
        return;
    }
    const char *name = labels_get(s->ls, "__name__");
    if (name != NULL && !is_counter_name(name)) {
        promql__annotate(ev, 0, pos,
                         "metric might not be a counter, name does not end in "
                         "_total/_sum/_count/_bucket: \"%s\"", name);
    }
    promql__memo_put(ev, memo, s->sid, 1);
}

int promql__fn_rate(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                    promql__val_t *out)
{
    promql_expr_t *pos = NULL;
    promql__mat_t *m = range_arg(call, args, &pos);
    int kind = call->u.call.fn->kind;
    size_t cap = 0;
    promql_expr_t *inner = pos;
    while (inner->kind == NODE_PAREN) {
        inner = inner->u.inner;
    }
    int counter_fn = (kind == FK_RATE || kind == FK_INCREASE) && inner->kind == NODE_MSEL;
    promql__memo_t *memo = counter_fn ? promql__memo_for(ev, call) : NULL;
    if (promql__vec_reserve(ev, &out->vec, &cap, m->n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        double v;
        int ok = kind == FK_IRATE || kind == FK_IDELTA ? instant_value(&m->s[i], kind, &v)
                                                       : extrapolated(&m->s[i], m, kind, &v);
        if (!ok) {
            continue;
        }
        if (counter_fn) {
            check_counter(ev, memo, &m->s[i], pos);
        }
        if (emit(ev, out, &cap, &m->s[i], v, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static double avg_series(const promql__ser_t *s)
{
    double sum = s->pts[0].v, c = 0, mean = 0, count = 1;
    int incremental = 0;
    for (size_t i = 1; i < s->n; i++) {
        double f = s->pts[i].v;
        count = (double)(i + 1);
        if (!incremental) {
            double ns = sum, nc = c;
            promql__kahan_inc(f, &ns, &nc);
            if (!isinf(ns)) {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = 1;
            mean = sum / (count - 1);
            c /= count - 1;
        }
        double q = (count - 1) / count;
        double m = q * mean, mc = q * c;
        promql__kahan_inc(f / count, &m, &mc);
        mean = m;
        c = mc;
    }
    if (incremental) {
        return mean + c;
    }
    return sum / count + c / count;
}

static double variance_series(const promql__ser_t *s)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < s->n; i++) {
        double f = s->pts[i].v;
        count++;
        double delta = f - (mean + cmean);
        promql__kahan_inc(delta / count, &mean, &cmean);
        promql__kahan_inc(delta * (f - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / count;
}

static double extreme_series(const promql__ser_t *s, int want_max, int64_t *at)
{
    double best = s->pts[0].v;
    *at = s->pts[0].t;
    for (size_t i = 1; i < s->n; i++) {
        double f = s->pts[i].v;
        int better = want_max ? (f > best || isnan(best)) : (f < best || isnan(best));
        /* ts_of_*: the latest time the extreme is reached */
        if (better || (f == best && !isnan(f))) {
            best = f;
            *at = s->pts[i].t;
        }
    }
    return best;
}

static double *series_values(promql__ev_t *ev, const promql__ser_t *s)
{
    double *v = arena_alloc(ev->a, (s->n + 1) * sizeof(*v));
    for (size_t i = 0; v != NULL && i < s->n; i++) {
        v[i] = s->pts[i].v;
    }
    return v;
}

static int mad_series(promql__ev_t *ev, const promql__ser_t *s, double *res)
{
    double *v = series_values(ev, s);
    if (v == NULL) {
        return -1;
    }
    double med = promql__quantile(0.5, v, s->n);
    for (size_t i = 0; i < s->n; i++) {
        v[i] = fabs(s->pts[i].v - med);
    }
    *res = promql__quantile(0.5, v, s->n);
    return 0;
}

static int over_time_one(promql__ev_t *ev, const promql__ser_t *s, int kind, double q, double *res)
{
    double sum = 0, c = 0;
    int64_t at;
    switch (kind) {
    case FK_AVG:
        *res = avg_series(s);
        return 0;
    case FK_SUM:
        for (size_t i = 0; i < s->n; i++) {
            promql__kahan_inc(s->pts[i].v, &sum, &c);
        }
        *res = isinf(sum) ? sum : sum + c;
        return 0;
    case FK_COUNT:
        *res = (double)s->n;
        return 0;
    case FK_MIN:
    case FK_MAX:
        *res = extreme_series(s, kind == FK_MAX, &at);
        return 0;
    case FK_TS_MIN:
    case FK_TS_MAX:
        extreme_series(s, kind == FK_TS_MAX, &at);
        *res = (double)at / 1000;
        return 0;
    case FK_LAST:
        *res = s->pts[s->n - 1].v;
        return 0;
    case FK_FIRST:
        *res = s->pts[0].v;
        return 0;
    case FK_TS_LAST:
        *res = (double)s->pts[s->n - 1].t / 1000;
        return 0;
    case FK_TS_FIRST:
        *res = (double)s->pts[0].t / 1000;
        return 0;
    case FK_PRESENT:
        *res = 1;
        return 0;
    case FK_STDDEV:
        *res = sqrt(variance_series(s));
        return 0;
    case FK_STDVAR:
        *res = variance_series(s);
        return 0;
    case FK_MAD:
        return mad_series(ev, s, res);
    default: {
        double *v = series_values(ev, s);
        if (v == NULL) {
            return -1;
        }
        *res = promql__quantile(q, v, s->n);
        return 0;
    }
    }
}

int promql__fn_over_time(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out)
{
    promql_expr_t *pos = NULL;
    promql__mat_t *m = range_arg(call, args, &pos);
    int kind = call->u.call.fn->kind;
    double q = 0;
    size_t cap = 0;
    if (kind == FK_QUANTILE) {
        q = args[0].scalar;
        if (m->n > 0 && (isnan(q) || q < 0 || q > 1)) {
            promql__annotate(ev, 1, call->u.call.args[0],
                             "quantile value should be between 0 and 1, got %s",
                             isnan(q) ? "NaN" : arena_sprintf(ev->a, "%g", q));
        }
    }
    int keep_name = kind == FK_LAST || kind == FK_FIRST;
    if (promql__vec_reserve(ev, &out->vec, &cap, m->n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        double v;
        if (m->s[i].n == 0) {
            continue;
        }
        if (over_time_one(ev, &m->s[i], kind, q, &v) < 0) {
            return -1;
        }
        uint8_t drop = keep_name ? m->s[i].drop_name : 1;
        if (emit(ev, out, &cap, &m->s[i], v, drop) < 0) {
            return -1;
        }
    }
    return 0;
}

static void linear_regression(const promql__ser_t *s, int64_t t0, double *slope, double *icpt)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = s->pts[0].v;
    int const_y = 1;
    for (size_t i = 0; i < s->n; i++) {
        double f = s->pts[i].v;
        if (const_y && i > 0 && f != init) {
            const_y = 0;
        }
        n += 1.0;
        double x = (double)(s->pts[i].t - t0) / 1e3;
        promql__kahan_inc(x, &sx, &cx);
        promql__kahan_inc(f, &sy, &cy);
        promql__kahan_inc(x * f, &sxy, &cxy);
        promql__kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        *slope = isinf(init) ? NAN : 0;
        *icpt = isinf(init) ? NAN : init;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *icpt = sy / n - *slope * sx / n;
}

int promql__fn_regression(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                          int64_t ts, promql__val_t *out)
{
    promql_expr_t *pos = NULL;
    promql__mat_t *m = range_arg(call, args, &pos);
    int kind = call->u.call.fn->kind;
    size_t cap = 0;
    if (promql__vec_reserve(ev, &out->vec, &cap, m->n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const promql__ser_t *s = &m->s[i];
        double slope, icpt;
        if (s->n < 2) {
            continue;
        }
        if (kind == FK_DERIV) {
            linear_regression(s, s->pts[0].t, &slope, &icpt);
            if (emit(ev, out, &cap, s, slope, 1) < 0) {
                return -1;
            }
            continue;
        }
        linear_regression(s, ts, &slope, &icpt);
        if (emit(ev, out, &cap, s, slope * args[1].scalar + icpt, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int promql__fn_counts(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                      promql__val_t *out)
{
    promql_expr_t *pos = NULL;
    promql__mat_t *m = range_arg(call, args, &pos);
    int kind = call->u.call.fn->kind;
    size_t cap = 0;
    if (promql__vec_reserve(ev, &out->vec, &cap, m->n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const promql__ser_t *s = &m->s[i];
        double n = 0;
        if (s->n == 0) {
            continue;
        }
        for (size_t k = 1; k < s->n; k++) {
            double cur = s->pts[k].v, prev = s->pts[k - 1].v;
            if (kind == FK_CHANGES ? (cur != prev && !(isnan(cur) && isnan(prev))) : cur < prev) {
                n++;
            }
        }
        if (emit(ev, out, &cap, s, n, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int promql__fn_smoothing(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out)
{
    promql__mat_t *m = &args[0].mat;
    double sf = args[1].scalar, tf = args[2].scalar;
    size_t cap = 0;
    if (sf <= 0 || sf >= 1) {
        return err_set(ev->err, ERR_EXECUTION,
                       "invalid smoothing factor. Expected: 0 < sf < 1, got: %g", sf);
    }
    if (tf <= 0 || tf >= 1) {
        return err_set(ev->err, ERR_EXECUTION,
                       "invalid trend factor. Expected: 0 < tf < 1, got: %g", tf);
    }
    if (promql__vec_reserve(ev, &out->vec, &cap, m->n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const promql__ser_t *s = &m->s[i];
        if (s->n < 2) {
            continue;
        }
        double s0 = 0, s1 = s->pts[0].v, b = s->pts[1].v - s->pts[0].v;
        for (size_t k = 1; k < s->n; k++) {
            double x = sf * s->pts[k].v;
            if (k > 1) {
                b = tf * (s1 - s0) + (1 - tf) * b;
            }
            double y = (1 - sf) * (s1 + b);
            s0 = s1;
            s1 = x + y;
        }
        if (emit(ev, out, &cap, s, s1, 1) < 0) {
            return -1;
        }
    }
    return 0;
}
