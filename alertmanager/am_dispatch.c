/* alertmanager/am_dispatch.c - aggregation groups and the one scheduler thread that drives
 * every tenant's group timers (group_wait, group_interval), as Alertmanager's dispatcher
 * does per tenant.
 *
 * DESIGN: a group is refcounted; the tenant's `groups` map holds one reference, each heap
 * entry one, each queued flush one. Rescheduling bumps the group's generation, so older heap
 * entries are dropped when they surface instead of being searched for. The scheduler only
 * pops due entries and queues flush jobs (am_flush.c) on the send pool; it never takes a
 * tenant lock while holding its own. Every 30 s it runs maintenance over all tenants
 * (empty groups removed, resolved alerts and old silences collected). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertmanager/am_int.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "common/workpool.h"

#define MAINTENANCE_NS (30 * AM_NS_PER_S)

typedef struct {
    int64_t due_ns;
    uint64_t gen;
    am_group_t *g;
} sched_entry_t;

typedef struct {
    pthread_mutex_t mu; /* leaf lock: never held while taking a tenant lock */
    pthread_cond_t cv;
    sched_entry_t *heap;
    size_t n, cap;
    int stop;
    pthread_t thread;
    am_t *am;
} sched_t;

static void heap_swap(sched_entry_t *h, size_t i, size_t j)
{
    sched_entry_t t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_push(sched_t *s, sched_entry_t e)
{
    xgrow((void **)&s->heap, &s->cap, s->n + 1, sizeof(*s->heap));
    size_t i = s->n++;
    s->heap[i] = e;
    while (i > 0 && s->heap[(i - 1) / 2].due_ns > s->heap[i].due_ns) {
        heap_swap(s->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static sched_entry_t heap_pop(sched_t *s)
{
    sched_entry_t top = s->heap[0];
    s->heap[0] = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && s->heap[l].due_ns < s->heap[m].due_ns) {
            m = l;
        }
        if (r < s->n && s->heap[r].due_ns < s->heap[m].due_ns) {
            m = r;
        }
        if (m == i) {
            return top;
        }
        heap_swap(s->heap, i, m);
        i = m;
    }
}

void am__group_unref(am_group_t *g)
{
    if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    hashmap_fini(&g->alerts, (void (*)(void *))am__alert_unref);
    labels_unref(g->labels);
    am__config_unref(g->config);
    am__tenant_unref(g->tenant);
    free(g->key);
    free(g->map_key);
    free(g);
}

/* Tenant mu held. Replaces any earlier schedule of `g`. */
void am__group_schedule(am_group_t *g, int64_t due_ns)
{
    sched_t *s = g->tenant->am->sched;
    g->next_ns = due_ns;
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&s->mu);
    sched_entry_t e = {.due_ns = due_ns, .gen = ++g->sched_gen, .g = g};
    heap_push(s, e);
    if (s->heap[0].g == g) {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

static am_group_t *group_new(am_tenant_t *t, const am_route_t *r, labels_t *gl,
                             const char *map_key)
{
    buf_t b;
    am_group_t *g = xcalloc(1, sizeof(*g));
    atomic_init(&g->refs, 1);
    g->tenant = am__tenant_ref(t);
    g->route = r;
    g->config = am__config_ref(t->config);
    g->labels = gl;
    g->map_key = xstrdup(map_key);
    hashmap_init(&g->alerts);
    buf_init(&b);
    buf_puts(&b, r->key);
    buf_putc(&b, ':');
    am__lset_string(gl, &b);
    g->key = buf_steal(&b, NULL);
    return g;
}

/* Mimir's alertmanager_max_dispatcher_aggregation_groups, checked as the dispatcher does
 * before creating a group: 1 (logged, counted) when no new group may be created. */
static int group_limit_reached(am_tenant_t *t, const am_alert_t *a)
{
    am_limits_t l;
    am__tenant_limits(t, &l);
    size_t n = hashmap_len(&t->groups);
    if (l.max_dispatcher_aggregation_groups <= 0 ||
        n < (size_t)l.max_dispatcher_aggregation_groups) {
        return 0;
    }
    const char *name = labels_get(a->labels, "alertname");
    am__metrics_group_limited(t->id);
    LOG_ERROR("Failed to create aggregation group", KV_STR("user", t->id),
              KV_STR("component", "dispatcher"),
              KV_STR("err", "too many aggregation groups, cannot create new group for alert"),
              KV_INT("groups", n), KV_INT("limit", l.max_dispatcher_aggregation_groups),
              KV_STR("alert", name != NULL ? name : ""));
    return 1;
}

static void group_insert(am_tenant_t *t, const am_route_t *r, am_alert_t *a, int64_t now_ns)
{
    char map_key[64], fp[17];
    labels_t *gl = am__route_group_labels(r, a->labels);
    snprintf(map_key, sizeof(map_key), "%p/%016" PRIx64, (const void *)r, am__fingerprint(gl));
    am_group_t *g = hashmap_get(&t->groups, map_key);
    if (g == NULL) {
        if (group_limit_reached(t, a)) {
            labels_unref(gl); /* the alert is held but not notified on this route */
            return;
        }
        g = group_new(t, r, gl, map_key);
        hashmap_put(&t->groups, map_key, g);
        am__group_schedule(g, now_ns + r->group_wait_ns);
    } else {
        labels_unref(gl);
    }
    snprintf(fp, sizeof(fp), "%016" PRIx64, a->fp);
    am__alert_unref(hashmap_put(&g->alerts, fp, am__alert_ref(a)));
    /* An alert older than group_wait flushes a not-yet-flushed group at once. */
    if (!g->has_flushed && a->starts_ns + r->group_wait_ns < now_ns && g->next_ns > now_ns) {
        am__group_schedule(g, now_ns);
    }
}

void am__dispatch_alert(am_tenant_t *t, am_alert_t *a, int64_t now_ns)
{
    const am_route_t *routes[64];
    size_t n = am__route_match(t->config->route, a->labels, routes, 64);
    for (size_t i = 0; i < n; i++) {
        group_insert(t, routes[i], a, now_ns);
    }
}

/* Tenant mu held. Pending heap entries of `g` become stale. */
void am__group_kill(am_group_t *g)
{
    sched_t *s = g->tenant->am->sched;
    g->dead = 1;
    if (s == NULL) { /* shutdown: the scheduler is gone already */
        g->sched_gen++;
    } else {
        pthread_mutex_lock(&s->mu);
        g->sched_gen++;
        pthread_mutex_unlock(&s->mu);
    }
    am__group_unref(g);
}

void am__dispatch_reset(am_tenant_t *t)
{
    size_t it = 0;
    const char *k;
    void *v;
    int64_t now = time_now_ns();
    while (hashmap_next(&t->groups, &it, &k, &v)) {
        hashmap_del(&t->groups, k);
        am__group_kill(v);
    }
    /* As a new dispatcher does: every stored alert enters the new groups. */
    it = 0;
    while (hashmap_next(&t->alerts, &it, &k, &v)) {
        am__dispatch_alert(t, v, now);
    }
}

void am__dispatch_maintain(am_tenant_t *t)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->groups, &it, &k, &v)) {
        am_group_t *g = v;
        if (hashmap_len(&g->alerts) == 0 && !g->in_flight) {
            hashmap_del(&t->groups, k);
            am__group_kill(g);
        }
    }
}

