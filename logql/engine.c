/* logql/engine.c - the LogQL engine's entry points (logql.h "Engine") and log queries.
 *
 * DESIGN: a log query opens one store reader for [start, end), selects the matching streams
 * and opens one iterator per stream in the requested direction. A binary heap over the
 * iterators' current entries merges them by timestamp (newest first for BACKWARD), so the
 * engine reads entries in the order it returns them and stops as soon as `limit` entries
 * have passed the pipeline: nothing is read "just in case" and nothing is sorted afterwards.
 * Kept entries are grouped by their output label set (the pipeline's label sets are
 * canonical per processor, so grouping is by pointer). The `interval` filter is global over
 * the merged sequence, as Loki's readStreams applies it. Metric queries are in
 * engine_metric.c. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "logql/engine_int.h"

/* One stream's iterator with its current entry. */
typedef struct {
    log_iter_t *it;
    const labels_t *labels;
    size_t order; /* position in labels order: ties between streams go to the lower */
    log_entry_t cur;
} cursor_t;

typedef struct {
    cursor_t **items;
    size_t n;
    int backward;
} heap_t;

/* 1 if x must come out of the heap before y. */
static int before(const heap_t *h, const cursor_t *x, const cursor_t *y)
{
    if (x->cur.ts_ns != y->cur.ts_ns) {
        return h->backward ? x->cur.ts_ns > y->cur.ts_ns : x->cur.ts_ns < y->cur.ts_ns;
    }
    return x->order < y->order;
}

static void sift_down(heap_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(h, h->items[l], h->items[m])) {
            m = l;
        }
        if (r < h->n && before(h, h->items[r], h->items[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        cursor_t *t = h->items[i];
        h->items[i] = h->items[m];
        h->items[m] = t;
        i = m;
    }
}

/* Advances the top cursor; drops it at its end. */
static int heap_advance(heap_t *h, err_t *err)
{
    cursor_t *c = h->items[0];
    int rc = log_iter_next(c->it, &c->cur, err);
    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        h->items[0] = h->items[--h->n];
    }
    sift_down(h, 0);
    return 0;
}

static int heap_open(arena_t *a, logstore_reader_t *rd, const logql_selector_t *sel, int backward,
                     heap_t *h, err_t *err)
{
    log_stream_t *streams;
    size_t n;
    if (logstore_select(rd, a, sel->matchers, sel->n_matchers, &streams, &n, err) < 0) {
        return -1;
    }
    h->backward = backward;
    h->n = 0;
    h->items = arena_alloc(a, (n + 1) * sizeof(*h->items));
    cursor_t *cs = arena_calloc(a, (n + 1) * sizeof(*cs));
    if (h->items == NULL || cs == NULL) {
        return logql__e_oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        cs[i].it = logstore_iter(rd, a, &streams[i], backward, err);
        cs[i].labels = streams[i].labels;
        cs[i].order = i;
        int rc = cs[i].it != NULL ? log_iter_next(cs[i].it, &cs[i].cur, err) : -1;
        if (rc < 0) {
            return -1;
        }
        if (rc == 1) {
            h->items[h->n++] = &cs[i];
        }
    }
    for (size_t i = h->n / 2; i-- > 0;) {
        sift_down(h, i);
    }
    return 0;
}

/* ---- grouping kept entries into result streams --------------------------------------- */

typedef struct {
    const labels_t *labels; /* copy in the arena */
    char *key;              /* labels.String(): Loki sorts result streams by it */
    logql_entry_t *entries;
    size_t n, cap;
} group_t;

typedef struct {
    arena_t *a;
    logql__emap_t by_labels; /* output label set (pointer) -> group_t* */
    group_t **groups;
    size_t n_groups, cap_groups;
} collector_t;

static void *grow_array(arena_t *a, void *old, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return old;
    }
    size_t cap2 = *cap != 0 ? *cap * 2 : 8;
    void *p = arena_realloc(a, old, *cap * elem, cap2 * elem);
    if (p != NULL) {
        *cap = cap2;
    }
    return p;
}

static group_t *group_for(collector_t *c, const labels_t *ls)
{
    group_t *g = logql__emap_get(&c->by_labels, (uint64_t)(uintptr_t)ls);
    if (g != NULL) {
        return g;
    }
    g = arena_calloc(c->a, sizeof(*g));
    group_t **gs = grow_array(c->a, c->groups, &c->cap_groups, c->n_groups, sizeof(*gs));
    if (g == NULL || gs == NULL) {
        return NULL;
    }
    c->groups = gs;
    g->labels = logql__e_labels_copy(c->a, ls);
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    g->key = arena_strndup(c->a, b.data != NULL ? b.data : "{}", b.len != 0 ? b.len : 2);
    buf_fini(&b);
    if (g->labels == NULL || g->key == NULL ||
        logql__emap_put(&c->by_labels, (uint64_t)(uintptr_t)ls, g) < 0) {
        return NULL;
    }
    c->groups[c->n_groups++] = g;
    return g;
}

/* Copies one kept entry (pipeline outputs die at the next run) into its group. */
static int collect(collector_t *c, int64_t ts_ns, const logql_out_t *o, err_t *err)
{
    group_t *g = group_for(c, o->labels);
    logql_entry_t *es = g != NULL ? grow_array(c->a, g->entries, &g->cap, g->n, sizeof(*es)) : NULL;
    if (es == NULL) {
        return logql__e_oom(err);
    }
    g->entries = es;
    logql_entry_t *e = &es[g->n];
    e->ts_ns = ts_ns;
    e->line = arena_strndup(c->a, o->line, o->len);
    e->len = o->len;
    e->metadata = o->metadata != NULL ? logql__e_labels_copy(c->a, o->metadata) : labels_empty();
    e->parsed = o->parsed != NULL ? logql__e_labels_copy(c->a, o->parsed) : labels_empty();
    if (e->line == NULL || e->metadata == NULL || e->parsed == NULL) {
        return logql__e_oom(err);
    }
    g->n++;
    return 0;
}

