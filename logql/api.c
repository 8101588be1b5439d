/* logql/api.c - routes and handlers of Loki's query API (see api.h). Each query gets its own
 * arena under a byte budget; errors are answered as Loki does, in plain text, with the
 * status of their class (a timeout is Loki's 504). Parameters are in api_params.c, response
 * bodies in api_json.c. */
#include "logql/api.h"

#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "config/daemon.h"
#include "logql/api_int.h"

struct logql_api {
    logstore_t *store;
    logql_api_limits_fn limits;
    void *ctx;
    logql_api_opts_t opts;
    sem_t slots;
};

/* Loki's limits_config defaults. */
static void default_limits(logql_api_limits_t *l)
{
    l->max_entries_limit_per_query = 5000;
    l->max_query_series = 500;
    l->max_query_length_ms = (30LL * 24 + 1) * 3600 * 1000;
    l->query_timeout_ms = 60000;
}

static void tenant_limits(logql_api_t *api, const char *tenant, logql_api_limits_t *l)
{
    default_limits(l);
    if (api->limits != NULL) {
        api->limits(api->ctx, tenant, l);
    }
}

/* A handler error: Loki answers timeouts with 504 (herald's ERR_TIMEOUT is Prometheus' 503),
 * everything else by class through the route's plain-text errors. */
static int reply_error(http_req_t *req, err_t *err)
{
    if (err->code == ERR_TIMEOUT) {
        http_reply_text(req, 504, "%s", err->msg);
        return 0;
    }
    return -1;
}

static logql_expr_t *parse_query(arena_t *a, const char *q, err_t *err)
{
    return logql_parse(a, q != NULL ? q : "", err);
}

/* max_query_length, with Loki's text: the length as a Go duration, the limit as a
 * Prometheus one. */
static int check_length(const logql_api_limits_t *l, int64_t start_ns, int64_t end_ns, err_t *err)
{
    if (l->max_query_length_ms <= 0 || end_ns - start_ns <= l->max_query_length_ms * 1000000) {
        return 0;
    }
    char len[64], lim[64];
    go_duration_format(end_ns - start_ns, len, sizeof(len));
    duration_format(l->max_query_length_ms, lim, sizeof(lim));
    return err_set(err, ERR_BAD_DATA,
                   "the query time range exceeds the limit (query length: %s, limit: %s)", len,
                   lim);
}

static int check_entries(const logql_api_limits_t *l, const logql_expr_t *e, uint32_t limit,
                         err_t *err)
{
    if (logql_is_metric(e) || l->max_entries_limit_per_query <= 0 ||
        limit <= (uint32_t)l->max_entries_limit_per_query) {
        return 0;
    }
    return err_set(err, ERR_BAD_DATA,
                   "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                   "(%u > %d)",
                   limit, l->max_entries_limit_per_query);
}

/* ---- query, query_range ---------------------------------------------------------------- */

typedef struct {
    int instant, legacy;
    int64_t t_ns;
    logql__api_range_t ra;
    const char *query;
} query_req_t;

static int run_engine(logql_api_t *api, arena_t *a, const query_req_t *q, const logql_expr_t *e,
                      const logql_api_limits_t *l, const char *tenant, logql_result_t *res,
                      err_t *err)
{
    logql_opts_t o = {
        .max_entries = q->ra.limit,
        .max_series = l->max_query_series > 0 ? (size_t)l->max_query_series : 0,
        .timeout_ms = l->query_timeout_ms,
        .max_bytes = api->opts.max_bytes,
    };
    sem_wait(&api->slots);
    int rc = q->instant ? logql_exec_instant(a, api->store, tenant, e, q->t_ns, &o, res, err)
                        : logql_exec_range(a, api->store, tenant, e, q->ra.start_ns, q->ra.end_ns,
                                           q->ra.step_ns, q->ra.interval_ns, q->ra.limit, q->ra.dir,
                                           &o, res, err);
    sem_post(&api->slots);
    return rc;
}

static void reply_result(http_req_t *req, arena_t *a, const query_req_t *q,
                         const logql_result_t *res)
{
    buf_t b;
    buf_init(&b);
    if (q->legacy) {
        logql__api_write_legacy(&b, res);
    } else {
        logql__api_write_result(&b, a, res, logql__api_categorized(req), q->ra.dir);
        buf_putc(&b, '\n'); /* Loki's encoder ends its bodies with a newline */
    }
    http_reply_buf(req, 200, "application/json; charset=UTF-8", &b);
}

