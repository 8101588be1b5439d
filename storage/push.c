/* storage/push.c - remote-write ingestion: decode (snappy block + protobuf-c into an arena),
 * validate each series against the tenant limits with Mimir's error texts, apply the
 * ingestion rate limit, and append the valid series to the tenant TSDB.
 *
 * DESIGN: decoding allocates from one arena per request (protobuf-c with an arena
 * allocator), so a request costs a handful of big allocations whatever its size. Invalid
 * series are skipped and counted; the first reason becomes the 400 body, as Mimir's
 * distributor reports it. The rate limiter is a token bucket per tenant, refilled at
 * ingestion_rate up to ingestion_burst_size; a request whose samples exceed the tokens is
 * rejected whole with 429. */
#include <math.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/hashmap.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "storage/proto/remote.pb-c.h"
#include "storage/push.h"

typedef struct {
    double tokens;
    int64_t last_ms;
} bucket_t;

struct storage_pusher {
    tsdb_registry_t *reg;
    pthread_mutex_t mu; /* guards limits and buckets */
    storage_limits_t limits;
    storage_limits_fn limits_fn; /* set once before the first push */
    void *limits_arg;
    hashmap_t buckets; /* tenant -> bucket_t* */
};

static struct {
    pthread_once_t once;
    metric_t *received, *discarded;
} pm = {.once = PTHREAD_ONCE_INIT};

static void metrics_register(void)
{
    pm.received = metric_counter("cortex_distributor_received_samples_total",
                                 "The total number of received samples, excluding rejected and "
                                 "deduped samples.",
                                 "user");
    pm.discarded =
        metric_counter("cortex_discarded_samples_total",
                       "The total number of samples that were discarded.", "reason,user");
}

void storage_limits_default(storage_limits_t *l)
{
    l->ingestion_rate = 10000;
    l->ingestion_burst_size = 200000;
    l->max_global_series_per_user = 150000;
    l->max_label_names_per_series = 30;
    l->max_label_name_length = 1024;
    l->max_label_value_length = 2048;
    l->creation_grace_period_ms = 10 * 60 * 1000;
    l->max_recv_msg_size = 100u << 20;
}

storage_pusher_t *storage_pusher_new(tsdb_registry_t *reg, const storage_limits_t *limits)
{
    pthread_once(&pm.once, metrics_register);
    storage_pusher_t *p = xcalloc(1, sizeof(*p));
    p->reg = reg;
    p->limits = *limits;
    pthread_mutex_init(&p->mu, NULL);
    hashmap_init(&p->buckets);
    return p;
}

