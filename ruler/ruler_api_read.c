/* ruler/ruler_api_read.c - `GET /prometheus/api/v1/rules` and
 * `/prometheus/api/v1/alerts`: the loaded groups with their evaluation state,
 * in the JSON Mimir writes (Loki: groups carry `limit` instead of
 * `sourceTenants`, rules no `keepFiringFor`). Each group is written while
 * holding its own lock, so a listing never shows half an evaluation. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/gofloat.h"
#include "common/jsonw.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

typedef struct {
    int want_alert, want_record, exclude_alerts, loki;
    const char *const *names, *const *groups, *const *files;
    size_t n_names, n_groups, n_files;
} filter_t;

static void write_time(jsonw_t *w, const char *key, int64_t ms)
{
    char tmp[64] = "0001-01-01T00:00:00Z"; /* Go's zero time.Time */
    if (ms != 0) {
        timestamp_format_rfc3339nano(ms * 1000000, tmp, sizeof(tmp));
    }
    jsonw_key(w, key);
    jsonw_str(w, tmp);
}

static void write_kv(jsonw_t *w, const char *key, const ruler_kv_t *kv, size_t n)
{
    jsonw_key(w, key);
    jsonw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_key(w, kv[i].key);
        jsonw_str(w, kv[i].value);
    }
    jsonw_obj_end(w);
}

static void write_labels(jsonw_t *w, const labels_t *ls)
{
    jsonw_key(w, "labels");
    jsonw_labels(w, ls);
}

static void write_alert(jsonw_t *w, const ruler_alert_t *a, int loki)
{
    char v[64];
    jsonw_obj_begin(w);
    write_labels(w, a->labels);
    write_kv(w, "annotations", a->annotations, a->n_annotations);
    jsonw_key(w, "state");
    jsonw_str(w, ruler__state_name(a->state));
    write_time(w, "activeAt", a->active_at_ms);
    if (!loki && a->keep_firing_since_ms != 0) {
        write_time(w, "keepFiringSince", a->keep_firing_since_ms);
    }
    gofloat_format(a->value, 'e', -1, v, sizeof(v)); /* Go 'e', as Prometheus */
    jsonw_key(w, "value");
    jsonw_str(w, v);
    jsonw_obj_end(w);
}

/* Writes the rule's pending/firing alerts (if w) and returns the rule's state.
 */
static ruler_alert_state_t write_alerts(jsonw_t *w, ruler_rule_t *rule, int loki)
{
    size_t n = 0;
    ruler_alert_t **v = ruler__alerts_sorted(&rule->alerts, &n);
    ruler_alert_state_t state = RULER_INACTIVE;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->state == RULER_INACTIVE) {
            continue;
        }
        if (v[i]->state > state) {
            state = v[i]->state;
        }
        if (w != NULL) {
            write_alert(w, v[i], loki);
        }
    }
    free(v);
    return state;
}

static const char *health_name(ruler_health_t h)
{
    return h == RULER_HEALTH_OK ? "ok" : h == RULER_HEALTH_ERR ? "err" : "unknown";
}

static void write_rule_tail(jsonw_t *w, const ruler_rule_t *rule, const char *type)
{
    jsonw_key(w, "health");
    jsonw_str(w, health_name(rule->health));
    jsonw_key(w, "lastError");
    jsonw_str(w, rule->last_error != NULL ? rule->last_error : "");
    jsonw_key(w, "type");
    jsonw_str(w, type);
    write_time(w, "lastEvaluation", rule->last_eval_ms);
    jsonw_key(w, "evaluationTime");
    jsonw_double(w, rule->eval_seconds);
}

static void write_alerting_rule(jsonw_t *w, ruler_rule_t *rule, const filter_t *f)
{
    const ruler_rule_def_t *d = rule->def;
    jsonw_obj_begin(w);
    jsonw_key(w, "state");
    jsonw_str(w, ruler__state_name(write_alerts(NULL, rule, f->loki)));
    jsonw_key(w, "name");
    jsonw_str(w, d->alert);
    jsonw_key(w, "query");
    jsonw_str(w, rule->query != NULL ? rule->query : d->expr);
    jsonw_key(w, "duration");
    jsonw_double(w, (double)d->for_ms / 1000.0);
    if (!f->loki) {
        jsonw_key(w, "keepFiringFor");
        jsonw_double(w, (double)d->keep_firing_for_ms / 1000.0);
    }
    write_kv(w, "labels", d->labels, d->n_labels);
    write_kv(w, "annotations", d->annotations, d->n_annotations);
    if (!f->exclude_alerts) {
        jsonw_key(w, "alerts");
        jsonw_arr_begin(w);
        write_alerts(w, rule, f->loki);
        jsonw_arr_end(w);
    }
    write_rule_tail(w, rule, "alerting");
    jsonw_obj_end(w);
}

static void write_recording_rule(jsonw_t *w, ruler_rule_t *rule)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "name");
    jsonw_str(w, rule->def->record);
    jsonw_key(w, "query");
    jsonw_str(w, rule->query != NULL ? rule->query : rule->def->expr);
    write_kv(w, "labels", rule->def->labels, rule->def->n_labels);
    write_rule_tail(w, rule, "recording");
    jsonw_obj_end(w);
}

