/* alertmanager/alertmanager.c - the module's entry points: options, data directories, the
 * fallback config, the scheduler and send pool, and route registration. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alertmanager/am_int.h"
#include "common/fs.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "common/workpool.h"

/* The path part of external_url ("http://h:9009/alertmanager" -> "/alertmanager"). */
static char *url_path(const char *url)
{
    const char *p = url != NULL ? strstr(url, "://") : NULL;
    if (url != NULL && url[0] == '/') {
        p = url;
    } else if (p != NULL) {
        p = strchr(p + 3, '/');
    }
    if (p == NULL || p[0] == '\0') {
        return xstrdup(url == NULL ? "/alertmanager" : "");
    }
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') {
        n--;
    }
    return xstrndup(p, n);
}

/* Reads and validates a fallback config file; templates are globbed next to it. */
static am_config_t *fallback_read(const char *path, err_t *err)
{
    char *text = NULL, dir[4096];
    size_t len = 0;
    err_t e = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL || getdelim(&text, &len, '\0', f) < 0) {
        err_set(err, ERR_BAD_DATA, "unable to read fallback config file %s: %s", path,
                strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        free(text);
        return NULL;
    }
    fclose(f);
    snprintf(dir, sizeof(dir), "%s", path);
    am_config_t *c = am__config_parse(text, strlen(text), &e);
    free(text);
    if (c == NULL || am__config_templates(c, NULL, dirname(dir), &e) < 0) {
        am__config_unref(c);
        err_set(err, ERR_BAD_DATA, "unable to load fallback config file %s: %s", path, e.msg);
        return NULL;
    }
    return c;
}

am_config_t *am__fallback_ref(am_t *am)
{
    pthread_rwlock_rdlock(&am->mu);
    am_config_t *c = am__config_ref(am->fallback);
    pthread_rwlock_unlock(&am->mu);
    return c;
}

int am_reload(am_t *am, const char *fallback_config_file, err_t *err)
{
    am_config_t *fb = NULL;
    if (fallback_config_file != NULL && fallback_config_file[0] != '\0') {
        fb = fallback_read(fallback_config_file, err);
        if (fb == NULL) {
            return -1; /* the old fallback stays */
        }
    }
    pthread_rwlock_wrlock(&am->mu);
    am_config_t *old = am->fallback;
    am->fallback = fb;
    pthread_rwlock_unlock(&am->mu);
    am__tenants_refallback(am);
    am__config_unref(old);
    return 0;
}
static void opts_copy(am_opts_t *dst, const am_opts_t *src)
{
    *dst = *src;
    dst->data_dir = src->data_dir != NULL ? xstrdup(src->data_dir) : NULL;
    dst->external_url = xstrdup(src->external_url != NULL ? src->external_url
                                                          : "http://localhost:9009/alertmanager");
    dst->fallback_config_file =
        src->fallback_config_file != NULL ? xstrdup(src->fallback_config_file) : NULL;
    dst->storage_dir = src->storage_dir != NULL ? xstrdup(src->storage_dir) : NULL;
    if (dst->retention_ms <= 0) {
        dst->retention_ms = 120LL * 3600 * 1000;
    }
    if (dst->send_threads <= 0) {
        dst->send_threads = 16; /* a failing receiver holds a thread while it retries */
    }
}

am_t *am_new(const am_opts_t *opts, err_t *err)
{
    char alerts_dir[4096];
    am_t *am = xcalloc(1, sizeof(*am));
    opts_copy(&am->opts, opts);
    am->prefix = url_path(am->opts.external_url);
    am->start_ns = time_now_ns();
    pthread_rwlock_init(&am->mu, NULL);
    hashmap_init(&am->tenants);
    if (am->opts.data_dir != NULL && am->opts.data_dir[0] != '\0' &&
        fs_mkdir_p(am->opts.data_dir, err) < 0) {
        goto fail;
    }
    if (am->opts.storage_dir != NULL && am->opts.storage_dir[0] != '\0' &&
        !am->opts.storage_local) {
        snprintf(alerts_dir, sizeof(alerts_dir), "%s/alerts", am->opts.storage_dir);
        if (fs_mkdir_p(alerts_dir, err) < 0) {
            goto fail;
        }
    }
    const char *fb = am->opts.fallback_config_file;
    if (fb != NULL && fb[0] != '\0' && (am->fallback = fallback_read(fb, err)) == NULL) {
        goto fail;
    }
    am->pool = workpool_new("am-notify", am->opts.send_threads, 100000);
    if (am__sched_start(am, err) < 0) {
        goto fail;
    }
    return am;
fail:
    am_free(am);
    return NULL;
}

int am_register(http_server_t *s, am_t *am, err_t *err)
{
    if (am__api_register(s, am, err) < 0 || am__cfgapi_register(s, am, err) < 0) {
        return -1;
    }
    return 0;
}

void am_free(am_t *am)
{
    if (am == NULL) {
        return;
    }
    atomic_store(&am->stopping, 1);
    am__sched_stop(am);
    workpool_free(am->pool);
    am__tenants_free(am);
    am__config_unref(am->fallback);
    pthread_rwlock_destroy(&am->mu);
    free((char *)am->opts.data_dir);
    free((char *)am->opts.external_url);
    free((char *)am->opts.fallback_config_file);
    free((char *)am->opts.storage_dir);
    free(am->prefix);
    free(am);
}
