/* tests/unit/test_logql_engine.c - the LogQL engine (logql/engine*.c) over a real log store
 * in a temporary directory: log queries (k-way merge, limit with early stop, direction,
 * bounds, interval, filters), metric queries (window bounds, rate, bytes, unwrap with
 * grouping, quantile, absent, offset, outer PromQL operators), and Loki's error texts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/labels.h"
#include "logql/logql.h"
#include "storage/logstore.h"
#include "test.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

static logstore_t *store;
static char store_dir[64];

static void push(const char *sel, const int64_t *secs, const char *const *lines, size_t n)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    labels_t *ls = labels_parse(a, sel, &err);
    log_entry_t es[8];
    for (size_t i = 0; i < n; i++) {
        es[i] =
            (log_entry_t){.ts_ns = T0 + secs[i] * SEC, .line = lines[i], .len = strlen(lines[i])};
    }
    log_stream_push_t p = {.labels = ls, .entries = es, .n_entries = n};
    if (ls == NULL || logstore_push(store, "t1", &p, 1, &err) < 0) {
        fprintf(stderr, "push: %s\n", err.msg);
        abort();
    }
    arena_free(a);
}

/* Stream A {app=api,level=error} at 1, 11, 21 s; B {app=api,level=info} at 5, 15, 25, 60 s;
 * C {app=web,level=error} at 2 s with a JSON line. */
static void setup(void)
{
    if (store != NULL) {
        return;
    }
    strcpy(store_dir, "/tmp/herald-logql-XXXXXX");
    if (mkdtemp(store_dir) == NULL) {
        abort();
    }
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = store_dir;
    err_t err = {0};
    store = logstore_open(&o, &err);
    if (store == NULL) {
        fprintf(stderr, "open: %s\n", err.msg);
        abort();
    }
    static const int64_t ta[] = {1, 11, 21}, tb[] = {5, 15, 25, 60}, tc[] = {2};
    static const char *const la[] = {"error one latency=100", "error two latency=300",
                                     "error three latency=200"};
    static const char *const lb[] = {"info a latency=10", "info b latency=20", "info c latency=30",
                                     "info d latency=40"};
    static const char *const lc[] = {"{\"status\":500}"};
    push("{app=\"api\", level=\"error\"}", ta, la, 3);
    push("{app=\"api\", level=\"info\"}", tb, lb, 4);
    push("{app=\"web\", level=\"error\"}", tc, lc, 1);
}

typedef struct {
    arena_t *a;
    err_t err;
    logql_result_t res;
    int rc;
} q_t;

static void q_range(q_t *q, const char *query, int64_t start, int64_t end, int64_t step,
                    int64_t interval, size_t limit, logql_direction_t dir, size_t max_series)
{
    setup();
    memset(q, 0, sizeof(*q));
    q->a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(q->a, query, &q->err);
    if (e == NULL) {
        TEST_FAIL_("parse %s: %s", query, q->err.msg);
    }
    logql_opts_t o = {.max_series = max_series};
    q->rc = logql_exec_range(q->a, store, "t1", e, start, end, step, interval, limit, dir, &o,
                             &q->res, &q->err);
}

static void q_instant(q_t *q, const char *query, int64_t t, size_t max_series)
{
    setup();
    memset(q, 0, sizeof(*q));
    q->a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(q->a, query, &q->err);
    if (e == NULL) {
        TEST_FAIL_("parse %s: %s", query, q->err.msg);
    }
    logql_opts_t o = {.max_series = max_series};
    q->rc = logql_exec_instant(q->a, store, "t1", e, t, &o, &q->res, &q->err);
}

/* Log queries: the n-th returned entry over all streams, as "<sec>:<line>". */
static const char *entry(const q_t *q, size_t s, size_t i)
{
    static char out[128];
    const logql_entry_t *e = &q->res.streams[s].entries[i];
    snprintf(out, sizeof(out), "%lld:%.*s", (long long)((e->ts_ns - T0) / SEC), (int)e->len,
             e->line);
    return out;
}

static const char *lbl(const labels_t *ls, const char *name)
{
    const char *v = labels_get(ls, name);
    return v != NULL ? v : "";
}

