/* alertmanager/am_flush.c - one flush of an aggregation group: Alertmanager's notification
 * pipeline (inhibit, time-interval mute, silence, then per integration dedup against the
 * notification log, send with retries, log), run on a send-pool thread.
 *
 * DESIGN: the decision part runs under the tenant lock on immutable alert snapshots; the
 * sends and the sqlite writes run unlocked; the results are applied under the lock again.
 * A group is flushed by one job at a time (in_flight). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertmanager/am_int.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "common/timeutil.h"

#define MIN_TIMEOUT_NS (10 * AM_NS_PER_S)

typedef struct {
    const am_integration_t *in;
    char *nkey; /* notification log key */
    am_nflog_entry_t entry;
} work_t;

typedef struct {
    am_group_t *g;
    am_config_t *cfg;
    am_alert_t **snap; /* references, sorted */
    size_t n_snap;
    am_alert_t *views; /* shallow copies (no references) of the alerts to notify */
    am_alert_t **sel;
    size_t n_sel;
    work_t *work;
    size_t n_work;
    int64_t now_ns;
    const char *receiver;
} flush_t;

static int alert_ptr_cmp(const void *a, const void *b)
{
    return am__alert_cmp(*(am_alert_t *const *)a, *(am_alert_t *const *)b);
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void snapshot(flush_t *f)
{
    size_t it = 0, i = 0;
    const char *k;
    void *v;
    f->n_snap = hashmap_len(&f->g->alerts);
    f->snap = xcalloc(f->n_snap + 1, sizeof(*f->snap));
    while (hashmap_next(&f->g->alerts, &it, &k, &v)) {
        f->snap[i++] = am__alert_ref(v);
    }
    qsort(f->snap, f->n_snap, sizeof(*f->snap), alert_ptr_cmp);
}

/* A shallow copy without the refcount (read by other threads concurrently). */
static void view_of(am_alert_t *v, const am_alert_t *a)
{
    v->labels = a->labels;
    v->annotations = a->annotations;
    v->starts_ns = a->starts_ns;
    v->ends_ns = a->ends_ns;
    v->updated_ns = a->updated_ns;
    v->generator_url = a->generator_url;
    v->timeout = a->timeout;
    v->fp = a->fp;
}

/* Inhibition, time-interval muting and silences, in Alertmanager's stage order. */
static void select_alerts(am_tenant_t *t, flush_t *f)
{
    const char *muted[8];
    f->views = xcalloc(f->n_snap + 1, sizeof(*f->views));
    f->sel = xcalloc(f->n_snap + 1, sizeof(*f->sel));
    if (am__route_muted(f->cfg, f->g->route, f->now_ns, muted, 8) > 0) {
        return;
    }
    for (size_t i = 0; i < f->n_snap; i++) {
        uint64_t by;
        const am_alert_t *a = f->snap[i];
        if (am__inhibited(t, a->labels, f->now_ns, &by) ||
            am__silenced(t, a->labels, f->now_ns, NULL, NULL, NULL)) {
            continue;
        }
        view_of(&f->views[f->n_sel], a);
        /* Firing alerts are sent with a zero end, so they never look resolved later. */
        if (!am__alert_resolved(a, f->now_ns)) {
            f->views[f->n_sel].ends_ns = 0;
        }
        f->sel[f->n_sel] = &f->views[f->n_sel];
        f->n_sel++;
    }
}

static int subset(const uint64_t *sub, size_t n_sub, const uint64_t *set, size_t n_set)
{
    for (size_t i = 0; i < n_sub; i++) {
        if (bsearch(&sub[i], set, n_set, sizeof(*set), u64_cmp) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* DedupStage.needsUpdate. */
static int needs_update(const am_nflog_entry_t *e, const am_nflog_entry_t *cur,
                        int send_resolved, int64_t repeat_ns, int64_t now_ns)
{
    if (e == NULL) {
        return cur->n_firing > 0;
    }
    if (!subset(cur->firing, cur->n_firing, e->firing, e->n_firing)) {
        return 1;
    }
    if (cur->n_firing == 0) {
        return e->n_firing > 0;
    }
    if (send_resolved && !subset(cur->resolved, cur->n_resolved, e->resolved, e->n_resolved)) {
        return 1;
    }
    return e->ts_ns < now_ns - repeat_ns;
}

static void entry_from_selection(const flush_t *f, am_nflog_entry_t *e)
{
    e->firing = xcalloc(f->n_sel + 1, sizeof(uint64_t));
    e->resolved = xcalloc(f->n_sel + 1, sizeof(uint64_t));
    for (size_t i = 0; i < f->n_sel; i++) {
        if (f->sel[i]->ends_ns == 0) {
            e->firing[e->n_firing++] = f->sel[i]->fp;
        } else {
            e->resolved[e->n_resolved++] = f->sel[i]->fp;
        }
    }
    qsort(e->firing, e->n_firing, sizeof(uint64_t), u64_cmp);
    qsort(e->resolved, e->n_resolved, sizeof(uint64_t), u64_cmp);
    e->ts_ns = f->now_ns;
}

static void plan_work(am_tenant_t *t, flush_t *f)
{
    const am_receiver_t *r = am__config_receiver(f->cfg, f->g->route->receiver);
    if (r == NULL || f->n_sel == 0) {
        return;
    }
    f->work = xcalloc(r->n_ints + 1, sizeof(*f->work));
    for (size_t i = 0; i < r->n_ints; i++) {
        work_t *w = &f->work[f->n_work];
        buf_t key;
        buf_init(&key);
        buf_printf(&key, "%s:%s/%s/%d", f->g->key, r->name, am__recv_kind_name(r->ints[i].kind),
                   r->ints[i].index);
        w->in = &r->ints[i];
        entry_from_selection(f, &w->entry);
        if (!needs_update(hashmap_get(&t->nflog, key.data), &w->entry, w->in->send_resolved,
                          f->g->route->repeat_interval_ns, f->now_ns)) {
            free(w->entry.firing);
            free(w->entry.resolved);
            memset(&w->entry, 0, sizeof(w->entry));
            buf_fini(&key);
            continue;
        }
        w->nkey = buf_steal(&key, NULL);
        f->n_work++;
    }
}

void am__nflog_entry_free(void *p)
{
    am_nflog_entry_t *e = p;
    if (e != NULL) {
        free(e->firing);
        free(e->resolved);
        free(e);
    }
}

/* Records a successful notification in memory (mu held). */
static void nflog_put(am_tenant_t *t, const work_t *w)
{
    am_nflog_entry_t *e = xcalloc(1, sizeof(*e));
    e->ts_ns = w->entry.ts_ns;
    e->n_firing = w->entry.n_firing;
    e->n_resolved = w->entry.n_resolved;
    e->firing = xcalloc(e->n_firing + 1, sizeof(uint64_t));
    e->resolved = xcalloc(e->n_resolved + 1, sizeof(uint64_t));
    memcpy(e->firing, w->entry.firing, e->n_firing * sizeof(uint64_t));
    memcpy(e->resolved, w->entry.resolved, e->n_resolved * sizeof(uint64_t));
    am__nflog_entry_free(hashmap_put(&t->nflog, w->nkey, e));
}

/* Sleeps in slices so that shutdown does not wait for a long backoff. 0 if stopping. */
static int backoff_sleep(am_t *am, int64_t ns)
{
    while (ns > 0 && !atomic_load(&am->stopping)) {
        int64_t step = ns < 100 * AM_NS_PER_MS ? ns : 100 * AM_NS_PER_MS;
        struct timespec ts = {.tv_sec = step / AM_NS_PER_S, .tv_nsec = step % AM_NS_PER_S};
        nanosleep(&ts, NULL);
        ns -= step;
    }
    return !atomic_load(&am->stopping);
}

/* Mimir's rateLimitedNotifier in front of the integration: over the tenant's rate the
 * notification fails at once, with Mimir's text, and is not retried. */
static int notify_limited(const flush_t *f, const work_t *w, const am_notice_t *n, err_t *err)
{
    am_tenant_t *t = f->g->tenant;
    pthread_mutex_lock(&t->mu);
    int ok = am__ratelimit_allow(t, f->g->route->receiver, w->in, time_now_ns());
    pthread_mutex_unlock(&t->mu);
    if (!ok) {
        am__metrics_rate_limited(t->id, w->in);
        return err_set(err, ERR_TOO_MANY_REQUESTS, "failed to notify due to rate limits");
    }
    return am__notify(w->in, f->cfg, n, err);
}

/* RetryStage: send until success, a permanent error, or the deadline. */
static int send_with_retry(const flush_t *f, const work_t *w, int64_t deadline_ns, err_t *err)
{
    am_notice_t n = {.receiver = f->g->route->receiver,
                     .group_key = f->g->key,
                     .external_url = f->g->tenant->am->opts.external_url,
                     .group_labels = f->g->labels,
                     .now_ns = f->now_ns};
    am_alert_t **sent = xcalloc(f->n_sel + 1, sizeof(*sent));
    int64_t backoff = 500 * AM_NS_PER_MS;
    int rc = 0;
    for (size_t i = 0; i < f->n_sel; i++) {
        if (w->in->send_resolved || f->sel[i]->ends_ns == 0) {
            sent[n.n_alerts++] = f->sel[i];
        }
    }
    n.alerts = sent;
    if (n.n_alerts == 0) {
        goto done; /* only resolved alerts and no send_resolved: logged, not sent */
    }
    for (int attempt = 1;; attempt++) {
        err_t e = {0};
        int64_t t0 = time_mono_ms();
        rc = notify_limited(f, w, &n, &e);
        am__metrics_notify(f->g->tenant->id, w->in, rc == 0, (time_mono_ms() - t0) / 1000.0);
        if (rc == 0 || e.code != ERR_UNAVAILABLE || time_now_ns() + backoff > deadline_ns) {
            if (rc < 0) {
                err_set(err, e.code, "%s", e.msg);
                LOG_WARN("notify failed", KV_STR("tenant", f->g->tenant->id),
                         KV_STR("receiver", n.receiver), KV_INT("attempt", attempt),
                         KV_STR("err", e.msg));
            }
            break;
        }
        if (!backoff_sleep(f->g->tenant->am, backoff)) {
            break;
        }
        backoff = backoff * 3 / 2;
    }
done:
    free(sent);
    return rc;
}

/* After a successful flush: resolved alerts that did not change meanwhile leave the group. */
static void drop_resolved(flush_t *f)
{
    char key[17];
    for (size_t i = 0; i < f->n_snap; i++) {
        if (!am__alert_resolved(f->snap[i], f->now_ns)) {
            continue;
        }
        snprintf(key, sizeof(key), "%016llx", (unsigned long long)f->snap[i]->fp);
        if (hashmap_get(&f->g->alerts, key) == f->snap[i]) {
            am__alert_unref(hashmap_del(&f->g->alerts, key));
        }
    }
}

static void flush_free(flush_t *f)
{
    for (size_t i = 0; i < f->n_snap; i++) {
        am__alert_unref(f->snap[i]);
    }
    for (size_t i = 0; i < f->n_work; i++) {
        free(f->work[i].nkey);
        free(f->work[i].entry.firing);
        free(f->work[i].entry.resolved);
    }
    free(f->work);
    free(f->snap);
    free(f->views);
    free(f->sel);
}

/* Under mu: decide what to send. Returns 0 when there is nothing to do. */
static int flush_plan(am_tenant_t *t, flush_t *f)
{
    am_group_t *g = f->g;
    if (g->dead || g->in_flight) {
        return 0;
    }
    f->now_ns = time_now_ns();
    g->has_flushed = 1;
    am__group_schedule(g, f->now_ns + g->route->group_interval_ns);
    f->cfg = g->config;
    snapshot(f);
    select_alerts(t, f);
    plan_work(t, f);
    g->in_flight = 1;
    return 1;
}

void am__group_flush(am_group_t *g)
{
    am_tenant_t *t = g->tenant;
    flush_t f = {.g = g};
    int ok = 1;
    pthread_mutex_lock(&t->mu);
    int go = flush_plan(t, &f);
    pthread_mutex_unlock(&t->mu);
    if (!go) {
        flush_free(&f);
        return;
    }
    int64_t timeout = g->route->group_interval_ns;
    int64_t deadline = f.now_ns + (timeout < MIN_TIMEOUT_NS ? MIN_TIMEOUT_NS : timeout);
    for (size_t i = 0; i < f.n_work; i++) {
        err_t err = {0};
        if (send_with_retry(&f, &f.work[i], deadline, &err) < 0) {
            ok = 0;
            continue;
        }
        am__store_nflog(t->am, t->id, f.work[i].nkey, &f.work[i].entry, NULL);
        pthread_mutex_lock(&t->mu);
        nflog_put(t, &f.work[i]);
        pthread_mutex_unlock(&t->mu);
    }
    pthread_mutex_lock(&t->mu);
    g->in_flight = 0;
    if (ok) {
        drop_resolved(&f);
    }
    pthread_mutex_unlock(&t->mu);
    flush_free(&f);
}
