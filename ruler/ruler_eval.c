/* ruler/ruler_eval.c - one evaluation of one rule group, as Prometheus'
 * Group.Eval: rules in file order; a recording rule's output is renamed,
 * relabelled and appended; an alerting rule's output becomes candidate alerts
 * (labels and annotations expanded with the template engine) that drive the
 * state machine (ruler_alert.c); ALERTS and ALERTS_FOR_STATE are appended;
 * series that disappeared get a staleness marker; alerts due are handed to the
 * notifier. The query runs without any lock; group.mu is held only to publish
 * state. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/template.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

typedef struct {
    ruler_t *r;
    ruler_group_t *g;
    int64_t ts;      /* evaluation timestamp (alerts' activeAt) */
    int64_t qts;     /* query time: ts minus the query offset; samples are written at
                        qts */
    appender_t *app; /* NULL: nothing is written */
    arena_t *a;      /* per rule */
    size_t n_append_errors;
} eval_ctx_t;

typedef struct {
    labels_t **ls;
    double *v;
    size_t n, cap;
} out_vec_t;

static void out_push(eval_ctx_t *e, out_vec_t *o, labels_t *ls, double v)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        o->ls = arena_realloc(e->a, o->ls, o->cap * sizeof(*o->ls), cap * sizeof(*o->ls));
        o->v = arena_realloc(e->a, o->v, o->cap * sizeof(*o->v), cap * sizeof(*o->v));
        o->cap = cap;
    }
    o->ls[o->n] = ls;
    o->v[o->n++] = v;
}

static labels_t *heap_labels(const labels_t *ls)
{
    size_t n = labels_len(ls);
    label_t *pairs = xmalloc((n + 1) * sizeof(*pairs));
    for (size_t i = 0; i < n; i++) {
        pairs[i] = labels_at(ls, i);
    }
    labels_t *h = labels_new(pairs, n, NULL);
    free(pairs);
    return h;
}

static void free_labels(void *p)
{
    labels_unref(p);
}

/* Writes the rule's output and stale markers for the series it wrote last time
 * but not now; the new set replaces rule->prev_series. Caller holds group.mu.
 */
static void write_output(eval_ctx_t *e, ruler_rule_t *rule, const out_vec_t *o)
{
    hashmap_t cur;
    hashmap_init(&cur);
    char key[17];
    for (size_t i = 0; i < o->n; i++) {
        snprintf(key, sizeof(key), "%016llx", (unsigned long long)labels_hash(o->ls[i]));
        void *prev = hashmap_del(&rule->prev_series, key);
        hashmap_put(&cur, key, prev != NULL ? prev : heap_labels(o->ls[i]));
    }
    if (e->app != NULL) {
        err_t err = {0};
        for (size_t i = 0; i < o->n; i++) {
            if (e->app->ops->append(e->app, o->ls[i], e->qts, o->v[i], &err) < 0) {
                e->n_append_errors++;
                err_clear(&err);
            }
        }
        size_t it = 0;
        const char *k;
        void *v;
        while (hashmap_next(&rule->prev_series, &it, &k, &v)) {
            if (e->app->ops->append(e->app, v, e->qts, sample_stale_nan(), &err) < 0) {
                e->n_append_errors++;
                err_clear(&err);
            }
        }
    }
    hashmap_fini(&rule->prev_series, free_labels);
    rule->prev_series = cur;
}

static void set_health(ruler_rule_t *rule, const err_t *err, int64_t start_ms, double secs)
{
    free(rule->last_error);
    rule->last_error = err_is_set(err) ? xstrdup(err->msg) : NULL;
    rule->health = err_is_set(err) ? RULER_HEALTH_ERR : RULER_HEALTH_OK;
    rule->last_eval_ms = start_ms;
    rule->eval_seconds = secs;
}

/* Prometheus' "vector contains metrics with the same labelset" check. */
static int has_duplicates(const out_vec_t *o)
{
    hashmap_t seen;
    hashmap_init(&seen);
    char key[17];
    int dup = 0;
    for (size_t i = 0; i < o->n && !dup; i++) {
        snprintf(key, sizeof(key), "%016llx", (unsigned long long)labels_hash(o->ls[i]));
        dup = hashmap_put(&seen, key, (void *)o->ls[i]) != NULL;
    }
    hashmap_fini(&seen, NULL);
    return dup;
}

