/* logql/logql.h - LogQL: parser (AST with positions), printer, log pipelines, and the engine
 * that runs log and metric queries over the log store.
 *
 * How a metric query runs: the parser splits it into leaves (range aggregations over a
 * stream selector and pipeline, e.g. `count_over_time({app="a"} |= "x" [5m])`) and an outer
 * PromQL expression over them in which leaf i is the series selector `__logql_leaf_<i>`.
 * The engine computes each leaf at every step straight from the log store, then evaluates
 * the outer expression with the PromQL engine (aggregations, binary operators, label_replace,
 * vector(), sort... have the same semantics in both languages) and drops `__name__`.
 *
 * Ownership: everything returned lives in the arena passed in. Threads: a parsed expression
 * is immutable and may be shared; a logql_proc_t belongs to one thread. */
#ifndef HERALD_LOGQL_LOGQL_H
#define HERALD_LOGQL_LOGQL_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"
#include "common/matchers.h"
#include "promql/promql.h"
#include "storage/logstore.h"

typedef struct logql_expr logql_expr_t;         /* opaque AST */
typedef struct logql_pipeline logql_pipeline_t; /* compiled stages, immutable */

/* Parses `query`. Errors (ERR_BAD_DATA) read as Loki's:
 * "parse error at line 1, col 5: syntax error: unexpected IDENTIFIER". */
logql_expr_t *logql_parse(arena_t *a, const char *query, err_t *err);
/* 1 for a metric (sample) query, 0 for a log query. */
int logql_is_metric(const logql_expr_t *e);
/* Canonical text (Loki's Expr.String(): /loki/api/v1/format_query, rule listings). */
const char *logql_format(arena_t *a, const logql_expr_t *e);
/* Sets matcher `m` in every stream selector of `e`: replaces a matcher on the same label
 * name, else appends (Alloy's extra_query_matchers). */
int logql_set_matcher(arena_t *a, logql_expr_t *e, const matcher_t *m, err_t *err);

/* A stream selector with its pipeline. */
typedef struct {
    const matcher_t *const *matchers;
    size_t n_matchers;
    const logql_pipeline_t *pipeline; /* never NULL (may have no stages) */
} logql_selector_t;

/* The selector of a log query; -1 for a metric query. */
int logql_log_selector(const logql_expr_t *e, logql_selector_t *out);

typedef enum {
    LOGQL_COUNT_OVER_TIME,
    LOGQL_RATE,
    LOGQL_BYTES_OVER_TIME,
    LOGQL_BYTES_RATE,
    LOGQL_ABSENT_OVER_TIME,
    /* unwrapped: the pipeline ends with `| unwrap ...` */
    LOGQL_RATE_COUNTER,
    LOGQL_SUM_OVER_TIME,
    LOGQL_AVG_OVER_TIME,
    LOGQL_MIN_OVER_TIME,
    LOGQL_MAX_OVER_TIME,
    LOGQL_STDDEV_OVER_TIME,
    LOGQL_STDVAR_OVER_TIME,
    LOGQL_QUANTILE_OVER_TIME,
    LOGQL_FIRST_OVER_TIME,
    LOGQL_LAST_OVER_TIME,
} logql_range_op_t;

typedef struct {
    logql_selector_t sel;
    logql_range_op_t op;
    double param;      /* quantile_over_time's φ */
    int64_t range_ms;  /* [5m] */
    int64_t offset_ms; /* offset 1h */
    /* `by (...)` / `without (...)` on an unwrapped range aggregation */
    int has_grouping, without;
    const char *const *grouping;
    size_t n_grouping;
} logql_leaf_t;

/* Splits a metric query: its leaves and the outer PromQL text over `__logql_leaf_<i>`
 * (e.g. `sum by (level) (__logql_leaf_0) > 5`). A query without leaves (`vector(1)`,
 * `1 + 1`) has n_leaves 0. */
int logql_metric_plan(arena_t *a, const logql_expr_t *e, const logql_leaf_t **leaves,
                      size_t *n_leaves, const char **promql, err_t *err);

