/* tests/unit/test_logstore.c - the log store: push and read in both directions, ranges,
 * matchers, label names/values, dedup, out-of-order entries, chunk cut + flush + reopen,
 * WAL replay after a crash (a child process exits without closing), retention, snapshots
 * and tail subscriptions. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/matchers.h"
#include "common/timeutil.h"
#include "storage/logstore.h"
#include "test.h"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/herald-logstore-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d != NULL ? strdup(d) : NULL;
}

static void rmrf(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", d);
    }
    free(d);
}

static logstore_opts_t opts(const char *dir)
{
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = dir;
    o.wal_fsync_ms = 0;
    o.wal_checkpoint_bytes = 0; /* every flush rewrites the WAL (the 64 MiB default: below) */
    return o;
}

static logstore_t *open_store(const logstore_opts_t *o)
{
    err_t err = {0};
    logstore_t *s = logstore_open(o, &err);
    if (s == NULL) {
        fprintf(stderr, "open: %s\n", err.msg);
    }
    return s;
}

/* Pushes n entries (ts[i], lines[i]) to the stream of `sel` ({app="x"} syntax). */
static int push(logstore_t *s, const char *tenant, const char *sel, const int64_t *ts,
                const char *const *lines, size_t n)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    labels_t *ls = labels_parse(a, sel, &err);
    log_entry_t *es = calloc(n + 1, sizeof(*es));
    for (size_t i = 0; i < n; i++) {
        es[i] = (log_entry_t){.ts_ns = ts[i], .line = lines[i], .len = strlen(lines[i])};
    }
    log_stream_push_t p = {ls, es, n};
    int rc = ls != NULL ? logstore_push(s, tenant, &p, 1, &err) : -1;
    if (rc < 0) {
        fprintf(stderr, "push: %s\n", err.msg);
    }
    free(es);
    arena_free(a);
    return rc;
}

/* "ts:line ts:line ..." of every matching stream's entries, streams in label order. */
static char *read_all(logstore_t *s, const char *tenant, int64_t from, int64_t to, const char *sel,
                      int backward)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    size_t n_ms = 0, n_st = 0;
    matcher_t **ms = matchers_parse(a, sel, &n_ms, MATCHERS_PROMQL, &err);
    logstore_reader_t *r = logstore_reader(s, tenant, from, to, &err);
    log_stream_t *sts = NULL;
    buf_t out;
    buf_init(&out);
    buf_puts(&out, "");
    if (ms != NULL &&
        logstore_select(r, a, (const matcher_t *const *)ms, n_ms, &sts, &n_st, &err) == 0) {
        for (size_t i = 0; i < n_st; i++) {
            log_iter_t *it = logstore_iter(r, a, &sts[i], backward, &err);
            log_entry_t e;
            while (it != NULL && log_iter_next(it, &e, &err) == 1) {
                buf_printf(&out, "%s%lld:%.*s", out.len ? " " : "", (long long)e.ts_ns, (int)e.len,
                           e.line);
                for (size_t k = 0; k < e.n_metadata; k++) {
                    buf_printf(&out, "[%s=%s]", e.metadata[k].name, e.metadata[k].value);
                }
            }
        }
    }
    if (err.code != ERR_NONE) {
        fprintf(stderr, "read: %s\n", err.msg);
    }
    arena_free(a);
    logstore_reader_close(r);
    return buf_steal(&out, NULL);
}

#define ASSERT_READ(s, from, to, sel, bwd, want)               \
    do {                                                       \
        char *got_ = read_all(s, "t1", from, to, sel, bwd);    \
        int ok_ = strcmp(got_, want) == 0;                     \
        if (!ok_) {                                            \
            fprintf(stderr, "got  %s\nwant %s\n", got_, want); \
        }                                                      \
        free(got_);                                            \
        ASSERT_TRUE(ok_);                                      \
    } while (0)

