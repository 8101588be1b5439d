/* alertmanager/am_api_alerts.c - POST/GET /api/v2/alerts and GET /api/v2/alerts/groups:
 * postable-alert decoding with the OpenAPI layer's errors, the server-side defaults and
 * validation of postAlertsHandler, and gettable alerts with their receivers and status. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"
#include "common/timeutil.h"

/* ---- POST ---------------------------------------------------------------------------- */

typedef struct {
    am_alert_t **items;
    size_t n;
    buf_t msgs; /* validation errors joined by "; " */
} post_batch_t;

static void batch_fini(post_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        am__alert_unref(b->items[i]);
    }
    free(b->items);
    buf_fini(&b->msgs);
}

static void add_msg(post_batch_t *b, const char *msg)
{
    if (b->msgs.len > 0) {
        buf_puts(&b->msgs, "; ");
    }
    buf_puts(&b->msgs, msg);
}

/* A JSON object of strings into a label set (heap); -1 when a value is not a string. */
static int json_lset(const json_t *o, labels_t **out, int drop_empty)
{
    label_t *pairs = xcalloc(json_object_size(o) + 1, sizeof(*pairs));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (!json_is_string(v)) {
            free(pairs);
            return -1;
        }
        if (!drop_empty || json_string_length(v) > 0) {
            pairs[n].name = k;
            pairs[n++].value = json_string_value(v);
        }
    }
    *out = labels_new(pairs, n, NULL);
    free(pairs);
    return 0;
}

/* model.LabelSet.Validate. */
static int lset_invalid(const labels_t *ls, char *msg, size_t n)
{
    for (size_t i = 0; ls != NULL && i < labels_len(ls); i++) {
        label_t l = labels_at(ls, i);
        if (!labels_is_valid_name(l.name, strlen(l.name))) {
            snprintf(msg, n, "invalid name \"%s\"", l.name);
            return 1;
        }
        if (!labels_is_valid_utf8(l.value, strlen(l.value))) {
            snprintf(msg, n, "invalid value \"%s\"", l.value);
            return 1;
        }
    }
    return 0;
}

static int parse_time(const json_t *v, int64_t *ns)
{
    err_t err = {0};
    *ns = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || rfc3339_parse_ns(json_string_value(v), ns, &err) < 0) {
        return -1;
    }
    return 0;
}

/* Decodes item i; -1 = the body is rejected (reply sent). */
static int decode_alert(http_req_t *r, size_t i, const json_t *o, am_alert_t **out)
{
    const json_t *labels = json_object_get(o, "labels"), *ann = json_object_get(o, "annotations");
    const json_t *gen = json_object_get(o, "generatorURL");
    am_alert_t *a = am__alert_new();
    *out = a;
    if (!json_is_object(o) || (labels != NULL && !json_is_object(labels)) ||
        (ann != NULL && !json_is_null(ann) && !json_is_object(ann)) ||
        (gen != NULL && !json_is_string(gen))) {
        am__reply_code(r, 400, 400,
                       "parsing alerts body from \"\" failed, because json: cannot unmarshal "
                       "into Go value of type models.PostableAlerts");
        return -1;
    }
    if (labels == NULL) {
        am__reply_code(r, 422, 602, "%zu.labels in body is required", i);
        return -1;
    }
    if (json_lset(labels, &a->labels, 1) < 0 ||
        (json_is_object(ann) && json_lset(ann, &a->annotations, 0) < 0) ||
        parse_time(json_object_get(o, "startsAt"), &a->starts_ns) < 0 ||
        parse_time(json_object_get(o, "endsAt"), &a->ends_ns) < 0) {
        am__reply_code(r, 400, 400,
                       "parsing alerts body from \"\" failed, because cannot decode item %zu",
                       i);
        return -1;
    }
    if (gen != NULL) {
        const char *u = json_string_value(gen);
        if (u[0] != '\0' && strchr(u, ':') == NULL) {
            am__reply_code(r, 422, 601, "%zu.generatorURL in body must be of type uri: \"%s\"",
                           i, u);
            return -1;
        }
        a->generator_url = xstrdup(u);
    }
    return 0;
}

