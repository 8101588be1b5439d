/* ruler/rulesync_dir.c - manifest_dir: PrometheusRule and Namespace objects read from the
 * *.yaml, *.yml and *.json files of one directory (herald's stand-in for the Kubernetes
 * API). A thread polls the directory's file names, sizes and mtimes every second and
 * re-reads everything when they change, every 30 s regardless, and on request (SIGHUP).
 *
 * A file that no longer parses keeps the objects of its last good version (as a failed
 * `kubectl apply` leaves the old object in place); its error shows in the status. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "ruler/rulesync_int.h"

#define POLL_MS 1000
#define FULL_RESCAN_MS 30000

typedef struct {
    char *name; /* file name inside the directory */
    char *good; /* text of its last version that parsed, or NULL */
    size_t good_len;
} dir_file_t;

typedef struct {
    rulesync_source_t base;
    rulesync_store_t *store;
    char *dir;
    pthread_t thread;
    /* scan() only (the start, then the thread): */
    int scanned;
    uint64_t content_hash;
    /* guarded by mu: */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stop, rescan;
    dir_file_t *files;
    size_t n_files, cap_files;
    char *errors; /* JSON array text of the last scan's file errors */
    size_t n_objects;
    int64_t last_scan_ms;
} dir_src_t;

static int has_manifest_suffix(const char *name)
{
    static const char *const suffixes[] = {".yaml", ".yml", ".json"};
    size_t n = strlen(name);
    for (size_t i = 0; i < 3; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && strcmp(name + n - m, suffixes[i]) == 0 && name[0] != '.') {
            return 1;
        }
    }
    return 0;
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Sorted manifest file names; *sig gets a signature of names, sizes and mtimes. */
static char **list_files(const char *dir, size_t *n, uint64_t *sig)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    *sig = 1469598103934665603ULL;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        struct stat st;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (!has_manifest_suffix(e->d_name) || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        xgrow((void **)&names, &cap, *n + 1, sizeof(*names));
        names[(*n)++] = xstrdup(e->d_name);
        for (const char *p = e->d_name; *p != '\0'; p++) {
            *sig = (*sig ^ (unsigned char)*p) * 1099511628211ULL;
        }
        *sig = (*sig ^ (uint64_t)st.st_size) * 1099511628211ULL;
        *sig = (*sig ^ (uint64_t)st.st_mtim.tv_nsec ^ ((uint64_t)st.st_mtim.tv_sec << 30)) *
               1099511628211ULL;
    }
    if (d != NULL) {
        closedir(d);
    }
    if (*n > 0) {
        qsort(names, *n, sizeof(*names), str_cmp);
    }
    return names;
}

static uint64_t dir_signature(const char *dir)
{
    size_t n = 0;
    uint64_t sig;
    char **names = list_files(dir, &n, &sig);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return sig;
}

/* Caller holds s->mu. The remembered entry of a file, created empty when new. */
static dir_file_t *file_entry(dir_src_t *s, const char *name)
{
    for (size_t i = 0; i < s->n_files; i++) {
        if (strcmp(s->files[i].name, name) == 0) {
            return &s->files[i];
        }
    }
    xgrow((void **)&s->files, &s->cap_files, s->n_files + 1, sizeof(*s->files));
    s->files[s->n_files] = (dir_file_t){xstrdup(name), NULL, 0};
    return &s->files[s->n_files++];
}

static void add_error(buf_t *errors, const char *msg)
{
    buf_puts(errors, errors->len > 1 ? "," : "");
    jsonw_quote(errors, msg, strlen(msg), 0);
}

/* A bad file falls back on its last good text. */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    }
    return (h ^ 0xff) * 1099511628211ULL; /* a separator, so "ab"+"c" != "a"+"bc" */
}

/* Reads one file into objs; *h hashes the name and the text the objects came from. */
static void scan_file(dir_src_t *s, const char *name, rulesync_objs_t *objs, buf_t *errors,
                      uint64_t *h)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    size_t len = 0;
    err_t err = {0};
    char *text = fs_read_file(path, &len, &err); /* a failure is reported as a bad file */
    pthread_mutex_lock(&s->mu);
    dir_file_t *f = file_entry(s, name);
    if (text != NULL &&
        rulesync__manifest_parse(text, len, path, objs, &err) == 0) {
        free(f->good);
        f->good = text;
        f->good_len = len;
        *h = hash_bytes(hash_bytes(*h, name, strlen(name)), f->good, f->good_len);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    LOG_ERROR("failed to read manifest", KV_STR("file", path), KV_STR("err", err.msg));
    add_error(errors, err.msg);
    err_t ignored = {0};
    if (f->good != NULL) {
        rulesync__manifest_parse(f->good, f->good_len, path, objs, &ignored);
        *h = hash_bytes(hash_bytes(*h, name, strlen(name)), f->good, f->good_len);
    }
    pthread_mutex_unlock(&s->mu);
    free(text);
}

