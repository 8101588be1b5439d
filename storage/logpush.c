/* storage/logpush.c - Loki push ingestion: header checks, decoding, per-stream validation
 * with Loki's texts, service_name discovery, the per-tenant ingestion rate limit, the active
 * stream limit, and the hand-off to the log store.
 *
 * DESIGN: as Loki's distributor, invalid streams and entries are dropped one by one and
 * their errors collected; the valid rest is rate-limited as a whole (429 rejects all of
 * it) and stored. The answer is 429 when the stream limit dropped a stream (the ingester's
 * error wins in Loki), else 400 with the collected errors grouped by text ("N errors like:
 * ..." joined by "; ", Loki's GroupedErrors), else 204. The rate limiter is a token bucket
 * per tenant in bytes of lines plus structured metadata. */
#include "storage/logpush.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/hashmap.h"
#include "common/mem.h"
#include "common/metrics.h"

typedef struct {
    double tokens;
    int64_t last_ns;
} bucket_t;

struct logpush {
    logstore_t *store;
    pthread_mutex_t mu; /* guards limits and buckets */
    logpush_limits_t limits;
    hashmap_t buckets; /* tenant -> bucket_t* */
};

static struct {
    pthread_once_t once;
    metric_t *bytes, *lines, *md_bytes, *discarded, *discarded_bytes, *created;
} pm = {.once = PTHREAD_ONCE_INIT};

static void metrics_register(void)
{
    pm.bytes = metric_counter("loki_distributor_bytes_received_total",
                              "The total number of uncompressed bytes received per tenant. "
                              "Includes structured metadata bytes.",
                              "tenant,retention_hours");
    pm.md_bytes = metric_counter("loki_distributor_structured_metadata_bytes_received_total",
                                 "The total number of uncompressed bytes received per tenant "
                                 "for entries' structured metadata",
                                 "tenant,retention_hours");
    pm.lines = metric_counter("loki_distributor_lines_received_total",
                              "The total number of lines received per tenant", "tenant");
    pm.discarded =
        metric_counter("loki_discarded_samples_total",
                       "The total number of samples that were discarded.", "reason,tenant");
    pm.discarded_bytes =
        metric_counter("loki_discarded_bytes_total",
                       "The total number of bytes that were discarded.", "reason,tenant");
    pm.created = metric_counter("loki_ingester_streams_created_total",
                                "The total number of streams created per tenant.", "tenant");
}

void logpush_limits_default(logpush_limits_t *l)
{
    *l = (logpush_limits_t){
        .ingestion_rate_mb = 4,
        .ingestion_burst_size_mb = 6,
        .max_label_names_per_series = 15,
        .max_label_name_length = 1024,
        .max_label_value_length = 2048,
        .reject_old_samples = 1,
        .reject_old_samples_max_age_ms = 7 * 24 * 3600 * 1000LL,
        .creation_grace_period_ms = 10 * 60 * 1000,
        .max_line_size = 256 * 1024, /* flagext.ByteSize: "256KB" is 256 KiB */
        .max_global_streams_per_user = 5000,
        .allow_structured_metadata = 1,
        .max_structured_metadata_size = 64 * 1024,
        .max_structured_metadata_entries_count = 128,
        .discover_service_name = 1,
        .max_recv_msg_size = 100u << 20,
    };
}

logpush_t *logpush_new(logstore_t *store, const logpush_limits_t *limits)
{
    pthread_once(&pm.once, metrics_register);
    logpush_t *p = xcalloc(1, sizeof(*p));
    p->store = store;
    p->limits = *limits;
    pthread_mutex_init(&p->mu, NULL);
    hashmap_init(&p->buckets);
    return p;
}

