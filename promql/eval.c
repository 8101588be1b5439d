/* promql/eval.c - the evaluator core: query setup, selector loading, instant and range
 * evaluation, subqueries, unary operators and the final __name__ cleanup.
 *
 * DESIGN: before evaluation a walk over the AST computes, for every selector, the time
 * window it can read (query range widened by offsets, @, ranges, subqueries and the
 * lookback delta). On first use a selector loads its series once into arena arrays; each
 * step then binary-searches those arrays, so range queries and subqueries evaluate step by
 * step (as Prometheus 3.x does) without touching storage again and without per-sample
 * allocation. Vector elements carry a drop_name flag: __name__ is removed only at the end
 * of the query (delayed name removal), so aggregations and label functions still see it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "promql/promql_int.h"

struct promql__sel_cache {
    int64_t mint, maxt; /* window to load (ms, inclusive) */
    int loaded;
    size_t n;
    const labels_t **ls;
    sample_t **pts;
    size_t *npts;
    /* per series: index of the first sample after the last window end (hi) and start (lo);
     * steps move forward, so each window is found from the previous one in O(1) */
    size_t *hi, *lo;
    uint32_t sid0; /* sid of series i is sid0 + i */
};

int promql__is_stale(double v)
{
    return sample_is_stale(v);
}

void promql__annotate(promql__ev_t *ev, int is_warning, const promql_expr_t *at, const char *fmt,
                      ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = 1, col = 1;
    if (at != NULL) {
        promql__pos_linecol(at->src, at->pos, &line, &col);
    }
    char *text = arena_sprintf(ev->perm, "PromQL %s: %s (%d:%d)", is_warning ? "warning" : "info",
                               msg, line, col);
    for (promql__annot_t *x = ev->annots; x != NULL; x = x->next) {
        if (x->is_warning == is_warning && text != NULL && strcmp(x->text, text) == 0) {
            return;
        }
    }
    promql__annot_t *n = arena_alloc(ev->perm, sizeof(*n));
    if (n == NULL || text == NULL) {
        return;
    }
    n->text = text;
    n->is_warning = is_warning;
    n->next = ev->annots;
    ev->annots = n;
}

int promql__check_samples(promql__ev_t *ev, size_t add)
{
    ev->cur_samples += add;
    if (ev->cur_samples > ev->max_samples) {
        return err_set(ev->err, ERR_EXECUTION,
                       "query processing would load too many samples into memory in query "
                       "execution");
    }
    return 0;
}

static int check_deadline(promql__ev_t *ev)
{
    if ((++ev->tick & 1023) == 0 && time_mono_ms() > ev->deadline_mono) {
        return err_set(ev->err, ERR_TIMEOUT, "query timed out in expression evaluation");
    }
    return 0;
}

void *promql__node_buf(promql__ev_t *ev, size_t bytes)
{
    promql_expr_t *n = ev->cur_node;
    if (n == NULL) {
        return arena_alloc(ev->a, bytes);
    }
    if (n->ev_buf_size < bytes) {
        size_t sz = bytes + bytes / 2 + 64;
        void *b = arena_alloc(ev->perm, sz);
        if (b == NULL) {
            return NULL;
        }
        n->ev_buf = b;
        n->ev_buf_size = sz;
    }
    return n->ev_buf;
}

/* Grows v to hold at least `need` elements, in the node's reusable buffer. */
static int vec_grow(promql__ev_t *ev, promql__vec_t *v, size_t *cap, size_t need)
{
    size_t nc = *cap * 2 > need ? *cap * 2 : need;
    nc = nc < 8 ? 8 : nc;
    promql__elem_t *ne = promql__node_buf(ev, nc * sizeof(*ne));
    if (ne == NULL) {
        return -1;
    }
    if (ne != v->e && v->n > 0) {
        memcpy(ne, v->e, v->n * sizeof(*ne));
    }
    v->e = ne;
    *cap = nc;
    return 0;
}

int promql__vec_push(promql__ev_t *ev, promql__vec_t *v, size_t *cap, promql__elem_t el)
{
    if (v->n == *cap && vec_grow(ev, v, cap, v->n + 1) < 0) {
        return -1;
    }
    v->e[v->n++] = el;
    return 0;
}

int promql__vec_reserve(promql__ev_t *ev, promql__vec_t *v, size_t *cap, size_t n)
{
    return n <= *cap ? 0 : vec_grow(ev, v, cap, n);
}

/* __name__ and the other metadata labels go when a series' meaning changes. */
const labels_t *promql__drop_name(promql__ev_t *ev, const labels_t *ls)
{
    static const char *const meta[] = {"__name__", "__type__", "__unit__"};
    if (labels_get(ls, "__name__") == NULL && labels_get(ls, "__type__") == NULL &&
        labels_get(ls, "__unit__") == NULL) {
        return ls;
    }
    labels_builder_reset(ev->lb, ls);
    labels_builder_keep(ev->lb, meta, 3, 0);
    return labels_builder_build(ev->lb);
}

