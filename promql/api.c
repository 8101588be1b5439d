/* promql/api.c - HTTP handlers of the query API (see api.h). Results are streamed with
 * jsonw into one buffer: {"status":"success","data":{"resultType":...,"result":...},
 * "warnings":[...],"infos":[...]}, sample values as strings, timestamps as seconds with
 * millisecond decimals exactly as Prometheus' jsonutil writes them. */
#include "promql/api.h"

#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/daemon.h"
#include "common/jsonw.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "promql/promql.h"
#include "promql/promql_int.h"
#include "storage/api.h"

struct promql_api {
    promql_api_queryable_fn fn;
    void *ctx;
    promql_api_opts_t opts;
    sem_t slots;
};

#define MAX_POINTS 11000

static void write_point(jsonw_t *w, int64_t t, double v)
{
    jsonw_arr_begin(w);
    jsonw_prom_time(w, t);
    jsonw_prom_float(w, v);
    jsonw_arr_end(w);
}

static void write_result(jsonw_t *w, const promql_result_t *r, size_t limit)
{
    jsonw_key(w, "resultType");
    jsonw_str(w, promql_type_name(r->type));
    jsonw_key(w, "result");
    switch (r->type) {
    case PROMQL_TYPE_SCALAR:
        write_point(w, r->t, r->scalar);
        return;
    case PROMQL_TYPE_STRING:
        jsonw_arr_begin(w);
        jsonw_prom_time(w, r->t);
        jsonw_str(w, r->str);
        jsonw_arr_end(w);
        return;
    case PROMQL_TYPE_VECTOR:
        jsonw_arr_begin(w);
        for (size_t i = 0; i < r->n_vec && i < limit; i++) {
            jsonw_obj_begin(w);
            jsonw_key(w, "metric");
            jsonw_labels(w, r->vec[i].labels);
            jsonw_key(w, "value");
            write_point(w, r->vec[i].t, r->vec[i].v);
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
        return;
    default:
        jsonw_arr_begin(w);
        for (size_t i = 0; i < r->n_mat && i < limit; i++) {
            jsonw_obj_begin(w);
            jsonw_key(w, "metric");
            jsonw_labels(w, r->mat[i].labels);
            jsonw_key(w, "values");
            jsonw_arr_begin(w);
            for (size_t k = 0; k < r->mat[i].n_points; k++) {
                write_point(w, r->mat[i].points[k].t, r->mat[i].points[k].v);
            }
            jsonw_arr_end(w);
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
    }
}

static void write_strings(jsonw_t *w, const char *key, const char *const *s, size_t n,
                          const char *extra)
{
    if (n == 0 && extra == NULL) {
        return;
    }
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_str(w, s[i]);
    }
    if (extra != NULL) {
        jsonw_str(w, extra);
    }
    jsonw_arr_end(w);
}

static void reply_result(http_req_t *req, const promql_result_t *r, size_t limit)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    size_t n = r->type == PROMQL_TYPE_VECTOR ? r->n_vec : r->type == PROMQL_TYPE_MATRIX ? r->n_mat : 0;
    const char *trunc = limit > 0 && n > limit ? "results truncated due to limit" : NULL;
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    jsonw_obj_begin(w);
    write_result(w, r, limit > 0 ? limit : (size_t)-1);
    jsonw_obj_end(w);
    write_strings(w, "warnings", r->warnings, r->n_warnings, trunc);
    write_strings(w, "infos", r->infos, r->n_infos, NULL);
    jsonw_obj_end(w);
    jsonw_free(w);
    http_reply_buf(req, 200, "application/json", &b);
}

/* ---- parameters --------------------------------------------------------------------- */

static int param_time(http_req_t *req, const char *name, int64_t def, int64_t *out, err_t *err)
{
    const char *v = http_req_arg(req, name);
    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    err_t e = {0};
    if (timestamp_parse(v, out, &e) < 0) {
        return err_set(err, ERR_BAD_DATA, "invalid parameter \"%s\": %s", name, e.msg);
    }
    return 0;
}

static int param_duration(http_req_t *req, const char *name, int64_t *out, err_t *err)
{
    const char *v = http_req_arg(req, name);
    err_t e = {0};
    if (api_duration_parse(v != NULL ? v : "", out, &e) < 0) {
        return err_set(err, ERR_BAD_DATA, "invalid parameter \"%s\": %s", name, e.msg);
    }
    return 0;
}

