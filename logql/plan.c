/* logql/plan.c - splitting a metric query into its leaves (range aggregations the engine
 * computes from the log store) and the outer PromQL expression over `__logql_leaf_<i>`
 * that the PromQL engine evaluates, plus logql_set_matcher (Alloy's extra_query_matchers).
 * Every operand in the PromQL text is parenthesised, so precedence never depends on how
 * the two languages rank operators. */
#include <math.h>
#include <string.h>

#include "common/gofloat.h"
#include "logql/logql_int.h"

typedef struct {
    arena_t *a;
    logql_leaf_t *leaves;
    size_t n, cap;
    buf_t out;
    err_t *err;
} lq_plan_t;

static int add_leaf(lq_plan_t *pl, const logql_expr_t *e)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 4;
        logql_leaf_t *grown =
            arena_realloc(pl->a, pl->leaves, pl->cap * sizeof(*grown), cap * sizeof(*grown));
        if (grown == NULL) {
            return err_set(pl->err, ERR_EXECUTION, "out of memory planning the query");
        }
        pl->leaves = grown;
        pl->cap = cap;
    }
    logql_leaf_t *l = &pl->leaves[pl->n];
    memset(l, 0, sizeof(*l));
    l->sel.matchers = (const matcher_t *const *)e->sel->matchers;
    l->sel.n_matchers = e->sel->n_matchers;
    l->sel.pipeline = e->sel->pipeline;
    l->op = e->rop;
    l->param = e->param;
    l->range_ms = e->range_ns / 1000000;
    l->offset_ms = e->offset_ns / 1000000;
    l->has_grouping = e->grouping.present;
    l->without = e->grouping.without;
    l->grouping = e->grouping.labels;
    l->n_grouping = e->grouping.n_labels;
    buf_printf(&pl->out, "__logql_leaf_%zu", pl->n++);
    return 0;
}

static void put_labels(buf_t *b, const char *const *names, size_t n)
{
    buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "%s%s", i > 0 ? ", " : "", names[i]);
    }
    buf_putc(b, ')');
}

static int plan_expr(lq_plan_t *pl, const logql_expr_t *e);
static void put_number(buf_t *b, double v);

