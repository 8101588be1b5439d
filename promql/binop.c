/* promql/binop.c - binary operators: scalar/scalar, vector/scalar, vector/vector with
 * one-to-one, many-to-one and one-to-many matching, and the set operators. Name handling
 * follows Prometheus 3.x: vector/vector arithmetic drops __name__ at once, vector/scalar
 * arithmetic and `bool` comparisons mark it for delayed removal, plain comparisons and set
 * operators keep it. */
#include <math.h>
#include <string.h>

#include "common/hashmap.h"
#include "promql/promql_int.h"

long promql__u64map_get(const promql__u64map_t *m, uint64_t key)
{
    if (m->n_slots == 0) {
        return -1;
    }
    size_t h = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 7) & (m->n_slots - 1);
    while (m->vals[h] != 0) {
        if (m->keys[h] == key) {
            return (long)(m->vals[h] - 1);
        }
        h = (h + 1) & (m->n_slots - 1);
    }
    return -1;
}

static int u64map_grow(arena_t *a, promql__u64map_t *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 32;
    uint64_t *keys = arena_alloc(a, ns * sizeof(*keys));
    size_t *vals = arena_calloc(a, ns * sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->vals[i] == 0) {
            continue;
        }
        size_t h = (size_t)(m->keys[i] * 0x9e3779b97f4a7c15ULL >> 7) & (ns - 1);
        while (vals[h] != 0) {
            h = (h + 1) & (ns - 1);
        }
        keys[h] = m->keys[i];
        vals[h] = m->vals[i];
    }
    m->keys = keys;
    m->vals = vals;
    m->n_slots = ns;
    return 0;
}

long promql__u64map_put(arena_t *a, promql__u64map_t *m, uint64_t key, size_t val)
{
    if ((m->n + 1) * 2 > m->n_slots && u64map_grow(a, m) < 0) {
        return -1;
    }
    size_t h = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 7) & (m->n_slots - 1);
    while (m->vals[h] != 0) {
        if (m->keys[h] == key) {
            return (long)(m->vals[h] - 1);
        }
        h = (h + 1) & (m->n_slots - 1);
    }
    m->keys[h] = key;
    m->vals[h] = val + 1;
    m->n++;
    return (long)val;
}

uint64_t promql__signature(const labels_t *ls, const char *const *names, size_t n, int on)
{
    if (on) {
        return labels_hash_subset(ls, names, n, 1);
    }
    const char *buf[64];
    const char *const *use = names;
    size_t k = n;
    if (n < 63) {
        if (n > 0) {
            memcpy(buf, names, n * sizeof(*names));
        }
        buf[n] = "__name__";
        use = buf;
        k = n + 1;
    }
    return labels_hash_subset(ls, use, k, 0);
}

double promql__binop_scalar(promql__tok_kind_t op, double l, double r, int *keep)
{
    *keep = 1;
    switch (op) {
    case TOK_ADD:
        return l + r;
    case TOK_SUB:
        return l - r;
    case TOK_MUL:
        return l * r;
    case TOK_DIV:
        return l / r;
    case TOK_POW:
        return pow(l, r);
    case TOK_MOD:
        return fmod(l, r);
    case TOK_ATAN2:
        return atan2(l, r);
    case TOK_EQLC:
        *keep = l == r;
        return l;
    case TOK_NEQ:
        *keep = l != r;
        return l;
    case TOK_GTR:
        *keep = l > r;
        return l;
    case TOK_LSS:
        *keep = l < r;
        return l;
    case TOK_GTE:
        *keep = l >= r;
        return l;
    case TOK_LTE:
        *keep = l <= r;
        return l;
    default:
        *keep = 0;
        return NAN;
    }
}

static int eval_vec_scalar(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *v, double s,
                           int swap, promql__val_t *out)
{
    promql__tok_kind_t op = e->u.bin.op;
    int cmp = promql__is_comparison(op);
    size_t cap = 0;
    out->type = PROMQL_TYPE_VECTOR;
    for (size_t i = 0; i < v->n; i++) {
        promql__elem_t el = v->e[i];
        int keep;
        double l = swap ? s : el.f, r = swap ? el.f : s;
        double f = promql__binop_scalar(op, l, r, &keep);
        if (cmp && swap) {
            f = r;
        }
        if (e->u.bin.return_bool) {
            f = keep ? 1.0 : 0.0;
            keep = 1;
        }
        if (!keep) {
            continue;
        }
        el.f = f;
        if (!cmp || e->u.bin.return_bool) {
            el.drop_name = 1;
        }
        if (promql__vec_push(ev, &out->vec, &cap, el) < 0) {
            return -1;
        }
    }
    return 0;
}

