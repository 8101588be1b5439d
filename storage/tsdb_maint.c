/* storage/tsdb_maint.c - maintenance of a tenant TSDB: cutting the head into blocks,
 * compacting blocks, retention, and stats.
 *
 * DESIGN (cut): when the head spans more than 1.5 block ranges, its oldest aligned range
 * [a, b) is cut. Under the write lock: min_valid moves to b (later appends before b are
 * "too old"), open chunks of that range are closed and the chunk descriptors gathered
 * (their bytes stay put: only this thread frees them). The block is written and opened
 * without the lock. Under the write lock again: the block joins the list, the head drops
 * the chunks and the series left empty, and the WAL gets a checkpoint of the live series
 * and loses the segments whose samples are all before b. A crash between the steps is
 * safe: replay skips samples before the newest block's end.
 * DESIGN (compaction): blocks inside one aligned window of 3 (then 12) block ranges are
 * merged once the head has moved past the window. maint_mu serialises maintenance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "storage/tsdb_int.h"

static int64_t floor_div(int64_t t, int64_t r)
{
    int64_t q = t / r;
    return (t % r != 0 && t < 0) ? q - 1 : q;
}

static char *blocks_dir(const tsdb_t *db)
{
    size_t n = strlen(db->dir) + 8;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/blocks", db->dir);
    return p;
}

static int cmp_bwrite(const void *a, const void *b)
{
    const tsdb_bwrite_t *x = a, *y = b;
    return labels_cmp(x->labels, y->labels);
}

/* Chunks of s for the block ending at b: its closed chunks before b, re-encoded together
 * with its out-of-order samples before b when it has any. */
static int series_block_chunks(const tsdb_hseries_t *s, int64_t b, tsdb_bwrite_t *w)
{
    uint32_t k = 0, n_ooo = 0;
    while (k < s->n_closed && s->closed[k].maxt < b) {
        k++;
    }
    while (n_ooo < s->n_ooo && s->ooo[n_ooo].t < b) {
        n_ooo++;
    }
    if (k == 0 && n_ooo == 0) {
        return 0;
    }
    if (n_ooo == 0) {
        tsdb_chunk_t *cs = xmalloc(k * sizeof(*cs));
        memcpy(cs, s->closed, k * sizeof(*cs));
        w->chunks = cs;
        w->n = k;
        return 1;
    }
    sample_t *merged;
    size_t n = tsdb__merge_samples(s->closed, k, s->ooo, n_ooo, INT64_MIN, b - 1, &merged);
    tsdb_chunk_t *cs;
    w->n = tsdb__encode_chunks(merged, n, &cs);
    w->chunks = cs;
    w->owns_data = 1;
    free(merged);
    return 1;
}

/* Under the write lock: what every series contributes to the block ending at b. */
static tsdb_bwrite_t *gather(tsdb_head_t *h, int64_t b, size_t *n_out)
{
    tsdb_bwrite_t *out = xcalloc(h->ix.n_live + 1, sizeof(*out));
    size_t n = 0;
    for (uint32_t id = 0; id < h->ix.n; id++) {
        tsdb_hseries_t *s = h->series[id];
        if (s != NULL && series_block_chunks(s, b, &out[n])) {
            out[n++].labels = labels_ref(h->ix.labels[id]);
        }
    }
    *n_out = n;
    return out;
}

static void bwrite_free(tsdb_bwrite_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        labels_unref(v[i].labels);
        for (size_t k = 0; v[i].owns_data && k < v[i].n; k++) {
            free((void *)v[i].chunks[k].data);
        }
        free((void *)v[i].chunks);
    }
    free(v);
}

static void checkpoint_records(const tsdb_head_t *h, int compress, buf_t *framed)
{
    buf_t payload;
    buf_init(&payload);
    for (uint32_t id = 0; id < h->ix.n; id++) {
        if (h->ix.labels[id] != NULL) {
            tsdb__series_record(&payload, id, h->ix.labels[id]);
        }
        if (payload.len > (1u << 20) || (id + 1 == h->ix.n && payload.len > 0)) {
            tsdb__wal_frame(framed, TSDB_WAL_SERIES, &payload, compress);
            buf_reset(&payload);
        }
    }
    buf_fini(&payload);
}

