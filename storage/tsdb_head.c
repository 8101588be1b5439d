/* storage/tsdb_head.c - the in-memory head of a tenant TSDB: series with their XOR chunks.
 *
 * DESIGN: each series has closed chunks (exact-size heap bytes) and one open chunk being
 * appended to. A chunk is closed at 120 samples or when a sample crosses the end of the
 * block range the chunk started in, so that no chunk ever straddles two blocks: cutting a
 * block then just hands over whole chunks. Samples arrive in time order per series; an
 * identical re-send of the last sample is ignored, a different value at the same timestamp
 * rejected. Older samples are rejected (Mimir's default) unless the out-of-order window is
 * set: then those no older than head maxt - window are kept uncompressed in a small sorted
 * per-series array, merged at read time and re-encoded when their range is cut to a block.
 * Not thread-safe: the tenant lock guards it. */
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
    free(s->ooo);
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

static void track_range(tsdb_head_t *h, int64_t t)
{
    if (t < h->mint) {
        h->mint = t;
    }
    if (t > h->maxt) {
        h->maxt = t;
    }
}

/* Inserts into the sorted out-of-order array: 0 added, 1 identical, -2 other value. */
static int ooo_insert(tsdb_head_t *h, tsdb_hseries_t *s, int64_t t, double v)
{
    uint32_t lo = 0, hi = s->n_ooo;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->ooo[mid].t < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < s->n_ooo && s->ooo[lo].t == t) {
        uint64_t a, b;
        memcpy(&a, &v, sizeof(a));
        memcpy(&b, &s->ooo[lo].v, sizeof(b));
        return a == b ? 1 : -2;
    }
    if (s->n_ooo == s->cap_ooo) {
        s->cap_ooo = s->cap_ooo == 0 ? 4 : s->cap_ooo * 2;
        s->ooo = xrealloc(s->ooo, s->cap_ooo * sizeof(*s->ooo));
    }
    memmove(s->ooo + lo + 1, s->ooo + lo, (s->n_ooo - lo) * sizeof(*s->ooo));
    s->ooo[lo] = (sample_t){t, v};
    s->n_ooo++;
    track_range(h, t);
    return 0;
}

int tsdb__head_append(tsdb_head_t *h, tsdb_hseries_t *s, int64_t t, double v)
{
    if (s->last_t != INT64_MIN && t <= s->last_t) {
        if (t == s->last_t) {
            uint64_t bits;
            memcpy(&bits, &v, sizeof(bits));
            return bits == s->last_bits ? 1 : -2;
        }
        if (h->replaying && t >= h->min_valid) {
            return ooo_insert(h, s, t, v); /* it was accepted once: keep it */
        }
        if (h->ooo_window_ms <= 0) {
            return -1;
        }
        if (t < h->maxt - h->ooo_window_ms || t < h->min_valid) {
            return -4;
        }
        return ooo_insert(h, s, t, v);
    }
    /* Prometheus' bound for new samples: half a block range behind the head's newest (or
     * the out-of-order window when wider), and never into a range already cut. */
    int64_t lowest = h->min_valid;
    int64_t back = h->range_ms / 2 > h->ooo_window_ms ? h->range_ms / 2 : h->ooo_window_ms;
    if (!h->replaying && h->maxt != INT64_MIN && h->maxt - back > lowest) {
        lowest = h->maxt - back;
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
    track_range(h, t);
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
    uint32_t gone = 0;
    while (gone < s->n_ooo && s->ooo[gone].t < before) {
        gone++; /* these went to the block with the chunks */
    }
    if (gone > 0) {
        memmove(s->ooo, s->ooo + gone, (s->n_ooo - gone) * sizeof(*s->ooo));
        s->n_ooo -= gone;
    }
    return s->n_closed == 0 && s->open.n == 0 && s->n_ooo == 0;
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
    } else if (s->n_ooo > 0) {
        *mint = s->ooo[0].t;
    } else {
        return 0;
    }
    if (s->open.n > 0) {
        *maxt = s->open.t;
    } else if (s->n_closed > 0) {
        *maxt = s->closed[s->n_closed - 1].maxt;
    } else {
        *maxt = s->ooo[s->n_ooo - 1].t;
    }
    if (s->n_ooo > 0 && s->ooo[0].t < *mint) {
        *mint = s->ooo[0].t;
    }
    return 1;
}

size_t tsdb__merge_samples(const tsdb_chunk_t *cs, size_t n_cs, const sample_t *extra,
                           size_t n_extra, int64_t mint, int64_t maxt, sample_t **out)
{
    size_t cap = n_extra + 1, n = 0, j = 0;
    for (size_t i = 0; i < n_cs; i++) {
        cap += cs[i].n;
    }
    sample_t *v = xmalloc(cap * sizeof(*v));
    for (size_t i = 0; i < n_cs; i++) {
        tsdb_xor_dec_t d;
        sample_t smp;
        tsdb__xor_dec_init(&d, cs[i].data, cs[i].len, cs[i].n);
        while (tsdb__xor_next(&d, &smp.t, &smp.v) == 1) {
            while (j < n_extra && extra[j].t < smp.t) {
                v[n++] = extra[j++];
            }
            if (j < n_extra && extra[j].t == smp.t) {
                j++; /* the in-order sample wins */
            }
            v[n++] = smp;
        }
    }
    while (j < n_extra) {
        v[n++] = extra[j++];
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].t >= mint && v[i].t <= maxt && (w == 0 || v[i].t > v[w - 1].t)) {
            v[w++] = v[i];
        }
    }
    *out = v;
    return w;
}

size_t tsdb__encode_chunks(const sample_t *ss, size_t n, tsdb_chunk_t **out)
{
    size_t n_chunks = (n + TSDB_CHUNK_SAMPLES - 1) / TSDB_CHUNK_SAMPLES;
    tsdb_chunk_t *cs = xcalloc(n_chunks + 1, sizeof(*cs));
    for (size_t c = 0; c < n_chunks; c++) {
        tsdb_xor_enc_t e = {0};
        size_t from = c * TSDB_CHUNK_SAMPLES;
        for (size_t i = from; i < n && i < from + TSDB_CHUNK_SAMPLES; i++) {
            tsdb__xor_append(&e, ss[i].t, ss[i].v);
        }
        cs[c] = (tsdb_chunk_t){e.buf, (e.nbits + 7) / 8, e.n, e.mint, e.t};
    }
    *out = cs;
    return n_chunks;
}