TEST(push_read_both_directions_and_ranges)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    int64_t ts[] = {30, 10, 20, 50, 40};
    const char *ls[] = {"c", "a", "b", "e", "d"};
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 5), 0);
    ASSERT_READ(s, 0, 100, "{app=\"x\"}", 0, "10:a 20:b 30:c 40:d 50:e");
    ASSERT_READ(s, 0, 100, "{app=\"x\"}", 1, "50:e 40:d 30:c 20:b 10:a");
    ASSERT_READ(s, 20, 40, "{app=\"x\"}", 0, "20:b 30:c");
    ASSERT_READ(s, 20, 40, "{app=\"x\"}", 1, "30:c 20:b");
    ASSERT_READ(s, 60, 100, "{app=\"x\"}", 0, "");
    ASSERT_READ(s, 0, 100, "{app=\"y\"}", 0, "");
    char *other = read_all(s, "t2", 0, 100, "{app=\"x\"}", 0); /* tenants are separate */
    ASSERT_STR_EQ(other, "");
    free(other);
    logstore_close(s);
    rmrf(d);
}

TEST(matchers_label_names_values)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    int64_t ts[] = {1};
    const char *l1[] = {"one"}, *l2[] = {"two"}, *l3[] = {"three"};
    ASSERT_EQ(push(s, "t1", "{app=\"a\", env=\"prod\"}", ts, l1, 1), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"b\", env=\"dev\"}", ts, l2, 1), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"c\", team=\"x\"}", ts, l3, 1), 0);
    ASSERT_READ(s, 0, 10, "{env=~\"prod|dev\"}", 0, "1:one 1:two");
    ASSERT_READ(s, 0, 10, "{app!=\"a\"}", 0, "1:two 1:three");
    ASSERT_READ(s, 0, 10, "{env=\"\"}", 0, "1:three");

    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    logstore_reader_t *r = logstore_reader(s, "t1", 0, 10, &err);
    const char **vals;
    size_t n;
    ASSERT_EQ(logstore_label_names(r, a, NULL, 0, &vals, &n, &err), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(vals[0], "app");
    ASSERT_STR_EQ(vals[1], "env");
    ASSERT_STR_EQ(vals[2], "team");
    size_t n_ms;
    matcher_t **ms = matchers_parse(a, "{env=\"prod\"}", &n_ms, MATCHERS_PROMQL, &err);
    ASSERT_EQ(logstore_label_values(r, a, "app", NULL, 0, &vals, &n, &err), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(vals[2], "c");
    ASSERT_EQ(
        logstore_label_values(r, a, "app", (const matcher_t *const *)ms, n_ms, &vals, &n, &err), 0);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(vals[0], "a");
    logstore_reader_close(r);
    /* a range with no entries has no streams */
    r = logstore_reader(s, "t1", 100, 200, &err);
    ASSERT_EQ(logstore_label_names(r, a, NULL, 0, &vals, &n, &err), 0);
    ASSERT_EQ(n, 0);
    logstore_reader_close(r);
    arena_free(a);
    logstore_close(s);
    rmrf(d);
}

TEST(dedup_and_push_order_on_equal_timestamps)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    int64_t ts[] = {5, 5, 5, 5};
    const char *ls[] = {"a", "b", "a", "c"};
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 4), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 2), 0); /* again: all duplicates */
    ASSERT_READ(s, 0, 10, "{app=\"x\"}", 0, "5:a 5:b 5:c");
    ASSERT_READ(s, 0, 10, "{app=\"x\"}", 1, "5:c 5:b 5:a");
    ASSERT_EQ(logstore_stream_count(s, "t1"), 1);
    logstore_close(s);
    rmrf(d);
}

TEST(structured_metadata_roundtrip)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    label_t md[] = {{"trace_id", "abc"}, {"user", "u1"}};
    log_entry_t e = {.ts_ns = 7, .line = "hello", .len = 5, .metadata = md, .n_metadata = 2};
    log_stream_push_t p = {labels_parse(a, "{app=\"x\"}", &err), &e, 1};
    ASSERT_EQ(logstore_push(s, "t1", &p, 1, &err), 0);
    ASSERT_READ(s, 0, 10, "{app=\"x\"}", 0, "7:hello[trace_id=abc][user=u1]");
    ASSERT_EQ(logstore_maintain(s, time_now_ms(), 1, &err), 0);
    ASSERT_READ(s, 0, 10, "{app=\"x\"}", 0, "7:hello[trace_id=abc][user=u1]");
    arena_free(a);
    logstore_close(s);
    rmrf(d);
}