uint32_t promql__new_sids(promql__ev_t *ev, uint32_t n)
{
    uint32_t first = ev->n_sids + 1;
    ev->n_sids += n;
    return first;
}

promql__memo_t *promql__memo_for(promql__ev_t *ev, const void *node)
{
    uint64_t key = (uint64_t)(uintptr_t)node;
    long i = promql__u64map_get(&ev->memo_idx, key);
    if (i >= 0) {
        return &ev->memos[i];
    }
    if (ev->n_memos == ev->cap_memos) {
        size_t nc = ev->cap_memos ? ev->cap_memos * 2 : 8;
        promql__memo_t *nm = arena_realloc(ev->perm, ev->memos, ev->cap_memos * sizeof(*nm),
                                           nc * sizeof(*nm));
        if (nm == NULL) {
            return NULL;
        }
        ev->memos = nm;
        ev->cap_memos = nc;
    }
    if (promql__u64map_put(ev->perm, &ev->memo_idx, key, ev->n_memos) < 0) {
        return NULL;
    }
    promql__memo_t *m = &ev->memos[ev->n_memos++];
    memset(m, 0, sizeof(*m));
    return m;
}

int promql__memo_get(const promql__memo_t *m, uint32_t sid, uint64_t *val)
{
    if (m == NULL || sid == 0 || sid > m->cap || !m->have[sid - 1]) {
        return 0;
    }
    *val = m->vals[sid - 1];
    return 1;
}

/* Grows parallel per-sid arrays to hold ev->n_sids entries. */
static int grow_by_sid(promql__ev_t *ev, void **arrs, const size_t *sizes, int n_arrs, size_t *cap)
{
    if (*cap >= ev->n_sids) {
        return 0;
    }
    size_t nc = ev->n_sids + ev->n_sids / 2 + 16;
    for (int k = 0; k < n_arrs; k++) {
        void *na = arena_realloc(ev->perm, arrs[k], *cap * sizes[k], nc * sizes[k]);
        if (na == NULL) {
            return -1;
        }
        memset((char *)na + *cap * sizes[k], 0, (nc - *cap) * sizes[k]);
        arrs[k] = na;
    }
    *cap = nc;
    return 0;
}

void promql__memo_put(promql__ev_t *ev, promql__memo_t *m, uint32_t sid, uint64_t val)
{
    void *arrs[2] = {m != NULL ? m->vals : NULL, m != NULL ? m->have : NULL};
    const size_t sizes[2] = {sizeof(uint64_t), 1};
    if (m == NULL || sid == 0 || grow_by_sid(ev, arrs, sizes, 2, &m->cap) < 0) {
        return; /* a memo miss only costs time */
    }
    m->vals = arrs[0];
    m->have = arrs[1];
    m->vals[sid - 1] = val;
    m->have[sid - 1] = 1;
}

void promql__drop_name_el(promql__ev_t *ev, promql__elem_t *el)
{
    uint32_t sid = el->sid;
    if (sid != 0 && sid <= ev->drop_cap && ev->drop_ls[sid - 1] != NULL) {
        el->ls = ev->drop_ls[sid - 1];
        el->sid = ev->drop_sid[sid - 1];
        return;
    }
    if (sid == 0) {
        el->ls = promql__drop_name(ev, el->ls);
        return;
    }
    labels_builder_t *cur = ev->lb;
    ev->lb = ev->perm_lb; /* the result outlives this step */
    el->ls = promql__drop_name(ev, el->ls);
    ev->lb = cur;
    uint32_t nsid = promql__new_sids(ev, 1);
    void *arrs[2] = {(void *)ev->drop_ls, ev->drop_sid};
    const size_t sizes[2] = {sizeof(*ev->drop_ls), sizeof(*ev->drop_sid)};
    if (grow_by_sid(ev, arrs, sizes, 2, &ev->drop_cap) == 0) {
        ev->drop_ls = arrs[0];
        ev->drop_sid = arrs[1];
        ev->drop_ls[sid - 1] = el->ls;
        ev->drop_sid[sid - 1] = nsid;
    }
    el->sid = nsid;
}

int promql__labels_cmp_qsort(const void *x, const void *y)
{
    const promql__ser_t *a = x, *b = y;
    return labels_cmp(a->ls, b->ls);
}

/* ---- selector windows ------------------------------------------------------------------ */

static int64_t at_time(promql__ev_t *ev, const promql__tmod_t *tm, int64_t ts)
{
    switch (tm->at) {
    case AT_TIME:
        return tm->at_ms;
    case AT_START:
        return ev->start;
    case AT_END:
        return ev->end;
    default:
        return ts;
    }
}

