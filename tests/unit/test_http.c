/* tests/unit/test_http.c - common/http against a real server on 127.0.0.1 (ephemeral port),
 * driven with libcurl: routing, path params, tenancy, args, limits, gzip, errors, shutdown. */
#include <curl/curl.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/metrics.h"
#include "test.h"

/* ---- client side --------------------------------------------------------------------------- */

typedef struct {
    long status;
    buf_t body, headers;
    long connects; /* new connections opened by this request (keep-alive check) */
} resp_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

static void resp_fini(resp_t *r)
{
    buf_fini(&r->body);
    buf_fini(&r->headers);
}

/* One request on `curl` (reused between calls for keep-alive). hdrs: NULL-terminated. */
static void request_on(CURL *curl, int port, const char *method, const char *path,
                       const char *const *hdrs, const char *body, long body_len, resp_t *out)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(out, 0, sizeof(*out));
    struct curl_slist *list = NULL;
    for (const char *const *h = hdrs; h != NULL && *h != NULL; h++) {
        list = curl_slist_append(list, *h);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                         body_len >= 0 ? body_len : (long)strlen(body));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    out->status = curl_easy_perform(curl) == CURLE_OK ? 0 : -1;
    if (out->status == 0) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &out->connects);
    }
    curl_slist_free_all(list);
}

static void request(int port, const char *method, const char *path, const char *const *hdrs,
                    const char *body, resp_t *out)
{
    CURL *curl = curl_easy_init();
    request_on(curl, port, method, path, hdrs, body, -1, out);
    curl_easy_cleanup(curl);
}

static const char *body_of(resp_t *r)
{
    return r->body.data != NULL ? r->body.data : "";
}

static int has_header_line(resp_t *r, const char *line)
{
    return r->headers.data != NULL && strcasestr(r->headers.data, line) != NULL;
}

/* ---- server side ---------------------------------------------------------------------------- */

static int h_echo(http_req_t *r, void *ctx, err_t *err)
{
    const char *const *vals;
    size_t n = http_req_args(r, "match[]", &vals);
    buf_t b;
    buf_init(&b);
    const char *name = http_req_param(r, "name");
    const char *tenant = http_req_tenant(r);
    buf_printf(&b, "%s %s name=%s tenant=%s q=%s match=", http_req_method(r), http_req_path(r),
               name ? name : "-", tenant ? tenant : "-",
               http_req_arg(r, "q") ? http_req_arg(r, "q") : "-");
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i ? "," : "", vals[i]);
    }
    http_reply_buf(r, 200, "text/plain", &b);
    return 0;
}

static int h_fail(http_req_t *r, void *ctx, err_t *err)
{
    return err_set(err, ERR_EXECUTION, "query too \"big\"");
}

static int h_silent(http_req_t *r, void *ctx, err_t *err)
{
    return 0;
}

static int h_big(http_req_t *r, void *ctx, err_t *err)
{
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 2000; i++) {
        buf_printf(&b, "line %d of a compressible body\n", i);
    }
    http_reply_buf(r, 200, "text/plain", &b);
    return 0;
}

static int h_body_len(http_req_t *r, void *ctx, err_t *err)
{
    size_t len = 0;
    http_req_body(r, &len);
    http_reply_text(r, 200, "%zu", len);
    return 0;
}

static sem_t slow_entered; /* posted when h_slow starts, so the test can stop mid-request */

static int h_slow(http_req_t *r, void *ctx, err_t *err)
{
    sem_post(&slow_entered);
    usleep(400 * 1000);
    http_reply_text(r, 200, "slow done");
    return 0;
}

static int h_json(http_req_t *r, void *ctx, err_t *err)
{
    http_reply_prom_data(r, json_pack("{s:s}", "k", "<v>"));
    return 0;
}

static const char *const auth_prefixes[] = {"/prometheus/", "/api/v1/", NULL};