static int run_query(logql_api_t *api, http_req_t *req, const query_req_t *q, err_t *err)
{
    err_t aerr = {0};
    arena_t *a = arena_new(api->opts.max_bytes, &aerr);
    const char *tenant = http_req_tenant(req);
    logql_api_limits_t l;
    logql_result_t res;
    int rc = -1;
    tenant_limits(api, tenant, &l);
    logql_expr_t *e = parse_query(a, q->query, err);
    if (e == NULL || check_entries(&l, e, q->ra.limit, err) < 0 ||
        (!q->instant && check_length(&l, q->ra.start_ns, q->ra.end_ns, err) < 0)) {
        goto done;
    }
    if (q->legacy && logql_is_metric(e)) {
        err_set(err, ERR_BAD_DATA, "legacy endpoints only support streams result type");
        goto done;
    }
    rc = run_engine(api, a, q, e, &l, tenant, &res, err);
    if (rc < 0 && err_is_set(&aerr)) {
        err_clear(err);
        err_set(err, ERR_EXECUTION, "%s", aerr.msg);
    }
    if (rc == 0) {
        reply_result(req, a, q, &res);
    }
done:
    arena_free(a);
    return rc == 0 ? 0 : reply_error(req, err);
}

static int h_query(http_req_t *req, void *ctx, err_t *err)
{
    query_req_t q = {.instant = 1, .query = http_req_arg(req, "query")};
    if (logql__api_param_limit(req, &q.ra.limit, err) < 0 ||
        logql__api_param_time(http_req_arg(req, "time"), time_now_ns(), &q.t_ns, err) < 0 ||
        logql__api_param_direction(req, &q.ra.dir, err) < 0) {
        return -1;
    }
    return run_query(ctx, req, &q, err);
}

static int h_query_range(http_req_t *req, void *ctx, err_t *err)
{
    query_req_t q = {.query = http_req_arg(req, "query")};
    if (logql__api_range_args(req, &q.ra, err) < 0) {
        return -1;
    }
    return run_query(ctx, req, &q, err);
}

/* /api/prom/query: a log query over a range; `regexp` adds a line filter. */
static int h_legacy_query(http_req_t *req, void *ctx, err_t *err)
{
    query_req_t q = {.legacy = 1, .query = http_req_arg(req, "query")};
    if (logql__api_range_args(req, &q.ra, err) < 0) {
        return -1;
    }
    const char *re = http_req_arg(req, "regexp");
    if (re != NULL && re[0] != '\0') {
        buf_t b;
        buf_init(&b);
        buf_printf(&b, "%s |~ ", q.query != NULL ? q.query : "");
        labels_quote(&b, re, strlen(re));
        q.query = arena_strdup(http_req_arena(req), b.data);
        buf_fini(&b);
    }
    return run_query(ctx, req, &q, err);
}

/* ---- labels, label values, series ------------------------------------------------------ */

/* The matchers of an optional selector parameter; "" or "{}" selects every stream. */
static int selector_matchers(arena_t *a, const char *q, logql_selector_t *sel, err_t *err)
{
    memset(sel, 0, sizeof(*sel));
    if (q == NULL || q[strspn(q, " \t\n")] == '\0' || strcmp(q, "{}") == 0) {
        return 0;
    }
    logql_expr_t *e = logql_parse(a, q, err);
    if (e == NULL) {
        return -1;
    }
    if (logql_log_selector(e, sel) < 0) {
        return err_set(err, ERR_BAD_DATA, "only label matchers are supported");
    }
    return 0;
}

static void reply_strings(http_req_t *req, const char *const *s, size_t n, int legacy)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    if (!legacy) {
        jsonw_key(w, "status");
        jsonw_str(w, "success");
    }
    if (n > 0) { /* both Loki bodies omit an empty list (omitempty) */
        jsonw_key(w, legacy ? "values" : "data");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < n; i++) {
            jsonw_str(w, s[i]);
        }
        jsonw_arr_end(w);
    }
    jsonw_obj_end(w);
    jsonw_free(w);
    buf_putc(&b, '\n');
    http_reply_buf(req, 200, "application/json; charset=UTF-8", &b);
}

