/* storage/rwclient.c - see rwclient.h.
 *
 * DESIGN: an appender keeps its series (one labels reference and sample each, as rule
 * results come) in a growable array; commit builds the protobuf with protobuf-c, compresses
 * it with snappy and POSTs it to each target with libcurl. Rule groups evaluate on a worker
 * pool, so a slow target delays only its own group, within the target's timeout. */
#include "storage/rwclient.h"

#include <curl/curl.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "storage/proto/remote.pb-c.h"

#define RW_ATTEMPTS 3

typedef struct {
    char *name, *url, *user, *password, *bearer;
    int64_t timeout_ms;
    label_t *headers; /* owned copies */
    size_t n_headers;
} target_t;

struct rwclient {
    target_t *targets;
    size_t n;
    int add_org_id_header;
    metric_t *sent, *failed;
};

typedef struct {
    labels_t *labels;
    int64_t t;
    double v;
} pending_t;

typedef struct {
    appender_t base;
    rwclient_t *c;
    char *tenant;
    pending_t *p;
    size_t n, cap;
} rw_appender_t;

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

rwclient_t *rwclient_new(const rwclient_target_t *targets, size_t n, int add_org_id_header)
{
    rwclient_t *c = xcalloc(1, sizeof(*c));
    c->targets = xcalloc(n + 1, sizeof(*c->targets));
    c->n = n;
    c->add_org_id_header = add_org_id_header;
    for (size_t i = 0; i < n; i++) {
        target_t *t = &c->targets[i];
        t->name = xstrdup(targets[i].name != NULL ? targets[i].name : "");
        t->url = xstrdup(targets[i].url);
        t->user = dup_or_null(targets[i].basic_auth_username);
        t->password = dup_or_null(targets[i].basic_auth_password);
        t->bearer = dup_or_null(targets[i].bearer_token);
        t->timeout_ms = targets[i].timeout_ms > 0 ? targets[i].timeout_ms : 30000;
        t->headers = xcalloc(targets[i].n_headers + 1, sizeof(*t->headers));
        for (size_t k = 0; k < targets[i].n_headers; k++) {
            t->headers[k].name = xstrdup(targets[i].headers[k].name);
            t->headers[k].value = xstrdup(targets[i].headers[k].value);
        }
        t->n_headers = targets[i].n_headers;
    }
    c->sent = metric_counter("herald_ruler_remote_write_samples_total",
                             "Recording-rule samples remote-written, by client.", "client");
    c->failed =
        metric_counter("herald_ruler_remote_write_failures_total",
                       "Remote-write requests that failed after retries, by client.", "client");
    return c;
}

void rwclient_free(rwclient_t *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        target_t *t = &c->targets[i];
        for (size_t k = 0; k < t->n_headers; k++) {
            free((char *)t->headers[k].name);
            free((char *)t->headers[k].value);
        }
        free(t->headers);
        free(t->name);
        free(t->url);
        free(t->user);
        free(t->password);
        free(t->bearer);
    }
    free(c->targets);
    free(c);
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* The snappy-compressed WriteRequest of the pending samples, into out. */
static int encode(const rw_appender_t *ap, buf_t *out)
{
    Herald__Rw__TimeSeries *ts = xcalloc(ap->n, sizeof(*ts));
    Herald__Rw__TimeSeries **tsp = xcalloc(ap->n, sizeof(*tsp));
    Herald__Rw__Sample *smp = xcalloc(ap->n, sizeof(*smp));
    Herald__Rw__Sample **smpp = xcalloc(ap->n, sizeof(*smpp));
    size_t n_labels = 0;
    for (size_t i = 0; i < ap->n; i++) {
        n_labels += labels_len(ap->p[i].labels);
    }
    Herald__Rw__Label *lb = xcalloc(n_labels + 1, sizeof(*lb));
    Herald__Rw__Label **lbp = xcalloc(n_labels + 1, sizeof(*lbp));
    size_t li = 0;
    for (size_t i = 0; i < ap->n; i++) {
        herald__rw__time_series__init(&ts[i]);
        ts[i].labels = &lbp[li];
        ts[i].n_labels = labels_len(ap->p[i].labels);
        for (size_t k = 0; k < ts[i].n_labels; k++, li++) {
            label_t l = labels_at(ap->p[i].labels, k);
            herald__rw__label__init(&lb[li]);
            lb[li].name = (char *)l.name;
            lb[li].value = (char *)l.value;
            lbp[li] = &lb[li];
        }
        herald__rw__sample__init(&smp[i]);
        smp[i].timestamp = ap->p[i].t;
        smp[i].value = ap->p[i].v;
        smpp[i] = &smp[i];
        ts[i].samples = &smpp[i];
        ts[i].n_samples = 1;
        tsp[i] = &ts[i];
    }
    Herald__Rw__WriteRequest req;
    herald__rw__write_request__init(&req);
    req.timeseries = tsp;
    req.n_timeseries = ap->n;
    size_t raw_n = herald__rw__write_request__get_packed_size(&req);
    uint8_t *raw = xmalloc(raw_n + 1);
    herald__rw__write_request__pack(&req, raw);
    size_t clen = snappy_max_compressed_length(raw_n);
    buf_reset(out);
    buf_reserve(out, clen);
    int rc = snappy_compress((const char *)raw, raw_n, out->data, &clen) == SNAPPY_OK ? 0 : -1;
    out->len = rc == 0 ? clen : 0;
    free(raw);
    free(lbp);
    free(lb);
    free(smpp);
    free(smp);
    free(tsp);
    free(ts);
    return rc;
}