static int listed(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* group_left/right labels. PromQL rejects a label both in on() and the group list; copying
 * a label the sides already match on changes nothing, so it is left out. */
static void put_include(buf_t *b, const logql_expr_t *e)
{
    buf_putc(b, '(');
    for (size_t i = 0, k = 0; i < e->n_include; i++) {
        if (e->on && listed(e->match_labels, e->n_match_labels, e->include[i])) {
            continue;
        }
        buf_printf(b, "%s%s", k++ > 0 ? ", " : "", e->include[i]);
    }
    buf_putc(b, ')');
}

/* An operand that must be an instant vector: Loki evaluates a literal there as one sample
 * without labels, which is PromQL's vector(n). */
static int plan_vector_operand(lq_plan_t *pl, const logql_expr_t *e)
{
    if (e->kind != LQ_LITERAL) {
        return plan_expr(pl, e);
    }
    buf_puts(&pl->out, "vector(");
    put_number(&pl->out, e->value);
    buf_putc(&pl->out, ')');
    return 0;
}

static int plan_vecagg(lq_plan_t *pl, const logql_expr_t *e)
{
    buf_t *b = &pl->out;
    if (e->vop == VEC_SORT || e->vop == VEC_SORT_DESC) {
        buf_printf(b, "%s(", logql__vec_op_name(e->vop));
    } else {
        /* approx_topk is answered exactly. */
        buf_puts(b, e->vop == VEC_APPROX_TOPK ? "topk" : logql__vec_op_name(e->vop));
        if (e->grouping.present) {
            buf_puts(b, e->grouping.without ? " without " : " by ");
            put_labels(b, e->grouping.labels, e->grouping.n_labels);
        }
        buf_putc(b, '(');
        if (e->vop == VEC_TOPK || e->vop == VEC_BOTTOMK || e->vop == VEC_APPROX_TOPK) {
            buf_printf(b, "%ld, ", e->k);
        }
    }
    if (plan_vector_operand(pl, e->lhs) != 0) {
        return -1;
    }
    buf_putc(b, ')');
    return 0;
}

static int is_comparison(lq_bin_op_t op)
{
    return op >= BIN_EQ;
}

static int plan_binop(lq_plan_t *pl, const logql_expr_t *e)
{
    buf_t *b = &pl->out;
    buf_putc(b, '(');
    if (plan_expr(pl, e->lhs) != 0) {
        return -1;
    }
    buf_printf(b, ") %s", logql__bin_op_name(e->bop));
    if (e->ret_bool && is_comparison(e->bop)) {
        buf_puts(b, " bool");
    }
    /* Vector matching means nothing against a scalar, and PromQL rejects it there. */
    int scalar = e->lhs->kind == LQ_LITERAL || e->rhs->kind == LQ_LITERAL;
    if (!scalar && (e->on || e->has_match_labels)) {
        buf_puts(b, e->on ? " on" : " ignoring");
        put_labels(b, e->match_labels, e->n_match_labels);
        /* PromQL allows no group modifier on set operators; Loki ignores it there. */
        if (e->card != 0 && !(e->bop == BIN_OR || e->bop == BIN_AND || e->bop == BIN_UNLESS)) {
            buf_puts(b, e->card == 1 ? " group_left" : " group_right");
            put_include(b, e);
        }
    }
    buf_puts(b, " (");
    if (plan_expr(pl, e->rhs) != 0) {
        return -1;
    }
    buf_putc(b, ')');
    return 0;
}

static void put_number(buf_t *b, double v)
{
    if (isnan(v)) {
        buf_puts(b, "NaN");
    } else if (isinf(v)) {
        buf_puts(b, v > 0 ? "Inf" : "(-Inf)");
    } else if (v < 0 || (v == 0 && signbit(v))) {
        buf_puts(b, "(");
        gofloat_append(b, v, 'g', -1);
        buf_puts(b, ")");
    } else {
        gofloat_append(b, v, 'g', -1);
    }
}

static int plan_label_replace(lq_plan_t *pl, const logql_expr_t *e)
{
    const char *args[] = {e->dst, e->repl, e->src, e->regex};
    buf_puts(&pl->out, "label_replace(");
    if (plan_vector_operand(pl, e->lhs) != 0) {
        return -1;
    }
    for (size_t i = 0; i < 4; i++) {
        buf_puts(&pl->out, ", ");
        logql__quote(&pl->out, args[i], strlen(args[i]));
    }
    buf_putc(&pl->out, ')');
    return 0;
}

static int plan_expr(lq_plan_t *pl, const logql_expr_t *e)
{
    switch (e->kind) {
    case LQ_RANGE: return add_leaf(pl, e);
    case LQ_VECAGG: return plan_vecagg(pl, e);
    case LQ_BINOP: return plan_binop(pl, e);
    case LQ_LITERAL: put_number(&pl->out, e->value); return 0;
    case LQ_VECTOR:
        buf_puts(&pl->out, "vector(");
        put_number(&pl->out, e->value);
        buf_putc(&pl->out, ')');
        return 0;
    case LQ_LABEL_REPLACE: return plan_label_replace(pl, e);
    default: return err_set(pl->err, ERR_BAD_DATA, "log queries have no metric plan");
    }
}

int logql_metric_plan(arena_t *a, const logql_expr_t *e, const logql_leaf_t **leaves,
                      size_t *n_leaves, const char **promql, err_t *err)
{
    lq_plan_t pl = {.a = a, .err = err};
    buf_init(&pl.out);
    int rc = plan_expr(&pl, e);
    if (rc == 0) {
        *promql = arena_strndup(a, pl.out.data != NULL ? pl.out.data : "", pl.out.len);
        *leaves = pl.leaves;
        *n_leaves = pl.n;
        rc = *promql != NULL ? 0 : err_set(err, ERR_EXECUTION, "out of memory planning the query");
    }
    buf_fini(&pl.out);
    return rc;
}

/* ---- extra matchers ---------------------------------------------------------------------- */

static int set_in_selector(arena_t *a, lq_sel_t *s, const matcher_t *m, err_t *err)
{
    matcher_t *copy = matcher_new_arena(a, matcher_type(m), matcher_name(m), matcher_value(m), err);
    if (copy == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->n_matchers; i++) {
        if (strcmp(matcher_name(s->matchers[i]), matcher_name(m)) == 0) {
            s->matchers[i] = copy;
            return 0;
        }
    }
    matcher_t **grown = arena_realloc(a, s->matchers, s->n_matchers * sizeof(*grown),
                                      (s->n_matchers + 1) * sizeof(*grown));
    if (grown == NULL) {
        return err_set(err, ERR_EXECUTION, "out of memory setting a matcher");
    }
    grown[s->n_matchers++] = copy;
    s->matchers = grown;
    return 0;
}

int logql_set_matcher(arena_t *a, logql_expr_t *e, const matcher_t *m, err_t *err)
{
    if (e == NULL) {
        return 0;
    }
    if (e->sel != NULL && set_in_selector(a, e->sel, m, err) != 0) {
        return -1;
    }
    if (logql_set_matcher(a, e->lhs, m, err) != 0) {
        return -1;
    }
    return logql_set_matcher(a, e->rhs, m, err);
}
