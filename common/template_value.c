/* common/template_value.c - the template value model: constructors, truth, Go type names,
 * conversion from JSON, and printing as Go's fmt prints (%v of numbers, lists, maps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gofloat.h"
#include "common/template_int.h"

tv_t tv_nil(void)
{
    tv_t v = {.kind = TV_NIL};
    return v;
}

tv_t tv_bool(int b)
{
    tv_t v = {.kind = TV_BOOL, .u.b = b != 0};
    return v;
}

tv_t tv_int(int64_t i)
{
    tv_t v = {.kind = TV_INT, .u.i = i};
    return v;
}

tv_t tv_float(double f)
{
    tv_t v = {.kind = TV_FLOAT, .u.f = f};
    return v;
}

tv_t tv_str(const char *p, size_t n)
{
    tv_t v = {.kind = TV_STRING, .u.s = {p != NULL ? p : "", n}};
    return v;
}

tv_t tv_cstr(const char *s)
{
    return tv_str(s, s != NULL ? strlen(s) : 0);
}

tv_t tv_time_sec(int64_t sec, int32_t nsec)
{
    tv_t v = {.kind = TV_TIME, .u.t = {sec, nsec, 0, NULL}};
    return v;
}

tv_t tv_time(int64_t ns)
{
    int64_t sec = ns / 1000000000LL, nsec = ns % 1000000000LL;
    if (nsec < 0) {
        nsec += 1000000000LL;
        sec--;
    }
    return tv_time_sec(sec, (int32_t)nsec);
}

tv_t tv_typed(tv_t v, tv_type_t type)
{
    v.type = (uint8_t)type;
    return v;
}

tv_list_t *tv_list_new(arena_t *a, size_t n)
{
    tv_list_t *l = arena_calloc(a, sizeof(*l) + n * sizeof(tv_t));
    if (l != NULL) {
        l->n = n;
    }
    return l;
}

tv_map_t *tv_map_new(arena_t *a, size_t n)
{
    tv_map_t *m = arena_calloc(a, sizeof(*m) + n * sizeof(m->e[0]));
    if (m != NULL) {
        m->n = n;
    }
    return m;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

static int entry_cmp(const void *x, const void *y)
{
    const struct tv_map_entry *a = x, *b = y;
    return key_cmp(a->key, a->key_n, b->key, b->key_n);
}

void tv_map_sort(tv_map_t *m)
{
    qsort(m->e, m->n, sizeof(m->e[0]), entry_cmp);
}

const tv_t *tv_map_get(const tv_map_t *m, const char *key, size_t n)
{
    if (m != NULL && m->n <= 8) {
        /* small maps and structs (kept in Go's field declaration order): linear scan */
        for (size_t i = 0; i < m->n; i++) {
            if (m->e[i].key_n == n && memcmp(m->e[i].key, key, n) == 0) {
                return &m->e[i].val;
            }
        }
        return NULL;
    }
    size_t lo = 0, hi = m != NULL ? m->n : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = key_cmp(m->e[mid].key, m->e[mid].key_n, key, n);
        if (c == 0) {
            return &m->e[mid].val;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

int tv_truth(tv_t v)
{
    switch ((tv_kind_t)v.kind) {
    case TV_NIL:
        return 0;
    case TV_BOOL:
        return v.u.b;
    case TV_INT:
    case TV_UINT8:
    case TV_DURATION:
        return v.u.i != 0;
    case TV_FLOAT:
        return v.u.f != 0;
    case TV_STRING:
        return v.u.s.n != 0;
    case TV_LIST:
        return v.u.list != NULL && v.u.list->n != 0;
    case TV_MAP:
        /* structs are always true; maps when non-empty */
        return v.type == TVT_DATA || v.type == TVT_ALERT || v.type == TVT_PAIR ||
               v.type == TVT_PROMDATA || v.type == TVT_PROMSAMPLE ||
               (v.u.map != NULL && v.u.map->n != 0);
    case TV_TIME:
        return 1;
    }
    return 0;
}

static const char *const type_names[TVT_COUNT_] = {
    [TVT_STRMAP] = "map[string]string",   [TVT_KV] = "template.KV",
    [TVT_PAIRS] = "template.Pairs",       [TVT_PAIR] = "template.Pair",
    [TVT_DATA] = "template.Data",        [TVT_ALERT] = "template.Alert",
    [TVT_ALERTS] = "template.Alerts",     [TVT_STRSLICE] = "[]string",
    [TVT_PROMSAMPLE] = "*template.sample", [TVT_PROMRESULT] = "template.queryResult",
    [TVT_PROMDATA] = "struct { Labels map[string]string; ExternalLabels map[string]string; "
                     "ExternalURL string; Value float64 }",
    [TVT_SAFEHTML] = "template.HTML",     [TVT_SAFEURL] = "template.URL",
};

const char *tv_type_name(tv_t v)
{
    if (v.type != TVT_PLAIN && v.type < TVT_COUNT_) {
        return type_names[v.type];
    }
    static const char *const kinds[] = {
        [TV_NIL] = "<nil>",       [TV_BOOL] = "bool",  [TV_INT] = "int",
        [TV_UINT8] = "uint8",     [TV_FLOAT] = "float64", [TV_STRING] = "string",
        [TV_LIST] = "[]interface {}", [TV_MAP] = "map[string]interface {}",
        [TV_TIME] = "time.Time",  [TV_DURATION] = "time.Duration",
    };
    return kinds[v.kind];
}

tv_t tv_from_json(arena_t *a, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tv_map_t *m = tv_map_new(a, json_object_size(j));
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            if (m == NULL) {
                break;
            }
            m->e[i].key = k;
            m->e[i].key_n = strlen(k);
            m->e[i++].val = tv_from_json(a, v);
        }
        if (m != NULL) {
            tv_map_sort(m);
        }
        return (tv_t){.kind = TV_MAP, .u.map = m};
    }
    case JSON_ARRAY: {
        tv_list_t *l = tv_list_new(a, json_array_size(j));
        for (size_t i = 0; l != NULL && i < l->n; i++) {
            l->items[i] = tv_from_json(a, json_array_get(j, i));
        }
        return (tv_t){.kind = TV_LIST, .u.list = l};
    }
    case JSON_STRING:
        return tv_str(json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return tv_int(json_integer_value(j));
    case JSON_REAL:
        return tv_float(json_real_value(j));
    case JSON_TRUE:
        return tv_bool(1);
    case JSON_FALSE:
        return tv_bool(0);
    default:
        return tv_nil();
    }
}

