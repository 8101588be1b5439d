/* storage/api.c - HTTP handlers of the metrics store: remote-write push (Mimir plain-text
 * errors) and the Prometheus series / label names / label values endpoints (Prometheus JSON).
 * Results are written with the streaming JSON writer; sets from several match[] are merged
 * and sorted as Prometheus does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/matchers.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "storage/api.h"

/* Prometheus' open-ended API time bounds (min/max representable), in ms. */
#define API_MIN_TIME (INT64_MIN / 2)
#define API_MAX_TIME (INT64_MAX / 2)

struct storage_api {
    tsdb_registry_t *reg;
    storage_pusher_t *pusher;
};

/* ---- push ------------------------------------------------------------------------------ */

/* Remote write 2.0 announces itself with a proto= parameter; as Mimir, any message other
 * than 1.0's is a 400 (a missing or unknown Content-Type is read as 1.0). */
static int check_proto(http_req_t *r)
{
    const char *ct = http_req_header(r, "Content-Type");
    const char *p = ct != NULL ? strstr(ct, "proto=") : NULL;
    if (p == NULL) {
        return 0;
    }
    p += strlen("proto=");
    size_t n = strcspn(p, "; ");
    if (n == strlen("prometheus.WriteRequest") && strncmp(p, "prometheus.WriteRequest", n) == 0) {
        return 0;
    }
    http_reply_text(r, 400,
                    "unsupported remote write protobuf message %.*s: herald accepts "
                    "remote write 1.0 (prometheus.WriteRequest)",
                    (int)n, p);
    return -1;
}

static int h_push(http_req_t *r, void *ctx, err_t *err)
{
    storage_api_t *api = ctx;
    if (check_proto(r) < 0) {
        return 0;
    }
    size_t len;
    const char *body = http_req_body(r, &len);
    storage_push_result_t res;
    storage_push(api->pusher, http_req_tenant(r), body, len, time_now_ms(), &res);
    if (res.status == 200) {
        http_reply(r, 200, "text/plain; charset=utf-8", "", 0);
        return 0;
    }
    if (res.status == 429 || res.status >= 500) {
        http_set_header(r, "Retry-After", "6"); /* Mimir's minimum back-off */
    }
    http_reply_text(r, res.status, "%s", res.msg);
    return 0;
}

/* ---- query parameters ------------------------------------------------------------------ */

static int time_param(http_req_t *r, const char *name, int64_t def, int64_t *out, err_t *err)
{
    const char *v = http_req_arg(r, name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    if (timestamp_parse(v, out, err) < 0) {
        return err_wrap(err, "invalid parameter \"%s\"", name);
    }
    return 0;
}

static int limit_param(http_req_t *r, size_t *out, err_t *err)
{
    const char *v = http_req_arg(r, "limit");
    *out = 0;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0) {
        return err_set(err, ERR_BAD_DATA,
                       "invalid parameter \"limit\": cannot parse \"%s\" to a valid limit", v);
    }
    *out = (size_t)n;
    return 0;
}

typedef struct {
    arena_t *a;
    querier_t *q;
    matcher_t ***sets; /* one matcher list per match[] */
    size_t *set_lens;
    size_t n_sets;
    size_t limit;
} query_t;

static int query_open(storage_api_t *api, http_req_t *r, int need_match, query_t *qy, err_t *err)
{
    memset(qy, 0, sizeof(*qy));
    qy->a = http_req_arena(r);
    const char *const *matches;
    size_t n = http_req_args(r, "match[]", &matches);
    if (n == 0 && need_match) {
        return err_set(err, ERR_BAD_DATA, "no match[] parameter provided");
    }
    int64_t start, end;
    if (time_param(r, "start", API_MIN_TIME, &start, err) < 0 ||
        time_param(r, "end", API_MAX_TIME, &end, err) < 0 || limit_param(r, &qy->limit, err) < 0) {
        return -1;
    }
    qy->sets = arena_calloc(qy->a, (n + 1) * sizeof(*qy->sets));
    qy->set_lens = arena_calloc(qy->a, (n + 1) * sizeof(*qy->set_lens));
    for (size_t i = 0; i < n; i++) {
        qy->sets[i] = matchers_parse(qy->a, matches[i], &qy->set_lens[i], 0, err);
        if (qy->sets[i] == NULL) {
            return -1;
        }
    }
    qy->n_sets = n;
    queryable_t *qb = tsdb_queryable(api->reg, http_req_tenant(r));
    qy->q = qb->ops->querier(qb, start, end, err);
    return qy->q != NULL ? 0 : -1;
}

static void query_close(query_t *qy)
{
    if (qy->q != NULL) {
        qy->q->ops->close(qy->q);
    }
}

static void reply_strings(http_req_t *r, const char **v, size_t n, size_t limit)
{
    buf_t out;
    buf_init(&out);
    jsonw_t *w = jsonw_new(&out);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n && (limit == 0 || i < limit); i++) {
        jsonw_str(w, v[i]);
    }
    jsonw_arr_end(w);
    jsonw_free(w);
    http_reply_prom_raw(r, &out);
}