TEST(log_backward_limit_merges_newest_and_stops_early)
{
    q_t q;
    q_range(&q, "{app=\"api\"}", T0, T0 + 100 * SEC, 0, 0, 3, LOGQL_BACKWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.type, LOGQL_RESULT_STREAMS);
    ASSERT_EQ(q.res.n_streams, 2);
    ASSERT_STR_EQ(lbl(q.res.streams[0].labels, "level"), "error"); /* sorted by labels */
    ASSERT_EQ(q.res.streams[0].n_entries, 1);
    ASSERT_STR_EQ(entry(&q, 0, 0), "21:error three latency=200");
    ASSERT_EQ(q.res.streams[1].n_entries, 2);
    ASSERT_STR_EQ(entry(&q, 1, 0), "60:info d latency=40");
    ASSERT_STR_EQ(entry(&q, 1, 1), "25:info c latency=30");
    ASSERT_EQ(q.res.stats.entries_returned, 3);
    ASSERT_EQ(q.res.stats.lines_processed, 3); /* nothing read past the limit */
    arena_free(q.a);
}

TEST(log_forward_limit_returns_oldest)
{
    q_t q;
    q_range(&q, "{app=\"api\"}", T0, T0 + 100 * SEC, 0, 0, 2, LOGQL_FORWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.n_streams, 2);
    ASSERT_STR_EQ(entry(&q, 0, 0), "1:error one latency=100");
    ASSERT_STR_EQ(entry(&q, 1, 0), "5:info a latency=10");
    arena_free(q.a);
}

TEST(log_bounds_include_start_exclude_end)
{
    q_t q;
    q_range(&q, "{app=\"api\"}", T0 + 5 * SEC, T0 + 21 * SEC, 0, 0, 100, LOGQL_FORWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.stats.entries_returned, 3);
    ASSERT_STR_EQ(entry(&q, 0, 0), "11:error two latency=300");
    ASSERT_STR_EQ(entry(&q, 1, 0), "5:info a latency=10");
    ASSERT_STR_EQ(entry(&q, 1, 1), "15:info b latency=20");
    arena_free(q.a);
}

TEST(log_line_filter_and_interval)
{
    q_t q;
    q_range(&q, "{app=\"api\"} |= \"error\"", T0, T0 + 100 * SEC, 0, 0, 100, LOGQL_BACKWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.n_streams, 1);
    ASSERT_EQ(q.res.streams[0].n_entries, 3);
    ASSERT_EQ(q.res.stats.lines_processed, 7);
    ASSERT_EQ(q.res.stats.post_filter_lines, 3);
    arena_free(q.a);
    /* one entry per 10 s over the merged sequence: 1, 11, 21, then 60 */
    q_range(&q, "{app=\"api\"}", T0, T0 + 100 * SEC, 0, 10 * SEC, 100, LOGQL_FORWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.stats.entries_returned, 4);
    ASSERT_EQ(q.res.streams[0].n_entries, 3);
    ASSERT_STR_EQ(entry(&q, 1, 0), "60:info d latency=40");
    arena_free(q.a);
}

TEST(instant_log_query_is_refused)
{
    q_t q;
    q_instant(&q, "{app=\"api\"}", T0, 0);
    ASSERT_EQ(q.rc, -1);
    ASSERT_EQ(q.err.code, ERR_BAD_DATA);
    ASSERT_STR_EQ(q.err.msg, "log queries are not supported as an instant query type, please "
                             "change your query to a range query type");
    arena_free(q.a);
}

static double scalar_of(const q_t *q)
{
    if (q->res.type == LOGQL_RESULT_SCALAR) {
        return q->res.metric.scalar;
    }
    return q->res.metric.n_vec == 1 ? q->res.metric.vec[0].v : NAN;
}

TEST(count_window_excludes_lower_bound_includes_upper)
{
    q_t q;
    q_instant(&q, "sum(count_over_time({app=\"api\"}[10s]))", T0 + 21 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 2); /* 21 (11 is on the open bound) and 15 */
    arena_free(q.a);
    q_instant(&q, "sum(count_over_time({app=\"api\"}[10s]))", T0 + 25 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 2); /* 21 and 25 */
    arena_free(q.a);
}

