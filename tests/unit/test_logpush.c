/* tests/unit/test_logpush.c - the Loki push path: header checks, JSON v1 / legacy JSON /
 * snappy-protobuf decoding, Loki's validation messages, partial acceptance with grouped
 * errors, service_name discovery, the rate and stream limits. Protobuf bodies are built
 * with protobuf-c + snappy as a real client would. */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/matchers.h"
#include "storage/logpush.h"
#include "storage/proto/logpush.pb-c.h"
#include "test.h"

#define NOW_NS 1700000000000000000LL
#define JSON "application/json"

typedef struct {
    char *dir;
    logstore_t *store;
    logpush_t *p;
    logpush_limits_t l;
    logpush_result_t res;
} fx_t;

static void fx_open(fx_t *f)
{
    char tmpl[] = "/tmp/herald-logpush-XXXXXX";
    f->dir = strdup(mkdtemp(tmpl));
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = f->dir;
    err_t err = {0};
    f->store = logstore_open(&o, &err);
    logpush_limits_default(&f->l);
    f->p = logpush_new(f->store, &f->l);
}

static void fx_close(fx_t *f)
{
    logpush_free(f->p);
    logstore_close(f->store);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup failed\n");
    }
    free(f->dir);
}

static int post(fx_t *f, const char *ctype, const char *enc, int legacy, const char *body,
                size_t len)
{
    logpush_ingest(f->p, "t1", ctype, enc, legacy, &f->l, body, len, NOW_NS, &f->res);
    return f->res.status;
}

static int post_json(fx_t *f, const char *body)
{
    return post(f, JSON, NULL, 0, body, strlen(body));
}

/* Stored entries of streams matching sel: "{labels} ts line[md=v]; ..." */
static char *stored(fx_t *f, const char *sel)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    size_t n_ms = 0, n = 0;
    matcher_t **ms = matchers_parse(a, sel, &n_ms, MATCHERS_PROMQL, &err);
    logstore_reader_t *r = logstore_reader(f->store, "t1", 0, INT64_MAX, &err);
    log_stream_t *sts = NULL;
    buf_t out;
    buf_init(&out);
    buf_puts(&out, "");
    logstore_select(r, a, (const matcher_t *const *)ms, n_ms, &sts, &n, &err);
    for (size_t i = 0; i < n; i++) {
        log_iter_t *it = logstore_iter(r, a, &sts[i], 0, &err);
        log_entry_t e;
        while (log_iter_next(it, &e, &err) == 1) {
            if (out.len > 0) {
                buf_puts(&out, "; ");
            }
            labels_format(sts[i].labels, &out);
            buf_printf(&out, " %lld %.*s", (long long)(e.ts_ns - NOW_NS), (int)e.len, e.line);
            for (size_t k = 0; k < e.n_metadata; k++) {
                buf_printf(&out, "[%s=%s]", e.metadata[k].name, e.metadata[k].value);
            }
        }
    }
    logstore_reader_close(r);
    arena_free(a);
    return buf_steal(&out, NULL);
}

#define ASSERT_STORED(f, sel, want)                            \
    do {                                                       \
        char *got_ = stored(f, sel);                           \
        int ok_ = strcmp(got_, want) == 0;                     \
        if (!ok_) {                                            \
            fprintf(stderr, "got  %s\nwant %s\n", got_, want); \
        }                                                      \
        free(got_);                                            \
        ASSERT_TRUE(ok_);                                      \
    } while (0)

/* JSON body with one stream `labels` (JSON object text) and one value at NOW+dt. */
static char *json1(const char *labels, long long dt, const char *line)
{
    char *s = malloc(strlen(labels) + strlen(line) + 128);
    sprintf(s, "{\"streams\":[{\"stream\":%s,\"values\":[[\"%lld\",\"%s\"]]}]}", labels,
            NOW_NS + dt, line);
    return s;
}

TEST(headers)
{
    fx_t f;
    fx_open(&f);
    const char *b = "{\"streams\":[]}";
    ASSERT_EQ(post(&f, NULL, NULL, 0, b, strlen(b)), 400);
    ASSERT_STR_EQ(f.res.msg, "mime: no media type");
    ASSERT_EQ(post(&f, JSON, "br", 0, b, strlen(b)), 400);
    ASSERT_STR_EQ(f.res.msg, "Content-Encoding \"br\" not supported");
    ASSERT_EQ(post(&f, "nonsense", NULL, 0, b, strlen(b)), 400);
    ASSERT_STR_EQ(f.res.msg, "mime: expected slash after first token");
    /* snappy is accepted and ignored; a JSON body with no streams is Loki's 422 */
    ASSERT_EQ(post(&f, "application/json; charset=utf-8", "snappy", 0, b, strlen(b)), 422);
    ASSERT_STR_EQ(f.res.msg, "error at least one valid stream is required for ingestion");
    /* any other media type means snappy-protobuf */
    ASSERT_EQ(post(&f, "text/plain", NULL, 0, b, strlen(b)), 400);
    ASSERT_STR_EQ(f.res.msg, "snappy: corrupt input");
    fx_close(&f);
}