void storage_pusher_free(storage_pusher_t *p)
{
    if (p == NULL) {
        return;
    }
    hashmap_fini(&p->buckets, free);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void storage_pusher_set_limits(storage_pusher_t *p, const storage_limits_t *limits)
{
    pthread_mutex_lock(&p->mu);
    p->limits = *limits;
    pthread_mutex_unlock(&p->mu);
}

void storage_pusher_set_limits_fn(storage_pusher_t *p, storage_limits_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->limits_fn = fn;
    p->limits_arg = arg;
    pthread_mutex_unlock(&p->mu);
}

/* ---- rate limit ------------------------------------------------------------------------ */

static int rate_allow(storage_pusher_t *p, const char *tenant, const storage_limits_t *l, size_t n,
                      int64_t now_ms)
{
    if (l->ingestion_rate <= 0 || n == 0) {
        return 1;
    }
    pthread_mutex_lock(&p->mu);
    bucket_t *b = hashmap_get(&p->buckets, tenant);
    if (b == NULL) {
        b = xmalloc(sizeof(*b));
        b->tokens = (double)l->ingestion_burst_size;
        b->last_ms = now_ms;
        hashmap_put(&p->buckets, tenant, b);
    }
    double burst = (double)l->ingestion_burst_size;
    if (now_ms > b->last_ms) {
        b->tokens =
            fmin(burst, b->tokens + (double)(now_ms - b->last_ms) * l->ingestion_rate / 1000.0);
        b->last_ms = now_ms;
    }
    int ok = (double)n <= b->tokens;
    if (ok) {
        b->tokens -= (double)n;
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

/* ---- validation ------------------------------------------------------------------------ */

typedef struct {
    const storage_limits_t *l;
    const char *tenant;
    int64_t now_ms;
    char first[1024]; /* first validation error */
    size_t n_discarded;
} vctx_t;

/* Prometheus-style `{a="b", c="d"}` of raw pairs, for messages. */
static void format_pairs(const label_t *ls, size_t n, buf_t *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s%s=\"", i > 0 ? ", " : "", ls[i].name);
        for (const char *s = ls[i].value; *s; s++) {
            if (*s == '"' || *s == '\\') {
                buf_putc(out, '\\');
            }
            if (*s == '\n') {
                buf_puts(out, "\\n");
                continue;
            }
            buf_putc(out, *s);
        }
        buf_putc(out, '"');
    }
    buf_putc(out, '}');
}

static const char *const per_tenant_tail =
    ". To adjust the related per-tenant limit, configure -%s, or contact your service "
    "administrator.";

static void reject(vctx_t *v, const char *reason, size_t n_samples, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reject(vctx_t *v, const char *reason, size_t n_samples, const char *fmt, ...)
{
    v->n_discarded += n_samples;
    if (n_samples > 0) {
        metric_add(pm.discarded, (double)n_samples, reason, v->tenant);
    }
    if (v->first[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->first, sizeof(v->first), fmt, ap);
    va_end(ap);
}

static void sort_pairs(label_t *ls, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        label_t x = ls[i];
        size_t j = i;
        while (j > 0 && strcmp(ls[j - 1].name, x.name) > 0) {
            ls[j] = ls[j - 1];
            j--;
        }
        ls[j] = x;
    }
}

static const char *metric_name(const label_t *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ls[i].name, "__name__") == 0) {
            return ls[i].value;
        }
    }
    return NULL;
}

/* Formats the series for a message, only once a series is found invalid. */
static const char *series_str(const label_t *ls, size_t n, buf_t *sb)
{
    if (sb->len == 0) {
        format_pairs(ls, n, sb);
    }
    return sb->data;
}

static int check_label(vctx_t *v, const label_t *ls, size_t n, size_t i, buf_t *sb, size_t ns)
{
    char tail[256];
    const label_t *l = &ls[i];
    size_t nlen = strlen(l->name), vlen = strlen(l->value);
    if (!labels_is_valid_name(l->name, nlen)) {
        reject(v, "label_invalid", ns,
               "received a series with an invalid label: '%.200s' series: '%.200s' "
               "(err-mimir-label-invalid)",
               l->name, series_str(ls, n, sb));
        return -1;
    }
    if ((int)nlen > v->l->max_label_name_length) {
        snprintf(tail, sizeof(tail), per_tenant_tail, "validation.max-length-label-name");
        reject(v, "label_name_too_long", ns,
               "received a series whose label name length exceeds the limit, label: '%.200s' "
               "series: '%.200s' (err-mimir-label-name-too-long)%s",
               l->name, series_str(ls, n, sb), tail);
        return -1;
    }
    if ((int)vlen > v->l->max_label_value_length) {
        snprintf(tail, sizeof(tail), per_tenant_tail, "validation.max-length-label-value");
        reject(v, "label_value_too_long", ns,
               "received a series whose label value length exceeds the limit, label: '%s', value: "
               "'%.200s' (truncated) series: '%.200s' (err-mimir-label-value-too-long)%s",
               l->name, l->value, series_str(ls, n, sb), tail);
        return -1;
    }
    if (!labels_is_valid_utf8(l->value, vlen)) {
        reject(v, "label_value_invalid", ns,
               "received a series with invalid value in label '%.200s': '%.200s' metric: '%.200s' "
               "(err-mimir-label-value-invalid)",
               l->name, l->value, metric_name(ls, n));
        return -1;
    }
    if (i > 0 && strcmp(ls[i - 1].name, l->name) == 0) {
        reject(v, "duplicate_label_names", ns,
               "received a series with duplicate label name, label: '%.200s' series: '%.200s' "
               "(err-mimir-duplicate-label-names)",
               l->name, series_str(ls, n, sb));
        return -1;
    }
    return 0;
}

