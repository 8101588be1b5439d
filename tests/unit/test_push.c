/* tests/unit/test_push.c - remote-write decoding, Mimir validation messages, partial
 * acceptance, rate and series limits. Bodies are built with protobuf-c + snappy, as a real
 * sender would. */
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/matchers.h"
#include "storage/proto/remote.pb-c.h"
#include "storage/push.h"
#include "test.h"

#define NOW 1700000000000LL

typedef struct {
    Herald__Rw__TimeSeries ts[8];
    Herald__Rw__Label l[8][40], *lp[8][40];
    Herald__Rw__Sample s[8][4], *sp[8][4];
    Herald__Rw__TimeSeries *tsp[8];
    Herald__Rw__WriteRequest req;
} wr_t;

static void wr_init(wr_t *w)
{
    memset(w, 0, sizeof(*w));
    herald__rw__write_request__init(&w->req);
    w->req.timeseries = w->tsp;
}

/* Adds a series from "name=value,name=value" with one sample (t, v). */
static void wr_add(wr_t *w, const char *spec, int64_t t, double v)
{
    size_t i = w->req.n_timeseries++;
    Herald__Rw__TimeSeries *ts = &w->ts[i];
    herald__rw__time_series__init(ts);
    w->tsp[i] = ts;
    ts->labels = w->lp[i];
    ts->samples = w->sp[i];
    char *copy = strdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        Herald__Rw__Label *l = &w->l[i][ts->n_labels];
        herald__rw__label__init(l);
        *eq = '\0';
        l->name = strdup(tok);
        l->value = strdup(eq + 1);
        w->lp[i][ts->n_labels++] = l;
    }
    free(copy);
    herald__rw__sample__init(&w->s[i][0]);
    w->s[i][0].timestamp = t;
    w->s[i][0].value = v;
    w->sp[i][0] = &w->s[i][0];
    ts->n_samples = 1;
}

/* Snappy-compressed body; caller frees. */
static char *wr_body(wr_t *w, size_t *len)
{
    size_t n = herald__rw__write_request__get_packed_size(&w->req);
    uint8_t *raw = malloc(n + 1);
    herald__rw__write_request__pack(&w->req, raw);
    size_t cap = snappy_max_compressed_length(n);
    char *out = malloc(cap);
    *len = cap;
    snappy_compress((const char *)raw, n, out, len);
    free(raw);
    for (size_t i = 0; i < w->req.n_timeseries; i++) {
        for (size_t k = 0; k < w->ts[i].n_labels; k++) {
            free(w->l[i][k].name);
            free(w->l[i][k].value);
        }
    }
    return out;
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/herald-push-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d != NULL ? strdup(d) : NULL;
}

typedef struct {
    char *dir;
    tsdb_registry_t *reg;
    storage_pusher_t *p;
} fix_t;

static void fix_open(fix_t *f, const storage_limits_t *l)
{
    f->dir = tmpdir();
    tsdb_opts_t o;
    tsdb_opts_default(&o);
    o.dir = f->dir;
    o.background = 0;
    err_t err = {0};
    f->reg = tsdb_registry_open(&o, &err);
    storage_limits_t def;
    storage_limits_default(&def);
    f->p = storage_pusher_new(f->reg, l != NULL ? l : &def);
}

static void fix_close(fix_t *f)
{
    storage_pusher_free(f->p);
    tsdb_registry_close(f->reg);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup failed\n");
    }
    free(f->dir);
}

static void push(fix_t *f, const char *tenant, wr_t *w, storage_push_result_t *res)
{
    size_t len;
    char *body = wr_body(w, &len);
    storage_push(f->p, tenant, body, len, NOW, res);
    free(body);
}

static size_t count_series(fix_t *f, const char *tenant, const char *sel)
{
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    size_t n_ms, n = 0;
    matcher_t **ms = matchers_parse(a, sel, &n_ms, 0, &err);
    queryable_t *qb = tsdb_queryable(f->reg, tenant);
    querier_t *q = qb->ops->querier(qb, 0, INT64_MAX, &err);
    series_t *ss;
    q->ops->select(q, a, (const matcher_t *const *)ms, n_ms, &ss, &n, &err);
    q->ops->close(q);
    arena_free(a);
    return n;
}

TEST(push_ok_and_tenant_isolation)
{
    fix_t f;
    fix_open(&f, NULL);
    wr_t w;
    wr_init(&w);
    wr_add(&w, "__name__=up,job=a", NOW, 1);
    wr_add(&w, "job=b,__name__=up", NOW, 0); /* unsorted labels are accepted */
    storage_push_result_t res;
    push(&f, "t1", &w, &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_EQ(res.n_accepted, 2);
    ASSERT_EQ(count_series(&f, "t1", "up"), 2);
    ASSERT_EQ(count_series(&f, "t2", "up"), 0);
    fix_close(&f);
}

TEST(push_malformed_bodies)
{
    fix_t f;
    fix_open(&f, NULL);
    storage_push_result_t res;
    storage_push(f.p, "t", "", 0, NOW, &res);
    ASSERT_EQ(res.status, 400);
    storage_push(f.p, "t", "\xff\xff\xff\xff\xff\xff", 6, NOW, &res);
    ASSERT_EQ(res.status, 400);
    ASSERT_STR_EQ(res.msg, "snappy: corrupt input");
    /* valid snappy around garbage protobuf */
    char garbage[] = "\x0a\xff\xff\xff\x0f garbage";
    char out[128];
    size_t len = sizeof(out);
    snappy_compress(garbage, sizeof(garbage) - 1, out, &len);
    storage_push(f.p, "t", out, len, NOW, &res);
    ASSERT_EQ(res.status, 400);
    /* truncated snappy of a valid request */
    wr_t w;
    wr_init(&w);
    wr_add(&w, "__name__=up,job=a", NOW, 1);
    char *body = wr_body(&w, &len);
    storage_push(f.p, "t", body, len - 3, NOW, &res);
    ASSERT_EQ(res.status, 400);
    free(body);
    ASSERT_EQ(count_series(&f, "t", "up"), 0);
    fix_close(&f);
}

TEST(push_message_size_limit)
{
    storage_limits_t l;
    storage_limits_default(&l);
    l.max_recv_msg_size = 64;
    fix_t f;
    fix_open(&f, &l);
    wr_t w;
    wr_init(&w);
    wr_add(&w,
           "__name__=a_rather_long_metric_name_to_pass_the_limit,job=abcdefghijklmnopqrstuvwxyz",
           NOW, 1);
    storage_push_result_t res;
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 400);
    ASSERT_TRUE(strstr(res.msg, "err-mimir-distributor-max-write-message-size") != NULL);
    fix_close(&f);
}

