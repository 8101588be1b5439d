/* ruler/ruler_store.c - rule groups on the filesystem:
 * <dir>/<tenant>/<namespace>, each file a Prometheus rule file (`groups:`), so
 * promtool and Loki's local store read them as they are. Namespace names are
 * escaped into file names (every byte outside [A-Za-z0-9_.~-] and a leading '.'
 * become %XX), so `alloy/ns/app/uid` is one file. Files starting with '.' are
 * skipped (temporary files, editors), as Loki's local store skips them.
 *
 * DESIGN. Writes go to a temporary file that is renamed over the old one, so a
 * crash never leaves half a file. The store mutex serialises read-modify-write
 * cycles of the API. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mem.h"
#include "ruler/ruler_int.h"

struct ruler_store {
    char *dir;
    pthread_mutex_t mu;
};

ruler_store_t *ruler__store_new(const char *dir, err_t *err)
{
    if (fs_mkdir_p(dir, err) < 0) {
        return NULL;
    }
    ruler_store_t *s = xcalloc(1, sizeof(*s));
    s->dir = xstrdup(dir);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ruler__store_free(ruler_store_t *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_destroy(&s->mu);
    free(s->dir);
    free(s);
}

void ruler__store_lock(ruler_store_t *s)
{
    pthread_mutex_lock(&s->mu);
}

void ruler__store_unlock(ruler_store_t *s)
{
    pthread_mutex_unlock(&s->mu);
}

static void escape_name(buf_t *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '~' ||
                    (*p == '.' && p != (const unsigned char *)s);
        if (plain) {
            buf_putc(out, (char)*p);
        } else {
            buf_printf(out, "%%%02X", *p);
        }
    }
}

/* File name back to namespace; names that are not valid escapes are taken
 * literally (files dropped into the directory by hand). */
static char *unescape_name(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    for (const char *p = s; *p != '\0'; p++) {
        if (p[0] == '%' && buf_hex_digit((unsigned char)p[1]) >= 0 && buf_hex_digit((unsigned char)p[2]) >= 0) {
            *o++ = (char)(buf_hex_digit((unsigned char)p[1]) * 16 + buf_hex_digit((unsigned char)p[2]));
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static void ns_path(const ruler_store_t *s, const char *tenant, const char *ns, buf_t *out)
{
    buf_printf(out, "%s/%s/", s->dir, tenant);
    escape_name(out, ns);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a directory, dot-files skipped; `dirs` selects directories
 * or files. */
static char **list_dir(const char *path, int dirs, int decode, size_t *n)
{
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    DIR *d = opendir(path);
    if (d == NULL) {
        return NULL;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') {
            continue;
        }
        struct stat st;
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        if (stat(full, &st) < 0 || (S_ISDIR(st.st_mode) != 0) != dirs) {
            continue;
        }
        xgrow((void **)&v, &cap, *n + 1, sizeof(*v));
        v[(*n)++] = decode ? unescape_name(e->d_name) : xstrdup(e->d_name);
    }
    closedir(d);
    if (*n > 1) {
        qsort(v, *n, sizeof(*v), str_cmp);
    }
    return v;
}

char **ruler__store_tenants(ruler_store_t *s, size_t *n)
{
    return list_dir(s->dir, 1, 0, n);
}

char **ruler__store_namespaces(ruler_store_t *s, const char *tenant, size_t *n)
{
    buf_t p;
    buf_init(&p);
    buf_printf(&p, "%s/%s", s->dir, tenant);
    char **v = list_dir(p.data, 0, 1, n);
    buf_fini(&p);
    return v;
}

void ruler__strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int ruler__store_load(ruler_store_t *s, const char *tenant, const char *ns_name, ruler_ns_t *ns,
                      err_t *err)
{
    buf_t path;
    buf_init(&path);
    ns_path(s, tenant, ns_name, &path);
    size_t len = 0;
    err_t rerr = {0};
    char *data = fs_read_file(path.data, &len, &rerr);
    int rc = 0;
    if (data == NULL && rerr.code != ERR_NOT_FOUND) { /* a missing file is an empty one */
        rc = err_set(err, rerr.code, "%s", rerr.msg);
    } else if (len > 0 && ruler__file_parse(data, len, ns, err) < 0) {
        err_wrap(err, "%s", path.data);
        rc = -1;
    }
    free(data);
    buf_fini(&path);
    return rc;
}

static int write_atomic(const char *path, const char *tmp, const buf_t *data, err_t *err)
{
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        return err_set(err, ERR_INTERNAL, "create %s: %s", tmp, strerror(errno));
    }
    int ok = fwrite(data->data, 1, data->len, f) == data->len;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return err_set(err, ERR_INTERNAL, "write %s: %s", path, strerror(errno));
    }
    return 0;
}

int ruler__store_save(ruler_store_t *s, const char *tenant, const char *ns_name,
                      const ruler_ns_t *ns, err_t *err)
{
    buf_t dir, path, tmp, data;
    buf_init(&dir);
    buf_init(&path);
    buf_init(&tmp);
    buf_init(&data);
    buf_printf(&dir, "%s/%s", s->dir, tenant);
    ns_path(s, tenant, ns_name, &path);
    int rc = 0;
    if (ns->n == 0) {
        if (unlink(path.data) < 0 && errno != ENOENT) {
            rc = err_set(err, ERR_INTERNAL, "remove %s: %s", path.data, strerror(errno));
        }
        rmdir(dir.data); /* only succeeds once the tenant has no namespace left */
        goto done;
    }
    if (fs_mkdir_p(dir.data, err) < 0) {
        rc = -1;
        goto done;
    }
    buf_printf(&tmp, "%s/.tmp-%d-", dir.data, (int)getpid());
    escape_name(&tmp, ns_name);
    ruler__file_yaml(ns, &data);
    rc = write_atomic(path.data, tmp.data, &data, err);
done:
    buf_fini(&dir);
    buf_fini(&path);
    buf_fini(&tmp);
    buf_fini(&data);
    return rc;
}
