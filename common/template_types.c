/* common/template_types.c - typed values with methods: Alertmanager's template.Data, Alert,
 * Alerts, KV, Pairs and Pair (built from a webhook-shaped JSON payload), time.Time and
 * time.Duration methods, plus helpers several function sets share (regexes, Title). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <string.h>

#include "common/template_int.h"

/* ---- construction from JSON ----------------------------------------------------------- */

static tv_t str_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? tv_str(json_string_value(v), json_string_length(v)) : tv_str("", 0);
}

/* An object of strings as template.KV (non-strings are skipped). */
static tv_t kv_from_json(arena_t *a, const json_t *o)
{
    tv_map_t *m = tv_map_new(a, json_object_size(o));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (m != NULL && json_is_string(v)) {
            m->e[n].key = k;
            m->e[n].key_n = strlen(k);
            m->e[n++].val = tv_str(json_string_value(v), json_string_length(v));
        }
    }
    if (m != NULL) {
        m->n = n;
        tv_map_sort(m);
    }
    return tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_KV);
}

tv_t tmpl__kv_from_labels(arena_t *a, const label_t *ls, size_t n, tv_type_t type)
{
    tv_map_t *m = tv_map_new(a, n);
    for (size_t i = 0; m != NULL && i < n; i++) {
        m->e[i].key = ls[i].name;
        m->e[i].key_n = strlen(ls[i].name);
        m->e[i].val = tv_cstr(ls[i].value);
    }
    if (m != NULL) {
        tv_map_sort(m);
    }
    return tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, type);
}

/* RFC 3339 (fractional seconds optional) to a time; unparsable gives the zero time. */
static tv_t time_field(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    tv_t t;
    if (s == NULL || tv_time_parse("2006-01-02T15:04:05Z07:00", s, &t, NULL) < 0) {
        t = tv_time_sec(TV_ZERO_TIME_SEC, 0);
    }
    return t;
}

static tv_t alert_from_json(arena_t *a, const json_t *j)
{
    tv_map_t *m = tv_map_new(a, 7);
    if (m == NULL) {
        return tv_nil();
    }
    /* template.Alert's fields in declaration order */
    m->e[0] = (struct tv_map_entry){"Status", 6, str_field(j, "status")};
    m->e[1] = (struct tv_map_entry){"Labels", 6, kv_from_json(a, json_object_get(j, "labels"))};
    m->e[2] = (struct tv_map_entry){"Annotations", 11,
                                    kv_from_json(a, json_object_get(j, "annotations"))};
    m->e[3] = (struct tv_map_entry){"StartsAt", 8, time_field(j, "startsAt")};
    m->e[4] = (struct tv_map_entry){"EndsAt", 6, time_field(j, "endsAt")};
    m->e[5] = (struct tv_map_entry){"GeneratorURL", 12, str_field(j, "generatorURL")};
    m->e[6] = (struct tv_map_entry){"Fingerprint", 11, str_field(j, "fingerprint")};
    return tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_ALERT);
}

tv_t tmpl__am_data(arena_t *a, const json_t *p)
{
    const json_t *alerts = json_object_get(p, "alerts");
    tv_list_t *l = tv_list_new(a, json_array_size(alerts));
    tv_map_t *m = tv_map_new(a, 7);
    if (l == NULL || m == NULL) {
        return tv_nil();
    }
    for (size_t i = 0; i < l->n; i++) {
        l->items[i] = alert_from_json(a, json_array_get(alerts, i));
    }
    tv_t al = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_ALERTS);
    /* template.Data's fields in declaration order */
    m->e[0] = (struct tv_map_entry){"Receiver", 8, str_field(p, "receiver")};
    m->e[1] = (struct tv_map_entry){"Status", 6, str_field(p, "status")};
    m->e[2] = (struct tv_map_entry){"Alerts", 6, al};
    m->e[3] = (struct tv_map_entry){"GroupLabels", 11,
                                    kv_from_json(a, json_object_get(p, "groupLabels"))};
    m->e[4] = (struct tv_map_entry){"CommonLabels", 12,
                                    kv_from_json(a, json_object_get(p, "commonLabels"))};
    m->e[5] = (struct tv_map_entry){"CommonAnnotations", 17,
                                    kv_from_json(a, json_object_get(p, "commonAnnotations"))};
    m->e[6] = (struct tv_map_entry){"ExternalURL", 11, str_field(p, "externalURL")};
    return tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_DATA);
}

/* ---- methods ----------------------------------------------------------------------------
 * Each gets its receiver as a[0]; arity and argument types were checked by the caller. */

