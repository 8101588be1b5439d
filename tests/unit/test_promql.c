/* tests/unit/test_promql.c - PromQL parser, printer and engine on a memstore: precedence,
 * error wording and positions, round-trips, evaluation of selectors, functions, operators,
 * range queries, annotations and limits. */
#include <math.h>

#include "common/arena.h"
#include "common/labels.h"
#include "promql/promql.h"
#include "storage/memstore.h"
#include "test.h"

static const char *fmt(arena_t *a, const char *q)
{
    err_t err = {0};
    promql_expr_t *e = promql_parse(a, q, &err);
    return e != NULL ? promql_format(a, e) : arena_strdup(a, err.msg);
}

TEST(parse_precedence_and_associativity)
{
    arena_t *a = arena_new(0, NULL);
    ASSERT_STR_EQ(fmt(a, "1 + 2 * 3"), "1 + 2 * 3");
    ASSERT_STR_EQ(fmt(a, "(1 + 2) * 3"), "(1 + 2) * 3");
    ASSERT_STR_EQ(fmt(a, "-1"), "-1");
    ASSERT_STR_EQ(fmt(a, "sum(x) by (a,b)"), "sum by (a, b) (x)");
    ASSERT_STR_EQ(fmt(a, "x{b=\"1\",a=~\"2\"} offset 5m"), "x{a=~\"2\",b=\"1\"} offset 5m");
    ASSERT_STR_EQ(fmt(a, "foo[1h30m:] @ 100 offset -1m"), "foo[1h30m:] @ 100.000 offset -1m");
    ASSERT_STR_EQ(fmt(a, "a + on(b) group_left(c) d"), "a + on (b) group_left (c) d");
    ASSERT_STR_EQ(fmt(a, "a > bool ignoring(x) b"), "a > bool ignoring (x) b");
    ASSERT_STR_EQ(fmt(a, "topk(3, x)"), "topk(3, x)");
    ASSERT_STR_EQ(fmt(a, "1e3 + 0x10 + .5"), "1000 + 16 + 0.5");
    ASSERT_STR_EQ(fmt(a, "{__name__=\"up\"}"), "{__name__=\"up\"}");
    ASSERT_STR_EQ(fmt(a, "\"a\\nb\""), "\"a\\nb\"");
    arena_free(a);
}

TEST(parse_pow_is_right_associative)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = memstore_new();
    err_t err = {0};
    promql_result_t r;
    promql_expr_t *e = promql_parse(a, "2 ^ 3 ^ 2", &err);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(promql_eval_instant(a, memstore_queryable(m), e, 0, NULL, &r, &err), 0);
    ASSERT_DBL_EQ(r.scalar, 512.0);
    e = promql_parse(a, "-2 ^ 2", &err); /* unary minus binds looser than ^ */
    ASSERT_EQ(promql_eval_instant(a, memstore_queryable(m), e, 0, NULL, &r, &err), 0);
    ASSERT_DBL_EQ(r.scalar, -4.0);
    e = promql_parse(a, "10 - 2 - 3", &err);
    ASSERT_EQ(promql_eval_instant(a, memstore_queryable(m), e, 0, NULL, &r, &err), 0);
    ASSERT_DBL_EQ(r.scalar, 5.0);
    memstore_free(m);
    arena_free(a);
}

TEST(parse_errors_name_position)
{
    arena_t *a = arena_new(0, NULL);
    ASSERT_STR_EQ(fmt(a, "sum(foo"), "1:8: parse error: unexpected end of input in aggregation");
    ASSERT_STR_EQ(fmt(a, "rate(foo)"),
                  "1:6: parse error: expected type range vector in call to function \"rate\", "
                  "got instant vector");
    ASSERT_STR_EQ(fmt(a, "{}"),
                  "1:1: parse error: vector selector must contain at least one non-empty matcher");
    ASSERT_STR_EQ(fmt(a, "1 > 2"), "1:1: parse error: comparisons between scalars must use BOOL modifier");
    ASSERT_STR_EQ(fmt(a, "nofunc(x)"), "1:1: parse error: unknown function with name \"nofunc\"");
    ASSERT_STR_EQ(fmt(a, "foo offset 1m offset 2m"), "1:15: parse error: offset may not be set multiple times");
    ASSERT_STR_EQ(fmt(a, "1 and 2"), "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
    ASSERT_STR_EQ(fmt(a, ""), "1:1: parse error: no expression found in input");
    ASSERT_STR_EQ(fmt(a, "(1 +"), "1:5: parse error: unexpected end of input");
    ASSERT_STR_EQ(fmt(a, "foo\n  + )"), "2:5: parse error: unexpected right parenthesis ')'");
    arena_free(a);
}

TEST(parse_experimental_functions_need_the_flag)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    ASSERT_NULL(promql_parse(a, "mad_over_time(x[5m])", &err));
    err_clear(&err);
    ASSERT_NOT_NULL(promql_parse_flags(a, "mad_over_time(x[5m])", PROMQL_PARSE_EXPERIMENTAL_FUNCS, &err));
    arena_free(a);
}

TEST(pin_time_pins_selectors_not_subquery_insides)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    promql_expr_t *e = promql_parse(a, "rate(x[5m]) + max_over_time(y[1m:])", &err);
    ASSERT_EQ(promql_pin_time(e, 60000), 0);
    ASSERT_STR_EQ(promql_format(a, e), "rate(x[5m] @ 60.000) + max_over_time(y[1m:] @ 60.000)");
    e = promql_parse(a, "time() + x", &err);
    ASSERT_EQ(promql_pin_time(e, 60000), -1);
    arena_free(a);
}

