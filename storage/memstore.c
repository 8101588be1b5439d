/* storage/memstore.c - in-memory series store for tests (see memstore.h). Series sit in a
 * flat array found by a hash map on the label hash; selects scan all series, which is fine
 * for test-sized data. */
#include "storage/memstore.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

typedef struct {
    labels_t *ls;
    sample_t *pts;
    size_t n, cap;
} mseries_t;

struct memstore {
    queryable_t qb; /* first: memstore_t* and queryable_t* convert */
    mseries_t *s;
    size_t n, cap;
    size_t *slots; /* open addressing on the label hash: series index + 1, 0 = empty */
    size_t n_slots;
};

typedef struct {
    querier_t q;
    memstore_t *m;
} mquerier_t;

typedef struct {
    series_iter_t it;
    const mseries_t *s;
    size_t i;
    int64_t maxt;
} miter_t;

static void rehash(memstore_t *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 64;
    size_t *slots = xcalloc(ns, sizeof(*slots));
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)labels_hash(m->s[i].ls) & (ns - 1);
        while (slots[h] != 0) {
            h = (h + 1) & (ns - 1);
        }
        slots[h] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = ns;
}

static mseries_t *find_or_add(memstore_t *m, const labels_t *ls)
{
    if ((m->n + 1) * 2 > m->n_slots) {
        rehash(m);
    }
    size_t h = (size_t)labels_hash(ls) & (m->n_slots - 1);
    while (m->slots[h] != 0) {
        mseries_t *s = &m->s[m->slots[h] - 1];
        if (labels_equal(s->ls, ls)) {
            return s;
        }
        h = (h + 1) & (m->n_slots - 1);
    }
    xgrow((void **)&m->s, &m->cap, m->n + 1, sizeof(*m->s));
    m->slots[h] = m->n + 1;
    mseries_t *s = &m->s[m->n++];
    memset(s, 0, sizeof(*s));
    s->ls = labels_intern(ls);
    return s;
}

int memstore_add(memstore_t *m, const labels_t *ls, int64_t t, double v, err_t *err)
{
    mseries_t *s = find_or_add(m, ls);
    size_t pos = s->n;
    while (pos > 0 && s->pts[pos - 1].t > t) {
        pos--;
    }
    if (pos > 0 && s->pts[pos - 1].t == t) {
        s->pts[pos - 1].v = v;
        return 0;
    }
    xgrow((void **)&s->pts, &s->cap, s->n + 1, sizeof(*s->pts));
    memmove(&s->pts[pos + 1], &s->pts[pos], (s->n - pos) * sizeof(*s->pts));
    s->pts[pos] = (sample_t){t, v};
    s->n++;
    return 0;
}

static size_t first_at(const mseries_t *s, int64_t t);

static int has_sample_in(const mseries_t *s, int64_t mint, int64_t maxt)
{
    size_t i = first_at(s, mint);
    return i < s->n && s->pts[i].t <= maxt;
}

static int series_cmp(const void *x, const void *y)
{
    return labels_cmp(((const series_t *)x)->labels, ((const series_t *)y)->labels);
}

static int q_select(querier_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                    series_t **out, size_t *n_out, err_t *err)
{
    mquerier_t *mq = (mquerier_t *)q;
    series_t *res = arena_alloc(a, (mq->m->n + 1) * sizeof(*res));
    size_t n = 0;
    if (res == NULL) {
        return err_set(err, ERR_EXECUTION, "query exceeds the memory budget");
    }
    for (size_t i = 0; i < mq->m->n; i++) {
        mseries_t *s = &mq->m->s[i];
        int ok = has_sample_in(s, q->mint, q->maxt);
        for (size_t k = 0; ok && k < n_ms; k++) {
            ok = matcher_matches_labels(ms[k], s->ls);
        }
        if (ok) {
            res[n++] = (series_t){s->ls, s};
        }
    }
    qsort(res, n, sizeof(*res), series_cmp);
    *out = res;
    *n_out = n;
    return 0;
}

static int it_next(series_iter_t *it, sample_t *out, err_t *err)
{
    miter_t *mi = (miter_t *)it;
    if (mi->i >= mi->s->n || mi->s->pts[mi->i].t > mi->maxt) {
        return 0;
    }
    *out = mi->s->pts[mi->i++];
    return 1;
}