static http_server_t *start_server(int multitenancy)
{
    err_t err = {0};
    http_server_opts_t o = {.listen_address = "127.0.0.1",
                            .threads = 2,
                            .max_body_bytes = 1000,
                            .multitenancy = multitenancy,
                            .no_auth_tenant = "anonymous",
                            .server_name = "test",
                            .auth_prefixes = auth_prefixes};
    http_server_t *s = http_server_new(&o, &err);
    http_route(s, "GET,POST", "/prometheus/api/v1/label/{name}/values", HTTP_AUTH, h_echo, NULL);
    http_route(s, "GET", "/open/{name}", 0, h_echo, NULL);
    http_route(s, "DELETE", "/open/{name}", 0, h_echo, NULL);
    http_route(s, "GET", "/fail", 0, h_fail, NULL);
    http_route(s, "GET", "/fail-text", HTTP_TEXT_ERRORS, h_fail, NULL);
    http_route(s, "GET", "/silent", 0, h_silent, NULL);
    http_route(s, "GET", "/big", HTTP_GZIP, h_big, NULL);
    http_route(s, "POST", "/upload", 0, h_body_len, NULL);
    http_route(s, "GET", "/slow", 0, h_slow, NULL);
    http_route(s, "GET", "/json", 0, h_json, NULL);
    http_route(s, "*", "/static/", HTTP_PREFIX, h_echo, NULL);
    if (http_server_start(s, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        http_server_free(s);
        return NULL;
    }
    return s;
}

TEST(http_route_registration_rejects_bad_input)
{
    err_t err = {0};
    http_server_opts_t o = {.listen_address = "127.0.0.1"};
    http_server_t *s = http_server_new(&o, &err);
    ASSERT_EQ(http_route(s, "FETCH", "/x", 0, h_echo, NULL), -1);
    ASSERT_EQ(http_route(s, "GET", "x", 0, h_echo, NULL), -1);
    ASSERT_EQ(http_route(s, "GET,POST", "/x", 0, h_echo, NULL), 0);
    http_server_free(s);
}

TEST(http_params_are_decoded_per_segment)
{
    http_server_t *s = start_server(1);
    ASSERT_NOT_NULL(s);
    int port = http_server_port(s);
    ASSERT_TRUE(port > 0);
    resp_t r;
    request(port, "GET", "/open/a%2Fb%20c", NULL, NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "GET /open/a/b c name=a/b c tenant=- q=- match=");
    resp_fini(&r);
    request(port, "DELETE", "/open/x", NULL, NULL, &r);
    ASSERT_STR_EQ(body_of(&r), "DELETE /open/x name=x tenant=- q=- match=");
    resp_fini(&r);
    request(port, "PUT", "/static/deep/er/file", NULL, NULL, &r);
    ASSERT_EQ(r.status, 200);
    resp_fini(&r);
    request(port, "GET", "/open/bad%zz", NULL, NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_TRUE(strstr(body_of(&r), "\"errorType\":\"bad_data\"") != NULL);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_loki_style_routes_on_the_decoded_path)
{
    err_t err = {0};
    http_server_opts_t o = {.listen_address = "127.0.0.1", .threads = 1, .route_decoded_path = 1};
    http_server_t *s = http_server_new(&o, &err);
    http_route(s, "GET", "/open/{name}", 0, h_echo, NULL);
    http_route(s, "GET", "/open/{name}/{group}", 0, h_echo, NULL);
    ASSERT_EQ(http_server_start(s, &err), 0);
    resp_t r;
    request(http_server_port(s), "GET", "/open/a%2Fb", NULL, NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "GET /open/a/b name=a tenant=- q=- match=");
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_not_found_and_method_not_allowed_are_json)
{
    http_server_t *s = start_server(1);
    int port = http_server_port(s);
    resp_t r;
    request(port, "GET", "/nope", NULL, NULL, &r);
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(
        body_of(&r),
        "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"path not found: /nope\"}");
    ASSERT_TRUE(has_header_line(&r, "Content-Type: application/json"));
    resp_fini(&r);
    request(port, "POST", "/open/x", NULL, "", &r);
    ASSERT_EQ(r.status, 405);
    ASSERT_TRUE(strstr(body_of(&r), "\"errorType\":\"method_not_allowed\"") != NULL);
    ASSERT_TRUE(has_header_line(&r, "Allow: GET, DELETE"));
    resp_fini(&r);
    /* /open/x/y has no route at all */
    request(port, "GET", "/open/x/y", NULL, NULL, &r);
    ASSERT_EQ(r.status, 404);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_tenant_middleware)
{
    http_server_t *s = start_server(1);
    int port = http_server_port(s);
    const char *path = "/prometheus/api/v1/label/job/values";
    resp_t r;
    request(port, "GET", path, NULL, NULL, &r);
    ASSERT_EQ(r.status, 401);
    ASSERT_STR_EQ(body_of(&r), "no org id\n");
    ASSERT_TRUE(has_header_line(&r, "Content-Type: text/plain; charset=utf-8"));
    resp_fini(&r);
    const char *empty[] = {"X-Scope-OrgID;", NULL}; /* curl: header with empty value */
    request(port, "GET", path, empty, NULL, &r);
    ASSERT_EQ(r.status, 401);
    resp_fini(&r);
    const char *bad[] = {"X-Scope-OrgID: ../x", NULL};
    request(port, "GET", path, bad, NULL, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_EQ(body_of(&r), "tenant ID '../x' contains unsupported character '/'\n");
    resp_fini(&r);
    const char *two[] = {"X-Scope-OrgID: b|a|a", NULL};
    request(port, "GET", path, two, NULL, &r);
    ASSERT_EQ(r.status, 422);
    ASSERT_STR_EQ(body_of(&r), "too many tenant IDs present. max: 1 actual: 2\n");
    resp_fini(&r);
    const char *same[] = {"X-Scope-OrgID: team-a|team-a:sub", NULL};
    request(port, "GET", path, same, NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r),
                  "GET /prometheus/api/v1/label/job/values name=job tenant=team-a q=- match=");
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_refusal_of_a_request_with_a_body_comes_first)
{
    http_server_t *s = start_server(1);
    int port = http_server_port(s);
    resp_t r;
    /* over the body limit AND without tenant: the tenant check answers, body unread */
    char big[2001];
    memset(big, 'y', 2000);
    big[2000] = '\0';
    request(port, "POST", "/prometheus/api/v1/label/a/values", NULL, big, &r);
    ASSERT_EQ(r.status, 401);
    resp_fini(&r);
    const char *ok[] = {"X-Scope-OrgID: t", NULL};
    request(port, "POST", "/prometheus/api/v1/label/a/values", ok, big, &r);
    ASSERT_EQ(r.status, 413);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_auth_runs_before_404_under_auth_prefixes)
{
    http_server_t *s = start_server(1);
    int port = http_server_port(s);
    resp_t r;
    request(port, "GET", "/prometheus/api/v1/unknown", NULL, NULL, &r);
    ASSERT_EQ(r.status, 401);
    resp_fini(&r);
    request(port, "GET", "/api/v1/alerts", NULL, NULL, &r);
    ASSERT_EQ(r.status, 401);
    resp_fini(&r);
    const char *ok[] = {"X-Scope-OrgID: t1", NULL};
    request(port, "GET", "/prometheus/api/v1/unknown", ok, NULL, &r);
    ASSERT_EQ(r.status, 404);
    resp_fini(&r);
    /* outside the prefixes nothing asks for a tenant */
    request(port, "GET", "/elsewhere", NULL, NULL, &r);
    ASSERT_EQ(r.status, 404);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_multitenancy_off_uses_no_auth_tenant_and_can_be_swapped)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    const char *hdr[] = {"X-Scope-OrgID: ignored", NULL};
    resp_t r;
    request(port, "GET", "/prometheus/api/v1/label/a/values", hdr, NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(strstr(body_of(&r), "tenant=anonymous") != NULL);
    resp_fini(&r);
    http_server_set_tenancy(s, 0, "fake");
    request(port, "GET", "/prometheus/api/v1/label/a/values", NULL, NULL, &r);
    ASSERT_TRUE(strstr(body_of(&r), "tenant=fake") != NULL);
    resp_fini(&r);
    http_server_set_tenancy(s, 1, "fake");
    request(port, "GET", "/prometheus/api/v1/label/a/values", NULL, NULL, &r);
    ASSERT_EQ(r.status, 401);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_query_and_form_args_keep_order)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    resp_t r;
    request(port, "POST", "/prometheus/api/v1/label/n/values?match[]=up&q=a+b%21&match%5B%5D=x",
            form, "match[]=%7Bjob%3D%22a%22%7D&bad=%zz&q=ignored", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "POST /prometheus/api/v1/label/n/values name=n tenant=anonymous "
                               "q=a b! match=up,x,{job=\"a\"}");
    resp_fini(&r);
    /* a body that is not a form is not parsed */
    const char *text[] = {"Content-Type: text/plain", NULL};
    request(port, "POST", "/prometheus/api/v1/label/n/values", text, "match[]=z", &r);
    ASSERT_STR_EQ(body_of(&r), "POST /prometheus/api/v1/label/n/values name=n tenant=anonymous "
                               "q=- match=");
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_body_limit_gives_413)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    char big[1501];
    memset(big, 'x', 1500);
    big[1500] = '\0';
    resp_t r;
    request(port, "POST", "/upload", NULL, "hello", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "5\n");
    resp_fini(&r);
    request(port, "POST", "/upload", NULL, big, &r);
    ASSERT_EQ(r.status, 413);
    ASSERT_TRUE(strstr(body_of(&r), "request body too large") != NULL);
    resp_fini(&r);
    /* chunked: no Content-Length, the limit trips while reading */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    request(port, "POST", "/upload", chunked, big, &r);
    ASSERT_EQ(r.status, 413);
    resp_fini(&r);
    /* the server is still fine afterwards */
    request(port, "POST", "/upload", NULL, "ok", &r);
    ASSERT_STR_EQ(body_of(&r), "2\n");
    resp_fini(&r);
    http_server_free(s);
}