/* postAlertsHandler defaults, then types.Alert validation. */
static int default_and_validate(am_alert_t *a, int64_t now, int64_t resolve_ns, char *msg,
                                size_t n)
{
    char why[600];
    a->updated_ns = now;
    if (a->starts_ns == 0) {
        a->starts_ns = a->ends_ns != 0 ? a->ends_ns : now;
    }
    if (a->ends_ns == 0) {
        a->timeout = 1;
        a->ends_ns = now + resolve_ns;
    }
    if (a->ends_ns < a->starts_ns) {
        snprintf(msg, n, "start time must be before end time");
        return -1;
    }
    if (lset_invalid(a->labels, why, sizeof(why))) {
        snprintf(msg, n, "invalid label set: %s", why);
        return -1;
    }
    if (labels_len(a->labels) == 0) {
        snprintf(msg, n, "at least one label pair required");
        return -1;
    }
    if (lset_invalid(a->annotations, why, sizeof(why))) {
        snprintf(msg, n, "invalid annotations: %s", why);
        return -1;
    }
    return 0;
}

static int decode_batch(http_req_t *r, const json_t *arr, int64_t resolve_ns, post_batch_t *b)
{
    int64_t now = time_now_ns();
    b->items = xcalloc(json_array_size(arr) + 1, sizeof(*b->items));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        am_alert_t *a;
        char msg[700];
        int rc = decode_alert(r, i, json_array_get(arr, i), &a);
        if (rc < 0) {
            am__alert_unref(a);
            return -1;
        }
        if (default_and_validate(a, now, resolve_ns, msg, sizeof(msg)) < 0) {
            add_msg(b, msg);
            am__alert_unref(a);
            continue;
        }
        b->items[b->n++] = a;
    }
    return 0;
}

static int post_alerts(http_req_t *r, am_tenant_t *t)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    json_error_t jerr;
    post_batch_t b = {0};
    buf_init(&b.msgs);
    json_t *arr = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    if (arr == NULL || !json_is_array(arr)) {
        am__reply_code(r, 400, 400, "parsing alerts body from \"\" failed, because %s",
                       arr == NULL ? jerr.text
                                   : "json: cannot unmarshal object into Go value of type "
                                     "models.PostableAlerts");
        json_decref(arr);
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    int64_t resolve_ns = t->config->global.resolve_timeout_ns;
    pthread_mutex_unlock(&t->mu);
    if (decode_batch(r, arr, resolve_ns, &b) == 0) {
        int64_t now = time_now_ns();
        int firing = 0, n = (int)b.n;
        pthread_mutex_lock(&t->mu);
        for (size_t i = 0; i < b.n; i++) { /* valid alerts are stored even if others fail */
            firing += !am__alert_resolved(b.items[i], now);
            am__alerts_put(t, b.items[i], now);
            b.items[i] = NULL;
        }
        pthread_mutex_unlock(&t->mu);
        b.n = 0;
        am__metrics_received(t->id, firing, n - firing, 0);
        if (b.msgs.len > 0) {
            am__metrics_received(t->id, 0, 0, 1);
            am__reply_jstr(r, 400, b.msgs.data);
        } else {
            http_reply(r, 200, "application/json", "", 0);
        }
    }
    json_decref(arr);
    batch_fini(&b);
    return 0;
}

/* ---- GET ----------------------------------------------------------------------------- */

int am__filter_match(const am_filter_t *f, const labels_t *ls)
{
    return am__matchers_match(f->ms, f->n, ls);
}

typedef struct {
    int active, silenced, inhibited, unprocessed, muted;
} state_filter_t;

static void str_array(jsonw_t *w, const char *key, const char *const *v, size_t n)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_str(w, v[i]);
    }
    jsonw_arr_end(w);
}

static void status_out(jsonw_t *w, const am_status_t *st)
{
    char fp[17];
    jsonw_key(w, "status");
    jsonw_obj_begin(w);
    jsonw_key(w, "inhibitedBy");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < st->n_inhibited; i++) {
        snprintf(fp, sizeof(fp), "%016" PRIx64, st->inhibited_by[i]);
        jsonw_str(w, fp);
    }
    jsonw_arr_end(w);
    str_array(w, "mutedBy", st->muted_by, st->n_muted);
    str_array(w, "silencedBy", st->silenced_by, st->n_silenced);
    jsonw_key(w, "state");
    jsonw_str(w, st->n_silenced + st->n_inhibited > 0 ? "suppressed" : "active");
    jsonw_obj_end(w);
}

