/* storage/tsdb.c - the registry of tenant TSDBs: opening (blocks, then WAL replay), lookup,
 * and the background thread that fsyncs WALs and runs maintenance.
 *
 * DESIGN: tenants live until the registry closes, so a tsdb_t pointer handed out is never
 * dangling. The registry rwlock guards only the tenant map; tenant state has the tenant's
 * own rwlock. The background thread snapshots the tenant list under the registry lock, then
 * works on one tenant at a time without it. WAL fsync happens on a dup() of the segment fd
 * taken under the tenant lock, so appends are not blocked by the disk flush. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "storage/tsdb_int.h"

struct tsdb_registry {
    tsdb_opts_t opts;
    char *dir;
    pthread_rwlock_t mu; /* guards by_tenant */
    hashmap_t by_tenant; /* tenant -> tsdb_t* */
    pthread_t bg;
    int bg_started;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    int stopping; /* under bg_mu */
};

void tsdb_opts_default(tsdb_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = "./data/tsdb";
    o->block_range_ms = 2 * 3600 * 1000;
    o->retention_ms = 0;
    o->wal_fsync_interval_ms = 1000;
    o->wal_segment_bytes = 128u << 20;
    o->maintenance_interval_ms = 10000;
    o->background = 1;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- tenant open/close ----------------------------------------------------------------- */

typedef struct {
    tsdb_head_t *head;
    uint64_t n_samples;
} replay_ctx_t;

static void replay_series(void *ctx, uint32_t id, const label_t *ls, size_t n)
{
    tsdb_head_t *h = ((replay_ctx_t *)ctx)->head;
    if (id < h->ix.n && h->ix.labels[id] != NULL) {
        return; /* already defined by the checkpoint or an earlier segment */
    }
    err_t e = {0};
    labels_t *tmp = labels_new(ls, n, &e);
    if (tmp == NULL) {
        return;
    }
    labels_t *in = labels_intern(tmp);
    labels_unref(tmp);
    tsdb__head_add_series(h, id, in, tsdb__labels_hash(in), NULL);
}

static void replay_sample(void *ctx, uint32_t id, int64_t t, double v)
{
    tsdb_head_t *h = ((replay_ctx_t *)ctx)->head;
    ((replay_ctx_t *)ctx)->n_samples++;
    if (id >= h->ix.n || h->series[id] == NULL || t < h->min_valid) {
        return; /* a series dropped with its block-covered samples, or data in blocks */
    }
    tsdb__head_append(h, h->series[id], t, v);
}

static int cmp_block(const void *a, const void *b)
{
    const tsdb_block_t *x = *(tsdb_block_t *const *)a, *y = *(tsdb_block_t *const *)b;
    if (x->mint != y->mint) {
        return x->mint < y->mint ? -1 : 1;
    }
    return x->maxt > y->maxt ? -1 : x->maxt < y->maxt; /* wider first */
}

void tsdb__blocks_add(tsdb_t *db, tsdb_block_t *b)
{
    xgrow((void **)&db->blocks, &db->cap_blocks, db->n_blocks + 1, sizeof(*db->blocks));
    db->blocks[db->n_blocks++] = b;
    qsort(db->blocks, db->n_blocks, sizeof(*db->blocks), cmp_block);
}

/* Drops blocks covered by a wider one: leftovers of a compaction interrupted by a crash. */
static void drop_covered_blocks(tsdb_t *db)
{
    size_t w = 0;
    for (size_t i = 0; i < db->n_blocks; i++) {
        tsdb_block_t *b = db->blocks[i];
        if (w > 0 && b->maxt <= db->blocks[w - 1]->maxt) {
            b->deleted = 1;
            tsdb__block_unref(b);
            continue;
        }
        db->blocks[w++] = b;
    }
    db->n_blocks = w;
}

static int load_blocks(tsdb_t *db, err_t *err)
{
    char *bdir = path_join(db->dir, "blocks");
    int rc = fs_mkdir_p(bdir, err);
    DIR *d = rc == 0 ? opendir(bdir) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char *path = path_join(bdir, e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            unlink(path); /* a block write interrupted by a crash */
        } else if (len > 4 && strcmp(e->d_name + len - 4, ".blk") == 0) {
            err_t berr = {0};
            tsdb_block_t *b = tsdb__block_open(path, &berr);
            if (b == NULL) {
                LOG_ERROR("skipping unreadable block", KV_STR("err", berr.msg));
            } else {
                tsdb__blocks_add(db, b);
            }
        }
        free(path);
    }
    if (d != NULL) {
        closedir(d);
    }
    free(bdir);
    drop_covered_blocks(db);
    return rc;
}