static tv_t str_list(tstate_t *st, size_t n)
{
    tv_list_t *l = tv_list_new(st->arena, n);
    return tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_STRSLICE);
}

/* KV.SortedPairs: "alertname" first, then the rest by name. */
static int m_sorted_pairs(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t kv = a[0];
    size_t cnt = kv.u.map != NULL ? kv.u.map->n : 0;
    tv_list_t *l = tv_list_new(st->arena, cnt);
    if (l == NULL) {
        return tstate_fail(st, "out of memory");
    }
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cnt; i++) {
            const struct tv_map_entry *e = &kv.u.map->e[i];
            int is_name = e->key_n == 9 && memcmp(e->key, "alertname", 9) == 0;
            if (is_name != (pass == 0)) {
                continue;
            }
            tv_map_t *p = tv_map_new(st->arena, 2);
            if (p == NULL) {
                return tstate_fail(st, "out of memory");
            }
            p->e[0] = (struct tv_map_entry){"Name", 4, tv_str(e->key, e->key_n)};
            p->e[1] = (struct tv_map_entry){"Value", 5, e->val};
            l->items[k++] = tv_typed((tv_t){.kind = TV_MAP, .u.map = p}, TVT_PAIR);
        }
    }
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_PAIRS);
    return 0;
}

/* KV.Names/Values (sorted by name) and Pairs.Names/Values (in pair order). */
static int names_values(tstate_t *st, tv_t recv, int values, tv_t *out)
{
    size_t n = recv.kind == TV_MAP ? (recv.u.map ? recv.u.map->n : 0)
                                   : (recv.u.list ? recv.u.list->n : 0);
    *out = str_list(st, n);
    if (out->u.list == NULL) {
        return tstate_fail(st, "out of memory");
    }
    tv_list_t *l = (tv_list_t *)out->u.list;
    for (size_t i = 0; i < n; i++) {
        if (recv.kind == TV_MAP) {
            const struct tv_map_entry *e = &recv.u.map->e[i];
            l->items[i] = values ? e->val : tv_str(e->key, e->key_n);
        } else {
            const tv_map_t *p = recv.u.list->items[i].u.map;
            l->items[i] = p->e[values ? 1 : 0].val;
        }
    }
    return 0;
}

static int m_names(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return names_values(st, a[0], 0, out);
}

static int m_values(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return names_values(st, a[0], 1, out);
}

static int m_remove(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t kv = a[0], keys = a[1];
    size_t cnt = kv.u.map != NULL ? kv.u.map->n : 0, k = 0;
    tv_map_t *m = tv_map_new(st->arena, cnt);
    if (m == NULL) {
        return tstate_fail(st, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        const struct tv_map_entry *e = &kv.u.map->e[i];
        int drop = 0;
        for (size_t j = 0; keys.kind == TV_LIST && keys.u.list && j < keys.u.list->n; j++) {
            tv_t key = keys.u.list->items[j];
            drop |= key.u.s.n == e->key_n && memcmp(key.u.s.p, e->key, e->key_n) == 0;
        }
        if (!drop) {
            m->e[k++] = *e;
        }
    }
    m->n = k;
    *out = tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_KV);
    return 0;
}

static int alerts_with_status(tstate_t *st, tv_t alerts, const char *status, tv_t *out)
{
    size_t n = alerts.u.list != NULL ? alerts.u.list->n : 0, k = 0;
    tv_list_t *l = tv_list_new(st->arena, n);
    if (l == NULL) {
        return tstate_fail(st, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        tv_t al = alerts.u.list->items[i];
        const tv_t *s = tv_map_get(al.u.map, "Status", 6);
        if (s != NULL && s->u.s.n == strlen(status) && memcmp(s->u.s.p, status, s->u.s.n) == 0) {
            l->items[k++] = al;
        }
    }
    l->n = k;
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, TVT_ALERTS);
    return 0;
}

static int m_firing(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return alerts_with_status(st, a[0], "firing", out);
}

static int m_resolved(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return alerts_with_status(st, a[0], "resolved", out);
}

