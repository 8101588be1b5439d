/* alertmanager/am_api_silences.c - /api/v2/silences (GET with filter, POST create/update)
 * and /api/v2/silence/{id} (GET, DELETE = expire), with the OpenAPI layer's required-field
 * errors, the handler's own checks, and Alertmanager's listing order. Changed silences are
 * persisted after the tenant lock is released. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"
#include "common/timeutil.h"

static void silence_out(jsonw_t *w, const am_silence_t *s, int64_t now)
{
    char ts[64];
    jsonw_obj_begin(w);
    jsonw_key(w, "id");
    jsonw_str(w, s->id);
    jsonw_key(w, "status");
    jsonw_obj_begin(w);
    jsonw_key(w, "state");
    jsonw_str(w, am__silence_state_name(am__silence_state(s, now)));
    jsonw_obj_end(w);
    am__time_format_ms(s->updated_ns, ts, sizeof(ts));
    jsonw_key(w, "updatedAt");
    jsonw_str(w, ts);
    jsonw_key(w, "comment");
    jsonw_str(w, s->comment != NULL ? s->comment : "");
    jsonw_key(w, "createdBy");
    jsonw_str(w, s->created_by != NULL ? s->created_by : "");
    am__time_format_ms(s->ends_ns, ts, sizeof(ts));
    jsonw_key(w, "endsAt");
    jsonw_str(w, ts);
    jsonw_key(w, "matchers");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < s->n_matchers; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "isEqual");
        jsonw_bool(w, s->matchers[i].is_equal);
        jsonw_key(w, "isRegex");
        jsonw_bool(w, s->matchers[i].is_regex);
        jsonw_key(w, "name");
        jsonw_str(w, s->matchers[i].name);
        jsonw_key(w, "value");
        jsonw_str(w, s->matchers[i].value);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    am__time_format_ms(s->starts_ns, ts, sizeof(ts));
    jsonw_key(w, "startsAt");
    jsonw_str(w, ts);
    jsonw_obj_end(w);
}

/* Filters see a silence's matchers as a label set of name -> pattern. */
static int silence_passes(const am_filter_t *f, const am_silence_t *s)
{
    label_t pairs[64];
    size_t n = 0;
    for (size_t i = 0; i < s->n_matchers && n < 64; i++) {
        size_t j = 0;
        while (j < n && strcmp(pairs[j].name, s->matchers[i].name) != 0) {
            j++;
        }
        pairs[j].name = s->matchers[i].name;
        pairs[j].value = s->matchers[i].value;
        n += j == n;
    }
    labels_t *ls = labels_new(pairs, n, NULL);
    int ok = ls != NULL && am__filter_match(f, ls);
    labels_unref(ls);
    return ok;
}

/* Active by end ascending, then pending by start ascending, then expired newest first. */
static int silence_cmp(const void *x, const void *y, void *arg)
{
    const am_silence_t *a = *(am_silence_t *const *)x, *b = *(am_silence_t *const *)y;
    int64_t now = *(const int64_t *)arg;
    am_sil_state_t sa = am__silence_state(a, now), sb = am__silence_state(b, now);
    if (sa != sb) {
        return (int)sa - (int)sb;
    }
    if (sa == AM_SIL_ACTIVE) {
        return a->ends_ns < b->ends_ns ? -1 : a->ends_ns > b->ends_ns;
    }
    if (sa == AM_SIL_PENDING) {
        return a->starts_ns < b->starts_ns ? -1 : a->starts_ns > b->starts_ns;
    }
    return a->ends_ns > b->ends_ns ? -1 : a->ends_ns < b->ends_ns;
}

static void list_silences(am_tenant_t *t, arena_t *a, const am_filter_t *f, jsonw_t *w)
{
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    int64_t now = time_now_ns();
    am_silence_t **all = arena_calloc(a, (hashmap_len(&t->silences) + 1) * sizeof(*all));
    while (all != NULL && hashmap_next(&t->silences, &it, &k, &v)) {
        if (silence_passes(f, v)) {
            all[n++] = v;
        }
    }
    qsort_r(all, n, sizeof(*all), silence_cmp, &now);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        silence_out(w, all[i], now);
    }
    jsonw_arr_end(w);
}

