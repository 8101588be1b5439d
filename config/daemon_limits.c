/* config/daemon_limits.c - the daemon's per-tenant limits (daemon_limits in daemon.h): the
 * runtime config file's overrides, watched for changes.
 *
 * DESIGN: readers copy a tenant's limits under a mutex. Replaced override sets are retired
 * rather than freed, so the strings and maps inside copies handed out earlier stay valid
 * without reference counting on the hot path; a set is replaced only when the file or the
 * config changes, so the retired list stays short. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "config/daemon_int.h"

/* Identity of the file's current content, cheap to compare every period. */
static void file_stamp(const char *path, daemon_file_stamp_t *st)
{
    struct stat sb;
    memset(st, 0, sizeof(*st));
    if (path[0] != '\0' && stat(path, &sb) == 0) {
        st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        st->size = (int64_t)sb.st_size;
        st->ino = (int64_t)sb.st_ino;
    }
}

/* Installs `next` (retiring the current set); called with mu held. */
static void install(daemon_limits_t *l, cfg_overrides_t *next)
{
    if (l->cur != NULL) {
        l->retired = xrealloc(l->retired, (l->n_retired + 1) * sizeof(*l->retired));
        l->retired[l->n_retired++] = l->cur;
    }
    l->cur = next;
}

/* Loads the overrides of config `c`; keeps the current ones if the file is bad. */
static int load(daemon_limits_t *l, cfg_t *c, err_t *err)
{
    daemon_file_stamp_t st;
    file_stamp(c->runtime_config_file, &st);
    cfg_overrides_t *next = cfg_overrides_load(c, err);
    if (next == NULL) {
        LOG_ERROR("runtime config load failed, keeping the previous overrides",
                  KV_STR("file", c->runtime_config_file), KV_STR("err", err->msg));
        return -1;
    }
    pthread_mutex_lock(&l->mu);
    install(l, next);
    l->stamp = st;
    pthread_mutex_unlock(&l->mu);
    if (c->runtime_config_file[0] != '\0') {
        LOG_INFO("runtime config loaded", KV_STR("file", c->runtime_config_file),
                 KV_INT("tenants", (long long)cfg_overrides_count(next)));
    }
    return 0;
}

static void *watch(void *arg)
{
    daemon_limits_t *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (l->period_ms % 1000) * 1000000;
        until.tv_sec += l->period_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&l->cond, &l->mu, &until);
        if (l->stopping) {
            break;
        }
        daemon_file_stamp_t st;
        file_stamp(l->cfg->runtime_config_file, &st);
        if (memcmp(&st, &l->stamp, sizeof(st)) == 0) {
            continue;
        }
        cfg_t *c = cfg_ref(l->cfg);
        pthread_mutex_unlock(&l->mu);
        err_t err = {0};
        if (load(l, c, &err) < 0) {
            pthread_mutex_lock(&l->mu);
            l->stamp = st; /* do not retry a bad file until it changes again */
            pthread_mutex_unlock(&l->mu);
        }
        cfg_unref(c);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int daemon_limits_start(daemon_limits_t *l, cfg_t *c, err_t *err)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->cfg = cfg_ref(c);
    l->period_ms = c->runtime_config_period_ms > 0 ? c->runtime_config_period_ms : 10000;
    if (load(l, c, err) < 0) {
        cfg_unref(l->cfg);
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->mu);
        return -1;
    }
    if (c->runtime_config_file[0] != '\0') {
        l->has_thread = pthread_create(&l->thread, NULL, watch, l) == 0;
    }
    return 0;
}

void daemon_limits_reload(daemon_limits_t *l, cfg_t *c)
{
    err_t err = {0};
    if (load(l, c, &err) == 0) {
        pthread_mutex_lock(&l->mu);
        cfg_unref(l->cfg);
        l->cfg = cfg_ref(c);
        pthread_mutex_unlock(&l->mu);
    }
}

void daemon_limits_get(daemon_limits_t *l, const char *tenant, cfg_limits_t *out)
{
    pthread_mutex_lock(&l->mu);
    *out = *cfg_overrides_get(l->cur, tenant);
    pthread_mutex_unlock(&l->mu);
}

void daemon_limits_stop(daemon_limits_t *l)
{
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->mu);
    if (l->has_thread) {
        pthread_join(l->thread, NULL);
    }
    for (size_t i = 0; i < l->n_retired; i++) {
        cfg_overrides_free(l->retired[i]);
    }
    free(l->retired);
    cfg_overrides_free(l->cur);
    cfg_unref(l->cfg);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
}