void logpush_free(logpush_t *p)
{
    if (p == NULL) {
        return;
    }
    hashmap_fini(&p->buckets, free);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void logpush_set_limits(logpush_t *p, const logpush_limits_t *limits)
{
    pthread_mutex_lock(&p->mu);
    p->limits = *limits;
    pthread_mutex_unlock(&p->mu);
}

/* ---- rate limit -------------------------------------------------------------------------- */

static double mib(double v)
{
    return v * 1024 * 1024;
}

static int rate_allow(logpush_t *p, const char *tenant, const logpush_limits_t *l, size_t bytes,
                      int64_t now_ns)
{
    if (l->ingestion_rate_mb <= 0 || bytes == 0) {
        return 1;
    }
    double rate = mib(l->ingestion_rate_mb), burst = mib(l->ingestion_burst_size_mb);
    pthread_mutex_lock(&p->mu);
    bucket_t *b = hashmap_get(&p->buckets, tenant);
    if (b == NULL) {
        b = xmalloc(sizeof(*b));
        *b = (bucket_t){burst, now_ns};
        hashmap_put(&p->buckets, tenant, b);
    }
    if (now_ns > b->last_ns) {
        b->tokens = fmin(burst, b->tokens + (double)(now_ns - b->last_ns) * rate / 1e9);
        b->last_ns = now_ns;
    }
    int ok = (double)bytes <= b->tokens;
    if (ok) {
        b->tokens -= (double)bytes;
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

/* ---- errors, grouped as Loki's GroupedErrors ------------------------------------------------ */

typedef struct {
    char *msgs[16]; /* distinct texts, first seen first (heap) */
    size_t counts[16];
    size_t n;
} errs_t;

static void errs_add(errs_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errs_add(errs_t *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->msgs[i], msg) == 0) {
            e->counts[i]++;
            return;
        }
    }
    if (e->n < sizeof(e->msgs) / sizeof(e->msgs[0])) {
        e->msgs[e->n] = xstrdup(msg);
        e->counts[e->n++] = 1;
    }
}

static void errs_format(const errs_t *e, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->n && off < n; i++) {
        const char *sep = i > 0 ? "; " : "";
        if (e->n > 1 || e->counts[i] > 1) {
            off += (size_t)snprintf(out + off, n - off, "%s%zu errors like: %s", sep, e->counts[i],
                                    e->msgs[i]);
        } else {
            off += (size_t)snprintf(out + off, n - off, "%s%s", sep, e->msgs[i]);
        }
    }
}

static void errs_fini(errs_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->msgs[i]);
    }
}

/* ---- validation ------------------------------------------------------------------------------ */

typedef struct {
    logpush_t *p;
    const char *tenant;
    const logpush_limits_t *l;
    int64_t now_ns;
    arena_t *a;
    errs_t errs;
} vctx_t;

static size_t entry_size(const log_entry_t *e)
{
    size_t n = e->len;
    for (size_t i = 0; i < e->n_metadata; i++) {
        n += strlen(e->metadata[i].name) + strlen(e->metadata[i].value);
    }
    return n;
}

static void discard(vctx_t *v, const char *reason, const log_entry_t *es, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += entry_size(&es[i]);
    }
    if (n > 0) {
        metric_add(pm.discarded, (double)n, reason, v->tenant);
        metric_add(pm.discarded_bytes, (double)bytes, reason, v->tenant);
    }
}