/* gzip (or raw deflate with window_bits -15) of s, as a malloc'd block. */
static char *compress_str(const char *s, size_t n, int window_bits, long *out_len)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, n) + 32;
    char *out = malloc(cap);
    z.next_in = (Bytef *)s;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_len = (long)z.total_out;
    deflateEnd(&z);
    return out;
}

TEST(http_gzip_and_deflate_request_bodies_are_decoded)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    CURL *curl = curl_easy_init();
    resp_t r;
    long zlen = 0;
    char *z = compress_str("hello hello hello", 17, 15 + 16, &zlen);
    const char *gz[] = {"Content-Encoding: gzip", NULL};
    request_on(curl, port, "POST", "/upload", gz, z, zlen, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "17\n");
    resp_fini(&r);
    free(z);
    z = compress_str("abc", 3, -15, &zlen);
    const char *df[] = {"Content-Encoding: deflate", NULL};
    request_on(curl, port, "POST", "/upload", df, z, zlen, &r);
    ASSERT_STR_EQ(body_of(&r), "3\n");
    resp_fini(&r);
    free(z);
    /* 900 compressible bytes inflate to 5000: over the 1000-byte limit */
    char big[5001];
    memset(big, 'z', 5000);
    big[5000] = '\0';
    z = compress_str(big, 5000, 15 + 16, &zlen);
    request_on(curl, port, "POST", "/upload", gz, z, zlen, &r);
    ASSERT_EQ(r.status, 413);
    resp_fini(&r);
    free(z);
    request_on(curl, port, "POST", "/upload", gz, "not gzip", 8, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_TRUE(strstr(body_of(&r), "invalid gzip request body") != NULL);
    resp_fini(&r);
    /* snappy is the handler's business: passed through untouched */
    const char *snappy[] = {"Content-Encoding: snappy", NULL};
    request_on(curl, port, "POST", "/upload", snappy, "raw", 3, &r);
    ASSERT_STR_EQ(body_of(&r), "3\n");
    resp_fini(&r);
    curl_easy_cleanup(curl);
    http_server_free(s);
}