static long file_size(const char *dir, const char *name)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* Entries ts = base, base+step, ... with line "l<ts>" padded to `pad` bytes. */
static void push_series(logstore_t *s, const char *sel, int64_t base, int64_t step, size_t n,
                        size_t pad)
{
    int64_t *ts = calloc(n, sizeof(*ts));
    char **lines = calloc(n, sizeof(*lines));
    for (size_t i = 0; i < n; i++) {
        ts[i] = base + (int64_t)i * step;
        lines[i] = calloc(1, pad + 32);
        int k = snprintf(lines[i], 32, "l%lld", (long long)ts[i]);
        memset(lines[i] + k, 'x', pad > (size_t)k ? pad - (size_t)k : 0);
    }
    if (push(s, "t1", sel, ts, (const char *const *)lines, n) != 0) {
        fprintf(stderr, "push_series failed\n");
    }
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
    free(ts);
}

/* Checks forward and backward reads of the one stream matching sel (NULL: the only
 * stream) are the full sorted sequence 0..n-1 (ts = i). */
static int check_sequence_sel(logstore_t *s, const char *sel, size_t n)
{
    for (int bwd = 0; bwd < 2; bwd++) {
        err_t err = {0};
        arena_t *a = arena_new(0, NULL);
        logstore_reader_t *r = logstore_reader(s, "t1", 0, (int64_t)n, &err);
        log_stream_t *sts;
        size_t n_st, n_ms = 0;
        matcher_t **ms = sel != NULL ? matchers_parse(a, sel, &n_ms, MATCHERS_PROMQL, &err) : NULL;
        logstore_select(r, a, (const matcher_t *const *)ms, n_ms, &sts, &n_st, &err);
        log_iter_t *it = n_st == 1 ? logstore_iter(r, a, &sts[0], bwd, &err) : NULL;
        log_entry_t e;
        size_t k = 0;
        int ok = it != NULL;
        while (ok && log_iter_next(it, &e, &err) == 1) {
            int64_t want = bwd ? (int64_t)(n - 1 - k) : (int64_t)k;
            char head[32];
            int hl = snprintf(head, sizeof(head), "l%lld", (long long)want);
            ok = e.ts_ns == want && e.len >= (size_t)hl && memcmp(e.line, head, (size_t)hl) == 0;
            k++;
        }
        arena_free(a);
        logstore_reader_close(r);
        if (!ok || k != n || err.code != ERR_NONE) {
            fprintf(stderr, "sequence bwd=%d: k=%zu n=%zu err=%s\n", bwd, k, n, err.msg);
            return 0;
        }
    }
    return 1;
}

static int check_sequence(logstore_t *s, size_t n)
{
    return check_sequence_sel(s, NULL, n);
}

TEST(cut_flush_reopen_out_of_order)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    o.chunk_target_bytes = 64 << 10;
    logstore_t *s = open_store(&o);
    err_t err = {0};
    /* even timestamps, flushed; odd ones, flushed; then a head: three overlapping sources */
    push_series(s, "{app=\"x\"}", 0, 2, 3000, 200);
    ASSERT_EQ(logstore_maintain(s, time_now_ms(), 0, &err), 0); /* over target: cut */
    push_series(s, "{app=\"x\"}", 1, 2, 2000, 200);
    ASSERT_EQ(logstore_maintain(s, time_now_ms(), 0, &err), 0);
    push_series(s, "{app=\"x\"}", 4001, 2, 1000, 200);
    char tdir[512];
    snprintf(tdir, sizeof(tdir), "%s/t1", d);
    ASSERT_TRUE(file_size(tdir, "index") > 0);
    ASSERT_TRUE(file_size(tdir, "chunks/00000000") > 0);
    /* the WAL holds only the head: 1000 entries of ~210 bytes */
    ASSERT_TRUE(file_size(tdir, "wal") < 1000 * 260);
    ASSERT_TRUE(file_size(tdir, "wal") > 1000 * 200);
    ASSERT_TRUE(check_sequence(s, 6000));
    logstore_close(s);
    ASSERT_TRUE(file_size(tdir, "wal") < 32); /* close flushes every head: a header only */
    s = open_store(&o);
    ASSERT_TRUE(check_sequence(s, 6000));
    ASSERT_EQ(logstore_stream_count(s, "t1"), 0); /* nothing in memory after a restart */
    logstore_close(s);
    rmrf(d);
}