TEST(rate_bytes_and_sum_by)
{
    q_t q;
    q_instant(&q, "rate({app=\"api\", level=\"error\"}[30s])", T0 + 30 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 0.1);
    ASSERT_NULL(labels_get(q.res.metric.vec[0].labels, "__name__"));
    ASSERT_STR_EQ(lbl(q.res.metric.vec[0].labels, "level"), "error");
    arena_free(q.a);
    q_instant(&q, "bytes_over_time({app=\"web\"}[1m])", T0 + 60 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 14);
    arena_free(q.a);
    q_instant(&q, "sum by (level) (count_over_time({level=\"error\"}[1m]))", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.res.metric.n_vec, 1);
    ASSERT_DBL_EQ(q.res.metric.vec[0].v, 4);
    ASSERT_EQ(labels_len(q.res.metric.vec[0].labels), 1);
    arena_free(q.a);
}

TEST(range_query_gives_one_point_per_step)
{
    q_t q;
    q_range(&q, "count_over_time({app=\"api\", level=\"error\"}[10s])", T0 + 10 * SEC,
            T0 + 30 * SEC, 10 * SEC, 0, 100, LOGQL_BACKWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.type, LOGQL_RESULT_MATRIX);
    ASSERT_EQ(q.res.metric.n_mat, 1);
    ASSERT_EQ(q.res.metric.mat[0].n_points, 3);
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(q.res.metric.mat[0].points[i].t, (T0 + (int64_t)(10 + 10 * i) * SEC) / 1000000);
        ASSERT_DBL_EQ(q.res.metric.mat[0].points[i].v, 1);
    }
    arena_free(q.a);
}

TEST(unwrap_with_grouping_and_quantile)
{
    q_t q;
    q_instant(&q, "max_over_time({app=\"api\"} | logfmt | unwrap latency [1m]) by (level)",
              T0 + 30 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.metric.n_vec, 2);
    ASSERT_STR_EQ(lbl(q.res.metric.vec[0].labels, "level"), "error");
    ASSERT_DBL_EQ(q.res.metric.vec[0].v, 300);
    ASSERT_DBL_EQ(q.res.metric.vec[1].v, 30);
    arena_free(q.a);
    q_instant(&q,
              "quantile_over_time(0.5, {app=\"api\", level=\"error\"} | logfmt | unwrap latency "
              "[1m]) by (app)",
              T0 + 30 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 200);
    arena_free(q.a);
    q_instant(&q, "avg_over_time({level=\"info\"} | logfmt | unwrap latency [1m]) by (app)",
              T0 + 60 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 25);
    arena_free(q.a);
}

TEST(rate_of_unwrapped_values_sums_them)
{
    q_t q;
    q_instant(&q, "sum(rate({app=\"api\", level=\"error\"} | logfmt | unwrap latency [1m]))",
              T0 + 30 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 10); /* (100 + 300 + 200) / 60 */
    arena_free(q.a);
    q_instant(&q, "bytes_rate({app=\"web\"}[10s])", T0 + 10 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 1.4); /* 14 bytes / 10 s */
    arena_free(q.a);
}

TEST(absent_over_time_uses_equality_matchers)
{
    q_t q;
    q_instant(&q, "absent_over_time({app=\"nope\", level=~\"x|y\"}[1m])", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.metric.n_vec, 1);
    ASSERT_DBL_EQ(q.res.metric.vec[0].v, 1);
    ASSERT_EQ(labels_len(q.res.metric.vec[0].labels), 1);
    ASSERT_STR_EQ(lbl(q.res.metric.vec[0].labels, "app"), "nope");
    arena_free(q.a);
    q_instant(&q, "absent_over_time({app=\"api\"}[1m])", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.res.metric.n_vec, 0);
    arena_free(q.a);
}

