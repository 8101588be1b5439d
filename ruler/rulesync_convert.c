/* ruler/rulesync_convert.c - what Alloy's rules.kubernetes components decide without I/O:
 * label selectors, ruler namespace names and which of them are managed, the conversion of
 * a PrometheusRule into ruler groups, and the diff between desired and actual groups.
 * docs/rulesync.md describes each step; api-reference.md section 5 is the spec. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/labels.h"
#include "common/log.h"
#include "common/matchers.h"
#include "common/timeutil.h"
#include "logql/logql.h"
#include "promql/promql.h"
#include "ruler/rulesync_int.h"

#define SOURCE_TENANTS_ANNOTATION "monitoring.grafana.com/source_tenants"

/* ---- selectors -------------------------------------------------------------------------- */

static int in_list(const cfg_strlist_t *l, const char *v)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i], v) == 0) {
            return 1;
        }
    }
    return 0;
}

static int expr_matches(const cfg_match_expr_t *e, const rulesync_kvs_t *labels)
{
    const char *v = rulesync__kvs_get(labels, e->key);
    if (strcmp(e->operator, "In") == 0) {
        return v != NULL && in_list(&e->values, v);
    }
    if (strcmp(e->operator, "NotIn") == 0) {
        return v == NULL || !in_list(&e->values, v);
    }
    if (strcmp(e->operator, "Exists") == 0) {
        return v != NULL;
    }
    return v == NULL; /* DoesNotExist; the config allows no other operator */
}