/* ---- floats: common/gofloat.c ----------------------------------------------------------- */

void tv_format_float(double f, char fmtc, int prec, buf_t *out)
{
    gofloat_append(out, f, fmtc, prec);
}

/* ---- durations and times -------------------------------------------------------------- */

void tv_duration_format(int64_t ns, buf_t *out)
{
    if (ns == 0) {
        buf_puts(out, "0s");
        return;
    }
    uint64_t u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
    if (ns < 0) {
        buf_putc(out, '-');
    }
    char frac[16];
    if (u < 1000000000ULL) {
        uint64_t div = u < 1000 ? 1 : u < 1000000 ? 1000 : 1000000;
        int digits = u < 1000 ? 0 : u < 1000000 ? 3 : 6;
        buf_printf(out, "%llu", (unsigned long long)(u / div));
        snprintf(frac, sizeof(frac), "%0*llu", digits, (unsigned long long)(u % div));
    } else {
        uint64_t s = u / 1000000000ULL;
        if (s >= 3600) {
            buf_printf(out, "%lluh", (unsigned long long)(s / 3600));
        }
        if (s >= 60) {
            buf_printf(out, "%llum", (unsigned long long)(s / 60 % 60));
        }
        buf_printf(out, "%llu", (unsigned long long)(s % 60));
        snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(u % 1000000000ULL));
    }
    size_t fl = strlen(frac);
    while (fl > 0 && frac[fl - 1] == '0') {
        frac[--fl] = 0;
    }
    if (fl > 0) {
        buf_printf(out, ".%s", frac);
    }
    if (u < 1000000000ULL) {
        buf_puts(out, u < 1000 ? "ns" : u < 1000000 ? "µs" : "ms");
    } else {
        buf_putc(out, 's');
    }
}

static void print_list(tv_t v, buf_t *out)
{
    buf_putc(out, '[');
    for (size_t i = 0; v.u.list != NULL && i < v.u.list->n; i++) {
        if (i > 0) {
            buf_putc(out, ' ');
        }
        tv_t e = v.u.list->items[i];
        if (e.kind == TV_NIL) {
            buf_puts(out, "<nil>");
        } else {
            tv_print(e, out);
        }
    }
    buf_putc(out, ']');
}

static void print_map(tv_t v, buf_t *out)
{
    int is_struct = v.type == TVT_PAIR || v.type == TVT_DATA || v.type == TVT_ALERT ||
                    v.type == TVT_PROMSAMPLE || v.type == TVT_PROMDATA;
    buf_puts(out, is_struct ? "{" : "map[");
    for (size_t i = 0; v.u.map != NULL && i < v.u.map->n; i++) {
        const struct tv_map_entry *e = &v.u.map->e[i];
        if (i > 0) {
            buf_putc(out, ' ');
        }
        if (!is_struct) {
            buf_append(out, e->key, e->key_n);
            buf_putc(out, ':');
        }
        if (e->val.kind == TV_NIL) {
            buf_puts(out, "<nil>");
        } else {
            tv_print(e->val, out);
        }
    }
    buf_putc(out, is_struct ? '}' : ']');
}

void tv_print(tv_t v, buf_t *out)
{
    switch ((tv_kind_t)v.kind) {
    case TV_NIL:
        buf_puts(out, "<nil>");
        break;
    case TV_BOOL:
        buf_puts(out, v.u.b ? "true" : "false");
        break;
    case TV_INT:
    case TV_UINT8:
        buf_printf(out, "%lld", (long long)v.u.i);
        break;
    case TV_FLOAT:
        gofloat_append(out, v.u.f, 'g', -1);
        break;
    case TV_STRING:
        buf_append(out, v.u.s.p, v.u.s.n);
        break;
    case TV_LIST:
        print_list(v, out);
        break;
    case TV_MAP:
        print_map(v, out);
        break;
    case TV_TIME:
        tv_time_format(v, "2006-01-02 15:04:05.999999999 -0700 MST", out);
        break;
    case TV_DURATION:
        tv_duration_format(v.u.i, out);
        break;
    }
}

void tv_sprint(const tv_t *args, size_t n, int ln, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        /* Sprint: a space between operands when neither is a string; Sprintln: always */
        int is_str = args[i].kind == TV_STRING;
        int prev_str = i > 0 && args[i - 1].kind == TV_STRING;
        if (i > 0 && (ln || (!is_str && !prev_str))) {
            buf_putc(out, ' ');
        }
        tv_print(args[i], out);
    }
    if (ln) {
        buf_putc(out, '\n');
    }
}