TEST(json_push_stored_with_service_name)
{
    fx_t f;
    fx_open(&f);
    const char *b = "{\"streams\":[{\"stream\":{\"app\":\"api\",\"level\":\"error\"},\"values\":["
                    "[\"1700000000000000001\",\"connection refused\"],"
                    "[\"1700000000000000002\",\"retrying\",{\"trace_id\":\"0242\"}]]}]}";
    ASSERT_EQ(post_json(&f, b), 204);
    ASSERT_EQ(f.res.n_entries, 2);
    ASSERT_STORED(&f, "{app=\"api\"}",
                  "{app=\"api\", level=\"error\", service_name=\"api\"} 1 connection refused; "
                  "{app=\"api\", level=\"error\", service_name=\"api\"} 2 retrying[trace_id=0242]");
    fx_close(&f);
}

TEST(json_malformed)
{
    fx_t f;
    fx_open(&f);
    ASSERT_EQ(post_json(&f, "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[17,\"x\"]]}]}"),
              400);
    ASSERT_TRUE(strstr(f.res.msg, "timestamp") != NULL);
    ASSERT_EQ(post_json(&f, "{\"streams\":"), 400);
    ASSERT_TRUE(strstr(f.res.msg, "decoding JSON") != NULL);
    ASSERT_EQ(post_json(&f, "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",5]]}]}"),
              400);
    ASSERT_STORED(&f, "{a=\"b\"}", "");
    fx_close(&f);
}

