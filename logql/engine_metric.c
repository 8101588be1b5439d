/* logql/engine_metric.c - metric queries: range aggregations computed from the log store,
 * the rest by the PromQL engine.
 *
 * DESIGN: logql_metric_plan splits the query into leaves (range aggregations over a selector
 * and pipeline) and an outer PromQL expression over the series `__logql_leaf_<i>`. For each
 * leaf the engine reads every matching stream once, oldest first, over the union of all step
 * windows, runs the pipeline and appends one point (timestamp, value) per kept entry to the
 * point list of the entry's output series (value 1 for counts, the line length for bytes,
 * the unwrapped value otherwise). A series fed by several streams is sorted once at the end.
 * Then a window slides over each series' points, step by step, with two cursors: the window
 * of step t is (t - offset - range, t - offset], as Loki's range vector iterator has it (the
 * lower bound is exclusive, the upper inclusive). Each non-empty window gives one sample at
 * t in a memstore; the outer expression then runs on the PromQL engine over that store with
 * a 1 ms lookback, so a step only sees its own sample, and __name__ is dropped from the
 * result. A leaf series still carrying __error__ fails the query with Loki's pipeline error. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "logql/engine_int.h"
#include "logql/pipeline_int.h" /* whether a pipeline unwraps */
#include "storage/memstore.h"

#define NS_PER_MS 1000000LL

typedef struct {
    int64_t ts_ns;
    double v;
} point_t;

typedef struct leaf_series {
    const labels_t *labels; /* leaf output labels + __name__="__logql_leaf_<i>" (arena) */
    point_t *pts;
    size_t n, cap;
    int unsorted;
    struct leaf_series *next; /* same label hash (grouped leaves) */
} leaf_series_t;

typedef struct {
    arena_t *a;
    const logql_leaf_t *leaf;
    const char *name; /* __logql_leaf_<i> */
    logql_proc_t *proc;
    logql__emap_t by_out;  /* pipeline output set (pointer) -> leaf_series_t* */
    logql__emap_t by_hash; /* grouped label hash -> chain of leaf_series_t */
    leaf_series_t **all;
    size_t n_all, cap_all;
} leaf_acc_t;

/* The step grid, in PromQL's milliseconds so that the outer expression sees every sample. */
typedef struct {
    int64_t start_ms, end_ms, step_ms;
    size_t n_steps;
} grid_t;

static int64_t grid_at(const grid_t *g, size_t k)
{
    return g->start_ms + (int64_t)k * g->step_ms;
}

/* ---- pass 1: entries to points ------------------------------------------------------ */

/* 1 if the leaf's pipeline ends with `| unwrap`: the unwrapped operations always do, and
 * `rate` may (it then sums the values, as Loki's rateLogs with computeValues). */
static int leaf_unwraps(const logql_leaf_t *lf)
{
    return lf->sel.pipeline->unwrap != NULL;
}

static double entry_value(const logql_leaf_t *lf, const logql_out_t *o)
{
    switch (lf->op) {
    case LOGQL_BYTES_OVER_TIME:
    case LOGQL_BYTES_RATE: return (double)o->len;
    case LOGQL_COUNT_OVER_TIME:
    case LOGQL_ABSENT_OVER_TIME: return 1;
    case LOGQL_RATE: return leaf_unwraps(lf) ? o->value : 1;
    default: return o->value;
    }
}

static void *grow_array(arena_t *a, void *old, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return old;
    }
    size_t cap2 = *cap != 0 ? *cap * 2 : 16;
    void *p = arena_realloc(a, old, *cap * elem, cap2 * elem);
    if (p != NULL) {
        *cap = cap2;
    }
    return p;
}

static const labels_t *with_name(arena_t *a, const labels_t *ls, const char *name)
{
    labels_builder_t *b = labels_builder_new(a, ls);
    labels_builder_set(b, "__name__", name);
    return labels_builder_build(b);
}

static leaf_series_t *series_new(leaf_acc_t *acc, const labels_t *ls)
{
    leaf_series_t *s = arena_calloc(acc->a, sizeof(*s));
    leaf_series_t **all = grow_array(acc->a, acc->all, &acc->cap_all, acc->n_all, sizeof(*all));
    if (s == NULL || all == NULL) {
        return NULL;
    }
    acc->all = all;
    s->labels = ls;
    acc->all[acc->n_all++] = s;
    return s;
}

