/* logql/pipeline_parsers.c - the label-extracting stages: json (flattened keys joined by
 * `_`, or parameters `a="x.y[0]"`), logfmt (Loki's decoder, --strict, --keep-empty,
 * parameters), regexp (named groups, pcre2), pattern and unpack. Keys are sanitised as
 * Loki does; a key already present as a stream label or structured metadata gets the
 * `_extracted` suffix; failures set __error__ (JSONParserErr, LogfmtParserErr) and
 * __error_details__. The JSON scanner works on the line's bytes in place. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "logql/pipeline_int.h"

#define DUP_SUFFIX "_extracted"

static const char *const json_errors[] = {
    "Value looks like object, but can't find closing '}' symbol",
    "Value is string, but can't find closing '\"' symbol",
    "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol",
    "Malformed JSON error",
};
enum { JE_OBJECT, JE_STRING, JE_VALUE, JE_MALFORMED };

void logql__sanitize_append(buf_t *to, const char *key, size_t n)
{
    while (n > 0 && isspace((unsigned char)key[0])) {
        key++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)key[n - 1])) {
        n--;
    }
    if (n == 0) {
        return;
    }
    if (to->len == 0 && isdigit((unsigned char)key[0])) {
        buf_putc(to, '_');
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (isalnum(c) || c == '_') {
            buf_putc(to, (char)c);
        } else if ((c & 0xC0) != 0x80 || c < 0x80) {
            buf_putc(to, '_'); /* one `_` per rune */
        }
    }
}

/* Sets a parsed label, renamed with _extracted when it clashes with the stream/metadata. */
static void set_extracted(logql_proc_t *pr, buf_t *key, const char *v, size_t vlen)
{
    if (key->len == 0) {
        return;
    }
    if (logql__base_has(pr, key->data, key->len)) {
        buf_puts(key, DUP_SUFFIX);
    }
    logql__set(pr, key->data, key->len, v, vlen);
}

/* ---- JSON scanning ----------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t n, i;
    int err; /* -1 none, else JE_* */
} lq_json_t;

static void js_ws(lq_json_t *j)
{
    while (j->i < j->n && isspace((unsigned char)j->s[j->i])) {
        j->i++;
    }
}

/* A string at j->i: sets [*start, *end) to its raw contents. */
static int js_string(lq_json_t *j, size_t *start, size_t *end)
{
    size_t i = j->i + 1;
    while (i < j->n && j->s[i] != '"') {
        i += j->s[i] == '\\' ? 2 : 1;
    }
    if (i >= j->n) {
        j->err = JE_STRING;
        return -1;
    }
    *start = j->i + 1;
    *end = i;
    j->i = i + 1;
    return 0;
}

/* Skips a container; strings inside may hold brackets. */
static int js_skip_container(lq_json_t *j)
{
    int depth = 0;
    while (j->i < j->n) {
        char c = j->s[j->i];
        if (c == '"') {
            size_t a, b;
            if (js_string(j, &a, &b) != 0) {
                return -1;
            }
            continue;
        }
        depth += (c == '{' || c == '[') - (c == '}' || c == ']');
        j->i++;
        if (depth == 0) {
            return 0;
        }
    }
    j->err = JE_MALFORMED;
    return -1;
}

typedef enum { JV_STRING, JV_NUMBER, JV_BOOL, JV_NULL, JV_OBJECT, JV_ARRAY } lq_jtype_t;

/* A scalar: its raw extent [*start, *end). */
static int js_scalar(lq_json_t *j, size_t *start, size_t *end)
{
    *start = j->i;
    while (j->i < j->n && strchr(",}] \t\r\n", j->s[j->i]) == NULL) {
        j->i++;
    }
    *end = j->i;
    if (*end == *start) {
        j->err = JE_VALUE;
        return -1;
    }
    return 0;
}

static lq_jtype_t scalar_type(const char *s)
{
    if (*s == 't' || *s == 'f') {
        return JV_BOOL;
    }
    return *s == 'n' ? JV_NULL : JV_NUMBER;
}

