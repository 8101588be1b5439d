/* ruler/ruler_notify.c - sends alerts to the Alertmanager(s) as Prometheus'
 * notifier does: POST <url>/api/v2/alerts with a JSON array, batches of at most
 * 64 alerts of one tenant (each request carries that tenant's X-Scope-OrgID), a
 * bounded queue that drops the oldest alerts when full (counted), retries of
 * retryable failures (connection errors, 5xx, 429) with a short backoff; 4xx
 * are permanent. format() is apart from send() for the tests.
 *
 * DESIGN. One sender thread owns libcurl; evaluations only enqueue under `mu`
 * (no I/O is done while holding it). The queue is a ring of entries, each one
 * alert plus its tenant. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

#define RULER_BATCH_MAX 64
#define RULER_SEND_ATTEMPTS 3

typedef struct {
    char *tenant;
    ruler_sent_alert_t alert;
} entry_t;

struct ruler_notifier {
    ruler_notifier_opts_t o; /* strings copied into `a` */
    arena_t *a;
    char **urls; /* <alertmanager>/api/v2/alerts */
    size_t n_urls;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    entry_t *ring;
    size_t head, len;
    int stopping;
    pthread_t thread;
};

void ruler__sent_alert_fini(ruler_sent_alert_t *a)
{
    labels_unref(a->labels);
    free(a->annotations);
    free(a->generator_url);
    memset(a, 0, sizeof(*a));
}

/* Go's url.QueryEscape. */
static void query_escape(buf_t *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_putc(out, (char)*p);
        } else if (*p == ' ') {
            buf_putc(out, '+');
        } else {
            buf_printf(out, "%%%02X", *p);
        }
    }
}

char *ruler__generator_url(const char *base, const char *expr)
{
    if (base == NULL || base[0] == '\0') {
        return NULL; /* a bare relative link is useless to a receiver; some AMs
                        reject it */
    }
    buf_t b;
    buf_init(&b);
    buf_puts(&b, base != NULL ? base : "");
    buf_puts(&b, "/graph?g0.expr=");
    query_escape(&b, expr);
    buf_puts(&b, "&g0.tab=1");
    return buf_steal(&b, NULL);
}

static void write_time(jsonw_t *w, const char *key, int64_t ms)
{
    char tmp[64];
    timestamp_format_rfc3339nano(ms * 1000000, tmp, sizeof(tmp));
    jsonw_key(w, key);
    jsonw_str(w, tmp);
}

/* Labels as sent: the alert's, then the tenant label and external labels where
 * the alert has no label of that name (a rule's own labels win). Keys are
 * written sorted. */
static void write_labels(jsonw_t *w, const ruler_notifier_opts_t *o, const char *tenant,
                         const labels_t *ls)
{
    arena_t *a = arena_new(0, NULL);
    labels_builder_t *b = labels_builder_new(a, ls);
    for (size_t i = 0; i < o->n_external_labels; i++) {
        if (labels_get(ls, o->external_labels[i].name) == NULL) {
            labels_builder_set(b, o->external_labels[i].name, o->external_labels[i].value);
        }
    }
    if (o->tenant_label_name != NULL && o->tenant_label_name[0] != '\0' &&
        labels_get(ls, o->tenant_label_name) == NULL) {
        labels_builder_set(b, o->tenant_label_name, tenant);
    }
    labels_t *all = labels_builder_build(b);
    jsonw_key(w, "labels");
    jsonw_labels(w, all);
    arena_free(a);
}

void ruler__notifier_format(const ruler_notifier_opts_t *o, const char *tenant,
                            const ruler_sent_alert_t *alerts, size_t count, buf_t *out)
{
    jsonw_t *w = jsonw_new(out);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < count; i++) {
        const ruler_sent_alert_t *a = &alerts[i];
        jsonw_obj_begin(w);
        jsonw_key(w, "annotations");
        jsonw_obj_begin(w);
        for (size_t j = 0; j < a->n_annotations; j++) {
            jsonw_key(w, a->annotations[j].key);
            jsonw_str(w, a->annotations[j].value);
        }
        jsonw_obj_end(w);
        if (a->ends_at_ms != 0) {
            write_time(w, "endsAt", a->ends_at_ms);
        }
        if (a->starts_at_ms != 0) {
            write_time(w, "startsAt", a->starts_at_ms);
        }
        if (a->generator_url != NULL) {
            jsonw_key(w, "generatorURL");
            jsonw_str(w, a->generator_url);
        }
        write_labels(w, o, tenant, a->labels);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_free(w);
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return size * nmemb;
}

/* One POST. 0 sent, 1 retryable failure, -1 permanent failure. */
static int post_once(ruler_notifier_t *n, const char *url, const char *tenant, const buf_t *body)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return 1;
    }
    char org[300];
    snprintf(org, sizeof(org), "X-Scope-OrgID: %s", tenant);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, org);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)n->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "herald-ruler");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        LOG_WARN("sending alerts failed", KV_STR("url", url), KV_STR("tenant", tenant),
                 KV_STR("err", curl_easy_strerror(rc)));
        return 1;
    }
    if (status / 100 == 2) {
        return 0;
    }
    LOG_WARN("alertmanager rejected alerts", KV_STR("url", url), KV_STR("tenant", tenant),
             KV_INT("status", status));
    return (status >= 500 || status == 429) ? 1 : -1;
}