/* `by`/`without` of an unwrapped leaf: several output sets may fall into one series, found
 * by content. */
static leaf_series_t *series_grouped(leaf_acc_t *acc, const labels_t *out)
{
    const logql_leaf_t *lf = acc->leaf;
    labels_builder_t *b = labels_builder_new(acc->a, out);
    labels_builder_keep(b, (const char *const *)lf->grouping, lf->n_grouping, !lf->without);
    labels_builder_set(b, "__name__", acc->name);
    labels_t *ls = labels_builder_build(b);
    if (ls == NULL) {
        return NULL;
    }
    uint64_t h = labels_hash(ls) | 1; /* 0 is the map's empty key */
    leaf_series_t *head = logql__emap_get(&acc->by_hash, h);
    for (leaf_series_t *s = head; s != NULL; s = s->next) {
        if (labels_equal(s->labels, ls)) {
            return s;
        }
    }
    leaf_series_t *s = series_new(acc, ls);
    if (s == NULL || logql__emap_put(&acc->by_hash, h, s) < 0) {
        return NULL;
    }
    s->next = head;
    return s;
}

static leaf_series_t *series_for(leaf_acc_t *acc, const labels_t *out)
{
    leaf_series_t *s = logql__emap_get(&acc->by_out, (uint64_t)(uintptr_t)out);
    if (s != NULL) {
        return s;
    }
    if (acc->leaf->has_grouping && leaf_unwraps(acc->leaf)) {
        s = series_grouped(acc, out);
    } else {
        /* the copy outlives the pipeline's output, and is already the memstore's series */
        const labels_t *named = with_name(acc->a, out, acc->name);
        s = named != NULL ? series_new(acc, named) : NULL;
    }
    if (s == NULL || logql__emap_put(&acc->by_out, (uint64_t)(uintptr_t)out, s) < 0) {
        return NULL;
    }
    return s;
}

static int add_point(leaf_acc_t *acc, int64_t ts_ns, const logql_out_t *o, err_t *err)
{
    leaf_series_t *s = series_for(acc, o->labels);
    point_t *pts = s != NULL ? grow_array(acc->a, s->pts, &s->cap, s->n, sizeof(*pts)) : NULL;
    if (pts == NULL) {
        return logql__e_oom(err);
    }
    s->pts = pts;
    if (s->n > 0 && pts[s->n - 1].ts_ns > ts_ns) {
        s->unsorted = 1;
    }
    pts[s->n].ts_ns = ts_ns;
    pts[s->n].v = entry_value(acc->leaf, o);
    s->n++;
    return 0;
}

static int read_stream(leaf_acc_t *acc, logstore_reader_t *rd, const log_stream_t *st,
                       logql__erun_t *run, err_t *err)
{
    log_iter_t *it = logstore_iter(rd, acc->a, st, 0, err);
    if (it == NULL) {
        return -1;
    }
    log_entry_t e;
    int rc;
    while ((rc = log_iter_next(it, &e, err)) == 1) {
        logql_out_t o;
        if (logql__erun_tick(run, e.len, err) < 0) {
            return -1;
        }
        if (logql_proc_run(acc->proc, st->labels, &e, &o) == 1) {
            run->stats.post_filter_lines++;
            if (add_point(acc, e.ts_ns, &o, err) < 0) {
                return -1;
            }
        }
    }
    return rc;
}

static int point_cmp(const void *x, const void *y)
{
    const point_t *p = x, *q = y;
    return p->ts_ns < q->ts_ns ? -1 : p->ts_ns > q->ts_ns;
}

/* Reads every stream of the leaf over the union of its windows. */
static int leaf_read(leaf_acc_t *acc, logstore_t *store, const char *tenant, const grid_t *g,
                     logql__erun_t *run, err_t *err)
{
    const logql_leaf_t *lf = acc->leaf;
    int64_t shift_ns = lf->offset_ms * NS_PER_MS;
    int64_t from = g->start_ms * NS_PER_MS - shift_ns - lf->range_ms * NS_PER_MS + 1;
    int64_t to = g->end_ms * NS_PER_MS - shift_ns + 1;
    logstore_reader_t *rd = logstore_reader(store, tenant, from, to, err);
    if (rd == NULL) {
        return -1;
    }
    log_stream_t *streams;
    size_t n;
    int rc = logstore_select(rd, acc->a, lf->sel.matchers, lf->sel.n_matchers, &streams, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = read_stream(acc, rd, &streams[i], run, err);
    }
    logstore_reader_close(rd); /* the points are copies */
    for (size_t i = 0; rc == 0 && i < acc->n_all; i++) {
        if (acc->all[i]->unsorted) {
            qsort(acc->all[i]->pts, acc->all[i]->n, sizeof(point_t), point_cmp);
        }
    }
    return rc;
}