static void tenant_free(void *p)
{
    tsdb_t *db = p;
    if (db == NULL) {
        return;
    }
    tsdb__wal_close(&db->wal);
    tsdb__head_fini(&db->head);
    for (size_t i = 0; i < db->n_blocks; i++) {
        tsdb__block_unref(db->blocks[i]);
    }
    free(db->blocks);
    pthread_rwlock_destroy(&db->mu);
    pthread_mutex_destroy(&db->maint_mu);
    free(db->tenant);
    free(db->dir);
    free(db);
}

static int replay_wal(tsdb_t *db, const tsdb_opts_t *o, err_t *err)
{
    char *wdir = path_join(db->dir, "wal");
    replay_ctx_t rc_ctx = {&db->head, 0};
    tsdb_wal_replay_t cb = {&rc_ctx, replay_series, replay_sample};
    uint64_t n_records = 0;
    int64_t t0 = time_mono_ms();
    db->head.replaying = 1;
    int rc = tsdb__wal_open(&db->wal, wdir, o->wal_segment_bytes, &cb, &n_records, err);
    db->head.replaying = 0;
    db->wal.compress = o->wal_compression;
    free(wdir);
    if (rc < 0) {
        return -1;
    }
    /* Series whose samples all went to blocks come back from the WAL empty: drop them. */
    tsdb__head_truncate(&db->head, db->head.min_valid);
    int64_t ms = time_mono_ms() - t0;
    if (n_records > 0) {
        double secs = ms > 0 ? ms / 1000.0 : 0.001;
        LOG_INFO("WAL replay done", KV_STR("tenant", db->tenant), KV_INT("records", n_records),
                 KV_INT("series", db->head.ix.n_live), KV_INT("samples", rc_ctx.n_samples),
                 KV_INT("duration_ms", ms),
                 KV_FLOAT("samples_per_second", (double)rc_ctx.n_samples / secs));
    }
    tsdb__metrics_replay(db, ms);
    return 0;
}

static tsdb_t *tenant_open(tsdb_registry_t *r, const char *tenant, err_t *err)
{
    tsdb_t *db = xcalloc(1, sizeof(*db));
    db->qb.ops = &tsdb__queryable_ops;
    db->reg = r;
    db->tenant = xstrdup(tenant);
    db->dir = path_join(r->dir, tenant);
    db->sync_each = r->opts.wal_fsync_interval_ms <= 0;
    db->retention_ms = r->opts.retention_ms;
    db->wal.fd = -1;
    pthread_rwlock_init(&db->mu, NULL);
    pthread_mutex_init(&db->maint_mu, NULL);
    tsdb__head_init(&db->head, r->opts.block_range_ms);
    db->head.ooo_window_ms = r->opts.out_of_order_window_ms;
    if (fs_mkdir_p(db->dir, err) < 0 || load_blocks(db, err) < 0) {
        goto fail;
    }
    if (db->n_blocks > 0) {
        db->head.min_valid = db->blocks[db->n_blocks - 1]->maxt;
    }
    if (replay_wal(db, &r->opts, err) < 0) {
        goto fail;
    }
    return db;
fail:
    tenant_free(db);
    return NULL;
}

/* ---- registry -------------------------------------------------------------------------- */

/* A tenant ID usable as a folder name (dskit's rules already exclude '/', "." and ".."; this
 * keeps the store safe when called directly). */
static int tenant_name_ok(const char *t)
{
    return t[0] != '\0' && strcmp(t, ".") != 0 && strcmp(t, "..") != 0 && strchr(t, '/') == NULL;
}

static void *bg_main(void *arg);