static int run_query(eval_ctx_t *e, const char *expr, int64_t t, ruler_sample_t **out, size_t *n,
                     err_t *err)
{
    return e->r->ev.eval(e->r->ev.ctx, e->a, e->g->tenant, expr, t, out, n, err);
}

/* Group labels first, rule labels over them (a rule's own labels win). */
static void apply_labels(labels_builder_t *b, const ruler_kv_t *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        labels_builder_set(b, kv[i].key, kv[i].value);
    }
}

static void eval_recording(eval_ctx_t *e, ruler_rule_t *rule, err_t *err, out_vec_t *o)
{
    const ruler_rule_def_t *d = rule->def;
    ruler_sample_t *s = NULL;
    size_t n = 0;
    if (run_query(e, d->expr, e->qts, &s, &n, err) < 0) {
        return;
    }
    labels_builder_t *b = labels_builder_new(e->a, NULL);
    for (size_t i = 0; i < n; i++) {
        labels_builder_reset(b, s[i].labels);
        labels_builder_set(b, "__name__", d->record);
        apply_labels(b, e->g->def->labels, e->g->def->n_labels);
        apply_labels(b, d->labels, d->n_labels);
        out_push(e, o, labels_builder_build(b), s[i].v);
    }
    if (has_duplicates(o)) {
        err_set(err, ERR_EXECUTION,
                "vector contains metrics with the same labelset after applying "
                "rule labels");
    } else if (e->g->def->limit > 0 && (int64_t)o->n > e->g->def->limit) {
        err_set(err, ERR_EXECUTION, "exceeded limit of %lld with %zu series",
                (long long)e->g->def->limit, o->n);
    }
    if (err_is_set(err)) {
        o->n = 0;
    }
}

/* ---- templates
 * ------------------------------------------------------------------------ */

static label_t *label_array(arena_t *a, const labels_t *ls, size_t *n)
{
    *n = labels_len(ls);
    label_t *v = arena_alloc(a, (*n + 1) * sizeof(*v));
    for (size_t i = 0; i < *n; i++) {
        v[i] = labels_at(ls, i);
    }
    return v;
}

typedef struct {
    eval_ctx_t *e;
} tq_arg_t;

