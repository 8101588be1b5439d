/* storage/logstore_read.c - readers of the log store: a snapshot of a tenant's streams for a
 * time range, stream selection by matchers, label names and values, and entry iterators.
 *
 * DESIGN: a reader takes, under the tenant lock, a reference to each stream's labels, head
 * (with its entry count at that moment) and block list; later pushes, cuts and retention
 * replace those objects and never change them, so the reader sees one consistent state.
 * An iterator merges the stream's blocks and its head: blocks are opened (decompressed)
 * only when their first entry in iteration order is due, and freed once exhausted, so a
 * stream read in order holds about one block in memory. Equal timestamps come in push
 * order: blocks in flush order, then the head (reversed when backward). */
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/mem.h"
#include "storage/logstore_int.h"

typedef struct {
    labels_t *labels;
    ls_head_t *head;
    size_t n_head;
    ls_blocks_t *blocks;
} ls_snap_t;

struct logstore_reader {
    ls_tenant_t *t; /* NULL: tenant unknown, reads as empty */
    int64_t from, to;
    ls_snap_t *snaps; /* sorted by labels */
    size_t n;
};

static int snap_cmp(const void *a, const void *b)
{
    return labels_cmp(((const ls_snap_t *)a)->labels, ((const ls_snap_t *)b)->labels);
}

static int stream_in_range(const ls_stream_t *st, int64_t from, int64_t to)
{
    if (st->head->n > 0 && st->head->max_ts >= from && st->head->min_ts < to) {
        return 1;
    }
    for (size_t i = 0; st->blocks != NULL && i < st->blocks->n; i++) {
        if (st->blocks->b[i].max_ts >= from && st->blocks->b[i].min_ts < to) {
            return 1;
        }
    }
    return 0;
}

logstore_reader_t *logstore_reader(logstore_t *s, const char *tenant, int64_t from_ns,
                                   int64_t to_ns, err_t *err)
{
    logstore_reader_t *r = xcalloc(1, sizeof(*r));
    r->from = from_ns;
    r->to = to_ns;
    r->t = ls__tenant_get(s, tenant, 0, err);
    if (r->t == NULL) {
        return r;
    }
    pthread_mutex_lock(&r->t->mu);
    r->snaps = xmalloc((r->t->n_streams + 1) * sizeof(ls_snap_t));
    for (size_t i = 0; i < r->t->n_streams; i++) {
        ls_stream_t *st = r->t->streams[i];
        if (!stream_in_range(st, from_ns, to_ns)) {
            continue;
        }
        atomic_fetch_add(&st->head->refs, 1);
        r->snaps[r->n++] =
            (ls_snap_t){labels_ref(st->labels), st->head, st->head->n, ls__blocks_ref(st->blocks)};
    }
    pthread_mutex_unlock(&r->t->mu);
    qsort(r->snaps, r->n, sizeof(ls_snap_t), snap_cmp);
    return r;
}

void logstore_reader_close(logstore_reader_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        labels_unref(r->snaps[i].labels);
        ls__head_unref(r->snaps[i].head);
        ls__blocks_unref(r->snaps[i].blocks);
    }
    free(r->snaps);
    free(r);
}

static int snap_matches(const ls_snap_t *sn, const matcher_t *const *ms, size_t n_ms)
{
    for (size_t i = 0; i < n_ms; i++) {
        if (!matcher_matches_labels(ms[i], sn->labels)) {
            return 0;
        }
    }
    return 1;
}