/* ---- pass 2: windows to samples ------------------------------------------------------ */

static double sum_of(const point_t *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += p[i].v;
    }
    return s;
}

/* Incremental mean that survives infinities, as Loki's avgOverTime. */
static double avg_of(const point_t *p, size_t n)
{
    double mean = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        count++;
        if (isinf(mean)) {
            if (isinf(p[i].v) && (mean > 0) == (p[i].v > 0)) {
                continue;
            }
            if (!isinf(p[i].v) && !isnan(p[i].v)) {
                continue;
            }
        }
        mean += p[i].v / count - mean / count;
    }
    return mean;
}

static double extreme_of(const point_t *p, size_t n, int want_max)
{
    double m = p[0].v;
    for (size_t i = 0; i < n; i++) {
        if (isnan(m) || (want_max ? p[i].v > m : p[i].v < m)) {
            m = p[i].v;
        }
    }
    return m;
}

static double var_of(const point_t *p, size_t n)
{
    double aux = 0, count = 0, mean = 0;
    for (size_t i = 0; i < n; i++) {
        count++;
        double delta = p[i].v - mean;
        mean += delta / count;
        aux += delta * (p[i].v - mean);
    }
    return aux / count;
}

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    if (isnan(a) || isnan(b)) {
        return isnan(a) ? (isnan(b) ? 0 : -1) : 1; /* NaN first, as Go's sort of floats */
    }
    return a < b ? -1 : a > b;
}

static double quantile_of(const point_t *p, size_t n, double q, double *scratch)
{
    if (q < 0) {
        return -INFINITY;
    }
    if (q > 1) {
        return INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        scratch[i] = p[i].v;
    }
    qsort(scratch, n, sizeof(*scratch), dbl_cmp);
    double rank = q * (double)(n - 1);
    double lo = fmax(0, floor(rank));
    double hi = fmin((double)n - 1, lo + 1);
    double w = rank - floor(rank);
    return scratch[(size_t)lo] * (1 - w) + scratch[(size_t)hi] * w;
}

/* Loki's extrapolatedRate for rate_counter: nanosecond timestamps, the window's own bounds. */
static double counter_rate(const point_t *p, size_t n, int64_t range_ns, int64_t end_ns)
{
    if (n < 2) {
        return 0;
    }
    double result = p[n - 1].v - p[0].v, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].v < last) {
            result += last;
        }
        last = p[i].v;
    }
    double to_start = (double)(p[0].ts_ns - (end_ns - range_ns)) / 1e9;
    double to_end = (double)(end_ns - p[n - 1].ts_ns) / 1e9;
    double sampled = (double)(p[n - 1].ts_ns - p[0].ts_ns) / 1e9;
    double avg_gap = sampled / (double)(n - 1);
    double threshold = avg_gap * 1.1;
    if (to_start >= threshold) {
        to_start = avg_gap / 2;
    }
    double to_zero = result > 0 && p[0].v >= 0 ? sampled * (p[0].v / result) : to_start;
    if (to_zero < to_start) {
        to_start = to_zero;
    }
    if (to_end >= threshold) {
        to_end = avg_gap / 2;
    }
    return result * ((sampled + to_start + to_end) / sampled) / ((double)range_ns / 1e9);
}