static int open_existing(tsdb_registry_t *r, err_t *err)
{
    DIR *d = opendir(r->dir);
    if (d == NULL) {
        return err_set(err, ERR_INTERNAL, "open %s: %s", r->dir, strerror(errno));
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!tenant_name_ok(e->d_name)) {
            continue;
        }
        char *p = path_join(r->dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            tsdb_t *db = tenant_open(r, e->d_name, err);
            rc = db == NULL ? -1 : 0;
            if (db != NULL) {
                hashmap_put(&r->by_tenant, e->d_name, db);
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

tsdb_registry_t *tsdb_registry_open(const tsdb_opts_t *o, err_t *err)
{
    tsdb_registry_t *r = xcalloc(1, sizeof(*r));
    r->opts = *o;
    if (r->opts.block_range_ms <= 0) {
        r->opts.block_range_ms = 2 * 3600 * 1000;
    }
    if (r->opts.wal_segment_bytes == 0) {
        r->opts.wal_segment_bytes = 128u << 20;
    }
    r->dir = xstrdup(o->dir);
    r->opts.dir = r->dir;
    pthread_rwlock_init(&r->mu, NULL);
    pthread_mutex_init(&r->bg_mu, NULL);
    pthread_cond_init(&r->bg_cv, NULL);
    hashmap_init(&r->by_tenant);
    tsdb__metrics_init();
    if (fs_mkdir_p(r->dir, err) < 0 || open_existing(r, err) < 0) {
        tsdb_registry_close(r);
        return NULL;
    }
    if (o->background && pthread_create(&r->bg, NULL, bg_main, r) == 0) {
        r->bg_started = 1;
    }
    return r;
}

void tsdb_registry_close(tsdb_registry_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->bg_started) {
        pthread_mutex_lock(&r->bg_mu);
        r->stopping = 1;
        pthread_cond_signal(&r->bg_cv);
        pthread_mutex_unlock(&r->bg_mu);
        pthread_join(r->bg, NULL);
    }
    hashmap_fini(&r->by_tenant, tenant_free);
    pthread_rwlock_destroy(&r->mu);
    pthread_mutex_destroy(&r->bg_mu);
    pthread_cond_destroy(&r->bg_cv);
    free(r->dir);
    free(r);
}

tsdb_t *tsdb_tenant(tsdb_registry_t *r, const char *tenant, int create, err_t *err)
{
    pthread_rwlock_rdlock(&r->mu);
    tsdb_t *db = hashmap_get(&r->by_tenant, tenant);
    pthread_rwlock_unlock(&r->mu);
    if (db != NULL || !create) {
        return db;
    }
    if (!tenant_name_ok(tenant)) {
        err_set(err, ERR_BAD_DATA, "invalid tenant ID '%s'", tenant);
        return NULL;
    }
    pthread_rwlock_wrlock(&r->mu);
    db = hashmap_get(&r->by_tenant, tenant);
    if (db == NULL) {
        db = tenant_open(r, tenant, err);
        if (db != NULL) {
            hashmap_put(&r->by_tenant, tenant, db);
        }
    }
    pthread_rwlock_unlock(&r->mu);
    return db;
}

queryable_t *tsdb_queryable(tsdb_registry_t *r, const char *tenant)
{
    tsdb_t *db = tsdb_tenant(r, tenant, 0, NULL);
    return db != NULL ? &db->qb : &tsdb__empty_queryable;
}

/* ---- background ------------------------------------------------------------------------ */

/* Snapshot of tenant pointers (tenants are never freed before the registry). */
static tsdb_t **tenants_snapshot(tsdb_registry_t *r, size_t *n)
{
    pthread_rwlock_rdlock(&r->mu);
    size_t cap = hashmap_len(&r->by_tenant) + 1, it = 0, w = 0;
    tsdb_t **v = xmalloc(cap * sizeof(*v));
    const char *k;
    void *val;
    while (hashmap_next(&r->by_tenant, &it, &k, &val)) {
        v[w++] = val;
    }
    pthread_rwlock_unlock(&r->mu);
    *n = w;
    return v;
}

int tsdb_sync(tsdb_t *db, err_t *err)
{
    pthread_rwlock_wrlock(&db->mu);
    int fd = tsdb__wal_sync_fd(&db->wal);
    pthread_rwlock_unlock(&db->mu);
    if (fd < 0) {
        return 0;
    }
    int64_t t0 = time_mono_ms();
    int rc = fdatasync(fd);
    close(fd);
    tsdb__metrics_fsync(time_mono_ms() - t0);
    return rc == 0 ? 0
                   : err_set(err, ERR_INTERNAL, "fsync WAL of %s: %s", db->tenant, strerror(errno));
}

static void bg_round(tsdb_registry_t *r, int maintain)
{
    size_t n;
    tsdb_t **v = tenants_snapshot(r, &n);
    for (size_t i = 0; i < n; i++) {
        err_t err = {0};
        if (tsdb_sync(v[i], &err) < 0 ||
            (maintain && tsdb_maintain(v[i], time_now_ms(), &err) < 0)) {
            LOG_ERROR("TSDB background work failed", KV_STR("tenant", v[i]->tenant),
                      KV_STR("err", err.msg));
        }
    }
    free(v);
}

static int bg_wait(tsdb_registry_t *r, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->bg_mu);
    if (!r->stopping) {
        pthread_cond_timedwait(&r->bg_cv, &r->bg_mu, &ts);
    }
    int stop = r->stopping;
    pthread_mutex_unlock(&r->bg_mu);
    return stop;
}

static void *bg_main(void *arg)
{
    tsdb_registry_t *r = arg;
    int64_t tick = r->opts.wal_fsync_interval_ms > 0 ? r->opts.wal_fsync_interval_ms : 1000;
    int64_t maint_every =
        r->opts.maintenance_interval_ms > 0 ? r->opts.maintenance_interval_ms : 10000;
    int64_t next_maint = time_mono_ms() + maint_every;
    while (!bg_wait(r, tick)) {
        int maintain = time_mono_ms() >= next_maint;
        if (maintain) {
            next_maint = time_mono_ms() + maint_every;
        }
        bg_round(r, maintain);
    }
    bg_round(r, 0); /* final fsync */
    return NULL;
}