/* The value at j->i: type and extent (strings: contents without quotes). */
static int js_value(lq_json_t *j, lq_jtype_t *t, size_t *start, size_t *end)
{
    js_ws(j);
    if (j->i >= j->n) {
        j->err = JE_VALUE;
        return -1;
    }
    char c = j->s[j->i];
    if (c == '"') {
        *t = JV_STRING;
        return js_string(j, start, end);
    }
    if (c == '{' || c == '[') {
        *t = c == '{' ? JV_OBJECT : JV_ARRAY;
        *start = j->i;
        int rc = js_skip_container(j);
        *end = j->i;
        return rc;
    }
    if (js_scalar(j, start, end) != 0) {
        return -1;
    }
    *t = scalar_type(j->s + *start);
    return 0;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

static void put_utf8(buf_t *b, unsigned cp)
{
    if (cp < 0x80) {
        buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        buf_putc(b, (char)(0xC0 | (cp >> 6)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        buf_putc(b, (char)(0xE0 | (cp >> 12)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        buf_putc(b, (char)(0xF0 | (cp >> 18)));
        buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int read_u4(const char *s, size_t n, size_t i, unsigned *cp)
{
    if (i + 4 > n) {
        return -1;
    }
    *cp = 0;
    for (size_t k = 0; k < 4; k++) {
        if (!isxdigit((unsigned char)s[i + k])) {
            return -1;
        }
        *cp = *cp * 16 + (unsigned)hexval(s[i + k]);
    }
    return 0;
}

/* JSON unescape into b; invalid UTF-8 bytes become spaces as in Loki. -1 on a bad escape. */
static int json_unescape(buf_t *b, const char *s, size_t n)
{
    static const char esc_from[] = "\"\\/bfnrt", esc_to[] = "\"\\/\b\f\n\r\t";
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            buf_putc(b, s[i]);
            continue;
        }
        if (++i >= n) {
            return -1;
        }
        const char *e = strchr(esc_from, s[i]);
        if (e != NULL && s[i] != '\0') {
            buf_putc(b, esc_to[e - esc_from]);
            continue;
        }
        unsigned cp, lo;
        if (s[i] != 'u' || read_u4(s, n, i + 1, &cp) != 0) {
            return -1;
        }
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u' &&
            read_u4(s, n, i + 3, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        put_utf8(b, cp);
    }
    return 0;
}

/* Replaces invalid UTF-8 bytes and U+FFFD by spaces, in place from `from`. */
static void scrub_utf8(buf_t *b, size_t from)
{
    for (size_t i = from; i < b->len;) {
        unsigned char c = (unsigned char)b->data[i];
        size_t w = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = w > 0 && i + w <= b->len;
        for (size_t k = 1; ok && k < w; k++) {
            ok = ((unsigned char)b->data[i + k] & 0xC0) == 0x80;
        }
        if (!ok) {
            b->data[i++] = ' ';
            continue;
        }
        if (w == 3 && memcmp(b->data + i, "\xEF\xBF\xBD", 3) == 0) {
            memcpy(b->data + i, " ", 1);
            memmove(b->data + i + 1, b->data + i + 3, b->len - i - 3);
            b->len -= 2;
        }
        i += w;
    }
}

/* The label value of a JSON scalar: strings unescaped (broken escapes give ""), numbers raw,
 * booleans true/false. Written into pr->scratch. */
static void json_label_value(logql_proc_t *pr, lq_jtype_t t, const char *s, size_t n)
{
    buf_reset(&pr->scratch);
    buf_reserve(&pr->scratch, 1);
    if (t != JV_STRING) {
        buf_append(&pr->scratch, s, n);
        return;
    }
    if (json_unescape(&pr->scratch, s, n) != 0) {
        buf_reset(&pr->scratch);
        return;
    }
    scrub_utf8(&pr->scratch, 0);
}

/* ---- json (all fields) ------------------------------------------------------------------- */

static int lq_json_object(logql_proc_t *pr, lq_json_t *j, buf_t *key);

static int json_member(logql_proc_t *pr, lq_json_t *j, buf_t *key)
{
    size_t ks, ke, vs, ve, mark = key->len;
    lq_jtype_t t;
    if (js_string(j, &ks, &ke) != 0) {
        return -1;
    }
    js_ws(j);
    if (j->i >= j->n || j->s[j->i] != ':') {
        j->err = JE_MALFORMED;
        return -1;
    }
    j->i++;
    js_ws(j);
    int is_obj = j->i < j->n && j->s[j->i] == '{';
    if (mark > 0 && ke > ks) {
        buf_putc(key, '_');
    }
    logql__sanitize_append(key, j->s + ks, ke - ks);
    if (is_obj) {
        int rc = lq_json_object(pr, j, key);
        key->len = mark;
        return rc;
    }
    if (js_value(j, &t, &vs, &ve) != 0) {
        return -1;
    }
    if (t != JV_NULL && t != JV_ARRAY && t != JV_OBJECT && key->len > 0) {
        json_label_value(pr, t, j->s + vs, ve - vs);
        set_extracted(pr, key, pr->scratch.data, pr->scratch.len);
    }
    key->len = mark;
    return 0;
}

/* Walks the object at j->i, setting one label per scalar member. */
static int lq_json_object(logql_proc_t *pr, lq_json_t *j, buf_t *key)
{
    js_ws(j);
    if (j->i >= j->n || j->s[j->i] != '{') {
        j->err = JE_OBJECT;
        return -1;
    }
    j->i++;
    for (int first = 1;; first = 0) {
        js_ws(j);
        if (j->i < j->n && j->s[j->i] == '}' && first) {
            j->i++;
            return 0;
        }
        if (j->i >= j->n || j->s[j->i] != '"') {
            j->err = j->i >= j->n ? JE_OBJECT : JE_MALFORMED;
            return -1;
        }
        if (json_member(pr, j, key) != 0) {
            return -1;
        }
        js_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->i < j->n && j->s[j->i] == '}') {
            j->i++;
            return 0;
        }
        j->err = JE_OBJECT;
        return -1;
    }
}

static void run_json_all(logql_proc_t *pr)
{
    lq_json_t j = {.s = pr->line, .n = pr->len, .err = -1};
    buf_reset(&pr->keybuf);
    if (lq_json_object(pr, &j, &pr->keybuf) != 0) {
        logql__set_err(pr, "JSONParserErr", json_errors[j.err < 0 ? JE_MALFORMED : j.err]);
    }
}

/* ---- json with parameters ---------------------------------------------------------------- */

/* Moves j to the member `name` of the object at j->i; 1 found, 0 not, -1 malformed. */
static int js_find_key(lq_json_t *j, const char *name)
{
    js_ws(j);
    if (j->i >= j->n || j->s[j->i] != '{') {
        return 0;
    }
    j->i++;
    size_t nl = strlen(name);
    for (;;) {
        size_t ks, ke, vs, ve;
        lq_jtype_t t;
        js_ws(j);
        if (j->i >= j->n || j->s[j->i] != '"' || js_string(j, &ks, &ke) != 0) {
            return j->i < j->n && j->s[j->i] == '}' ? 0 : -1;
        }
        js_ws(j);
        if (j->i >= j->n || j->s[j->i++] != ':') {
            return -1;
        }
        js_ws(j);
        if (ke - ks == nl && memcmp(j->s + ks, name, nl) == 0) {
            return 1;
        }
        if (js_value(j, &t, &vs, &ve) != 0) {
            return -1;
        }
        js_ws(j);
        if (j->i >= j->n || j->s[j->i] != ',') {
            return 0;
        }
        j->i++;
    }
}

/* Moves j to element `idx` of the array at j->i. */
static int js_find_index(lq_json_t *j, long idx)
{
    js_ws(j);
    if (j->i >= j->n || j->s[j->i] != '[') {
        return 0;
    }
    j->i++;
    for (long k = 0;; k++) {
        size_t vs, ve;
        lq_jtype_t t;
        js_ws(j);
        if (k == idx) {
            return j->i < j->n && j->s[j->i] != ']';
        }
        if (js_value(j, &t, &vs, &ve) != 0) {
            return -1;
        }
        js_ws(j);
        if (j->i >= j->n || j->s[j->i] != ',') {
            return 0;
        }
        j->i++;
    }
}

static void run_json_path(logql_proc_t *pr, const lq_extract_t *ex, buf_t *key)
{
    lq_json_t j = {.s = pr->line, .n = pr->len, .err = -1};
    int found = 1;
    for (size_t k = 0; found == 1 && k < ex->n_path; k++) {
        const char *seg = ex->path[k];
        found = seg[0] == '[' ? js_find_index(&j, strtol(seg + 1, NULL, 10)) : js_find_key(&j, seg);
    }
    size_t vs, ve;
    lq_jtype_t t = JV_NULL;
    if (found == 1 && js_value(&j, &t, &vs, &ve) != 0) {
        found = -1;
    }
    if (found < 0) {
        logql__set_err(pr, "JSONParserErr", json_errors[j.err < 0 ? JE_MALFORMED : j.err]);
        return;
    }
    buf_reset(key);
    buf_puts(key, ex->id);
    if (found == 0 || t == JV_NULL) {
        if (!logql__base_has(pr, key->data, key->len)) {
            logql__set(pr, key->data, key->len, "", 0);
        }
        return;
    }
    if (t == JV_OBJECT || t == JV_ARRAY) {
        set_extracted(pr, key, j.s + vs, ve - vs);
        return;
    }
    json_label_value(pr, t, j.s + vs, ve - vs);
    set_extracted(pr, key, pr->scratch.data, pr->scratch.len);
}

void logql__run_json(logql_proc_t *pr, const lq_cstage_t *cs)
{
    if (cs->n_ex == 0) {
        run_json_all(pr);
        return;
    }
    if (pr->len == 0) {
        return;
    }
    if (pr->line[0] != '"' && pr->line[0] != '{' && pr->line[0] != '[') {
        logql__set_err(pr, "JSONParserErr", NULL);
        return;
    }
    for (size_t i = 0; i < cs->n_ex; i++) {
        run_json_path(pr, &cs->ex[i], &pr->keybuf);
    }
}

/* ---- unpack ------------------------------------------------------------------------------ */

/* One string member of a packed entry becomes a label (sanitised, clash-checked on the raw
 * key as Loki does). */
static void unpack_label(logql_proc_t *pr, const char *k, size_t kn, const char *v, size_t vn)
{
    buf_t *key = &pr->keybuf;
    buf_reset(key);
    buf_append(key, k, kn);
    int dup = logql__base_has(pr, key->data, key->len);
    buf_reset(key);
    logql__sanitize_append(key, k, kn);
    buf_puts(key, dup ? DUP_SUFFIX : "");
    json_label_value(pr, JV_STRING, v, vn);
    logql__set(pr, key->data, key->len, pr->scratch.data, pr->scratch.len);
}

/* Walks the members of the object; *entry gets the extent of `_entry`. 1 packed, 0 not,
 * -1 malformed. */
static int unpack_members(logql_proc_t *pr, lq_json_t *j, size_t *entry_s, size_t *entry_e)
{
    int packed = 0;
    for (;;) {
        size_t ks, ke, vs, ve;
        lq_jtype_t t;
        js_ws(j);
        if (j->i < j->n && j->s[j->i] == '}') {
            return packed;
        }
        if (j->i >= j->n || j->s[j->i] != '"' || js_string(j, &ks, &ke) != 0) {
            return -1;
        }
        js_ws(j);
        if (j->i >= j->n || j->s[j->i++] != ':' || js_value(j, &t, &vs, &ve) != 0) {
            return -1;
        }
        if (t == JV_STRING && ke - ks == 6 && memcmp(j->s + ks, "_entry", 6) == 0) {
            packed = 1;
            *entry_s = vs;
            *entry_e = ve;
        } else if (t == JV_STRING) {
            unpack_label(pr, j->s + ks, ke - ks, j->s + vs, ve - vs);
        }
        js_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
        }
    }
}

/* Promtail's packed entries: string members become labels and `_entry` the line; without
 * `_entry` nothing is extracted (as Loki). Never filters: returns 1. */
int logql__run_unpack(logql_proc_t *pr)
{
    if (pr->len == 0) {
        return 1;
    }
    if (pr->line[0] != '{') {
        logql__set_err(pr, "JSONParserErr", "expecting json object(6), but it is not");
        return 1;
    }
    lq_json_t j = {.s = pr->line, .n = pr->len, .i = 1, .err = -1};
    size_t entry_s = 0, entry_e = 0, mark = pr->n_parsed;
    int packed = unpack_members(pr, &j, &entry_s, &entry_e);
    if (packed <= 0) {
        pr->n_parsed = mark;
        if (packed < 0) {
            logql__set_err(pr, "JSONParserErr", json_errors[j.err < 0 ? JE_MALFORMED : j.err]);
        }
        return 1;
    }
    buf_t *b = logql__line_begin(pr);
    json_unescape(b, j.s + entry_s, entry_e - entry_s);
    logql__line_commit(pr);
    return 1;
}

/* ---- logfmt ------------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    size_t n, pos;
    size_t ks, ke; /* key extent; ke == ks: none */
    const char *v; /* value (into s or the unquote buffer) */
    size_t vlen;
    const char *err_msg; /* first syntax error: Loki's decoder keeps it */
    size_t err_pos;
    buf_t *unq;
} lq_logfmt_t;

static void lf_error(lq_logfmt_t *d, const char *msg)
{
    d->err_msg = msg;
    d->err_pos = d->pos + 1;
}

static int lf_skip_value(lq_logfmt_t *d)
{
    while (d->pos < d->n && (unsigned char)d->s[d->pos] > ' ') {
        d->pos++;
    }
    return 0;
}

/* A quoted value at d->pos (the opening quote). */
static int lf_quoted(lq_logfmt_t *d)
{
    size_t start = d->pos;
    int esc = 0, has_esc = 0;
    for (size_t i = d->pos + 1; i < d->n; i++) {
        char c = d->s[i];
        if (esc) {
            esc = 0;
        } else if (c == '\\') {
            has_esc = esc = 1;
        } else if (c == '"') {
            d->pos = i + 1;
            if (!has_esc) {
                d->v = d->s + start + 1;
                d->vlen = i - start - 1;
                return 1;
            }
            buf_reset(d->unq);
            buf_reserve(d->unq, 1);
            if (json_unescape(d->unq, d->s + start + 1, i - start - 1) != 0) {
                lf_error(d, "invalid quoted value");
                return 0;
            }
            d->v = d->unq->data;
            d->vlen = d->unq->len;
            return 1;
        }
    }
    d->pos = d->n;
    lf_error(d, "unterminated quoted value");
    return 0;
}

static int lf_value(lq_logfmt_t *d)
{
    d->pos++; /* the `=` */
    if (d->pos >= d->n || (unsigned char)d->s[d->pos] <= ' ') {
        return 1;
    }
    if (d->s[d->pos] == '"') {
        return lf_quoted(d);
    }
    size_t start = d->pos;
    for (; d->pos < d->n && (unsigned char)d->s[d->pos] > ' '; d->pos++) {
        if (d->s[d->pos] == '=' || d->s[d->pos] == '"') {
            lf_error(d, d->s[d->pos] == '=' ? "unexpected '='" : "unexpected '\"'");
            return lf_skip_value(d);
        }
    }
    d->v = d->s + start;
    d->vlen = d->pos - start;
    return 1;
}

/* One key[=value]; 1 ok, 0 a syntax error (d->err_msg set) or the end of the line. */
static int lf_scan(lq_logfmt_t *d)
{
    d->ks = d->ke = 0;
    d->v = "";
    d->vlen = 0;
    while (d->pos < d->n && (unsigned char)d->s[d->pos] <= ' ') {
        d->pos++;
    }
    if (d->pos >= d->n) {
        return 0;
    }
    size_t start = d->pos;
    for (; d->pos < d->n; d->pos++) {
        char c = d->s[d->pos];
        if (c == '=') {
            if (d->pos == start) {
                lf_error(d, "unexpected '='");
                return lf_skip_value(d);
            }
            d->ks = start;
            d->ke = d->pos;
            return lf_value(d);
        }
        if (c == '"') {
            lf_error(d, "unexpected '\"'");
            return lf_skip_value(d);
        }
        if ((unsigned char)c <= ' ') {
            break;
        }
    }
    d->ks = start;
    d->ke = d->pos;
    return 1;
}

/* The id a logfmt parameter list maps a (sanitised) key to, or NULL. */
static const char *lf_param_id(const lq_cstage_t *cs, const char *key)
{
    for (size_t i = 0; i < cs->n_ex; i++) {
        if (strcmp(cs->ex[i].path[0], key) == 0) {
            return cs->ex[i].id;
        }
    }
    for (size_t i = 0; i < cs->n_ex; i++) {
        if (strcmp(cs->ex[i].id, key) == 0) {
            return cs->ex[i].id;
        }
    }
    return NULL;
}

static void logfmt_set(logql_proc_t *pr, const lq_cstage_t *cs, lq_logfmt_t *d, buf_t *key)
{
    buf_reset(key);
    logql__sanitize_append(key, d->s + d->ks, d->ke - d->ks);
    if (key->len == 0 || (!cs->src->keep_empty && d->vlen == 0 && cs->n_ex == 0)) {
        return;
    }
    if (cs->n_ex > 0) {
        const char *id = lf_param_id(cs, key->data);
        if (id == NULL) {
            return;
        }
        buf_reset(key);
        buf_puts(key, id);
    }
    if (logql__base_has(pr, key->data, key->len)) {
        buf_puts(key, DUP_SUFFIX);
    }
    /* Invalid UTF-8 (and U+FFFD) become spaces, as Loki maps utf8.RuneError. */
    buf_reset(&pr->scratch);
    buf_reserve(&pr->scratch, d->vlen + 1);
    buf_append(&pr->scratch, d->v, d->vlen);
    scrub_utf8(&pr->scratch, 0);
    logql__set(pr, key->data, key->len, pr->scratch.data, pr->scratch.len);
}

void logql__run_logfmt(logql_proc_t *pr, const lq_cstage_t *cs)
{
    lq_logfmt_t d = {.s = pr->line, .n = pr->len, .unq = &pr->unqbuf};
    for (size_t i = 0; i < cs->n_ex; i++) {
        if (!logql__base_has(pr, cs->ex[i].id, strlen(cs->ex[i].id))) {
            logql__set(pr, cs->ex[i].id, strlen(cs->ex[i].id), "", 0);
        }
    }
    while (d.pos < d.n) {
        int ok = lf_scan(&d);
        if (!ok && cs->src->strict && d.err_msg != NULL) {
            break;
        }
        if (ok && d.ke > d.ks) {
            logfmt_set(pr, cs, &d, &pr->keybuf);
        }
    }
    if (cs->src->strict && d.err_msg != NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "logfmt syntax error at pos %zu : %s", d.err_pos, d.err_msg);
        logql__set_err(pr, "LogfmtParserErr", msg);
    }
}

/* ---- regexp and pattern ------------------------------------------------------------------ */

static void pcre_release(void *code)
{
    pcre2_code_free(code);
}

static int regexp_names(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(cs->code, PCRE2_INFO_CAPTURECOUNT, &cs->n_groups);
    pcre2_pattern_info(cs->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(cs->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(cs->code, PCRE2_INFO_NAMETABLE, &table);
    cs->group_names = arena_calloc(a, (cs->n_groups + 1) * sizeof(char *));
    if (cs->group_names == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *ent = table + i * size;
        uint32_t idx = ((uint32_t)ent[0] << 8) | ent[1];
        if (idx <= cs->n_groups) {
            cs->group_names[idx] = arena_strdup(a, (const char *)ent + 2);
        }
    }
    if (count == 0) {
        err_set(err, ERR_BAD_DATA,
                "parse error : invalid regexp parser: at least one named capture must be supplied");
        return -1;
    }
    return 0;
}

int logql__compile_regexp(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_UTF;
    err_t re_err = {0};
    /* The shared RE2 matcher rejects what Go's regexp rejects, with Go's wording. */
    if (matcher_new_arena(a, MATCH_RE, "re", cs->src->text, &re_err) == NULL) {
        return err_set(err, ERR_BAD_DATA, "parse error : invalid regexp parser: %s", re_err.msg);
    }
#ifdef PCRE2_MATCH_INVALID_UTF
    opts |= PCRE2_MATCH_INVALID_UTF;
#endif
    cs->code =
        pcre2_compile((PCRE2_SPTR)cs->src->text, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (cs->code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        err_set(err, ERR_BAD_DATA, "parse error : invalid regexp parser: error parsing regexp: %s",
                (char *)msg);
        return -1;
    }
    if (arena_on_free(a, pcre_release, cs->code) != 0) {
        pcre2_code_free(cs->code);
        return -1;
    }
    pcre2_jit_compile(cs->code, PCRE2_JIT_COMPLETE);
    return regexp_names(a, cs, err);
}

static void set_capture(logql_proc_t *pr, const char *name, const char *v, size_t vlen)
{
    buf_reset(&pr->keybuf);
    logql__sanitize_append(&pr->keybuf, name, strlen(name));
    set_extracted(pr, &pr->keybuf, v, vlen);
}

void logql__run_regexp(logql_proc_t *pr, const lq_cstage_t *cs)
{
    pcre2_match_data *md = pr->match;
    if (md == NULL || pcre2_get_ovector_count(md) <= cs->n_groups) {
        /* Grown once per processor for patterns with many groups. */
        if (md != NULL) {
            pcre2_match_data_free(md);
        }
        md = pr->match = pcre2_match_data_create_from_pattern(cs->code, NULL);
    }
    int rc = pcre2_match(cs->code, (PCRE2_SPTR)pr->line, pr->len, 0, 0, md, NULL);
    if (rc < 0) {
        return;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (uint32_t g = 1; g <= cs->n_groups; g++) {
        if (cs->group_names[g] == NULL) {
            continue;
        }
        size_t s = ov[2 * g], e = ov[2 * g + 1];
        if (s == PCRE2_UNSET || (int)g >= rc) {
            s = e = 0;
        }
        set_capture(pr, cs->group_names[g], pr->line + s, e - s);
    }
}

void logql__run_pattern(logql_proc_t *pr, const lq_cstage_t *cs)
{
    size_t off[64], len[64];
    size_t n = logql__pattern_match(cs->pattern, pr->line, pr->len, off, len);
    for (size_t i = 0; i < n; i++) {
        set_capture(pr, logql__pattern_name(cs->pattern, i), pr->line + off[i], len[i]);
    }
}

/* ---- parameters -------------------------------------------------------------------------- */

/* Splits a json path `a.b[0]["c d"]` into segments. */
static int split_json_path(arena_t *a, const char *expr, lq_extract_t *ex)
{
    const char *p = expr;
    const char **segs = arena_calloc(a, (strlen(expr) + 1) * sizeof(char *));
    size_t n = 0;
    if (segs == NULL) {
        return -1;
    }
    while (*p != '\0') {
        if (*p == '.') {
            p++;
        } else if (p[0] == '[' && p[1] == '"') {
            const char *e = strstr(p + 2, "\"]");
            if (e == NULL) {
                return -1;
            }
            segs[n++] = arena_strndup(a, p + 2, (size_t)(e - p - 2));
            p = e + 2;
        } else if (*p == '[') {
            const char *e = strchr(p, ']');
            if (e == NULL || e == p + 1) {
                return -1;
            }
            for (const char *d = p + 1; d < e; d++) {
                if (!isdigit((unsigned char)*d)) {
                    return -1;
                }
            }
            segs[n++] = arena_strndup(a, p, (size_t)(e - p + 1));
            p = e + 1;
        } else {
            size_t l = strcspn(p, ".[");
            segs[n++] = arena_strndup(a, p, l);
            p += l;
        }
    }
    ex->path = segs;
    ex->n_path = n;
    return n > 0 ? 0 : -1;
}

int logql__compile_extractions(arena_t *a, lq_cstage_t *cs, err_t *err)
{
    const lq_stage_t *st = cs->src;
    cs->n_ex = st->n_items;
    cs->ex = arena_calloc(a, (st->n_items + 1) * sizeof(*cs->ex));
    if (cs->ex == NULL) {
        return -1;
    }
    for (size_t i = 0; i < st->n_items; i++) {
        lq_extract_t *ex = &cs->ex[i];
        ex->id = st->items[i].name;
        if (st->kind == ST_LOGFMT) {
            ex->path = arena_calloc(a, sizeof(char *));
            if (ex->path == NULL) {
                return -1;
            }
            ex->path[0] = st->items[i].value;
            ex->n_path = 1;
        } else if (split_json_path(a, st->items[i].value, ex) != 0) {
            err_set(err, ERR_BAD_DATA, "parse error : cannot parse expression [%s]: syntax error",
                    st->items[i].value);
            return -1;
        }
    }
    return 0;
}
