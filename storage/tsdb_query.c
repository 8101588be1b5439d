/* storage/tsdb_query.c - the querier of a tenant TSDB (storage/querier.h over head + blocks).
 *
 * DESIGN: a querier references the blocks overlapping its range when it is created, so
 * compaction or retention cannot unmap them under it. The head is read under the tenant's
 * read lock only for short moments: select copies label-set pointers (taking references,
 * since head garbage collection may drop series), and iter copies the series' head chunk
 * bytes into the query arena (an allocation per series, never per sample). Label sets are
 * interned, so the same series in the head and in several blocks is one pointer; select
 * merges by sorting and dropping equal neighbours. Iterators walk the chunk list in time
 * order and drop any sample not after the previous one (overlaps at block edges). A series
 * with out-of-order head samples in range is merged once into a sorted array instead. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "storage/tsdb_int.h"

typedef struct {
    querier_t base;
    tsdb_t *db; /* NULL: unknown tenant, selects nothing */
    tsdb_block_t **blocks;
    size_t n_blocks;
    labels_t **held;
    size_t n_held, cap_held;
} tq_t;

typedef struct {
    series_iter_t base;
    const sample_t *arr; /* merged samples (out-of-order case); NULL: decode chunks */
    size_t n_arr, pos;
    const tsdb_chunk_t *chunks;
    size_t n, next_chunk;
    tsdb_xor_dec_t dec;
    int in_chunk, done, has_cur;
    int64_t mint, maxt, last_t;
    sample_t cur;
} titer_t;

static int overlaps(int64_t amin, int64_t amax, int64_t bmin, int64_t bmax)
{
    return amin <= bmax && bmin <= amax;
}

/* ---- iterator ------------------------------------------------------------------------- */

static int iter_step(titer_t *it, int64_t skip_before, sample_t *out, err_t *err)
{
    for (;;) {
        if (!it->in_chunk) {
            while (it->next_chunk < it->n && it->chunks[it->next_chunk].maxt < skip_before) {
                it->next_chunk++;
            }
            if (it->next_chunk >= it->n) {
                it->done = 1;
                return 0;
            }
            const tsdb_chunk_t *c = &it->chunks[it->next_chunk++];
            tsdb__xor_dec_init(&it->dec, c->data, c->len, c->n);
            it->in_chunk = 1;
        }
        int64_t t;
        double v;
        int rc = tsdb__xor_next(&it->dec, &t, &v);
        if (rc < 0) {
            return err_set(err, ERR_INTERNAL, "corrupt chunk");
        }
        if (rc == 0) {
            it->in_chunk = 0;
            continue;
        }
        if (t < skip_before || (it->has_cur && t <= it->last_t)) {
            continue;
        }
        if (t > it->maxt) {
            it->done = 1;
            return 0;
        }
        it->last_t = t;
        it->has_cur = 1;
        it->cur = (sample_t){t, v};
        *out = it->cur;
        return 1;
    }
}

static int arr_step(titer_t *it, int64_t skip_before, sample_t *out)
{
    while (it->pos < it->n_arr && it->arr[it->pos].t < skip_before) {
        it->pos++;
    }
    if (it->pos >= it->n_arr) {
        it->done = 1;
        return 0;
    }
    it->cur = it->arr[it->pos++];
    it->has_cur = 1;
    *out = it->cur;
    return 1;
}

static int iter_next(series_iter_t *base, sample_t *out, err_t *err)
{
    titer_t *it = (titer_t *)base;
    if (it->done) {
        return 0;
    }
    return it->arr != NULL ? arr_step(it, it->mint, out) : iter_step(it, it->mint, out, err);
}

static int iter_seek(series_iter_t *base, int64_t ts, sample_t *out, err_t *err)
{
    titer_t *it = (titer_t *)base;
    if (it->has_cur && it->cur.t >= ts) {
        *out = it->cur;
        return 1;
    }
    if (it->done) {
        return 0;
    }
    int64_t from = ts > it->mint ? ts : it->mint;
    return it->arr != NULL ? arr_step(it, from, out) : iter_step(it, from, out, err);
}

