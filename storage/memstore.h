/* storage/memstore.h - a simple in-memory series store implementing storage/querier.h:
 * series with sorted float samples, for the PromQL conformance runner and unit tests.
 * Ownership: the store owns its series (labels are interned references). Not thread-safe
 * for writes; queriers may run while nothing is being added. */
#ifndef HERALD_STORAGE_MEMSTORE_H
#define HERALD_STORAGE_MEMSTORE_H
#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "storage/querier.h"

typedef struct memstore memstore_t;

memstore_t *memstore_new(void);
void memstore_free(memstore_t *m); /* NULL is a no-op */
void memstore_clear(memstore_t *m); /* drops every series */
/* Adds one sample; a sample at an existing timestamp replaces it. Copies `ls`. */
int memstore_add(memstore_t *m, const labels_t *ls, int64_t t, double v, err_t *err);
/* The store as a queryable (borrowed; valid until memstore_free). */
queryable_t *memstore_queryable(memstore_t *m);
size_t memstore_series_count(const memstore_t *m);

#endif