static int widen(promql__ev_t *ev, promql_expr_t *vs, int64_t lo, int64_t hi)
{
    promql__sel_cache_t *c = vs->u.vs.cache;
    if (c == NULL) {
        c = arena_calloc(ev->perm, sizeof(*c));
        if (c == NULL) {
            return -1;
        }
        c->mint = lo;
        c->maxt = hi;
        vs->u.vs.cache = c;
        return 0;
    }
    c->mint = lo < c->mint ? lo : c->mint;
    c->maxt = hi > c->maxt ? hi : c->maxt;
    return 0;
}

/* Value in ms of a duration expression (seconds) for this query: step() and range() are
 * the query's. */
static int resolve_duration(promql__ev_t *ev, promql_expr_t *x, int64_t *ms)
{
    promql__val_t v;
    if (x == NULL) {
        return 0;
    }
    if (promql__eval(ev, x, ev->start, &v) < 0) {
        return -1;
    }
    if (!isfinite(v.scalar) || fabs(v.scalar) * 1e9 > 9.2e18) {
        return err_set(ev->err, ERR_BAD_DATA, "duration expression out of range: %g", v.scalar);
    }
    *ms = (int64_t)llround(v.scalar * 1000.0);
    return 0;
}

/* Clears what a previous evaluation of this tree left in its nodes and resolves duration
 * expressions that depend on the query (step(), range()). */
static int prepare_nodes(promql__ev_t *ev, promql_expr_t *e)
{
    int rc = 0;
    e->ev_buf = NULL;
    e->ev_buf_size = 0;
    switch (e->kind) {
    case NODE_VSEL:
        e->u.vs.cache = NULL;
        return resolve_duration(ev, e->u.vs.tm.offset_expr, &e->u.vs.tm.offset_ms);
    case NODE_MSEL:
        rc = resolve_duration(ev, e->u.ms.range_expr, &e->u.ms.range_ms);
        if (rc == 0 && e->u.ms.range_expr != NULL && e->u.ms.range_ms <= 0) {
            rc = err_set(ev->err, ERR_BAD_DATA, "range duration must be greater than 0");
        }
        return rc < 0 ? -1 : prepare_nodes(ev, e->u.ms.vs);
    case NODE_SUBQUERY:
        if (resolve_duration(ev, e->u.sq.range_expr, &e->u.sq.range_ms) < 0 ||
            resolve_duration(ev, e->u.sq.step_expr, &e->u.sq.step_ms) < 0 ||
            resolve_duration(ev, e->u.sq.tm.offset_expr, &e->u.sq.tm.offset_ms) < 0) {
            return -1;
        }
        return prepare_nodes(ev, e->u.sq.expr);
    case NODE_CALL:
        for (size_t i = 0; i < e->u.call.n_args && rc == 0; i++) {
            rc = prepare_nodes(ev, e->u.call.args[i]);
        }
        return rc;
    case NODE_AGG:
        rc = e->u.agg.param != NULL ? prepare_nodes(ev, e->u.agg.param) : 0;
        return rc < 0 ? -1 : prepare_nodes(ev, e->u.agg.expr);
    case NODE_BINARY:
        return prepare_nodes(ev, e->u.bin.lhs) < 0 ? -1 : prepare_nodes(ev, e->u.bin.rhs);
    case NODE_UNARY:
        return prepare_nodes(ev, e->u.un.expr);
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        return prepare_nodes(ev, e->u.inner);
    default:
        return 0;
    }
}

/* Walks the tree; [lo, hi] are the times at which `e` may be evaluated. */
static int plan(promql__ev_t *ev, promql_expr_t *e, int64_t lo, int64_t hi, int64_t *gmin,
                int64_t *gmax)
{
    promql__tmod_t *tm;
    int64_t before = 0;
    promql_expr_t *vs = NULL;
    switch (e->kind) {
    case NODE_VSEL:
        vs = e;
        before = ev->lookback;
        break;
    case NODE_MSEL:
        vs = e->u.ms.vs;
        before = e->u.ms.range_ms;
        break;
    case NODE_SUBQUERY:
        tm = &e->u.sq.tm;
        if (tm->at != AT_NONE) {
            lo = hi = at_time(ev, tm, 0);
        }
        return plan(ev, e->u.sq.expr, lo - tm->offset_ms - e->u.sq.range_ms, hi - tm->offset_ms,
                    gmin, gmax);
    case NODE_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            if (plan(ev, e->u.call.args[i], lo, hi, gmin, gmax) < 0) {
                return -1;
            }
        }
        return 0;
    case NODE_AGG:
        if (e->u.agg.param != NULL && plan(ev, e->u.agg.param, lo, hi, gmin, gmax) < 0) {
            return -1;
        }
        return plan(ev, e->u.agg.expr, lo, hi, gmin, gmax);
    case NODE_BINARY:
        if (plan(ev, e->u.bin.lhs, lo, hi, gmin, gmax) < 0) {
            return -1;
        }
        return plan(ev, e->u.bin.rhs, lo, hi, gmin, gmax);
    case NODE_UNARY:
        return plan(ev, e->u.un.expr, lo, hi, gmin, gmax);
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        return plan(ev, e->u.inner, lo, hi, gmin, gmax);
    default:
        return 0;
    }
    tm = &vs->u.vs.tm;
    if (tm->at != AT_NONE) {
        lo = hi = at_time(ev, tm, 0);
    }
    int64_t wlo = lo - tm->offset_ms - before, whi = hi - tm->offset_ms;
    *gmin = wlo < *gmin ? wlo : *gmin;
    *gmax = whi > *gmax ? whi : *gmax;
    return widen(ev, vs, wlo, whi);
}