TEST(http_handler_errors_become_replies)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    resp_t r;
    request(port, "GET", "/fail", NULL, NULL, &r);
    ASSERT_EQ(r.status, 422);
    ASSERT_STR_EQ(
        body_of(&r),
        "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"query too \\\"big\\\"\"}");
    resp_fini(&r);
    request(port, "GET", "/fail-text", NULL, NULL, &r);
    ASSERT_EQ(r.status, 422);
    ASSERT_STR_EQ(body_of(&r), "query too \"big\"\n");
    resp_fini(&r);
    request(port, "GET", "/silent", NULL, NULL, &r);
    ASSERT_EQ(r.status, 500);
    ASSERT_TRUE(strstr(body_of(&r), "did not reply") != NULL);
    resp_fini(&r);
    request(port, "GET", "/json", NULL, NULL, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(body_of(&r), "{\"status\":\"success\",\"data\":{\"k\":\"\\u003cv\\u003e\"}}");
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_gzip_when_accepted)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    resp_t plain, gz;
    request(port, "GET", "/big", NULL, NULL, &plain);
    ASSERT_EQ(plain.status, 200);
    ASSERT_FALSE(has_header_line(&plain, "Content-Encoding"));
    ASSERT_TRUE(has_header_line(&plain, "Vary: Accept-Encoding"));
    const char *ae[] = {"Accept-Encoding: deflate, gzip;q=0.5", NULL};
    request(port, "GET", "/big", ae, NULL, &gz);
    ASSERT_TRUE(has_header_line(&gz, "Content-Encoding: gzip"));
    ASSERT_TRUE(gz.body.len < plain.body.len / 4);
    /* inflate and compare */
    unsigned char *out = malloc(plain.body.len + 1);
    z_stream z = {0};
    inflateInit2(&z, 15 + 16);
    z.next_in = (Bytef *)gz.body.data;
    z.avail_in = (uInt)gz.body.len;
    z.next_out = out;
    z.avail_out = (uInt)plain.body.len + 1;
    ASSERT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    ASSERT_EQ(z.total_out, plain.body.len);
    ASSERT_TRUE(memcmp(out, plain.body.data, plain.body.len) == 0);
    inflateEnd(&z);
    free(out);
    resp_fini(&gz);
    const char *refused[] = {"Accept-Encoding: gzip;q=0", NULL};
    request(port, "GET", "/big", refused, NULL, &gz);
    ASSERT_FALSE(has_header_line(&gz, "Content-Encoding"));
    resp_fini(&gz);
    resp_fini(&plain);
    http_server_free(s);
}

