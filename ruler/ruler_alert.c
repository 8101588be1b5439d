/* ruler/ruler_alert.c - the alerting state machine of one alerting rule, step
 * for step as Prometheus' AlertingRule.Eval: inactive -> pending -> firing
 * after `for`, kept firing for `keep_firing_for` once the condition is gone,
 * resolved alerts kept 15 minutes so that the Alertmanager hears about the
 * resolution. Pure data: no locks, no I/O (the caller holds the group's lock),
 * so the unit tests drive it with explicit timestamps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "ruler/ruler_int.h"

/* Prometheus' resolvedRetention: how long a resolved alert is still sent. */
#define RULER_RESOLVED_RETENTION_MS (15 * 60 * 1000)

const char *ruler__state_name(ruler_alert_state_t s)
{
    switch (s) {
    case RULER_PENDING:
        return "pending";
    case RULER_FIRING:
        return "firing";
    default:
        return "inactive";
    }
}

ruler_kv_t *ruler__kv_dup(const ruler_kv_t *kv, size_t n)
{
    size_t bytes = (n + 1) * sizeof(ruler_kv_t);
    for (size_t i = 0; i < n; i++) {
        bytes += strlen(kv[i].key) + strlen(kv[i].value) + 2;
    }
    ruler_kv_t *out = xmalloc(bytes);
    char *p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(kv[i].key) + 1, vl = strlen(kv[i].value) + 1;
        out[i].key = memcpy(p, kv[i].key, kl);
        out[i].value = memcpy(p + kl, kv[i].value, vl);
        p += kl + vl;
    }
    out[n].key = out[n].value = NULL;
    return out;
}

static labels_t *labels_heap_copy(const labels_t *ls)
{
    size_t n = labels_len(ls);
    label_t *pairs = xmalloc((n + 1) * sizeof(*pairs));
    for (size_t i = 0; i < n; i++) {
        pairs[i] = labels_at(ls, i);
    }
    labels_t *out = labels_new(pairs, n, NULL);
    free(pairs);
    return out;
}

static void alert_free(void *p)
{
    ruler_alert_t *a = p;
    if (a == NULL) {
        return;
    }
    labels_unref(a->labels);
    free(a->annotations);
    free(a);
}

void ruler__alerts_init(ruler_alerts_t *as)
{
    hashmap_init(&as->by_key);
}

void ruler__alerts_fini(ruler_alerts_t *as)
{
    hashmap_fini(&as->by_key, alert_free);
}

static void alert_key(const labels_t *ls, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)labels_hash(ls));
}

/* Merges this evaluation's candidates into the active set (new ones start
 * pending). Marks each candidate key in `seen`. */
static int merge_candidates(ruler_alerts_t *as, hashmap_t *seen, const ruler_candidate_t *c,
                            size_t n, int64_t ts, err_t *err)
{
    char key[17];
    for (size_t i = 0; i < n; i++) {
        alert_key(c[i].labels, key);
        if (hashmap_put(seen, key, (void *)&c[i]) != NULL) {
            return err_set(err, ERR_EXECUTION,
                           "vector contains metrics with the same labelset "
                           "after applying alert labels");
        }
        ruler_alert_t *a = hashmap_get(&as->by_key, key);
        if (a != NULL && a->state != RULER_INACTIVE) {
            a->value = c[i].value;
            free(a->annotations);
            a->annotations = ruler__kv_dup(c[i].annotations, c[i].n_annotations);
            a->n_annotations = c[i].n_annotations;
            continue;
        }
        alert_free(a); /* a resolved alert starts over */
        a = xcalloc(1, sizeof(*a));
        a->labels = labels_heap_copy(c[i].labels);
        a->annotations = ruler__kv_dup(c[i].annotations, c[i].n_annotations);
        a->n_annotations = c[i].n_annotations;
        a->value = c[i].value;
        a->state = RULER_PENDING;
        a->active_at_ms = ts;
        hashmap_put(&as->by_key, key, a);
    }
    return 0;
}

/* An alert whose condition is gone this time. Returns 1 if it still counts as
 * active (keep_firing_for), 0 otherwise; *drop asks the caller to delete it. */
static int absent_step(ruler_alert_t *a, int64_t ts, int64_t keep_firing_for_ms, int *drop)
{
    int keep_firing = 0;
    if (a->state == RULER_FIRING && keep_firing_for_ms > 0) {
        if (a->keep_firing_since_ms == 0) {
            a->keep_firing_since_ms = ts;
        }
        keep_firing = ts - a->keep_firing_since_ms < keep_firing_for_ms;
    }
    *drop = a->state == RULER_PENDING ||
            (a->resolved_at_ms != 0 && ts - a->resolved_at_ms > RULER_RESOLVED_RETENTION_MS);
    if (a->state != RULER_INACTIVE && !keep_firing) {
        a->state = RULER_INACTIVE;
        a->resolved_at_ms = ts;
    }
    return keep_firing;
}

int ruler__alerts_update(ruler_alerts_t *as, const ruler_candidate_t *c, size_t n, int64_t ts,
                         int64_t hold_ms, int64_t keep_firing_for_ms, int64_t limit, err_t *err)
{
    hashmap_t seen;
    hashmap_init(&seen);
    int n_active = 0;
    if (merge_candidates(as, &seen, c, n, ts, err) < 0) {
        n_active = -1;
        goto done;
    }
    size_t it = 0;
    const char *key;
    void *val;
    while (hashmap_next(&as->by_key, &it, &key, &val)) {
        ruler_alert_t *a = val;
        if (hashmap_get(&seen, key) == NULL) {
            int drop = 0;
            int keep = absent_step(a, ts, keep_firing_for_ms, &drop);
            if (drop) {
                alert_free(hashmap_del(&as->by_key, key));
            }
            if (!keep || drop) {
                continue;
            }
        } else {
            a->keep_firing_since_ms = 0;
        }
        n_active++;
        if (a->state == RULER_PENDING && ts - a->active_at_ms >= hold_ms) {
            a->state = RULER_FIRING;
            a->fired_at_ms = ts;
        }
    }
    if (limit > 0 && n_active > limit) {
        hashmap_fini(&as->by_key, alert_free);
        hashmap_init(&as->by_key);
        err_set(err, ERR_EXECUTION, "exceeded limit of %lld with %d alerts", (long long)limit,
                n_active);
        n_active = -1;
    }
done:
    hashmap_fini(&seen, NULL);
    return n_active;
}

static int alert_cmp(const void *a, const void *b)
{
    return labels_cmp((*(ruler_alert_t *const *)a)->labels, (*(ruler_alert_t *const *)b)->labels);
}

ruler_alert_t **ruler__alerts_sorted(ruler_alerts_t *as, size_t *n)
{
    size_t len = hashmap_len(&as->by_key);
    ruler_alert_t **v = xmalloc((len + 1) * sizeof(*v));
    size_t it = 0, i = 0;
    const char *key;
    void *val;
    while (hashmap_next(&as->by_key, &it, &key, &val)) {
        v[i++] = val;
    }
    qsort(v, i, sizeof(*v), alert_cmp);
    *n = i;
    return v;
}

int ruler__alert_needs_sending(const ruler_alert_t *a, int64_t ts, int64_t resend_delay_ms)
{
    if (a->state == RULER_PENDING) {
        return 0;
    }
    if (a->resolved_at_ms > a->last_sent_at_ms) {
        return 1; /* resolved since the last send */
    }
    return a->last_sent_at_ms + resend_delay_ms < ts;
}