/* Loads the selector's series. Matrix selectors drop stale markers at load time. */
static int load_selector(promql__ev_t *ev, promql_expr_t *vs, int for_matrix)
{
    promql__sel_cache_t *c = vs->u.vs.cache;
    series_t *ss = NULL;
    size_t n = 0;
    if (ev->qr->ops->select(ev->qr, ev->perm, (const matcher_t *const *)vs->u.vs.ms, vs->u.vs.n_ms,
                            &ss, &n, ev->err) < 0) {
        return -1;
    }
    c->ls = arena_alloc(ev->perm, (n + 1) * sizeof(*c->ls));
    c->pts = arena_alloc(ev->perm, (n + 1) * sizeof(*c->pts));
    c->npts = arena_calloc(ev->perm, (n + 1) * sizeof(*c->npts));
    c->hi = arena_calloc(ev->perm, (n + 1) * sizeof(*c->hi));
    c->lo = arena_calloc(ev->perm, (n + 1) * sizeof(*c->lo));
    if (c->ls == NULL || c->pts == NULL || c->npts == NULL || c->hi == NULL || c->lo == NULL) {
        return -1;
    }
    size_t guess = 16; /* series of one selector tend to have similar sample counts */
    for (size_t i = 0; i < n; i++) {
        series_iter_t *it = ev->qr->ops->iter(ev->qr, ev->perm, &ss[i], ev->err);
        size_t cap = guess, k = 0;
        sample_t *buf = arena_alloc(ev->perm, cap * sizeof(*buf));
        sample_t smp;
        int rc;
        if (it == NULL || buf == NULL) {
            return -1;
        }
        for (rc = it->ops->seek(it, c->mint, &smp, ev->err); rc > 0 && smp.t <= c->maxt;
             rc = it->ops->next(it, &smp, ev->err)) {
            if (for_matrix && sample_is_stale(smp.v)) {
                continue;
            }
            if (k == cap) {
                buf = arena_realloc(ev->perm, buf, cap * sizeof(*buf), cap * 2 * sizeof(*buf));
                if (buf == NULL) {
                    return -1;
                }
                cap *= 2;
            }
            buf[k++] = smp;
        }
        if (rc < 0) {
            return -1;
        }
        guess = k + k / 16 + 16;
        c->ls[c->n] = ss[i].labels;
        c->pts[c->n] = buf;
        c->npts[c->n] = k;
        c->n++;
        ev->total_samples += k;
    }
    c->sid0 = promql__new_sids(ev, (uint32_t)c->n);
    c->loaded = 1;
    return 0;
}

/* Index of the first sample with t > ts. */
static size_t upper_bound(const sample_t *pts, size_t n, int64_t ts)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pts[mid].t <= ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Index of the first sample with t > ts, starting from the cursor *pos. */
static size_t seek_after(const sample_t *pts, size_t n, int64_t ts, size_t *pos)
{
    size_t k = *pos;
    if (k > n || (k > 0 && pts[k - 1].t > ts)) {
        k = upper_bound(pts, n, ts); /* moved backwards (subquery, new evaluation) */
    } else {
        for (int i = 0; k < n && pts[k].t <= ts; i++, k++) {
            if (i == 8) {
                k += upper_bound(pts + k, n - k, ts);
                break;
            }
        }
    }
    *pos = k;
    return k;
}

static int eval_vsel(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    promql__sel_cache_t *c = e->u.vs.cache;
    if (!c->loaded && load_selector(ev, e, 0) < 0) {
        return -1;
    }
    int64_t ref = at_time(ev, &e->u.vs.tm, ts) - e->u.vs.tm.offset_ms;
    size_t cap = 0;
    out->type = PROMQL_TYPE_VECTOR;
    out->vec.n = 0;
    out->vec.e = NULL;
    if (promql__vec_reserve(ev, &out->vec, &cap, c->n + 1) < 0) {
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t k = seek_after(c->pts[i], c->npts[i], ref, &c->hi[i]);
        if (k == 0) {
            continue;
        }
        const sample_t *s = &c->pts[i][k - 1];
        if (s->t <= ref - ev->lookback || sample_is_stale(s->v)) {
            continue;
        }
        promql__elem_t el = {c->ls[i], s->v, s->t, 0, c->sid0 + (uint32_t)i};
        if (promql__vec_push(ev, &out->vec, &cap, el) < 0) {
            return -1;
        }
    }
    return promql__check_samples(ev, out->vec.n);
}

