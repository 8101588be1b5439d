/* logql/api.h - Loki's query HTTP API on the LogQL engine: /loki/api/v1/{query,query_range,
 * labels,label/<name>/values,series,format_query,status/buildinfo,index/stats} and the
 * deprecated /api/prom/{query,label,label/<name>/values,series}, GET and form POST, with
 * Loki's parameter rules, JSON shapes and plain-text errors.
 *
 * Ownership: the returned logql_api_t is single-owner (logql_api_free after the server has
 * stopped); it borrows the store and `ctx`. Thread-safety: handlers run concurrently on the
 * server's pool; a counting semaphore caps queries in flight, each query has its own arena. */
#ifndef HERALD_LOGQL_API_H
#define HERALD_LOGQL_API_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/http.h"
#include "storage/logstore.h"

/* The per-tenant query limits of limits_config; 0 means "no limit" for each. */
typedef struct {
    int max_entries_limit_per_query; /* 5000 */
    int max_query_series;            /* 500 */
    int64_t max_query_length_ms;     /* 30d1h */
    int64_t query_timeout_ms;        /* 1m */
} logql_api_limits_t;

/* Fills *out with the limits of `tenant` (called once per request, thread-safe). */
typedef void (*logql_api_limits_fn)(void *ctx, const char *tenant, logql_api_limits_t *out);

typedef struct {
    int max_concurrent; /* queries in flight; 0: 10 */
    size_t max_bytes;   /* per-query arena budget; 0: 1 GiB */
} logql_api_opts_t;

typedef struct logql_api logql_api_t;

/* Registers the routes (HTTP_AUTH|HTTP_GZIP|HTTP_TEXT_ERRORS; buildinfo without auth) on
 * `srv`. `limits` may be NULL (Loki's defaults); opts may be NULL. */
logql_api_t *logql_api_register(http_server_t *srv, logstore_t *store, logql_api_limits_fn limits,
                                void *ctx, const logql_api_opts_t *opts, err_t *err);
void logql_api_free(logql_api_t *api); /* NULL is a no-op */

/* herald-logd module (config/daemon.h): the API over the store of the "logstore" module
 * (logstore_module_store), limits from the config snapshot of each request, plus the live
 * tail routes (logql/tail.h); both freed at stop. Must come after the logstore module. */
struct daemon;
int logql_api_module_init(struct daemon *d, err_t *err);

#endif