/* Installs the block and truncates head + WAL. Under the write lock. */
static int finish_cut(tsdb_t *db, tsdb_block_t *blk, int64_t b, size_t *removed, err_t *err)
{
    tsdb__blocks_add(db, blk);
    uint32_t live = db->head.ix.n_live;
    tsdb__head_truncate(&db->head, b);
    *removed += live - db->head.ix.n_live;
    buf_t framed;
    buf_init(&framed);
    checkpoint_records(&db->head, db->wal.compress, &framed);
    int rc = tsdb__wal_checkpoint(&db->wal, &framed, b, err);
    buf_fini(&framed);
    return rc;
}

/* 1 when a block was cut, 0 when nothing to do, -1 on error. */
static int cut_once(tsdb_t *db, size_t *removed, err_t *err)
{
    tsdb_head_t *h = &db->head;
    pthread_rwlock_wrlock(&db->mu);
    if (h->mint == INT64_MAX || h->maxt - h->mint < h->range_ms * 3 / 2) {
        pthread_rwlock_unlock(&db->mu);
        return 0;
    }
    int64_t a = floor_div(h->mint, h->range_ms) * h->range_ms, b = a + h->range_ms;
    if (b > h->min_valid) {
        h->min_valid = b;
    }
    tsdb__head_close_chunks(h, b);
    size_t n;
    tsdb_bwrite_t *ws = gather(h, b, &n);
    pthread_rwlock_unlock(&db->mu);

    qsort(ws, n, sizeof(*ws), cmp_bwrite);
    char *bdir = blocks_dir(db), *path = NULL;
    tsdb_block_t *blk = NULL;
    if (n > 0 && tsdb__block_write(bdir, a, b, ws, n, &path, err) == 0) {
        blk = tsdb__block_open(path, err);
    }
    free(path);
    free(bdir);
    bwrite_free(ws, n);
    if (n > 0 && blk == NULL) {
        return -1;
    }
    pthread_rwlock_wrlock(&db->mu);
    int rc = blk != NULL ? finish_cut(db, blk, b, removed, err) : 0;
    if (blk == NULL) {
        tsdb__head_truncate(h, b); /* nothing in range: just move on */
    }
    pthread_rwlock_unlock(&db->mu);
    if (rc == 0 && blk != NULL) {
        LOG_INFO("head cut into block", KV_STR("tenant", db->tenant), KV_INT("mint", a),
                 KV_INT("maxt", b), KV_INT("series", n));
    }
    return rc < 0 ? -1 : 1;
}

/* ---- compaction ------------------------------------------------------------------------ */

/* Replaces blocks [from, to) of the list by `merged`. Under the write lock. */
static void swap_blocks(tsdb_t *db, size_t from, size_t to, tsdb_block_t *merged)
{
    for (size_t i = from; i < to; i++) {
        db->blocks[i]->deleted = 1;
        tsdb__block_unref(db->blocks[i]);
    }
    memmove(db->blocks + from + 1, db->blocks + to, (db->n_blocks - to) * sizeof(*db->blocks));
    db->blocks[from] = merged;
    db->n_blocks -= to - from - 1;
}

/* Finds a run of >= 2 blocks inside one aligned window that the head has left behind. */
static int find_run(tsdb_t *db, int64_t window, size_t *from, size_t *to)
{
    for (size_t i = 0; i < db->n_blocks; i++) {
        int64_t ws = floor_div(db->blocks[i]->mint, window) * window;
        size_t j = i;
        while (j < db->n_blocks && db->blocks[j]->maxt <= ws + window) {
            j++;
        }
        if (j - i >= 2 && ws + window <= db->head.min_valid) {
            *from = i;
            *to = j;
            return 1;
        }
    }
    return 0;
}