static int eval_msel(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__mat_t *out)
{
    promql_expr_t *vs = e->u.ms.vs;
    promql__sel_cache_t *c = vs->u.vs.cache;
    if (!c->loaded && load_selector(ev, vs, 1) < 0) {
        return -1;
    }
    int64_t ref = at_time(ev, &vs->u.vs.tm, ts) - vs->u.vs.tm.offset_ms;
    out->s = promql__node_buf(ev, (c->n + 1) * sizeof(*out->s));
    out->n = 0;
    if (out->s == NULL) {
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t hi = seek_after(c->pts[i], c->npts[i], ref, &c->hi[i]);
        size_t lo = seek_after(c->pts[i], hi, ref - e->u.ms.range_ms, &c->lo[i]);
        if (hi == lo) {
            continue;
        }
        out->s[out->n++] = (promql__ser_t){c->ls[i], c->pts[i] + lo, hi - lo, 0,
                                           c->sid0 + (uint32_t)i};
        total += hi - lo;
    }
    out->rstart = ref - e->u.ms.range_ms;
    out->rend = ref;
    out->range_ms = e->u.ms.range_ms;
    return promql__check_samples(ev, total);
}

/* ---- range evaluation (top-level range queries and subqueries) ------------------------- */

typedef struct {
    arena_t *a;           /* where series and points live */
    labels_builder_t *lb; /* non-NULL: copy a new series' labels with it (into `a`) */
    promql__ser_t *s;
    size_t *cap;
    size_t n, n_alloc;
    size_t *slots; /* open addressing: series index + 1, 0 empty */
    size_t n_slots;
    size_t first_cap; /* initial points per series */
} sermap_t;

static int sermap_grow(promql__ev_t *ev, sermap_t *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 64;
    size_t *slots = arena_calloc(m->a, ns * sizeof(*slots));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)labels_hash(m->s[i].ls) & (ns - 1);
        while (slots[h] != 0) {
            h = (h + 1) & (ns - 1);
        }
        slots[h] = i + 1;
    }
    m->slots = slots;
    m->n_slots = ns;
    return 0;
}

/* Index of the series with labels `ls`, created if new. */
static long sermap_get(promql__ev_t *ev, sermap_t *m, const labels_t *ls, uint8_t drop_name)
{
    if ((m->n + 1) * 2 > m->n_slots && sermap_grow(ev, m) < 0) {
        return -1;
    }
    size_t h = (size_t)labels_hash(ls) & (m->n_slots - 1);
    while (m->slots[h] != 0) {
        size_t i = m->slots[h] - 1;
        if (m->s[i].drop_name == drop_name && labels_equal(m->s[i].ls, ls)) {
            return (long)i;
        }
        h = (h + 1) & (m->n_slots - 1);
    }
    if (m->n == m->n_alloc) {
        size_t na = m->n_alloc ? m->n_alloc * 2 : 16;
        m->s = arena_realloc(m->a, m->s, m->n_alloc * sizeof(*m->s), na * sizeof(*m->s));
        m->cap = arena_realloc(m->a, m->cap, m->n_alloc * sizeof(*m->cap), na * sizeof(*m->cap));
        if (m->s == NULL || m->cap == NULL) {
            return -1;
        }
        m->n_alloc = na;
    }
    if (m->lb != NULL) {
        labels_builder_reset(m->lb, ls);
        ls = labels_builder_build(m->lb);
    }
    m->s[m->n] = (promql__ser_t){ls, NULL, 0, drop_name, 0};
    m->cap[m->n] = 0;
    m->slots[h] = m->n + 1;
    return (long)m->n++;
}

static int sermap_add(promql__ev_t *ev, sermap_t *m, const labels_t *ls, uint8_t drop_name,
                      int64_t t, double v)
{
    long i = sermap_get(ev, m, ls, drop_name);
    if (i < 0) {
        return -1;
    }
    promql__ser_t *s = &m->s[i];
    if (s->n > 0 && s->pts[s->n - 1].t == t) {
        return err_set(ev->err, ERR_EXECUTION, "vector cannot contain metrics with the same labelset");
    }
    if (s->n == m->cap[i]) {
        size_t nc = m->cap[i] ? m->cap[i] * 2 : m->first_cap;
        sample_t *np = arena_realloc(m->a, (void *)s->pts, m->cap[i] * sizeof(*np), nc * sizeof(*np));
        if (np == NULL) {
            return -1;
        }
        s->pts = np;
        m->cap[i] = nc;
    }
    ((sample_t *)s->pts)[s->n++] = (sample_t){t, v};
    return 0;
}