static const series_iter_ops_t titer_ops = {iter_next, iter_seek};

/* ---- chunk gathering ------------------------------------------------------------------- */

typedef struct {
    tsdb_chunk_t *v;
    size_t n, cap;
} chunk_vec_t;

static void vec_push(arena_t *a, chunk_vec_t *cv, tsdb_chunk_t c)
{
    if (cv->n == cv->cap) {
        size_t nc = cv->cap == 0 ? 8 : cv->cap * 2;
        cv->v = arena_realloc(a, cv->v, cv->cap * sizeof(*cv->v), nc * sizeof(*cv->v));
        cv->cap = nc;
    }
    cv->v[cv->n++] = c;
}

static void block_chunks(tq_t *q, arena_t *a, const tsdb_block_t *b, const labels_t *ls,
                         chunk_vec_t *cv)
{
    int64_t id = tsdb__index_find(&b->ix, ls);
    if (id < 0) {
        return;
    }
    const tsdb_bseries_t *s = &b->series[id];
    for (uint32_t k = 0; k < s->n; k++) {
        const tsdb_chunk_t *c = &b->chunks[s->first + k];
        if (overlaps(c->mint, c->maxt, q->base.mint, q->base.maxt)) {
            vec_push(a, cv, *c);
        }
    }
}

static tsdb_chunk_t copy_chunk(arena_t *a, const uint8_t *data, uint32_t len, uint32_t n,
                               int64_t mint, int64_t maxt)
{
    uint8_t *copy = arena_alloc(a, len == 0 ? 1 : len);
    if (copy != NULL && len > 0) {
        memcpy(copy, data, len);
    }
    return (tsdb_chunk_t){copy, copy == NULL ? 0 : len, copy == NULL ? 0 : n, mint, maxt};
}

/* Under the read lock: the series' out-of-order samples within the range, copied. */
static void head_ooo(tq_t *q, arena_t *a, const tsdb_hseries_t *s, sample_t **out, size_t *n)
{
    uint32_t from = 0, to = s->n_ooo;
    while (from < to && s->ooo[from].t < q->base.mint) {
        from++;
    }
    while (to > from && s->ooo[to - 1].t > q->base.maxt) {
        to--;
    }
    *n = 0;
    *out = to > from ? arena_alloc(a, (to - from) * sizeof(**out)) : NULL;
    if (*out != NULL) {
        memcpy(*out, s->ooo + from, (to - from) * sizeof(**out));
        *n = to - from;
    }
}

/* Under the read lock. */
static void head_chunks(tq_t *q, arena_t *a, const labels_t *ls, chunk_vec_t *cv, sample_t **ooo,
                        size_t *n_ooo)
{
    const tsdb_head_t *h = &q->db->head;
    int64_t id = tsdb__index_find(&h->ix, ls);
    if (id < 0 || h->series[id] == NULL) {
        return;
    }
    const tsdb_hseries_t *s = h->series[id];
    for (uint32_t k = 0; k < s->n_closed; k++) {
        const tsdb_chunk_t *c = &s->closed[k];
        if (overlaps(c->mint, c->maxt, q->base.mint, q->base.maxt)) {
            vec_push(a, cv, copy_chunk(a, c->data, c->len, c->n, c->mint, c->maxt));
        }
    }
    if (s->open.n > 0 && overlaps(s->open.mint, s->open.t, q->base.mint, q->base.maxt)) {
        vec_push(a, cv,
                 copy_chunk(a, s->open.buf, (s->open.nbits + 7) / 8, s->open.n, s->open.mint,
                            s->open.t));
    }
    head_ooo(q, a, s, ooo, n_ooo);
}

