/* common/template_builtin.c - Go text/template's predefined functions (and, or, not, len,
 * index, slice, print, printf, println, eq..ge, html, js, urlquery) with Go's error texts,
 * and the function lookup across sets. */
#include <stdio.h>
#include <string.h>

#include "common/template_int.h"

static int f_not(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    *out = tv_bool(!tv_truth(a[0]));
    return 0;
}

static int f_and_or(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return tstate_fail(st, "unreachable"); /* evaluated lazily by the executor */
}

static int f_len(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t v = a[0];
    switch (v.kind) {
    case TV_STRING:
        *out = tv_int((int64_t)v.u.s.n);
        return 0;
    case TV_LIST:
        *out = tv_int(v.u.list != NULL ? (int64_t)v.u.list->n : 0);
        return 0;
    case TV_MAP:
        if (v.type == TVT_PLAIN || v.type == TVT_STRMAP || v.type == TVT_KV) {
            *out = tv_int(v.u.map != NULL ? (int64_t)v.u.map->n : 0);
            return 0;
        }
        break;
    case TV_NIL:
        return tstate_fail(st, "len of nil pointer");
    default:
        break;
    }
    return tstate_fail(st, "len of type %s", tv_type_name(v));
}

/* An index argument as an int (Go's indexArg). */
static int index_arg(tstate_t *st, tv_t x, int64_t cap, int64_t *out)
{
    if (x.kind == TV_NIL) {
        return tstate_fail(st, "cannot index slice/array with nil");
    }
    if (x.kind != TV_INT && x.kind != TV_UINT8) {
        return tstate_fail(st, "cannot index slice/array with type %s", tv_type_name(x));
    }
    if (x.u.i < 0 || x.u.i > cap) {
        return tstate_fail(st, "index out of range: %lld", (long long)x.u.i);
    }
    *out = x.u.i;
    return 0;
}

static int index_one(tstate_t *st, tv_t item, tv_t key, tv_t *out)
{
    int64_t i = 0;
    if (item.kind == TV_STRING || item.kind == TV_LIST) {
        int64_t len = item.kind == TV_STRING ? (int64_t)item.u.s.n
                                             : (item.u.list ? (int64_t)item.u.list->n : 0);
        if (index_arg(st, key, len, &i) < 0) {
            return -1;
        }
        if (i == len) {
            return tstate_fail(st, "index out of range: %lld", (long long)i);
        }
        *out = item.kind == TV_STRING ? (tv_t){.kind = TV_UINT8, .u.i = (uint8_t)item.u.s.p[i]}
                                      : item.u.list->items[i];
        return 0;
    }
    if (item.kind == TV_MAP && (item.type == TVT_PLAIN || item.type == TVT_STRMAP ||
                                item.type == TVT_KV)) {
        if (key.kind != TV_STRING) {
            return tstate_fail(st, "value has type %s; should be string", tv_type_name(key));
        }
        const tv_t *v = tv_map_get(item.u.map, key.u.s.p, key.u.s.n);
        *out = v != NULL ? *v : item.type == TVT_PLAIN ? tv_nil() : tv_str("", 0);
        return 0;
    }
    if (item.kind == TV_NIL) {
        return tstate_fail(st, "index of untyped nil");
    }
    return tstate_fail(st, "can't index item of type %s", tv_type_name(item));
}

static int f_index(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t item = a[0];
    if (item.kind == TV_NIL) {
        return tstate_fail(st, "index of untyped nil");
    }
    for (int i = 1; i < n; i++) {
        if (index_one(st, item, a[i], &item) < 0) {
            return -1;
        }
    }
    *out = item;
    return 0;
}

static int f_slice(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    tv_t item = a[0];
    if (item.kind == TV_NIL) {
        return tstate_fail(st, "slice of untyped nil");
    }
    if (n - 1 > 3) {
        return tstate_fail(st, "too many slice indexes: %d", n - 1);
    }
    if (item.kind != TV_STRING && item.kind != TV_LIST) {
        return tstate_fail(st, "can't slice item of type %s", tv_type_name(item));
    }
    if (item.kind == TV_STRING && n - 1 == 3) {
        return tstate_fail(st, "cannot 3-index slice a string");
    }
    int64_t len = item.kind == TV_STRING ? (int64_t)item.u.s.n
                                         : (item.u.list ? (int64_t)item.u.list->n : 0);
    int64_t idx[3] = {0, len, len};
    for (int i = 1; i < n; i++) {
        if (index_arg(st, a[i], len, &idx[i - 1]) < 0) {
            return -1;
        }
    }
    if (idx[0] > idx[1]) {
        return tstate_fail(st, "invalid slice index: %lld > %lld", (long long)idx[0],
                           (long long)idx[1]);
    }
    if (n - 1 == 3 && idx[1] > idx[2]) {
        return tstate_fail(st, "invalid slice index: %lld > %lld", (long long)idx[1],
                           (long long)idx[2]);
    }
    if (item.kind == TV_STRING) {
        *out = tv_str(item.u.s.p + idx[0], (size_t)(idx[1] - idx[0]));
        return 0;
    }
    tv_list_t *l = tv_list_new(st->arena, (size_t)(idx[1] - idx[0]));
    if (l == NULL) {
        return tstate_fail(st, "out of memory");
    }
    memcpy(l->items, item.u.list->items + idx[0], l->n * sizeof(tv_t));
    *out = tv_typed((tv_t){.kind = TV_LIST, .u.list = l}, (tv_type_t)item.type);
    return 0;
}