TEST(push_validation_messages_and_partial_accept)
{
    storage_limits_t l;
    storage_limits_default(&l);
    l.max_label_names_per_series = 3;
    l.max_label_value_length = 10;
    fix_t f;
    fix_open(&f, &l);
    static const struct {
        const char *spec, *want;
    } cases[] = {
        {"job=x", "received series has no metric name (err-mimir-missing-metric-name)"},
        {"__name__=1bad", "received a series with invalid metric name: '1bad' "
                          "(err-mimir-metric-name-invalid)"},
        {"__name__=m,a=1,b=2,c=3", "received a series whose number of labels exceeds the limit "
                                   "(actual: 4, limit: 3) series: '{__name__=\"m\", a=\"1\", "
                                   "b=\"2\", c=\"3\"}' (err-mimir-max-label-names-per-series). To "
                                   "adjust the related per-tenant limit, configure "
                                   "-validation.max-label-names-per-series, or contact your "
                                   "service administrator."},
        {"__name__=m,bad-name=1", "received a series with an invalid label: 'bad-name' series: "
                                  "'{__name__=\"m\", bad-name=\"1\"}' (err-mimir-label-invalid)"},
        {"__name__=m,a=0123456789abc", "err-mimir-label-value-too-long"},
        {"__name__=m,a=1,a=2", "received a series with duplicate label name, label: 'a' series: "
                               "'{__name__=\"m\", a=\"1\", a=\"2\"}' "
                               "(err-mimir-duplicate-label-names)"},
        {"__name__=m,a=\xff\xfe", "err-mimir-label-value-invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wr_t w;
        wr_init(&w);
        wr_add(&w, "__name__=good,job=x", NOW + (int64_t)i, 1);
        wr_add(&w, cases[i].spec, NOW, 1);
        storage_push_result_t res;
        push(&f, "t", &w, &res);
        ASSERT_EQ(res.status, 400);
        ASSERT_EQ(res.n_accepted, 1); /* the good series is stored anyway */
        if (strstr(res.msg, cases[i].want) == NULL) {
            TEST_FAIL_("case %zu: got %s", i, res.msg);
        }
    }
    ASSERT_EQ(count_series(&f, "t", "{__name__=~\".+\"}"), 1);
    fix_close(&f);
}

TEST(push_future_and_out_of_order_samples)
{
    fix_t f;
    fix_open(&f, NULL);
    wr_t w;
    wr_init(&w);
    wr_add(&w, "__name__=m", NOW + 11 * 60 * 1000, 1);
    storage_push_result_t res;
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 400);
    ASSERT_TRUE(strstr(res.msg, "err-mimir-too-far-in-future") != NULL);
    wr_init(&w);
    wr_add(&w, "__name__=m", NOW, 1);
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 200);
    wr_init(&w);
    wr_add(&w, "__name__=m", NOW - 1000, 1);
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 400);
    ASSERT_TRUE(strstr(res.msg, "err-mimir-sample-out-of-order") != NULL);
    fix_close(&f);
}

TEST(push_rate_and_series_limits_answer_429)
{
    storage_limits_t l;
    storage_limits_default(&l);
    l.ingestion_rate = 1;
    l.ingestion_burst_size = 2;
    fix_t f;
    fix_open(&f, &l);
    wr_t w;
    wr_init(&w);
    wr_add(&w, "__name__=a", NOW, 1);
    wr_add(&w, "__name__=b", NOW, 1);
    wr_add(&w, "__name__=c", NOW, 1);
    storage_push_result_t res;
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 429);
    ASSERT_TRUE(strstr(res.msg, "err-mimir-tenant-max-ingestion-rate") != NULL);
    ASSERT_EQ(count_series(&f, "t", "{__name__=~\".+\"}"), 0);
    l.ingestion_rate = 0;
    l.max_global_series_per_user = 2;
    storage_pusher_set_limits(f.p, &l);
    wr_init(&w);
    wr_add(&w, "__name__=a", NOW, 1);
    wr_add(&w, "__name__=b", NOW, 1);
    wr_add(&w, "__name__=c", NOW, 1);
    push(&f, "t", &w, &res);
    ASSERT_EQ(res.status, 429);
    ASSERT_TRUE(strstr(res.msg, "err-mimir-max-series-per-user") != NULL);
    ASSERT_EQ(count_series(&f, "t", "{__name__=~\".+\"}"), 2);
    fix_close(&f);
}