static int param_limit(http_req_t *req, size_t *limit, err_t *err)
{
    const char *v = http_req_arg(req, "limit");
    char *end;
    *limit = 0;
    if (v == NULL || *v == '\0') {
        return 0;
    }
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || n < 0) {
        return err_set(err, ERR_BAD_DATA, "invalid parameter \"limit\": cannot parse \"%s\": "
                                          "must be a non-negative integer", v);
    }
    *limit = (size_t)n;
    return 0;
}

static int query_opts(promql_api_t *api, http_req_t *req, promql_opts_t *o, err_t *err)
{
    memset(o, 0, sizeof(*o));
    o->lookback_ms = api->opts.lookback_ms;
    o->max_samples = api->opts.max_samples;
    o->timeout_ms = api->opts.timeout_ms;
    const char *t = http_req_arg(req, "timeout");
    if (t != NULL && *t != '\0') {
        int64_t ms;
        if (param_duration(req, "timeout", &ms, err) < 0) {
            return -1;
        }
        o->timeout_ms = ms < o->timeout_ms ? ms : o->timeout_ms;
    }
    return 0;
}

static promql_expr_t *parse_query_param(promql_api_t *api, arena_t *a, http_req_t *req,
                                        err_t *err)
{
    const char *q = http_req_arg(req, "query");
    err_t e = {0};
    promql_expr_t *ex = promql_parse_flags(a, q != NULL ? q : "", api->opts.parse_flags, &e);
    if (ex == NULL) {
        err_set(err, e.code == ERR_BAD_DATA ? ERR_BAD_DATA : e.code, "invalid parameter \"query\": %s",
                e.msg);
    }
    return ex;
}

/* ---- handlers ----------------------------------------------------------------------- */

typedef struct {
    int range;
    int64_t t, start, end, step;
} query_args_t;

static int parse_range_args(http_req_t *req, query_args_t *qa, err_t *err)
{
    if (param_time(req, "start", INT64_MIN, &qa->start, err) < 0 ||
        param_time(req, "end", INT64_MIN, &qa->end, err) < 0) {
        return -1;
    }
    if (qa->start == INT64_MIN || qa->end == INT64_MIN) {
        return err_set(err, ERR_BAD_DATA, "invalid parameter \"%s\": cannot parse \"\" to a valid "
                                          "timestamp", qa->start == INT64_MIN ? "start" : "end");
    }
    if (qa->end < qa->start) {
        return err_set(err, ERR_BAD_DATA, "end timestamp must not be before start time");
    }
    if (param_duration(req, "step", &qa->step, err) < 0) {
        return -1;
    }
    if (qa->step <= 0) {
        return err_set(err, ERR_BAD_DATA, "zero or negative query resolution step widths are not "
                                          "accepted. Try a positive integer");
    }
    if ((qa->end - qa->start) / qa->step > MAX_POINTS) {
        return err_set(err, ERR_BAD_DATA, "exceeded maximum resolution of 11,000 points per "
                                          "timeseries. Try decreasing the query resolution "
                                          "(?step=XX)");
    }
    return 0;
}

static int run_query(promql_api_t *api, http_req_t *req, const query_args_t *qa, err_t *err)
{
    size_t budget = api->opts.max_bytes > 0 ? api->opts.max_bytes : (size_t)2 << 30;
    err_t aerr = {0};
    arena_t *a = arena_new(budget, &aerr);
    promql_opts_t o;
    promql_result_t res;
    size_t limit;
    int rc = -1;
    promql_expr_t *e = NULL;
    if (query_opts(api, req, &o, err) < 0 || param_limit(req, &limit, err) < 0 ||
        (e = parse_query_param(api, a, req, err)) == NULL) {
        goto done;
    }
    queryable_t *qb = api->fn(api->ctx, http_req_tenant(req));
    if (qb == NULL) {
        err_set(err, ERR_INTERNAL, "no storage for tenant");
        goto done;
    }
    sem_wait(&api->slots);
    rc = qa->range ? promql_eval_range(a, qb, e, qa->start, qa->end, qa->step, &o, &res, err)
                   : promql_eval_instant(a, qb, e, qa->t, &o, &res, err);
    sem_post(&api->slots);
    if (rc < 0 && err_is_set(&aerr)) {
        err_clear(err);
        err_set(err, ERR_EXECUTION, "%s", aerr.msg);
    }
    if (rc == 0) {
        reply_result(req, &res, limit);
    }
done:
    arena_free(a);
    return rc;
}

