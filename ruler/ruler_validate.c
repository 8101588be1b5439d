/* ruler/ruler_validate.c - checks a rule group before it is stored, with the
 * messages of Prometheus' rulefmt as Mimir wraps them (`<line>:<col>: group
 * "g", rule 1, "name": ...`) or as Loki words them. All problems are collected
 * and joined with ", ". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/labels.h"
#include "common/template.h"
#include "ruler/ruler_int.h"

/* Prometheus prepends these to every alert template, so `$labels` etc. are
 * defined. */
#define RULER_TMPL_DEFS                                                                            \
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"                                 \
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"

typedef struct {
    buf_t msgs;
    const ruler_group_def_t *g;
    ruler_flavor_t flavor;
    const ruler_evaluator_t *ev;
} vctx_t;

static void add_msg(vctx_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_msg(vctx_t *v, const char *fmt, ...)
{
    if (v->msgs.len > 0) {
        buf_puts(&v->msgs, ", ");
    }
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&v->msgs, fmt, ap);
    va_end(ap);
}

/* A per-rule problem, located and named as Prometheus' rulefmt.Error prints it.
 */
static void rule_msg(vctx_t *v, const ruler_rule_def_t *r, size_t idx, int line, int col,
                     const char *problem)
{
    const char *name = r->alert != NULL ? r->alert : (r->record != NULL ? r->record : "");
    if (v->flavor == RULER_FLAVOR_LOKI) {
        add_msg(v, "%s", problem);
        return;
    }
    add_msg(v, "%d:%d: group \"%s\", rule %zu, \"%s\": %s", line, col, v->g->name, idx + 1, name,
            problem);
}

static void check_expr(vctx_t *v, const ruler_rule_def_t *r, size_t idx)
{
    if (r->expr == NULL || r->expr[0] == '\0') {
        rule_msg(v, r, idx, r->line, r->col, "field 'expr' must be set in rule");
        return;
    }
    err_t e = {0};
    if (v->ev == NULL || v->ev->validate == NULL || v->ev->validate(v->ev->ctx, r->expr, &e) == 0) {
        return;
    }
    if (v->flavor == RULER_FLAVOR_LOKI) {
        add_msg(v, "could not parse expression for %s '%s' in group '%s': %s",
                r->alert != NULL ? "alert" : "record", r->alert != NULL ? r->alert : r->record,
                v->g->name, e.msg);
        return;
    }
    char msg[sizeof(e.msg) + 64];
    snprintf(msg, sizeof(msg), "could not parse expression: %s", e.msg);
    rule_msg(v, r, idx, r->expr_line, r->expr_col, msg);
}

static void check_recording(vctx_t *v, const ruler_rule_def_t *r, size_t idx)
{
    if (r->n_annotations > 0) {
        rule_msg(v, r, idx, r->line, r->col, "invalid field 'annotations' in recording rule");
    }
    if (r->for_ms != 0) {
        rule_msg(v, r, idx, r->line, r->col, "invalid field 'for' in recording rule");
    }
    if (r->keep_firing_for_ms != 0) {
        rule_msg(v, r, idx, r->line, r->col, "invalid field 'keep_firing_for' in recording rule");
    }
    if (!labels_is_valid_metric_name(r->record, strlen(r->record))) {
        char msg[600];
        snprintf(msg, sizeof(msg), "invalid recording rule name: %s", r->record);
        rule_msg(v, r, idx, r->line, r->col, msg);
    }
}

static void check_templates(vctx_t *v, const ruler_rule_def_t *r, size_t idx, const ruler_kv_t *kv,
                            size_t n)
{
    char name[300];
    snprintf(name, sizeof(name), "__alert_%s", r->alert);
    buf_t text;
    buf_init(&text);
    for (size_t i = 0; i < n; i++) {
        buf_reset(&text);
        buf_puts(&text, RULER_TMPL_DEFS);
        buf_puts(&text, kv[i].value);
        err_t e = {0};
        tmpl_t *t = tmpl_new(name, TMPL_FUNCS_PROMETHEUS);
        if (tmpl_parse(t, name, text.data, &e) < 0) {
            char msg[sizeof(e.msg) + 64];
            snprintf(msg, sizeof(msg), "msg=%s", e.msg);
            rule_msg(v, r, idx, r->line, r->col, msg);
        }
        tmpl_unref(t);
    }
    buf_fini(&text);
}

static void check_names(vctx_t *v, const ruler_rule_def_t *r, size_t idx)
{
    char msg[600];
    for (size_t i = 0; i < r->n_labels; i++) {
        const char *k = r->labels[i].key;
        if (!labels_is_valid_name(k, strlen(k)) || strcmp(k, "__name__") == 0) {
            snprintf(msg, sizeof(msg), "invalid label name: %s", k);
            rule_msg(v, r, idx, r->line, r->col, msg);
        }
    }
    for (size_t i = 0; i < r->n_annotations; i++) {
        const char *k = r->annotations[i].key;
        if (!labels_is_valid_name(k, strlen(k))) {
            snprintf(msg, sizeof(msg), "invalid annotation name: %s", k);
            rule_msg(v, r, idx, r->line, r->col, msg);
        }
    }
}

static void check_rule(vctx_t *v, const ruler_rule_def_t *r, size_t idx)
{
    int has_record = r->record != NULL && r->record[0] != '\0';
    int has_alert = r->alert != NULL && r->alert[0] != '\0';
    if (has_record && has_alert) {
        rule_msg(v, r, idx, r->line, r->col, "only one of 'record' and 'alert' must be set");
    } else if (!has_record && !has_alert) {
        rule_msg(v, r, idx, r->line, r->col, "one of 'record' or 'alert' must be set");
    }
    check_expr(v, r, idx);
    if (has_record && !has_alert) {
        check_recording(v, r, idx);
    }
    check_names(v, r, idx);
    if (has_alert && !has_record) {
        check_templates(v, r, idx, r->labels, r->n_labels);
        check_templates(v, r, idx, r->annotations, r->n_annotations);
    }
}

static int group_level(vctx_t *v, const ruler_group_def_t *g)
{
    int mimir = v->flavor == RULER_FLAVOR_MIMIR;
    if (g->name[0] == '\0') {
        add_msg(v, mimir ? "invalid rules configuration: rule group name must not be empty"
                         : "group 0: Groupname must not be empty");
        return -1;
    }
    if (mimir && g->n_rules == 0) {
        add_msg(v, "invalid rules configuration: rule group '%s' has no rules", g->name);
    }
    if (mimir && g->n_source_tenants > 0) {
        add_msg(v,
                "invalid rules configuration: rule group '%s' is a federated rule "
                "group, "
                "but rules federation is disabled; please contact your service "
                "administrator to have it enabled",
                g->name);
    }
    return 0;
}

int ruler__group_validate(const ruler_group_def_t *g, ruler_flavor_t flavor,
                          const ruler_evaluator_t *ev, err_t *err)
{
    vctx_t v = {.g = g, .flavor = flavor, .ev = ev};
    buf_init(&v.msgs);
    if (group_level(&v, g) == 0) {
        for (size_t i = 0; i < g->n_rules; i++) {
            check_rule(&v, &g->rules[i], i);
        }
    }
    int rc = 0;
    if (v.msgs.len > 0) {
        rc = err_set(err, ERR_BAD_DATA, "%s", v.msgs.data);
    }
    buf_fini(&v.msgs);
    return rc;
}
