/* common/jsonw.c - streaming JSON writer (see jsonw.h) and Prometheus/Go number formatting.
 *
 * DESIGN: the writer keeps one byte per open container saying whether it is still empty, so
 * the comma before each element is decided without help from the caller; a key sets
 * `after_key` so the value that follows takes no comma. Output bytes follow Go's
 * encoding/json (what Prometheus, Mimir, Loki and Alertmanager emit): HTML-sensitive bytes
 * and U+2028/U+2029 escaped, invalid UTF-8 replaced by \ufffd one byte at a time.
 * Floats are formatted by common/gofloat.c (Go's strconv.FormatFloat). */
#include "common/jsonw.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gofloat.h"
#include "common/mem.h"

struct jsonw {
    buf_t *out;
    unsigned char *is_empty; /* per open container: no element written yet */
    size_t depth, cap;
    int after_key;
};

jsonw_t *jsonw_new(buf_t *out)
{
    jsonw_t *w = xcalloc(1, sizeof(*w));
    w->out = out;
    return w;
}

void jsonw_free(jsonw_t *w)
{
    if (w == NULL) {
        return;
    }
    free(w->is_empty);
    free(w);
}

/* Writes the separator a new element needs in the current container. */
static void jsonw_sep(jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) {
        return;
    }
    if (!w->is_empty[w->depth - 1]) {
        buf_putc(w->out, ',');
    }
    w->is_empty[w->depth - 1] = 0;
}

static void jsonw_open(jsonw_t *w, char c)
{
    jsonw_sep(w);
    buf_putc(w->out, c);
    xgrow((void **)&w->is_empty, &w->cap, w->depth + 1, 1);
    w->is_empty[w->depth++] = 1;
}

static void jsonw_close(jsonw_t *w, char c)
{
    if (w->depth > 0) {
        w->depth--;
    }
    buf_putc(w->out, c);
}

void jsonw_obj_begin(jsonw_t *w)
{
    jsonw_open(w, '{');
}

void jsonw_obj_end(jsonw_t *w)
{
    jsonw_close(w, '}');
}

void jsonw_arr_begin(jsonw_t *w)
{
    jsonw_open(w, '[');
}

void jsonw_arr_end(jsonw_t *w)
{
    jsonw_close(w, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. Same acceptance as
 * Go's utf8.DecodeRune: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, *cp = c & 0x07;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, *cp = c & 0x0f;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, *cp = c & 0x1f;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* Escape for an ASCII byte, or NULL when it is written as is. `tmp` holds \u00XX forms. */
static const char *ascii_escape(unsigned char c, unsigned flags, char tmp[8])
{
    if ((c == '\b' || c == '\f') && (flags & JSONW_QUOTE_GO_LEGACY)) {
        snprintf(tmp, 8, "\\u%04x", c);
        return tmp;
    }
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    /* Go escapes < > & too, so the bytes match what upstream's json.Marshal sends. */
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        snprintf(tmp, 8, "\\u%04x", c);
        return tmp;
    }
    return NULL;
}

/* Writes one non-ASCII character at s; returns the bytes consumed. */
static size_t put_non_ascii(buf_t *out, const unsigned char *s, size_t n)
{
    unsigned cp = 0;
    size_t len = utf8_valid_len(s, n, &cp);
    if (len == 0) {
        buf_puts(out, "\\ufffd");
        return 1;
    }
    if (cp == 0x2028 || cp == 0x2029) {
        buf_printf(out, "\\u%04x", cp);
    } else {
        buf_append(out, s, len);
    }
    return len;
}

void jsonw_quote(buf_t *out, const char *str, size_t n, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)str;
    char tmp[8];
    buf_putc(out, '"');
    size_t i = 0, run = 0; /* run: start of pending bytes that need no escaping */
    while (i < n) {
        const char *esc = s[i] < 0x80 ? ascii_escape(s[i], flags, tmp) : NULL;
        if (s[i] < 0x80 && esc == NULL) {
            i++;
            continue;
        }
        buf_append(out, s + run, i - run);
        if (esc != NULL) {
            buf_puts(out, esc);
            i++;
        } else {
            i += put_non_ascii(out, s + i, n - i);
        }
        run = i;
    }
    buf_append(out, s + run, n - run);
    buf_putc(out, '"');
}

