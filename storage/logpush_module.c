/* storage/logpush_module.c - the herald-logd "logstore" module: config (common.path_prefix,
 * limits_config.*, runtime_config overrides) -> the log store and the push limits, the push
 * routes, and the store's flush at stop.
 *
 * DESIGN: one store per process in a file-scope struct so the LogQL engine, the ruler and
 * tail reach it through logstore_module_store(); set at init and cleared at stop, before
 * and after the HTTP server runs. Each push takes its tenant's limits from the daemon
 * (daemon_limits: limits_config plus the runtime config's overrides, kept current there). */
#include <stdlib.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "config/daemon.h"
#include "storage/logpush.h"

typedef struct {
    int legacy; /* /api/prom/push */
} route_t;

static const route_t route_v1 = {0}, route_legacy = {1};

static struct {
    logstore_t *store;
    logpush_t *pusher;
    struct daemon *d;
} mod;

static void limits_from_cfg(const cfg_limits_t *c, logpush_limits_t *l)
{
    logpush_limits_default(l);
    l->ingestion_rate_mb = c->ingestion_rate_mb;
    l->ingestion_burst_size_mb = c->ingestion_burst_size_mb;
    l->max_label_names_per_series = c->max_label_names_per_series;
    l->max_label_name_length = c->max_label_name_length;
    l->max_label_value_length = c->max_label_value_length;
    l->reject_old_samples = c->reject_old_samples;
    l->reject_old_samples_max_age_ms = c->reject_old_samples_max_age_ms;
    l->creation_grace_period_ms = c->creation_grace_period_ms;
    l->max_line_size = c->max_line_size_bytes;
    l->max_line_size_truncate = c->max_line_size_truncate;
    l->max_global_streams_per_user = c->max_global_streams_per_user;
    l->allow_structured_metadata = c->allow_structured_metadata;
}

static int h_push(http_req_t *r, void *ctx, err_t *err)
{
    const route_t *rt = ctx;
    const char *tenant = http_req_tenant(r);
    cfg_limits_t cl;
    daemon_limits(mod.d, tenant, &cl);
    logpush_limits_t l;
    limits_from_cfg(&cl, &l);
    size_t len;
    const char *body = http_req_body(r, &len);
    logpush_result_t res;
    logpush_ingest(mod.pusher, tenant, http_req_header(r, "Content-Type"),
                   http_req_header(r, "Content-Encoding"), rt->legacy, &l, body, len, time_now_ns(),
                   &res);
    if (res.status == 204) {
        http_reply(r, 204, NULL, NULL, 0);
    } else {
        http_reply_text(r, res.status, "%s", res.msg);
    }
    return 0;
}

static void on_stop(void *arg)
{
    logpush_free(mod.pusher);
    logstore_close(mod.store);
    mod.pusher = NULL;
    mod.store = NULL;
    (void)arg;
}

static void opts_from_cfg(const cfg_t *c, logstore_opts_t *o)
{
    logstore_opts_default(o);
    if (c->common.path_prefix[0] != '\0') {
        o->dir = c->common.path_prefix;
    }
    o->retention_ms = c->limits.retention_period_ms;
}

int logstore_module_init(struct daemon *d, err_t *err)
{
    cfg_t *c = daemon_config(d);
    logstore_opts_t o;
    opts_from_cfg(c, &o);
    logpush_limits_t l;
    limits_from_cfg(&c->limits, &l);
    mod.d = d;
    mod.store = logstore_open(&o, err);
    cfg_unref(c);
    if (mod.store == NULL) {
        return -1;
    }
    mod.pusher = logpush_new(mod.store, &l);
    http_server_t *s = daemon_http(d);
    int flags = HTTP_AUTH | HTTP_TEXT_ERRORS;
    if (http_route(s, "POST", "/loki/api/v1/push", flags, h_push, (void *)&route_v1) < 0 ||
        http_route(s, "POST", "/api/prom/push", flags, h_push, (void *)&route_legacy) < 0) {
        on_stop(NULL);
        return err_set(err, ERR_INTERNAL, "log push: cannot register routes");
    }
    daemon_on_stop(d, on_stop, NULL);
    return 0;
}

logstore_t *logstore_module_store(void)
{
    return mod.store;
}