static int template_query(void *arg, const char *query, int64_t ts_ms, arena_t *a,
                          tmpl_sample_t **out, size_t *n_out, err_t *err)
{
    eval_ctx_t *e = ((tq_arg_t *)arg)->e;
    ruler_sample_t *s = NULL;
    size_t n = 0;
    if (e->r->ev.eval(e->r->ev.ctx, a, e->g->tenant, query, ts_ms, &s, &n, err) < 0) {
        return -1;
    }
    tmpl_sample_t *v = arena_alloc(a, (n + 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i].labels = label_array(a, s[i].labels, &v[i].n_labels);
        v[i].value = s[i].v;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Expands `text` (unchanged when it holds no action). An expansion error leaves
 * Prometheus'
 * `<error expanding template: ...>` text in place, and is logged at debug
 * level. */
static const char *expand(eval_ctx_t *e, const char *name, const tmpl_prom_data_t *data,
                          const char *text)
{
    if (strstr(text, "{{") == NULL) {
        return text;
    }
    buf_t out;
    buf_init(&out);
    err_t err = {0};
    if (tmpl_prom_expand(e->r->tmpl_cache, name, text, data, &out, &err) < 0) {
        LOG_DEBUG("expanding alert template failed", KV_STR("tenant", e->g->tenant),
                  KV_STR("err", err.msg));
    }
    const char *res = arena_strdup(e->a, out.data != NULL ? out.data : "");
    buf_fini(&out);
    return res;
}

/* ---- alerting rules
 * ------------------------------------------------------------------- */

static void candidate_from_sample(eval_ctx_t *e, const ruler_rule_def_t *d, const char *tname,
                                  const ruler_sample_t *s, labels_builder_t *b,
                                  ruler_candidate_t *c, tq_arg_t *qa)
{
    tmpl_prom_data_t data = {
        .external_labels = e->r->opts.external_labels,
        .n_external_labels = e->r->opts.n_external_labels,
        .external_url = e->r->opts.external_url,
        .value = s->v,
        .ts_ms = e->qts,
        .query = template_query,
        .query_arg = qa,
    };
    data.labels = label_array(e->a, s->labels, &data.n_labels);
    labels_builder_reset(b, s->labels);
    labels_builder_del(b, "__name__");
    apply_labels(b, e->g->def->labels, e->g->def->n_labels);
    for (size_t i = 0; i < d->n_labels; i++) {
        labels_builder_set(b, d->labels[i].key, expand(e, tname, &data, d->labels[i].value));
    }
    labels_builder_set(b, "alertname", d->alert);
    c->labels = labels_builder_build(b);
    c->n_annotations = d->n_annotations;
    c->annotations = arena_alloc(e->a, (d->n_annotations + 1) * sizeof(ruler_kv_t));
    for (size_t i = 0; i < d->n_annotations; i++) {
        c->annotations[i].key = d->annotations[i].key;
        c->annotations[i].value = expand(e, tname, &data, d->annotations[i].value);
    }
    c->value = s->v;
}

/* Last ALERTS_FOR_STATE sample of each series of this alert rule within the
 * outage tolerance, keyed by the alert labels' hash: t (ms) and the stored
 * activeAt (s). */
typedef struct {
    int64_t t;
    double active_at_s;
} for_state_t;

static int load_for_state(eval_ctx_t *e, const ruler_rule_def_t *d, hashmap_t *out, err_t *err)
{
    queryable_t *qb =
        e->r->ev.queryable != NULL ? e->r->ev.queryable(e->r->ev.ctx, e->g->tenant, err) : NULL;
    if (qb == NULL) {
        return err_is_set(err) ? -1 : 0;
    }
    querier_t *q = qb->ops->querier(qb, e->ts - e->r->opts.for_outage_tolerance_ms, e->ts, err);
    if (q == NULL) {
        return -1;
    }
    const matcher_t *ms[2] = {
        matcher_new_arena(e->a, MATCH_EQ, "__name__", "ALERTS_FOR_STATE", err),
        matcher_new_arena(e->a, MATCH_EQ, "alertname", d->alert, err),
    };
    series_t *ss = NULL;
    size_t n = 0;
    int rc = (ms[0] == NULL || ms[1] == NULL) ? -1 : q->ops->select(q, e->a, ms, 2, &ss, &n, err);
    labels_builder_t *b = labels_builder_new(e->a, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        series_iter_t *it = q->ops->iter(q, e->a, &ss[i], err);
        sample_t smp, last = {0, 0};
        int got = 0, r;
        while (it != NULL && (r = it->ops->next(it, &smp, err)) == 1) {
            last = smp;
            got = 1;
        }
        if (it == NULL || err_is_set(err)) {
            rc = -1;
            break;
        }
        if (!got || sample_is_stale(last.v)) {
            continue;
        }
        labels_builder_reset(b, ss[i].labels);
        labels_builder_del(b, "__name__");
        char key[17];
        snprintf(key, sizeof(key), "%016llx",
                 (unsigned long long)labels_hash(labels_builder_build(b)));
        for_state_t *fs = arena_alloc(e->a, sizeof(*fs));
        fs->t = last.t;
        fs->active_at_s = last.v;
        hashmap_put(out, key, fs);
    }
    q->ops->close(q);
    return rc;
}

/* Prometheus' RestoreForState for one alert that this first evaluation just
 * created. Rules whose `for` is shorter than the grace period are skipped by
 * Prometheus; herald restores those only when they had already satisfied `for`
 * (they were firing), so a restart never sends a firing alert back to pending.
 */
static void restore_alert(eval_ctx_t *e, ruler_alert_t *a, const for_state_t *fs, int64_t hold)
{
    int64_t down_at = fs->t / 1000 * 1000;
    int64_t restored = (int64_t)fs->active_at_s * 1000;
    int64_t remaining = hold - (down_at - restored);
    int64_t grace = e->r->opts.for_grace_period_ms;
    if (hold < grace && remaining > 0) {
        return;
    }
    if (remaining <= 0) {
        /* already satisfied `for` before going down: fires now */
    } else if (remaining < grace) {
        restored = e->ts + grace - hold;
    } else {
        restored += e->ts - down_at;
    }
    a->active_at_ms = restored;
    if (a->state != RULER_FIRING && e->ts - a->active_at_ms >= hold) {
        a->state = RULER_FIRING;
        a->fired_at_ms = e->ts;
    }
}

static void restore_rule(eval_ctx_t *e, ruler_rule_t *rule, hashmap_t *fs)
{
    int64_t hold = rule->def->for_ms;
    size_t it = 0;
    const char *key;
    void *v;
    while (hashmap_next(&rule->alerts.by_key, &it, &key, &v)) {
        ruler_alert_t *a = v;
        const for_state_t *s = hashmap_get(fs, key);
        if (s != NULL && a->active_at_ms == e->ts) {
            restore_alert(e, a, s, hold);
        }
    }
}

/* ALERTS{alertstate} = 1 and ALERTS_FOR_STATE = activeAt seconds, per active
 * alert. */
static void alert_series(eval_ctx_t *e, ruler_rule_t *rule, out_vec_t *o)
{
    labels_builder_t *b = labels_builder_new(e->a, NULL);
    size_t it = 0;
    const char *key;
    void *v;
    while (hashmap_next(&rule->alerts.by_key, &it, &key, &v)) {
        ruler_alert_t *a = v;
        if (a->state == RULER_INACTIVE) {
            continue;
        }
        labels_builder_reset(b, a->labels);
        labels_builder_set(b, "__name__", "ALERTS");
        labels_builder_set(b, "alertstate", ruler__state_name(a->state));
        out_push(e, o, labels_builder_build(b), 1);
        labels_builder_reset(b, a->labels);
        labels_builder_set(b, "__name__", "ALERTS_FOR_STATE");
        out_push(e, o, labels_builder_build(b), (double)(a->active_at_ms / 1000));
    }
}

typedef struct {
    ruler_sent_alert_t *v;
    size_t n, cap;
} sends_t;

/* Prometheus' sendAlerts: each alert due goes out with endsAt = its resolve
 * time, or ts + 4 x max(resend_delay, interval) while firing so it expires if
 * the ruler stops. */
static void collect_sends(eval_ctx_t *e, ruler_rule_t *rule, sends_t *s)
{
    int64_t delta = e->r->opts.resend_delay_ms;
    if (e->g->interval_ms > delta) {
        delta = e->g->interval_ms;
    }
    size_t it = 0;
    const char *key;
    void *v;
    while (hashmap_next(&rule->alerts.by_key, &it, &key, &v)) {
        ruler_alert_t *a = v;
        if (!ruler__alert_needs_sending(a, e->ts, e->r->opts.resend_delay_ms)) {
            continue;
        }
        a->last_sent_at_ms = e->ts;
        a->valid_until_ms = e->ts + 4 * delta;
        xgrow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
        ruler_sent_alert_t *sa = &s->v[s->n++];
        sa->labels = labels_ref(a->labels);
        sa->annotations = ruler__kv_dup(a->annotations, a->n_annotations);
        sa->n_annotations = a->n_annotations;
        sa->starts_at_ms = a->fired_at_ms;
        sa->ends_at_ms = a->resolved_at_ms != 0 ? a->resolved_at_ms : a->valid_until_ms;
        sa->generator_url = ruler__generator_url(e->r->opts.external_url, rule->def->expr);
    }
}

static void eval_alerting(eval_ctx_t *e, ruler_rule_t *rule, err_t *err, sends_t *sends,
                          int64_t wall_ms, int64_t t0)
{
    const ruler_rule_def_t *d = rule->def;
    ruler_sample_t *s = NULL;
    size_t n = 0;
    char tname[300];
    snprintf(tname, sizeof(tname), "__alert_%s", d->alert);
    hashmap_t fs;
    hashmap_init(&fs);
    int rc = run_query(e, d->expr, e->qts, &s, &n, err);
    ruler_candidate_t *c = arena_calloc(e->a, (n + 1) * sizeof(*c));
    labels_builder_t *b = labels_builder_new(e->a, NULL);
    tq_arg_t qa = {.e = e};
    for (size_t i = 0; rc == 0 && i < n; i++) {
        candidate_from_sample(e, d, tname, &s[i], b, &c[i], &qa);
    }
    err_t ferr = {0};
    int restore = rc == 0 && e->g->should_restore && load_for_state(e, d, &fs, &ferr) == 0;
    out_vec_t o = {0};
    pthread_mutex_lock(&e->g->mu);
    if (rc == 0 && ruler__alerts_update(&rule->alerts, c, n, e->ts, d->for_ms,
                                        d->keep_firing_for_ms, e->g->def->limit, err) >= 0) {
        if (restore) {
            restore_rule(e, rule, &fs);
        }
        alert_series(e, rule, &o);
        collect_sends(e, rule, sends);
    }
    write_output(e, rule, &o);
    set_health(rule, err, wall_ms, (double)(time_now_ns() - t0) / 1e9);
    pthread_mutex_unlock(&e->g->mu);
    hashmap_fini(&fs, NULL);
}

/* ---- the group
 * ------------------------------------------------------------------------ */

static void eval_rule(eval_ctx_t *e, ruler_rule_t *rule, sends_t *sends)
{
    err_t err = {0};
    int64_t wall = time_now_ms(), t0 = time_now_ns();
    arena_reset(e->a);
    if (rule->def->alert != NULL) {
        eval_alerting(e, rule, &err, sends, wall, t0);
    } else {
        out_vec_t o = {0};
        eval_recording(e, rule, &err, &o);
        pthread_mutex_lock(&e->g->mu);
        write_output(e, rule, &o);
        set_health(rule, &err, wall, (double)(time_now_ns() - t0) / 1e9);
        pthread_mutex_unlock(&e->g->mu);
    }
    ruler__metric_eval(e->g, err_is_set(&err));
    if (err_is_set(&err)) {
        LOG_DEBUG("rule evaluation failed", KV_STR("tenant", e->g->tenant),
                  KV_STR("group", e->g->def->name), KV_STR("err", err.msg));
    }
}

static void commit(eval_ctx_t *e)
{
    if (e->app == NULL) {
        return;
    }
    err_t err = {0};
    if (e->app->ops->commit(e->app, &err) < 0) {
        LOG_WARN("writing rule results failed", KV_STR("tenant", e->g->tenant),
                 KV_STR("group", e->g->def->name), KV_STR("err", err.msg));
    }
    if (e->n_append_errors > 0) {
        LOG_DEBUG("some rule samples were rejected", KV_STR("tenant", e->g->tenant),
                  KV_INT("count", e->n_append_errors));
    }
}

void ruler__group_eval(ruler_t *r, ruler_group_t *g, int64_t ts)
{
    ruler_limits_t l;
    ruler__tenant_limits(r, g->tenant, &l);
    int64_t offset =
        g->def->query_offset_ms >= 0 ? g->def->query_offset_ms : l.evaluation_delay_ms;
    eval_ctx_t e = {.r = r, .g = g, .ts = ts, .qts = ts - offset};
    e.a = arena_new(0, NULL); /* the evaluator applies its own query limits */
    sends_t sends = {0};
    int64_t wall = time_now_ms(), t0 = time_now_ns();
    for (size_t i = 0; i < g->n_rules; i++) {
        /* Each rule's output is committed before the next rule runs, as Prometheus does, so
         * a later rule of the group sees this evaluation's recorded series. */
        err_t aerr = {0};
        e.app = r->ev.appender != NULL ? r->ev.appender(r->ev.ctx, g->tenant, &aerr) : NULL;
        eval_rule(&e, &g->rules[i], &sends);
        commit(&e);
    }
    arena_free(e.a);
    pthread_mutex_lock(&g->mu);
    g->should_restore = 0;
    g->last_eval_ms = wall;
    g->eval_seconds = (double)(time_now_ns() - t0) / 1e9;
    pthread_mutex_unlock(&g->mu);
    if (sends.n > 0) {
        ruler__notifier_send(r->notifier, g->tenant, sends.v, sends.n);
    }
    free(sends.v);
}