static int stopping(ruler_notifier_t *n)
{
    pthread_mutex_lock(&n->mu);
    int s = n->stopping;
    pthread_mutex_unlock(&n->mu);
    return s;
}

static void post_batch(ruler_notifier_t *n, const char *tenant, const ruler_sent_alert_t *alerts,
                       size_t count)
{
    buf_t body;
    buf_init(&body);
    ruler__notifier_format(&n->o, tenant, alerts, count, &body);
    for (size_t u = 0; u < n->n_urls; u++) {
        int rc = 1;
        for (int attempt = 0; attempt < RULER_SEND_ATTEMPTS && rc > 0; attempt++) {
            if (attempt > 0) {
                if (stopping(n)) {
                    break;
                }
                struct timespec ts = {0, 200000000L * attempt};
                nanosleep(&ts, NULL);
            }
            rc = post_once(n, n->urls[u], tenant, &body);
        }
        ruler__metric_notify(rc == 0 ? "sent" : "errors", tenant, (double)count);
    }
    buf_fini(&body);
}

/* Takes the head entry and the following entries of the same tenant, up to a
 * batch. */
static size_t take_batch(ruler_notifier_t *n, ruler_sent_alert_t *batch, char **tenant)
{
    size_t cap = n->o.queue_capacity, k = 0;
    *tenant = n->ring[n->head].tenant;
    while (n->len > 0 && k < RULER_BATCH_MAX && strcmp(n->ring[n->head].tenant, *tenant) == 0) {
        entry_t *e = &n->ring[n->head];
        batch[k++] = e->alert;
        if (k > 1) {
            free(e->tenant);
        }
        n->head = (n->head + 1) % cap;
        n->len--;
    }
    return k;
}

static void *sender_main(void *arg)
{
    ruler_notifier_t *n = arg;
    ruler_sent_alert_t batch[RULER_BATCH_MAX];
    pthread_mutex_lock(&n->mu);
    for (;;) {
        while (n->len == 0 && !n->stopping) {
            pthread_cond_wait(&n->cond, &n->mu);
        }
        if (n->len == 0) {
            break;
        }
        char *tenant = NULL;
        size_t k = take_batch(n, batch, &tenant);
        pthread_mutex_unlock(&n->mu);
        if (n->n_urls > 0) {
            post_batch(n, tenant, batch, k);
        }
        for (size_t i = 0; i < k; i++) {
            ruler__sent_alert_fini(&batch[i]);
        }
        free(tenant);
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

static void split_urls(ruler_notifier_t *n, const char *list)
{
    size_t cap = 0;
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && p[len - 1] == '/') {
            len--;
        }
        if (len > 0) {
            xgrow((void **)&n->urls, &cap, n->n_urls + 1, sizeof(*n->urls));
            n->urls[n->n_urls++] = arena_sprintf(n->a, "%.*s/api/v2/alerts", (int)len, p);
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
}

ruler_notifier_t *ruler__notifier_new(const ruler_notifier_opts_t *o)
{
    ruler_notifier_t *n = xcalloc(1, sizeof(*n));
    n->a = arena_new(0, NULL);
    n->o = *o;
    if (n->o.queue_capacity == 0) {
        n->o.queue_capacity = 10000;
    }
    if (n->o.timeout_ms <= 0) {
        n->o.timeout_ms = 10000;
    }
    split_urls(n, o->alertmanager_url);
    n->ring = xcalloc(n->o.queue_capacity, sizeof(*n->ring));
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cond, NULL);
    pthread_create(&n->thread, NULL, sender_main, n);
    return n;
}

void ruler__notifier_free(ruler_notifier_t *n)
{
    if (n == NULL) {
        return;
    }
    pthread_mutex_lock(&n->mu);
    n->stopping = 1;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL); /* drains what is queued; retries are cut short */
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cond);
    free(n->ring);
    free(n->urls);
    arena_free(n->a);
    free(n);
}

void ruler__notifier_send(ruler_notifier_t *n, const char *tenant, ruler_sent_alert_t *alerts,
                          size_t count)
{
    size_t cap = n->o.queue_capacity, dropped = 0;
    if (n->n_urls == 0) { /* no Alertmanager configured: upstream sends nothing either */
        for (size_t i = 0; i < count; i++) {
            ruler__sent_alert_fini(&alerts[i]);
        }
        return;
    }
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < count; i++) {
        if (n->len == cap) { /* drop the oldest, as Prometheus does */
            entry_t *old = &n->ring[n->head];
            ruler__sent_alert_fini(&old->alert);
            free(old->tenant);
            n->head = (n->head + 1) % cap;
            n->len--;
            dropped++;
        }
        entry_t *e = &n->ring[(n->head + n->len) % cap];
        e->tenant = xstrdup(tenant);
        e->alert = alerts[i];
        n->len++;
    }
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->mu);
    if (dropped > 0) {
        ruler__metric_notify("dropped", tenant, (double)dropped);
    }
}