int logstore_select(logstore_reader_t *r, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                    log_stream_t **out, size_t *n_out, err_t *err)
{
    log_stream_t *res = arena_alloc(a, (r->n + 1) * sizeof(log_stream_t));
    if (res == NULL) {
        return err_set(err, ERR_EXECUTION, "query memory budget exceeded");
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (snap_matches(&r->snaps[i], ms, n_ms)) {
            res[k++] = (log_stream_t){r->snaps[i].labels, &r->snaps[i]};
        }
    }
    *out = res;
    *n_out = k;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted distinct strings of `set` (keys), copied into the arena. */
static int set_to_sorted(hashmap_t *set, arena_t *a, const char ***out, size_t *n_out, err_t *err)
{
    const char **res = arena_alloc(a, (hashmap_len(set) + 1) * sizeof(char *));
    size_t it = 0, k = 0;
    const char *key;
    void *v;
    while (res != NULL && hashmap_next(set, &it, &key, &v)) {
        res[k++] = arena_strdup(a, key);
    }
    hashmap_fini(set, NULL);
    if (res == NULL) {
        return err_set(err, ERR_EXECUTION, "query memory budget exceeded");
    }
    qsort(res, k, sizeof(char *), cmp_str);
    *out = res;
    *n_out = k;
    return 0;
}

int logstore_label_names(logstore_reader_t *r, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                         const char ***out, size_t *n_out, err_t *err)
{
    hashmap_t set;
    hashmap_init(&set);
    for (size_t i = 0; i < r->n; i++) {
        if (!snap_matches(&r->snaps[i], ms, n_ms)) {
            continue;
        }
        for (size_t j = 0; j < labels_len(r->snaps[i].labels); j++) {
            hashmap_put(&set, labels_at(r->snaps[i].labels, j).name, &set);
        }
    }
    return set_to_sorted(&set, a, out, n_out, err);
}

int logstore_label_values(logstore_reader_t *r, arena_t *a, const char *name,
                          const matcher_t *const *ms, size_t n_ms, const char ***out, size_t *n_out,
                          err_t *err)
{
    hashmap_t set;
    hashmap_init(&set);
    for (size_t i = 0; i < r->n; i++) {
        const char *v = labels_get(r->snaps[i].labels, name);
        if (v != NULL && snap_matches(&r->snaps[i], ms, n_ms)) {
            hashmap_put(&set, v, &set);
        }
    }
    return set_to_sorted(&set, a, out, n_out, err);
}

/* ---- iterator ----------------------------------------------------------------------------- */

typedef struct {
    int64_t ts;
    const uint8_t *rec;
    uint32_t len;
} ent_t;

/* One source: a block (decoded on open) or the head (copied descriptors). */
typedef struct {
    const ls_block_t *b; /* NULL: the head */
    int order;           /* flush order; the head is last */
    int64_t key;         /* first ts in iteration order, for lazy opening */
    uint8_t *data;       /* decompressed block (heap) */
    ent_t *es;
    size_t lo, hi, pos; /* in-range entries are es[lo..hi); pos counts from the start */
} src_t;

struct log_iter {
    int backward;
    int64_t from, to;
    src_t *srcs; /* unopened ones sorted by key (iteration order) */
    size_t n_srcs, next_unopened;
    src_t **open;
    size_t n_open;
    src_t *done; /* exhausted source whose strings the caller may still hold */
    label_t *md;
    size_t md_cap;
    /* Lines emitted at the current timestamp: an entry stored twice (pushed again after
     * its first copy was flushed, or replayed) is returned once, as Loki's merge does. */
    int64_t group_ts;
    uint64_t *group;
    size_t n_group, group_cap;
};

static void src_release(src_t *s)
{
    free(s->data);
    free(s->es);
    s->data = NULL;
    s->es = NULL;
}

static void iter_free(void *p)
{
    log_iter_t *it = p;
    for (size_t i = 0; i < it->n_srcs; i++) {
        src_release(&it->srcs[i]);
    }
    free(it->srcs);
    free(it->open);
    free(it->md);
    free(it->group);
}

/* Narrows es[0..n) (sorted) to the range, and sets the start position. */
static void src_bounds(log_iter_t *it, src_t *s, size_t n)
{
    s->lo = 0;
    while (s->lo < n && s->es[s->lo].ts < it->from) {
        s->lo++;
    }
    s->hi = n;
    while (s->hi > s->lo && s->es[s->hi - 1].ts >= it->to) {
        s->hi--;
    }
    s->pos = 0;
}

static int src_open_block(log_iter_t *it, src_t *s, err_t *err)
{
    if (ls__block_read(s->b, &s->data, err) < 0) {
        return -1;
    }
    s->es = xmalloc((s->b->n + 1) * sizeof(ent_t));
    size_t off = 0, n = 0;
    log_entry_t e;
    while (off < s->b->ulen && n < s->b->n) {
        size_t used = ls__rec_decode(s->data + off, s->b->ulen - off, &e, &it->md, &it->md_cap);
        if (used == 0) {
            return err_set(err, ERR_INTERNAL, "log chunk %s: corrupt record", s->b->file->path);
        }
        s->es[n++] = (ent_t){e.ts_ns, s->data + off, (uint32_t)used};
        off += used;
    }
    src_bounds(it, s, n);
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const src_t *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->order - y->order;
}

/* Head source: the descriptors of the snapshot's entries, copied under the tenant lock
 * (the descriptor array may be reallocated by concurrent pushes). */
static void head_source(logstore_reader_t *r, const ls_snap_t *sn, log_iter_t *it, src_t *s)
{
    pthread_mutex_lock(&r->t->mu);
    uint32_t *idx;
    size_t n = ls__head_sorted(sn->head, sn->n_head, r->from, r->to, &idx);
    s->es = xmalloc((n + 1) * sizeof(ent_t));
    for (size_t i = 0; i < n; i++) {
        const ls_hentry_t *e = &sn->head->entries[idx[i]];
        s->es[i] = (ent_t){e->ts, e->rec, e->rec_len};
    }
    pthread_mutex_unlock(&r->t->mu);
    free(idx);
    s->lo = 0;
    s->hi = n;
    s->pos = 0;
}

log_iter_t *logstore_iter(logstore_reader_t *r, arena_t *a, const log_stream_t *st, int backward,
                          err_t *err)
{
    log_iter_t *it = arena_calloc(a, sizeof(*it));
    if (it == NULL || arena_on_free(a, iter_free, it) < 0) {
        err_set(err, ERR_EXECUTION, "query memory budget exceeded");
        return NULL;
    }
    const ls_snap_t *sn = st->ref;
    size_t nb = sn->blocks != NULL ? sn->blocks->n : 0;
    it->backward = backward;
    it->from = r->from;
    it->to = r->to;
    it->srcs = xcalloc(nb + 1, sizeof(src_t));
    it->open = xcalloc(nb + 1, sizeof(src_t *));
    for (size_t i = 0; i < nb; i++) {
        const ls_block_t *b = &sn->blocks->b[i];
        if (b->max_ts >= r->from && b->min_ts < r->to) {
            it->srcs[it->n_srcs++] = (src_t){.b = b,
                                             .order = backward ? -(int)i : (int)i,
                                             .key = backward ? -b->max_ts : b->min_ts};
        }
    }
    src_t *h = &it->srcs[it->n_srcs++];
    *h = (src_t){.order = backward ? -(int)nb : (int)nb};
    head_source(r, sn, it, h);
    h->key = h->lo == h->hi ? INT64_MAX : (backward ? -h->es[h->hi - 1].ts : h->es[h->lo].ts);
    qsort(it->srcs, it->n_srcs, sizeof(src_t), key_cmp);
    return it;
}

static int64_t src_ts(const log_iter_t *it, const src_t *s)
{
    return it->backward ? -s->es[s->hi - 1 - s->pos].ts : s->es[s->lo + s->pos].ts;
}

static const ent_t *src_cur(const log_iter_t *it, const src_t *s)
{
    return it->backward ? &s->es[s->hi - 1 - s->pos] : &s->es[s->lo + s->pos];
}

/* The open source to emit from next (smallest key, then order), or NULL. */
static src_t *best_open(const log_iter_t *it)
{
    src_t *best = NULL;
    for (size_t i = 0; i < it->n_open; i++) {
        src_t *s = it->open[i];
        if (best == NULL || src_ts(it, s) < src_ts(it, best) ||
            (src_ts(it, s) == src_ts(it, best) && s->order < best->order)) {
            best = s;
        }
    }
    return best;
}

/* Opens unopened sources that may hold an entry due before `best`. */
static int open_due(log_iter_t *it, err_t *err)
{
    for (;;) {
        src_t *best = best_open(it);
        if (it->next_unopened >= it->n_srcs) {
            return 0;
        }
        src_t *s = &it->srcs[it->next_unopened];
        if (best != NULL && s->key > src_ts(it, best)) {
            return 0;
        }
        it->next_unopened++;
        if (s->b != NULL && src_open_block(it, s, err) < 0) {
            return -1;
        }
        if (s->lo < s->hi) {
            it->open[it->n_open++] = s;
        } else {
            src_release(s);
        }
    }
}

static void close_open(log_iter_t *it, src_t *s)
{
    for (size_t i = 0; i < it->n_open; i++) {
        if (it->open[i] == s) {
            it->open[i] = it->open[--it->n_open];
            break;
        }
    }
    it->done = s;
}

/* 1 if the entry was already emitted in the current timestamp group (else records it). */
static int seen_in_group(log_iter_t *it, const log_entry_t *e)
{
    uint64_t h = hash_bytes(e->line, e->len, 0x5eed);
    if (it->n_group == 0 || e->ts_ns != it->group_ts) {
        it->n_group = 0;
        it->group_ts = e->ts_ns;
    }
    for (size_t i = 0; i < it->n_group; i++) {
        if (it->group[i] == h) {
            return 1;
        }
    }
    xgrow((void **)&it->group, &it->group_cap, it->n_group + 1, sizeof(uint64_t));
    it->group[it->n_group++] = h;
    return 0;
}

int log_iter_next(log_iter_t *it, log_entry_t *out, err_t *err)
{
    for (;;) {
        if (it->done != NULL) {
            src_release(it->done);
            it->done = NULL;
        }
        if (open_due(it, err) < 0) {
            return -1;
        }
        src_t *s = best_open(it);
        if (s == NULL) {
            return 0;
        }
        const ent_t *e = src_cur(it, s);
        if (ls__rec_decode(e->rec, e->len, out, &it->md, &it->md_cap) == 0) {
            return err_set(err, ERR_INTERNAL, "log store: corrupt entry record");
        }
        if (++s->pos >= s->hi - s->lo) {
            close_open(it, s);
        }
        if (!seen_in_group(it, out)) {
            return 1;
        }
    }
}