/* ---- Running a pipeline over entries ---------------------------------------------- */

typedef struct logql_proc logql_proc_t;

/* What one entry became after the pipeline. Strings and sets are valid until the next run
 * on the same processor (copy what must outlive it). */
typedef struct {
    const char *line; /* the line, or line_format's output */
    size_t len;
    /* stream labels + structured metadata + parsed labels, after label_format/drop/keep,
     * with __error__/__error_details__ when a stage failed. Equal sets are the same pointer
     * within one processor, so callers may group by pointer. */
    const labels_t *labels;
    const labels_t *metadata; /* the structured-metadata part (categorize-labels) */
    const labels_t *parsed;   /* the labels added by parsers and label_format */
    double value;             /* unwrap result, when the pipeline unwraps */
} logql_out_t;

/* Per-thread state for `p` (scratch buffers, label-set cache), in arena `a`. */
logql_proc_t *logql_proc_new(arena_t *a, const logql_pipeline_t *p);
/* Runs the stages over one entry of stream `stream`: 1 kept (*out set), 0 filtered out. */
int logql_proc_run(logql_proc_t *pr, const labels_t *stream, const log_entry_t *entry,
                   logql_out_t *out);
/* 1 if the pipeline only filters lines (no parser, formatter or label stage): stream labels
 * pass unchanged, so a stream maps to exactly one output stream. */
int logql_pipeline_is_filter_only(const logql_pipeline_t *p);

/* ---- Engine ----------------------------------------------------------------------- */

typedef struct {
    size_t max_entries;     /* limit of a log query; the caller checks it against the tenant's */
    size_t max_series;      /* max_query_series (500): more series is an error, as Loki */
    int64_t timeout_ms;     /* 0: 1m */
    size_t max_bytes;       /* per-query arena budget; 0: 1 GiB */
} logql_opts_t;

typedef enum {
    LOGQL_RESULT_STREAMS,
    LOGQL_RESULT_MATRIX,
    LOGQL_RESULT_VECTOR,
    LOGQL_RESULT_SCALAR,
} logql_result_type_t;

typedef struct {
    int64_t ts_ns;
    const char *line;
    size_t len;
    const labels_t *metadata; /* for categorize-labels; may be empty */
    const labels_t *parsed;
} logql_entry_t;

typedef struct {
    const labels_t *labels;
    logql_entry_t *entries; /* in the requested direction */
    size_t n_entries;
} logql_stream_t;

typedef struct {
    uint64_t bytes_processed, lines_processed, entries_returned, post_filter_lines;
    double exec_seconds;
} logql_stats_t;

typedef struct {
    logql_result_type_t type;
    logql_stream_t *streams; /* STREAMS */
    size_t n_streams;
    promql_result_t metric;  /* MATRIX / VECTOR / SCALAR, labels without __name__ */
    logql_stats_t stats;
} logql_result_t;

typedef enum { LOGQL_BACKWARD = 0, LOGQL_FORWARD = 1 } logql_direction_t;

/* Range query. Log query: entries with start_ns <= ts < end_ns, at most `limit` of them in
 * total (newest first for BACKWARD), at most one per `interval_ns` (across all streams, as Loki) when > 0.
 * Metric query: evaluated at start, start+step, ... <= end; result MATRIX. Errors carry
 * Loki's texts and classes (ERR_BAD_DATA 400, ERR_TIMEOUT 504, ERR_EXECUTION...). */
int logql_exec_range(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                     int64_t start_ns, int64_t end_ns, int64_t step_ns, int64_t interval_ns,
                     size_t limit, logql_direction_t dir, const logql_opts_t *opts,
                     logql_result_t *out, err_t *err);
/* Instant metric query at t_ns: VECTOR or SCALAR. A log query is an error (Loki's text
 * "log queries are not supported as an instant query type, ..."). */
int logql_exec_instant(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                       int64_t t_ns, const logql_opts_t *opts, logql_result_t *out, err_t *err);

#endif
