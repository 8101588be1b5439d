/* alertmanager/am_tenant.c - the tenants registry: a tenant's Alertmanager is made on first
 * use from its stored config or else the fallback config (412 when neither exists, as Mimir
 * answers), swapped in place when its config changes, and maintained every 30 s.
 *
 * DESIGN: am->mu (rwlock) guards only the id -> tenant map. A tenant is built and its
 * persisted state loaded before it is published, so no lock is held during file I/O. Groups
 * reference their tenant, so a tenant is freed only after its groups are killed (config
 * change, deletion, shutdown). Lock order: registry, then one tenant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertmanager/am_int.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

#define ALERT_GC_NS (30LL * 60 * AM_NS_PER_S)

void am__tenant_limits(const am_tenant_t *t, am_limits_t *out)
{
    memset(out, 0, sizeof(*out));
    if (t->am != NULL && t->am->opts.limits != NULL) {
        t->am->opts.limits(t->am->opts.limits_arg, t->id, out);
    }
}

double am__tenant_rate_limit(const am_tenant_t *t, const char *integration)
{
    am_limits_t l = {.integration = integration};
    if (t->am != NULL && t->am->opts.limits != NULL) {
        t->am->opts.limits(t->am->opts.limits_arg, t->id, &l);
    }
    return l.notification_rate_limit;
}

am_tenant_t *am__tenant_ref(am_tenant_t *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

static void silence_free_v(void *s)
{
    am__silence_free(s);
}

void am__tenant_unref(am_tenant_t *t)
{
    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    hashmap_fini(&t->alerts, (void (*)(void *))am__alert_unref);
    hashmap_fini(&t->groups, NULL); /* empty by now: groups hold tenant references */
    hashmap_fini(&t->silences, silence_free_v);
    hashmap_fini(&t->nflog, am__nflog_entry_free);
    am__ratelimit_fini(t);
    am__config_unref(t->config);
    pthread_mutex_destroy(&t->mu);
    free(t->id);
    free(t);
}

static am_tenant_t *tenant_new(am_t *am, const char *id, am_config_t *cfg, int from_fallback)
{
    am_tenant_t *t = xcalloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->id = xstrdup(id);
    t->am = am;
    pthread_mutex_init(&t->mu, NULL);
    t->config = cfg;
    t->from_fallback = from_fallback;
    hashmap_init(&t->alerts);
    hashmap_init(&t->groups);
    hashmap_init(&t->silences);
    hashmap_init(&t->nflog);
    hashmap_init(&t->limiters);
    t->last_gc_ns = time_now_ns();
    return t;
}

/* The config a tenant runs: its stored one, or the fallback. NULL + err otherwise. */
static am_config_t *tenant_config(am_t *am, const char *id, int *from_fallback, err_t *err)
{
    char *text = am__cfgstore_read(am, id);
    am_config_t *cfg = NULL;
    *from_fallback = 0;
    if (text != NULL) {
        err_t e = {0};
        cfg = am__user_config_parse(am, text, strlen(text), &e);
        free(text);
        if (cfg != NULL || e.code != ERR_PRECONDITION) {
            if (cfg == NULL) {
                LOG_WARN("stored alertmanager config is invalid", KV_STR("tenant", id),
                         KV_STR("err", e.msg));
                err_set(err, ERR_INTERNAL, "Failed to initialize the Alertmanager");
            }
            return cfg;
        }
        /* An empty stored config means "run the fallback" (Mimir stores one for that). */
    }
    am_config_t *fb = am__fallback_ref(am);
    if (fb == NULL) {
        err_set(err, ERR_PRECONDITION, "the Alertmanager is not configured");
        return NULL;
    }
    if (text == NULL) {
        am__cfgstore_write(am, id, "alertmanager_config: \"\"\ntemplate_files: {}\n", NULL);
    }
    *from_fallback = 1;
    return fb;
}

