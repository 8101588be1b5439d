/* promql/api.h - the Prometheus query API under /prometheus/api/v1/: query, query_range
 * (GET and form POST), format_query, parse_query and query_exemplars, answering JSON as
 * Prometheus writes it.
 *
 * Ownership: the returned promql_api_t is single-owner (promql_api_free after the server has
 * stopped); it borrows `ctx`. Thread-safety: handlers run concurrently on the server's pool;
 * a counting semaphore caps queries in flight, each query has its own arena. */
#ifndef HERALD_PROMQL_API_H
#define HERALD_PROMQL_API_H
#include "common/err.h"
#include "common/http.h"
#include "storage/querier.h"

/* The queryable of a tenant (borrowed; thread-safe), e.g. tsdb_queryable(registry, tenant). */
typedef queryable_t *(*promql_api_queryable_fn)(void *ctx, const char *tenant);

typedef struct {
    int max_concurrent;      /* queries in flight; 0: 20 (Mimir's max_concurrent) */
    int64_t timeout_ms;      /* default and maximum query timeout; 0: 2m */
    size_t max_samples;      /* 0: 50,000,000 */
    size_t max_bytes;        /* per-query arena budget; 0: 2 GiB */
    int64_t lookback_ms;     /* 0: 5m */
    unsigned parse_flags;    /* PROMQL_PARSE_* experimental features */
} promql_api_opts_t;

typedef struct promql_api promql_api_t;

/* Registers the routes (HTTP_AUTH|HTTP_GZIP) on `srv`. opts may be NULL. */
promql_api_t *promql_api_register(http_server_t *srv, promql_api_queryable_fn fn, void *ctx,
                                  const promql_api_opts_t *opts, err_t *err);
void promql_api_free(promql_api_t *api); /* NULL is a no-op */

/* herald-promd module (config/daemon.h): registers the query API over the tenant TSDBs of
 * the "tsdb" module (storage_module_registry), so it must come after that module, and frees
 * it at stop. Declared with an opaque daemon type to keep this header light. */
struct daemon;
int promql_api_module_init(struct daemon *d, err_t *err);

#endif