TEST(http_keep_alive_reuses_the_connection)
{
    http_server_t *s = start_server(0);
    int port = http_server_port(s);
    CURL *curl = curl_easy_init();
    resp_t a, b;
    request_on(curl, port, "GET", "/open/1", NULL, NULL, -1, &a);
    request_on(curl, port, "GET", "/open/2", NULL, NULL, -1, &b);
    ASSERT_EQ(a.connects, 1);
    ASSERT_EQ(b.connects, 0);
    ASSERT_STR_EQ(body_of(&b), "GET /open/2 name=2 tenant=- q=- match=");
    resp_fini(&a);
    resp_fini(&b);
    /* errors on body-less requests keep the connection too */
    request_on(curl, port, "GET", "/nope", NULL, NULL, -1, &a);
    request_on(curl, port, "GET", "/open/3", NULL, NULL, -1, &b);
    ASSERT_EQ(a.status, 404);
    ASSERT_EQ(b.connects, 0);
    resp_fini(&a);
    resp_fini(&b);
    curl_easy_cleanup(curl);
    http_server_free(s);
}

typedef struct {
    int port;
    resp_t resp;
} slow_call_t;

static void *slow_client(void *arg)
{
    slow_call_t *c = arg;
    request(c->port, "GET", "/slow", NULL, NULL, &c->resp);
    return NULL;
}