am_tenant_t *am__tenant_get(am_t *am, const char *id, err_t *err)
{
    int from_fallback;
    pthread_rwlock_rdlock(&am->mu);
    am_tenant_t *t = hashmap_get(&am->tenants, id);
    if (t != NULL) {
        am__tenant_ref(t);
    }
    pthread_rwlock_unlock(&am->mu);
    if (t != NULL) {
        return t;
    }
    am_config_t *cfg = tenant_config(am, id, &from_fallback, err);
    if (cfg == NULL) {
        return NULL;
    }
    t = tenant_new(am, id, cfg, from_fallback);
    if (am__store_load(t, err) < 0) {
        am__tenant_unref(t);
        return NULL;
    }
    pthread_rwlock_wrlock(&am->mu);
    am_tenant_t *other = hashmap_get(&am->tenants, id);
    if (other != NULL) { /* lost a race with another first request */
        am__tenant_ref(other);
        pthread_rwlock_unlock(&am->mu);
        am__tenant_unref(t);
        return other;
    }
    hashmap_put(&am->tenants, id, am__tenant_ref(t));
    pthread_rwlock_unlock(&am->mu);
    return t;
}

/* Tenant mu held: drops every group (their pending timers go stale). */
static void tenant_stop(am_tenant_t *t)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->groups, &it, &k, &v)) {
        hashmap_del(&t->groups, k);
        am__group_kill(v);
    }
}

/* Tenant mu held: runs `c` (stolen; NULL stops the tenant's groups). */
static void tenant_swap(am_tenant_t *t, am_config_t *c, int from_fallback)
{
    if (c == NULL) {
        tenant_stop(t);
        return;
    }
    am__config_unref(t->config);
    t->config = c;
    t->from_fallback = from_fallback;
    am__ratelimit_reset(t); /* Mimir builds new rate-limited integrations with a config */
    am__dispatch_reset(t);
}

int am__tenant_apply(am_t *am, const char *id, am_config_t *c, err_t *err)
{
    am_config_t *fb = c == NULL ? am__fallback_ref(am) : NULL;
    pthread_rwlock_wrlock(&am->mu);
    am_tenant_t *t = hashmap_get(&am->tenants, id);
    if (t != NULL && c == NULL && fb == NULL) {
        hashmap_del(&am->tenants, id); /* no config left: the tenant's Alertmanager stops */
    } else if (t != NULL) {
        am__tenant_ref(t);
    }
    pthread_rwlock_unlock(&am->mu);
    if (t == NULL) {
        am__config_unref(c);
        am__config_unref(fb);
        return 0; /* made on first use */
    }
    pthread_mutex_lock(&t->mu);
    tenant_swap(t, c != NULL ? c : fb, c == NULL);
    pthread_mutex_unlock(&t->mu);
    am__tenant_unref(t);
    (void)err;
    return 0;
}

/* After a reload: tenants running the fallback take the new one (or stop without one). */
void am__tenants_refallback(am_t *am)
{
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    pthread_rwlock_rdlock(&am->mu);
    am_tenant_t **all = xcalloc(hashmap_len(&am->tenants) + 1, sizeof(*all));
    while (hashmap_next(&am->tenants, &it, &k, &v)) {
        all[n++] = am__tenant_ref(v);
    }
    pthread_rwlock_unlock(&am->mu);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&all[i]->mu);
        if (all[i]->from_fallback) {
            tenant_swap(all[i], am__fallback_ref(am), 1);
        }
        pthread_mutex_unlock(&all[i]->mu);
        am__tenant_unref(all[i]);
    }
    free(all);
}

static void nflog_gc(am_tenant_t *t, int64_t now_ns, int64_t retention_ns)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->nflog, &it, &k, &v)) {
        am_nflog_entry_t *e = v;
        if (e->ts_ns + retention_ns < now_ns) {
            hashmap_del(&t->nflog, k);
            am__nflog_entry_free(e);
        }
    }
}

/* mu held: the alertmanager_alerts gauge of this tenant. */
static void count_alerts(am_tenant_t *t, int64_t now_ns)
{
    size_t it = 0;
    const char *k;
    void *v;
    int active = 0, suppressed = 0;
    while (hashmap_next(&t->alerts, &it, &k, &v)) {
        uint64_t by;
        const am_alert_t *a = v;
        if (am__alert_resolved(a, now_ns)) {
            continue;
        }
        if (am__silenced(t, a->labels, now_ns, NULL, NULL, NULL) ||
            am__inhibited(t, a->labels, now_ns, &by)) {
            suppressed++;
        } else {
            active++;
        }
    }
    am__metrics_alerts(t->id, active, suppressed);
}

