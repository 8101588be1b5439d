/* logql/logql_ruler.c - the ruler's evaluator interface (ruler/ruler_logql.h) on the LogQL
 * engine: rule expressions are parsed (and must be metric queries), evaluated as instant
 * queries over the tenant's logs at the rule's evaluation time, and the vector turned into
 * (labels, value) samples. */
#include <string.h>

#include "common/mem.h"
#include "logql/logql.h"
#include "ruler/ruler_logql.h"

/* Loki accepts a log query in a rule and fails every evaluation of it; herald refuses it
 * when the rule is written, with the text of Loki's ParseSampleExpr. */
static logql_expr_t *parse_metric(arena_t *a, const char *expr, err_t *err)
{
    logql_expr_t *e = logql_parse(a, expr, err);
    if (e != NULL && !logql_is_metric(e)) {
        err_set(err, ERR_BAD_DATA, "only sample expression supported");
        return NULL;
    }
    return e;
}

static int lr_validate(void *ctx, const char *expr, err_t *err)
{
    arena_t *a = arena_new(0, NULL);
    int rc = parse_metric(a, expr, err) != NULL ? 0 : -1;
    arena_free(a);
    return rc;
}

static char *lr_format(void *ctx, const char *expr)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(a, expr, &err);
    const char *s = e != NULL ? logql_format(a, e) : NULL;
    char *out = s != NULL ? xstrdup(s) : NULL;
    arena_free(a);
    return out;
}

static int to_samples(arena_t *a, const logql_result_t *res, ruler_sample_t **out, size_t *n)
{
    const promql_result_t *m = &res->metric;
    size_t count = res->type == LOGQL_RESULT_SCALAR ? 1 : m->n_vec;
    *out = arena_alloc(a, (count + 1) * sizeof(**out));
    if (*out == NULL) {
        return -1;
    }
    if (res->type == LOGQL_RESULT_SCALAR) {
        (*out)[0].labels = labels_empty();
        (*out)[0].v = m->scalar;
    }
    for (size_t i = 0; res->type != LOGQL_RESULT_SCALAR && i < count; i++) {
        (*out)[i].labels = (labels_t *)m->vec[i].labels; /* arena set: never unref'd */
        (*out)[i].v = m->vec[i].v;
    }
    *n = count;
    return 0;
}

static int lr_eval(void *ctx, arena_t *a, const char *tenant, const char *expr, int64_t t_ms,
                   ruler_sample_t **out, size_t *n_out, err_t *err)
{
    const logql_ruler_store_t *st = ctx;
    logql_expr_t *e = parse_metric(a, expr, err);
    if (e == NULL) {
        return -1;
    }
    logql_opts_t opts = {.timeout_ms = st->query_timeout_ms, .max_series = st->max_series};
    logql_result_t res;
    if (logql_exec_instant(a, st->store, tenant, e, t_ms * 1000000, &opts, &res, err) < 0) {
        return -1;
    }
    if (to_samples(a, &res, out, n_out) < 0) {
        return err_set(err, ERR_EXECUTION, "rule evaluation exceeded its memory budget");
    }
    return 0;
}

static appender_t *lr_appender(void *ctx, const char *tenant, err_t *err)
{
    (void)err;
    const logql_ruler_store_t *st = ctx;
    return st->appender != NULL ? st->appender(st->appender_arg, tenant) : NULL;
}

void logql_ruler_evaluator(ruler_evaluator_t *ev, const logql_ruler_store_t *st)
{
    memset(ev, 0, sizeof(*ev));
    ev->lang = "logql";
    ev->validate = lr_validate;
    ev->format = lr_format;
    ev->eval = lr_eval;
    ev->appender = lr_appender;
    ev->ctx = (void *)st;
}
