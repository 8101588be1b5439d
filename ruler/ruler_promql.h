/* ruler/ruler_promql.h - the PromQL evaluator of the ruler (herald-promd).
 * Declared here, next to the interface it implements; the code lives in
 * promql/promql_ruler.c, beside the engine. Thread-safety: the evaluator is
 * thread-safe if the store callbacks are. */
#ifndef HERALD_RULER_RULER_PROMQL_H
#define HERALD_RULER_RULER_PROMQL_H
#include <stdint.h>

#include "ruler/ruler.h"
#include "storage/querier.h"

/* Where a tenant's series are: the TSDB in herald-promd, a memstore in tests.
 */
typedef struct {
    queryable_t *(*queryable)(void *arg, const char *tenant); /* borrowed, never NULL */
    appender_t *(*appender)(void *arg, const char *tenant);   /* single owner, may be NULL */
    void *arg;
    int64_t lookback_ms;      /* 0: 5m */
    int64_t query_timeout_ms; /* 0: 2m */
    size_t max_samples;       /* 0: the engine's default */
} promql_ruler_store_t;

/* Fills `ev` with the PromQL evaluator over `st` (borrowed: it must outlive the
 * ruler). Rule results: a vector as is, a scalar as one sample without labels;
 * anything else is an error, as in Prometheus' rule query function. */
void promql_ruler_evaluator(ruler_evaluator_t *ev, const promql_ruler_store_t *st);

#endif