/* The value of a non-empty window. */
static double window_value(const logql_leaf_t *lf, const point_t *p, size_t n, int64_t end_ns,
                           double *scratch)
{
    double range_s = (double)lf->range_ms / 1000.0;
    switch (lf->op) {
    case LOGQL_COUNT_OVER_TIME: return (double)n;
    case LOGQL_RATE:
    case LOGQL_BYTES_RATE: return sum_of(p, n) / range_s;
    case LOGQL_RATE_COUNTER: return counter_rate(p, n, lf->range_ms * NS_PER_MS, end_ns);
    case LOGQL_AVG_OVER_TIME: return avg_of(p, n);
    case LOGQL_MIN_OVER_TIME: return extreme_of(p, n, 0);
    case LOGQL_MAX_OVER_TIME: return extreme_of(p, n, 1);
    case LOGQL_STDDEV_OVER_TIME: return sqrt(var_of(p, n));
    case LOGQL_STDVAR_OVER_TIME: return var_of(p, n);
    case LOGQL_QUANTILE_OVER_TIME: return quantile_of(p, n, lf->param, scratch);
    case LOGQL_FIRST_OVER_TIME: return p[0].v;
    case LOGQL_LAST_OVER_TIME: return p[n - 1].v;
    case LOGQL_ABSENT_OVER_TIME: return 1;
    default: /* bytes_over_time, sum_over_time */ return sum_of(p, n);
    }
}

static const labels_t *drop_name(arena_t *a, const labels_t *ls)
{
    if (labels_get(ls, "__name__") == NULL) {
        return ls;
    }
    labels_builder_t *b = labels_builder_new(a, ls);
    labels_builder_del(b, "__name__");
    return labels_builder_build(b);
}

/* Loki's PipelineError text, with the series as labels.String(). */
static int pipeline_error(const labels_t *ls, err_t *err)
{
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    const char *kind = labels_get(ls, "__error__");
    err_set(err, ERR_BAD_DATA,
            "pipeline error: '%s' for series: '%s'.\n"
            "Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\").\n"
            "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
            "The label filter can also be specified after unwrap. (e.g | unwrap latency | "
            "__error__=\"\" )\n",
            kind, b.data != NULL ? b.data : "{}", kind);
    buf_fini(&b);
    return -1;
}

static int has_error(const labels_t *ls)
{
    const char *keep = labels_get(ls, "__preserve_error__");
    return labels_get(ls, "__error__") != NULL && (keep == NULL || strcmp(keep, "true") != 0);
}

/* Where leaf samples go. The memstore is heap memory outside the query's arena, so its
 * samples are counted against the arena budget here. */
typedef struct {
    memstore_t *ms;
    const char *name;    /* __logql_leaf_<i> */
    unsigned char *seen; /* absent_over_time: steps with data */
    size_t *n_samples;   /* over all leaves */
    size_t max_samples;
} sink_t;

/* Bytes one sample costs in the memstore and in the outer evaluation's copies. */
#define SAMPLE_COST 64

static int sink_add(sink_t *sink, const labels_t *named, int64_t t_ms, double v, err_t *err)
{
    if (++*sink->n_samples > sink->max_samples) {
        return logql__e_oom(err);
    }
    return memstore_add(sink->ms, named, t_ms, v, err);
}

