/* ruler/ruler_sched.c - the ruler's lifecycle: tenants and their running groups
 * loaded from the store (at start, after each API write, every poll interval),
 * and the scheduler thread that submits each group's evaluation to the workpool
 * at its aligned times.
 *
 * DESIGN. The scheduler wakes at the earliest next evaluation (at most once a
 * second), walks the registry under ruler.mu, and submits due groups that are
 * not still running. A group that overran its interval skips the slots it
 * missed (counted, as Prometheus'
 * prometheus_rule_group_iterations_missed_total) and evaluates at the latest
 * slot. A sync builds the new groups outside any lock (file I/O), then swaps
 * them in under ruler.mu + tenant.mu; old groups die when their last evaluation
 * drops its reference. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

void ruler__tenant_limits(const ruler_t *r, const char *tenant, ruler_limits_t *out)
{
    out->evaluation_delay_ms = r->opts.evaluation_delay_ms;
    out->max_rules_per_group = r->opts.max_rules_per_group;
    out->max_groups_per_tenant = r->opts.max_groups_per_tenant;
    if (r->opts.limits != NULL) {
        r->opts.limits(r->opts.limits_arg, tenant, out);
    }
}

void ruler_opts_default(ruler_opts_t *o, ruler_flavor_t flavor)
{
    memset(o, 0, sizeof(*o));
    o->flavor = flavor;
    o->rules_dir = "./data/rules";
    o->enable_api = 1;
    o->evaluation_interval_ms = 60000;
    o->poll_interval_ms = flavor == RULER_FLAVOR_LOKI ? 60000 : 600000;
    o->evaluation_delay_ms = flavor == RULER_FLAVOR_LOKI ? 0 : 60000;
    o->max_rules_per_group = flavor == RULER_FLAVOR_LOKI ? 0 : 20;
    o->max_groups_per_tenant = flavor == RULER_FLAVOR_LOKI ? 0 : 70;
    o->resend_delay_ms = 60000;
    o->for_outage_tolerance_ms = 3600000;
    o->for_grace_period_ms = flavor == RULER_FLAVOR_LOKI ? 600000 : 120000;
    o->notification_queue_capacity = 10000;
    o->notification_timeout_ms = 10000;
    o->eval_threads = 2;
}

/* ---- tenants
 * -------------------------------------------------------------------------- */

static void tenant_free(void *p)
{
    ruler_tenant_t *t = p;
    for (size_t i = 0; i < t->n_groups; i++) {
        ruler__group_unref(t->groups[i]);
    }
    free(t->groups);
    pthread_mutex_destroy(&t->mu);
    free(t->id);
    free(t);
}

ruler_tenant_t *ruler__tenant_get(ruler_t *r, const char *id)
{
    return hashmap_get(&r->tenants, id);
}

ruler_group_t **ruler__tenant_groups(ruler_t *r, const char *tenant, size_t *n)
{
    ruler_group_t **v = NULL;
    *n = 0;
    pthread_mutex_lock(&r->mu);
    ruler_tenant_t *t = ruler__tenant_get(r, tenant);
    if (t != NULL) {
        pthread_mutex_lock(&t->mu);
        v = xmalloc((t->n_groups + 1) * sizeof(*v));
        for (size_t i = 0; i < t->n_groups; i++) {
            ruler__group_ref(t->groups[i]);
            v[i] = t->groups[i];
        }
        *n = t->n_groups;
        pthread_mutex_unlock(&t->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return v;
}

static ruler_group_t *find_group(ruler_group_t **v, size_t n, const char *ns, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i]->ns, ns) == 0 && strcmp(v[i]->def->name, name) == 0) {
            return v[i];
        }
    }
    return NULL;
}

/* Running groups for everything the store holds for the tenant, state carried
 * over from `old`. A namespace that fails to load is logged and left out. */
static ruler_group_t **build_groups(ruler_t *r, const char *tenant, ruler_group_t **old,
                                    size_t n_old, size_t *n_out)
{
    size_t n_ns = 0, n = 0, cap = 0;
    char **names = ruler__store_namespaces(r->store, tenant, &n_ns);
    ruler_group_t **v = NULL;
    int64_t now = time_now_ms();
    for (size_t i = 0; i < n_ns; i++) {
        ruler_ns_t ns = {0};
        err_t err = {0};
        if (ruler__store_load(r->store, tenant, names[i], &ns, &err) < 0) {
            LOG_WARN("skipping unreadable rule namespace", KV_STR("tenant", tenant),
                     KV_STR("namespace", names[i]), KV_STR("err", err.msg));
            ruler__ns_fini(&ns);
            continue;
        }
        for (size_t j = 0; j < ns.n; j++) {
            ruler_group_t *g = ruler__group_new(r, tenant, names[i], ns.groups[j]);
            ns.groups[j] = NULL;
            ruler_group_t *prev = find_group(old, n_old, g->ns, g->def->name);
            g->should_restore = r->restore_on_load;
            g->next_eval_ms = ruler__group_eval_ts(g, now) + g->interval_ms;
            if (prev != NULL) {
                ruler__group_copy_state(g, prev);
                if (prev->interval_ms == g->interval_ms) {
                    g->next_eval_ms = prev->next_eval_ms;
                }
            }
            xgrow((void **)&v, &cap, n + 1, sizeof(*v));
            v[n++] = g;
        }
        ns.n = 0;
        ruler__ns_fini(&ns);
    }
    ruler__strv_free(names, n_ns);
    *n_out = n;
    return v;
}

