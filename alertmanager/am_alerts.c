/* alertmanager/am_alerts.c - a tenant's alert store: fingerprints, the merge rule for
 * updates, garbage collection of resolved alerts, and each alert's status (silenced,
 * inhibited) as the v2 API reports it.
 *
 * DESIGN: stored alerts are immutable and refcounted; an update stores a new merged alert
 * and drops the store's reference to the old one, so groups and in-flight notifications
 * holding the old one keep a consistent snapshot. All functions here need tenant->mu. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/log.h"
#include "common/mem.h"

am_alert_t *am__alert_new(void)
{
    am_alert_t *a = xcalloc(1, sizeof(*a));
    atomic_init(&a->refs, 1);
    return a;
}

am_alert_t *am__alert_ref(am_alert_t *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void am__alert_unref(am_alert_t *a)
{
    if (a == NULL || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    labels_unref(a->labels);
    labels_unref(a->annotations);
    free(a->generator_url);
    free(a);
}

int am__alert_resolved(const am_alert_t *a, int64_t now_ns)
{
    return a->ends_ns != 0 && a->ends_ns <= now_ns;
}

static am_alert_t *alert_copy(const am_alert_t *src)
{
    am_alert_t *a = am__alert_new();
    a->labels = labels_ref(src->labels);
    a->annotations = src->annotations != NULL ? labels_ref(src->annotations) : NULL;
    a->starts_ns = src->starts_ns;
    a->ends_ns = src->ends_ns;
    a->updated_ns = src->updated_ns;
    a->generator_url = src->generator_url != NULL ? xstrdup(src->generator_url) : NULL;
    a->timeout = src->timeout;
    a->fp = src->fp;
    return a;
}

am_alert_t *am__alert_merge(const am_alert_t *a, const am_alert_t *o, int64_t now_ns)
{
    if (o->updated_ns < a->updated_ns) { /* let o be the younger alert */
        const am_alert_t *t = a;
        a = o;
        o = t;
    }
    am_alert_t *res = alert_copy(o);
    if (a->starts_ns < o->starts_ns) {
        res->starts_ns = a->starts_ns; /* the earliest start wins */
    }
    if (am__alert_resolved(o, now_ns)) {
        if (am__alert_resolved(a, now_ns) && a->ends_ns > o->ends_ns) {
            res->ends_ns = a->ends_ns;
        }
    } else if (a->ends_ns > o->ends_ns && !a->timeout) {
        res->ends_ns = a->ends_ns; /* an explicit later end beats a timeout end */
    }
    return res;
}

int am__alert_cmp(const am_alert_t *a, const am_alert_t *b)
{
    static const char *const keys[] = {"job", "instance"};
    for (size_t i = 0; i < 2; i++) {
        const char *x = labels_get(a->labels, keys[i]), *y = labels_get(b->labels, keys[i]);
        if (x == NULL && y == NULL) {
            continue;
        }
        if (x == NULL || y == NULL) {
            return x == NULL ? 1 : -1;
        }
        int c = strcmp(x, y);
        if (c != 0) {
            return c;
        }
    }
    if (am__lset_before(a->labels, b->labels)) {
        return -1;
    }
    return am__lset_before(b->labels, a->labels) ? 1 : 0;
}

static void fp_key(uint64_t fp, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, fp);
}

/* Mimir's alert size: bytes of label and annotation names and values plus generatorURL. */
static int64_t alert_size(const am_alert_t *a)
{
    int64_t n = a->generator_url != NULL ? (int64_t)strlen(a->generator_url) : 0;
    const labels_t *sets[2] = {a->labels, a->annotations};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; sets[s] != NULL && i < labels_len(sets[s]); i++) {
            label_t l = labels_at(sets[s], i);
            n += (int64_t)(strlen(l.name) + strlen(l.value));
        }
    }
    return n;
}

/* Mimir's alerts limiter: a new alert over max_alerts_count, or any alert taking the total
 * over max_alerts_size_bytes, is dropped with a log line and a metric (the API still
 * answers 200, as Alertmanager's store only logs callback errors). */
static int alerts_limited(am_tenant_t *t, const am_alert_t *in, const am_alert_t *old)
{
    am_limits_t l;
    am__tenant_limits(t, &l);
    char msg[96] = "";
    if (old == NULL && l.max_alerts_count > 0 &&
        hashmap_len(&t->alerts) + 1 > (size_t)l.max_alerts_count) {
        snprintf(msg, sizeof(msg), "too many alerts, limit: %d", l.max_alerts_count);
    } else if (l.max_alerts_size_bytes > 0 &&
               t->alerts_bytes + alert_size(in) - (old ? alert_size(old) : 0) >
                   l.max_alerts_size_bytes) {
        snprintf(msg, sizeof(msg), "alerts too big, total size limit: %d bytes",
                 l.max_alerts_size_bytes);
    }
    if (msg[0] == '\0') {
        return 0;
    }
    LOG_ERROR("pre-store callback returned error on set alert", KV_STR("user", t->id),
              KV_STR("err", msg));
    am__metrics_limited(t->id);
    return 1;
}