static int h_query(http_req_t *req, void *ctx, err_t *err)
{
    query_args_t qa = {0};
    if (param_time(req, "time", time_now_ms(), &qa.t, err) < 0) {
        return -1;
    }
    return run_query(ctx, req, &qa, err);
}

static int h_query_range(http_req_t *req, void *ctx, err_t *err)
{
    query_args_t qa = {.range = 1};
    if (parse_range_args(req, &qa, err) < 0) {
        return -1;
    }
    return run_query(ctx, req, &qa, err);
}

static int h_format_query(http_req_t *req, void *ctx, err_t *err)
{
    promql_api_t *api = ctx;
    arena_t *a = arena_new(64u << 20, NULL);
    promql_expr_t *e = parse_query_param(api, a, req, err);
    if (e != NULL) {
        buf_t b;
        buf_init(&b);
        jsonw_t *w = jsonw_new(&b);
        jsonw_obj_begin(w);
        jsonw_key(w, "status");
        jsonw_str(w, "success");
        jsonw_key(w, "data");
        jsonw_str(w, promql_format(a, e));
        jsonw_obj_end(w);
        jsonw_free(w);
        http_reply_buf(req, 200, "application/json", &b);
    }
    arena_free(a);
    return e != NULL ? 0 : -1;
}

static int h_exemplars(http_req_t *req, void *ctx, err_t *err)
{
    const char *q = http_req_arg(req, "query");
    if (q != NULL) {
        promql_api_t *api = ctx;
        arena_t *a = arena_new(64u << 20, NULL);
        promql_expr_t *e = parse_query_param(api, a, req, err);
        arena_free(a);
        if (e == NULL) {
            return -1;
        }
    }
    static const char body[] = "{\"status\":\"success\",\"data\":[]}";
    http_reply(req, 200, "application/json", body, sizeof(body) - 1);
    return 0;
}

static const struct {
    const char *path;
    http_handler_fn fn;
} routes[] = {
    {"/prometheus/api/v1/query", h_query},
    {"/prometheus/api/v1/query_range", h_query_range},
    {"/prometheus/api/v1/format_query", h_format_query},
    {"/prometheus/api/v1/query_exemplars", h_exemplars},
};

promql_api_t *promql_api_register(http_server_t *srv, promql_api_queryable_fn fn, void *ctx,
                                  const promql_api_opts_t *opts, err_t *err)
{
    promql_api_t *api = xcalloc(1, sizeof(*api));
    api->fn = fn;
    api->ctx = ctx;
    if (opts != NULL) {
        api->opts = *opts;
    }
    api->opts.max_concurrent = api->opts.max_concurrent > 0 ? api->opts.max_concurrent : 20;
    api->opts.timeout_ms = api->opts.timeout_ms > 0 ? api->opts.timeout_ms : 120000;
    sem_init(&api->slots, 0, (unsigned)api->opts.max_concurrent);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (http_route(srv, "GET,POST", routes[i].path, HTTP_AUTH | HTTP_GZIP, routes[i].fn, api) < 0) {
            err_set(err, ERR_INTERNAL, "cannot register %s", routes[i].path);
            promql_api_free(api);
            return NULL;
        }
    }
    return api;
}

void promql_api_free(promql_api_t *api)
{
    if (api == NULL) {
        return;
    }
    sem_destroy(&api->slots);
    free(api);
}

static queryable_t *module_queryable(void *ctx, const char *tenant)
{
    tsdb_registry_t *reg = storage_module_registry();
    return reg != NULL ? tsdb_queryable(reg, tenant) : NULL;
}

static void module_stop(void *arg)
{
    promql_api_free(arg);
}

int promql_api_module_init(struct daemon *d, err_t *err)
{
    if (storage_module_registry() == NULL) {
        return err_set(err, ERR_INTERNAL, "promql-api: the tsdb module must be initialized first");
    }
    promql_api_t *api = promql_api_register(daemon_http(d), module_queryable, NULL, NULL, err);
    if (api == NULL) {
        return -1;
    }
    daemon_on_stop(d, module_stop, api);
    return 0;
}