/* ---- evaluation ------------------------------------------------------------------------- */

static void add(memstore_t *m, const char *series, int64_t t, double v)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    memstore_add(m, labels_parse(a, series, &err), t, v, &err);
    arena_free(a);
}

static memstore_t *fixture(void)
{
    memstore_t *m = memstore_new();
    for (int i = 0; i <= 10; i++) {
        add(m, "http_total{job=\"api\",code=\"200\"}", i * 60000, i * 60.0);
        add(m, "http_total{job=\"api\",code=\"500\"}", i * 60000, i * 6.0);
        add(m, "http_total{job=\"db\",code=\"200\"}", i * 60000, i * 30.0);
    }
    return m;
}

static int eval_at(arena_t *a, memstore_t *m, const char *q, int64_t t, promql_result_t *r, err_t *err)
{
    promql_expr_t *e = promql_parse(a, q, err);
    return e != NULL ? promql_eval_instant(a, memstore_queryable(m), e, t, NULL, r, err) : -1;
}

TEST(eval_rate_and_sum_by)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = fixture();
    err_t err = {0};
    promql_result_t r;
    ASSERT_EQ(eval_at(a, m, "sum by (job) (rate(http_total[5m]))", 600000, &r, &err), 0);
    ASSERT_EQ(r.type, PROMQL_TYPE_VECTOR);
    ASSERT_EQ(r.n_vec, 2);
    for (size_t i = 0; i < r.n_vec; i++) {
        const char *job = labels_get(r.vec[i].labels, "job");
        ASSERT_DBL_EQ(r.vec[i].v, strcmp(job, "api") == 0 ? 1.1 : 0.5);
        ASSERT_NULL(labels_get(r.vec[i].labels, "__name__"));
    }
    ASSERT_EQ(r.n_infos, 0); /* _total: no counter info */
    memstore_free(m);
    arena_free(a);
}

TEST(eval_vector_matching_and_errors)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = fixture();
    err_t err = {0};
    promql_result_t r;
    ASSERT_EQ(eval_at(a, m, "http_total / ignoring(code) group_left sum without (code) (http_total)", 600000, &r, &err), 0);
    ASSERT_EQ(r.n_vec, 3);
    ASSERT_EQ(eval_at(a, m, "http_total + on(job) http_total", 600000, &r, &err), -1);
    ASSERT_STR_EQ(err.msg, "found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation: [{__name__=\"http_total\", code=\"200\", job=\"api\"}, {__name__=\"http_total\", code=\"500\", job=\"api\"}];many-to-many matching not allowed: matching labels must be unique on one side");
    ASSERT_EQ(err.code, ERR_EXECUTION);
    memstore_free(m);
    arena_free(a);
}

TEST(eval_range_query_and_staleness)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = memstore_new();
    err_t err = {0};
    promql_result_t r;
    add(m, "g", 0, 1);
    add(m, "g", 60000, 2);
    add(m, "g", 120000, sample_stale_nan());
    promql_expr_t *e = promql_parse(a, "g", &err);
    ASSERT_EQ(promql_eval_range(a, memstore_queryable(m), e, 0, 180000, 30000, NULL, &r, &err), 0);
    ASSERT_EQ(r.type, PROMQL_TYPE_MATRIX);
    ASSERT_EQ(r.n_mat, 1);
    ASSERT_EQ(r.mat[0].n_points, 4); /* 0, 30s, 60s, 90s; the stale marker ends it at 120s */
    ASSERT_DBL_EQ(r.mat[0].points[3].v, 2.0);
    memstore_free(m);
    arena_free(a);
}

TEST(eval_annotations_have_positions)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = memstore_new();
    err_t err = {0};
    promql_result_t r;
    add(m, "gauge", 0, 1);
    add(m, "gauge", 60000, 2);
    ASSERT_EQ(eval_at(a, m, "rate(gauge[5m])", 60000, &r, &err), 0);
    ASSERT_EQ(r.n_infos, 1);
    ASSERT_STR_EQ(r.infos[0], "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"gauge\" (1:6)");
    ASSERT_EQ(eval_at(a, m, "quantile(2, gauge)", 60000, &r, &err), 0);
    ASSERT_EQ(r.n_warnings, 1);
    ASSERT_STR_EQ(r.warnings[0], "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)");
    memstore_free(m);
    arena_free(a);
}

TEST(eval_sample_limit_fails_with_prometheus_text)
{
    arena_t *a = arena_new(0, NULL);
    memstore_t *m = fixture();
    err_t err = {0};
    promql_result_t r;
    promql_opts_t o = {.max_samples = 5};
    promql_expr_t *e = promql_parse(a, "http_total[10m]", &err);
    ASSERT_EQ(promql_eval_instant(a, memstore_queryable(m), e, 600000, &o, &r, &err), -1);
    ASSERT_EQ(err.code, ERR_EXECUTION);
    ASSERT_STR_EQ(err.msg, "query processing would load too many samples into memory in query execution");
    memstore_free(m);
    arena_free(a);
}

TEST(eval_arena_budget_is_an_execution_error)
{
    err_t aerr = {0}, err = {0};
    arena_t *a = arena_new(64 * 1024, &aerr);
    memstore_t *m = fixture();
    promql_result_t r;
    promql_expr_t *e = promql_parse(a, "count_over_time(http_total[10m:1s])", &err);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(promql_eval_instant(a, memstore_queryable(m), e, 600000, NULL, &r, &err), -1);
    ASSERT_EQ(aerr.code, ERR_EXECUTION);
    memstore_free(m);
    arena_free(a);
}