int am__alerts_put(am_tenant_t *t, am_alert_t *in, int64_t now_ns)
{
    char key[17];
    in->fp = am__fingerprint(in->labels);
    fp_key(in->fp, key);
    am_alert_t *old = hashmap_get(&t->alerts, key);
    if (alerts_limited(t, in, old)) {
        am__alert_unref(in);
        return -1;
    }
    am_alert_t *cur = in;
    /* Only overlapping alerts merge; a new occurrence after resolution replaces. */
    if (old != NULL && in->ends_ns > old->starts_ns && in->starts_ns < old->ends_ns) {
        cur = am__alert_merge(old, in, now_ns);
        am__alert_unref(in);
    }
    hashmap_put(&t->alerts, key, cur);
    t->alerts_bytes += alert_size(cur) - (old != NULL ? alert_size(old) : 0);
    am__alert_unref(old);
    am__dispatch_alert(t, cur, now_ns);
    return 0;
}

void am__alerts_gc(am_tenant_t *t, int64_t now_ns)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->alerts, &it, &k, &v)) {
        if (am__alert_resolved(v, now_ns)) {
            t->alerts_bytes -= alert_size(v);
            hashmap_del(&t->alerts, k);
            am__alert_unref(v);
        }
    }
}

/* The inhibitor's rule: a firing source alert, not itself a target when the rule matches
 * both ways, with the same values for every `equal` label. */
static int rule_inhibits(am_tenant_t *t, const am_inhibit_rule_t *r, const labels_t *ls,
                         int64_t now_ns, uint64_t *by)
{
    int two_sided = am__matchers_match(r->source, r->n_source, ls);
    size_t it = 0;
    const char *k;
    void *v;
    while (hashmap_next(&t->alerts, &it, &k, &v)) {
        const am_alert_t *s = v;
        if (am__alert_resolved(s, now_ns) ||
            !am__matchers_match(r->source, r->n_source, s->labels)) {
            continue;
        }
        if (two_sided && am__matchers_match(r->target, r->n_target, s->labels)) {
            continue;
        }
        size_t i = 0;
        for (; i < r->n_equal; i++) {
            const char *x = labels_get(ls, r->equal[i]), *y = labels_get(s->labels, r->equal[i]);
            if (strcmp(x != NULL ? x : "", y != NULL ? y : "") != 0) {
                break;
            }
        }
        if (i == r->n_equal) {
            *by = s->fp;
            return 1;
        }
    }
    return 0;
}

int am__inhibited(am_tenant_t *t, const labels_t *ls, int64_t now_ns, uint64_t *by)
{
    for (size_t i = 0; i < t->config->n_inhibit; i++) {
        const am_inhibit_rule_t *r = &t->config->inhibit[i];
        if (am__matchers_match(r->target, r->n_target, ls) &&
            rule_inhibits(t, r, ls, now_ns, by)) {
            return 1;
        }
    }
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int am__silenced(am_tenant_t *t, const labels_t *ls, int64_t now_ns, arena_t *a,
                 const char ***ids, size_t *n)
{
    size_t it = 0, cnt = 0, cap = 0;
    const char *k;
    void *v;
    const char **out = NULL;
    while (hashmap_next(&t->silences, &it, &k, &v)) {
        am_silence_t *s = v;
        if (am__silence_state(s, now_ns) != AM_SIL_ACTIVE || !am__silence_matches(s, ls)) {
            continue;
        }
        if (a == NULL) {
            cnt++;
            continue;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            out = arena_realloc(a, out, cap * sizeof(*out), ncap * sizeof(*out));
            cap = ncap;
        }
        out[cnt++] = arena_strdup(a, s->id);
    }
    if (out != NULL && cnt > 1) {
        qsort(out, cnt, sizeof(*out), str_cmp);
    }
    if (ids != NULL) {
        *ids = out;
    }
    if (n != NULL) {
        *n = cnt;
    }
    return cnt > 0;
}

void am__alert_status(am_tenant_t *t, arena_t *a, const am_alert_t *al, int64_t now_ns,
                      am_status_t *st)
{
    memset(st, 0, sizeof(*st));
    am__silenced(t, al->labels, now_ns, a, &st->silenced_by, &st->n_silenced);
    st->inhibited_by = arena_alloc(a, sizeof(uint64_t));
    if (st->inhibited_by != NULL && am__inhibited(t, al->labels, now_ns, st->inhibited_by)) {
        st->n_inhibited = 1;
    }
}

size_t am__route_muted(const am_config_t *c, const am_route_t *r, int64_t now_ns,
                       const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_mute_ti && n < cap; i++) {
        const am_timeint_set_t *s = am__config_timeint(c, r->mute_ti[i]);
        if (s != NULL && am__timeint_set_active(s, now_ns)) {
            names[n++] = r->mute_ti[i];
        }
    }
    if (r->n_active_ti == 0) {
        return n;
    }
    for (size_t i = 0; i < r->n_active_ti; i++) {
        const am_timeint_set_t *s = am__config_timeint(c, r->active_ti[i]);
        if (s != NULL && am__timeint_set_active(s, now_ns)) {
            return n; /* inside an active interval: not muted by them */
        }
    }
    for (size_t i = 0; i < r->n_active_ti && n < cap; i++) {
        names[n++] = r->active_ti[i];
    }
    return n;
}
