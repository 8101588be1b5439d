/* alertmanager/alertmanager.h - the multi-tenant Alertmanager (Mimir's alertmanager target):
 * one Prometheus-compatible Alertmanager per tenant (alerts, dispatcher, inhibitor, silences,
 * notification log), the v2 API under the external URL's path, and the per-tenant config API.
 *
 * Ownership: am_new returns an object owned by the caller; am_free stops its scheduler and
 * worker threads and frees every tenant. Options are copied.
 * Threads: one scheduler thread for all tenants plus a small send pool; every entry point is
 * thread-safe (per-tenant mutex, registry rwlock). */
#ifndef HERALD_ALERTMANAGER_ALERTMANAGER_H
#define HERALD_ALERTMANAGER_ALERTMANAGER_H
#include "common/err.h"
#include "common/http.h"

/* Mimir's per-tenant Alertmanager limits; 0 means no limit. */
typedef struct am_limits {
    int max_alerts_count;      /* alerts held (firing or resolved, until collected) */
    int max_alerts_size_bytes; /* sum of label, annotation and generatorURL bytes */
    int max_silences_count;    /* silences held, expired ones included until collected */
    int max_silence_size_bytes; /* one silence, as Alertmanager's protobuf encoding sizes it */
    int max_dispatcher_aggregation_groups; /* groups held, over all routes */
    /* Notifications per second: in `integration` the caller names an integration kind
     * ("webhook", "email", ...) or leaves NULL; out, the rate for it (its per-integration
     * override, else the tenant's rate). 0 or +inf: no limit; negative: nothing is sent. */
    const char *integration;
    double notification_rate_limit;
} am_limits_t;

typedef struct {
    const char *data_dir;             /* silences + notification log, <dir>/<tenant>/ */
    const char *external_url;         /* "http://localhost:9009/alertmanager" */
    const char *fallback_config_file; /* "" or NULL: none (412 for unconfigured tenants) */
    const char *storage_dir;          /* alertmanager_storage.filesystem.dir (or local.path) */
    int storage_local;                /* 1: backend "local": <dir>/<tenant>.yaml, read-only */
    int enable_api;                   /* register GET/POST/DELETE /api/v1/alerts */
    int send_threads;                 /* notification pool size; 0: 16 */
    int64_t retention_ms;             /* silences/nflog retention; 0: 120h */
    size_t max_config_bytes;          /* 0: no limit */
    /* Per-tenant limits (Mimir's alertmanager_* limits with runtime overrides); NULL: none.
     * Called with tenant locks held: it must be quick and must not call back. */
    void (*limits)(void *arg, const char *tenant, struct am_limits *out);
    void *limits_arg;
} am_opts_t;

typedef struct am am_t;

/* Loads the fallback config (if any), creates the data dirs, starts the scheduler.
 * NULL + err (file and line named) when the fallback config is invalid. */
am_t *am_new(const am_opts_t *opts, err_t *err);
/* Registers every Alertmanager route on `s` (before http_server_start). */
int am_register(http_server_t *s, am_t *am, err_t *err);
void am_free(am_t *am); /* NULL is a no-op */
/* Re-reads the fallback config (NULL/"": none); tenants running the fallback switch to it.
 * On error the old fallback stays and -1 + err is returned. */
int am_reload(am_t *am, const char *fallback_config_file, err_t *err);

/* The daemon module (herald-alertd, herald-promd): options from the daemon's config
 * (alertmanager.*, alertmanager_storage.*), routes on its server, am_free at stop. */
typedef struct daemon daemon_t;
int am_module_init(daemon_t *d, err_t *err);

#endif
