/* logql/api_module.c - the "logql-api" module of herald-logd: the query API over the store
 * of the logstore module, and the live tail (logql/tail.h), which Loki's querier serves next
 * to its query routes. Query limits are the tenant's limits_config with its runtime
 * overrides (daemon_limits keeps them current).
 *
 * DESIGN: one module context, allocated at init and freed at stop. */
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "config/daemon.h"
#include "logql/api.h"
#include "logql/tail.h"
#include "storage/logpush.h"

typedef struct {
    struct daemon *d;
    logql_api_t *api;
    logql_tail_t *tail;
} module_t;

static void tenant_limits(void *ctx, const char *tenant, logql_api_limits_t *out)
{
    module_t *m = ctx;
    cfg_limits_t l;
    daemon_limits(m->d, tenant, &l);
    out->max_entries_limit_per_query = l.max_entries_limit_per_query;
    out->max_query_series = l.max_query_series;
    out->max_query_length_ms = l.max_query_length_ms;
    out->query_timeout_ms = l.query_timeout_ms;
}

static void module_stop(void *arg)
{
    module_t *m = arg;
    logql_tail_free(m->tail);
    logql_api_free(m->api);
    free(m);
}

int logql_api_module_init(struct daemon *d, err_t *err)
{
    logstore_t *store = logstore_module_store();
    if (store == NULL) {
        return err_set(err, ERR_INTERNAL, "logql-api: the logstore module must be started first");
    }
    module_t *m = xcalloc(1, sizeof(*m));
    m->d = d;
    cfg_t *c = daemon_config(d);
    logql_api_opts_t o = {.max_concurrent = c->querier.max_concurrent};
    logql_tail_opts_t to = {.max_per_tenant = c->querier.max_concurrent_tail_requests,
                            .max_duration_ms = c->querier.tail_max_duration_ms};
    cfg_unref(c);
    m->api = logql_api_register(daemon_http(d), store, tenant_limits, m, &o, err);
    if (m->api != NULL) {
        m->tail = logql_tail_register(daemon_http(d), store, &to, err);
    }
    daemon_on_stop(d, module_stop, m); /* frees what was made, also after a failure */
    return m->tail == NULL ? -1 : 0;
}