/* Evaluates instant expression `e` at every step of [start, end] into a matrix. */
static int range_eval(promql__ev_t *ev, promql_expr_t *e, int64_t start, int64_t end,
                      int64_t step, promql__mat_t *out)
{
    int64_t n_steps = step > 0 ? (end - start) / step + 1 : 1;
    sermap_t m = {.a = ev->a, .first_cap = n_steps < 256 ? (size_t)n_steps : 256};
    size_t kept = 0; /* points of the result so far: they stay in memory */
    /* The top level evaluates each step in a scratch arena reset after the step; only the
     * result (series labels copied once) lives in the query arena. */
    int top = ev->range_depth++ == 0 && ev->scratch != NULL;
    if (top) {
        m.a = ev->perm;
        m.lb = ev->perm_lb;
    }
    for (int64_t t = start; t <= end; t += step) {
        promql__val_t v;
        if (top) {
            /* as upstream, the limit counts what one step holds plus the result so far */
            ev->cur_samples = kept;
            /* reset in batches: a reset per step would churn malloc for the bigger blocks */
            if (ev->a != ev->scratch || arena_used(ev->scratch) > ((size_t)8 << 20)) {
                arena_reset(ev->scratch);
                ev->a = ev->scratch;
                if ((ev->lb = labels_builder_new(ev->scratch, NULL)) == NULL) {
                    return -1;
                }
            }
        }
        if (check_deadline(ev) < 0 || promql__eval(ev, e, t, &v) < 0) {
            return -1;
        }
        if (v.type == PROMQL_TYPE_SCALAR) {
            if (sermap_add(ev, &m, labels_empty(), 0, t, v.scalar) < 0) {
                return -1;
            }
            kept++;
            continue;
        }
        kept += v.vec.n;
        for (size_t i = 0; i < v.vec.n; i++) {
            promql__elem_t *el = &v.vec.e[i];
            if (sermap_add(ev, &m, el->ls, el->drop_name, t, el->f) < 0) {
                return -1;
            }
        }
        if (step <= 0) {
            break;
        }
    }
    ev->range_depth--;
    if (top) {
        ev->a = ev->perm;
        ev->lb = ev->perm_lb;
    }
    out->s = m.s;
    out->n = m.n;
    return 0;
}

static int eval_subquery(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__mat_t *out)
{
    int64_t step = e->u.sq.step_ms > 0 ? e->u.sq.step_ms : ev->sq_step;
    int64_t ref = at_time(ev, &e->u.sq.tm, ts) - e->u.sq.tm.offset_ms;
    int64_t lo = ref - e->u.sq.range_ms;
    /* first step-aligned time strictly after lo (Go's truncating division, as upstream) */
    int64_t first = step * (lo / step);
    if (first <= lo) {
        first += step;
    }
    if (range_eval(ev, e->u.sq.expr, first, ref, step, out) < 0) {
        return -1;
    }
    out->rstart = lo;
    out->rend = ref;
    out->range_ms = e->u.sq.range_ms;
    size_t total = 0;
    for (size_t i = 0; i < out->n; i++) {
        total += out->s[i].n;
    }
    return promql__check_samples(ev, total);
}

int promql__eval_range_arg(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__mat_t *out)
{
    while (e->kind == NODE_PAREN || e->kind == NODE_STEP_INVARIANT) {
        e = e->u.inner;
    }
    if (e->kind == NODE_MSEL) {
        return eval_msel(ev, e, ts, out);
    }
    if (e->kind == NODE_SUBQUERY) {
        return eval_subquery(ev, e, ts, out);
    }
    return err_set(ev->err, ERR_INTERNAL, "range vector argument is not a selector or subquery");
}

static int eval_unary(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    if (promql__eval(ev, e->u.un.expr, ts, out) < 0) {
        return -1;
    }
    if (e->u.un.op != TOK_SUB) {
        return 0;
    }
    if (out->type == PROMQL_TYPE_SCALAR) {
        out->scalar = -out->scalar;
        return 0;
    }
    promql__elem_t *ne = promql__node_buf(ev, (out->vec.n + 1) * sizeof(*ne));
    if (ne == NULL) {
        return -1;
    }
    for (size_t i = 0; i < out->vec.n; i++) {
        ne[i] = out->vec.e[i];
        ne[i].f = -ne[i].f;
        ne[i].drop_name = 1;
    }
    out->vec.e = ne;
    return 0;
}

/* Without delayed name removal an operator's flagged outputs lose __name__ right away. */
static int drop_names_now(promql__ev_t *ev, promql__val_t *v)
{
    if (v->type != PROMQL_TYPE_VECTOR) {
        return 0;
    }
    for (size_t i = 0; i < v->vec.n; i++) {
        promql__elem_t *el = &v->vec.e[i];
        if (el->drop_name) {
            promql__drop_name_el(ev, el);
            el->drop_name = 0;
        }
    }
    return 0;
}