/* Go's time.Format(time.RFC3339) of a UTC time. */
static void rfc3339_seconds(int64_t ns, char *out, size_t n)
{
    time_t s = (time_t)(ns / 1000000000LL - (ns % 1000000000LL < 0));
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Label names must be legacy-valid: Loki parses every stream's labels as a selector. */
static labels_t *check_names(labels_t *ls, err_t *err)
{
    for (size_t i = 0; ls != NULL && i < labels_len(ls); i++) {
        const char *name = labels_at(ls, i).name;
        if (!labels_is_valid_name(name, strlen(name))) {
            err_set(err, ERR_BAD_DATA, "invalid label name \"%s\"", name);
            return NULL;
        }
    }
    return ls;
}

/* Loki's syntax.ParseLabels: a `{...}` selector of equality matchers. JSON streams come
 * already built (st->labels) and only have their names checked. */
static labels_t *stream_labels(vctx_t *v, const logpush_stream_t *st, err_t *err)
{
    if (st->labels != NULL) {
        return check_names(st->labels, err);
    }
    const char *s = st->labels_text + strspn(st->labels_text, " \t\n");
    if (*s != '{') {
        err_set(err, ERR_BAD_DATA,
                "parse error at line 1, col 1: syntax error: unexpected input, expecting {");
        return NULL;
    }
    return check_names(labels_parse(v->a, s, err), err);
}

static int validate_labels(vctx_t *v, const logpush_stream_t *st, const labels_t *ls)
{
    const logpush_limits_t *l = v->l;
    size_t n = labels_len(ls);
    if (n == 0) {
        errs_add(&v->errs, "error at least one label pair is required per stream");
        discard(v, "missing_labels", st->entries, st->n_entries);
        return -1;
    }
    size_t counted = n - (labels_get(ls, "service_name") != NULL);
    if (l->max_label_names_per_series > 0 && counted > (size_t)l->max_label_names_per_series) {
        errs_add(&v->errs, "entry for stream '%s' has %zu label names; limit %d", st->labels_text,
                 counted, l->max_label_names_per_series);
        discard(v, "max_label_names_per_series", st->entries, st->n_entries);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        label_t x = labels_at(ls, i);
        if (l->max_label_name_length > 0 && strlen(x.name) > (size_t)l->max_label_name_length) {
            errs_add(&v->errs, "stream '%s' has label name too long: '%s'", st->labels_text,
                     x.name);
            discard(v, "label_name_too_long", st->entries, st->n_entries);
            return -1;
        }
        if (l->max_label_value_length > 0 && strlen(x.value) > (size_t)l->max_label_value_length) {
            errs_add(&v->errs, "stream '%s' has label value too long: '%s'", st->labels_text,
                     x.value);
            discard(v, "label_value_too_long", st->entries, st->n_entries);
            return -1;
        }
    }
    return 0;
}

/* Loki's discover_service_name defaults, in priority order. */
static const char *const service_name_labels[] = {
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
};

static labels_t *with_service_name(vctx_t *v, labels_t *ls)
{
    if (!v->l->discover_service_name || labels_get(ls, "service_name") != NULL) {
        return ls;
    }
    const char *value = "unknown_service";
    for (size_t i = 0; i < sizeof(service_name_labels) / sizeof(service_name_labels[0]); i++) {
        const char *x = labels_get(ls, service_name_labels[i]);
        if (x != NULL) {
            value = x;
            break;
        }
    }
    labels_builder_t *b = labels_builder_new(v->a, ls);
    labels_builder_set(b, "service_name", value);
    return labels_builder_build(b);
}

/* Structured metadata limits of one entry (it has some). */
static int validate_metadata(vctx_t *v, const char *ls_text, const log_entry_t *e)
{
    const logpush_limits_t *l = v->l;
    size_t size = entry_size(e) - e->len;
    if (!l->allow_structured_metadata) {
        errs_add(&v->errs,
                 "stream '%s' includes structured metadata, but this feature is disallowed. "
                 "Please see `limits_config.allow_structured_metadata` or contact your Loki "
                 "administrator to enable it.",
                 ls_text);
        discard(v, "disallowed_structured_metadata", e, 1);
        return -1;
    }
    if (l->max_structured_metadata_size > 0 && size > l->max_structured_metadata_size) {
        errs_add(&v->errs,
                 "stream '%s' has structured metadata too large: '%zu' bytes, limit: '%zu' "
                 "bytes. Please see `limits_config.max_structured_metadata_size` or contact "
                 "your Loki administrator to increase it.",
                 ls_text, size, l->max_structured_metadata_size);
        discard(v, "structured_metadata_too_large", e, 1);
        return -1;
    }
    int max = l->max_structured_metadata_entries_count;
    if (max > 0 && e->n_metadata > (size_t)max) {
        errs_add(&v->errs,
                 "stream '%s' has too many structured metadata labels: '%zu', limit: '%d'. "
                 "Please see `limits_config.max_structured_metadata_entries_count` or contact "
                 "your Loki administrator to increase it.",
                 ls_text, e->n_metadata, max);
        discard(v, "structured_metadata_too_many", e, 1);
        return -1;
    }
    return 0;
}

/* 0 keeps the entry; -1 drops it with its error recorded. */
static int validate_entry(vctx_t *v, const char *ls_text, const log_entry_t *e)
{
    const logpush_limits_t *l = v->l;
    char t1[40], t2[40];
    if (l->reject_old_samples &&
        e->ts_ns < v->now_ns - l->reject_old_samples_max_age_ms * 1000000LL) {
        rfc3339_seconds(e->ts_ns, t1, sizeof(t1));
        rfc3339_seconds(v->now_ns - l->reject_old_samples_max_age_ms * 1000000LL, t2, sizeof(t2));
        errs_add(&v->errs,
                 "entry for stream '%s' has timestamp too old: %s, oldest acceptable "
                 "timestamp is: %s",
                 ls_text, t1, t2);
        discard(v, "greater_than_max_sample_age", e, 1);
        return -1;
    }
    if (e->ts_ns > v->now_ns + l->creation_grace_period_ms * 1000000LL) {
        rfc3339_seconds(e->ts_ns, t1, sizeof(t1));
        errs_add(&v->errs, "entry for stream '%s' has timestamp too new: %s", ls_text, t1);
        discard(v, "too_far_in_future", e, 1);
        return -1;
    }
    if (l->max_line_size > 0 && e->len > (size_t)l->max_line_size) {
        errs_add(&v->errs,
                 "Max entry size '%lld' bytes exceeded for stream '%s' while adding an entry "
                 "with length '%zu' bytes",
                 (long long)l->max_line_size, ls_text, e->len);
        discard(v, "line_too_long", e, 1);
        return -1;
    }
    return e->n_metadata > 0 ? validate_metadata(v, ls_text, e) : 0;
}

/* Truncates long lines in place (copies in the arena) when max_line_size_truncate is on. */
static void truncate_lines(vctx_t *v, logpush_stream_t *st)
{
    if (!v->l->max_line_size_truncate || v->l->max_line_size <= 0) {
        return;
    }
    for (size_t i = 0; i < st->n_entries; i++) {
        if (st->entries[i].len > (size_t)v->l->max_line_size) {
            st->entries[i].len = (size_t)v->l->max_line_size;
        }
    }
}

/* Validates one stream; fills *out with its valid entries (in the arena). 0 kept, -1 not. */
static int check_stream(vctx_t *v, logpush_stream_t *st, log_stream_push_t *out)
{
    if (st->n_entries == 0) {
        return -1;
    }
    truncate_lines(v, st);
    err_t perr = {0};
    labels_t *ls = stream_labels(v, st, &perr);
    if (ls == NULL) {
        errs_add(&v->errs, "Error parsing labels '%s' with error: %s", st->labels_text, perr.msg);
        discard(v, "invalid_labels", st->entries, st->n_entries);
        return -1;
    }
    if (validate_labels(v, st, ls) < 0) {
        return -1;
    }
    ls = with_service_name(v, ls);
    buf_t text;
    buf_init(&text);
    labels_format(ls, &text);
    log_entry_t *keep = arena_alloc(v->a, st->n_entries * sizeof(log_entry_t));
    size_t k = 0;
    for (size_t i = 0; keep != NULL && i < st->n_entries; i++) {
        if (validate_entry(v, text.data, &st->entries[i]) == 0) {
            keep[k++] = st->entries[i];
        }
    }
    buf_fini(&text);
    *out = (log_stream_push_t){ls, keep, k};
    return k > 0 ? 0 : -1;
}

/* Drops streams that would exceed max_global_streams_per_user; 1 if any was dropped. */
static int apply_stream_limit(vctx_t *v, log_stream_push_t *ss, size_t *n, char *msg, size_t msg_n)
{
    int limit = v->l->max_global_streams_per_user, dropped = 0;
    size_t live = logstore_stream_count(v->p->store, v->tenant), k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (logstore_has_stream(v->p->store, v->tenant, ss[i].labels)) {
            ss[k++] = ss[i];
            continue;
        }
        if (limit > 0 && live >= (size_t)limit) {
            buf_t b;
            buf_init(&b);
            labels_format(ss[i].labels, &b);
            snprintf(msg, msg_n,
                     "Maximum active stream limit exceeded when trying to create stream %s, "
                     "reduce the number of active streams (reduce labels or reduce label "
                     "values), or contact your Loki administrator to see if the limit can be "
                     "increased, user: '%s'",
                     b.data, v->tenant);
            buf_fini(&b);
            discard(v, "stream_limit", ss[i].entries, ss[i].n_entries);
            dropped = 1;
            continue;
        }
        live++;
        metric_add(pm.created, 1, v->tenant);
        ss[k++] = ss[i];
    }
    *n = k;
    return dropped;
}