/* Writes one gettableAlert; `receivers` are route receivers (may repeat). */
static void alert_out(jsonw_t *w, const am_alert_t *a, const am_status_t *st,
                      const char *const *receivers, size_t n_recv)
{
    char ts[64], fp[17];
    jsonw_obj_begin(w);
    jsonw_key(w, "annotations");
    jsonw_labels(w, a->annotations);
    am__time_format_ms(a->ends_ns, ts, sizeof(ts));
    jsonw_key(w, "endsAt");
    jsonw_str(w, ts);
    snprintf(fp, sizeof(fp), "%016" PRIx64, a->fp);
    jsonw_key(w, "fingerprint");
    jsonw_str(w, fp);
    jsonw_key(w, "receivers");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n_recv; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "name");
        jsonw_str(w, receivers[i]);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    am__time_format_ms(a->starts_ns, ts, sizeof(ts));
    jsonw_key(w, "startsAt");
    jsonw_str(w, ts);
    status_out(w, st);
    am__time_format_ms(a->updated_ns, ts, sizeof(ts));
    jsonw_key(w, "updatedAt");
    jsonw_str(w, ts);
    if (a->generator_url != NULL && a->generator_url[0] != '\0') { /* omitempty */
        jsonw_key(w, "generatorURL");
        jsonw_str(w, a->generator_url);
    }
    jsonw_key(w, "labels");
    jsonw_labels(w, a->labels);
    jsonw_obj_end(w);
}

static int state_passes(const state_filter_t *sf, const am_status_t *st)
{
    int suppressed = st->n_silenced + st->n_inhibited > 0;
    if (!sf->active && !suppressed) {
        return 0;
    }
    if (!sf->silenced && st->n_silenced > 0) {
        return 0;
    }
    if (!sf->inhibited && st->n_inhibited > 0) {
        return 0;
    }
    return 1;
}

static int fp_cmp(const void *x, const void *y)
{
    uint64_t a = (*(am_alert_t *const *)x)->fp, b = (*(am_alert_t *const *)y)->fp;
    return a < b ? -1 : a > b;
}

/* Route receivers of an alert; 1 if the receiver filter passes. */
static size_t alert_receivers(const am_tenant_t *t, const am_alert_t *a, const char **out,
                              size_t cap)
{
    const am_route_t *routes[64];
    size_t n = am__route_match(t->config->route, a->labels, routes, cap < 64 ? cap : 64);
    for (size_t i = 0; i < n; i++) {
        out[i] = routes[i]->receiver;
    }
    return n;
}

static int receivers_pass(const am_filter_t *f, const char *const *recv, size_t n)
{
    if (f->receiver == NULL) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (matcher_matches(f->receiver, recv[i])) {
            return 1;
        }
    }
    return 0;
}

static void list_alerts(am_tenant_t *t, arena_t *a, const am_filter_t *f,
                        const state_filter_t *sf, jsonw_t *w)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    int64_t now = time_now_ns();
    am_alert_t **all = arena_calloc(a, (hashmap_len(&t->alerts) + 1) * sizeof(*all));
    while (all != NULL && hashmap_next(&t->alerts, &it, &k, &v)) {
        all[n++] = v;
    }
    qsort(all, n, sizeof(*all), fp_cmp);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        const char *recv[64];
        am_status_t st;
        size_t nr = alert_receivers(t, all[i], recv, 64);
        if (am__alert_resolved(all[i], now) || !receivers_pass(f, recv, nr) ||
            !am__filter_match(f, all[i]->labels)) {
            continue;
        }
        am__alert_status(t, a, all[i], now, &st);
        if (state_passes(sf, &st)) {
            alert_out(w, all[i], &st, recv, nr);
        }
    }
    jsonw_arr_end(w);
}

static int read_state_filter(http_req_t *r, state_filter_t *sf)
{
    return am__api_bool(r, "active", &sf->active) < 0 ||
                   am__api_bool(r, "silenced", &sf->silenced) < 0 ||
                   am__api_bool(r, "inhibited", &sf->inhibited) < 0 ||
                   am__api_bool(r, "unprocessed", &sf->unprocessed) < 0 ||
                   am__api_bool(r, "muted", &sf->muted) < 0
               ? -1
               : 0;
}

