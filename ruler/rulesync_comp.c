/* ruler/rulesync_comp.c - one component: a mimir_rules or loki_rules entry, run as Alloy's
 * mimir.rules.kubernetes / loki.rules.kubernetes runs. Its thread handles one event at a
 * time: a *sync* (list the ruler, keep the managed namespaces, then reconcile) at start-up
 * and every sync_interval, and a *reconcile* (desired state from the store, diff against
 * the cached ruler state, apply) whenever the store changes. A failed event is retried
 * with back-off up to 5 times (Mimir: only recoverable errors), then dropped until the
 * next one; the component is unhealthy until an event succeeds.
 *
 * DESIGN: the pending events live under the store's mutex (the component waits on the
 * store's condition variable); the status fields under the component's own mutex. The
 * cached ruler state belongs to the thread alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "ruler/rulesync_int.h"

/* State arenas have no budget (allocations never fail): their inputs are size-checked. */
#define STATE_ARENA_BYTES 0
#define LIST_TIMEOUT_MS 30000
#define CHANGE_TIMEOUT_MS 5000
#define MAX_RETRIES 5

typedef enum { EV_NONE, EV_SYNC, EV_CHANGED } event_t;

typedef struct {
    metric_t *events, *retried, *failed, *config_updates;
} comp_metrics_t;

struct rulesync_comp {
    rulesync_kind_t kind;
    const cfg_rules_target_t *t;
    char id[64]; /* "mimir_rules[0]" */
    rulesync_store_t *st;
    rulesync_client_t *client;
    comp_metrics_t m;
    pthread_t thread;
    /* guarded by st->mu */
    int stop;
    int sync_requested;
    uint64_t seen_gen;
    event_t retry_event;
    int retries;
    int64_t retry_at_ms, next_sync_ms; /* monotonic */
    /* the thread's own */
    arena_t *actual_arena;
    rulesync_state_t actual;
    /* guarded by mu */
    pthread_mutex_t mu;
    int healthy;
    char message[1024];
    char last_error[1024]; /* of the last failed event, kept after recovery */
    int64_t health_at_ms, last_sync_ms, last_error_ms;
    char **managed;
    size_t n_managed;
};

static const char *event_name(const rulesync_comp_t *c, event_t ev)
{
    if (ev == EV_CHANGED) {
        return "resource-changed";
    }
    return c->kind == RULESYNC_MIMIR ? "sync-mimir" : "sync-loki";
}

static const char *ruler_name(const rulesync_comp_t *c)
{
    return c->kind == RULESYNC_MIMIR ? "mimir" : "loki";
}

/* ---- status --------------------------------------------------------------------------------- */

static void set_health(rulesync_comp_t *c, int healthy, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    c->healthy = healthy;
    snprintf(c->message, sizeof(c->message), "%s", msg);
    c->health_at_ms = time_now_ms();
    pthread_mutex_unlock(&c->mu);
}

static void publish_managed(rulesync_comp_t *c)
{
    char **names = xcalloc(c->actual.n + 1, sizeof(char *));
    for (size_t i = 0; i < c->actual.n; i++) {
        names[i] = xstrdup(c->actual.ns[i].name);
    }
    pthread_mutex_lock(&c->mu);
    char **old = c->managed;
    size_t n_old = c->n_managed;
    c->managed = names;
    c->n_managed = c->actual.n;
    c->last_sync_ms = time_now_ms();
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n_old; i++) {
        free(old[i]);
    }
    free(old);
}

/* ---- the two event kinds ---------------------------------------------------------------- */

static int sync_ruler(rulesync_comp_t *c, rulesync_result_t *res, err_t *err)
{
    arena_t *a = arena_new(STATE_ARENA_BYTES, NULL);
    rulesync_state_t got;
    if (rulesync__client_list(c->client, a, LIST_TIMEOUT_MS, &got, res, err) < 0) {
        LOG_ERROR(c->kind == RULESYNC_MIMIR ? "failed to list rules from mimir"
                                            : "failed to list rules from loki",
                  KV_STR("component", c->id), KV_STR("err", err->msg));
        arena_free(a);
        return -1;
    }
    arena_free(c->actual_arena);
    c->actual_arena = a;
    c->actual = got;
    publish_managed(c);
    return 0;
}