TEST(service_name_discovery)
{
    fx_t f;
    fx_open(&f);
    char *b = json1("{\"job\":\"j\",\"container\":\"c\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204); /* container comes before job in the list */
    free(b);
    ASSERT_STORED(&f, "{job=\"j\"}", "{container=\"c\", job=\"j\", service_name=\"c\"} 1 x");
    b = json1("{\"foo\":\"bar\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    ASSERT_STORED(&f, "{foo=\"bar\"}", "{foo=\"bar\", service_name=\"unknown_service\"} 1 x");
    b = json1("{\"app\":\"a\",\"service_name\":\"mine\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    ASSERT_STORED(&f, "{app=\"a\"}", "{app=\"a\", service_name=\"mine\"} 1 x");
    f.l.discover_service_name = 0;
    b = json1("{\"zzz\":\"1\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    ASSERT_STORED(&f, "{zzz=\"1\"}", "{zzz=\"1\"} 1 x");
    fx_close(&f);
}

TEST(validation_messages)
{
    fx_t f;
    fx_open(&f);
    char *b = json1("{\"app\":\"x\"}", -8LL * 24 * 3600 * 1000000000LL, "old");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "entry for stream '{app=\"x\", service_name=\"x\"}' has timestamp "
                             "too old: 2023-11-06T22:13:20Z, oldest acceptable timestamp is: "
                             "2023-11-07T22:13:20Z");
    b = json1("{\"app\":\"x\"}", 11LL * 60 * 1000000000LL, "new");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "entry for stream '{app=\"x\", service_name=\"x\"}' has timestamp "
                             "too new: 2023-11-14T22:24:20Z");
    f.l.max_line_size = 5;
    b = json1("{\"app\":\"x\"}", 1, "toolong");
    ASSERT_EQ(post_json(&f, b), 400);
    ASSERT_STR_EQ(f.res.msg, "Max entry size '5' bytes exceeded for stream '{app=\"x\", "
                             "service_name=\"x\"}' while adding an entry with length '7' bytes");
    f.l.max_line_size_truncate = 1;
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    ASSERT_STORED(&f, "{app=\"x\"}", "{app=\"x\", service_name=\"x\"} 1 toolo");
    f.l.max_label_names_per_series = 1;
    b = json1("{\"a\":\"1\",\"b\":\"2\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "entry for stream '{a=\"1\", b=\"2\"}' has 2 label names; limit 1");
    f.l.max_label_name_length = 3;
    b = json1("{\"abcd\":\"1\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "stream '{abcd=\"1\"}' has label name too long: 'abcd'");
    f.l.max_label_value_length = 2;
    b = json1("{\"a\":\"123\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "stream '{a=\"123\"}' has label value too long: '123'");
    b = json1("{\"foo-bar\":\"1\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 400);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "Error parsing labels '{\"foo-bar\"=\"1\"}' with error: invalid "
                             "label name \"foo-bar\"");
    ASSERT_EQ(post_json(&f, "{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"x\"]]}]}"), 400);
    ASSERT_STR_EQ(f.res.msg, "error at least one label pair is required per stream");
    f.l.allow_structured_metadata = 0;
    ASSERT_EQ(post_json(&f, "{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\""
                            "1700000000000000001\",\"x\",{\"k\":\"v\"}]]}]}"),
              400);
    ASSERT_TRUE(strstr(f.res.msg, "includes structured metadata, but this feature is "
                                  "disallowed") != NULL);
    fx_close(&f);
}

TEST(partial_acceptance_and_grouped_errors)
{
    fx_t f;
    fx_open(&f);
    long long old = -8LL * 24 * 3600 * 1000000000LL;
    char b[1024];
    snprintf(b, sizeof(b),
             "{\"streams\":[{\"stream\":{\"app\":\"good\"},\"values\":[[\"%lld\",\"ok\"],"
             "[\"%lld\",\"stale\"]]},{\"stream\":{\"app\":\"bad\"},\"values\":[[\"%lld\",\"a\"],"
             "[\"%lld\",\"b\"]]}]}",
             NOW_NS + 1, NOW_NS + old, NOW_NS + old, NOW_NS + old);
    ASSERT_EQ(post_json(&f, b), 400);
    ASSERT_STORED(&f, "{app=~\".+\"}", "{app=\"good\", service_name=\"good\"} 1 ok");
    ASSERT_STR_EQ(f.res.msg,
                  "1 errors like: entry for stream '{app=\"good\", service_name=\"good\"}' has "
                  "timestamp too old: 2023-11-06T22:13:20Z, oldest acceptable timestamp is: "
                  "2023-11-07T22:13:20Z; 2 errors like: entry for stream '{app=\"bad\", "
                  "service_name=\"bad\"}' has timestamp too old: 2023-11-06T22:13:20Z, oldest "
                  "acceptable timestamp is: 2023-11-07T22:13:20Z");
    fx_close(&f);
}

/* ---- protobuf ------------------------------------------------------------------------------ */

/* One-stream PushRequest, snappy-compressed into *out (malloc'd). */
static size_t proto_body(const char *labels, const char *line, int with_md, char **out)
{
    Herald__Loki__Timestamp ts = HERALD__LOKI__TIMESTAMP__INIT;
    ts.seconds = NOW_NS / 1000000000LL;
    ts.nanos = 5;
    Herald__Loki__LabelPair md = HERALD__LOKI__LABEL_PAIR__INIT, *mdp = &md;
    md.name = "trace_id";
    md.value = "t9";
    Herald__Loki__Entry e = HERALD__LOKI__ENTRY__INIT, *ep = &e;
    e.timestamp = &ts;
    e.line.data = (uint8_t *)line;
    e.line.len = strlen(line);
    e.n_structured_metadata = with_md ? 1 : 0;
    e.structured_metadata = &mdp;
    Herald__Loki__Stream st = HERALD__LOKI__STREAM__INIT, *stp = &st;
    st.labels = (char *)labels;
    st.n_entries = 1;
    st.entries = &ep;
    Herald__Loki__PushRequest req = HERALD__LOKI__PUSH_REQUEST__INIT;
    req.n_streams = 1;
    req.streams = &stp;
    size_t n = herald__loki__push_request__get_packed_size(&req);
    uint8_t *raw = malloc(n + 1);
    herald__loki__push_request__pack(&req, raw);
    size_t cn = snappy_max_compressed_length(n);
    *out = malloc(cn);
    snappy_compress((const char *)raw, n, *out, &cn);
    free(raw);
    return cn;
}

TEST(protobuf_push)
{
    fx_t f;
    fx_open(&f);
    char *b;
    size_t n = proto_body("{app=\"api\", env=\"prod\"}", "hello", 1, &b);
    ASSERT_EQ(post(&f, "application/x-protobuf", NULL, 0, b, n), 204);
    free(b);
    ASSERT_STORED(&f, "{env=\"prod\"}",
                  "{app=\"api\", env=\"prod\", service_name=\"api\"} 5 hello[trace_id=t9]");
    n = proto_body("{app=}", "x", 0, &b);
    ASSERT_EQ(post(&f, "application/x-protobuf", NULL, 0, b, n), 400);
    free(b);
    ASSERT_TRUE(strncmp(f.res.msg, "Error parsing labels '{app=}' with error: ", 41) == 0);
    n = proto_body("app=\"x\"", "x", 0, &b);
    ASSERT_EQ(post(&f, "application/x-protobuf", NULL, 0, b, n), 400);
    free(b);
    ASSERT_TRUE(strncmp(f.res.msg, "Error parsing labels 'app=\"x\"'", 29) == 0);
    /* snappy around garbage */
    char junk[64];
    size_t jn = sizeof(junk);
    snappy_compress("\xff\xff\xff\xff\xff", 5, junk, &jn);
    ASSERT_EQ(post(&f, "application/x-protobuf", NULL, 0, junk, jn), 400);
    ASSERT_STR_EQ(f.res.msg, "proto: cannot parse invalid wire-format data");
    fx_close(&f);
}

TEST(legacy_json)
{
    fx_t f;
    fx_open(&f);
    const char *b = "{\"streams\":[{\"labels\":\"{app=\\\"old\\\"}\",\"entries\":["
                    "{\"ts\":\"2023-11-14T22:13:20.000000003Z\",\"line\":\"legacy\"}]}]}";
    ASSERT_EQ(post(&f, JSON, NULL, 1, b, strlen(b)), 204);
    ASSERT_STORED(&f, "{app=\"old\"}", "{app=\"old\", service_name=\"old\"} 3 legacy");
    fx_close(&f);
}

TEST(rate_limit)
{
    fx_t f;
    fx_open(&f);
    f.l.ingestion_rate_mb = 1.0 / 1024 / 1024; /* 1 byte/s */
    f.l.ingestion_burst_size_mb = 10.0 / 1024 / 1024;
    char *b = json1("{\"app\":\"x\"}", 1, "0123456789");
    ASSERT_EQ(post_json(&f, b), 204); /* 10 bytes: the whole burst */
    free(b);
    b = json1("{\"app\":\"x\"}", 2, "abc");
    ASSERT_EQ(post_json(&f, b), 429);
    free(b);
    ASSERT_STR_EQ(f.res.msg, "Ingestion rate limit exceeded for user t1 (limit: 1 bytes/sec) "
                             "while attempting to ingest '1' lines totaling '3' bytes, reduce "
                             "log volume or contact your Loki administrator to see if the limit "
                             "can be increased");
    ASSERT_STORED(&f, "{app=\"x\"}", "{app=\"x\", service_name=\"x\"} 1 0123456789");
    fx_close(&f);
}

TEST(stream_limit)
{
    fx_t f;
    fx_open(&f);
    f.l.max_global_streams_per_user = 2;
    char *b = json1("{\"app\":\"a\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    b = json1("{\"app\":\"b\"}", 1, "x");
    ASSERT_EQ(post_json(&f, b), 204);
    free(b);
    char two[512];
    snprintf(two, sizeof(two),
             "{\"streams\":[{\"stream\":{\"app\":\"c\"},\"values\":[[\"%lld\",\"x\"]]},"
             "{\"stream\":{\"app\":\"a\"},\"values\":[[\"%lld\",\"y\"]]}]}",
             NOW_NS + 2, NOW_NS + 2);
    ASSERT_EQ(post_json(&f, two), 429);
    ASSERT_STR_EQ(f.res.msg,
                  "Maximum active stream limit exceeded when trying to create stream {app=\"c\", "
                  "service_name=\"c\"}, reduce the number of active streams (reduce labels or "
                  "reduce label values), or contact your Loki administrator to see if the limit "
                  "can be increased, user: 't1'");
    /* the existing stream's entry went in */
    ASSERT_STORED(&f, "{app=\"a\"}",
                  "{app=\"a\", service_name=\"a\"} 1 x; {app=\"a\", service_name=\"a\"} 2 y");
    ASSERT_STORED(&f, "{app=\"c\"}", "");
    fx_close(&f);
}

TEST(structured_metadata_limits)
{
    fx_t f;
    fx_open(&f);
    f.l.max_structured_metadata_entries_count = 1;
    char b[512];
    snprintf(b, sizeof(b),
             "{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"%lld\",\"x\",{\"k\":\"v\","
             "\"k2\":\"v2\"}]]}]}",
             NOW_NS);
    ASSERT_EQ(post_json(&f, b), 400);
    ASSERT_TRUE(strstr(f.res.msg, "has too many structured metadata labels: '2', limit: '1'") !=
                NULL);
    f.l.max_structured_metadata_entries_count = 0;
    f.l.max_structured_metadata_size = 3;
    ASSERT_EQ(post_json(&f, b), 400);
    ASSERT_TRUE(strstr(f.res.msg, "has structured metadata too large: '6' bytes, limit: '3' "
                                  "bytes") != NULL);
    f.l.max_structured_metadata_size = 0;
    ASSERT_EQ(post_json(&f, b), 204);
    fx_close(&f);
}