/* Swaps the tenant's group list; returns the old list for the caller to unref.
 */
static ruler_group_t **swap_groups(ruler_t *r, const char *tenant, ruler_group_t **v, size_t n,
                                   size_t *n_old)
{
    ruler_group_t **old = NULL;
    *n_old = 0;
    pthread_mutex_lock(&r->mu);
    ruler_tenant_t *t = ruler__tenant_get(r, tenant);
    if (t == NULL && n > 0) {
        t = xcalloc(1, sizeof(*t));
        t->id = xstrdup(tenant);
        pthread_mutex_init(&t->mu, NULL);
        hashmap_put(&r->tenants, tenant, t);
    }
    if (t != NULL) {
        pthread_mutex_lock(&t->mu);
        old = t->groups;
        *n_old = t->n_groups;
        t->groups = v;
        t->n_groups = n;
        pthread_mutex_unlock(&t->mu);
        if (n == 0) {
            hashmap_del(&r->tenants, tenant);
            t->groups = NULL;
            tenant_free(t);
        }
    } else {
        free(v);
    }
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    return old;
}

void ruler_sync_tenant(ruler_t *r, const char *tenant)
{
    size_t n_cur = 0, n_new = 0, n_old = 0;
    pthread_mutex_lock(&r->sync_mu); /* two syncs must not both move state out of `cur` */
    ruler_group_t **cur = ruler__tenant_groups(r, tenant, &n_cur);
    ruler_group_t **v = build_groups(r, tenant, cur, n_cur, &n_new);
    ruler_group_t **old = swap_groups(r, tenant, v, n_new, &n_old);
    pthread_mutex_unlock(&r->sync_mu);
    for (size_t i = 0; i < n_cur; i++) {
        ruler__group_unref(cur[i]);
    }
    for (size_t i = 0; i < n_old; i++) {
        ruler__group_unref(old[i]);
    }
    free(cur);
    free(old);
}

