/* ruler/ruler_logql.h - the LogQL evaluator of the ruler (herald-logd).
 * Declared here, next to the interface it implements; the code lives in
 * logql/logql_ruler.c, beside the engine. Thread-safety: the evaluator is
 * thread-safe (the log store is). */
#ifndef HERALD_RULER_RULER_LOGQL_H
#define HERALD_RULER_RULER_LOGQL_H
#include <stddef.h>
#include <stdint.h>

#include "ruler/ruler.h"
#include "storage/logstore.h"

/* Where rules read logs: the store of herald-logd's logstore module, or a test store. */
typedef struct {
    logstore_t *store;        /* borrowed; must outlive the ruler */
    int64_t query_timeout_ms; /* 0: 1m */
    size_t max_series;        /* 0: 500 (max_query_series) */
    /* Where recorded samples (and ALERTS series) go: Loki's ruler.remote_write. NULL, or a
     * NULL result for a tenant: they are dropped, as Loki does without remote write. */
    appender_t *(*appender)(void *arg, const char *tenant);
    void *appender_arg;
} logql_ruler_store_t;

/* Fills `ev` with the LogQL evaluator over `st` (borrowed: it must outlive the
 * ruler). validate: the expression must parse and be a metric query (a log
 * query is refused with Loki's text); eval: an instant query at the rule's time,
 * a vector as is, a scalar as one sample without labels; format: Loki's
 * canonical text; appender: st->appender (remote write), if any. */
void logql_ruler_evaluator(ruler_evaluator_t *ev, const logql_ruler_store_t *st);

#endif