/* Child: pushes (and maybe flushes) then dies without closing the store. */
static void crash_child(const char *dir, int flush_between)
{
    logstore_opts_t o = opts(dir);
    logstore_t *s = open_store(&o);
    err_t err = {0};
    push_series(s, "{app=\"x\"}", 0, 1, 500, 10);
    if (flush_between) {
        logstore_maintain(s, time_now_ms(), 1, &err);
    }
    push_series(s, "{app=\"x\"}", 500, 1, 500, 10);
    push_series(s, "{app=\"x\"}", 250, 1, 500, 10); /* half duplicates, replayed as such */
    _exit(0);
}

static void crash_and_check(int flush_between)
{
    char *d = tmpdir();
    pid_t pid = fork();
    if (pid == 0) {
        crash_child(d, flush_between);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st));
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    ASSERT_NOT_NULL(s);
    ASSERT_TRUE(check_sequence(s, 1000));
    logstore_close(s);
    s = open_store(&o); /* and once more after a clean close */
    ASSERT_TRUE(check_sequence(s, 1000));
    logstore_close(s);
    rmrf(d);
}

TEST(wal_replay_after_crash)
{
    crash_and_check(0);
}

TEST(wal_replay_after_crash_following_a_flush)
{
    crash_and_check(1);
}

TEST(torn_wal_tail_is_cut)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    push_series(s, "{app=\"x\"}", 0, 1, 10, 10);
    /* crash image: copy the WAL before close flushes it, then append garbage */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp %s/t1/wal %s/wal.keep", d, d);
    ASSERT_EQ(system(cmd), 0);
    logstore_close(s);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s/t1 && mkdir %s/t1 && cp %s/wal.keep %s/t1/wal && "
             "printf 'garbage!!!' >> %s/t1/wal",
             d, d, d, d, d);
    ASSERT_EQ(system(cmd), 0);
    s = open_store(&o);
    ASSERT_TRUE(check_sequence(s, 10));
    push_series(s, "{app=\"x\"}", 10, 1, 5, 10); /* appends after the cut stay readable */
    logstore_close(s);
    s = open_store(&o);
    ASSERT_TRUE(check_sequence(s, 15));
    logstore_close(s);
    rmrf(d);
}

TEST(retention_drops_old_chunks)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    o.retention_ms = 3600 * 1000;
    logstore_t *s = open_store(&o);
    err_t err = {0};
    int64_t now = time_now_ms();
    int64_t old_ts[] = {(now - 3 * 3600 * 1000) * 1000000LL};
    int64_t new_ts[] = {(now - 60 * 1000) * 1000000LL};
    const char *l1[] = {"old"}, *l2[] = {"new"};
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", old_ts, l1, 1), 0);
    ASSERT_EQ(logstore_maintain(s, now, 1, &err), 0); /* cut old first: its own block */
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", new_ts, l2, 1), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"y\"}", old_ts, l1, 1), 0);
    ASSERT_EQ(logstore_maintain(s, now, 1, &err), 0);
    char *got = read_all(s, "t1", 0, INT64_MAX, "{app=~\".+\"}", 0);
    ASSERT_TRUE(strstr(got, ":new") != NULL);
    ASSERT_TRUE(strstr(got, ":old") == NULL);
    free(got);
    logstore_close(s);
    s = open_store(&o); /* the rewritten index is what reopens */
    got = read_all(s, "t1", 0, INT64_MAX, "{app=~\".+\"}", 0);
    ASSERT_TRUE(strstr(got, ":new") != NULL && strstr(got, ":old") == NULL);
    free(got);
    logstore_close(s);
    rmrf(d);
}

