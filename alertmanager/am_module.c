/* alertmanager/am_module.c - the daemon module: maps the Mimir config keys (alertmanager.*,
 * alertmanager_storage.*, limits.alertmanager_*) to am_opts_t, registers the routes and
 * stops the Alertmanager after the HTTP server has stopped. */
#include <stdlib.h>
#include <string.h>

#include "alertmanager/alertmanager.h"
#include "config/daemon.h"
#include "common/log.h"

/* Mimir's alertmanager_notification_rate_limit_per_integration entry for `name`, when there
 * is one that parses as a number ("inf" included), replaces *rate. */
static void integration_rate(const cfg_strmap_t *m, const char *name, double *rate)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], name) == 0) {
            char *end;
            double v = strtod(m->values[i], &end);
            if (end != m->values[i] && *end == '\0') {
                *rate = v;
            }
            return;
        }
    }
}

/* The tenant's Mimir alertmanager_* limits, runtime overrides included (am_opts_t.limits). */
static void tenant_limits(void *arg, const char *tenant, am_limits_t *out)
{
    cfg_limits_t l;
    daemon_limits(arg, tenant, &l);
    out->max_alerts_count = l.alertmanager_max_alerts_count;
    out->max_alerts_size_bytes = l.alertmanager_max_alerts_size_bytes;
    out->max_silences_count = l.alertmanager_max_silences_count;
    out->max_silence_size_bytes = l.alertmanager_max_silence_size_bytes;
    out->max_dispatcher_aggregation_groups = l.alertmanager_max_dispatcher_aggregation_groups;
    out->notification_rate_limit = l.alertmanager_notification_rate_limit;
    if (out->integration != NULL) {
        integration_rate(&l.alertmanager_notification_rate_limit_per_integration,
                         out->integration, &out->notification_rate_limit);
    }
}

static void am_stop(void *arg)
{
    am_free(arg);
}

static void am_on_reload(void *arg, const cfg_t *cfg)
{
    err_t err = {0};
    am_reload(arg, cfg->alertmanager.fallback_config_file, &err);
    if (err_is_set(&err)) {
        LOG_ERROR("alertmanager fallback config not reloaded", KV_STR("err", err.msg));
    }
}

int am_module_init(daemon_t *d, err_t *err)
{
    cfg_t *cfg = daemon_config(d);
    const char *backend = cfg->alertmanager_storage.backend;
    int local = backend != NULL && strcmp(backend, "local") == 0;
    am_opts_t opts = {
        .data_dir = cfg->alertmanager.data_dir,
        .external_url = cfg->alertmanager.external_url,
        .fallback_config_file = cfg->alertmanager.fallback_config_file,
        .storage_dir = local ? cfg->alertmanager_storage.local_path
                             : cfg->alertmanager_storage.filesystem_dir,
        .storage_local = local,
        .enable_api = cfg->alertmanager.enable_api,
        .retention_ms = cfg->alertmanager.retention_ms,
        .max_config_bytes = cfg->limits.alertmanager_max_config_size_bytes > 0
                                ? (size_t)cfg->limits.alertmanager_max_config_size_bytes
                                : 0,
        .limits = tenant_limits,
        .limits_arg = d,
    };
    am_t *am = am_new(&opts, err);
    cfg_unref(cfg);
    if (am == NULL || am_register(daemon_http(d), am, err) < 0) {
        am_free(am);
        return -1;
    }
    daemon_on_stop(d, am_stop, am);
    daemon_on_reload(d, am_on_reload, am);
    return 0;
}
