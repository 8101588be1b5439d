/* storage/tsdb_head.c - the in-memory head of a tenant TSDB: series with their XOR chunks.
 *
 * DESIGN: each series has closed chunks (exact-size heap bytes) and one open chunk being
 * appended to. A chunk is closed at 120 samples or when a sample crosses the end of the
 * block range the chunk started in, so that no chunk ever straddles two blocks: cutting a
 * block then just hands over whole chunks. Samples must arrive in time order per series
 * (out-of-order samples are rejected, as Mimir does by default); an identical re-send of the
 * last sample is ignored, a different value at the same timestamp rejected. Not
 * thread-safe: the tenant lock guards it. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "storage/tsdb_int.h"

void tsdb__head_init(tsdb_head_t *h, int64_t range_ms)
{
    memset(h, 0, sizeof(*h));
    tsdb__index_init(&h->ix);
    h->mint = INT64_MAX;
    h->maxt = INT64_MIN;
    h->min_valid = INT64_MIN;
    h->range_ms = range_ms;
}

static void series_free(tsdb_hseries_t *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->n_closed; i++) {
        free((void *)s->closed[i].data);
    }
    free(s->closed);
    tsdb__xor_reset(&s->open);
    free(s);
}

void tsdb__head_fini(tsdb_head_t *h)
{
    for (uint32_t i = 0; i < h->ix.n; i++) {
        series_free(h->series[i]);
    }
    free(h->series);
    tsdb__index_fini(&h->ix);
}

tsdb_hseries_t *tsdb__head_add_series(tsdb_head_t *h, int64_t id, labels_t *ls, uint64_t hash,
                                      uint32_t *out_id)
{
    uint32_t sid = id < 0 ? h->ix.n : (uint32_t)id;
    tsdb__index_add(&h->ix, sid, ls, hash);
    if (h->ix.cap > h->cap) {
        h->series = xrealloc(h->series, h->ix.cap * sizeof(*h->series));
        memset(h->series + h->cap, 0, (h->ix.cap - h->cap) * sizeof(*h->series));
        h->cap = h->ix.cap;
    }
    tsdb_hseries_t *s = xcalloc(1, sizeof(*s));
    s->last_t = INT64_MIN;
    h->series[sid] = s;
    if (out_id != NULL) {
        *out_id = sid;
    }
    return s;
}

static int64_t range_end(int64_t t, int64_t range)
{
    int64_t q = t / range;
    if (t % range != 0 && t < 0) {
        q--; /* floor division */
    }
    return (q + 1) * range;
}

static void close_open(tsdb_head_t *h, tsdb_hseries_t *s)
{
    if (s->n_closed == s->cap_closed) {
        s->cap_closed = s->cap_closed == 0 ? 2 : s->cap_closed * 2;
        s->closed = xrealloc(s->closed, s->cap_closed * sizeof(*s->closed));
    }
    uint32_t len = (s->open.nbits + 7) / 8;
    tsdb_chunk_t *c = &s->closed[s->n_closed++];
    c->data = xrealloc(s->open.buf, len == 0 ? 1 : len); /* hands the buffer over, trimmed */
    c->len = len;
    c->n = s->open.n;
    c->mint = s->open.mint;
    c->maxt = s->open.t;
    memset(&s->open, 0, sizeof(s->open));
    (void)h;
}

int tsdb__head_append(tsdb_head_t *h, tsdb_hseries_t *s, int64_t t, double v)
{
    if (s->last_t != INT64_MIN && t <= s->last_t) {
        if (t < s->last_t) {
            return -1;
        }
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        return bits == s->last_bits ? 1 : -2;
    }
    int64_t lowest = h->min_valid;
    if (h->maxt != INT64_MIN && h->maxt - h->range_ms / 2 > lowest) {
        lowest = h->maxt - h->range_ms / 2;
    }
    if (t < lowest) {
        return -3;
    }
    if (s->open.n > 0 && (s->open.n >= TSDB_CHUNK_SAMPLES || t >= s->open_end)) {
        close_open(h, s);
    }
    if (s->open.n == 0) {
        s->open_end = range_end(t, h->range_ms);
        h->n_chunks++;
    }
    tsdb__xor_append(&s->open, t, v);
    s->last_t = t;
    s->last_bits = s->open.v_bits;
    if (t < h->mint) {
        h->mint = t;
    }
    if (t > h->maxt) {
        h->maxt = t;
    }
    return 0;
}

void tsdb__head_close_chunks(tsdb_head_t *h, int64_t before)
{
    for (uint32_t i = 0; i < h->ix.n; i++) {
        tsdb_hseries_t *s = h->series[i];
        if (s != NULL && s->open.n > 0 && s->open_end <= before) {
            close_open(h, s);
        }
    }
}

/* Drops the chunks of s that end before `before`; 1 if the series is now empty. */
static int series_truncate(tsdb_head_t *h, tsdb_hseries_t *s, int64_t before)
{
    uint32_t drop = 0;
    while (drop < s->n_closed && s->closed[drop].maxt < before) {
        free((void *)s->closed[drop].data);
        drop++;
    }
    if (drop > 0) {
        memmove(s->closed, s->closed + drop, (s->n_closed - drop) * sizeof(*s->closed));
        s->n_closed -= drop;
        h->n_chunks -= drop;
    }
    return s->n_closed == 0 && s->open.n == 0;
}

static void recompute_mint(tsdb_head_t *h)
{
    h->mint = INT64_MAX;
    for (uint32_t i = 0; i < h->ix.n; i++) {
        int64_t mint, maxt;
        if (h->series[i] != NULL && tsdb__head_series_range(h->series[i], &mint, &maxt) &&
            mint < h->mint) {
            h->mint = mint;
        }
    }
    /* maxt is kept even when the head empties: it still bounds what may be appended. */
}

void tsdb__head_truncate(tsdb_head_t *h, int64_t before)
{
    uint32_t *gone = NULL;
    size_t n_gone = 0, cap = 0;
    for (uint32_t i = 0; i < h->ix.n; i++) {
        tsdb_hseries_t *s = h->series[i];
        if (s == NULL || !series_truncate(h, s, before)) {
            continue;
        }
        xgrow((void **)&gone, &cap, n_gone + 1, sizeof(*gone));
        gone[n_gone++] = i;
        series_free(s);
        h->series[i] = NULL;
    }
    tsdb__index_remove_many(&h->ix, gone, n_gone);
    free(gone);
    if (before > h->min_valid) {
        h->min_valid = before;
    }
    recompute_mint(h);
}

int tsdb__head_series_range(const tsdb_hseries_t *s, int64_t *mint, int64_t *maxt)
{
    if (s->n_closed > 0) {
        *mint = s->closed[0].mint;
    } else if (s->open.n > 0) {
        *mint = s->open.mint;
    } else {
        return 0;
    }
    *maxt = s->open.n > 0 ? s->open.t : s->closed[s->n_closed - 1].maxt;
    return 1;
}