static int labels_common(logql_api_t *api, http_req_t *req, const char *name, int legacy,
                         err_t *err)
{
    arena_t *a = http_req_arena(req);
    int64_t start, end;
    logql_selector_t sel;
    const char **out = NULL;
    size_t n = 0;
    if (logql__api_param_bounds(req, time_now_ns(), &start, &end, err) < 0 ||
        selector_matchers(a, http_req_arg(req, "query"), &sel, err) < 0) {
        return -1;
    }
    logstore_reader_t *rd = logstore_reader(api->store, http_req_tenant(req), start, end + 1, err);
    if (rd == NULL) {
        return -1;
    }
    int rc = name != NULL
                 ? logstore_label_values(rd, a, name, sel.matchers, sel.n_matchers, &out, &n, err)
                 : logstore_label_names(rd, a, sel.matchers, sel.n_matchers, &out, &n, err);
    logstore_reader_close(rd);
    if (rc == 0) {
        reply_strings(req, out, n, legacy);
    }
    return rc;
}

static int h_labels(http_req_t *req, void *ctx, err_t *err)
{
    return labels_common(ctx, req, NULL, 0, err);
}

static int h_label_values(http_req_t *req, void *ctx, err_t *err)
{
    return labels_common(ctx, req, http_req_param(req, "name"), 0, err);
}

static int h_legacy_labels(http_req_t *req, void *ctx, err_t *err)
{
    return labels_common(ctx, req, NULL, 1, err);
}

static int h_legacy_label_values(http_req_t *req, void *ctx, err_t *err)
{
    return labels_common(ctx, req, http_req_param(req, "name"), 1, err);
}

static int labels_ptr_cmp(const void *x, const void *y)
{
    return labels_cmp(*(const labels_t *const *)x, *(const labels_t *const *)y);
}

/* Streams of every match group, without duplicates, in label order. */
static int series_collect(logstore_reader_t *rd, arena_t *a, const char *const *groups,
                          size_t n_groups, const labels_t ***out, size_t *n_out, err_t *err)
{
    const labels_t **all = NULL;
    size_t n = 0;
    for (size_t g = 0; g < (n_groups > 0 ? n_groups : 1); g++) {
        logql_selector_t sel;
        log_stream_t *st;
        size_t k;
        if (selector_matchers(a, n_groups > 0 ? groups[g] : NULL, &sel, err) < 0 ||
            logstore_select(rd, a, sel.matchers, sel.n_matchers, &st, &k, err) < 0) {
            return -1;
        }
        all = arena_realloc(a, all, n * sizeof(*all), (n + k + 1) * sizeof(*all));
        for (size_t i = 0; all != NULL && i < k; i++) {
            all[n++] = st[i].labels;
        }
    }
    if (all == NULL) {
        return err_set(err, ERR_EXECUTION, "query exceeded its memory budget");
    }
    qsort(all, n, sizeof(*all), labels_ptr_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || !labels_equal(all[m - 1], all[i])) {
            all[m++] = all[i];
        }
    }
    *out = all;
    *n_out = m;
    return 0;
}

static void reply_series(http_req_t *req, const labels_t *const *ls, size_t n)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_labels(w, ls[i]);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    jsonw_free(w);
    buf_putc(&b, '\n');
    http_reply_buf(req, 200, "application/json; charset=UTF-8", &b);
}

static int h_series(http_req_t *req, void *ctx, err_t *err)
{
    logql_api_t *api = ctx;
    arena_t *a = http_req_arena(req);
    const char *const *groups;
    size_t n_groups = http_req_args(req, "match[]", &groups);
    if (n_groups == 0) {
        n_groups = http_req_args(req, "match", &groups);
    }
    int64_t start, end;
    if (logql__api_param_bounds(req, time_now_ns(), &start, &end, err) < 0) {
        return -1;
    }
    logstore_reader_t *rd = logstore_reader(api->store, http_req_tenant(req), start, end + 1, err);
    if (rd == NULL) {
        return -1;
    }
    const labels_t **ls = NULL;
    size_t n = 0;
    int rc = series_collect(rd, a, groups, n_groups, &ls, &n, err);
    if (rc == 0) {
        reply_series(req, ls, n); /* before the reader goes: the labels are its own */
    }
    logstore_reader_close(rd);
    return rc;
}

/* ---- format_query, buildinfo, index/stats --------------------------------------------- */

static int h_format_query(http_req_t *req, void *ctx, err_t *err)
{
    arena_t *a = http_req_arena(req);
    logql_expr_t *e = parse_query(a, http_req_arg(req, "query"), err);
    if (e == NULL) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    jsonw_str(w, logql_format(a, e));
    jsonw_obj_end(w);
    jsonw_free(w);
    http_reply_buf(req, 200, "application/json; charset=UTF-8", &b);
    return 0;
}