void jsonw_key(jsonw_t *w, const char *key)
{
    jsonw_sep(w);
    jsonw_quote(w->out, key, strlen(key), 0);
    buf_putc(w->out, ':');
    w->after_key = 1;
}

void jsonw_str(jsonw_t *w, const char *s)
{
    jsonw_strn(w, s, strlen(s));
}

void jsonw_strn(jsonw_t *w, const char *s, size_t n)
{
    jsonw_sep(w);
    jsonw_quote(w->out, s, n, 0);
}

void jsonw_int(jsonw_t *w, int64_t v)
{
    jsonw_sep(w);
    buf_printf(w->out, "%lld", (long long)v);
}

void jsonw_bool(jsonw_t *w, int v)
{
    jsonw_sep(w);
    buf_puts(w->out, v ? "true" : "false");
}

void jsonw_null(jsonw_t *w)
{
    jsonw_sep(w);
    buf_puts(w->out, "null");
}

void jsonw_raw(jsonw_t *w, const char *json)
{
    jsonw_sep(w);
    buf_puts(w->out, json);
}

void jsonw_prom_time(jsonw_t *w, int64_t ms)
{
    /* Prometheus' jsonutil.MarshalTimestamp: seconds, then '.' and the milliseconds padded
     * to 3 digits when not zero (1500 -> 1.500); integer arithmetic, no rounding. */
    char tmp[32];
    uint64_t abs_ms = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    unsigned frac = (unsigned)(abs_ms % 1000);
    int len = snprintf(tmp, sizeof(tmp), "%s%llu", ms < 0 ? "-" : "",
                       (unsigned long long)(abs_ms / 1000));
    if (frac != 0) {
        len += snprintf(tmp + len, sizeof(tmp) - (size_t)len, ".%03u", frac);
    }
    jsonw_sep(w);
    buf_append(w->out, tmp, (size_t)len);
}

/* ---- floats: common/gofloat.c ----------------------------------------------------------- */

size_t prom_float_format(double v, char *out, size_t n)
{
    return gofloat_prom(v, out, n);
}

void jsonw_prom_float(jsonw_t *w, double v)
{
    char tmp[GOFLOAT_SHORTEST_MAX + 2];
    jsonw_sep(w);
    tmp[0] = '"';
    size_t len = gofloat_prom(v, tmp + 1, sizeof(tmp) - 2);
    tmp[len + 1] = '"';
    buf_append(w->out, tmp, len + 2);
}

void jsonw_double(jsonw_t *w, double v)
{
    char tmp[GOFLOAT_SHORTEST_MAX];
    jsonw_sep(w);
    if (!isfinite(v)) {
        buf_puts(w->out, "null");
        return;
    }
    buf_append(w->out, tmp, gofloat_json(v, tmp, sizeof(tmp)));
}

void jsonw_json(jsonw_t *w, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        jsonw_obj_begin(w);
        json_object_foreach ((json_t *)v, key, item) {
            jsonw_key(w, key);
            jsonw_json(w, item);
        }
        jsonw_obj_end(w);
        break;
    case JSON_ARRAY:
        jsonw_arr_begin(w);
        json_array_foreach (v, i, item) {
            jsonw_json(w, item);
        }
        jsonw_arr_end(w);
        break;
    case JSON_STRING:
        jsonw_strn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jsonw_int(w, json_integer_value(v));
        break;
    case JSON_REAL:
        jsonw_double(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        jsonw_bool(w, json_is_true(v));
        break;
    case JSON_NULL:
        jsonw_null(w);
        break;
    }
}

void jsonw_labels(jsonw_t *w, const labels_t *ls)
{
    jsonw_obj_begin(w);
    for (size_t i = 0; ls != NULL && i < labels_len(ls); i++) {
        label_t l = labels_at(ls, i);
        jsonw_key(w, l.name);
        jsonw_str(w, l.value);
    }
    jsonw_obj_end(w);
}