static int compact_once(tsdb_t *db, int64_t window, err_t *err)
{
    size_t from, to;
    pthread_rwlock_rdlock(&db->mu);
    int found = find_run(db, window, &from, &to);
    tsdb_block_t **run = NULL;
    if (found) {
        run = xmalloc((to - from) * sizeof(*run));
        for (size_t i = from; i < to; i++) {
            run[i - from] = tsdb__block_ref(db->blocks[i]);
        }
    }
    pthread_rwlock_unlock(&db->mu);
    if (!found) {
        return 0;
    }
    char *bdir = blocks_dir(db);
    tsdb_block_t *merged =
        tsdb__block_merge(bdir, run, to - from, run[0]->mint, run[to - from - 1]->maxt, err);
    free(bdir);
    if (merged != NULL) {
        pthread_rwlock_wrlock(&db->mu);
        /* Only this thread changes the list's blocks, so the run is still at [from, to). */
        swap_blocks(db, from, to, merged);
        pthread_rwlock_unlock(&db->mu);
    }
    for (size_t i = 0; i < to - from; i++) {
        tsdb__block_unref(run[i]);
    }
    free(run);
    return merged != NULL ? 1 : -1;
}

static int retention(tsdb_t *db, int64_t now)
{
    if (db->retention_ms <= 0) {
        return 0;
    }
    int n_deleted = 0;
    pthread_rwlock_wrlock(&db->mu);
    while (db->n_blocks > 0 && db->blocks[0]->maxt <= now - db->retention_ms) {
        db->blocks[0]->deleted = 1;
        tsdb__block_unref(db->blocks[0]);
        memmove(db->blocks, db->blocks + 1, (db->n_blocks - 1) * sizeof(*db->blocks));
        db->n_blocks--;
        n_deleted++;
    }
    pthread_rwlock_unlock(&db->mu);
    return n_deleted;
}

int tsdb_maintain(tsdb_t *db, int64_t now_ms, err_t *err)
{
    static const int64_t levels[] = {3, 12};
    int rc = 0, cuts = 0, compactions = 0;
    size_t removed = 0;
    pthread_mutex_lock(&db->maint_mu);
    while ((rc = cut_once(db, &removed, err)) == 1) {
        cuts++;
    }
    for (size_t l = 0; rc == 0 && l < sizeof(levels) / sizeof(levels[0]); l++) {
        while ((rc = compact_once(db, levels[l] * db->head.range_ms, err)) == 1) {
            compactions++;
        }
    }
    int deleted = retention(db, now_ms);
    if (deleted > 0) {
        LOG_INFO("retention deleted blocks", KV_STR("tenant", db->tenant),
                 KV_INT("blocks", deleted));
    }
    pthread_rwlock_rdlock(&db->mu);
    tsdb__metrics_maint(db, compactions, cuts, removed);
    pthread_rwlock_unlock(&db->mu);
    pthread_mutex_unlock(&db->maint_mu);
    return rc < 0 ? -1 : 0;
}

void tsdb_stats(tsdb_t *db, tsdb_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&db->mu);
    out->n_series = db->head.ix.n_live;
    out->n_head_chunks = db->head.n_chunks;
    out->n_blocks = db->n_blocks;
    out->head_mint = db->head.mint;
    out->head_maxt = db->head.maxt;
    out->blocks_mint = db->n_blocks > 0 ? db->blocks[0]->mint : INT64_MAX;
    out->blocks_maxt = db->n_blocks > 0 ? db->blocks[db->n_blocks - 1]->maxt : INT64_MIN;
    out->wal_bytes = db->wal.total_bytes;
    for (size_t i = 0; i < db->n_blocks; i++) {
        out->block_bytes += db->blocks[i]->map_len;
        for (size_t k = 0; k < db->blocks[i]->n_chunks; k++) {
            out->block_chunk_bytes += db->blocks[i]->chunks[k].len;
        }
    }
    pthread_rwlock_unlock(&db->mu);
}