int rulesync__selector_matches(const cfg_label_selector_t *sel, const rulesync_kvs_t *labels)
{
    for (size_t i = 0; i < sel->match_labels.n; i++) {
        const char *v = rulesync__kvs_get(labels, sel->match_labels.keys[i]);
        if (v == NULL || strcmp(v, sel->match_labels.values[i]) != 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < sel->n_match_expression; i++) {
        if (!expr_matches(&sel->match_expression[i], labels)) {
            return 0;
        }
    }
    return 1;
}

/* ---- naming ------------------------------------------------------------------------------ */

const char *rulesync__ns_name(arena_t *a, const cfg_rules_target_t *t, const rulesync_obj_t *o)
{
    const char *sep = t->namespace_separator;
    return arena_sprintf(a, "%s%s%s%s%s%s%s", t->namespace_prefix, sep, o->ns, sep, o->name, sep,
                         o->uid);
}

static int is_uuid(const char *s)
{
    static const int group_len[] = {8, 4, 4, 4, 12};
    for (size_t g = 0; g < 5; g++) {
        for (int i = 0; i < group_len[g]; i++, s++) {
            if (!isxdigit((unsigned char)*s)) {
                return 0;
            }
        }
        if (*s != (g < 4 ? '-' : '\0')) {
            return 0;
        }
        s += g < 4;
    }
    return 1;
}

int rulesync__is_managed(const char *prefix, const char *ns)
{
    size_t np = strlen(prefix), n = strlen(ns);
    if (n < np + 1 + 36 || strncmp(ns, prefix, np) != 0) {
        return 0;
    }
    /* `.+` of Go's regexp: at least one byte, none of them a newline */
    if (memchr(ns + np, '\n', n - np - 36) != NULL) {
        return 0;
    }
    return is_uuid(ns + n - 36);
}

/* ---- conversion helpers ------------------------------------------------------------------- */

/* Sets key in a sorted kv list (copying the list into a); override 0 keeps an existing
 * value. */
static void kvs_set(arena_t *a, rulesync_kvs_t *kv, const char *key, const char *value,
                    int override)
{
    size_t at = 0;
    while (at < kv->n && strcmp(kv->items[at].key, key) < 0) {
        at++;
    }
    if (at < kv->n && strcmp(kv->items[at].key, key) == 0) {
        if (override) {
            rulesync_kv_t *copy = arena_alloc(a, kv->n * sizeof(*copy));
            memcpy(copy, kv->items, kv->n * sizeof(*copy));
            copy[at].value = value;
            kv->items = copy;
        }
        return;
    }
    rulesync_kv_t *grown = arena_alloc(a, (kv->n + 1) * sizeof(*grown));
    if (kv->n > 0) {
        memcpy(grown, kv->items, at * sizeof(*grown));
        memcpy(grown + at + 1, kv->items + at, (kv->n - at) * sizeof(*grown));
    }
    grown[at] = (rulesync_kv_t){key, value};
    kv->items = grown;
    kv->n++;
}

/* Appends "; " + the formatted problem to the error list. */
static void problem(buf_t *errs, const char *fmt, const char *a1, const char *a2)
{
    if (errs->len > 0) {
        buf_puts(errs, "; ");
    }
    buf_printf(errs, fmt, a1, a2);
}

static int64_t duration_or_problem(const char *s, int64_t unset, buf_t *errs)
{
    int64_t ms = unset;
    err_t e = {0};
    if (s != NULL && duration_parse(s, &ms, &e) < 0) {
        problem(errs, "%s%s", e.msg, "");
        return unset;
    }
    return ms;
}

typedef struct {
    arena_t *a;
    rulesync_kind_t kind;
    const cfg_rules_target_t *t;
    const rulesync_obj_t *o;
    buf_t *errs;
} conv_t;

static const char *rule_name(const rulesync_raw_rule_t *r)
{
    return r->alert != NULL ? r->alert : r->record != NULL ? r->record : "";
}

/* Prometheus' rule checks (Mimir component), phrased as rulefmt phrases them. */
static void check_rule_mimir(conv_t *c, const char *group, size_t idx, const rulesync_raw_rule_t *r)
{
    char where[512];
    snprintf(where, sizeof(where), "group \"%s\", rule %zu, \"%s\": ", group, idx + 1,
             rule_name(r));
    if (r->record == NULL && r->alert == NULL) {
        problem(c->errs, "%s%s", where, "one of 'record' or 'alert' must be set");
    } else if (r->record != NULL && r->alert != NULL) {
        problem(c->errs, "%s%s", where, "only one of 'record' and 'alert' must be set");
    }
    if (r->expr == NULL || r->expr[0] == '\0') {
        problem(c->errs, "%s%s", where, "field 'expr' must be set in rule");
    } else {
        err_t e = {0};
        if (promql_parse(c->a, r->expr, &e) == NULL) {
            problem(c->errs, "%scould not parse expression: %s", where, e.msg);
        }
    }
    if (r->record != NULL) {
        if (r->annotations.n > 0) {
            problem(c->errs, "%s%s", where, "invalid field 'annotations' in recording rule");
        }
        if (r->for_ != NULL) {
            problem(c->errs, "%s%s", where, "invalid field 'for' in recording rule");
        }
        if (r->keep_firing_for != NULL) {
            problem(c->errs, "%s%s", where, "invalid field 'keep_firing_for' in recording rule");
        }
        if (!labels_is_valid_metric_name(r->record, strlen(r->record))) {
            problem(c->errs, "%sinvalid recording rule name: %s", where, r->record);
        }
    }
    for (size_t i = 0; i < r->labels.n; i++) {
        const char *k = r->labels.items[i].key;
        if (!labels_is_valid_name(k, strlen(k))) {
            problem(c->errs, "%sinvalid label name: %s", where, k);
        }
    }
    for (size_t i = 0; i < r->annotations.n; i++) {
        const char *k = r->annotations.items[i].key;
        if (!labels_is_valid_name(k, strlen(k))) {
            problem(c->errs, "%sinvalid annotation name: %s", where, k);
        }
    }
}

static void check_rule_loki(conv_t *c, const char *group, const rulesync_raw_rule_t *r)
{
    err_t e = {0};
    if (logql_parse(c->a, r->expr != NULL ? r->expr : "", &e) != NULL) {
        return;
    }
    char what[512];
    snprintf(what, sizeof(what), "could not parse expression for %s '%s' in group '%s': ",
             r->record != NULL ? "record" : "alert", rule_name(r), group);
    problem(c->errs, "%s%s", what, e.msg);
}

/* herald's copy_object_labels, then Alloy's external_labels (which override). */
static void merge_labels(conv_t *c, rulesync_kvs_t *labels)
{
    const cfg_strlist_t *copy = &c->t->copy_object_labels;
    for (size_t i = 0; i < copy->n; i++) {
        const char *v = rulesync__kvs_get(&c->o->labels, copy->items[i]);
        if (v != NULL) {
            kvs_set(c->a, labels, copy->items[i], v, 0);
        }
    }
    const cfg_strmap_t *ext = &c->t->external_labels;
    for (size_t i = 0; i < ext->n; i++) {
        kvs_set(c->a, labels, ext->keys[i], ext->values[i], 1);
    }
}

const char *rulesync__set_matcher(arena_t *a, rulesync_kind_t kind, const char *expr,
                                  const char *name, const char *match_type, const char *value,
                                  err_t *err)
{
    static const struct {
        const char *op;
        match_type_t type;
    } ops[] = {{"=", MATCH_EQ}, {"!=", MATCH_NEQ}, {"=~", MATCH_RE}, {"!~", MATCH_NRE}};
    size_t i = 0;
    while (i < 4 && strcmp(ops[i].op, match_type) != 0) {
        i++;
    }
    if (i == 4) {
        err_set(err, ERR_BAD_DATA, "invalid label match type: %s", match_type);
        return NULL;
    }
    matcher_t *m = matcher_new_arena(a, ops[i].type, name, value, err);
    if (m == NULL) {
        return NULL;
    }
    if (kind == RULESYNC_MIMIR) {
        promql_expr_t *e = promql_parse(a, expr, err);
        return e != NULL && promql_set_matcher(a, e, m, err) == 0 ? promql_format(a, e) : NULL;
    }
    logql_expr_t *e = logql_parse(a, expr, err);
    return e != NULL && logql_set_matcher(a, e, m, err) == 0 ? logql_format(a, e) : NULL;
}

/* Alloy's extra_query_matchers: on failure the error is logged and expr becomes "". */
static const char *rewrite_expr(conv_t *c, const char *expr)
{
    const cfg_rules_target_t *t = c->t;
    const char *out = expr != NULL ? expr : "";
    for (size_t i = 0; i < t->n_extra_query_matchers && out != NULL; i++) {
        const cfg_query_matcher_t *m = &t->extra_query_matchers[i];
        err_t e = {0};
        const char *value = m->value;
        if (m->value_from_label[0] != '\0') {
            value = rulesync__kvs_get(&c->o->labels, m->value_from_label);
        }
        if (value == NULL) {
            err_set(&e, ERR_BAD_DATA, "label %s not found on the PrometheusRule",
                    m->value_from_label);
            out = NULL;
        } else {
            out = rulesync__set_matcher(c->a, c->kind, out, m->name, m->match_type, value, &e);
        }
        if (out == NULL) {
            LOG_ERROR("failed to add labels to PrometheusRule query", KV_STR("query", expr),
                      KV_STR("err", e.msg));
        }
    }
    return out != NULL ? out : "";
}

static void convert_rule(conv_t *c, const rulesync_raw_rule_t *r, rulesync_rule_t *out)
{
    out->record = r->record;
    out->alert = r->alert;
    out->expr = r->expr;
    out->for_ms = duration_or_problem(r->for_, 0, c->errs);
    out->keep_firing_for_ms = duration_or_problem(r->keep_firing_for, 0, c->errs);
    out->labels = r->labels;
    out->annotations = r->annotations;
}

/* The spec's checks for one group; problems go to c->errs. */
static void check_group(conv_t *c, const rulesync_raw_group_t *g, size_t gi)
{
    const char *name = g->name != NULL ? g->name : "";
    if (c->kind == RULESYNC_MIMIR && g->partial_response_strategy != NULL) {
        problem(c->errs, "%s%s", "field partial_response_strategy not found in type ",
                "rulefmt.RuleGroup");
    }
    if (c->kind == RULESYNC_MIMIR && name[0] == '\0') {
        problem(c->errs, "%s%s", "Groupname must not be empty", "");
    }
    for (size_t j = 0; c->kind == RULESYNC_MIMIR && j < gi; j++) {
        const char *other = c->o->groups[j].name;
        if (other != NULL && strcmp(other, name) == 0) {
            problem(c->errs, "groupname: \"%s\" is repeated in the same file%s", name, "");
            break;
        }
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        if (c->kind == RULESYNC_MIMIR) {
            check_rule_mimir(c, name, i, &g->rules[i]);
        } else {
            check_rule_loki(c, name, &g->rules[i]);
        }
    }
}

static void convert_group(conv_t *c, const rulesync_raw_group_t *g, rulesync_group_t *out)
{
    out->name = g->name != NULL ? g->name : "";
    out->interval_ms = duration_or_problem(g->interval, 0, c->errs);
    out->query_offset_ms = duration_or_problem(g->query_offset, -1, c->errs);
    if (g->limit != NULL) {
        char *end = NULL;
        out->limit = strtoll(g->limit, &end, 10);
        if (*end != '\0') {
            problem(c->errs, "cannot unmarshal !!str `%s` into int%s", g->limit, "");
        }
    }
    out->labels = g->labels;
    out->rules = arena_calloc(c->a, (g->n_rules + 1) * sizeof(*out->rules));
    out->n_rules = g->n_rules;
    for (size_t i = 0; i < g->n_rules; i++) {
        convert_rule(c, &g->rules[i], &out->rules[i]);
    }
}

/* Mimir: "a, b" -> {"a", "b"} on every group. */
static void set_source_tenants(conv_t *c, rulesync_group_t *g)
{
    const char *ann = rulesync__kvs_get(&c->o->annotations, SOURCE_TENANTS_ANNOTATION);
    if (ann == NULL || ann[0] == '\0') {
        return;
    }
    size_t cap = 1;
    for (const char *p = ann; *p != '\0'; p++) {
        cap += *p == ',';
    }
    g->source_tenants = arena_calloc(c->a, cap * sizeof(char *));
    for (const char *p = ann;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n > 0 && isspace((unsigned char)*s)) {
            s++, n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1])) {
            n--;
        }
        g->source_tenants[g->n_source_tenants++] = arena_strndup(c->a, s, n);
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
}