/* ---- sending ----------------------------------------------------------------------------- */

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static struct curl_slist *headers_for(const target_t *t, const char *tenant, int add_org)
{
    buf_t h;
    buf_init(&h);
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
    l = curl_slist_append(l, "Content-Encoding: snappy");
    l = curl_slist_append(l, "X-Prometheus-Remote-Write-Version: 0.1.0");
    for (size_t i = 0; i < t->n_headers; i++) {
        if (add_org && strcasecmp(t->headers[i].name, "X-Scope-OrgID") == 0) {
            continue; /* the rule's tenant wins, as Loki's add_org_id_header */
        }
        buf_reset(&h);
        buf_printf(&h, "%s: %s", t->headers[i].name, t->headers[i].value);
        l = curl_slist_append(l, h.data);
    }
    if (add_org) {
        buf_reset(&h);
        buf_printf(&h, "X-Scope-OrgID: %s", tenant);
        l = curl_slist_append(l, h.data);
    }
    if (t->bearer != NULL) {
        buf_reset(&h);
        buf_printf(&h, "Authorization: Bearer %s", t->bearer);
        l = curl_slist_append(l, h.data);
    }
    buf_fini(&h);
    return l;
}

/* One POST: the HTTP status, or 0 when the request did not complete. */
static long post(const target_t *t, struct curl_slist *hdrs, const buf_t *body)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "herald-ruler");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    if (t->user != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, t->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, t->password != NULL ? t->password : "");
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    return status;
}

static int send_to(rwclient_t *c, const target_t *t, const char *tenant, const buf_t *body,
                   size_t n_samples, err_t *err)
{
    struct curl_slist *hdrs = headers_for(t, tenant, c->add_org_id_header);
    long status = 0;
    for (int attempt = 0; attempt < RW_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            struct timespec d = {0, 100000000L * attempt * attempt};
            nanosleep(&d, NULL);
        }
        status = post(t, hdrs, body);
        if (status != 0 && status != 429 && status < 500) {
            break; /* success, or a client error no retry will fix */
        }
    }
    curl_slist_free_all(hdrs);
    if (status >= 200 && status < 300) {
        metric_add(c->sent, (double)n_samples, t->name);
        return 0;
    }
    metric_add(c->failed, 1, t->name);
    if (status == 0) {
        return err_set(err, ERR_UNAVAILABLE, "remote write to %s (%s): request failed", t->name,
                       t->url);
    }
    return err_set(err, ERR_UNAVAILABLE, "remote write to %s (%s): server returned HTTP status %ld",
                   t->name, t->url, status);
}

/* ---- appender ---------------------------------------------------------------------------- */

static void appender_free(rw_appender_t *ap)
{
    for (size_t i = 0; i < ap->n; i++) {
        labels_unref(ap->p[i].labels);
    }
    free(ap->p);
    free(ap->tenant);
    free(ap);
}

static int rw_append(appender_t *base, const labels_t *ls, int64_t t, double v, err_t *err)
{
    (void)err;
    rw_appender_t *ap = (rw_appender_t *)base;
    if (ap->n == ap->cap) {
        ap->cap = ap->cap ? ap->cap * 2 : 64;
        ap->p = xrealloc(ap->p, ap->cap * sizeof(*ap->p));
    }
    ap->p[ap->n++] = (pending_t){labels_intern(ls), t, v};
    return 0;
}

static int rw_commit(appender_t *base, err_t *err)
{
    rw_appender_t *ap = (rw_appender_t *)base;
    int rc = 0;
    if (ap->n > 0) {
        buf_t body;
        buf_init(&body);
        rc = encode(ap, &body);
        for (size_t i = 0; rc == 0 && i < ap->c->n; i++) {
            err_t one = {0};
            if (send_to(ap->c, &ap->c->targets[i], ap->tenant, &body, ap->n, &one) < 0) {
                LOG_WARN("ruler remote write failed", KV_STR("tenant", ap->tenant),
                         KV_STR("err", one.msg));
                rc = err_set(err, one.code, "%s", one.msg);
            }
        }
        buf_fini(&body);
    }
    appender_free(ap);
    return rc;
}

static void rw_rollback(appender_t *base)
{
    appender_free((rw_appender_t *)base);
}

static const appender_ops_t rw_ops = {rw_append, rw_commit, rw_rollback};

appender_t *rwclient_appender(rwclient_t *c, const char *tenant)
{
    rw_appender_t *ap = xcalloc(1, sizeof(*ap));
    ap->base.ops = &rw_ops;
    ap->c = c;
    ap->tenant = xstrdup(tenant);
    return &ap->base;
}