static int m_format(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_time_format(a[0], tstate_strdup(st, a[1].u.s.p, a[1].u.s.n), &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int m_string(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_print(a[0], &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int m_unix(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_int(a[0].u.t.sec);
    return 0;
}

static int m_unix_milli(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_int(a[0].u.t.sec * 1000 + a[0].u.t.nsec / 1000000);
    return 0;
}

static int m_unix_nano(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_int(a[0].u.t.sec * 1000000000LL + a[0].u.t.nsec);
    return 0;
}

static int m_utc(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_time_sec(a[0].u.t.sec, a[0].u.t.nsec);
    return 0;
}

static int m_is_zero(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_bool(a[0].u.t.sec == TV_ZERO_TIME_SEC && a[0].u.t.nsec == 0);
    return 0;
}

static int m_seconds(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float((double)a[0].u.i / 1e9);
    return 0;
}

static int m_minutes(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float((double)a[0].u.i / 6e10);
    return 0;
}

static int m_hours(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_float((double)a[0].u.i / 3.6e12);
    return 0;
}

static int m_milliseconds(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_int(a[0].u.i / 1000000);
    return 0;
}

#define S TP_STRING
static const tfunc_t kv_methods[] = {
    {"SortedPairs", m_sorted_pairs, 0, {S}, 0, S, 0}, {"Names", m_names, 0, {S}, 0, S, 0},
    {"Values", m_values, 0, {S}, 0, S, 0},   {"Remove", m_remove, 1, {TP_STRLIST}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
static const tfunc_t pairs_methods[] = {
    {"Names", m_names, 0, {S}, 0, S, 0}, {"Values", m_values, 0, {S}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
static const tfunc_t alerts_methods[] = {
    {"Firing", m_firing, 0, {S}, 0, S, 0}, {"Resolved", m_resolved, 0, {S}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
static const tfunc_t time_methods[] = {
    {"Format", m_format, 1, {S}, 0, S, 0},       {"String", m_string, 0, {S}, 0, S, 0},
    {"Unix", m_unix, 0, {S}, 0, S, 0},           {"UnixMilli", m_unix_milli, 0, {S}, 0, S, 0},
    {"UnixNano", m_unix_nano, 0, {S}, 0, S, 0},  {"UTC", m_utc, 0, {S}, 0, S, 0},
    {"Local", m_utc, 0, {S}, 0, S, 0},           {"IsZero", m_is_zero, 0, {S}, 0, S, 0},
    {NULL, NULL, 0, {S}, 0, S, 0},
};
static const tfunc_t duration_methods[] = {
    {"Seconds", m_seconds, 0, {S}, 0, S, 0}, {"Minutes", m_minutes, 0, {S}, 0, S, 0},
    {"Hours", m_hours, 0, {S}, 0, S, 0},     {"Milliseconds", m_milliseconds, 0, {S}, 0, S, 0},
    {"String", m_string, 0, {S}, 0, S, 0},   {NULL, NULL, 0, {S}, 0, S, 0},
};

const tfunc_t *tmpl__method_lookup(tv_t recv, const char *name)
{
    const tfunc_t *table = recv.type == TVT_KV       ? kv_methods
                         : recv.type == TVT_PAIRS    ? pairs_methods
                         : recv.type == TVT_ALERTS   ? alerts_methods
                         : recv.kind == TV_TIME      ? time_methods
                         : recv.kind == TV_DURATION  ? duration_methods
                                                     : NULL;
    for (; table != NULL && table->name != NULL; table++) {
        if (strcmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

/* ---- shared helpers ------------------------------------------------------------------- */

static void free_code(void *code)
{
    pcre2_code_free(code);
}

/* Go's wording for the errors users hit most; others keep pcre2's text. */
static const char *go_regex_error(const char *pcre_msg)
{
    static const char *const map[][2] = {
        {"missing closing parenthesis", "missing closing )"},
        {"missing terminating ] for character class", "missing closing ]"},
        {"quantifier does not follow a repeatable item", "missing argument to repetition operator"},
        {"unmatched closing parenthesis", "unexpected )"},
        {"\\ at end of pattern", "trailing backslash at end of expression"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(pcre_msg, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return pcre_msg;
}

int tmpl__regex_compile(tstate_t *st, const char *re, void **code)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY, &ec,
                                  &off, NULL);
    if (c == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return tstate_fail(st, "error parsing regexp: %s: `%s`", go_regex_error((char *)msg), re);
    }
    arena_on_free(st->arena, free_code, c);
    *code = c;
    return 0;
}

void tmpl__title(const char *s, size_t n, buf_t *out)
{
    int prev_letter = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Go's strings.Title: a letter after a separator (not letter/digit/_/') is upper-cased */
        int is_word = isalnum(c) || c == '_' || c == '\'' || c >= 0x80;
        buf_putc(out, (char)(!prev_letter && c < 0x80 ? toupper(c) : c));
        prev_letter = is_word;
    }
}