static int tenant_maintain(am_tenant_t *t, int64_t now_ns)
{
    int64_t retention = t->am->opts.retention_ms * AM_NS_PER_MS;
    int gc = 0;
    pthread_mutex_lock(&t->mu);
    am__dispatch_maintain(t);
    count_alerts(t, now_ns);
    if (now_ns - t->last_gc_ns >= ALERT_GC_NS) {
        am__alerts_gc(t, now_ns);
        am__silences_gc(t, now_ns, retention);
        nflog_gc(t, now_ns, retention);
        t->last_gc_ns = now_ns;
        gc = 1;
    }
    pthread_mutex_unlock(&t->mu);
    return gc;
}

void am__tenants_maintain(am_t *am, int64_t now_ns)
{
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    pthread_rwlock_rdlock(&am->mu);
    am_tenant_t **all = xcalloc(hashmap_len(&am->tenants) + 1, sizeof(*all));
    while (hashmap_next(&am->tenants, &it, &k, &v)) {
        all[n++] = am__tenant_ref(v);
    }
    pthread_rwlock_unlock(&am->mu);
    for (size_t i = 0; i < n; i++) {
        if (tenant_maintain(all[i], now_ns)) {
            am__store_gc(am, all[i]->id, now_ns);
        }
        am__tenant_unref(all[i]);
    }
    free(all);
}

void am__tenants_free(am_t *am)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&am->tenants, &it, &k, &v)) {
        am_tenant_t *t = v;
        pthread_mutex_lock(&t->mu);
        tenant_stop(t);
        pthread_mutex_unlock(&t->mu);
        am__tenant_unref(t);
    }
    hashmap_fini(&am->tenants, NULL);
}

/* ---- filesystem config store: <storage_dir>/alerts/<tenant> ------------------------- */

static int store_path(am_t *am, const char *tenant, char *out, size_t n)
{
    if (am->opts.storage_dir == NULL || am->opts.storage_dir[0] == '\0') {
        return -1;
    }
    snprintf(out, n, "%s/alerts/%s", am->opts.storage_dir, tenant);
    return 0;
}

/* Backend "local": <dir>/<tenant>.yaml (or .yml) is a plain Alertmanager config; it is
 * wrapped into the per-tenant document the rest of the module reads. */
static char *local_read(am_t *am, const char *tenant)
{
    static const char *const exts[] = {"yaml", "yml"};
    char path[4096];
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s.%s", am->opts.storage_dir, tenant, exts[i]);
        err_t err = {0};
        char *text = fs_read_file(path, NULL, &err);
        if (text != NULL) {
            buf_t b;
            buf_init(&b);
            buf_puts(&b, "alertmanager_config: ");
            am__yaml_put_str(&b, text, 2, 2);
            free(text);
            return buf_steal(&b, NULL);
        }
    }
    return NULL;
}

char *am__cfgstore_read(am_t *am, const char *tenant)
{
    char path[4096];
    if (store_path(am, tenant, path, sizeof(path)) < 0) {
        return NULL;
    }
    err_t err = {0}; /* a missing or unreadable document reads as none */
    return am->opts.storage_local ? local_read(am, tenant) : fs_read_file(path, NULL, &err);
}

int am__cfgstore_write(am_t *am, const char *tenant, const char *text, err_t *err)
{
    char path[4096], tmp[4200];
    if (store_path(am, tenant, path, sizeof(path)) < 0) {
        return err_set(err, ERR_INTERNAL, "unable to store the Alertmanager config: no storage");
    }
    if (am->opts.storage_local) {
        return err_set(err, ERR_INTERNAL, "local alertmanager config storage is read-only");
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL || fputs(text, f) < 0 || fflush(f) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return err_set(err, ERR_INTERNAL, "unable to store the Alertmanager config: %s",
                       strerror(errno));
    }
    fclose(f);
    if (rename(tmp, path) < 0) { /* atomic replace: a crash leaves the old or the new file */
        return err_set(err, ERR_INTERNAL, "unable to store the Alertmanager config: %s",
                       strerror(errno));
    }
    return 0;
}

int am__cfgstore_delete(am_t *am, const char *tenant, err_t *err)
{
    char path[4096];
    if (store_path(am, tenant, path, sizeof(path)) < 0) {
        return 0;
    }
    if (am->opts.storage_local) {
        return err_set(err, ERR_INTERNAL, "local alertmanager config storage is read-only");
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        return err_set(err, ERR_INTERNAL, "unable to delete the Alertmanager config: %s",
                       strerror(errno));
    }
    return 0;
}