static void persist(am_tenant_t *t, am_changed_t *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        am__store_silence(t->am, t->id, ch->items[i], NULL);
    }
    am__changed_fini(ch);
}

/* Required fields first (422, as the OpenAPI layer answers), then types. */
static int check_required(http_req_t *r, const json_t *o)
{
    static const char *const req[] = {"comment", "createdBy", "endsAt", "matchers", "startsAt"};
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (json_object_get(o, req[i]) == NULL) {
            am__reply_code(r, 422, 602, "%s in body is required", req[i]);
            return -1;
        }
    }
    const json_t *ms = json_object_get(o, "matchers");
    if (!json_is_array(ms)) {
        am__reply_code(r, 400, 400, "parsing silence body from \"\" failed, because json: "
                                    "cannot unmarshal into Go struct field "
                                    "PostableSilence.matchers of type models.Matchers");
        return -1;
    }
    if (json_array_size(ms) == 0) {
        am__reply_code(r, 422, 604, "matchers in body should have at least 1 items");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ms); i++) {
        static const char *const mreq[] = {"isRegex", "name", "value"};
        for (size_t j = 0; j < 3; j++) {
            if (json_object_get(json_array_get(ms, i), mreq[j]) == NULL) {
                am__reply_code(r, 422, 602, "matchers.%zu.%s in body is required", i, mreq[j]);
                return -1;
            }
        }
    }
    return 0;
}

static am_silence_t *decode_silence(http_req_t *r, const json_t *o)
{
    const json_t *ms = json_object_get(o, "matchers");
    size_t n = json_array_size(ms);
    am_smatcher_t *sm = arena_calloc(http_req_arena(r), (n + 1) * sizeof(*sm));
    err_t err = {0};
    int64_t st = 0, en = 0;
    for (size_t i = 0; sm != NULL && i < n; i++) {
        const json_t *m = json_array_get(ms, i), *eq = json_object_get(m, "isEqual");
        sm[i].name = json_string_value(json_object_get(m, "name"));
        sm[i].value = json_string_value(json_object_get(m, "value"));
        sm[i].is_regex = json_is_true(json_object_get(m, "isRegex"));
        sm[i].is_equal = eq == NULL || json_is_true(eq);
        if (sm[i].name == NULL || sm[i].value == NULL) {
            am__reply_code(r, 400, 400, "parsing silence body from \"\" failed, because "
                                        "matchers.%zu has a non-string name or value", i);
            return NULL;
        }
    }
    const char *s_st = json_string_value(json_object_get(o, "startsAt"));
    const char *s_en = json_string_value(json_object_get(o, "endsAt"));
    if (s_st == NULL || s_en == NULL || rfc3339_parse_ns(s_st, &st, &err) < 0 ||
        rfc3339_parse_ns(s_en, &en, &err) < 0) {
        am__reply_code(r, 400, 400, "parsing silence body from \"\" failed, because %s",
                       err.msg[0] ? err.msg : "startsAt/endsAt must be date-time strings");
        return NULL;
    }
    am_silence_t *s = am__silence_new(sm, n, &err);
    if (s == NULL) {
        char msg[700];
        snprintf(msg, sizeof(msg), "failed to convert API silence to internal silence: %s",
                 err.msg);
        am__reply_jstr(r, 400, msg);
        return NULL;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    snprintf(s->id, sizeof(s->id), "%s", id != NULL ? id : "");
    s->starts_ns = st;
    s->ends_ns = en;
    s->created_by = xstrdup(json_string_value(json_object_get(o, "createdBy")) ?: "");
    s->comment = xstrdup(json_string_value(json_object_get(o, "comment")) ?: "");
    return s;
}

static void post_silence(http_req_t *r, am_tenant_t *t)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    json_error_t jerr;
    json_t *o = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    am_silence_t *s = NULL;
    if (o == NULL || !json_is_object(o)) {
        am__reply_code(r, 400, 400, "parsing silence body from \"\" failed, because %s",
                       o == NULL ? jerr.text
                                 : "json: cannot unmarshal into models.PostableSilence");
        goto done;
    }
    if (check_required(r, o) < 0 || (s = decode_silence(r, o)) == NULL) {
        goto done;
    }
    if (s->starts_ns >= s->ends_ns) {
        am__reply_jstr(r, 400, "Failed to create silence: start time must be before end time");
        goto done;
    }
    if (s->ends_ns < time_now_ns()) {
        am__reply_jstr(r, 400, "Failed to create silence: end time can't be in the past");
        goto done;
    }
    am_changed_t ch = {0};
    err_t err = {0};
    char id[40];
    pthread_mutex_lock(&t->mu);
    int rc = am__silence_set(t, s, time_now_ns(), &ch, &err);
    if (rc == 0) {
        memcpy(id, s->id, sizeof(id));
    }
    s = NULL; /* stolen */
    pthread_mutex_unlock(&t->mu);
    persist(t, &ch);
    if (rc < 0) {
        am__reply_jstr(r, err.code == ERR_NOT_FOUND ? 404 : 400, err.msg);
        goto done;
    }
    http_reply_json(r, 200, json_pack("{s:s}", "silenceID", id));
done:
    am__silence_free(s);
    json_decref(o);
}