static series_iter_t *q_iter(querier_t *base, arena_t *a, const series_t *s, err_t *err)
{
    tq_t *q = (tq_t *)base;
    chunk_vec_t cv = {NULL, 0, 0};
    sample_t *ooo = NULL;
    size_t n_ooo = 0;
    if (q->db != NULL) {
        for (size_t i = 0; i < q->n_blocks; i++) {
            block_chunks(q, a, q->blocks[i], s->labels, &cv);
        }
        pthread_rwlock_rdlock(&q->db->mu);
        head_chunks(q, a, s->labels, &cv, &ooo, &n_ooo);
        pthread_rwlock_unlock(&q->db->mu);
    }
    titer_t *it = arena_calloc(a, sizeof(*it));
    if (it == NULL) {
        err_set(err, ERR_EXECUTION, "query memory budget exceeded");
        return NULL;
    }
    if (n_ooo > 0) {
        sample_t *merged;
        it->n_arr =
            tsdb__merge_samples(cv.v, cv.n, ooo, n_ooo, q->base.mint, q->base.maxt, &merged);
        it->arr = merged;
        arena_on_free(a, free, merged);
    }
    it->base.ops = &titer_ops;
    it->chunks = cv.v;
    it->n = cv.n;
    it->mint = q->base.mint;
    it->maxt = q->base.maxt;
    return &it->base;
}

/* ---- select ---------------------------------------------------------------------------- */

typedef struct {
    const labels_t **v;
    size_t n, cap;
} ls_vec_t;

static void ls_push(arena_t *a, ls_vec_t *lv, const labels_t *ls)
{
    if (lv->n == lv->cap) {
        size_t nc = lv->cap == 0 ? 64 : lv->cap * 2;
        lv->v = arena_realloc(a, lv->v, lv->cap * sizeof(*lv->v), nc * sizeof(*lv->v));
        lv->cap = nc;
    }
    lv->v[lv->n++] = ls;
}

static void hold(tq_t *q, labels_t *ls)
{
    xgrow((void **)&q->held, &q->cap_held, q->n_held + 1, sizeof(*q->held));
    q->held[q->n_held++] = labels_ref(ls);
}

/* Chunk by chunk, as Prometheus: a series whose gap spans the range has nothing in it. */
static int head_series_overlaps(const tq_t *q, const tsdb_hseries_t *s)
{
    for (uint32_t k = 0; k < s->n_closed; k++) {
        if (overlaps(s->closed[k].mint, s->closed[k].maxt, q->base.mint, q->base.maxt)) {
            return 1;
        }
    }
    if (s->open.n > 0 && overlaps(s->open.mint, s->open.t, q->base.mint, q->base.maxt)) {
        return 1;
    }
    for (uint32_t k = 0; k < s->n_ooo; k++) {
        if (s->ooo[k].t >= q->base.mint && s->ooo[k].t <= q->base.maxt) {
            return 1;
        }
    }
    return 0;
}

static int select_head(tq_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms, ls_vec_t *lv,
                       err_t *err)
{
    tsdb_head_t *h = &q->db->head;
    pthread_rwlock_rdlock(&q->db->mu);
    int rc = 0;
    if (overlaps(h->mint, h->maxt, q->base.mint, q->base.maxt)) {
        uint32_t *ids;
        size_t n;
        rc = tsdb__index_select(&h->ix, a, ms, n_ms, &ids, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (h->series[ids[i]] != NULL && head_series_overlaps(q, h->series[ids[i]])) {
                hold(q, h->ix.labels[ids[i]]);
                ls_push(a, lv, h->ix.labels[ids[i]]);
            }
        }
    }
    pthread_rwlock_unlock(&q->db->mu);
    return rc;
}

static int block_series_overlaps(const tq_t *q, const tsdb_block_t *b, uint32_t id)
{
    const tsdb_bseries_t *s = &b->series[id];
    for (uint32_t k = 0; k < s->n; k++) {
        const tsdb_chunk_t *c = &b->chunks[s->first + k];
        if (overlaps(c->mint, c->maxt, q->base.mint, q->base.maxt)) {
            return 1;
        }
    }
    return 0;
}