TEST(http_stop_lets_in_flight_requests_finish)
{
    http_server_t *s = start_server(0);
    slow_call_t call = {.port = http_server_port(s)};
    pthread_t t;
    sem_init(&slow_entered, 0, 0);
    pthread_create(&t, NULL, slow_client, &call);
    sem_wait(&slow_entered); /* the request is inside its handler now */
    http_server_stop(s);
    pthread_join(t, NULL);
    ASSERT_EQ(call.resp.status, 200);
    ASSERT_STR_EQ(body_of(&call.resp), "slow done\n");
    resp_fini(&call.resp);
    /* refused afterwards */
    resp_t r;
    request(call.port, "GET", "/open/x", NULL, NULL, &r);
    ASSERT_EQ(r.status, -1);
    resp_fini(&r);
    http_server_free(s);
}

TEST(http_requests_are_counted_per_route)
{
    err_t err = {0};
    http_server_opts_t o = {
        .listen_address = "127.0.0.1", .threads = 1, .metrics_prefix = "unittest"};
    http_server_t *s = http_server_new(&o, &err);
    http_route(s, "GET", "/open/{name}", 0, h_echo, NULL);
    ASSERT_EQ(http_server_start(s, &err), 0);
    resp_t r;
    for (int i = 0; i < 3; i++) {
        request(http_server_port(s), "GET", "/open/x", NULL, NULL, &r);
        resp_fini(&r);
    }
    request(http_server_port(s), "GET", "/missing", NULL, NULL, &r);
    resp_fini(&r);
    http_server_free(s); /* drains: every observation is in */
    metric_t *h = metric_histogram("unittest_request_duration_seconds", "",
                                   "method,route,"
                                   "status_code,ws",
                                   NULL, 0);
    ASSERT_DBL_EQ(metric_get(h, "GET", "open_name", "200", "false"), 3);
    ASSERT_DBL_EQ(metric_get(h, "GET", "other", "404", "false"), 1);
    buf_t b;
    buf_init(&b);
    metrics_write(&b);
    ASSERT_NOT_NULL(strstr(b.data, "# TYPE unittest_request_duration_seconds histogram"));
    buf_fini(&b);
}

TEST(http_validate_tenant_rules)
{
    err_t err = {0};
    ASSERT_EQ(http_validate_tenant("team-a_(1).*'!", &err), 0);
    ASSERT_EQ(http_validate_tenant(".", &err), -1);
    ASSERT_STR_EQ(err.msg, "tenant ID is '.' or '..'");
    err_clear(&err);
    ASSERT_EQ(http_validate_tenant("..", &err), -1);
    err_clear(&err);
    char longid[152];
    memset(longid, 'a', 151);
    longid[151] = '\0';
    ASSERT_EQ(http_validate_tenant(longid, &err), -1);
    ASSERT_STR_EQ(err.msg, "tenant ID is too long: max 150 characters");
    err_clear(&err);
    longid[150] = '\0';
    ASSERT_EQ(http_validate_tenant(longid, &err), 0);
    ASSERT_EQ(http_validate_tenant("x y", &err), -1);
    ASSERT_STR_EQ(err.msg, "tenant ID 'x y' contains unsupported character ' '");
    err_clear(&err);
    /* Go's %c of the byte 0xc3 is U+00C3 */
    ASSERT_EQ(http_validate_tenant("caf\xc3\xa9", &err), -1);
    ASSERT_STR_EQ(err.msg, "tenant ID 'caf\xc3\xa9' contains unsupported character '\xc3\x83'");
    ASSERT_EQ(err.code, ERR_BAD_DATA);
}

TEST(http_url_helpers)
{
    arena_t *a = arena_new(0, NULL);
    ASSERT_STR_EQ(http_url_decode(a, "a%2Fb+c%41", 10, 0), "a/b+cA");
    ASSERT_STR_EQ(http_url_decode(a, "a%2Fb+c%41", 10, 1), "a/b cA");
    ASSERT_NULL(http_url_decode(a, "%4", 2, 0));
    ASSERT_NULL(http_url_decode(a, "%g0", 3, 0));
    arena_free(a);
    buf_t b;
    buf_init(&b);
    http_url_encode(&b, "alloy/monitoring/app x?&=@~");
    ASSERT_STR_EQ(b.data, "alloy%2Fmonitoring%2Fapp%20x%3F&=@~");
    buf_fini(&b);
}
