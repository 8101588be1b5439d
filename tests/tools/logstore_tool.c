/* tests/tools/logstore_tool.c - test helper for the log store (tests/logs suites, bench).
 *   logstore_tool dump DIR TENANT [SELECTOR]
 *       opens a stopped store (index + WAL replay) and prints every entry of the matching
 *       streams as one JSON line {"stream":"<labels>","ts":"<ns>","line":"...","md":{...}},
 *       then `entries=<n> streams=<n>`.
 *   logstore_tool stats DIR
 *       flushes every head (a clean close) and prints `bytes=<on-disk bytes of index and
 *       chunks> wal_bytes=<n>`.
 *   logstore_tool serve [herald-logd flags]
 *       herald-logd with only the log store + push module, for the push suite when the
 *       daemon's module list does not have it yet. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "common/matchers.h"
#include "config/daemon.h"
#include "storage/logpush.h"

static void print_entry(const labels_t *ls, const log_entry_t *e)
{
    buf_t b, l;
    buf_init(&b);
    buf_init(&l);
    labels_format(ls, &l);
    buf_puts(&b, "{\"stream\":");
    jsonw_quote(&b, l.data, l.len, 0);
    buf_printf(&b, ",\"ts\":\"%lld\",\"line\":", (long long)e->ts_ns);
    jsonw_quote(&b, e->line, e->len, 0);
    buf_puts(&b, ",\"md\":{");
    for (size_t i = 0; i < e->n_metadata; i++) {
        buf_puts(&b, i > 0 ? "," : "");
        jsonw_quote(&b, e->metadata[i].name, strlen(e->metadata[i].name), 0);
        buf_putc(&b, ':');
        jsonw_quote(&b, e->metadata[i].value, strlen(e->metadata[i].value), 0);
    }
    buf_puts(&b, "}}");
    puts(b.data);
    buf_fini(&b);
    buf_fini(&l);
}

static int dump(const char *dir, const char *tenant, const char *sel)
{
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = dir;
    err_t err = {0};
    logstore_t *s = logstore_open(&o, &err);
    if (s == NULL) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    arena_t *a = arena_new(0, &err);
    size_t n_ms = 0, n_st = 0, n = 0;
    matcher_t *none = NULL, **ms = &none; /* "{}": every stream */
    if (strcmp(sel, "{}") != 0) {
        ms = matchers_parse(a, sel, &n_ms, MATCHERS_PROMQL, &err);
    }
    logstore_reader_t *r = logstore_reader(s, tenant, INT64_MIN, INT64_MAX, &err);
    log_stream_t *sts = NULL;
    int rc = ms != NULL
                 ? logstore_select(r, a, (const matcher_t *const *)ms, n_ms, &sts, &n_st, &err)
                 : -1;
    for (size_t i = 0; rc == 0 && i < n_st; i++) {
        log_iter_t *it = logstore_iter(r, a, &sts[i], 0, &err);
        log_entry_t e;
        while (it != NULL && (rc = log_iter_next(it, &e, &err)) == 1) {
            print_entry(sts[i].labels, &e);
            n++;
        }
        rc = it != NULL && rc == 0 ? 0 : -1;
    }
    printf("entries=%zu streams=%zu\n", n, n_st);
    if (rc < 0) {
        fprintf(stderr, "dump: %s\n", err.msg);
    }
    logstore_reader_close(r);
    arena_free(a);
    logstore_close(s);
    return rc < 0;
}

/* Bytes of regular files under path whose name is not "wal" (index, chunks). */
static void du(const char *path, long long *bytes, long long *wal)
{
    DIR *d = opendir(path);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            du(p, bytes, wal);
        } else if (strcmp(de->d_name, "wal") == 0) {
            *wal += st.st_size;
        } else {
            *bytes += st.st_size;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

static int stats(const char *dir)
{
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = dir;
    err_t err = {0};
    logstore_t *s = logstore_open(&o, &err);
    if (s == NULL) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    logstore_close(s);
    long long bytes = 0, wal = 0;
    du(dir, &bytes, &wal);
    printf("bytes=%lld wal_bytes=%lld\n", bytes, wal);
    return 0;
}

static const daemon_module_t modules[] = {
    {"logstore", logstore_module_init},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "dump") == 0) {
        return dump(argv[2], argv[3], argc > 4 ? argv[4] : "{}");
    }
    if (argc == 3 && strcmp(argv[1], "stats") == 0) {
        return stats(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        argv[1] = argv[0];
        return daemon_main(CFG_LOGD, modules, argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: logstore_tool dump DIR TENANT [SELECTOR] | stats DIR | "
                    "serve [flags]\n");
    return 2;
}