/* Mimir's distributor label checks, in its order. 0 valid, -1 rejected. */
static int validate_labels(vctx_t *v, const label_t *ls, size_t n, size_t ns)
{
    buf_t sb;
    buf_init(&sb);
    int rc = -1;
    const char *name = metric_name(ls, n);
    char tail[256];
    if (name == NULL) {
        reject(v, "missing_metric_name", ns,
               "received series has no metric name (err-mimir-missing-metric-name)");
    } else if (!labels_is_valid_metric_name(name, strlen(name))) {
        reject(
            v, "metric_name_invalid", ns,
            "received a series with invalid metric name: '%.200s' (err-mimir-metric-name-invalid)",
            name);
    } else if ((int)n > v->l->max_label_names_per_series) {
        snprintf(tail, sizeof(tail), per_tenant_tail, "validation.max-label-names-per-series");
        reject(v, "max_label_names_per_series", ns,
               "received a series whose number of labels exceeds the limit (actual: %zu, limit: "
               "%d) series: '%.200s' (err-mimir-max-label-names-per-series)%s",
               n, v->l->max_label_names_per_series, series_str(ls, n, &sb), tail);
    } else {
        rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = check_label(v, ls, n, i, &sb, ns);
        }
    }
    buf_fini(&sb);
    return rc;
}

/* Drops samples too far in the future; returns how many remain (compacted in place). */
static size_t validate_samples(vctx_t *v, const char *name, sample_t *ss, size_t n)
{
    char tail[256];
    size_t w = 0;
    int64_t limit = v->now_ms + v->l->creation_grace_period_ms;
    for (size_t i = 0; i < n; i++) {
        if (ss[i].t <= limit) {
            ss[w++] = ss[i];
            continue;
        }
        snprintf(tail, sizeof(tail), per_tenant_tail, "validation.create-grace-period");
        reject(v, "too_far_in_future", 1,
               "received a sample whose timestamp is too far in the future, timestamp: %lld "
               "series: '%.200s' (err-mimir-too-far-in-future)%s",
               (long long)ss[i].t, name, tail);
    }
    return w;
}

/* ---- decoding -------------------------------------------------------------------------- */

static void *pb_alloc(void *ad, size_t n) { return arena_alloc(ad, n == 0 ? 1 : n); }
static void pb_free(void *ad, void *p) {}

static Herald__Rw__WriteRequest *decode(arena_t *a, const void *body, size_t len,
                                        const storage_limits_t *l, storage_push_result_t *res)
{
    size_t ulen;
    if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK) {
        res->status = 400;
        snprintf(res->msg, sizeof(res->msg), "snappy: corrupt input");
        return NULL;
    }
    if (ulen > l->max_recv_msg_size) {
        res->status = 400;
        snprintf(res->msg, sizeof(res->msg),
                 "the incoming push request has been rejected because its message size of %zu "
                 "bytes is larger than the allowed limit of %zu bytes "
                 "(err-mimir-distributor-max-write-message-size). To adjust the related limit, "
                 "configure -distributor.max-recv-msg-size, or contact your service administrator.",
                 ulen, l->max_recv_msg_size);
        return NULL;
    }
    char *raw = arena_alloc(a, ulen + 1);
    if (snappy_uncompress(body, len, raw, &ulen) != SNAPPY_OK) {
        res->status = 400;
        snprintf(res->msg, sizeof(res->msg), "snappy: corrupt input");
        return NULL;
    }
    ProtobufCAllocator al = {pb_alloc, pb_free, a};
    Herald__Rw__WriteRequest *req =
        herald__rw__write_request__unpack(&al, ulen, (const uint8_t *)raw);
    if (req == NULL) {
        res->status = 400;
        snprintf(res->msg, sizeof(res->msg), "proto: cannot parse invalid wire-format data");
    }
    return req;
}