static int f_print(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_sprint(a, (size_t)n, 0, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int f_println(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_sprint(a, (size_t)n, 1, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

static int f_printf(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t b;
    buf_init(&b);
    tv_sprintf(a[0].u.s.p, a[0].u.s.n, a + 1, (size_t)n - 1, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&b);
    return 0;
}

/* ---- comparisons ---------------------------------------------------------------------- */

typedef enum { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING, K_OTHER } basic_kind_t;

static basic_kind_t basic_kind(tv_t v)
{
    switch (v.kind) {
    case TV_NIL:
        return K_INVALID;
    case TV_BOOL:
        return K_BOOL;
    case TV_INT:
    case TV_UINT8:
    case TV_DURATION:
        return K_INT;
    case TV_FLOAT:
        return K_FLOAT;
    case TV_STRING:
        return K_STRING;
    default:
        return K_OTHER;
    }
}

static int str_cmp(tv_t a, tv_t b)
{
    size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int c = memcmp(a.u.s.p, b.u.s.p, n);
    return c != 0 ? c : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
}

/* -1/0/1, or 2 when unordered (NaN), -2 on error (fail set). */
static int compare(tstate_t *st, tv_t a, tv_t b, int ordered)
{
    basic_kind_t k1 = basic_kind(a), k2 = basic_kind(b);
    if (ordered && (k1 == K_OTHER || k1 == K_INVALID)) {
        return tstate_fail(st, "invalid type for comparison") - 1;
    }
    if (k1 != k2) {
        return tstate_fail(st, "incompatible types for comparison") - 1;
    }
    switch (k1) {
    case K_BOOL:
        if (ordered) {
            return tstate_fail(st, "invalid type for comparison") - 1;
        }
        return a.u.b != b.u.b;
    case K_INT:
        return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    case K_FLOAT:
        if (a.u.f != a.u.f || b.u.f != b.u.f) {
            return 2;
        }
        return (a.u.f > b.u.f) - (a.u.f < b.u.f);
    case K_STRING:
        return str_cmp(a, b);
    default:
        return tstate_fail(st, "invalid type for comparison") - 1;
    }
}

static int f_eq(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (n < 2) {
        return tstate_fail(st, "missing argument for comparison");
    }
    for (int i = 1; i < n; i++) {
        if (a[0].kind == TV_NIL || a[i].kind == TV_NIL) {
            if (a[0].kind == a[i].kind) {
                *out = tv_bool(1);
                return 0;
            }
            continue;
        }
        int c = compare(st, a[0], a[i], 0);
        if (c == -2) {
            return -1;
        }
        if (c == 0) {
            *out = tv_bool(1);
            return 0;
        }
    }
    *out = tv_bool(0);
    return 0;
}

static int f_ne(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    if (f_eq(st, a, n, out) < 0) {
        return -1;
    }
    out->u.b = !out->u.b;
    return 0;
}

/* lt, le, gt, ge differ only in which comparison results are true. */
static int ordered(tstate_t *st, const tv_t *a, tv_t *out, int lt, int eq, int gt)
{
    int c = compare(st, a[0], a[1], 1);
    if (c == -2) {
        return -1;
    }
    *out = tv_bool(c == -1 ? lt : c == 0 ? eq : c == 1 ? gt : 0);
    return 0;
}

static int f_lt(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return ordered(st, a, out, 1, 0, 0);
}

static int f_le(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return ordered(st, a, out, 1, 1, 0);
}

static int f_gt(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return ordered(st, a, out, 0, 0, 1);
}

static int f_ge(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    return ordered(st, a, out, 0, 1, 1);
}

/* ---- escapers ------------------------------------------------------------------------- */

/* Go's evalArgs: one string argument as is, otherwise fmt.Sprint of all. */
static void eval_args(const tv_t *a, int n, buf_t *out)
{
    if (n == 1 && a[0].kind == TV_STRING) {
        buf_append(out, a[0].u.s.p, a[0].u.s.n);
    } else {
        tv_sprint(a, (size_t)n, 0, out);
    }
}

void tmpl_html_escape(const char *s, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '"':
            buf_puts(out, "&#34;");
            break;
        case '\'':
            buf_puts(out, "&#39;");
            break;
        case '&':
            buf_puts(out, "&amp;");
            break;
        case '<':
            buf_puts(out, "&lt;");
            break;
        case '>':
            buf_puts(out, "&gt;");
            break;
        case 0:
            buf_puts(out, "\xEF\xBF\xBD");
            break;
        default:
            buf_putc(out, s[i]);
        }
    }
}

static int f_html(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t in, b;
    buf_init(&in);
    buf_init(&b);
    eval_args(a, n, &in);
    tmpl_html_escape(in.data ? in.data : "", in.len, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&in);
    buf_fini(&b);
    return 0;
}

static void js_escape(const char *s, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '\'' || c == '"') {
            buf_putc(out, '\\');
            buf_putc(out, (char)c);
        } else if (c == '<' || c == '>' || c == '&' || c == '=' || c < ' ') {
            buf_printf(out, "\\u%04X", c);
        } else {
            buf_putc(out, (char)c);
        }
    }
}