static int get_alerts(http_req_t *r, am_tenant_t *t)
{
    am_filter_t f;
    state_filter_t sf;
    buf_t b;
    if (read_state_filter(r, &sf) < 0 || am__api_filter(r, &f) < 0) {
        return 0;
    }
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    pthread_mutex_lock(&t->mu);
    list_alerts(t, http_req_arena(r), &f, &sf, w);
    pthread_mutex_unlock(&t->mu);
    jsonw_free(w);
    am__reply_raw(r, 200, &b);
    return 0;
}

int am__h_alerts(http_req_t *r, void *ctx, err_t *err)
{
    am_tenant_t *t = am__api_tenant(r, ctx);
    if (t == NULL) {
        return 0;
    }
    if (strcmp(http_req_method(r), "POST") == 0) {
        post_alerts(r, t);
    } else {
        get_alerts(r, t);
    }
    am__tenant_unref(t);
    return 0;
}

/* ---- groups -------------------------------------------------------------------------- */

static int group_cmp(const void *x, const void *y)
{
    const am_group_t *a = *(am_group_t *const *)x, *b = *(am_group_t *const *)y;
    if (labels_equal(a->labels, b->labels)) {
        return strcmp(a->route->receiver, b->route->receiver);
    }
    return am__lset_before(a->labels, b->labels) ? -1 : 1;
}

static int alert_cmp_v(const void *x, const void *y)
{
    return am__alert_cmp(*(am_alert_t *const *)x, *(am_alert_t *const *)y);
}

/* Writes one group if any alert passes; alerts sorted as the dispatcher sorts them. */
static void group_out(am_tenant_t *t, arena_t *a, const am_group_t *g, const am_filter_t *f,
                      const state_filter_t *sf, int64_t now, jsonw_t *w)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    am_alert_t **sel = arena_calloc(a, (hashmap_len(&g->alerts) + 1) * sizeof(*sel));
    am_status_t *sts = arena_calloc(a, (hashmap_len(&g->alerts) + 1) * sizeof(*sts));
    while (sel != NULL && sts != NULL && hashmap_next(&g->alerts, &it, &k, &v)) {
        am_alert_t *al = v;
        if (am__alert_resolved(al, now) || !am__filter_match(f, al->labels)) {
            continue;
        }
        sel[n++] = al;
    }
    if (n == 0) {
        return;
    }
    qsort(sel, n, sizeof(*sel), alert_cmp_v);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        am__alert_status(t, a, sel[i], now, &sts[kept]);
        if (state_passes(sf, &sts[kept])) {
            sel[kept++] = sel[i];
        }
    }
    if (kept == 0) {
        return;
    }
    jsonw_obj_begin(w);
    jsonw_key(w, "alerts");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < kept; i++) {
        const char *recv[64];
        size_t nr = alert_receivers(t, sel[i], recv, 64);
        alert_out(w, sel[i], &sts[i], recv, nr);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "labels");
    jsonw_labels(w, g->labels);
    jsonw_key(w, "receiver");
    jsonw_obj_begin(w);
    jsonw_key(w, "name");
    jsonw_str(w, g->route->receiver);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
}

static void list_groups(am_tenant_t *t, arena_t *a, const am_filter_t *f,
                        const state_filter_t *sf, jsonw_t *w)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    int64_t now = time_now_ns();
    am_group_t **gs = arena_calloc(a, (hashmap_len(&t->groups) + 1) * sizeof(*gs));
    while (gs != NULL && hashmap_next(&t->groups, &it, &k, &v)) {
        am_group_t *g = v;
        if (f->receiver == NULL || matcher_matches(f->receiver, g->route->receiver)) {
            gs[n++] = g;
        }
    }
    qsort(gs, n, sizeof(*gs), group_cmp);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        group_out(t, a, gs[i], f, sf, now, w);
    }
    jsonw_arr_end(w);
}

int am__h_alert_groups(http_req_t *r, void *ctx, err_t *err)
{
    am_filter_t f;
    state_filter_t sf;
    buf_t b;
    am_tenant_t *t = am__api_tenant(r, ctx);
    if (t == NULL) {
        return 0;
    }
    if (read_state_filter(r, &sf) == 0 && am__api_filter(r, &f) == 0) {
        buf_init(&b);
        jsonw_t *w = jsonw_new(&b);
        pthread_mutex_lock(&t->mu);
        list_groups(t, http_req_arena(r), &f, &sf, w);
        pthread_mutex_unlock(&t->mu);
        jsonw_free(w);
        am__reply_raw(r, 200, &b);
    }
    am__tenant_unref(t);
    return 0;
}