static void finish_group(conv_t *c, rulesync_group_t *g)
{
    if (c->kind == RULESYNC_MIMIR) {
        set_source_tenants(c, g);
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        merge_labels(c, &g->rules[i].labels);
        if (c->t->n_extra_query_matchers > 0) {
            g->rules[i].expr = rewrite_expr(c, g->rules[i].expr);
        }
    }
}

int rulesync__convert(arena_t *a, rulesync_kind_t kind, const cfg_rules_target_t *t,
                      const rulesync_obj_t *o, rulesync_group_t **out, size_t *n_out, err_t *err)
{
    buf_t errs;
    buf_init(&errs);
    conv_t c = {a, kind, t, o, &errs};
    if (o->spec_error != NULL) {
        problem(&errs, "%s%s", o->spec_error, "");
    }
    rulesync_group_t *groups = arena_calloc(a, (o->n_groups + 1) * sizeof(*groups));
    for (size_t i = 0; i < o->n_groups && errs.len == 0; i++) {
        check_group(&c, &o->groups[i], i);
        convert_group(&c, &o->groups[i], &groups[i]);
    }
    if (errs.len > 0) {
        err_set(err, ERR_BAD_DATA, "%s", errs.data);
        buf_fini(&errs);
        return -1;
    }
    buf_fini(&errs);
    for (size_t i = 0; i < o->n_groups; i++) {
        finish_group(&c, &groups[i]);
    }
    *out = groups;
    *n_out = o->n_groups;
    return 0;
}