/* Desired state from the store; the caller holds the store lock. */
static int desired_locked(rulesync_comp_t *c, arena_t *a, rulesync_state_t *out, err_t *err)
{
    static const rulesync_kvs_t no_labels = {0};
    const rulesync_objs_t *objs = &c->st->objs;
    *out = (rulesync_state_t){0};
    for (size_t i = 0; i < objs->n; i++) {
        const rulesync_obj_t *o = objs->items[i];
        if (o->kind != RULESYNC_OBJ_RULE) {
            continue;
        }
        const rulesync_kvs_t *ns_labels = &no_labels;
        for (size_t j = 0; j < objs->n; j++) {
            const rulesync_obj_t *n = objs->items[j];
            if (n->kind == RULESYNC_OBJ_NAMESPACE && strcmp(n->name, o->ns) == 0) {
                ns_labels = &n->labels;
            }
        }
        if (!rulesync__selector_matches(&c->t->rule_namespace_selector, ns_labels) ||
            !rulesync__selector_matches(&c->t->rule_selector, &o->labels)) {
            continue;
        }
        rulesync_group_t *groups;
        size_t n_groups;
        err_t e = {0};
        if (rulesync__convert(a, c->kind, c->t, o, &groups, &n_groups, &e) < 0) {
            return err_set(err, ERR_BAD_DATA, "failed to convert rule group: %s", e.msg);
        }
        rulesync__state_put(a, out, rulesync__ns_name(a, c->t, o), groups, n_groups);
    }
    return 0;
}

static const char *op_log(rulesync_op_kind_t k)
{
    return k == RULESYNC_ADD      ? "added rule group"
           : k == RULESYNC_UPDATE ? "updated rule group"
                                  : "removed rule group";
}

static int apply_op(rulesync_comp_t *c, const rulesync_op_t *op, rulesync_result_t *res, err_t *err)
{
    const char *group = op->group->name != NULL ? op->group->name : "";
    int rc = op->kind == RULESYNC_REMOVE
                 ? rulesync__client_delete(c->client, op->ns, group, CHANGE_TIMEOUT_MS, res, err)
                 : rulesync__client_post(c->client, op->ns, op->group, CHANGE_TIMEOUT_MS, res, err);
    if (rc == 0) {
        LOG_INFO(op_log(op->kind), KV_STR("component", c->id), KV_STR("namespace", op->ns),
                 KV_STR("group", group));
    }
    return rc;
}

/* Applies the ops of one namespace (ops[0..n)); the first failure ends that namespace. */
static int apply_ns(rulesync_comp_t *c, const rulesync_op_t *ops, size_t n, rulesync_result_t *res,
                    err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (apply_op(c, &ops[i], res, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Records one namespace's failure; the first unrecoverable one makes the event so. */
static void join_error(buf_t *all, rulesync_result_t *total, const rulesync_result_t *res,
                       const err_t *e)
{
    buf_puts(all, all->len > 0 ? "; " : "");
    buf_puts(all, e->msg);
    total->recoverable = total->recoverable && res->recoverable;
}

static int reconcile(rulesync_comp_t *c, rulesync_result_t *res, err_t *err)
{
    arena_t *a = arena_new(STATE_ARENA_BYTES, NULL);
    rulesync_state_t desired;
    pthread_mutex_lock(&c->st->mu);
    int rc = desired_locked(c, a, &desired, err);
    pthread_mutex_unlock(&c->st->mu);
    res->recoverable = 1;
    if (rc < 0) {
        arena_free(a);
        return -1;
    }
    rulesync_op_t *ops = NULL;
    size_t n = rulesync__diff(a, &desired, &c->actual, &ops);
    buf_t errs;
    buf_init(&errs);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(ops[j].ns, ops[i].ns) == 0) {
            j++;
        }
        rulesync_result_t r1 = {0};
        err_t e = {0};
        if (apply_ns(c, ops + i, j - i, &r1, &e) < 0) {
            join_error(&errs, res, &r1, &e);
        }
        i = j;
    }
    /* Re-list after changes, as Alloy does after each namespace; once is enough since the
     * removal ops point into the cached state that the listing replaces. */
    rulesync_result_t r2 = {0};
    err_t e3 = {0};
    if (n > 0 && sync_ruler(c, &r2, &e3) < 0) {
        join_error(&errs, res, &r2, &e3);
    }
    if (errs.len > 0) {
        err_set(err, ERR_UNAVAILABLE, "%s", errs.data);
    }
    buf_fini(&errs);
    arena_free(a);
    return err->code != ERR_NONE ? -1 : 0;
}

static int process(rulesync_comp_t *c, event_t ev, rulesync_result_t *res, err_t *err)
{
    if (ev == EV_CHANGED) {
        LOG_INFO("processing event", KV_STR("component", c->id), KV_STR("type", event_name(c, ev)));
    } else {
        LOG_DEBUG("syncing current state from ruler", KV_STR("component", c->id));
        if (sync_ruler(c, res, err) < 0) {
            return -1;
        }
    }
    return reconcile(c, res, err);
}

/* ---- the event loop -------------------------------------------------------------------------- */

static void wait_until(rulesync_store_t *st, int64_t mono_deadline_ms)
{
    int64_t wait_ms = mono_deadline_ms - time_mono_ms();
    if (wait_ms <= 0) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (wait_ms % 1000) * 1000000;
    ts.tv_sec += wait_ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&st->changed, &st->mu, &ts);
}

