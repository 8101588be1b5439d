/* promql/promql.h - the PromQL engine: parser (AST with positions), printer and evaluator.
 *
 * Ownership: every pointer returned lives in the arena passed in (AST, results, label sets,
 * annotation strings); one arena_free releases a query. The engine reads series only through
 * storage/querier.h. Thread-safety: a parsed expression and an arena belong to one thread;
 * different queries may run in parallel on different arenas. */
#ifndef HERALD_PROMQL_PROMQL_H
#define HERALD_PROMQL_PROMQL_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"
#include "storage/querier.h"

typedef struct promql_expr promql_expr_t; /* opaque AST node */

typedef enum {
    PROMQL_TYPE_NONE,
    PROMQL_TYPE_SCALAR,
    PROMQL_TYPE_VECTOR,
    PROMQL_TYPE_MATRIX,
    PROMQL_TYPE_STRING,
} promql_type_t;

/* Parser feature flags, named after Prometheus' flags. */
enum {
    PROMQL_PARSE_EXPERIMENTAL_FUNCS = 1 << 0, /* --enable-feature=promql-experimental-functions */
    PROMQL_PARSE_DURATION_EXPR = 1 << 1,      /* promql-duration-expr */
};

/* Parses `query`. Errors (ERR_BAD_DATA) read as Prometheus': "1:8: parse error: ...". */
promql_expr_t *promql_parse(arena_t *a, const char *query, err_t *err);
promql_expr_t *promql_parse_flags(arena_t *a, const char *query, unsigned flags, err_t *err);
/* Canonical one-line text of the expression (Prometheus' Expr.String()); in `a`. */
const char *promql_format(arena_t *a, const promql_expr_t *e);
/* 1 if both trees are structurally equal (positions ignored). */
int promql_equal(const promql_expr_t *x, const promql_expr_t *y);
promql_type_t promql_expr_type(const promql_expr_t *e);
/* Pins every selector and subquery that has no @ modifier to `@ ms` (those inside a subquery
 * that has one are left alone). Returns -1 (tree unchanged) if the expression calls a
 * function whose value depends on the evaluation time (time(), timestamp(), minute(), ...),
 * for which pinning changes the result. Used for step-invariance tests. */
int promql_pin_time(promql_expr_t *e, int64_t ms);
/* Sets matcher m in every vector selector of e, as `promtool promql label-matchers set`: a
 * matcher on the same label name is replaced, else m is appended (copies of m live in a).
 * Print the result with promql_format. -1 + err only when a copy cannot be made. */
int promql_set_matcher(arena_t *a, promql_expr_t *e, const matcher_t *m, err_t *err);
const char *promql_type_name(promql_type_t t); /* "scalar", "vector", "matrix", "string" */

typedef struct {
    const labels_t *labels;
    int64_t t;
    double v;
} promql_sample_t;

typedef struct {
    const labels_t *labels;
    const sample_t *points;
    size_t n_points;
} promql_series_t;

typedef struct {
    promql_type_t type;
    double scalar; /* SCALAR */
    int64_t t;     /* SCALAR/STRING: evaluation time */
    const char *str;
    promql_sample_t *vec; /* VECTOR */
    size_t n_vec;
    promql_series_t *mat; /* MATRIX (also every range query result) */
    size_t n_mat;
    /* "PromQL warning: ... (1:6)" / "PromQL info: ..." strings, deduplicated */
    const char **warnings;
    size_t n_warnings;
    const char **infos;
    size_t n_infos;
    size_t samples_total; /* query stats: samples loaded */
} promql_result_t;

typedef struct {
    int64_t lookback_ms;     /* 0: 5m */
    size_t max_samples;      /* 0: 50,000,000 (Prometheus' default) */
    int64_t timeout_ms;      /* 0: 2m */
    int64_t subquery_step_ms; /* default subquery step when none given; 0: 1m */
    /* Prometheus 3.x feature promql-delayed-name-removal: __name__ is removed at the end of
     * the query instead of by each operator (off by default, as upstream). */
    int delayed_name_removal;
    /* range queries: budget of the scratch arena one step's intermediate values use (reset
     * between steps); 0: 1 GiB */
    size_t step_budget_bytes;
} promql_opts_t;

/* Evaluates `e` at time `t` (ms). Result in `a`. Errors: ERR_EXECUTION (422) for runtime
 * errors, ERR_TIMEOUT (503) "query timed out in expression evaluation", ERR_EXECUTION for
 * "query processing would load too many samples into memory in ...". */
int promql_eval_instant(arena_t *a, queryable_t *qb, promql_expr_t *e, int64_t t,
                        const promql_opts_t *opts, promql_result_t *out, err_t *err);
/* Range query over [start, end] every step (ms); the result is always a matrix. The
 * expression must be a scalar or an instant vector. */
int promql_eval_range(arena_t *a, queryable_t *qb, promql_expr_t *e, int64_t start, int64_t end,
                      int64_t step, const promql_opts_t *opts, promql_result_t *out, err_t *err);

#endif