/* ---- diff --------------------------------------------------------------------------------- */

static const rulesync_group_t *find_group(const rulesync_nsgroups_t *ns, const char *name)
{
    for (size_t i = 0; ns != NULL && i < ns->n_groups; i++) {
        if (strcmp(ns->groups[i].name != NULL ? ns->groups[i].name : "", name) == 0) {
            return &ns->groups[i];
        }
    }
    return NULL;
}

static int groups_equal(const rulesync_group_t *x, const rulesync_group_t *y)
{
    buf_t bx, by;
    buf_init(&bx);
    buf_init(&by);
    rulesync__group_yaml(x, &bx);
    rulesync__group_yaml(y, &by);
    int eq = bx.len == by.len && memcmp(bx.data, by.data, bx.len) == 0;
    buf_fini(&bx);
    buf_fini(&by);
    return eq;
}

typedef struct {
    arena_t *a;
    rulesync_op_t *ops;
    size_t n, cap;
} ops_t;

static void op_add(ops_t *o, rulesync_op_kind_t kind, const char *ns, const rulesync_group_t *g)
{
    if (o->n == o->cap) {
        size_t cap = o->cap == 0 ? 16 : o->cap * 2;
        rulesync_op_t *grown = arena_alloc(o->a, cap * sizeof(*grown));
        if (grown == NULL) {
            return;
        }
        if (o->n > 0) {
            memcpy(grown, o->ops, o->n * sizeof(*grown));
        }
        o->ops = grown;
        o->cap = cap;
    }
    o->ops[o->n++] = (rulesync_op_t){kind, ns, g};
}

static void diff_ns(ops_t *o, const char *ns, const rulesync_nsgroups_t *want,
                    const rulesync_nsgroups_t *have)
{
    for (size_t i = 0; want != NULL && i < want->n_groups; i++) {
        const rulesync_group_t *g = &want->groups[i];
        const rulesync_group_t *cur = find_group(have, g->name);
        if (cur == NULL) {
            op_add(o, RULESYNC_ADD, ns, g);
        } else if (!groups_equal(g, cur)) {
            op_add(o, RULESYNC_UPDATE, ns, g);
        }
    }
    for (size_t i = 0; have != NULL && i < have->n_groups; i++) {
        const rulesync_group_t *g = &have->groups[i];
        if (find_group(want, g->name != NULL ? g->name : "") == NULL) {
            op_add(o, RULESYNC_REMOVE, ns, g);
        }
    }
}

size_t rulesync__diff(arena_t *a, const rulesync_state_t *desired, const rulesync_state_t *actual,
                      rulesync_op_t **ops)
{
    ops_t o = {a, NULL, 0, 0};
    size_t i = 0, j = 0;
    while (i < desired->n || j < actual->n) {
        int c = i == desired->n  ? 1
                : j == actual->n ? -1
                                 : strcmp(desired->ns[i].name, actual->ns[j].name);
        const rulesync_nsgroups_t *want = c <= 0 ? &desired->ns[i] : NULL;
        const rulesync_nsgroups_t *have = c >= 0 ? &actual->ns[j] : NULL;
        diff_ns(&o, want != NULL ? want->name : have->name, want, have);
        i += c <= 0;
        j += c >= 0;
    }
    *ops = o.ops;
    return o.n;
}
