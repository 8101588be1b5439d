/* ruler/ruler_module.c - the ruler as a daemon module: maps the Mimir / Loki
 * config keys (ruler.*, ruler_storage.* / ruler.storage.*, limits ruler_*) to
 * ruler_opts_t, starts the ruler with the daemon's evaluator, registers its
 * routes and stops it with the daemon. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "ruler/ruler_int.h"
#include "ruler/ruler_logql.h"
#include "ruler/ruler_module.h"
#include "ruler/ruler_promql.h"
#include "storage/api.h"
#include "storage/logpush.h"
#include "storage/rwclient.h"

static const char *nz(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

void ruler_opts_from_cfg(ruler_opts_t *o, const cfg_t *c, ruler_flavor_t flavor)
{
    ruler_opts_default(o, flavor);
    const cfg_ruler_t *rc = &c->ruler;
    const cfg_rule_store_t *st = &c->ruler_storage;
    int local = st->backend != NULL && strcmp(st->backend, "local") == 0;
    o->rules_dir = local || flavor == RULER_FLAVOR_LOKI ? st->local_directory : st->filesystem_dir;
    o->read_only = local && flavor == RULER_FLAVOR_MIMIR; /* Loki's local store: contract §1 */
    o->enable_api = rc->enable_api;
    o->evaluation_interval_ms = rc->evaluation_interval_ms;
    o->poll_interval_ms = rc->poll_interval_ms;
    o->evaluation_delay_ms = c->limits.ruler_evaluation_delay_duration_ms;
    o->max_rules_per_group = c->limits.ruler_max_rules_per_rule_group;
    o->max_groups_per_tenant = c->limits.ruler_max_rule_groups_per_tenant;
    o->alertmanager_url = nz(rc->alertmanager_url);
    o->external_url = rc->external_url;
    o->tenant_label_name = nz(rc->tenant_label_name);
    o->resend_delay_ms = rc->resend_delay_ms;
    o->for_outage_tolerance_ms = rc->for_outage_tolerance_ms;
    o->for_grace_period_ms = rc->for_grace_period_ms;
    if (rc->notification_queue_capacity > 0) {
        o->notification_queue_capacity = (size_t)rc->notification_queue_capacity;
    }
    o->notification_timeout_ms = rc->notification_timeout_ms;
}

/* The tenant's ruler limits with its runtime overrides (ruler_opts_t.limits). */
static void tenant_limits(void *arg, const char *tenant, ruler_limits_t *out)
{
    cfg_limits_t l;
    daemon_limits(arg, tenant, &l);
    out->evaluation_delay_ms = l.ruler_evaluation_delay_duration_ms;
    out->max_rules_per_group = l.ruler_max_rules_per_rule_group;
    out->max_groups_per_tenant = l.ruler_max_rule_groups_per_tenant;
}

static void module_stop(void *arg)
{
    ruler_free(arg);
}

int ruler_module_start(daemon_t *d, ruler_flavor_t flavor, const ruler_evaluator_t *ev, err_t *err)
{
    cfg_t *c = daemon_config(d);
    ruler_opts_t o;
    ruler_opts_from_cfg(&o, c, flavor);
    o.limits = tenant_limits;
    o.limits_arg = d;
    ruler_t *r = ruler_new(&o, ev, err); /* copies every option string */
    const char *prefix =
        flavor == RULER_FLAVOR_LOKI ? "/loki/api/v1/rules" : "/prometheus/config/v1/rules";
    int rc = r != NULL ? ruler_api_register(daemon_http(d), r, prefix, err) : -1;
    if (rc == 0) {
        LOG_INFO("ruler started", KV_STR("rules_dir", o.rules_dir), KV_STR("language", ev->lang),
                 KV_STR("alertmanager_url", o.alertmanager_url ? o.alertmanager_url : ""));
        daemon_on_stop(d, module_stop, r);
    } else {
        ruler_free(r);
    }
    cfg_unref(c);
    return rc;
}

/* herald-logd's remote write (Loki's ruler.remote_write): one client for every configured
 * target, made at start; a tenant with ruler_remote_write_disabled gets no appender. */
static struct {
    rwclient_t *client;
    daemon_t *d;
} logd_rw;