static int eval_node(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out);

int promql__eval(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    promql_expr_t *prev = ev->cur_node;
    ev->cur_node = e; /* children set it to themselves and restore it to e */
    int rc = eval_node(ev, e, ts, out);
    ev->cur_node = prev;
    return rc == 0 && !ev->delayed_names ? drop_names_now(ev, out) : rc;
}

static int eval_node(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (e->kind) {
    case NODE_NUMBER:
        out->type = PROMQL_TYPE_SCALAR;
        out->scalar = e->u.num;
        return 0;
    case NODE_STRING:
        out->type = PROMQL_TYPE_STRING;
        out->str = e->u.str;
        return 0;
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        return promql__eval(ev, e->u.inner, ts, out);
    case NODE_VSEL:
        return eval_vsel(ev, e, ts, out);
    case NODE_MSEL:
    case NODE_SUBQUERY:
        out->type = PROMQL_TYPE_MATRIX;
        return promql__eval_range_arg(ev, e, ts, &out->mat);
    case NODE_UNARY:
        return eval_unary(ev, e, ts, out);
    case NODE_CALL:
        return promql__eval_call(ev, e, ts, out);
    case NODE_AGG:
        return promql__eval_agg(ev, e, ts, out);
    case NODE_BINARY:
        return promql__eval_binary(ev, e, ts, out);
    }
    return err_set(ev->err, ERR_INTERNAL, "unknown expression node");
}

/* ---- query entry points ---------------------------------------------------------------- */

static int ev_init(promql__ev_t *ev, arena_t *a, queryable_t *qb, promql_expr_t *e,
                   const promql_opts_t *o, int64_t start, int64_t end, int64_t step, err_t *err)
{
    memset(ev, 0, sizeof(*ev));
    ev->a = a;
    ev->perm = a;
    ev->err = err;
    ev->qb = qb;
    ev->start = start;
    ev->end = end;
    ev->interval = step;
    ev->lookback = o != NULL && o->lookback_ms > 0 ? o->lookback_ms : 5 * 60 * 1000;
    ev->sq_step = o != NULL && o->subquery_step_ms > 0 ? o->subquery_step_ms : 60 * 1000;
    ev->delayed_names = o != NULL && o->delayed_name_removal;
    ev->max_samples = o != NULL && o->max_samples > 0 ? o->max_samples : 50000000;
    int64_t timeout = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : 120000;
    ev->deadline_mono = time_mono_ms() + timeout;
    ev->lb = ev->perm_lb = labels_builder_new(a, NULL);
    if (end > start) {
        size_t budget = o != NULL && o->step_budget_bytes > 0 ? o->step_budget_bytes : (size_t)1 << 30;
        ev->scratch = arena_new(budget, err);
    }
    int64_t gmin = INT64_MAX, gmax = INT64_MIN;
    if (ev->lb == NULL || prepare_nodes(ev, e) < 0 || plan(ev, e, start, end, &gmin, &gmax) < 0) {
        return -1;
    }
    if (gmin <= gmax) {
        ev->qr = qb->ops->querier(qb, gmin, gmax, err);
        if (ev->qr == NULL) {
            return -1;
        }
    }
    return 0;
}

static void ev_fini(promql__ev_t *ev, promql_result_t *out)
{
    if (ev->qr != NULL) {
        ev->qr->ops->close(ev->qr);
        ev->qr = NULL;
    }
    size_t nw = 0, ni = 0;
    for (promql__annot_t *x = ev->annots; x != NULL; x = x->next) {
        *(x->is_warning ? &nw : &ni) += 1;
    }
    arena_free(ev->scratch);
    ev->scratch = NULL;
    ev->a = ev->perm;
    ev->lb = ev->perm_lb;
    out->warnings = arena_alloc(ev->perm, (nw + 1) * sizeof(char *));
    out->infos = arena_alloc(ev->perm, (ni + 1) * sizeof(char *));
    out->n_warnings = out->n_infos = 0;
    for (promql__annot_t *x = ev->annots; x != NULL && out->warnings && out->infos; x = x->next) {
        if (x->is_warning) {
            out->warnings[nw - ++out->n_warnings] = x->text;
        } else {
            out->infos[ni - ++out->n_infos] = x->text;
        }
    }
    out->samples_total = ev->total_samples;
}

