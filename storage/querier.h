/* storage/querier.h - the interface between series stores and their users (PromQL engine,
 * ruler, series APIs). Implemented by the TSDB (storage/tsdb.h) and by test stores; users
 * depend on nothing else of storage.
 *
 * Ownership: a querier is single-owner and bound to one tenant and one time range; series,
 * labels and iterators it returns are valid until querier_close. Result arrays live in the
 * arena passed in. Iterators allocate nothing per sample. A querier is used by one thread. */
#ifndef HERALD_STORAGE_QUERIER_H
#define HERALD_STORAGE_QUERIER_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"
#include "common/matchers.h"

typedef struct {
    int64_t t; /* ms */
    double v;  /* a stale marker is the NaN with bits 0x7ff0000000000002 */
} sample_t;

#define STALE_NAN_BITS 0x7ff0000000000002ULL
int sample_is_stale(double v);
double sample_stale_nan(void);

typedef struct series_iter series_iter_t;
typedef struct {
    /* Next sample in time order: 1 and *out set, 0 at the end, -1 on error (err set). */
    int (*next)(series_iter_t *it, sample_t *out, err_t *err);
    /* First sample with t >= ts (never moves backwards); same returns as next. */
    int (*seek)(series_iter_t *it, int64_t ts, sample_t *out, err_t *err);
} series_iter_ops_t;
struct series_iter {
    const series_iter_ops_t *ops;
};

typedef struct {
    const labels_t *labels; /* borrowed */
    void *ref;              /* store-private */
} series_t;

typedef struct querier querier_t;
typedef struct {
    /* Series matching all matchers with at least one sample in [mint, maxt] (ms, both
     * inclusive), sorted by labels_cmp. An empty-matching matcher (e.g. a="") also selects
     * series lacking the label, as Prometheus. *out is arena-allocated. */
    int (*select)(querier_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                  series_t **out, size_t *n_out, err_t *err);
    /* Iterator over one selected series' samples within [mint, maxt] of the querier.
     * Arena-allocated. */
    series_iter_t *(*iter)(querier_t *q, arena_t *a, const series_t *s, err_t *err);
    /* Sorted distinct label names (values) of series matching ms (n_ms 0 = all series). */
    int (*label_names)(querier_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                       const char ***out, size_t *n_out, err_t *err);
    int (*label_values)(querier_t *q, arena_t *a, const char *name, const matcher_t *const *ms,
                        size_t n_ms, const char ***out, size_t *n_out, err_t *err);
    void (*close)(querier_t *q);
} querier_ops_t;
struct querier {
    const querier_ops_t *ops;
    int64_t mint, maxt;
};

/* Source of queriers for one tenant, e.g. the TSDB of that tenant. Thread-safe. */
typedef struct queryable queryable_t;
typedef struct {
    querier_t *(*querier)(queryable_t *qb, int64_t mint, int64_t maxt, err_t *err);
} queryable_ops_t;
struct queryable {
    const queryable_ops_t *ops;
};

/* Writing samples (recording rules, ALERTS series). Single owner; commit makes all
 * appended samples visible atomically and durable (WAL); rollback drops them. */
typedef struct appender appender_t;
typedef struct {
    int (*append)(appender_t *ap, const labels_t *ls, int64_t t, double v, err_t *err);
    int (*commit)(appender_t *ap, err_t *err); /* also frees the appender */
    void (*rollback)(appender_t *ap);          /* also frees the appender */
} appender_ops_t;
struct appender {
    const appender_ops_t *ops;
};

#endif