/* Names (name == NULL) or values of `name`, merged over every match[] set. */
static int collect_strings(query_t *qy, const char *name, const char ***out, size_t *n_out,
                           err_t *err)
{
    const char **all = NULL;
    size_t n_all = 0;
    size_t rounds = qy->n_sets > 0 ? qy->n_sets : 1;
    for (size_t i = 0; i < rounds; i++) {
        const matcher_t *const *ms = qy->n_sets > 0 ? (const matcher_t *const *)qy->sets[i] : NULL;
        size_t n_ms = qy->n_sets > 0 ? qy->set_lens[i] : 0;
        const char **v;
        size_t n;
        int rc = name == NULL ? qy->q->ops->label_names(qy->q, qy->a, ms, n_ms, &v, &n, err)
                              : qy->q->ops->label_values(qy->q, qy->a, name, ms, n_ms, &v, &n, err);
        if (rc < 0) {
            return -1;
        }
        all =
            arena_realloc(qy->a, (void *)all, n_all * sizeof(*all), (n_all + n + 1) * sizeof(*all));
        if (all == NULL) {
            return -1;
        }
        memcpy(all + n_all, v, n * sizeof(*v));
        n_all += n;
    }
    *n_out = tsdb_sort_unique_strs(all, n_all);
    *out = all;
    return 0;
}

static int h_labels(http_req_t *r, void *ctx, err_t *err)
{
    query_t qy;
    const char **v;
    size_t n;
    int rc = query_open(ctx, r, 0, &qy, err);
    if (rc == 0) {
        rc = collect_strings(&qy, NULL, &v, &n, err);
    }
    query_close(&qy);
    if (rc == 0) {
        reply_strings(r, v, n, qy.limit);
    }
    return rc;
}

static int h_label_values(http_req_t *r, void *ctx, err_t *err)
{
    const char *name = http_req_param(r, "name");
    if (name == NULL || !labels_is_valid_name(name, strlen(name))) {
        return err_set(err, ERR_BAD_DATA, "invalid label name: \"%s\"", name != NULL ? name : "");
    }
    query_t qy;
    const char **v;
    size_t n;
    int rc = query_open(ctx, r, 0, &qy, err);
    if (rc == 0) {
        rc = collect_strings(&qy, name, &v, &n, err);
    }
    query_close(&qy);
    if (rc == 0) {
        reply_strings(r, v, n, qy.limit);
    }
    return rc;
}

static int cmp_labels_ptr(const void *a, const void *b)
{
    return labels_cmp(*(const labels_t *const *)a, *(const labels_t *const *)b);
}

static void write_series(jsonw_t *w, const labels_t **ls, size_t n, size_t limit)
{
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n && (limit == 0 || i < limit); i++) {
        if (i > 0 && labels_equal(ls[i], ls[i - 1])) {
            continue;
        }
        jsonw_labels(w, ls[i]);
    }
    jsonw_arr_end(w);
}

static int h_series(http_req_t *r, void *ctx, err_t *err)
{
    query_t qy;
    const labels_t **all = NULL;
    size_t n_all = 0;
    int rc = query_open(ctx, r, 1, &qy, err);
    for (size_t i = 0; rc == 0 && i < qy.n_sets; i++) {
        series_t *ss;
        size_t n;
        rc = qy.q->ops->select(qy.q, qy.a, (const matcher_t *const *)qy.sets[i], qy.set_lens[i],
                               &ss, &n, err);
        if (rc == 0) {
            all = arena_realloc(qy.a, (void *)all, n_all * sizeof(*all),
                                (n_all + n + 1) * sizeof(*all));
            for (size_t k = 0; all != NULL && k < n; k++) {
                all[n_all++] = ss[k].labels;
            }
        }
    }
    if (rc == 0) {
        if (qy.n_sets > 1) {
            qsort(all, n_all, sizeof(*all), cmp_labels_ptr);
        }
        buf_t out;
        buf_init(&out);
        jsonw_t *w = jsonw_new(&out);
        write_series(w, all, n_all, qy.limit);
        jsonw_free(w);
        http_reply_prom_raw(r, &out);
    }
    query_close(&qy); /* after writing: the label sets belong to the querier */
    return rc;
}

/* ---- registration ------------------------------------------------------------------------ */

storage_api_t *storage_api_register(http_server_t *s, tsdb_registry_t *reg,
                                    const storage_limits_t *limits, const char *prom_prefix,
                                    err_t *err)
{
    static const struct {
        const char *methods, *path;
        int flags;
        http_handler_fn fn;
    } routes[] = {
        {"GET,POST", "/api/v1/series", HTTP_AUTH | HTTP_GZIP, h_series},
        {"GET,POST", "/api/v1/labels", HTTP_AUTH | HTTP_GZIP, h_labels},
        {"GET", "/api/v1/label/{name}/values", HTTP_AUTH | HTTP_GZIP, h_label_values},
    };
    storage_api_t *api = xcalloc(1, sizeof(*api));
    api->reg = reg;
    api->pusher = storage_pusher_new(reg, limits);
    if (http_route(s, "POST", "/api/v1/push", HTTP_AUTH, h_push, api) < 0) {
        goto fail;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s", prom_prefix, routes[i].path);
        if (http_route(s, routes[i].methods, path, routes[i].flags, routes[i].fn, api) < 0) {
            goto fail;
        }
    }
    return api;
fail:
    err_set(err, ERR_INTERNAL, "cannot register the storage routes");
    storage_api_free(api);
    return NULL;
}

void storage_api_set_limits(storage_api_t *api, const storage_limits_t *limits)
{
    storage_pusher_set_limits(api->pusher, limits);
}

void storage_api_set_limits_fn(storage_api_t *api, storage_limits_fn fn, void *arg)
{
    storage_pusher_set_limits_fn(api->pusher, fn, arg);
}

void storage_api_free(storage_api_t *api)
{
    if (api == NULL) {
        return;
    }
    storage_pusher_free(api->pusher);
    free(api);
}