static int select_block(tq_t *q, arena_t *a, const tsdb_block_t *b, const matcher_t *const *ms,
                        size_t n_ms, ls_vec_t *lv, err_t *err)
{
    uint32_t *ids;
    size_t n;
    if (tsdb__index_select(&b->ix, a, ms, n_ms, &ids, &n, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (block_series_overlaps(q, b, ids[i])) {
            ls_push(a, lv, b->ix.labels[ids[i]]);
        }
    }
    return 0;
}

static int cmp_ls(const void *a, const void *b)
{
    const labels_t *x = *(const labels_t *const *)a, *y = *(const labels_t *const *)b;
    return x == y ? 0 : labels_cmp(x, y);
}

/* Sorted, de-duplicated label sets of matching series from every source. */
static int select_labels(tq_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms, ls_vec_t *lv,
                         err_t *err)
{
    memset(lv, 0, sizeof(*lv));
    if (q->db == NULL) {
        return 0;
    }
    for (size_t i = 0; i < q->n_blocks; i++) {
        if (select_block(q, a, q->blocks[i], ms, n_ms, lv, err) < 0) {
            return -1;
        }
    }
    if (select_head(q, a, ms, n_ms, lv, err) < 0) {
        return -1;
    }
    if (err_is_set(err)) {
        return -1; /* the arena went over budget */
    }
    if (lv->n > 1) {
        qsort(lv->v, lv->n, sizeof(*lv->v), cmp_ls);
        size_t w = 1;
        for (size_t i = 1; i < lv->n; i++) {
            if (lv->v[i] != lv->v[w - 1] && !labels_equal(lv->v[i], lv->v[w - 1])) {
                lv->v[w++] = lv->v[i];
            }
        }
        lv->n = w;
    }
    return 0;
}

static int q_select(querier_t *base, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                    series_t **out, size_t *n_out, err_t *err)
{
    tq_t *q = (tq_t *)base;
    ls_vec_t lv;
    if (select_labels(q, a, ms, n_ms, &lv, err) < 0) {
        return -1;
    }
    series_t *ss = arena_alloc(a, (lv.n + 1) * sizeof(*ss));
    if (ss == NULL) {
        return err_set(err, ERR_EXECUTION, "query memory budget exceeded");
    }
    for (size_t i = 0; i < lv.n; i++) {
        ss[i].labels = lv.v[i];
        ss[i].ref = NULL;
    }
    *out = ss;
    *n_out = lv.n;
    return 0;
}

/* ---- label names and values ------------------------------------------------------------ */

typedef struct {
    const char **v;
    size_t n, cap;
} str_vec_t;

static void strs_from_series(arena_t *a, const ls_vec_t *lv, const char *name, str_vec_t *sv)
{
    for (size_t i = 0; i < lv->n; i++) {
        size_t nl = labels_len(lv->v[i]);
        for (size_t k = 0; k < nl; k++) {
            label_t l = labels_at(lv->v[i], k);
            if (name == NULL || strcmp(l.name, name) == 0) {
                const char *s = name == NULL ? l.name : l.value;
                if (sv->n == sv->cap) {
                    size_t nc = sv->cap == 0 ? 64 : sv->cap * 2;
                    sv->v = arena_realloc(a, (void *)sv->v, sv->cap * sizeof(char *),
                                          nc * sizeof(char *));
                    sv->cap = nc;
                }
                sv->v[sv->n++] = arena_strdup(a, s);
            }
        }
    }
}

/* All names (name == NULL) or values of `name` in every source overlapping the range. */
static void strs_from_indexes(tq_t *q, arena_t *a, const char *name, str_vec_t *sv)
{
    for (size_t i = 0; i < q->n_blocks; i++) {
        if (name == NULL) {
            tsdb__index_names(&q->blocks[i]->ix, a, &sv->v, &sv->n, &sv->cap);
        } else {
            tsdb__index_values(&q->blocks[i]->ix, a, name, &sv->v, &sv->n, &sv->cap);
        }
    }
    tsdb_head_t *h = &q->db->head;
    pthread_rwlock_rdlock(&q->db->mu);
    if (overlaps(h->mint, h->maxt, q->base.mint, q->base.maxt)) {
        if (name == NULL) {
            tsdb__index_names(&h->ix, a, &sv->v, &sv->n, &sv->cap);
        } else {
            tsdb__index_values(&h->ix, a, name, &sv->v, &sv->n, &sv->cap);
        }
    }
    pthread_rwlock_unlock(&q->db->mu);
}

static int label_strs(tq_t *q, arena_t *a, const char *name, const matcher_t *const *ms,
                      size_t n_ms, const char ***out, size_t *n_out, err_t *err)
{
    str_vec_t sv = {NULL, 0, 0};
    if (q->db != NULL && n_ms == 0) {
        strs_from_indexes(q, a, name, &sv);
    } else if (q->db != NULL) {
        ls_vec_t lv;
        if (select_labels(q, a, ms, n_ms, &lv, err) < 0) {
            return -1;
        }
        strs_from_series(a, &lv, name, &sv);
    }
    if (err_is_set(err)) {
        return -1;
    }
    *n_out = tsdb_sort_unique_strs(sv.v, sv.n);
    *out = sv.v;
    return 0;
}

static int q_label_names(querier_t *base, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                         const char ***out, size_t *n_out, err_t *err)
{
    return label_strs((tq_t *)base, a, NULL, ms, n_ms, out, n_out, err);
}

static int q_label_values(querier_t *base, arena_t *a, const char *name, const matcher_t *const *ms,
                          size_t n_ms, const char ***out, size_t *n_out, err_t *err)
{
    return label_strs((tq_t *)base, a, name, ms, n_ms, out, n_out, err);
}

static void q_close(querier_t *base)
{
    tq_t *q = (tq_t *)base;
    if (q == NULL) {
        return;
    }
    for (size_t i = 0; i < q->n_blocks; i++) {
        tsdb__block_unref(q->blocks[i]);
    }
    for (size_t i = 0; i < q->n_held; i++) {
        labels_unref(q->held[i]);
    }
    free(q->held);
    free(q->blocks);
    free(q);
}

static const querier_ops_t tq_ops = {q_select, q_iter, q_label_names, q_label_values, q_close};

querier_t *tsdb__querier_new(tsdb_t *db, int64_t mint, int64_t maxt)
{
    tq_t *q = xcalloc(1, sizeof(*q));
    q->base.ops = &tq_ops;
    q->base.mint = mint;
    q->base.maxt = maxt;
    q->db = db;
    if (db == NULL) {
        return &q->base;
    }
    pthread_rwlock_rdlock(&db->mu);
    q->blocks = xcalloc(db->n_blocks + 1, sizeof(*q->blocks));
    for (size_t i = 0; i < db->n_blocks; i++) {
        tsdb_block_t *b = db->blocks[i];
        /* Blocks are [mint, maxt): the last millisecond is maxt - 1. */
        if (overlaps(b->mint, b->maxt - 1, mint, maxt)) {
            q->blocks[q->n_blocks++] = tsdb__block_ref(b);
        }
    }
    pthread_rwlock_unlock(&db->mu);
    return &q->base;
}

static querier_t *qb_querier(queryable_t *qb, int64_t mint, int64_t maxt, err_t *err)
{
    /* tsdb_t embeds its queryable first; the empty queryable is not inside a tsdb_t. */
    tsdb_t *db = qb == &tsdb__empty_queryable ? NULL : (tsdb_t *)qb;
    return tsdb__querier_new(db, mint, maxt);
}

const queryable_ops_t tsdb__queryable_ops = {qb_querier};
queryable_t tsdb__empty_queryable = {&tsdb__queryable_ops};