TEST(reader_is_a_snapshot)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    err_t err = {0};
    push_series(s, "{app=\"x\"}", 0, 1, 100, 10);
    arena_t *a = arena_new(0, NULL);
    logstore_reader_t *r = logstore_reader(s, "t1", 0, 1000, &err);
    push_series(s, "{app=\"x\"}", 100, 1, 100, 10);             /* after the snapshot */
    ASSERT_EQ(logstore_maintain(s, time_now_ms(), 1, &err), 0); /* cut under the reader */
    log_stream_t *sts;
    size_t n;
    ASSERT_EQ(logstore_select(r, a, NULL, 0, &sts, &n, &err), 0);
    ASSERT_EQ(n, 1);
    log_iter_t *it = logstore_iter(r, a, &sts[0], 0, &err);
    log_entry_t e;
    size_t k = 0;
    while (log_iter_next(it, &e, &err) == 1) {
        ASSERT_EQ(e.ts_ns, (int64_t)k);
        k++;
    }
    ASSERT_EQ(k, 100);
    arena_free(a);
    logstore_reader_close(r);
    ASSERT_TRUE(check_sequence(s, 200));
    logstore_close(s);
    rmrf(d);
}

typedef struct {
    int calls;
    size_t entries;
    char last[64];
} tail_t;

static void on_tail(void *arg, const labels_t *stream, const log_entry_t *es, size_t n)
{
    tail_t *t = arg;
    t->calls++;
    t->entries += n;
    snprintf(t->last, sizeof(t->last), "%s:%.*s", labels_get(stream, "app"), (int)es[n - 1].len,
             es[n - 1].line);
}

TEST(tail_subscription)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    tail_t t1 = {0}, t2 = {0};
    logstore_sub_t *a = logstore_subscribe(s, "t1", on_tail, &t1);
    logstore_sub_t *b = logstore_subscribe(s, "t2", on_tail, &t2);
    int64_t ts[] = {1, 2};
    const char *ls[] = {"a", "b"};
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 2), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 2), 0); /* duplicates: no call */
    ASSERT_EQ(t1.calls, 1);
    ASSERT_EQ(t1.entries, 2);
    ASSERT_STR_EQ(t1.last, "x:b");
    ASSERT_EQ(t2.calls, 0);
    logstore_unsubscribe(s, a);
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts + 1, ls, 1), 0);
    ASSERT_EQ(t1.calls, 1);
    logstore_unsubscribe(s, b);
    logstore_close(s);
    rmrf(d);
}

TEST(stream_count_and_has_stream)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    logstore_t *s = open_store(&o);
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    int64_t ts[] = {1};
    const char *ls[] = {"a"};
    ASSERT_EQ(logstore_stream_count(s, "t1"), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"x\"}", ts, ls, 1), 0);
    ASSERT_EQ(push(s, "t1", "{app=\"y\"}", ts, ls, 1), 0);
    ASSERT_EQ(logstore_stream_count(s, "t1"), 2);
    ASSERT_TRUE(logstore_has_stream(s, "t1", labels_parse(a, "{app=\"y\"}", &err)));
    ASSERT_FALSE(logstore_has_stream(s, "t1", labels_parse(a, "{app=\"z\"}", &err)));
    ASSERT_FALSE(logstore_has_stream(s, "t9", labels_parse(a, "{app=\"y\"}", &err)));
    arena_free(a);
    logstore_close(s);
    rmrf(d);
}

typedef struct {
    logstore_t *s;
    int id;
    atomic_int *stop;
} worker_t;

static void *push_worker(void *arg)
{
    worker_t *w = arg;
    char sel[32];
    snprintf(sel, sizeof(sel), "{w=\"%d\"}", w->id);
    for (int b = 0; b < 40; b++) {
        push_series(w->s, sel, b * 50, 1, 50, 40);
    }
    return NULL;
}

static void *read_worker(void *arg)
{
    worker_t *w = arg;
    while (!atomic_load(w->stop)) {
        char *got = read_all(w->s, "t1", 0, 1 << 30, "{w=~\".+\"}", w->id & 1);
        free(got);
        w->id++;
    }
    return NULL;
}