/* Slides the window of one series over the grid. */
static int series_windows(arena_t *a, const logql_leaf_t *lf, const leaf_series_t *s,
                          const grid_t *g, sink_t *sink, err_t *err)
{
    double *scratch =
        lf->op == LOGQL_QUANTILE_OVER_TIME ? arena_alloc(a, (s->n + 1) * sizeof(double)) : NULL;
    if (lf->op == LOGQL_QUANTILE_OVER_TIME && scratch == NULL) {
        return logql__e_oom(err);
    }
    size_t lo = 0, hi = 0;
    for (size_t k = 0; k < g->n_steps; k++) {
        int64_t end_ns = grid_at(g, k) * NS_PER_MS - lf->offset_ms * NS_PER_MS;
        int64_t start_ns = end_ns - lf->range_ms * NS_PER_MS;
        while (hi < s->n && s->pts[hi].ts_ns <= end_ns) {
            hi++;
        }
        while (lo < hi && s->pts[lo].ts_ns <= start_ns) {
            lo++;
        }
        if (lo == hi) {
            continue;
        }
        if (has_error(s->labels)) {
            return pipeline_error(drop_name(a, s->labels), err);
        }
        if (lf->op == LOGQL_ABSENT_OVER_TIME) {
            sink->seen[k] = 1;
            continue;
        }
        double v = window_value(lf, &s->pts[lo], hi - lo, end_ns, scratch);
        if (sink_add(sink, s->labels, grid_at(g, k), v, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* absent_over_time's labels: the selector's equality matchers, minus names matched twice or
 * by another operator (Loki's absentLabels). */
static const labels_t *absent_labels(arena_t *a, const logql_selector_t *sel)
{
    labels_builder_t *b = labels_builder_new(a, NULL);
    for (size_t i = 0; i < sel->n_matchers; i++) {
        const matcher_t *m = sel->matchers[i];
        if (matcher_type(m) == MATCH_EQ) {
            labels_builder_set(b, matcher_name(m), matcher_value(m));
        }
    }
    labels_t *eq = labels_builder_build(b);
    labels_builder_reset(b, eq);
    for (size_t i = 0; i < sel->n_matchers; i++) {
        const matcher_t *m = sel->matchers[i];
        int dup = 0;
        for (size_t j = 0; j < i; j++) {
            dup |= strcmp(matcher_name(sel->matchers[j]), matcher_name(m)) == 0;
        }
        if (matcher_type(m) != MATCH_EQ || dup) {
            labels_builder_del(b, matcher_name(m));
        }
    }
    return labels_builder_build(b);
}

static int absent_samples(arena_t *a, const logql_leaf_t *lf, const grid_t *g, sink_t *sink,
                          err_t *err)
{
    const labels_t *named = with_name(a, absent_labels(a, &lf->sel), sink->name);
    if (named == NULL) {
        return logql__e_oom(err);
    }
    for (size_t k = 0; k < g->n_steps; k++) {
        if (!sink->seen[k] && sink_add(sink, named, grid_at(g, k), 1, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Computes leaf `idx` into the memstore of `shared` (which also counts the samples). */
static int run_leaf(arena_t *a, logstore_t *store, const char *tenant, const logql_leaf_t *lf,
                    size_t idx, const grid_t *g, const sink_t *shared, logql__erun_t *run,
                    err_t *err)
{
    leaf_acc_t acc = {.a = a, .leaf = lf, .proc = logql_proc_new(a, lf->sel.pipeline)};
    logql__emap_init(&acc.by_out, a);
    logql__emap_init(&acc.by_hash, a);
    sink_t sink = *shared;
    sink.name = acc.name = arena_sprintf(a, "__logql_leaf_%zu", idx);
    if (lf->op == LOGQL_ABSENT_OVER_TIME) {
        sink.seen = arena_calloc(a, g->n_steps + 1);
    }
    if (acc.proc == NULL || sink.name == NULL ||
        (lf->op == LOGQL_ABSENT_OVER_TIME && sink.seen == NULL)) {
        return logql__e_oom(err);
    }
    if (leaf_read(&acc, store, tenant, g, run, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < acc.n_all; i++) {
        if (series_windows(a, lf, acc.all[i], g, &sink, err) < 0) {
            return -1;
        }
    }
    return lf->op == LOGQL_ABSENT_OVER_TIME ? absent_samples(a, lf, g, &sink, err) : 0;
}

/* ---- the outer expression ------------------------------------------------------------ */

static int series_limit(size_t n, size_t max_series, err_t *err)
{
    if (max_series == 0 || n <= max_series) {
        return 0;
    }
    return err_set(err, ERR_BAD_DATA,
                   "maximum number of series (%zu) reached for a single query; consider reducing "
                   "query cardinality by adding more specific stream selectors, reducing the time "
                   "range, or aggregating results with functions like sum(), count() or topk()",
                   max_series);
}

static int vec_cmp(const void *x, const void *y)
{
    return labels_cmp(((const promql_sample_t *)x)->labels, ((const promql_sample_t *)y)->labels);
}

static int mat_cmp(const void *x, const void *y)
{
    return labels_cmp(((const promql_series_t *)x)->labels, ((const promql_series_t *)y)->labels);
}

/* 1 if the outer expression calls sort() or sort_desc(): Loki then keeps the vector's order
 * (its Sortable), else it sorts results by labels. */
static int calls_sort(const char *promql)
{
    for (const char *p = strstr(promql, "sort"); p != NULL; p = strstr(p + 1, "sort")) {
        int word_start = p == promql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        if (word_start && (strncmp(p, "sort(", 5) == 0 || strncmp(p, "sort_desc(", 10) == 0)) {
            return 1;
        }
    }
    return 0;
}

static int finish_result(arena_t *a, const logql_opts_t *opts, int instant, const char *promql,
                         logql__erun_t *run, logql_result_t *out, err_t *err)
{
    promql_result_t *r = &out->metric;
    size_t max_series = opts != NULL && opts->max_series > 0 ? opts->max_series : 500;
    uint64_t samples = 0;
    for (size_t i = 0; i < r->n_vec; i++) {
        r->vec[i].labels = drop_name(a, r->vec[i].labels);
    }
    for (size_t i = 0; i < r->n_mat; i++) {
        r->mat[i].labels = drop_name(a, r->mat[i].labels);
        samples += r->mat[i].n_points;
    }
    if (r->n_vec > 1 && !calls_sort(promql)) {
        qsort(r->vec, r->n_vec, sizeof(*r->vec), vec_cmp);
    }
    if (r->n_mat > 1) {
        qsort(r->mat, r->n_mat, sizeof(*r->mat), mat_cmp);
    }
    out->type = r->type == PROMQL_TYPE_SCALAR   ? LOGQL_RESULT_SCALAR
                : r->type == PROMQL_TYPE_VECTOR ? LOGQL_RESULT_VECTOR
                                                : LOGQL_RESULT_MATRIX;
    run->stats.entries_returned = instant ? r->n_vec : samples;
    return series_limit(instant ? r->n_vec : r->n_mat, max_series, err);
}

static void grid_init(grid_t *g, int64_t start_ns, int64_t end_ns, int64_t step_ns, int instant)
{
    g->start_ms = start_ns / NS_PER_MS;
    g->end_ms = end_ns / NS_PER_MS;
    g->step_ms = instant ? 0 : step_ns / NS_PER_MS > 0 ? step_ns / NS_PER_MS : 1;
    g->n_steps = instant ? 1 : (size_t)((g->end_ms - g->start_ms) / g->step_ms) + 1;
}

static int eval_outer(arena_t *a, memstore_t *ms, const char *text, const grid_t *g, int instant,
                      logql__erun_t *run, logql_result_t *out, err_t *err)
{
    promql_expr_t *pe = promql_parse(a, text, err);
    if (pe == NULL) {
        return err_wrap(err, "internal plan %s", text);
    }
    promql_opts_t po = {.lookback_ms = 1};
    po.timeout_ms = run->deadline_ms - time_mono_ms();
    if (po.timeout_ms <= 0) {
        return err_set(err, ERR_TIMEOUT, "%s", LOGQL__TIMEOUT_MSG);
    }
    int rc = instant ? promql_eval_instant(a, memstore_queryable(ms), pe, g->start_ms, &po,
                                           &out->metric, err)
                     : promql_eval_range(a, memstore_queryable(ms), pe, g->start_ms, g->end_ms,
                                         g->step_ms, &po, &out->metric, err);
    if (rc < 0 && err->code == ERR_TIMEOUT) {
        err_clear(err);
        err_set(err, ERR_TIMEOUT, "%s", LOGQL__TIMEOUT_MSG);
    }
    return rc;
}

int logql__e_exec_metric(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                         int64_t start_ns, int64_t end_ns, int64_t step_ns, int instant,
                         const logql_opts_t *opts, logql__erun_t *run, logql_result_t *out,
                         err_t *err)
{
    const logql_leaf_t *leaves;
    size_t n_leaves;
    const char *text;
    grid_t g;
    if (logql_metric_plan(a, e, &leaves, &n_leaves, &text, err) < 0) {
        return -1;
    }
    grid_init(&g, start_ns, end_ns, step_ns, instant);
    memstore_t *ms = memstore_new();
    size_t n_samples = 0, budget = opts != NULL && opts->max_bytes > 0 ? opts->max_bytes : 1u << 30;
    sink_t shared = {.ms = ms, .n_samples = &n_samples, .max_samples = budget / SAMPLE_COST};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_leaves; i++) {
        rc = run_leaf(a, store, tenant, &leaves[i], i, &g, &shared, run, err);
    }
    if (rc == 0) {
        rc = eval_outer(a, ms, text, &g, instant, run, out, err);
    }
    /* before the store goes: result labels may still be the store's series labels */
    if (rc == 0) {
        rc = finish_result(a, opts, instant, text, run, out, err);
    }
    memstore_free(ms);
    return rc;
}
