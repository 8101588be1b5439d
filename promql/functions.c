/* promql/functions.c - the function table and the instant-vector functions (math, clamp,
 * round, time parts, label_replace/label_join, sort*, absent*, scalar/vector/time,
 * timestamp, histogram_quantile over classic buckets). Range-vector functions live in
 * fn_range.c. Argument evaluation happens here, once per step. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/promql_int.h"

/* Appends an element with labels that are not known to outlive the step. */
static int emit(promql__ev_t *ev, promql__val_t *out, size_t *cap, const labels_t *ls, double v,
                uint8_t drop)
{
    promql__elem_t el = {ls, v, 0, drop, 0};
    return promql__vec_push(ev, &out->vec, cap, el);
}

/* Appends an element derived from input element `in` (same labels). */
static int emit_from(promql__ev_t *ev, promql__val_t *out, size_t *cap, const promql__elem_t *in,
                     double v)
{
    promql__elem_t el = {in->ls, v, 0, 1, in->sid};
    return promql__vec_push(ev, &out->vec, cap, el);
}

/* ---- math ------------------------------------------------------------------------------ */

static double sgn(double x)
{
    return x > 0 ? 1 : x < 0 ? -1 : x;
}
static double deg(double x)
{
    return x * 180 / M_PI;
}
static double rad(double x)
{
    return x * M_PI / 180;
}

static const struct {
    const char *name;
    double (*fn)(double);
} math_fns[] = {
    {"abs", fabs},   {"ceil", ceil},   {"floor", floor}, {"exp", exp},     {"sqrt", sqrt},
    {"ln", log},     {"log2", log2},   {"log10", log10}, {"sgn", sgn},     {"sin", sin},
    {"cos", cos},    {"tan", tan},     {"asin", asin},   {"acos", acos},   {"atan", atan},
    {"sinh", sinh},  {"cosh", cosh},   {"tanh", tanh},   {"asinh", asinh}, {"acosh", acosh},
    {"atanh", atanh}, {"deg", deg},    {"rad", rad},
};

static int fn_math(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                   promql__val_t *out)
{
    double (*f)(double) = math_fns[call->u.call.fn->kind].fn;
    size_t cap = 0;
    if (promql__vec_reserve(ev, &out->vec, &cap, args[0].vec.n) < 0) {
        return -1;
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        promql__elem_t *el = &args[0].vec.e[i];
        if (emit_from(ev, out, &cap, el, f(el->f)) < 0) {
            return -1;
        }
    }
    return 0;
}

enum { CL_BOTH, CL_MIN, CL_MAX, CL_ROUND };

