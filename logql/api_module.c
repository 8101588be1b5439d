/* logql/api_module.c - the "logql-api" module of herald-logd: the query API over the store
 * of the logstore module, and the live tail (logql/tail.h), which Loki's querier serves next
 * to its query routes. Query limits are the tenant's limits_config: the runtime config's
 * per-tenant overrides (runtime_config.file) over the main config, both swapped on reload.
 *
 * DESIGN: one module context, allocated at init and freed at stop; its mutex guards only the
 * overrides pointer, held while a request copies its four limits out of them. */
#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "config/daemon.h"
#include "logql/api.h"
#include "logql/tail.h"
#include "storage/logpush.h"

typedef struct {
    pthread_mutex_t mu;
    cfg_overrides_t *overrides; /* guarded by mu; keeps its config snapshot alive */
    logql_api_t *api;
    logql_tail_t *tail;
} module_t;

static void tenant_limits(void *ctx, const char *tenant, logql_api_limits_t *out)
{
    module_t *m = ctx;
    pthread_mutex_lock(&m->mu);
    const cfg_limits_t *l = cfg_overrides_get(m->overrides, tenant);
    out->max_entries_limit_per_query = l->max_entries_limit_per_query;
    out->max_query_series = l->max_query_series;
    out->max_query_length_ms = l->max_query_length_ms;
    out->query_timeout_ms = l->query_timeout_ms;
    pthread_mutex_unlock(&m->mu);
}

static void on_reload(void *arg, const cfg_t *c)
{
    module_t *m = arg;
    err_t err = {0};
    cfg_overrides_t *o = cfg_overrides_load((cfg_t *)c, &err);
    if (o == NULL) {
        LOG_WARN("logql-api: runtime config not reloaded", KV_STR("err", err.msg));
        return;
    }
    pthread_mutex_lock(&m->mu);
    cfg_overrides_t *old = m->overrides;
    m->overrides = o;
    pthread_mutex_unlock(&m->mu);
    cfg_overrides_free(old);
}

static void module_stop(void *arg)
{
    module_t *m = arg;
    logql_tail_free(m->tail);
    logql_api_free(m->api);
    cfg_overrides_free(m->overrides);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int logql_api_module_init(struct daemon *d, err_t *err)
{
    logstore_t *store = logstore_module_store();
    if (store == NULL) {
        return err_set(err, ERR_INTERNAL, "logql-api: the logstore module must be started first");
    }
    module_t *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
    cfg_t *c = daemon_config(d);
    logql_api_opts_t o = {.max_concurrent = c->querier.max_concurrent};
    m->overrides = cfg_overrides_load(c, err);
    cfg_unref(c);
    if (m->overrides != NULL) {
        m->api = logql_api_register(daemon_http(d), store, tenant_limits, m, &o, err);
    }
    if (m->api != NULL) {
        m->tail = logql_tail_register(daemon_http(d), store, NULL, err);
    }
    daemon_on_stop(d, module_stop, m); /* frees what was made, also after a failure */
    if (m->tail == NULL) {
        return -1;
    }
    daemon_on_reload(d, on_reload, m);
    return 0;
}