/* Pushers, a reader and cuts at once (run it under SAN=thread too): every entry survives. */
TEST(concurrent_push_read_cut)
{
    char *d = tmpdir();
    logstore_opts_t o = opts(d);
    o.chunk_target_bytes = 8 << 10;
    o.wal_fsync_ms = 50;
    logstore_t *s = open_store(&o);
    atomic_int stop = 0;
    pthread_t th[4];
    worker_t ws[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = (worker_t){s, i, &stop};
        pthread_create(&th[i], NULL, i < 3 ? push_worker : read_worker, &ws[i]);
    }
    err_t err = {0};
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ(logstore_maintain(s, time_now_ms(), i % 5 == 4, &err), 0);
        usleep(2000);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(th[3], NULL);
    for (int w = 0; w < 3; w++) {
        char sel[32];
        snprintf(sel, sizeof(sel), "{w=\"%d\"}", w);
        char *got = read_all(s, "t1", 0, 1 << 30, sel, 0);
        size_t n = 0;
        for (char *p = got; (p = strchr(p, ':')) != NULL; p++) {
            n++;
        }
        free(got);
        ASSERT_EQ(n, 2000);
    }
    logstore_close(s);
    rmrf(d);
}

/* Child: x gets big enough to be cut, y stays in its head; the WAL before the flush is kept
 * as wal.old, then the process dies without closing. */
static void flush_child(const char *dir, size_t checkpoint_bytes)
{
    logstore_opts_t o = opts(dir);
    o.chunk_target_bytes = 1024;
    o.wal_checkpoint_bytes = checkpoint_bytes;
    logstore_t *s = open_store(&o);
    err_t err = {0};
    push_series(s, "{app=\"x\"}", 0, 1, 100, 40);
    push_series(s, "{app=\"y\"}", 1000, 1, 1, 10);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp %s/t1/wal %s/wal.old", dir, dir);
    if (system(cmd) != 0 || logstore_maintain(s, time_now_ms(), 0, &err) < 0) {
        _exit(1);
    }
    _exit(0);
}

/* The crash windows of a flush: after the index commit but before the WAL rename (wal.tmp
 * of the committed generation must replace wal), before the commit (a stale wal.tmp must
 * be ignored), and after a flush that kept the WAL (its frames of flushed entries must be
 * skipped at replay). Every entry is there once and flushed ones are not in heads again. */
TEST(flush_crash_windows)
{
    for (int committed = 0; committed < 3; committed++) {
        char *d = tmpdir();
        pid_t pid = fork();
        if (pid == 0) {
            flush_child(d, committed == 2 ? 64u << 20 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char cmd[4096], tdir[600];
        snprintf(tdir, sizeof(tdir), "%s/t1", d);
        if (committed) { /* index has COMMIT G; the new WAL never got renamed */
            snprintf(cmd, sizeof(cmd), "mv %s/wal %s/wal.tmp && cp %s/wal.old %s/wal", tdir, tdir,
                     d, tdir);
        } else { /* nothing committed: back to the old index and WAL, a wal.tmp left over */
            snprintf(cmd, sizeof(cmd),
                     "cp %s/wal %s/wal.tmp && cp %s/wal.old %s/wal && "
                     ": > %s/index",
                     tdir, tdir, d, tdir, tdir);
        }
        ASSERT_EQ(system(cmd), 0);
        long old_wal = file_size(tdir, "wal");
        logstore_opts_t o = opts(d);
        logstore_t *s = open_store(&o);
        ASSERT_NOT_NULL(s);
        ASSERT_EQ(file_size(tdir, "wal.tmp"), -1);
        if (committed == 1) {
            ASSERT_TRUE(file_size(tdir, "wal") < old_wal / 2); /* x is in blocks only */
        } else {
            ASSERT_EQ(file_size(tdir, "wal"), old_wal);
        }
        /* x was flushed before the crash unless nothing got committed */
        err_t err = {0};
        arena_t *a = arena_new(0, NULL);
        ASSERT_EQ(logstore_has_stream(s, "t1", labels_parse(a, "{app=\"x\"}", &err)),
                  committed == 0);
        arena_free(a);
        char *got = read_all(s, "t1", 0, 2000, "{app=\"y\"}", 0);
        ASSERT_STR_EQ(got, "1000:l1000xxxxx");
        free(got);
        logstore_close(s);
        s = open_store(&o);
        ASSERT_TRUE(check_sequence_sel(s, "{app=\"x\"}", 100));
        logstore_close(s);
        rmrf(d);
    }
}