static void count_received(const char *tenant, const logpush_req_t *req, logpush_result_t *res)
{
    size_t bytes = 0, md = 0;
    for (size_t i = 0; i < req->n_streams; i++) {
        for (size_t k = 0; k < req->streams[i].n_entries; k++) {
            const log_entry_t *e = &req->streams[i].entries[k];
            bytes += e->len;
            md += entry_size(e) - e->len;
            res->n_entries++;
        }
    }
    metric_add(pm.bytes, (double)(bytes + md), tenant, "");
    metric_add(pm.md_bytes, (double)md, tenant, "");
    metric_add(pm.lines, (double)res->n_entries, tenant);
}

static void fail(logpush_result_t *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(logpush_result_t *res, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->status = status;
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}

/* Rate limit, stream limit and store of the validated streams. */
static void store_valid(vctx_t *v, log_stream_push_t *ss, size_t n, logpush_result_t *res)
{
    size_t bytes = 0, lines = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < ss[i].n_entries; k++) {
            bytes += entry_size(&ss[i].entries[k]);
        }
        lines += ss[i].n_entries;
    }
    if (!rate_allow(v->p, v->tenant, v->l, bytes, v->now_ns)) {
        for (size_t i = 0; i < n; i++) {
            discard(v, "rate_limited", ss[i].entries, ss[i].n_entries);
        }
        fail(res, 429,
             "Ingestion rate limit exceeded for user %s (limit: %d bytes/sec) while attempting "
             "to ingest '%zu' lines totaling '%zu' bytes, reduce log volume or contact your Loki "
             "administrator to see if the limit can be increased",
             v->tenant, (int)mib(v->l->ingestion_rate_mb), lines, bytes);
        return;
    }
    char limit_msg[1024] = "";
    int limited = apply_stream_limit(v, ss, &n, limit_msg, sizeof(limit_msg));
    err_t err = {0};
    if (n > 0 && logstore_push(v->p->store, v->tenant, ss, n, &err) < 0) {
        fail(res, 500, "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        res->n_accepted += ss[i].n_entries;
    }
    if (limited) {
        fail(res, 429, "%s", limit_msg);
    }
}