/* Next event, or EV_NONE when stopping. Caller holds st->mu. */
static event_t next_event_locked(rulesync_comp_t *c)
{
    rulesync_store_t *st = c->st;
    while (!st->stopping && !c->stop) {
        int64_t now = time_mono_ms();
        if (st->ready && (c->sync_requested || now >= c->next_sync_ms)) {
            c->sync_requested = 0;
            c->next_sync_ms = now + c->t->sync_interval_ms;
            c->seen_gen = st->gen;
            return EV_SYNC;
        }
        if (st->ready && st->gen != c->seen_gen) {
            c->seen_gen = st->gen;
            return EV_CHANGED;
        }
        if (c->retry_event != EV_NONE && now >= c->retry_at_ms) {
            event_t ev = c->retry_event;
            c->retry_event = EV_NONE;
            return ev;
        }
        int64_t until = c->next_sync_ms;
        if (c->retry_event != EV_NONE && c->retry_at_ms < until) {
            until = c->retry_at_ms;
        }
        wait_until(st, st->ready ? until : now + 1000);
    }
    return EV_NONE;
}

/* Alloy's workqueue: retry with client-go's exponential back-off (5 ms doubling). */
static void on_failure(rulesync_comp_t *c, event_t ev, const rulesync_result_t *res,
                       const err_t *err)
{
    const char *type = event_name(c, ev);
    char retries[16];
    pthread_mutex_lock(&c->mu);
    snprintf(c->last_error, sizeof(c->last_error), "%s", err->msg);
    c->last_error_ms = time_now_ms();
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&c->st->mu);
    int n = c->retries;
    snprintf(retries, sizeof(retries), "%d/%d", n, MAX_RETRIES);
    int retry = n < MAX_RETRIES && res->recoverable;
    if (retry) {
        c->retries = n + 1;
        c->retry_event = ev;
        c->retry_at_ms = time_mono_ms() + (5LL << n);
    } else {
        c->retries = 0;
    }
    pthread_mutex_unlock(&c->st->mu);
    if (retry) {
        metric_add(c->m.retried, 1, c->id, type);
        LOG_ERROR("failed to process event, will retry", KV_STR("component", c->id),
                  KV_STR("retries", retries), KV_STR("err", err->msg));
        return;
    }
    metric_add(c->m.failed, 1, c->id, type);
    LOG_ERROR(c->kind == RULESYNC_MIMIR
                  ? "failed to process event, unrecoverable error or max retries exceeded"
                  : "failed to process event, max retries exceeded",
              KV_STR("component", c->id), KV_STR("retries", retries), KV_STR("err", err->msg));
    set_health(c, 0, err->msg);
}

static void *comp_thread(void *arg)
{
    rulesync_comp_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->st->mu);
        event_t ev = next_event_locked(c);
        pthread_mutex_unlock(&c->st->mu);
        if (ev == EV_NONE) {
            return NULL;
        }
        metric_add(c->m.events, 1, c->id, event_name(c, ev));
        rulesync_result_t res = {0, 1};
        err_t err = {0};
        if (process(c, ev, &res, &err) < 0) {
            on_failure(c, ev, &res, &err);
            continue;
        }
        pthread_mutex_lock(&c->st->mu);
        c->retries = 0;
        pthread_mutex_unlock(&c->st->mu);
        set_health(c, 1, "synced");
    }
}

static void metrics_init(comp_metrics_t *m, rulesync_kind_t kind)
{
    int mimir = kind == RULESYNC_MIMIR;
    m->events = metric_counter(mimir ? "mimir_rules_events_total" : "loki_rules_events_total",
                               "Total number of events processed, partitioned by event type.",
                               "component_id,type");
    m->retried = metric_counter(
        mimir ? "mimir_rules_events_retried_total" : "loki_rules_events_retried_total",
        "Total number of retries across all events, partitioned by event type.",
        "component_id,type");
    m->failed = metric_counter(
        mimir ? "mimir_rules_events_failed_total" : "loki_rules_events_failed_total",
        "Total number of events that failed to be processed, even after retries, partitioned by "
        "event type.",
        "component_id,type");
    m->config_updates = metric_counter(
        mimir ? "mimir_rules_config_updates_total" : "loki_rules_config_updates_total",
        "Total number of times the configuration has been updated.", "component_id");
}

