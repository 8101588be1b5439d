/* promql/promql_ruler.c - the ruler's evaluator interface
 * (ruler/ruler_promql.h) on the PromQL engine: rule expressions are parsed for
 * validation, evaluated as instant queries against the tenant's queryable, and
 * the result turned into (labels, value) samples. */
#include <string.h>

#include "common/mem.h"
#include "promql/promql.h"
#include "ruler/ruler_promql.h"

static int pr_validate(void *ctx, const char *expr, err_t *err)
{
    arena_t *a = arena_new(0, NULL);
    int rc = promql_parse(a, expr, err) != NULL ? 0 : -1;
    arena_free(a);
    return rc;
}

static char *pr_format(void *ctx, const char *expr)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    promql_expr_t *e = promql_parse(a, expr, &err);
    const char *s = e != NULL ? promql_format(a, e) : NULL;
    char *out = s != NULL ? xstrdup(s) : NULL;
    arena_free(a);
    return out;
}

static int to_samples(arena_t *a, const promql_result_t *res, ruler_sample_t **out, size_t *n,
                      err_t *err)
{
    if (res->type == PROMQL_TYPE_SCALAR) {
        *out = arena_alloc(a, sizeof(**out));
        (*out)[0].labels = labels_empty();
        (*out)[0].v = res->scalar;
        *n = 1;
        return 0;
    }
    if (res->type != PROMQL_TYPE_VECTOR) {
        return err_set(err, ERR_EXECUTION, "rule result is not a vector or scalar");
    }
    *out = arena_alloc(a, (res->n_vec + 1) * sizeof(**out));
    for (size_t i = 0; i < res->n_vec; i++) {
        (*out)[i].labels = (labels_t *)res->vec[i].labels;
        (*out)[i].v = res->vec[i].v;
    }
    *n = res->n_vec;
    return 0;
}

static int pr_eval(void *ctx, arena_t *a, const char *tenant, const char *expr, int64_t t_ms,
                   ruler_sample_t **out, size_t *n_out, err_t *err)
{
    const promql_ruler_store_t *st = ctx;
    promql_expr_t *e = promql_parse(a, expr, err);
    if (e == NULL) {
        return -1;
    }
    promql_opts_t opts = {
        .lookback_ms = st->lookback_ms,
        .timeout_ms = st->query_timeout_ms,
        .max_samples = st->max_samples,
    };
    promql_result_t res;
    memset(&res, 0, sizeof(res));
    if (promql_eval_instant(a, st->queryable(st->arg, tenant), e, t_ms, &opts, &res, err) < 0) {
        return -1;
    }
    return to_samples(a, &res, out, n_out, err);
}

static appender_t *pr_appender(void *ctx, const char *tenant, err_t *err)
{
    const promql_ruler_store_t *st = ctx;
    return st->appender != NULL ? st->appender(st->arg, tenant) : NULL;
}

static queryable_t *pr_queryable(void *ctx, const char *tenant, err_t *err)
{
    const promql_ruler_store_t *st = ctx;
    return st->queryable(st->arg, tenant);
}

void promql_ruler_evaluator(ruler_evaluator_t *ev, const promql_ruler_store_t *st)
{
    memset(ev, 0, sizeof(*ev));
    ev->lang = "promql";
    ev->validate = pr_validate;
    ev->format = pr_format;
    ev->eval = pr_eval;
    ev->appender = pr_appender;
    ev->queryable = pr_queryable;
    ev->ctx = (void *)st;
}
