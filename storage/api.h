/* storage/api.h - HTTP endpoints of the metrics store: POST /api/v1/push (remote write 1.0)
 * and <prefix>/api/v1/{series,labels,label/{name}/values} as Prometheus answers them, plus
 * the herald-promd module that opens the TSDB registry from the config.
 *
 * Ownership: storage_api_t borrows the registry; it must be freed after the HTTP server that
 * routes to it. Threads: handlers run concurrently on the server's pool. */
#ifndef HERALD_STORAGE_API_H
#define HERALD_STORAGE_API_H
#include "common/err.h"
#include "common/http.h"
#include "storage/push.h"
#include "storage/tsdb.h"

typedef struct storage_api storage_api_t;

/* Registers the routes on `s` (before it starts). `prom_prefix` is the Prometheus API
 * prefix ("/prometheus"). Returns the context to free after the server, or NULL + err. */
storage_api_t *storage_api_register(http_server_t *s, tsdb_registry_t *reg,
                                    const storage_limits_t *limits, const char *prom_prefix,
                                    err_t *err);
void storage_api_set_limits(storage_api_t *api, const storage_limits_t *limits); /* reload */
/* Per-tenant limits for pushes (storage_pusher_set_limits_fn). */
void storage_api_set_limits_fn(storage_api_t *api, storage_limits_fn fn, void *arg);
void storage_api_free(storage_api_t *api); /* NULL is a no-op */

/* herald-promd module (config/daemon.h): maps blocks_storage.* and limits.* to the TSDB and
 * the push limits, opens the registry, registers the routes, reloads limits on SIGHUP and
 * closes everything at stop. Declared with an opaque daemon type to keep this header light. */
struct daemon;
int storage_module_init(struct daemon *d, err_t *err);
/* The registry opened by storage_module_init (for the PromQL engine and the ruler): valid
 * from that init until the daemon stops; NULL before. */
tsdb_registry_t *storage_module_registry(void);

#endif