static appender_t *logd_appender(void *arg, const char *tenant)
{
    (void)arg;
    cfg_limits_t l;
    daemon_limits(logd_rw.d, tenant, &l);
    return l.ruler_remote_write_disabled ? NULL : rwclient_appender(logd_rw.client, tenant);
}

static void logd_rw_stop(void *arg)
{
    (void)arg;
    rwclient_free(logd_rw.client);
    logd_rw.client = NULL;
}

static void logd_rw_start(daemon_t *d, const cfg_ruler_t *rc, logql_ruler_store_t *store)
{
    if (!rc->remote_write_enabled) {
        return; /* recording-rule results are dropped, as Loki does (config.c refuses
                 * remote write enabled without clients, as Loki) */
    }
    rwclient_target_t *t = xcalloc(rc->n_remote_write_clients, sizeof(*t));
    label_t **hdrs = xcalloc(rc->n_remote_write_clients, sizeof(*hdrs));
    for (size_t i = 0; i < rc->n_remote_write_clients; i++) {
        const cfg_rw_client_t *cl = &rc->remote_write_clients[i];
        hdrs[i] = xcalloc(cl->headers.n + 1, sizeof(**hdrs));
        for (size_t k = 0; k < cl->headers.n; k++) {
            hdrs[i][k] = (label_t){cl->headers.keys[k], cl->headers.values[k]};
        }
        t[i] = (rwclient_target_t){.name = cl->name,
                                   .url = cl->url,
                                   .timeout_ms = cl->remote_timeout_ms,
                                   .headers = hdrs[i],
                                   .n_headers = cl->headers.n,
                                   .basic_auth_username = cl->basic_auth_username,
                                   .basic_auth_password = cl->basic_auth_password,
                                   .bearer_token = cl->bearer_token};
    }
    logd_rw.client = rwclient_new(t, rc->n_remote_write_clients, rc->remote_write_add_org_id_header);
    logd_rw.d = d;
    for (size_t i = 0; i < rc->n_remote_write_clients; i++) {
        free(hdrs[i]);
    }
    free(hdrs);
    free(t);
    store->appender = logd_appender;
    daemon_on_stop(d, logd_rw_stop, NULL); /* registered before the ruler: stopped after it */
    LOG_INFO("ruler remote write enabled", KV_INT("clients", (long long)rc->n_remote_write_clients));
}

/* herald-logd: LogQL rules over the store of the logstore module (started before the
 * ruler, so stopped after it). The store description is set once, here, before the ruler
 * starts, and only read afterwards. */
int ruler_logd_init(daemon_t *d, err_t *err)
{
    static logql_ruler_store_t store;
    store.store = logstore_module_store();
    if (store.store == NULL) {
        return err_set(err, ERR_INTERNAL, "the ruler needs the logstore module started before it");
    }
    cfg_t *c = daemon_config(d);
    store.query_timeout_ms = c->limits.query_timeout_ms;
    store.max_series = c->limits.max_query_series > 0 ? (size_t)c->limits.max_query_series : 0;
    logd_rw_start(d, &c->ruler, &store);
    cfg_unref(c);
    ruler_evaluator_t ev;
    logql_ruler_evaluator(&ev, &store);
    return ruler_module_start(d, RULER_FLAVOR_LOKI, &ev, err);
}

/* herald-promd: the tenant TSDBs opened by the storage module (started before
 * the ruler, so stopped after it). */
static queryable_t *tsdb_q(void *arg, const char *tenant)
{
    return tsdb_queryable(storage_module_registry(), tenant);
}

static appender_t *tsdb_a(void *arg, const char *tenant)
{
    return tsdb_appender(storage_module_registry(), tenant);
}

int ruler_promd_init(daemon_t *d, err_t *err)
{
    static const promql_ruler_store_t store = {.queryable = tsdb_q, .appender = tsdb_a};
    if (storage_module_registry() == NULL) {
        return err_set(err, ERR_INTERNAL, "the ruler needs the tsdb module started before it");
    }
    ruler_evaluator_t ev;
    promql_ruler_evaluator(&ev, &store);
    return ruler_module_start(d, RULER_FLAVOR_MIMIR, &ev, err);
}