static int eval_setop(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *l, promql__vec_t *r,
                      promql__val_t *out)
{
    promql__u64map_t rs = {0}, ls = {0};
    const char *const *names = e->u.bin.labels;
    size_t nn = e->u.bin.n_labels;
    int on = e->u.bin.on;
    size_t cap = 0;
    out->type = PROMQL_TYPE_VECTOR;
    for (size_t i = 0; i < r->n; i++) {
        if (promql__u64map_put(ev->a, &rs, promql__signature(r->e[i].ls, names, nn, on), i) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        uint64_t sig = promql__signature(l->e[i].ls, names, nn, on);
        int in_r = promql__u64map_get(&rs, sig) >= 0;
        int take = e->u.bin.op == TOK_AND ? in_r : e->u.bin.op == TOK_UNLESS ? !in_r : 1;
        if (e->u.bin.op == TOK_OR && promql__u64map_put(ev->a, &ls, sig, i) < 0) {
            return -1;
        }
        if (take && promql__vec_push(ev, &out->vec, &cap, l->e[i]) < 0) {
            return -1;
        }
    }
    if (e->u.bin.op != TOK_OR) {
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (promql__u64map_get(&ls, promql__signature(r->e[i].ls, names, nn, on)) >= 0) {
            continue;
        }
        if (promql__vec_push(ev, &out->vec, &cap, r->e[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static const labels_t *result_metric(promql__ev_t *ev, promql_expr_t *e, const labels_t *many,
                                     const labels_t *one)
{
    labels_builder_t *b = ev->lb;
    labels_builder_reset(b, many);
    promql__tok_kind_t op = e->u.bin.op;
    if (!promql__is_comparison(op)) {
        static const char *const meta[] = {"__name__", "__type__", "__unit__"};
        labels_builder_keep(b, meta, 3, 0);
    }
    if (e->u.bin.card == CARD_ONE_TO_ONE) {
        if (e->u.bin.on) {
            labels_builder_keep(b, e->u.bin.labels, e->u.bin.n_labels, 1);
        } else {
            labels_builder_keep(b, e->u.bin.labels, e->u.bin.n_labels, 0);
        }
    }
    for (size_t i = 0; i < e->u.bin.n_include; i++) {
        const char *v = labels_get(one, e->u.bin.include[i]);
        labels_builder_set(b, e->u.bin.include[i], v != NULL ? v : "");
    }
    return labels_builder_build(b);
}

static void fmt_match_group(promql__ev_t *ev, promql_expr_t *e, const labels_t *ls, buf_t *out)
{
    labels_builder_reset(ev->lb, ls);
    if (e->u.bin.on) {
        labels_builder_keep(ev->lb, e->u.bin.labels, e->u.bin.n_labels, 1);
    } else {
        labels_builder_keep(ev->lb, e->u.bin.labels, e->u.bin.n_labels, 0);
        labels_builder_del(ev->lb, "__name__");
    }
    labels_format(labels_builder_build(ev->lb), out);
}

static int dup_error(promql__ev_t *ev, promql_expr_t *e, const labels_t *a, const labels_t *b,
                     int one_left)
{
    buf_t g, x, y;
    buf_init(&g);
    buf_init(&x);
    buf_init(&y);
    fmt_match_group(ev, e, a, &g);
    labels_format(a, &x);
    labels_format(b, &y);
    if (strcmp(x.data, y.data) > 0) {
        buf_t t = x;
        x = y;
        y = t;
    }
    err_set(ev->err, ERR_EXECUTION,
            "found duplicate series for the match group %s on the %s hand-side of the "
            "operation: [%s, %s];many-to-many matching not allowed: matching labels must be "
            "unique on one side",
            g.data, one_left ? "left" : "right", x.data, y.data);
    buf_fini(&g);
    buf_fini(&x);
    buf_fini(&y);
    return -1;
}

/* Labels of a fill operand built from the other side's series: its matching labels. */
static const labels_t *fill_labels(promql__ev_t *ev, promql_expr_t *e, const labels_t *ls)
{
    labels_builder_reset(ev->lb, ls);
    labels_builder_keep(ev->lb, e->u.bin.labels, e->u.bin.n_labels, e->u.bin.on);
    if (!e->u.bin.on) {
        labels_builder_del(ev->lb, "__name__");
    }
    return labels_builder_build(ev->lb);
}

typedef struct {
    promql__u64map_t matched; /* result identities, for the duplicate checks */
    promql__u64map_t hit;     /* signatures of the "one" side that found a match */
    size_t cap;
} match_state_t;

/* One matched pair: ms from the "many" side (the left one unless group_right), os from the
 * "one" side. Appends the result unless a comparison filters it. */
static int match_pair(promql__ev_t *ev, promql_expr_t *e, match_state_t *st, uint64_t sig,
                      const promql__elem_t *ms, const promql__elem_t *os, size_t idx,
                      promql__val_t *out)
{
    promql__card_t card = e->u.bin.card;
    double lv = card == CARD_ONE_TO_MANY ? os->f : ms->f;
    double rv = card == CARD_ONE_TO_MANY ? ms->f : os->f;
    int keep;
    double f = promql__binop_scalar(e->u.bin.op, lv, rv, &keep);
    if (e->u.bin.return_bool) {
        f = keep ? 1.0 : 0.0;
    }
    const labels_t *ls = result_metric(ev, e, ms->ls, os->ls);
    uint64_t mk = card == CARD_ONE_TO_ONE ? sig : sig ^ (labels_hash(ls) * 0x100000001b3ULL);
    if (promql__u64map_put(ev->a, &st->matched, mk, idx) != (long)idx ||
        promql__u64map_put(ev->a, &st->hit, sig, 0) < 0) {
        return err_set(ev->err, ERR_EXECUTION,
                       card == CARD_ONE_TO_ONE
                           ? "multiple matches for labels: many-to-one matching must be "
                             "explicit (group_left/group_right)"
                           : "multiple matches for labels: grouping labels must ensure "
                             "unique matches");
    }
    if (!keep && !e->u.bin.return_bool) {
        return 0;
    }
    promql__elem_t el = {ls, f, 0, (uint8_t)e->u.bin.return_bool, 0};
    return promql__vec_push(ev, &out->vec, &st->cap, el);
}

static int eval_vec_vec(promql__ev_t *ev, promql_expr_t *e, promql__vec_t *l, promql__vec_t *r,
                        promql__val_t *out)
{
    promql__card_t card = e->u.bin.card;
    promql__vec_t *many = card == CARD_ONE_TO_MANY ? r : l, *one = card == CARD_ONE_TO_MANY ? l : r;
    const char *const *names = e->u.bin.labels;
    size_t nn = e->u.bin.n_labels;
    promql__u64map_t ones = {0};
    match_state_t st = {0};
    /* as upstream (which swaps sides for group_right), fill_right stands in for a missing
     * "one" side and fill_left for a missing "many" side */
    int fill_one = e->u.bin.has_fill_r, fill_many = e->u.bin.has_fill_l;
    out->type = PROMQL_TYPE_VECTOR;
    if ((l->n == 0 || r->n == 0) && !fill_one && !fill_many) {
        return 0;
    }
    for (size_t i = 0; i < one->n; i++) {
        uint64_t sig = promql__signature(one->e[i].ls, names, nn, e->u.bin.on);
        long k = promql__u64map_put(ev->a, &ones, sig, i);
        if (k < 0) {
            return -1;
        }
        if ((size_t)k != i) {
            return dup_error(ev, e, one->e[i].ls, one->e[k].ls, card == CARD_ONE_TO_MANY);
        }
    }
    for (size_t i = 0; i < many->n; i++) {
        uint64_t sig = promql__signature(many->e[i].ls, names, nn, e->u.bin.on);
        long k = promql__u64map_get(&ones, sig);
        promql__elem_t filler = {0};
        if (k < 0 && !fill_one) {
            continue;
        }
        if (k < 0) {
            filler.ls = fill_labels(ev, e, many->e[i].ls);
            filler.f = e->u.bin.fill_r;
        }
        if (match_pair(ev, e, &st, sig, &many->e[i], k >= 0 ? &one->e[k] : &filler, i, out) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; fill_many && i < one->n; i++) {
        uint64_t sig = promql__signature(one->e[i].ls, names, nn, e->u.bin.on);
        if (promql__u64map_get(&st.hit, sig) >= 0) {
            continue;
        }
        promql__elem_t filler = {fill_labels(ev, e, one->e[i].ls), e->u.bin.fill_l, 0, 0, 0};
        if (match_pair(ev, e, &st, sig, &filler, &one->e[i], many->n + i, out) < 0) {
            return -1;
        }
    }
    return 0;
}

int promql__eval_binary(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out)
{
    promql__val_t l, r;
    if (promql__eval(ev, e->u.bin.lhs, ts, &l) < 0 || promql__eval(ev, e->u.bin.rhs, ts, &r) < 0) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (l.type == PROMQL_TYPE_SCALAR && r.type == PROMQL_TYPE_SCALAR) {
        int keep;
        out->type = PROMQL_TYPE_SCALAR;
        out->scalar = promql__binop_scalar(e->u.bin.op, l.scalar, r.scalar, &keep);
        if (promql__is_comparison(e->u.bin.op)) {
            out->scalar = keep ? 1.0 : 0.0;
        }
        return 0;
    }
    if (l.type == PROMQL_TYPE_SCALAR) {
        return eval_vec_scalar(ev, e, &r.vec, l.scalar, 1, out);
    }
    if (r.type == PROMQL_TYPE_SCALAR) {
        return eval_vec_scalar(ev, e, &l.vec, r.scalar, 0, out);
    }
    if (promql__is_setop(e->u.bin.op)) {
        return eval_setop(ev, e, &l.vec, &r.vec, out);
    }
    return eval_vec_vec(ev, e, &l.vec, &r.vec, out);
}