static int in_sorted(char **v, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(v[mid], s);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/* Every tenant in the store, plus those loaded earlier whose files are gone. */
static void sync_all(ruler_t *r)
{
    size_t n = 0, k = 0, cap = 0, it = 0;
    char **ids = ruler__store_tenants(r->store, &n);
    char **gone = NULL;
    const char *key;
    void *val;
    pthread_mutex_lock(&r->mu);
    while (hashmap_next(&r->tenants, &it, &key, &val)) {
        if (!in_sorted(ids, n, key)) {
            xgrow((void **)&gone, &cap, k + 1, sizeof(*gone));
            gone[k++] = xstrdup(key);
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        ruler_sync_tenant(r, ids[i]);
    }
    for (size_t i = 0; i < k; i++) {
        ruler_sync_tenant(r, gone[i]);
    }
    ruler__strv_free(ids, n);
    ruler__strv_free(gone, k);
}

/* ---- scheduling
 * ----------------------------------------------------------------------- */

typedef struct {
    ruler_t *r;
    ruler_group_t *g;
    int64_t ts, missed;
} job_t;

static void run_job(void *arg)
{
    job_t *j = arg;
    int64_t t0 = time_now_ns();
    ruler__group_eval(j->r, j->g, j->ts);
    pthread_mutex_lock(&j->g->mu);
    j->g->running = 0;
    pthread_mutex_unlock(&j->g->mu);
    ruler__metric_group(j->g, (double)(time_now_ns() - t0) / 1e9, j->missed);
    ruler__group_unref(j->g);
    free(j);
}

/* Submits g if due; returns its next evaluation time. Caller holds ruler.mu +
 * tenant.mu. */
static int64_t maybe_submit(ruler_t *r, ruler_group_t *g, int64_t now)
{
    pthread_mutex_lock(&g->mu);
    if (!g->running && now >= g->next_eval_ms) {
        int64_t missed = (now - g->next_eval_ms) / g->interval_ms;
        job_t *j = xcalloc(1, sizeof(*j));
        j->r = r;
        j->g = g;
        j->ts = g->next_eval_ms + missed * g->interval_ms;
        j->missed = missed;
        g->next_eval_ms = j->ts + g->interval_ms;
        g->running = 1;
        ruler__group_ref(g);
        if (workpool_submit(r->pool, run_job, j) < 0) {
            g->running = 0;
            ruler__group_unref(g);
            free(j);
            ruler__metric_group(g, 0, 1);
        }
    }
    int64_t next = g->next_eval_ms;
    pthread_mutex_unlock(&g->mu);
    return next;
}

static int64_t submit_due(ruler_t *r, int64_t now)
{
    int64_t wake = now + 1000;
    size_t it = 0;
    const char *key;
    void *val;
    while (hashmap_next(&r->tenants, &it, &key, &val)) {
        ruler_tenant_t *t = val;
        pthread_mutex_lock(&t->mu);
        for (size_t i = 0; i < t->n_groups; i++) {
            int64_t next = maybe_submit(r, t->groups[i], now);
            if (next < wake) {
                wake = next;
            }
        }
        pthread_mutex_unlock(&t->mu);
    }
    return wake;
}

static void wait_until(ruler_t *r, int64_t wake_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t delta = wake_ms - time_now_ms();
    if (delta <= 0) {
        return;
    }
    ts.tv_sec += delta / 1000;
    ts.tv_nsec += (delta % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&r->wake, &r->mu, &ts);
}

static void *sched_main(void *arg)
{
    ruler_t *r = arg;
    int64_t next_poll = time_now_ms() + r->opts.poll_interval_ms;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int64_t now = time_now_ms();
        if (r->opts.poll_interval_ms > 0 && now >= next_poll) {
            pthread_mutex_unlock(&r->mu);
            sync_all(r);
            pthread_mutex_lock(&r->mu);
            next_poll = now + r->opts.poll_interval_ms;
            continue;
        }
        int64_t wake = submit_due(r, now);
        if (r->opts.poll_interval_ms > 0 && next_poll < wake) {
            wake = next_poll;
        }
        wait_until(r, wake);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- lifecycle
 * ------------------------------------------------------------------------ */

static const char *keep_str(ruler_t *r, const char *s)
{
    return s != NULL ? arena_strdup(r->opts_arena, s) : NULL;
}

static void copy_opts(ruler_t *r, const ruler_opts_t *o)
{
    r->opts = *o;
    r->opts_arena = arena_new(0, NULL);
    r->opts.rules_dir = keep_str(r, o->rules_dir != NULL ? o->rules_dir : "./data/rules");
    r->opts.alertmanager_url = keep_str(r, o->alertmanager_url);
    r->opts.external_url = keep_str(r, o->external_url != NULL ? o->external_url : "");
    r->opts.tenant_label_name = keep_str(r, o->tenant_label_name);
    label_t *el = arena_calloc(r->opts_arena, (o->n_external_labels + 1) * sizeof(*el));
    for (size_t i = 0; i < o->n_external_labels; i++) {
        el[i].name = keep_str(r, o->external_labels[i].name);
        el[i].value = keep_str(r, o->external_labels[i].value);
    }
    r->opts.external_labels = el;
    if (r->opts.eval_threads <= 0) {
        r->opts.eval_threads = 2;
    }
}

static void start_notifier(ruler_t *r)
{
    ruler_notifier_opts_t no = {
        .alertmanager_url = r->opts.alertmanager_url,
        .queue_capacity = r->opts.notification_queue_capacity,
        .timeout_ms = r->opts.notification_timeout_ms,
        .external_labels = r->opts.external_labels,
        .n_external_labels = r->opts.n_external_labels,
        .tenant_label_name = r->opts.tenant_label_name,
        .external_url = r->opts.external_url,
    };
    r->notifier = ruler__notifier_new(&no);
}

ruler_t *ruler_new(const ruler_opts_t *opts, const ruler_evaluator_t *ev, err_t *err)
{
    ruler_store_t *store =
        ruler__store_new(opts->rules_dir ? opts->rules_dir : "./data/rules", err);
    if (store == NULL) {
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ruler__metrics_init(opts->flavor);
    ruler_t *r = xcalloc(1, sizeof(*r));
    copy_opts(r, opts);
    r->ev = *ev;
    r->store = store;
    r->tmpl_cache = tmpl_cache_new(0);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->sync_mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    hashmap_init(&r->tenants);
    start_notifier(r);
    r->pool = workpool_new("ruler", r->opts.eval_threads, 100000);
    r->restore_on_load = 1;
    sync_all(r);
    r->restore_on_load = 0;
    if (!r->opts.manual && pthread_create(&r->sched, NULL, sched_main, r) == 0) {
        r->sched_started = 1;
    }
    return r;
}

void ruler_free(ruler_t *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    if (r->sched_started) {
        pthread_join(r->sched, NULL);
    }
    workpool_free(r->pool); /* in-flight evaluations finish and may still notify */
    ruler__notifier_free(r->notifier);
    hashmap_fini(&r->tenants, tenant_free);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->sync_mu);
    tmpl_cache_free(r->tmpl_cache);
    ruler__store_free(r->store);
    arena_free(r->opts_arena);
    free(r);
}

int ruler_eval_tenant_at(ruler_t *r, const char *tenant, int64_t t_ms, err_t *err)
{
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, tenant, &n);
    for (size_t i = 0; i < n; i++) {
        ruler__group_eval(r, v[i], t_ms);
        ruler__group_unref(v[i]);
    }
    free(v);
    return 0;
}