static int in_list(const char *s, const char *const *v, size_t n)
{
    if (n == 0) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, v[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int rule_selected(const ruler_rule_t *rule, const filter_t *f)
{
    const ruler_rule_def_t *d = rule->def;
    int is_alert = d->alert != NULL;
    if ((is_alert && !f->want_alert) || (!is_alert && !f->want_record)) {
        return 0;
    }
    return in_list(is_alert ? d->alert : d->record, f->names, f->n_names);
}

static void write_group(jsonw_t *w, ruler_group_t *g, const filter_t *f)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "name");
    jsonw_str(w, g->def->name);
    jsonw_key(w, "file");
    jsonw_str(w, g->ns);
    jsonw_key(w, "rules");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < g->n_rules; i++) {
        if (!rule_selected(&g->rules[i], f)) {
            continue;
        }
        if (g->rules[i].def->alert != NULL) {
            write_alerting_rule(w, &g->rules[i], f);
        } else {
            write_recording_rule(w, &g->rules[i]);
        }
    }
    jsonw_arr_end(w);
    jsonw_key(w, "interval");
    jsonw_double(w, (double)g->interval_ms / 1000.0);
    write_time(w, "lastEvaluation", g->last_eval_ms);
    jsonw_key(w, "evaluationTime");
    jsonw_double(w, g->eval_seconds);
    if (f->loki) {
        jsonw_key(w, "limit");
        jsonw_int(w, g->def->limit);
    } else {
        jsonw_key(w, "sourceTenants");
        jsonw_null(w);
    }
    jsonw_obj_end(w);
}

static int group_selected(const ruler_group_t *g, const filter_t *f)
{
    if (!in_list(g->def->name, f->groups, f->n_groups) || !in_list(g->ns, f->files, f->n_files)) {
        return 0;
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        if (rule_selected(&g->rules[i], f)) {
            return 1;
        }
    }
    return 0; /* a group whose rules were all filtered out is not returned */
}

static int group_cmp(const void *a, const void *b)
{
    const ruler_group_t *x = *(ruler_group_t *const *)a, *y = *(ruler_group_t *const *)b;
    int c = strcmp(x->ns, y->ns);
    return c != 0 ? c : strcmp(x->def->name, y->def->name);
}

/* `name[]` wins over `name`, as upstream. */
static size_t list_arg(http_req_t *req, const char *name, const char *const **out)
{
    char key[64];
    snprintf(key, sizeof(key), "%s[]", name);
    size_t n = http_req_args(req, key, out);
    return n > 0 ? n : http_req_args(req, name, out);
}

static int parse_filter(http_req_t *req, ruler_t *r, filter_t *f)
{
    memset(f, 0, sizeof(*f));
    f->loki = r->opts.flavor == RULER_FLAVOR_LOKI;
    f->want_alert = f->want_record = 1;
    const char *type = http_req_arg(req, "type");
    if (type != NULL && type[0] != '\0') {
        if (strcasecmp(type, "alert") == 0) {
            f->want_record = 0;
        } else if (strcasecmp(type, "record") == 0) {
            f->want_alert = 0;
        } else {
            char msg[300];
            snprintf(msg, sizeof(msg), "not supported value \"%s\"", type);
            ruler__reply_envelope(req, 400, "bad_data", msg);
            return -1;
        }
    }
    const char *ex = http_req_arg(req, "exclude_alerts");
    f->exclude_alerts = ex != NULL && strcasecmp(ex, "true") == 0;
    f->n_names = list_arg(req, "rule_name", &f->names);
    f->n_groups = list_arg(req, "rule_group", &f->groups);
    f->n_files = list_arg(req, "file", &f->files);
    return 0;
}

static void begin_envelope(jsonw_t *w, const char *list_key)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    jsonw_obj_begin(w);
    jsonw_key(w, list_key);
    jsonw_arr_begin(w);
}

static void end_envelope(jsonw_t *w, http_req_t *req, buf_t *b)
{
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    jsonw_key(w, "errorType");
    jsonw_str(w, "");
    jsonw_key(w, "error");
    jsonw_str(w, "");
    jsonw_obj_end(w);
    jsonw_free(w);
    http_reply_buf(req, 200, "application/json", b);
}

int ruler__h_rules(http_req_t *req, void *ctx, err_t *err)
{
    ruler_t *r = ctx;
    filter_t f;
    if (parse_filter(req, r, &f) < 0) {
        return 0;
    }
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, http_req_tenant(req), &n);
    if (n > 1) {
        qsort(v, n, sizeof(*v), group_cmp);
    }
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    begin_envelope(w, "groups");
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&v[i]->mu);
        if (group_selected(v[i], &f)) {
            write_group(w, v[i], &f);
        }
        pthread_mutex_unlock(&v[i]->mu);
        ruler__group_unref(v[i]);
    }
    free(v);
    end_envelope(w, req, &b);
    return 0;
}

static void alerts_json(ruler_t *r, const char *tenant, buf_t *b, jsonw_t *w)
{
    int loki = r->opts.flavor == RULER_FLAVOR_LOKI;
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, tenant, &n);
    if (n > 1) {
        qsort(v, n, sizeof(*v), group_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&v[i]->mu);
        for (size_t j = 0; j < v[i]->n_rules; j++) {
            if (v[i]->rules[j].def->alert != NULL) {
                write_alerts(w, &v[i]->rules[j], loki);
            }
        }
        pthread_mutex_unlock(&v[i]->mu);
        ruler__group_unref(v[i]);
    }
    free(v);
}

void ruler_alerts_json(ruler_t *r, const char *tenant, buf_t *out)
{
    jsonw_t *w = jsonw_new(out);
    jsonw_arr_begin(w);
    alerts_json(r, tenant, out, w);
    jsonw_arr_end(w);
    jsonw_free(w);
}

int ruler__h_alerts(http_req_t *req, void *ctx, err_t *err)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    begin_envelope(w, "alerts");
    alerts_json(ctx, http_req_tenant(req), &b, w);
    end_envelope(w, req, &b);
    return 0;
}