/* Forgets files that are gone, so a deleted file's objects disappear. */
static void forget_missing(dir_src_t *s, char **names, size_t n)
{
    pthread_mutex_lock(&s->mu);
    size_t w = 0;
    for (size_t i = 0; i < s->n_files; i++) {
        if (bsearch(&s->files[i].name, names, n, sizeof(*names), str_cmp) != NULL) {
            s->files[w++] = s->files[i];
        } else {
            free(s->files[i].name);
            free(s->files[i].good);
        }
    }
    s->n_files = w;
    pthread_mutex_unlock(&s->mu);
}

/* Reads every file; the store changes (and the components reconcile) only when what the
 * objects came from changed. */
static void scan(dir_src_t *s)
{
    size_t n = 0;
    uint64_t sig, h = 1469598103934665603ULL;
    char **names = list_files(s->dir, &n, &sig);
    rulesync_objs_t objs = {0};
    buf_t errors;
    buf_init(&errors);
    buf_putc(&errors, '[');
    forget_missing(s, names, n);
    for (size_t i = 0; i < n; i++) {
        scan_file(s, names[i], &objs, &errors, &h);
        free(names[i]);
    }
    free(names);
    buf_putc(&errors, ']');
    size_t n_objects = objs.n;
    if (!s->scanned || h != s->content_hash) {
        rulesync__store_replace_all(s->store, &objs);
    }
    s->scanned = 1;
    s->content_hash = h;
    rulesync__objs_fini(&objs);
    pthread_mutex_lock(&s->mu);
    free(s->errors);
    s->errors = buf_steal(&errors, NULL);
    s->n_objects = n_objects;
    s->last_scan_ms = time_now_ms();
    pthread_mutex_unlock(&s->mu);
    LOG_DEBUG("manifest directory read", KV_STR("dir", s->dir), KV_INT("objects", n_objects));
}

static void *dir_thread(void *arg)
{
    dir_src_t *s = arg;
    uint64_t last_sig = dir_signature(s->dir); /* the initial scan saw this */
    int64_t last_full = time_mono_ms();
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (!s->stop && !s->rescan) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
        }
        int stop = s->stop, forced = s->rescan;
        s->rescan = 0;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            return NULL;
        }
        uint64_t sig = dir_signature(s->dir);
        if (forced || sig != last_sig || time_mono_ms() - last_full >= FULL_RESCAN_MS) {
            last_sig = sig;
            last_full = time_mono_ms();
            scan(s);
        }
    }
}

static void dir_rescan(rulesync_source_t *src)
{
    dir_src_t *s = (dir_src_t *)src;
    pthread_mutex_lock(&s->mu);
    s->rescan = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

static void dir_status(rulesync_source_t *src, buf_t *out)
{
    dir_src_t *s = (dir_src_t *)src;
    char ts[64];
    pthread_mutex_lock(&s->mu);
    timestamp_format_rfc3339(s->last_scan_ms, ts, sizeof(ts));
    buf_puts(out, "\"source\":\"manifest_dir\",\"dir\":");
    jsonw_quote(out, s->dir, strlen(s->dir), 0);
    buf_printf(out, ",\"files\":%zu,\"objects\":%zu,\"last_scan\":\"%s\",\"errors\":%s", s->n_files,
               s->n_objects, ts, s->errors != NULL ? s->errors : "[]");
    pthread_mutex_unlock(&s->mu);
}

static void dir_free(dir_src_t *s)
{
    for (size_t i = 0; i < s->n_files; i++) {
        free(s->files[i].name);
        free(s->files[i].good);
    }
    free(s->files);
    free(s->errors);
    free(s->dir);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void dir_stop(rulesync_source_t *src)
{
    dir_src_t *s = (dir_src_t *)src;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    dir_free(s);
}

static const rulesync_source_ops_t dir_ops = {dir_rescan, dir_status, dir_stop};

rulesync_source_t *rulesync__dir_start(rulesync_store_t *st, const char *dir, err_t *err)
{
    struct stat sb;
    if (fs_mkdir_p(dir, err) < 0 || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        err_set(err, ERR_BAD_DATA, "manifest_dir %s: not a directory", dir);
        return NULL;
    }
    dir_src_t *s = xcalloc(1, sizeof(*s));
    s->base.ops = &dir_ops;
    s->store = st;
    s->dir = xstrdup(dir);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    scan(s);
    if (pthread_create(&s->thread, NULL, dir_thread, s) != 0) {
        err_set(err, ERR_INTERNAL, "cannot start the manifest_dir thread");
        dir_free(s);
        return NULL;
    }
    return &s->base;
}