/* Loki's header checks: 0, or -1 with res set. */
static int check_headers(const char *content_type, const char *content_encoding,
                         logpush_result_t *res, int *is_json)
{
    if (content_encoding != NULL && content_encoding[0] != '\0' &&
        strcmp(content_encoding, "gzip") != 0 && strcmp(content_encoding, "deflate") != 0 &&
        strcmp(content_encoding, "snappy") != 0) {
        fail(res, 400, "Content-Encoding \"%s\" not supported", content_encoding);
        return -1;
    }
    if (content_type == NULL || content_type[strspn(content_type, " \t")] == '\0') {
        fail(res, 400, "mime: no media type");
        return -1;
    }
    const char *s = content_type + strspn(content_type, " \t");
    size_t n = strcspn(s, "; \t");
    if (n == 0) {
        fail(res, 400, "mime: no media type");
        return -1;
    }
    if (memchr(s, '/', n) == NULL) {
        fail(res, 400, "mime: expected slash after first token");
        return -1;
    }
    *is_json = n == strlen("application/json") && strncasecmp(s, "application/json", n) == 0;
    return 0;
}

void logpush_ingest(logpush_t *p, const char *tenant, const char *content_type,
                    const char *content_encoding, int legacy, const logpush_limits_t *limits,
                    const void *body, size_t len, int64_t now_ns, logpush_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 204;
    int is_json = 0;
    if (check_headers(content_type, content_encoding, res, &is_json) < 0) {
        return;
    }
    logpush_limits_t l;
    pthread_mutex_lock(&p->mu);
    l = limits != NULL ? *limits : p->limits;
    pthread_mutex_unlock(&p->mu);
    vctx_t v = {.p = p, .tenant = tenant, .l = &l, .now_ns = now_ns};
    err_t err = {0};
    v.a = arena_new(0, &err);
    logpush_req_t req;
    logpush_format_t f = !is_json ? LOGPUSH_PROTO : legacy ? LOGPUSH_JSON_LEGACY : LOGPUSH_JSON;
    if (logpush_decode(v.a, f, body, len, l.max_recv_msg_size, &req, &err) < 0) {
        fail(res, err.code == ERR_TOO_LARGE ? 413 : 400, "%s", err.msg);
        goto out;
    }
    count_received(tenant, &req, res);
    if (req.n_streams == 0) {
        fail(res, 422, "error at least one valid stream is required for ingestion");
        goto out;
    }
    log_stream_push_t *ss = arena_alloc(v.a, req.n_streams * sizeof(*ss));
    size_t n = 0;
    for (size_t i = 0; i < req.n_streams; i++) {
        n += check_stream(&v, &req.streams[i], &ss[n]) == 0;
    }
    if (n > 0) {
        store_valid(&v, ss, n, res);
    }
    if (res->status == 204 && v.errs.n > 0) {
        res->status = 400;
        errs_format(&v.errs, res->msg, sizeof(res->msg));
    }
out:
    errs_fini(&v.errs);
    arena_free(v.a);
}
