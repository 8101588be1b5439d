/* alertmanager/am_notify.c - notification payloads (webhook version 4 here; Slack,
 * PagerDuty and email in am_notify_tmpl.c), kept apart from sending so that tests compare
 * bytes without I/O, and the per-integration self-metrics. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alertmanager/am_int.h"
#include "common/jsonw.h"
#include "common/metrics.h"

/* strfmt.DateTime as the v2 API writes it: always three decimals. */
void am__time_format_ms(int64_t ns, char *out, size_t n)
{
    struct tm tm;
    int64_t ms = ns / AM_NS_PER_MS;
    time_t secs = (time_t)(ms / 1000);
    if (ns == 0) {
        snprintf(out, n, "0001-01-01T00:00:00.000Z");
        return;
    }
    gmtime_r(&secs, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void am__time_format(int64_t ns, char *out, size_t n)
{
    struct tm tm;
    char frac[16] = "";
    if (ns == 0) {
        snprintf(out, n, "0001-01-01T00:00:00Z");
        return;
    }
    time_t secs = (time_t)(ns / AM_NS_PER_S);
    long sub = (long)(ns % AM_NS_PER_S);
    if (sub < 0) {
        secs--;
        sub += AM_NS_PER_S;
    }
    gmtime_r(&secs, &tm);
    if (sub != 0) {
        int len = snprintf(frac, sizeof(frac), ".%09ld", sub);
        while (len > 1 && frac[len - 1] == '0') { /* Go trims trailing zeros */
            frac[--len] = '\0';
        }
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void put_time(am_gobj_t *o, const char *key, int64_t ns)
{
    char ts[64];
    am__time_format(ns, ts, sizeof(ts));
    am__gj_str(o, key, ts, 0);
}

/* Labels (or annotations) with the same value in every alert. */
static void common_pairs(const am_notice_t *n, int annotations, buf_t *b)
{
    am_gobj_t o;
    am__gj_begin(&o, b);
    const labels_t *first = n->n_alerts > 0
                                ? (annotations ? n->alerts[0]->annotations : n->alerts[0]->labels)
                                : NULL;
    for (size_t i = 0; first != NULL && i < labels_len(first); i++) {
        label_t l = labels_at(first, i);
        size_t j = 1;
        for (; j < n->n_alerts; j++) {
            const labels_t *other = annotations ? n->alerts[j]->annotations : n->alerts[j]->labels;
            const char *v = other != NULL ? labels_get(other, l.name) : NULL;
            if (v == NULL || strcmp(v, l.value) != 0) {
                break;
            }
        }
        if (j == n->n_alerts) {
            am__gj_str(&o, l.name, l.value, 0);
        }
    }
    am__gj_end(&o);
}

const char *am__notice_status(const am_notice_t *n)
{
    for (size_t i = 0; i < n->n_alerts; i++) {
        if (n->alerts[i]->ends_ns == 0 || n->alerts[i]->ends_ns > n->now_ns) {
            return "firing";
        }
    }
    return "resolved";
}

static void alert_json(buf_t *b, const am_alert_t *a, int64_t now_ns)
{
    char fp[17];
    am_gobj_t o;
    am__gj_begin(&o, b);
    am__gj_str(&o, "status", am__alert_resolved(a, now_ns) ? "resolved" : "firing", 0);
    am__gj_key(&o, "labels");
    am__gj_lset(b, a->labels);
    am__gj_key(&o, "annotations");
    am__gj_lset(b, a->annotations);
    put_time(&o, "startsAt", a->starts_ns);
    put_time(&o, "endsAt", a->ends_ns);
    am__gj_str(&o, "generatorURL", a->generator_url, 0);
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)a->fp);
    am__gj_str(&o, "fingerprint", fp, 0);
    am__gj_end(&o);
}

/* template.Data fields, in Go's order; `limit` alerts at most (0: all). */
static void data_json(am_gobj_t *o, const am_notice_t *n, size_t limit)
{
    am__gj_str(o, "receiver", n->receiver, 0);
    am__gj_str(o, "status", am__notice_status(n), 0);
    am__gj_key(o, "alerts");
    buf_putc(o->b, '[');
    for (size_t i = 0; i < n->n_alerts && (limit == 0 || i < limit); i++) {
        if (i > 0) {
            buf_putc(o->b, ',');
        }
        alert_json(o->b, n->alerts[i], n->now_ns);
    }
    buf_putc(o->b, ']');
    am__gj_key(o, "groupLabels");
    am__gj_lset(o->b, n->group_labels);
    am__gj_key(o, "commonLabels");
    common_pairs(n, 0, o->b);
    am__gj_key(o, "commonAnnotations");
    common_pairs(n, 1, o->b);
    am__gj_str(o, "externalURL", n->external_url, 0);
}

void am__notice_data_json(const am_notice_t *n, buf_t *out)
{
    am_gobj_t o;
    am__gj_begin(&o, out);
    data_json(&o, n, 0);
    am__gj_end(&o);
}

void am__webhook_json(const am_notice_t *n, int max_alerts, buf_t *out)
{
    size_t limit = max_alerts > 0 ? (size_t)max_alerts : 0;
    size_t truncated = limit > 0 && n->n_alerts > limit ? n->n_alerts - limit : 0;
    am_gobj_t o;
    am__gj_begin(&o, out);
    data_json(&o, n, limit);
    am__gj_str(&o, "version", "4", 0);
    am__gj_str(&o, "groupKey", n->group_key, 0);
    am__gj_key(&o, "truncatedAlerts");
    buf_printf(out, "%zu", truncated);
    am__gj_end(&o);
    buf_putc(out, '\n'); /* Go's json.Encoder ends the document with a newline */
}

int am__notify_format(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                      am_request_t *req, err_t *err)
{
    req->url = in->url;
    req->content_type = "application/json";
    switch (in->kind) {
    case AM_RECV_WEBHOOK:
        am__webhook_json(n, in->max_alerts, &req->body);
        return 0;
    default:
        return am__notify_format_tmpl(in, c, n, req, err);
    }
}

int am__notify(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
               err_t *err)
{
    am_request_t req = {0};
    int rc;
    buf_init(&req.body);
    if (in->kind == AM_RECV_EMAIL) {
        rc = am__email_send(in, c, n, err);
    } else {
        rc = am__notify_format(in, c, n, &req, err);
        if (rc == 0) {
            rc = am__http_post(&in->http, req.url, req.content_type, &req.body, in->timeout_ns,
                               err);
        }
    }
    buf_fini(&req.body);
    return rc;
}

static struct {
    pthread_once_t once;
    metric_t *total, *failed, *alerts_received, *alerts_invalid, *alerts, *latency, *limited,
        *rate_limited, *group_limited;
} metrics = {.once = PTHREAD_ONCE_INIT};

static void metrics_init(void)
{
    metrics.total = metric_counter("alertmanager_notifications_total",
                                   "The total number of attempted notifications.",
                                   "user,integration");
    metrics.failed = metric_counter("alertmanager_notifications_failed_total",
                                    "The total number of failed notifications.",
                                    "user,integration");
    metrics.alerts_received = metric_counter("alertmanager_alerts_received_total",
                                             "The total number of received alerts.",
                                             "user,status");
    metrics.latency = metric_histogram("alertmanager_notification_latency_seconds",
                                       "The latency of notifications in seconds.",
                                       "user,integration", NULL, 0);
    metrics.alerts = metric_gauge("alertmanager_alerts", "How many alerts by state.",
                                  "user,state");
    metrics.limited = metric_counter("alertmanager_alerts_insert_limited_total",
                                     "Number of failures to insert new alerts to in-memory alert "
                                     "store.",
                                     "user");
    metrics.rate_limited = metric_counter("alertmanager_notification_rate_limited_total",
                                          "Total number of rate-limited notifications per "
                                          "integration.",
                                          "user,integration");
    metrics.group_limited = metric_counter(
        "alertmanager_dispatcher_aggregation_group_limit_reached_total",
        "Number of times when dispatcher failed to create new aggregation group due to limit.",
        "user");
    metrics.alerts_invalid = metric_counter("alertmanager_alerts_invalid_total",
                                            "The total number of received alerts that were "
                                            "invalid.",
                                            "user");
}

void am__metrics_notify(const char *tenant, const am_integration_t *in, int ok, double secs)
{
    pthread_once(&metrics.once, metrics_init);
    metric_observe(metrics.latency, secs, tenant, am__recv_kind_name(in->kind));
    metric_add(metrics.total, 1, tenant, am__recv_kind_name(in->kind));
    if (!ok) {
        metric_add(metrics.failed, 1, tenant, am__recv_kind_name(in->kind));
    }
}

void am__metrics_limited(const char *tenant)
{
    pthread_once(&metrics.once, metrics_init);
    metric_add(metrics.limited, 1, tenant);
}

void am__metrics_rate_limited(const char *tenant, const am_integration_t *in)
{
    pthread_once(&metrics.once, metrics_init);
    metric_add(metrics.rate_limited, 1, tenant, am__recv_kind_name(in->kind));
}

void am__metrics_group_limited(const char *tenant)
{
    pthread_once(&metrics.once, metrics_init);
    metric_add(metrics.group_limited, 1, tenant);
}

void am__metrics_received(const char *tenant, int firing, int resolved, int invalid)
{
    pthread_once(&metrics.once, metrics_init);
    if (invalid > 0) {
        metric_add(metrics.alerts_invalid, invalid, tenant);
    }
    if (firing > 0) {
        metric_add(metrics.alerts_received, firing, tenant, "firing");
    }
    if (resolved > 0) {
        metric_add(metrics.alerts_received, resolved, tenant, "resolved");
    }
}

void am__metrics_alerts(const char *tenant, int active, int suppressed)
{
    pthread_once(&metrics.once, metrics_init);
    metric_set(metrics.alerts, active, tenant, "active");
    metric_set(metrics.alerts, suppressed, tenant, "suppressed");
}