/* Converts one decoded series; NULL when invalid (counted in v). */
static int convert(arena_t *a, vctx_t *v, const Herald__Rw__TimeSeries *ts, tsdb_series_in_t *out)
{
    label_t *ls = arena_alloc(a, (ts->n_labels + 1) * sizeof(*ls));
    size_t n = 0;
    for (size_t i = 0; i < ts->n_labels; i++) {
        if (ts->labels[i]->value[0] != '\0') { /* an empty value means "no such label" */
            ls[n++] = (label_t){ts->labels[i]->name, ts->labels[i]->value};
        }
    }
    sort_pairs(ls, n);
    if (validate_labels(v, ls, n, ts->n_samples) < 0) {
        return -1;
    }
    sample_t *ss = arena_alloc(a, (ts->n_samples + 1) * sizeof(*ss));
    for (size_t i = 0; i < ts->n_samples; i++) {
        ss[i].t = ts->samples[i]->timestamp;
        ss[i].v = ts->samples[i]->value;
    }
    *out =
        (tsdb_series_in_t){ls, n, ss, validate_samples(v, metric_name(ls, n), ss, ts->n_samples)};
    return out->n_samples > 0 ? 0 : -1;
}

static void ingest(storage_pusher_t *p, const char *tenant, const storage_limits_t *l,
                   tsdb_series_in_t *in, size_t n, vctx_t *v, storage_push_result_t *res)
{
    size_t n_samples = 0;
    for (size_t i = 0; i < n; i++) {
        n_samples += in[i].n_samples;
    }
    if (!rate_allow(p, tenant, l, n_samples, v->now_ms)) {
        metric_add(pm.discarded, (double)n_samples, "rate_limited", tenant);
        res->status = 429;
        snprintf(res->msg, sizeof(res->msg),
                 "the request has been rejected because the tenant exceeded the ingestion rate "
                 "limit, set to %g items/s with a maximum allowed burst of %lld. This limit is "
                 "applied on the total number of samples, exemplars and metadata received across "
                 "all distributors (err-mimir-tenant-max-ingestion-rate). To adjust the related "
                 "per-tenant limits, configure -distributor.ingestion-rate-limit and "
                 "-distributor.ingestion-burst-size, or contact your service administrator.",
                 l->ingestion_rate, (long long)l->ingestion_burst_size);
        return;
    }
    metric_add(pm.received, (double)n_samples, tenant);
    err_t err = {0};
    tsdb_t *db = n > 0 ? tsdb_tenant(p->reg, tenant, 1, &err) : NULL;
    tsdb_append_result_t ar;
    memset(&ar, 0, sizeof(ar));
    if ((n > 0 && db == NULL) ||
        (db != NULL &&
         tsdb_append(db, in, n, (size_t)l->max_global_series_per_user, &ar, &err) < 0)) {
        res->status = err.code == ERR_BAD_DATA ? 400 : 500;
        snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
        return;
    }
    res->n_accepted = ar.n_ok;
    if (v->first[0] != '\0') {
        res->status = 400;
        snprintf(res->msg, sizeof(res->msg), "%s", v->first);
    } else if (err_is_set(&ar.first)) {
        res->status = err_status(ar.first.code);
        snprintf(res->msg, sizeof(res->msg), "%s", ar.first.msg);
    }
}

void storage_push(storage_pusher_t *p, const char *tenant, const void *body, size_t len,
                  int64_t now_ms, storage_push_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 200;
    storage_limits_t l;
    pthread_mutex_lock(&p->mu);
    l = p->limits;
    storage_limits_fn fn = p->limits_fn;
    void *arg = p->limits_arg;
    pthread_mutex_unlock(&p->mu);
    if (fn != NULL) {
        fn(arg, tenant, &l);
    }

    arena_t *a = arena_new(0, NULL);
    Herald__Rw__WriteRequest *req = decode(a, body, len, &l, res);
    if (req != NULL) {
        vctx_t v = {.l = &l, .tenant = tenant, .now_ms = now_ms};
        tsdb_series_in_t *in = arena_alloc(a, (req->n_timeseries + 1) * sizeof(*in));
        size_t n = 0;
        res->n_series = req->n_timeseries;
        for (size_t i = 0; i < req->n_timeseries; i++) {
            res->n_samples += req->timeseries[i]->n_samples;
            if (convert(a, &v, req->timeseries[i], &in[n]) == 0) {
                n++;
            }
        }
        ingest(p, tenant, &l, in, n, &v, res);
    }
    arena_free(a);
}