int am__h_silences(http_req_t *r, void *ctx, err_t *err)
{
    am_filter_t f;
    am_tenant_t *t = am__api_tenant(r, ctx);
    if (t == NULL) {
        return 0;
    }
    if (strcmp(http_req_method(r), "POST") == 0) {
        post_silence(r, t);
    } else if (am__api_filter(r, &f) == 0) {
        buf_t b;
        buf_init(&b);
        jsonw_t *w = jsonw_new(&b);
        pthread_mutex_lock(&t->mu);
        list_silences(t, http_req_arena(r), &f, w);
        pthread_mutex_unlock(&t->mu);
        jsonw_free(w);
        am__reply_raw(r, 200, &b);
    }
    am__tenant_unref(t);
    return 0;
}

static int is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (s[i] == '\0' || (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))) {
            return 0;
        }
    }
    return s[sizeof(shape) - 1] == '\0';
}

static void get_silence(http_req_t *r, am_tenant_t *t, const char *id)
{
    buf_t b;
    pthread_mutex_lock(&t->mu);
    am_silence_t *s = hashmap_get(&t->silences, id);
    if (s == NULL) {
        pthread_mutex_unlock(&t->mu);
        http_reply(r, 404, "application/json", "", 0);
        return;
    }
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    silence_out(w, s, time_now_ns());
    pthread_mutex_unlock(&t->mu);
    jsonw_free(w);
    am__reply_raw(r, 200, &b);
}

static void delete_silence(http_req_t *r, am_tenant_t *t, const char *id)
{
    am_changed_t ch = {0};
    err_t err = {0};
    pthread_mutex_lock(&t->mu);
    int rc = am__silence_expire(t, id, time_now_ns(), &ch, &err);
    pthread_mutex_unlock(&t->mu);
    persist(t, &ch);
    if (rc < 0 && err.code == ERR_NOT_FOUND) {
        http_reply(r, 404, "application/json", "", 0);
    } else if (rc < 0) {
        am__reply_jstr(r, 500, err.msg);
    } else {
        http_reply(r, 200, "application/json", "", 0);
    }
}

int am__h_silence(http_req_t *r, void *ctx, err_t *err)
{
    const char *id = http_req_param(r, "id");
    if (id == NULL || !is_uuid(id)) {
        am__reply_code(r, 422, 601, "silenceID in path must be of type uuid: \"%s\"",
                       id != NULL ? id : "");
        return 0;
    }
    am_tenant_t *t = am__api_tenant(r, ctx);
    if (t == NULL) {
        return 0;
    }
    if (strcmp(http_req_method(r), "DELETE") == 0) {
        delete_silence(r, t, id);
    } else {
        get_silence(r, t, id);
    }
    am__tenant_unref(t);
    return 0;
}