static void run_flush(void *arg)
{
    am_group_t *g = arg;
    am__group_flush(g);
    am__group_unref(g);
}

/* Pops every due entry; returns how long to sleep (ns) before the next one. */
static int64_t sched_due(sched_t *s, int64_t now)
{
    while (s->n > 0 && s->heap[0].due_ns <= now) {
        sched_entry_t e = heap_pop(s);
        if (e.gen != e.g->sched_gen) {
            pthread_mutex_unlock(&s->mu);
            am__group_unref(e.g);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (workpool_submit(s->am->pool, run_flush, e.g) < 0) {
            e.due_ns = now + 100 * AM_NS_PER_MS; /* queue full: try again shortly */
            heap_push(s, e);
            break;
        }
    }
    return s->n > 0 ? s->heap[0].due_ns - now : MAINTENANCE_NS;
}

static void *sched_main(void *arg)
{
    sched_t *s = arg;
    int64_t next_maint = time_now_ns() + MAINTENANCE_NS;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = time_now_ns();
        if (now >= next_maint) {
            pthread_mutex_unlock(&s->mu);
            am__tenants_maintain(s->am, now);
            pthread_mutex_lock(&s->mu);
            next_maint = now + MAINTENANCE_NS;
            continue;
        }
        int64_t wait = sched_due(s, now);
        if (wait > next_maint - now) {
            wait = next_maint - now;
        }
        int64_t until = now + wait;
        struct timespec ts = {.tv_sec = until / AM_NS_PER_S, .tv_nsec = until % AM_NS_PER_S};
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int am__sched_start(am_t *am, err_t *err)
{
    sched_t *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->am = am;
    am->sched = s;
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        am->sched = NULL;
        free(s);
        return err_set(err, ERR_INTERNAL, "cannot start the alertmanager scheduler");
    }
    return 0;
}

void am__sched_stop(am_t *am)
{
    sched_t *s = am->sched;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    workpool_wait_idle(am->pool);
    while (s->n > 0) {
        am__group_unref(heap_pop(s).g);
    }
    free(s->heap);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    am->sched = NULL;
}
