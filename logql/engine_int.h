/* logql/engine_int.h - what the engine's files (engine.c: log queries and dispatch,
 * engine_metric.c: metric queries, engine_util.c: shared helpers) share. Only logql/engine*.c
 * include it. Everything here lives in the query's arena; one query runs on one thread. */
#ifndef HERALD_LOGQL_ENGINE_INT_H
#define HERALD_LOGQL_ENGINE_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"
#include "logql/logql.h"

/* Loki's texts (pkg/util/server/error.go, pkg/logqlmodel/error.go). */
#define LOGQL__TIMEOUT_MSG                                                                \
    "request timed out, decrease the duration of the request or add more label matchers " \
    "(prefer exact match over regex match) to reduce the amount of data processed"
#define LOGQL__INSTANT_LOG_MSG                                                               \
    "log queries are not supported as an instant query type, please change your query to a " \
    "range query type"

/* Open-addressing map from a 64-bit key (a label-set pointer or hash) to a pointer, in an
 * arena. Key 0 is reserved (never a valid pointer; hashes are remapped by the caller). */
typedef struct {
    uint64_t *keys;
    void **vals;
    size_t cap, len;
    arena_t *a;
} logql__emap_t;

void logql__emap_init(logql__emap_t *m, arena_t *a);
void *logql__emap_get(const logql__emap_t *m, uint64_t key);
/* Inserts or replaces. -1 when the arena is over budget. */
int logql__emap_put(logql__emap_t *m, uint64_t key, void *val);

/* Deadline and counters of one query. */
typedef struct {
    int64_t deadline_ms; /* CLOCK_MONOTONIC */
    int64_t started_ns;  /* CLOCK_MONOTONIC, for the exec time */
    unsigned ticks;      /* the clock is read every 1024 ticks */
    logql_stats_t stats;
} logql__erun_t;

void logql__erun_init(logql__erun_t *run, const logql_opts_t *opts);
/* Counts one processed line; -1 + ERR_TIMEOUT with Loki's text once past the deadline. */
int logql__erun_tick(logql__erun_t *run, size_t line_len, err_t *err);
void logql__erun_finish(logql__erun_t *run, logql_stats_t *out);

/* A copy of `ls` in `a` (pipeline outputs are only valid until the next run). */
labels_t *logql__e_labels_copy(arena_t *a, const labels_t *ls);
/* Sets the error of an allocation that failed because the query's arena is over its budget
 * (the arena's own err, if the caller gave one, holds the same cause). Returns -1. */
int logql__e_oom(err_t *err);

/* Metric queries (engine_metric.c): runs `e` at start, start+step, ... <= end (instant:
 * start == end, step 0). */
int logql__e_exec_metric(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                         int64_t start_ns, int64_t end_ns, int64_t step_ns, int instant,
                         const logql_opts_t *opts, logql__erun_t *run, logql_result_t *out,
                         err_t *err);

#endif