static int fn_clamp(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                    promql__val_t *out)
{
    int kind = call->u.call.fn->kind;
    double lo = -INFINITY, hi = INFINITY, to = 1;
    size_t cap = 0;
    if (kind == CL_BOTH) {
        lo = args[1].scalar;
        hi = args[2].scalar;
        if (hi < lo) {
            return 0;
        }
    } else if (kind == CL_MIN) {
        lo = args[1].scalar;
    } else if (kind == CL_MAX) {
        hi = args[1].scalar;
    } else if (call->u.call.n_args > 1) {
        to = args[1].scalar;
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        promql__elem_t *el = &args[0].vec.e[i];
        double v;
        if (kind == CL_ROUND) {
            double inv = 1.0 / to;
            v = floor(el->f * inv + 0.5) / inv;
        } else {
            v = fmax(lo, fmin(hi, el->f));
            if (isnan(lo) || isnan(hi)) {
                v = NAN;
            }
        }
        if (emit_from(ev, out, &cap, el, v) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- time ------------------------------------------------------------------------------ */

enum { TP_DOM, TP_DOW, TP_DOY, TP_DIM, TP_HOUR, TP_MINUTE, TP_MONTH, TP_YEAR };

static double time_part(int kind, double secs)
{
    time_t t = (time_t)secs; /* Go's int64(f): truncates toward zero */
    struct tm tm;
    gmtime_r(&t, &tm);
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    switch (kind) {
    case TP_DOM:
        return tm.tm_mday;
    case TP_DOW:
        return tm.tm_wday;
    case TP_DOY:
        return tm.tm_yday + 1;
    case TP_DIM:
        return dim[tm.tm_mon] + (tm.tm_mon == 1 && leap);
    case TP_HOUR:
        return tm.tm_hour;
    case TP_MINUTE:
        return tm.tm_min;
    case TP_MONTH:
        return tm.tm_mon + 1;
    default:
        return y;
    }
}

static int fn_time_part(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                        promql__val_t *out)
{
    int kind = call->u.call.fn->kind;
    size_t cap = 0;
    if (call->u.call.n_args == 0) {
        return emit(ev, out, &cap, labels_empty(), time_part(kind, (double)ts / 1000), 0);
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        promql__elem_t *el = &args[0].vec.e[i];
        double v = isnan(el->f) || isinf(el->f) ? el->f : time_part(kind, el->f);
        if (emit_from(ev, out, &cap, el, v) < 0) {
            return -1;
        }
    }
    return 0;
}

enum { TM_TIME, TM_PI, TM_START, TM_END, TM_STEP, TM_RANGE };

static int fn_time(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                   promql__val_t *out)
{
    const double v[] = {(double)ts / 1000,
                        M_PI,
                        (double)ev->start / 1000,
                        (double)ev->end / 1000,
                        (double)ev->interval / 1000,
                        (double)(ev->end - ev->start) / 1000};
    out->type = PROMQL_TYPE_SCALAR;
    out->scalar = v[call->u.call.fn->kind];
    return 0;
}

/* min_of/max_of: Go's math.Min/Max (NaN wins, then -0 < +0). */
static int fn_min_max_of(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out)
{
    double a = args[0].scalar, b = args[1].scalar;
    out->type = PROMQL_TYPE_SCALAR;
    if (isnan(a) || isnan(b)) {
        out->scalar = NAN;
    } else if (a == b) {
        out->scalar = call->u.call.fn->kind == 0 ? (signbit(a) ? a : b) : (signbit(a) ? b : a);
    } else {
        out->scalar = call->u.call.fn->kind == 0 ? fmin(a, b) : fmax(a, b);
    }
    return 0;
}

static int fn_scalar(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                     promql__val_t *out)
{
    out->type = PROMQL_TYPE_SCALAR;
    out->scalar = args[0].vec.n == 1 ? args[0].vec.e[0].f : NAN;
    return 0;
}

static int fn_vector(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                     promql__val_t *out)
{
    size_t cap = 0;
    return emit(ev, out, &cap, labels_empty(), args[0].scalar, 0);
}

static int fn_timestamp(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                        promql__val_t *out)
{
    promql_expr_t *a = call->u.call.args[0];
    size_t cap = 0;
    while (a->kind == NODE_PAREN || a->kind == NODE_STEP_INVARIANT) {
        a = a->u.inner;
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        promql__elem_t *el = &args[0].vec.e[i];
        int64_t t = a->kind == NODE_VSEL ? el->t : ts;
        if (emit_from(ev, out, &cap, el, (double)t / 1000) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- labels ---------------------------------------------------------------------------- */

static void regex_free(void *p)
{
    pcre2_code_free(p);
}

/* Go regexp.Expand of `tmpl` with the match in md; appends to out. */
static void expand(buf_t *out, const char *tmpl, pcre2_code *re, pcre2_match_data *md,
                   const char *subject)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    int ncap = (int)pcre2_get_ovector_count(md);
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (*p != '$') {
            buf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == '$') {
            buf_putc(out, '$');
            continue;
        }
        int braced = *p == '{';
        const char *s = p + braced, *e = s;
        while (*e == '_' || (*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z')) {
            e++;
        }
        if (e == s || (braced && *e != '}')) {
            buf_putc(out, '$');
            p--;
            continue;
        }
        char name[128];
        size_t n = (size_t)(e - s) < sizeof(name) - 1 ? (size_t)(e - s) : sizeof(name) - 1;
        memcpy(name, s, n);
        name[n] = '\0';
        char *end;
        long idx = strtol(name, &end, 10);
        if (*end != '\0') {
            idx = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
        }
        if (idx >= 0 && idx < ncap && ov[2 * idx] != PCRE2_UNSET) {
            buf_append(out, subject + ov[2 * idx], ov[2 * idx + 1] - ov[2 * idx]);
        }
        p = braced ? e : e - 1;
    }
}

static pcre2_code *compile_anchored(promql__ev_t *ev, const char *re, const char *fn)
{
    char *pat = arena_sprintf(ev->a, "^(?:%s)$", re);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code =
        pat != NULL ? pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_DOTALL, &ec, &eo, NULL) : NULL;
    if (code == NULL) {
        err_set(ev->err, ERR_EXECUTION, "invalid regular expression in %s(): %s", fn, re);
        return NULL;
    }
    arena_on_free(ev->a, regex_free, code);
    return code;
}

static int fn_label_replace(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                            int64_t ts, promql__val_t *out)
{
    const char *dst = args[1].str, *repl = args[2].str, *src = args[3].str;
    size_t cap = 0;
    if (!labels_is_valid_name(dst, strlen(dst))) {
        return err_set(ev->err, ERR_EXECUTION,
                       "invalid destination label name in label_replace(): %s", dst);
    }
    pcre2_code *re = compile_anchored(ev, args[4].str, "label_replace");
    pcre2_match_data *md = re != NULL ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    if (md == NULL) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < args[0].vec.n && rc == 0; i++) {
        promql__elem_t el = args[0].vec.e[i];
        const char *sv = labels_get(el.ls, src);
        sv = sv != NULL ? sv : "";
        if (pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL) >= 0) {
            buf_t b;
            buf_init(&b);
            expand(&b, repl, re, md, sv);
            labels_builder_reset(ev->lb, el.ls);
            labels_builder_set(ev->lb, dst, b.data != NULL ? b.data : "");
            buf_fini(&b);
            el.ls = labels_builder_build(ev->lb);
            el.sid = 0; /* new label set */
            if (strcmp(dst, "__name__") == 0) {
                el.drop_name = 0;
            }
        }
        rc = promql__vec_push(ev, &out->vec, &cap, el);
    }
    pcre2_match_data_free(md);
    return rc;
}

static int fn_label_join(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out)
{
    const char *dst = args[1].str, *sep = args[2].str;
    size_t cap = 0;
    if (!labels_is_valid_name(dst, strlen(dst))) {
        return err_set(ev->err, ERR_EXECUTION, "invalid destination label name in label_join(): %s",
                       dst);
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        promql__elem_t el = args[0].vec.e[i];
        buf_t b;
        buf_init(&b);
        for (size_t k = 3; k < call->u.call.n_args; k++) {
            const char *v = labels_get(el.ls, args[k].str);
            buf_puts(&b, k > 3 ? sep : "");
            buf_puts(&b, v != NULL ? v : "");
        }
        labels_builder_reset(ev->lb, el.ls);
        labels_builder_set(ev->lb, dst, b.data != NULL ? b.data : "");
        buf_fini(&b);
        el.ls = labels_builder_build(ev->lb);
        el.sid = 0; /* new label set */
        if (strcmp(dst, "__name__") == 0) {
            el.drop_name = 0;
        }
        if (promql__vec_push(ev, &out->vec, &cap, el) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- sorting --------------------------------------------------------------------------- */

static int cmp_asc(const void *x, const void *y)
{
    double a = ((const promql__elem_t *)x)->f, b = ((const promql__elem_t *)y)->f;
    if (isnan(a) || isnan(b)) {
        return isnan(a) - isnan(b); /* NaN last */
    }
    return a < b ? -1 : a > b;
}

static int cmp_desc(const void *x, const void *y)
{
    double a = ((const promql__elem_t *)x)->f, b = ((const promql__elem_t *)y)->f;
    if (isnan(a) || isnan(b)) {
        return isnan(a) - isnan(b);
    }
    return a > b ? -1 : a < b;
}

typedef struct {
    const char *const *names;
    size_t n;
    int desc;
} label_order_t;

/* Natural order: runs of digits compare as numbers, other runs byte-wise. */
static int natcmp(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        int da = isdigit((unsigned char)*a), db = isdigit((unsigned char)*b);
        const char *ea = a, *eb = b;
        while (*ea != '\0' && (isdigit((unsigned char)*ea) != 0) == (da != 0)) {
            ea++;
        }
        while (*eb != '\0' && (isdigit((unsigned char)*eb) != 0) == (db != 0)) {
            eb++;
        }
        size_t la = (size_t)(ea - a), lb = (size_t)(eb - b);
        if (da && db) {
            while (la > 1 && *a == '0') {
                a++, la--;
            }
            while (lb > 1 && *b == '0') {
                b++, lb--;
            }
            if (la != lb) {
                return la < lb ? -1 : 1;
            }
        }
        int c = strncmp(a, b, la < lb ? la : lb);
        if (c != 0) {
            return c;
        }
        if (la != lb) {
            return la < lb ? -1 : 1;
        }
        a = ea;
        b = eb;
    }
    return (*a != '\0') - (*b != '\0');
}

static int cmp_label(const void *x, const void *y, void *ctx)
{
    const label_order_t *o = ctx;
    const labels_t *a = ((const promql__elem_t *)x)->ls, *b = ((const promql__elem_t *)y)->ls;
    int c = 0;
    for (size_t i = 0; i < o->n && c == 0; i++) {
        const char *va = labels_get(a, o->names[i]), *vb = labels_get(b, o->names[i]);
        c = natcmp(va != NULL ? va : "", vb != NULL ? vb : "");
    }
    c = c != 0 ? c : labels_cmp(a, b);
    return o->desc ? -c : c;
}

enum { SO_ASC, SO_DESC, SO_LABEL, SO_LABEL_DESC };

static int fn_sort(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                   promql__val_t *out)
{
    int kind = call->u.call.fn->kind;
    if (ev->start != ev->end) {
        promql__annotate(ev, 1, call,
                         "sort is ineffective for range queries since results are always "
                         "ordered by labels");
    }
    *out = args[0];
    if (out->vec.n < 2) {
        return 0;
    }
    if (kind == SO_ASC || kind == SO_DESC) {
        qsort(out->vec.e, out->vec.n, sizeof(*out->vec.e), kind == SO_ASC ? cmp_asc : cmp_desc);
        return 0;
    }
    const char **names = arena_alloc(ev->a, (call->u.call.n_args + 1) * sizeof(char *));
    if (names == NULL) {
        return -1;
    }
    for (size_t k = 1; k < call->u.call.n_args; k++) {
        names[k - 1] = args[k].str;
    }
    label_order_t o = {names, call->u.call.n_args - 1, kind == SO_LABEL_DESC};
    qsort_r(out->vec.e, out->vec.n, sizeof(*out->vec.e), cmp_label, &o);
    return 0;
}

/* ---- absent ---------------------------------------------------------------------------- */

static const labels_t *absent_labels(promql__ev_t *ev, promql_expr_t *a)
{
    while (a->kind == NODE_PAREN) {
        a = a->u.inner;
    }
    if (a->kind == NODE_MSEL) {
        a = a->u.ms.vs;
    }
    if (a->kind != NODE_VSEL) {
        return labels_empty();
    }
    labels_builder_reset(ev->lb, NULL);
    for (size_t i = 0; i < a->u.vs.n_ms; i++) {
        const matcher_t *m = a->u.vs.ms[i];
        const char *n = matcher_name(m);
        if (strcmp(n, "__name__") == 0) {
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < i; j++) {
            seen |= strcmp(matcher_name(a->u.vs.ms[j]), n) == 0;
        }
        if (matcher_type(m) == MATCH_EQ && !seen) {
            labels_builder_set(ev->lb, n, matcher_value(m));
        } else {
            labels_builder_del(ev->lb, n);
        }
    }
    return labels_builder_build(ev->lb);
}

static int fn_absent(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                     promql__val_t *out)
{
    size_t cap = 0;
    int present = args[0].type == PROMQL_TYPE_VECTOR ? args[0].vec.n > 0 : 0;
    for (size_t i = 0; args[0].type == PROMQL_TYPE_MATRIX && i < args[0].mat.n; i++) {
        present |= args[0].mat.s[i].n > 0;
    }
    if (present) {
        return 0;
    }
    return emit(ev, out, &cap, absent_labels(ev, call->u.call.args[0]), 1, 0);
}

/* ---- classic histograms ---------------------------------------------------------------- */

typedef struct {
    double le, count;
} bucket_t;

static int bucket_cmp(const void *x, const void *y)
{
    double a = ((const bucket_t *)x)->le, b = ((const bucket_t *)y)->le;
    return a < b ? -1 : a > b;
}

static int almost_equal(double a, double b, double eps)
{
    if (a == b) {
        return 1;
    }
    double sum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || sum < 2.2250738585072014e-308) {
        return diff < eps * 2.2250738585072014e-308;
    }
    return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

/* Sorts by bound and merges equal bounds; -1 if the last bucket is not +Inf. */
static int sort_coalesce(bucket_t *b, size_t *n)
{
    qsort(b, *n, sizeof(*b), bucket_cmp);
    if (!isinf(b[*n - 1].le) || b[*n - 1].le < 0) {
        return -1;
    }
    size_t k = 0;
    for (size_t i = 1; i < *n; i++) {
        if (b[i].le == b[k].le) {
            b[k].count += b[i].count;
        } else {
            b[++k] = b[i];
        }
    }
    *n = k + 1;
    return 0;
}

/* Prometheus' BucketFraction: share of observations in [lower, upper], interpolated. */
static double bucket_fraction(double lower, double upper, bucket_t *b, size_t n)
{
    if (sort_coalesce(b, &n) < 0) {
        return NAN;
    }
    double count = b[n - 1].count;
    if (count == 0 || isnan(lower) || isnan(upper)) {
        return NAN;
    }
    if (lower >= upper) {
        return 0;
    }
    double rank = 0, lo_rank = 0, up_rank = 0;
    int lo_set = 0, up_set = 0;
    double lo_bound = b[0].le <= 0 ? -INFINITY : 0;
    for (size_t i = 0; i < n; i++) {
        lo_bound = i > 0 ? b[i - 1].le : lo_bound;
        double up_bound = b[i].le;
        if (!lo_set && lo_bound >= lower) {
            lo_rank = rank;
            lo_set = 1;
        }
        if (!up_set && lo_bound >= upper) {
            up_rank = rank;
            up_set = 1;
        }
        if (lo_set && up_set) {
            break;
        }
        /* inside an infinite-width bucket nothing is interpolated */
        if (!lo_set && lo_bound < lower && up_bound > lower) {
            lo_rank = isinf(lo_bound) ? b[i].count
                                      : rank + (b[i].count - rank) * (lower - lo_bound) / (up_bound - lo_bound);
            lo_set = 1;
        }
        if (!up_set && lo_bound < upper && up_bound > upper) {
            up_rank = isinf(lo_bound) ? b[i].count
                                      : rank + (b[i].count - rank) * (upper - lo_bound) / (up_bound - lo_bound);
            up_set = 1;
        }
        if (lo_set && up_set) {
            break;
        }
        rank = b[i].count;
    }
    lo_rank = !lo_set || lo_rank > count ? count : lo_rank;
    up_rank = !up_set || up_rank > count ? count : up_rank;
    return (up_rank - lo_rank) / count;
}

/* Prometheus' bucketQuantile; *forced is set when counts had to be made monotonic. */
static double bucket_quantile(double q, bucket_t *b, size_t n, int *forced)
{
    if (isnan(q)) {
        return NAN;
    }
    if (q < 0 || q > 1) {
        return q < 0 ? -INFINITY : INFINITY;
    }
    if (sort_coalesce(b, &n) < 0) {
        return NAN;
    }
    double prev = b[0].count;
    for (size_t i = 1; i < n; i++) {
        double cur = b[i].count;
        if (cur == prev) {
            continue;
        }
        if (almost_equal(prev, cur, 1e-12) || cur < prev) {
            *forced |= cur < prev && !almost_equal(prev, cur, 1e-12);
            b[i].count = prev;
            continue;
        }
        prev = cur;
    }
    if (n < 2 || b[n - 1].count == 0) {
        return NAN;
    }
    double rank = q * b[n - 1].count;
    size_t i = 0;
    while (i < n - 1 && !(b[i].count >= rank)) {
        i++;
    }
    if (i == n - 1) {
        return b[n - 2].le;
    }
    if (i == 0 && b[0].le <= 0) {
        return b[0].le;
    }
    double start = 0, end = b[i].le, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].le;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

typedef struct {
    const labels_t *ls;
    bucket_t *b;
    size_t n, cap;
    uint8_t drop;
} hgroup_t;

static int parse_le(const char *s, double *v)
{
    char *end;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    *v = strtod(s, &end);
    return *end == '\0' ? 0 : -1;
}

static int hist_add(promql__ev_t *ev, hgroup_t *g, double le, double count)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 8;
        g->b = arena_realloc(ev->a, g->b, g->cap * sizeof(bucket_t), nc * sizeof(bucket_t));
        if (g->b == NULL) {
            return -1;
        }
        g->cap = nc;
    }
    g->b[g->n++] = (bucket_t){le, count};
    return 0;
}

/* Groups the classic buckets of `in` by their labels without `le` (warning about bad `le`
 * labels at `argpos`). */
static int collect_buckets(promql__ev_t *ev, promql__vec_t *in, promql_expr_t *argpos,
                           hgroup_t **out, size_t *n_out)
{
    promql__u64map_t idx = {0};
    hgroup_t *gs = arena_calloc(ev->a, (in->n + 1) * sizeof(*gs));
    size_t ng = 0;
    static const char *const le_name[] = {"le"};
    if (gs == NULL) {
        return -1;
    }
    for (size_t i = 0; i < in->n; i++) {
        const labels_t *ls = in->e[i].ls;
        const char *les = labels_get(ls, "le");
        double le;
        if (parse_le(les, &le) < 0) {
            const char *name = labels_get(ls, "__name__");
            promql__annotate(ev, 1, argpos,
                             "bucket label \"le\" is missing or has a malformed value of \"%s\"%s%s%s",
                             les != NULL ? les : "", name ? " for metric name \"" : "",
                             name ? name : "", name ? "\"" : "");
            continue;
        }
        long k = promql__u64map_put(ev->a, &idx, labels_hash_subset(ls, le_name, 1, 0), ng);
        if (k < 0) {
            return -1;
        }
        if ((size_t)k == ng) {
            labels_builder_reset(ev->lb, ls);
            labels_builder_del(ev->lb, "le");
            gs[ng++].ls = labels_builder_build(ev->lb);
        }
        if (hist_add(ev, &gs[k], le, in->e[i].f) < 0) {
            return -1;
        }
    }
    *out = gs;
    *n_out = ng;
    return 0;
}

static int fn_histogram_quantile(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                                 int64_t ts, promql__val_t *out)
{
    double q = args[0].scalar;
    hgroup_t *gs;
    size_t ng, cap = 0;
    if (isnan(q) || q < 0 || q > 1) {
        promql__annotate(ev, 1, call->u.call.args[0],
                         "quantile value should be between 0 and 1, got %s",
                         isnan(q) ? "NaN" : arena_sprintf(ev->a, "%g", q));
    }
    if (collect_buckets(ev, &args[1].vec, call->u.call.args[1], &gs, &ng) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ng; i++) {
        int forced = 0;
        double v = bucket_quantile(q, gs[i].b, gs[i].n, &forced);
        if (forced) {
            const char *name = labels_get(gs[i].ls, "__name__");
            promql__annotate(ev, 0, call->u.call.args[1],
                             "input to histogram_quantile needed to be fixed for monotonicity "
                             "(see https://prometheus.io/docs/prometheus/latest/querying/"
                             "functions/#histogram_quantile)%s%s%s",
                             name ? " for metric name \"" : "", name ? name : "", name ? "\"" : "");
        }
        if (emit(ev, out, &cap, gs[i].ls, v, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static int fn_histogram_fraction(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                                 int64_t ts, promql__val_t *out)
{
    hgroup_t *gs;
    size_t ng, cap = 0;
    if (collect_buckets(ev, &args[2].vec, call->u.call.args[2], &gs, &ng) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ng; i++) {
        double v = bucket_fraction(args[0].scalar, args[1].scalar, gs[i].b, gs[i].n);
        if (emit(ev, out, &cap, gs[i].ls, v, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Native-histogram functions: herald stores floats only, so float input yields nothing. */
static int fn_empty(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                    promql__val_t *out)
{
    return 0;
}

/* ---- table ----------------------------------------------------------------------------- */

#define V PROMQL_TYPE_VECTOR
#define M PROMQL_TYPE_MATRIX
#define S PROMQL_TYPE_SCALAR
#define STR PROMQL_TYPE_STRING

#define MATH(n, k) {n, {V}, 1, 0, V, 0, fn_math, k}
#define TPART(n, k) {n, {V}, 0, 1, V, 0, fn_time_part, k}
#define OVER(n, k, x) {n, {M}, 1, 0, V, x, promql__fn_over_time, k}

static const promql__func_t funcs[] = {
    MATH("abs", 0), MATH("ceil", 1), MATH("floor", 2), MATH("exp", 3), MATH("sqrt", 4),
    MATH("ln", 5), MATH("log2", 6), MATH("log10", 7), MATH("sgn", 8), MATH("sin", 9),
    MATH("cos", 10), MATH("tan", 11), MATH("asin", 12), MATH("acos", 13), MATH("atan", 14),
    MATH("sinh", 15), MATH("cosh", 16), MATH("tanh", 17), MATH("asinh", 18), MATH("acosh", 19),
    MATH("atanh", 20), MATH("deg", 21), MATH("rad", 22),
    {"clamp", {V, S, S}, 3, 0, V, 0, fn_clamp, CL_BOTH},
    {"clamp_min", {V, S}, 2, 0, V, 0, fn_clamp, CL_MIN},
    {"clamp_max", {V, S}, 2, 0, V, 0, fn_clamp, CL_MAX},
    {"round", {V, S}, 1, 1, V, 0, fn_clamp, CL_ROUND},
    TPART("day_of_month", TP_DOM), TPART("day_of_week", TP_DOW), TPART("day_of_year", TP_DOY),
    TPART("days_in_month", TP_DIM), TPART("hour", TP_HOUR), TPART("minute", TP_MINUTE),
    TPART("month", TP_MONTH), TPART("year", TP_YEAR),
    {"time", {0}, 0, 0, S, 0, fn_time, TM_TIME},
    {"pi", {0}, 0, 0, S, 0, fn_time, TM_PI},
    {"start", {0}, 0, 0, S, 1, fn_time, TM_START},
    {"end", {0}, 0, 0, S, 1, fn_time, TM_END},
    {"step", {0}, 0, 0, S, 1, fn_time, TM_STEP},
    {"range", {0}, 0, 0, S, 1, fn_time, TM_RANGE},
    {"scalar", {V}, 1, 0, S, 0, fn_scalar, 0},
    {"min_of", {S, S}, 2, 0, S, 1, fn_min_max_of, 0},
    {"max_of", {S, S}, 2, 0, S, 1, fn_min_max_of, 1},
    {"vector", {S}, 1, 0, V, 0, fn_vector, 0},
    {"timestamp", {V}, 1, 0, V, 0, fn_timestamp, 0},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V, 0, fn_label_replace, 0},
    {"label_join", {V, STR, STR, STR}, 3, -1, V, 0, fn_label_join, 0},
    {"sort", {V}, 1, 0, V, 0, fn_sort, SO_ASC},
    {"sort_desc", {V}, 1, 0, V, 0, fn_sort, SO_DESC},
    {"sort_by_label", {V, STR}, 1, -1, V, 0, fn_sort, SO_LABEL},
    {"sort_by_label_desc", {V, STR}, 1, -1, V, 0, fn_sort, SO_LABEL_DESC},
    {"absent", {V}, 1, 0, V, 0, fn_absent, 0},
    {"absent_over_time", {M}, 1, 0, V, 0, fn_absent, 0},
    {"rate", {M}, 1, 0, V, 0, promql__fn_rate, FK_RATE},
    {"increase", {M}, 1, 0, V, 0, promql__fn_rate, FK_INCREASE},
    {"delta", {M}, 1, 0, V, 0, promql__fn_rate, FK_DELTA},
    {"irate", {M}, 1, 0, V, 0, promql__fn_rate, FK_IRATE},
    {"idelta", {M}, 1, 0, V, 0, promql__fn_rate, FK_IDELTA},
    {"deriv", {M}, 1, 0, V, 0, promql__fn_regression, FK_DERIV},
    {"predict_linear", {M, S}, 2, 0, V, 0, promql__fn_regression, FK_PREDICT},
    {"changes", {M}, 1, 0, V, 0, promql__fn_counts, FK_CHANGES},
    {"resets", {M}, 1, 0, V, 0, promql__fn_counts, FK_RESETS},
    {"double_exponential_smoothing", {M, S, S}, 3, 0, V, 1, promql__fn_smoothing, 0},
    OVER("avg_over_time", FK_AVG, 0), OVER("sum_over_time", FK_SUM, 0),
    OVER("count_over_time", FK_COUNT, 0), OVER("min_over_time", FK_MIN, 0),
    OVER("max_over_time", FK_MAX, 0), OVER("last_over_time", FK_LAST, 0),
    OVER("first_over_time", FK_FIRST, 0), OVER("present_over_time", FK_PRESENT, 0),
    OVER("stddev_over_time", FK_STDDEV, 0), OVER("stdvar_over_time", FK_STDVAR, 0),
    OVER("mad_over_time", FK_MAD, 1), OVER("ts_of_min_over_time", FK_TS_MIN, 1),
    OVER("ts_of_max_over_time", FK_TS_MAX, 1), OVER("ts_of_last_over_time", FK_TS_LAST, 1),
    OVER("ts_of_first_over_time", FK_TS_FIRST, 1),
    {"quantile_over_time", {S, M}, 2, 0, V, 0, promql__fn_over_time, FK_QUANTILE},
    {"histogram_quantile", {S, V}, 2, 0, V, 0, fn_histogram_quantile, 0},
    {"histogram_count", {V}, 1, 0, V, 0, fn_empty, 0},
    {"histogram_sum", {V}, 1, 0, V, 0, fn_empty, 0},
    {"histogram_avg", {V}, 1, 0, V, 0, fn_empty, 0},
    {"histogram_stddev", {V}, 1, 0, V, 0, fn_empty, 0},
    {"histogram_stdvar", {V}, 1, 0, V, 0, fn_empty, 0},
    {"histogram_fraction", {S, S, V}, 3, 0, V, 0, fn_histogram_fraction, 0},
};

const promql__func_t *promql__func_lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        if (strlen(funcs[i].name) == n && strncmp(funcs[i].name, name, n) == 0) {
            return &funcs[i];
        }
    }
    return NULL;
}

int promql__eval_call(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    size_t n = e->u.call.n_args;
    promql__val_t *args = arena_calloc(ev->a, (n + 1) * sizeof(*args));
    if (args == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (promql__eval(ev, e->u.call.args[i], ts, &args[i]) < 0) {
            return -1;
        }
    }
    memset(out, 0, sizeof(*out));
    out->type = e->type;
    return e->u.call.fn->impl(ev, e, args, ts, out);
}