static int group_cmp(const void *x, const void *y)
{
    return strcmp((*(group_t *const *)x)->key, (*(group_t *const *)y)->key);
}

static int finish_streams(collector_t *c, logql_result_t *out, err_t *err)
{
    if (c->n_groups > 1) {
        qsort(c->groups, c->n_groups, sizeof(*c->groups), group_cmp);
    }
    out->type = LOGQL_RESULT_STREAMS;
    out->n_streams = c->n_groups;
    out->streams = arena_calloc(c->a, (c->n_groups + 1) * sizeof(*out->streams));
    if (out->streams == NULL) {
        return logql__e_oom(err);
    }
    for (size_t i = 0; i < c->n_groups; i++) {
        out->streams[i].labels = c->groups[i]->labels;
        out->streams[i].entries = c->groups[i]->entries;
        out->streams[i].n_entries = c->groups[i]->n;
    }
    return 0;
}

/* ---- log queries --------------------------------------------------------------------- */

typedef struct {
    int64_t interval_ns;
    int backward;
    int have_last;
    int64_t last_ns;
} interval_t;

/* Loki's readStreams: the first entry, then only entries at least `interval` away from the
 * last one returned (in the query's direction). */
static int interval_keeps(const interval_t *iv, int64_t ts_ns)
{
    if (iv->interval_ns == 0 || !iv->have_last) {
        return 1;
    }
    return iv->backward ? ts_ns <= iv->last_ns - iv->interval_ns
                        : ts_ns >= iv->last_ns + iv->interval_ns;
}

static int merge_entries(collector_t *c, heap_t *h, logql_proc_t *pr, size_t limit, interval_t *iv,
                         logql__erun_t *run, err_t *err)
{
    size_t returned = 0;
    while (h->n > 0 && returned < limit) {
        cursor_t *cur = h->items[0];
        logql_out_t o;
        if (logql__erun_tick(run, cur->cur.len, err) < 0) {
            return -1;
        }
        if (logql_proc_run(pr, cur->labels, &cur->cur, &o) == 1) {
            run->stats.post_filter_lines++;
            if (interval_keeps(iv, cur->cur.ts_ns)) {
                if (collect(c, cur->cur.ts_ns, &o, err) < 0) {
                    return -1;
                }
                iv->have_last = 1;
                iv->last_ns = cur->cur.ts_ns;
                returned++;
            }
        }
        if (heap_advance(h, err) < 0) {
            return -1;
        }
    }
    run->stats.entries_returned = returned;
    return 0;
}

static int exec_log(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                    int64_t start_ns, int64_t end_ns, int64_t interval_ns, size_t limit,
                    logql_direction_t dir, logql__erun_t *run, logql_result_t *out, err_t *err)
{
    logql_selector_t sel;
    if (logql_log_selector(e, &sel) < 0) {
        return err_set(err, ERR_INTERNAL, "not a log query");
    }
    logstore_reader_t *rd = logstore_reader(store, tenant, start_ns, end_ns, err);
    if (rd == NULL) {
        return -1;
    }
    int rc = -1;
    heap_t h;
    collector_t c = {.a = a};
    logql__emap_init(&c.by_labels, a);
    interval_t iv = {.interval_ns = interval_ns, .backward = dir == LOGQL_BACKWARD};
    logql_proc_t *pr = logql_proc_new(a, sel.pipeline);
    if (pr == NULL) {
        logql__e_oom(err);
        goto done;
    }
    if (heap_open(a, rd, &sel, dir == LOGQL_BACKWARD, &h, err) < 0 ||
        merge_entries(&c, &h, pr, limit, &iv, run, err) < 0) {
        goto done;
    }
    rc = finish_streams(&c, out, err);
done:
    logstore_reader_close(rd); /* the result holds copies only */
    return rc;
}

/* ---- entry points -------------------------------------------------------------------- */

int logql_exec_range(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                     int64_t start_ns, int64_t end_ns, int64_t step_ns, int64_t interval_ns,
                     size_t limit, logql_direction_t dir, const logql_opts_t *opts,
                     logql_result_t *out, err_t *err)
{
    logql__erun_t run;
    logql__erun_init(&run, opts);
    memset(out, 0, sizeof(*out));
    int rc;
    if (logql_is_metric(e)) {
        rc = logql__e_exec_metric(a, store, tenant, e, start_ns, end_ns, step_ns, 0, opts, &run,
                                  out, err);
    } else {
        rc = exec_log(a, store, tenant, e, start_ns, end_ns, interval_ns, limit, dir, &run, out,
                      err);
    }
    logql__erun_finish(&run, &out->stats);
    return rc;
}

int logql_exec_instant(arena_t *a, logstore_t *store, const char *tenant, const logql_expr_t *e,
                       int64_t t_ns, const logql_opts_t *opts, logql_result_t *out, err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!logql_is_metric(e)) {
        return err_set(err, ERR_BAD_DATA, "%s", LOGQL__INSTANT_LOG_MSG);
    }
    logql__erun_t run;
    logql__erun_init(&run, opts);
    int rc = logql__e_exec_metric(a, store, tenant, e, t_ns, t_ns, 0, 1, opts, &run, out, err);
    logql__erun_finish(&run, &out->stats);
    return rc;
}