static int it_seek(series_iter_t *it, int64_t ts, sample_t *out, err_t *err)
{
    miter_t *mi = (miter_t *)it;
    size_t i = first_at(mi->s, ts);
    mi->i = i > mi->i ? i : mi->i; /* never backwards */
    return it_next(it, out, err);
}

static const series_iter_ops_t iter_ops = {it_next, it_seek};

/* Index of the first sample of s at or after t. */
static size_t first_at(const mseries_t *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->pts[mid].t < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static series_iter_t *q_iter(querier_t *q, arena_t *a, const series_t *s, err_t *err)
{
    miter_t *mi = arena_calloc(a, sizeof(*mi));
    if (mi == NULL) {
        err_set(err, ERR_EXECUTION, "query exceeds the memory budget");
        return NULL;
    }
    mi->it.ops = &iter_ops;
    mi->s = s->ref;
    mi->maxt = q->maxt;
    mi->i = first_at(mi->s, q->mint);
    return &mi->it;
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Distinct sorted label names (name == NULL) or values of `name` over matching series. */
static int collect(querier_t *q, arena_t *a, const char *name, const matcher_t *const *ms,
                   size_t n_ms, const char ***out, size_t *n_out, err_t *err)
{
    series_t *ss;
    size_t n, k = 0, cap = 16;
    if (q_select(q, a, ms, n_ms, &ss, &n, err) < 0) {
        return -1;
    }
    const char **vals = arena_alloc(a, cap * sizeof(*vals));
    for (size_t i = 0; i < n && vals != NULL; i++) {
        for (size_t j = 0; j < labels_len(ss[i].labels); j++) {
            label_t l = labels_at(ss[i].labels, j);
            const char *v = name == NULL ? l.name : strcmp(l.name, name) == 0 ? l.value : NULL;
            if (v == NULL) {
                continue;
            }
            if (k == cap) {
                vals = arena_realloc(a, vals, cap * sizeof(*vals), cap * 2 * sizeof(*vals));
                cap *= 2;
                if (vals == NULL) {
                    break;
                }
            }
            vals[k++] = v;
        }
    }
    if (vals == NULL) {
        return err_set(err, ERR_EXECUTION, "query exceeds the memory budget");
    }
    qsort(vals, k, sizeof(*vals), str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || strcmp(vals[u - 1], vals[i]) != 0) {
            vals[u++] = vals[i];
        }
    }
    *out = vals;
    *n_out = u;
    return 0;
}

static int q_label_names(querier_t *q, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                         const char ***out, size_t *n_out, err_t *err)
{
    return collect(q, a, NULL, ms, n_ms, out, n_out, err);
}

static int q_label_values(querier_t *q, arena_t *a, const char *name, const matcher_t *const *ms,
                          size_t n_ms, const char ***out, size_t *n_out, err_t *err)
{
    return collect(q, a, name, ms, n_ms, out, n_out, err);
}

static void q_close(querier_t *q)
{
    free(q);
}

static const querier_ops_t querier_ops = {q_select, q_iter, q_label_names, q_label_values,
                                          q_close};

static querier_t *qb_querier(queryable_t *qb, int64_t mint, int64_t maxt, err_t *err)
{
    mquerier_t *mq = xcalloc(1, sizeof(*mq));
    mq->q.ops = &querier_ops;
    mq->q.mint = mint;
    mq->q.maxt = maxt;
    mq->m = (memstore_t *)qb;
    return &mq->q;
}

static const queryable_ops_t queryable_ops = {qb_querier};

memstore_t *memstore_new(void)
{
    memstore_t *m = xcalloc(1, sizeof(*m));
    m->qb.ops = &queryable_ops;
    return m;
}

void memstore_clear(memstore_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        labels_unref(m->s[i].ls);
        free(m->s[i].pts);
    }
    m->n = 0;
    if (m->slots != NULL) {
        memset(m->slots, 0, m->n_slots * sizeof(*m->slots));
    }
}

void memstore_free(memstore_t *m)
{
    if (m == NULL) {
        return;
    }
    memstore_clear(m);
    free(m->s);
    free(m->slots);
    free(m);
}

queryable_t *memstore_queryable(memstore_t *m)
{
    return &m->qb;
}

size_t memstore_series_count(const memstore_t *m)
{
    return m->n;
}