static int h_buildinfo(http_req_t *req, void *ctx, err_t *err)
{
    static const char body[] = "{\"version\":\"3.5.0\",\"revision\":\"herald\",\"branch\":"
                               "\"herald\",\"buildUser\":\"herald\",\"buildDate\":\"\","
                               "\"goVersion\":\"\"}\n";
    http_reply(req, 200, "application/json", body, sizeof(body) - 1);
    return 0;
}

/* index/stats: streams, chunks (herald: one per stream), entries and bytes of the matching
 * streams in the range, counted by reading them. */
static int h_index_stats(http_req_t *req, void *ctx, err_t *err)
{
    logql_api_t *api = ctx;
    arena_t *a = http_req_arena(req);
    int64_t start, end;
    logql_selector_t sel;
    if (logql__api_param_bounds(req, time_now_ns(), &start, &end, err) < 0 ||
        selector_matchers(a, http_req_arg(req, "query"), &sel, err) < 0) {
        return -1;
    }
    logstore_reader_t *rd = logstore_reader(api->store, http_req_tenant(req), start, end + 1, err);
    log_stream_t *st = NULL;
    size_t n = 0;
    int64_t entries = 0, bytes = 0;
    int rc = rd != NULL ? logstore_select(rd, a, sel.matchers, sel.n_matchers, &st, &n, err) : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        log_iter_t *it = logstore_iter(rd, a, &st[i], 0, err);
        log_entry_t e;
        while (it != NULL && (rc = log_iter_next(it, &e, err)) == 1) {
            entries++;
            bytes += (int64_t)e.len;
        }
        rc = it == NULL ? -1 : rc;
    }
    logstore_reader_close(rd);
    if (rc < 0) {
        return -1;
    }
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "{\"streams\":%zu,\"chunks\":%zu,\"bytes\":%lld,\"entries\":%lld}", n, n,
               (long long)bytes, (long long)entries);
    http_reply_buf(req, 200, "application/json; charset=UTF-8", &b);
    return 0;
}

/* ---- registration ---------------------------------------------------------------------- */

#define API_FLAGS (HTTP_AUTH | HTTP_GZIP | HTTP_TEXT_ERRORS)

static const struct {
    const char *path;
    http_handler_fn fn;
    int flags;
} routes[] = {
    {"/loki/api/v1/query", h_query, API_FLAGS},
    {"/loki/api/v1/query_range", h_query_range, API_FLAGS},
    {"/loki/api/v1/labels", h_labels, API_FLAGS},
    {"/loki/api/v1/label", h_labels, API_FLAGS},
    {"/loki/api/v1/label/{name}/values", h_label_values, API_FLAGS},
    {"/loki/api/v1/series", h_series, API_FLAGS},
    {"/loki/api/v1/format_query", h_format_query, API_FLAGS},
    {"/loki/api/v1/index/stats", h_index_stats, API_FLAGS},
    {"/loki/api/v1/status/buildinfo", h_buildinfo, 0},
    {"/api/prom/query", h_legacy_query, API_FLAGS},
    {"/api/prom/label", h_legacy_labels, API_FLAGS},
    {"/api/prom/label/{name}/values", h_legacy_label_values, API_FLAGS},
    {"/api/prom/series", h_series, API_FLAGS},
};

logql_api_t *logql_api_register(http_server_t *srv, logstore_t *store, logql_api_limits_fn limits,
                                void *ctx, const logql_api_opts_t *opts, err_t *err)
{
    logql_api_t *api = xcalloc(1, sizeof(*api));
    api->store = store;
    api->limits = limits;
    api->ctx = ctx;
    if (opts != NULL) {
        api->opts = *opts;
    }
    api->opts.max_concurrent = api->opts.max_concurrent > 0 ? api->opts.max_concurrent : 10;
    api->opts.max_bytes = api->opts.max_bytes > 0 ? api->opts.max_bytes : (size_t)1 << 30;
    sem_init(&api->slots, 0, (unsigned)api->opts.max_concurrent);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (http_route(srv, "GET,POST", routes[i].path, routes[i].flags, routes[i].fn, api) < 0) {
            err_set(err, ERR_INTERNAL, "cannot register %s", routes[i].path);
            logql_api_free(api);
            return NULL;
        }
    }
    return api;
}

void logql_api_free(logql_api_t *api)
{
    if (api == NULL) {
        return;
    }
    sem_destroy(&api->slots);
    free(api);
}