static int f_js(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t in, b;
    buf_init(&in);
    buf_init(&b);
    eval_args(a, n, &in);
    js_escape(in.data ? in.data : "", in.len, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&in);
    buf_fini(&b);
    return 0;
}

void tmpl__query_escape(const char *s, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            buf_putc(out, (char)c);
        } else if (c == ' ') {
            buf_putc(out, '+');
        } else {
            buf_printf(out, "%%%02X", c);
        }
    }
}

static int f_urlquery(tstate_t *st, const tv_t *a, int n, tv_t *out)
{
    buf_t in, b;
    buf_init(&in);
    buf_init(&b);
    eval_args(a, n, &in);
    tmpl__query_escape(in.data ? in.data : "", in.len, &b);
    *out = tstate_buf_value(st, &b);
    buf_fini(&in);
    buf_fini(&b);
    return 0;
}

#define ANY TP_ANY
const tfunc_t tmpl__builtin_funcs[] = {
    {"and", f_and_or, 1, {ANY}, 1, ANY, 2},
    {"or", f_and_or, 1, {ANY}, 1, ANY, 2},
    {"not", f_not, 1, {ANY}, 0, ANY, 0},
    {"len", f_len, 1, {ANY}, 0, ANY, 0},
    {"index", f_index, 1, {ANY}, 1, ANY, 0},
    {"slice", f_slice, 1, {ANY}, 1, ANY, 0},
    {"print", f_print, 0, {ANY}, 1, ANY, 0},
    {"println", f_println, 0, {ANY}, 1, ANY, 0},
    {"printf", f_printf, 1, {TP_STRING}, 1, ANY, 0},
    {"eq", f_eq, 1, {ANY}, 1, ANY, 0},
    {"ne", f_ne, 2, {ANY, ANY}, 0, ANY, 0},
    {"lt", f_lt, 2, {ANY, ANY}, 0, ANY, 0},
    {"le", f_le, 2, {ANY, ANY}, 0, ANY, 0},
    {"gt", f_gt, 2, {ANY, ANY}, 0, ANY, 0},
    {"ge", f_ge, 2, {ANY, ANY}, 0, ANY, 0},
    {"html", f_html, 0, {ANY}, 1, ANY, 0},
    {"js", f_js, 0, {ANY}, 1, ANY, 0},
    {"urlquery", f_urlquery, 0, {ANY}, 1, ANY, 0},
    {NULL, NULL, 0, {ANY}, 0, ANY, 0},
};

static const tfunc_t *find_in(const tfunc_t *table, const char *name)
{
    for (const tfunc_t *f = table; f->name != NULL; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

const tfunc_t *tmpl__func_lookup(unsigned funcs, const char *name)
{
    /* a flavour's functions shadow Go's built-ins, as Funcs() does upstream */
    const tfunc_t *f = NULL, *g;
    if ((funcs & TMPL_FUNCS_LOKI) && (g = find_in(tmpl__loki_funcs, name)) != NULL) {
        f = g;
    }
    if (f == NULL && (funcs & TMPL_FUNCS_PROMETHEUS) &&
        (g = find_in(tmpl__prom_funcs, name)) != NULL) {
        f = g;
    }
    if (f == NULL && (funcs & TMPL_FUNCS_ALERTMANAGER) &&
        (g = find_in(tmpl__am_funcs, name)) != NULL) {
        f = g;
    }
    return f != NULL ? f : find_in(tmpl__builtin_funcs, name);
}