rulesync_comp_t *rulesync__comp_start(rulesync_kind_t kind, const cfg_rules_target_t *t,
                                      size_t index, rulesync_store_t *st)
{
    rulesync_comp_t *c = xcalloc(1, sizeof(*c));
    c->kind = kind;
    c->t = t;
    c->st = st;
    snprintf(c->id, sizeof(c->id), "%s_rules[%zu]", ruler_name(c), index);
    c->client = rulesync__client_new(kind, t, c->id);
    metrics_init(&c->m, kind);
    metric_add(c->m.config_updates, 0, c->id); /* the series exists from the start */
    pthread_mutex_init(&c->mu, NULL);
    c->healthy = 1;
    snprintf(c->message, sizeof(c->message), "starting");
    c->health_at_ms = time_now_ms();
    c->next_sync_ms = time_mono_ms(); /* a sync first, as the component's start-up does */
    LOG_INFO("initializing with new configuration", KV_STR("component", c->id),
             KV_STR("address", rulesync__client_base(c->client)));
    if (pthread_create(&c->thread, NULL, comp_thread, c) != 0) {
        rulesync__client_free(c->client);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

void rulesync__comp_count_update(rulesync_comp_t *c)
{
    metric_add(c->m.config_updates, 1, c->id);
}

void rulesync__comp_request_sync(rulesync_comp_t *c)
{
    pthread_mutex_lock(&c->st->mu);
    c->sync_requested = 1;
    pthread_cond_broadcast(&c->st->changed);
    pthread_mutex_unlock(&c->st->mu);
}

void rulesync__comp_id(const rulesync_comp_t *c, buf_t *out)
{
    buf_puts(out, c->id);
}

int rulesync__comp_healthy(rulesync_comp_t *c)
{
    pthread_mutex_lock(&c->mu);
    int h = c->healthy;
    pthread_mutex_unlock(&c->mu);
    return h;
}

static void json_str(buf_t *out, const char *key, const char *v)
{
    buf_printf(out, "\"%s\":", key);
    jsonw_quote(out, v, strlen(v), 0);
}

void rulesync__comp_status(rulesync_comp_t *c, buf_t *out)
{
    char at[64], synced[64], failed[64];
    pthread_mutex_lock(&c->mu);
    timestamp_format_rfc3339(c->health_at_ms, at, sizeof(at));
    timestamp_format_rfc3339(c->last_sync_ms, synced, sizeof(synced));
    timestamp_format_rfc3339(c->last_error_ms, failed, sizeof(failed));
    buf_putc(out, '{');
    json_str(out, "id", c->id);
    buf_putc(out, ',');
    json_str(out, "component",
             c->kind == RULESYNC_MIMIR ? "mimir.rules.kubernetes" : "loki.rules.kubernetes");
    buf_putc(out, ',');
    json_str(out, "address", rulesync__client_base(c->client));
    buf_putc(out, ',');
    json_str(out, "tenant_id", c->t->tenant_id);
    buf_printf(out, ",\"health\":\"%s\",", c->healthy ? "healthy" : "unhealthy");
    json_str(out, "message", c->message);
    buf_putc(out, ',');
    json_str(out, "last_error", c->last_error);
    buf_printf(out, ",\"last_error_time\":%s%s%s", c->last_error_ms != 0 ? "\"" : "",
               c->last_error_ms != 0 ? failed : "null", c->last_error_ms != 0 ? "\"" : "");
    buf_printf(out, ",\"health_updated\":\"%s\",\"last_sync\":%s%s%s,\"managed_namespaces\":[", at,
               c->last_sync_ms != 0 ? "\"" : "", c->last_sync_ms != 0 ? synced : "null",
               c->last_sync_ms != 0 ? "\"" : "");
    for (size_t i = 0; i < c->n_managed; i++) {
        buf_puts(out, i > 0 ? "," : "");
        jsonw_quote(out, c->managed[i], strlen(c->managed[i]), 0);
    }
    buf_puts(out, "]}");
    pthread_mutex_unlock(&c->mu);
}

void rulesync__comp_stop(rulesync_comp_t *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->st->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->st->changed);
    pthread_mutex_unlock(&c->st->mu);
    pthread_join(c->thread, NULL);
    rulesync__client_free(c->client);
    arena_free(c->actual_arena);
    for (size_t i = 0; i < c->n_managed; i++) {
        free(c->managed[i]);
    }
    free(c->managed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