TEST(pipeline_error_fails_metric_query)
{
    q_t q;
    q_instant(&q, "count_over_time({app=\"api\"} | json [1m])", T0 + 30 * SEC, 0);
    ASSERT_EQ(q.rc, -1);
    ASSERT_EQ(q.err.code, ERR_BAD_DATA);
    ASSERT_TRUE(strncmp(q.err.msg, "pipeline error: 'JSONParserErr' for series: '{", 46) == 0);
    ASSERT_NOT_NULL(strstr(q.err.msg, "Use a label filter to intentionally skip this error."));
    ASSERT_NULL(strstr(q.err.msg, "__name__")); /* the series as the user knows it */
    arena_free(q.a);
    q_instant(&q, "sum(count_over_time({app=\"api\"} | json | __error__=\"\" [1m]))", T0 + 30 * SEC,
              0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_EQ(q.res.metric.n_vec, 0);
    arena_free(q.a);
}

TEST(max_series_and_offset)
{
    q_t q;
    q_instant(&q, "count_over_time({app=\"api\"}[1m])", T0 + 60 * SEC, 1);
    ASSERT_EQ(q.rc, -1);
    ASSERT_TRUE(strncmp(q.err.msg, "maximum number of series (1) reached", 36) == 0);
    arena_free(q.a);
    q_instant(&q, "count_over_time({app=\"api\", level=\"error\"}[10s] offset 10s)", T0 + 30 * SEC,
              0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 1); /* (10 s, 20 s]: the entry at 11 s */
    ASSERT_EQ(q.res.metric.vec[0].t, (T0 + 30 * SEC) / 1000000);
    arena_free(q.a);
}

TEST(outer_promql_operators)
{
    q_t q;
    q_instant(&q, "sum(count_over_time({app=\"api\"}[1m])) > 5", T0 + 60 * SEC, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 7);
    arena_free(q.a);
    q_instant(&q, "sum(count_over_time({app=\"api\"}[1m])) > 10", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.res.metric.n_vec, 0);
    arena_free(q.a);
    q_instant(&q, "topk(1, count_over_time({app=\"api\"}[1m]))", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.res.metric.n_vec, 1);
    ASSERT_STR_EQ(lbl(q.res.metric.vec[0].labels, "level"), "info");
    arena_free(q.a);
    q_instant(&q, "1 + 1", T0, 0);
    ASSERT_EQ(q.res.type, LOGQL_RESULT_SCALAR);
    ASSERT_DBL_EQ(q.res.metric.scalar, 2);
    arena_free(q.a);
}

TEST(metric_samples_count_against_the_memory_budget)
{
    setup();
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(a, "count_over_time({app=\"api\"}[1m])", &err);
    logql_opts_t o = {.max_bytes = 64 * 10}; /* room for 10 leaf samples */
    logql_result_t res;
    ASSERT_EQ(logql_exec_range(a, store, "t1", e, T0, T0 + 100 * SEC, 10 * SEC, 0, 100,
                               LOGQL_BACKWARD, &o, &res, &err),
              -1); /* 2 series x 11 steps */
    ASSERT_EQ(err.code, ERR_EXECUTION);
    ASSERT_STR_EQ(err.msg, "query exceeded its memory budget");
    err_clear(&err);
    o.max_bytes = 64 * 22;
    ASSERT_EQ(logql_exec_range(a, store, "t1", e, T0, T0 + 100 * SEC, 10 * SEC, 0, 100,
                               LOGQL_BACKWARD, &o, &res, &err),
              0);
    ASSERT_EQ(res.metric.n_mat, 2);
    arena_free(a);
}

/* The same answers from flushed chunks and after a restart as from the head. */
TEST(results_survive_flush_and_reopen)
{
    setup();
    err_t err = {0};
    ASSERT_EQ(logstore_maintain(store, T0 / 1000000 + 3600 * 1000, 1, &err), 0);
    q_t q;
    q_range(&q, "{app=\"api\"}", T0, T0 + 100 * SEC, 0, 0, 3, LOGQL_BACKWARD, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_STR_EQ(entry(&q, 1, 0), "60:info d latency=40");
    ASSERT_EQ(q.res.stats.lines_processed, 3);
    arena_free(q.a);
    logstore_close(store);
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = store_dir;
    store = logstore_open(&o, &err);
    ASSERT_NOT_NULL(store);
    q_instant(&q, "sum by (level) (count_over_time({level=\"error\"}[1m]))", T0 + 60 * SEC, 0);
    ASSERT_EQ(q.rc, 0);
    ASSERT_DBL_EQ(scalar_of(&q), 4);
    arena_free(q.a);
}

/* Last (tests run in file order): close the store so the sanitizers see no leak. */
TEST(zz_close_store)
{
    setup();
    logstore_close(store);
    store = NULL;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", store_dir);
    ASSERT_EQ(system(cmd), 0);
}
