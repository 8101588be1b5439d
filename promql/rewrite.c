/* promql/rewrite.c - rewrites of a parsed expression that tools apply before printing it
 * again: setting a label matcher in every vector selector, as `promtool promql
 * label-matchers set` does and Alloy's extra_query_matchers rely on. */
#include <string.h>

#include "promql/promql_int.h"

/* Replaces the matchers on m's label name in one selector, or appends m. */
static int set_in_selector(arena_t *a, promql_expr_t *vs, const matcher_t *m, err_t *err)
{
    const char *name = matcher_name(m);
    int found = 0;
    for (size_t i = 0; i < vs->u.vs.n_ms; i++) {
        if (strcmp(matcher_name(vs->u.vs.ms[i]), name) != 0) {
            continue;
        }
        matcher_t *nm = matcher_new_arena(a, matcher_type(m), name, matcher_value(m), err);
        if (nm == NULL) {
            return -1;
        }
        vs->u.vs.ms[i] = nm;
        found = 1;
    }
    if (found) {
        if (strcmp(name, "__name__") == 0) {
            vs->u.vs.name = NULL; /* printed as a matcher, never next to a stale name */
        }
        return 0;
    }
    matcher_t **grown = arena_alloc(a, (vs->u.vs.n_ms + 1) * sizeof(*grown));
    matcher_t *nm = matcher_new_arena(a, matcher_type(m), name, matcher_value(m), err);
    if (grown == NULL || nm == NULL) {
        return err->code != ERR_NONE ? -1 : err_set(err, ERR_EXECUTION, "out of memory");
    }
    if (vs->u.vs.n_ms > 0) {
        memcpy(grown, vs->u.vs.ms, vs->u.vs.n_ms * sizeof(*grown));
    }
    grown[vs->u.vs.n_ms++] = nm;
    vs->u.vs.ms = grown;
    return 0;
}

int promql_set_matcher(arena_t *a, promql_expr_t *e, const matcher_t *m, err_t *err)
{
    if (e == NULL) {
        return 0;
    }
    switch (e->kind) {
    case NODE_VSEL: return set_in_selector(a, e, m, err);
    case NODE_MSEL: return promql_set_matcher(a, e->u.ms.vs, m, err);
    case NODE_SUBQUERY: return promql_set_matcher(a, e->u.sq.expr, m, err);
    case NODE_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            if (promql_set_matcher(a, e->u.call.args[i], m, err) < 0) {
                return -1;
            }
        }
        return 0;
    case NODE_AGG:
        if (promql_set_matcher(a, e->u.agg.param, m, err) < 0) {
            return -1;
        }
        return promql_set_matcher(a, e->u.agg.expr, m, err);
    case NODE_BINARY:
        if (promql_set_matcher(a, e->u.bin.lhs, m, err) < 0) {
            return -1;
        }
        return promql_set_matcher(a, e->u.bin.rhs, m, err);
    case NODE_UNARY: return promql_set_matcher(a, e->u.un.expr, m, err);
    case NODE_PAREN:
    case NODE_STEP_INVARIANT: return promql_set_matcher(a, e->u.inner, m, err);
    default: return 0; /* numbers and strings hold no selector */
    }
}
