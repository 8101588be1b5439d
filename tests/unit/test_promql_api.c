/* tests/unit/test_promql_api.c - the query API (promql/api.c) on a real server on 127.0.0.1
 * (ephemeral port) over a memstore, driven with libcurl: exact JSON bodies of each result
 * type, form POST, error types and statuses, format_query, query_exemplars. */
#include <curl/curl.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/labels.h"
#include "promql/api.h"
#include "storage/memstore.h"
#include "test.h"

typedef struct {
    long status;
    buf_t body;
} resp_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

static void get(int port, const char *path, const char *post, resp_t *out)
{
    char url[1024];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (post != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    }
    curl_easy_cleanup(c);
    if (out->body.data == NULL) {
        buf_puts(&out->body, "");
    }
}

static queryable_t *tenant_store(void *ctx, const char *tenant)
{
    return strcmp(tenant, "anonymous") == 0 ? memstore_queryable(ctx) : NULL;
}

static struct {
    http_server_t *srv;
    promql_api_t *api;
    memstore_t *store;
    int port;
} fx;

static void start(void)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    fx.store = memstore_new();
    for (int i = 0; i <= 10; i++) {
        memstore_add(fx.store, labels_parse(a, "up{job=\"api\",instance=\"a\"}", &err), i * 15000, 1, &err);
        memstore_add(fx.store, labels_parse(a, "req_total{job=\"api\"}", &err), i * 15000, i * 1.5, &err);
    }
    arena_free(a);
    http_server_opts_t o = {.listen_address = "127.0.0.1", .threads = 2,
                            .no_auth_tenant = "anonymous"};
    fx.srv = http_server_new(&o, &err);
    ASSERT_NOT_NULL(fx.srv);
    fx.api = promql_api_register(fx.srv, tenant_store, fx.store, NULL, &err);
    ASSERT_NOT_NULL(fx.api);
    ASSERT_EQ(http_server_start(fx.srv, &err), 0);
    fx.port = http_server_port(fx.srv);
}

static void stop(void)
{
    http_server_free(fx.srv);
    promql_api_free(fx.api);
    memstore_free(fx.store);
}

TEST(api_instant_vector_scalar_string)
{
    resp_t r;
    start();
    get(fx.port, "/prometheus/api/v1/query?query=up&time=150", NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                               "[{\"metric\":{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"api\"},"
                               "\"value\":[150,\"1\"]}]}}");
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query?query=1%2F3&time=1.5", NULL, &r);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                               "[1.500,\"0.3333333333333333\"]}}");
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query?query=%22hi%22&time=2", NULL, &r);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":"
                               "[2,\"hi\"]}}");
    buf_fini(&r.body);
    stop();
}

TEST(api_range_query_form_post_and_infos)
{
    resp_t r;
    start();
    get(fx.port, "/prometheus/api/v1/query_range", "query=rate(up[1m])&start=60&end=90&step=15s", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                               "[{\"metric\":{\"instance\":\"a\",\"job\":\"api\"},\"values\":"
                               "[[60,\"0\"],[75,\"0\"],[90,\"0\"]]}]},\"infos\":[\"PromQL info: metric "
                               "might not be a counter, name does not end in _total/_sum/_count/_bucket: "
                               "\\\"up\\\" (1:6)\"]}");
    buf_fini(&r.body);
    stop();
}

TEST(api_errors)
{
    resp_t r;
    start();
    get(fx.port, "/prometheus/api/v1/query?query=sum(", NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid "
                               "parameter \\\"query\\\": 1:5: parse error: unexpected end of input\"}");
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query_range?query=up&start=10&end=5&step=1", NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_NOT_NULL(strstr(r.body.data, "end timestamp must not be before start time"));
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query_range?query=up&start=0&end=100000&step=1", NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_NOT_NULL(strstr(r.body.data, "exceeded maximum resolution of 11,000 points"));
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query?query=up%2Bon(job)group_left%20up&time=abc", NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_NOT_NULL(strstr(r.body.data, "invalid parameter \\\"time\\\""));
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query?query=req_total%2Bon()req_total%20or%20up%2Bon()up&time=150", NULL, &r);
    ASSERT_EQ(r.status, 200); /* one series each side: matches */
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query?query=up%20%2B%20on()%20group_left%20{job=%22api%22}&time=150", NULL, &r);
    ASSERT_EQ(r.status, 422);
    ASSERT_NOT_NULL(strstr(r.body.data, "\"errorType\":\"execution\""));
    buf_fini(&r.body);
    stop();
}

TEST(api_format_query_and_exemplars)
{
    resp_t r;
    start();
    get(fx.port, "/prometheus/api/v1/format_query?query=sum(rate(x[5m]))by(job)", NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":\"sum by (job) (rate(x[5m]))\"}");
    buf_fini(&r.body);
    get(fx.port, "/prometheus/api/v1/query_exemplars?query=up&start=0&end=10", NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"success\",\"data\":[]}");
    buf_fini(&r.body);
    stop();
}