/* Drops flagged names; two series ending with one label set is an error. */
static int cleanup_vector(promql__ev_t *ev, promql__vec_t *v)
{
    int any = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->e[i].drop_name) {
            v->e[i].ls = promql__drop_name(ev, v->e[i].ls);
            v->e[i].sid = 0;
            any = 1;
        }
    }
    if (!any && v->n < 2) {
        return 0;
    }
    sermap_t m = {.a = ev->a, .first_cap = 1};
    for (size_t i = 0; i < v->n; i++) {
        long before = (long)m.n;
        long k = sermap_get(ev, &m, v->e[i].ls, 0);
        if (k < 0) {
            return -1;
        }
        if (k < before) {
            return err_set(ev->err, ERR_EXECUTION,
                           "vector cannot contain metrics with the same labelset");
        }
    }
    return 0;
}

int promql_eval_instant(arena_t *a, queryable_t *qb, promql_expr_t *e, int64_t t,
                        const promql_opts_t *opts, promql_result_t *out, err_t *err)
{
    promql__ev_t ev;
    promql__val_t v;
    memset(out, 0, sizeof(*out));
    int rc = ev_init(&ev, a, qb, e, opts, t, t, 0, err);
    if (rc == 0) {
        rc = promql__eval(&ev, e, t, &v);
    }
    if (rc == 0 && v.type == PROMQL_TYPE_VECTOR) {
        rc = cleanup_vector(&ev, &v.vec);
    }
    if (rc == 0) {
        out->type = v.type;
        out->scalar = v.scalar;
        out->str = v.str;
        out->t = t;
        out->vec = arena_alloc(a, (v.vec.n + 1) * sizeof(*out->vec));
        for (size_t i = 0; out->vec != NULL && i < v.vec.n; i++) {
            out->vec[i] = (promql_sample_t){v.vec.e[i].ls, t, v.vec.e[i].f};
        }
        out->n_vec = v.vec.n;
        out->mat = arena_alloc(a, (v.mat.n + 1) * sizeof(*out->mat));
        for (size_t i = 0; out->mat != NULL && i < v.mat.n; i++) {
            promql__ser_t *s = &v.mat.s[i];
            out->mat[i] = (promql_series_t){s->drop_name ? promql__drop_name(&ev, s->ls) : s->ls,
                                            s->pts, s->n};
        }
        out->n_mat = v.mat.n;
        if (out->mat != NULL) {
            qsort(out->mat, out->n_mat, sizeof(*out->mat), promql__labels_cmp_qsort);
        }
    }
    ev_fini(&ev, out);
    return rc;
}

/* Series whose names were dropped may collide: merge them when their points do not overlap. */
static int merge_dropped(promql__ev_t *ev, promql__mat_t *m)
{
    sermap_t sm = {.a = ev->perm, .first_cap = 64};
    for (size_t i = 0; i < m->n; i++) {
        promql__ser_t *s = &m->s[i];
        const labels_t *ls = s->drop_name ? promql__drop_name(ev, s->ls) : s->ls;
        for (size_t k = 0; k < s->n; k++) {
            if (sermap_add(ev, &sm, ls, 0, s->pts[k].t, s->pts[k].v) < 0) {
                return -1;
            }
        }
    }
    for (size_t i = 0; i < sm.n; i++) {
        promql__ser_t *s = &sm.s[i];
        for (size_t k = 1; k < s->n; k++) {
            if (s->pts[k].t <= s->pts[k - 1].t) {
                return err_set(ev->err, ERR_EXECUTION,
                               "vector cannot contain metrics with the same labelset");
            }
        }
    }
    m->s = sm.s;
    m->n = sm.n;
    return 0;
}

int promql_eval_range(arena_t *a, queryable_t *qb, promql_expr_t *e, int64_t start, int64_t end,
                      int64_t step, const promql_opts_t *opts, promql_result_t *out, err_t *err)
{
    promql__ev_t ev;
    promql__mat_t m = {0};
    memset(out, 0, sizeof(*out));
    if (e->type != PROMQL_TYPE_SCALAR && e->type != PROMQL_TYPE_VECTOR) {
        return err_set(err, ERR_BAD_DATA,
                       "invalid expression type \"%s\" for range query, must be Scalar or "
                       "instant Vector",
                       e->type == PROMQL_TYPE_MATRIX ? "range vector" : "string");
    }
    int rc = ev_init(&ev, a, qb, e, opts, start, end, step, err);
    if (rc == 0) {
        rc = range_eval(&ev, e, start, end, step > 0 ? step : 1, &m);
    }
    if (rc == 0) {
        rc = merge_dropped(&ev, &m);
    }
    if (rc == 0) {
        if (m.n > 1) {
            qsort(m.s, m.n, sizeof(*m.s), promql__labels_cmp_qsort);
        }
        out->type = PROMQL_TYPE_MATRIX;
        out->mat = arena_alloc(a, (m.n + 1) * sizeof(*out->mat));
        for (size_t i = 0; out->mat != NULL && i < m.n; i++) {
            out->mat[i] = (promql_series_t){m.s[i].ls, m.s[i].pts, m.s[i].n};
        }
        out->n_mat = m.n;
    }
    ev_fini(&ev, out);
    return rc;
}
