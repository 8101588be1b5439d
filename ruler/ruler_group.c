/* ruler/ruler_group.c - running rule groups: creation from a definition,
 * reference counting, state carried over when a group is replaced, and
 * evaluation-time alignment. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "ruler/ruler_int.h"

ruler_group_t *ruler__group_new(ruler_t *r, const char *tenant, const char *ns,
                                ruler_group_def_t *def)
{
    ruler_group_t *g = xcalloc(1, sizeof(*g));
    g->refs = 1;
    pthread_mutex_init(&g->mu, NULL);
    g->tenant = xstrdup(tenant);
    g->ns = xstrdup(ns);
    g->def = def;
    g->interval_ms = def->interval_ms > 0 ? def->interval_ms : r->opts.evaluation_interval_ms;
    if (g->interval_ms <= 0) {
        g->interval_ms = 60000;
    }
    g->n_rules = def->n_rules;
    g->rules = xcalloc(def->n_rules + 1, sizeof(*g->rules));
    for (size_t i = 0; i < def->n_rules; i++) {
        g->rules[i].def = &def->rules[i];
        if (r->ev.format != NULL && def->rules[i].expr != NULL) {
            g->rules[i].query = r->ev.format(r->ev.ctx, def->rules[i].expr);
        }
        ruler__alerts_init(&g->rules[i].alerts);
        hashmap_init(&g->rules[i].prev_series);
    }
    return g;
}

void ruler__group_ref(ruler_group_t *g)
{
    __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

static void series_unref(void *p)
{
    labels_unref(p);
}

void ruler__group_unref(ruler_group_t *g)
{
    if (g == NULL || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        ruler__alerts_fini(&g->rules[i].alerts);
        hashmap_fini(&g->rules[i].prev_series, series_unref);
        free(g->rules[i].last_error);
        free(g->rules[i].query);
    }
    free(g->rules);
    ruler__group_def_free(g->def);
    pthread_mutex_destroy(&g->mu);
    free(g->tenant);
    free(g->ns);
    free(g);
}

static const char *rule_name(const ruler_rule_def_t *d)
{
    return d->alert != NULL ? d->alert : d->record;
}

/* Moves the contents of a hashmap (its storage is swapped, src is left empty).
 */
static void map_move(hashmap_t *dst, hashmap_t *src, void (*free_value)(void *))
{
    hashmap_fini(dst, free_value);
    *dst = *src;
    hashmap_init(src);
}

static ruler_rule_t *find_rule(ruler_group_t *g, const ruler_rule_def_t *d, char *taken)
{
    for (size_t j = 0; j < g->n_rules; j++) {
        const ruler_rule_def_t *o = g->rules[j].def;
        if (!taken[j] && (o->alert != NULL) == (d->alert != NULL) &&
            strcmp(rule_name(o), rule_name(d)) == 0) {
            taken[j] = 1;
            return &g->rules[j];
        }
    }
    return NULL;
}

/* As Prometheus' Group.CopyState: rules are matched by type and name, in order,
 * so a group edited in place keeps its alerts (and their activeAt) and its
 * timing. */
void ruler__group_copy_state(ruler_group_t *dst, ruler_group_t *src)
{
    char *taken = xcalloc(src->n_rules + 1, 1);
    pthread_mutex_lock(&src->mu);
    for (size_t i = 0; i < dst->n_rules; i++) {
        ruler_rule_t *old = find_rule(src, dst->rules[i].def, taken);
        if (old == NULL) {
            continue;
        }
        ruler_rule_t *nr = &dst->rules[i];
        map_move(&nr->alerts.by_key, &old->alerts.by_key, NULL);
        map_move(&nr->prev_series, &old->prev_series, series_unref);
        nr->health = old->health;
        nr->last_error = old->last_error;
        old->last_error = NULL;
        nr->last_eval_ms = old->last_eval_ms;
        nr->eval_seconds = old->eval_seconds;
    }
    dst->should_restore = src->should_restore;
    dst->last_eval_ms = src->last_eval_ms;
    dst->eval_seconds = src->eval_seconds;
    pthread_mutex_unlock(&src->mu);
    free(taken);
}

/* Prometheus offsets each group inside its interval by a hash of its identity,
 * so groups do not all run at the same instant, yet each runs at stable,
 * aligned times. */
int64_t ruler__group_eval_ts(const ruler_group_t *g, int64_t now_ms)
{
    uint64_t h = hash_bytes(g->ns, strlen(g->ns), 0);
    h = hash_bytes(g->def->name, strlen(g->def->name), h);
    int64_t offset = (int64_t)(h % (uint64_t)g->interval_ms);
    int64_t adj = now_ms - offset;
    return adj - adj % g->interval_ms + offset;
}
