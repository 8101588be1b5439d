/* common/labels_text.c - label text: Go-compatible UTF-8 decoding, strconv.Quote-style
 * quoting, PromQL string literal unquoting, and parsing/printing of label sets. */
#include <string.h>

#include "common/labels.h"
#include "common/labels_int.h"

/* Non-printable code points >= U+0080 in Go's sense (categories Cc, Cf, Zs, Zl, Zp, Co, Cs).
 * Derived from the Unicode 14 character database; unassigned code points are not listed. */
static const struct {
    uint32_t lo, hi;
} nonprint[] = {
    {0x80, 0xa0},       {0xad, 0xad},       {0x600, 0x605},     {0x61c, 0x61c},
    {0x6dd, 0x6dd},     {0x70f, 0x70f},     {0x890, 0x891},     {0x8e2, 0x8e2},
    {0x1680, 0x1680},   {0x180e, 0x180e},   {0x2000, 0x200f},   {0x2028, 0x202f},
    {0x205f, 0x2064},   {0x2066, 0x206f},   {0x3000, 0x3000},   {0xd800, 0xf8ff},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x13438}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f}, {0xf0000, 0xffffd}, {0x100000, 0x10fffd},
};

static int rune_is_print(uint32_t r)
{
    if (r < 0x80) {
        return r >= 0x20 && r < 0x7f;
    }
    size_t lo = 0, hi = sizeof(nonprint) / sizeof(nonprint[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r < nonprint[mid].lo) {
            hi = mid;
        } else if (r > nonprint[mid].hi) {
            lo = mid + 1;
        } else {
            return 0;
        }
    }
    /* U+xxFFFE and U+xxFFFF are noncharacters in every plane. */
    return (r & 0xfffe) != 0xfffe;
}

int labels__utf8_decode(const unsigned char *s, size_t n, uint32_t *r)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *r = c;
        return 1;
    }
    int w = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (w == 0 || c > 0xf4 || (size_t)w > n) {
        return 0;
    }
    uint32_t v = c & (0x7f >> w);
    for (int i = 1; i < w; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid as in Go. */
    if ((w == 3 && v < 0x800) || (w == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    *r = v;
    return w;
}

void labels__utf8_encode(buf_t *out, uint32_t r)
{
    char b[4];
    size_t n;
    if (r < 0x80) {
        b[0] = (char)r;
        n = 1;
    } else if (r < 0x800) {
        b[0] = (char)(0xc0 | (r >> 6));
        b[1] = (char)(0x80 | (r & 0x3f));
        n = 2;
    } else if (r < 0x10000) {
        b[0] = (char)(0xe0 | (r >> 12));
        b[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        b[2] = (char)(0x80 | (r & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (r >> 18));
        b[1] = (char)(0x80 | ((r >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3f));
        b[3] = (char)(0x80 | (r & 0x3f));
        n = 4;
    }
    buf_append(out, b, n);
}

int labels_is_valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t r;
    for (size_t i = 0; i < n;) {
        int w = labels__utf8_decode(p + i, n - i, &r);
        if (w == 0) {
            return 0;
        }
        i += (size_t)w;
    }
    return 1;
}

static int ident_char(unsigned char c, int first, int allow_colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':')) {
        return 1;
    }
    return !first && c >= '0' && c <= '9';
}

size_t labels__ident_len(const char *s, int allow_colon)
{
    size_t i = 0;
    while (s[i] != '\0' && ident_char((unsigned char)s[i], i == 0, allow_colon)) {
        i++;
    }
    return i;
}

static int valid_ident(const char *s, size_t n, int allow_colon)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ident_char((unsigned char)s[i], i == 0, allow_colon)) {
            return 0;
        }
    }
    return 1;
}

int labels_is_valid_name(const char *s, size_t n)
{
    return valid_ident(s, n, 0);
}

int labels_is_valid_metric_name(const char *s, size_t n)
{
    return valid_ident(s, n, 1);
}

/* ---- quoting --------------------------------------------------------------------------- */

static void put_escaped_rune(buf_t *out, uint32_t r)
{
    static const char short_esc[] = {['\a'] = 'a', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
                                     ['\r'] = 'r', ['\t'] = 't', ['\v'] = 'v'};
    if (r < sizeof(short_esc) && short_esc[r] != 0) {
        buf_putc(out, '\\');
        buf_putc(out, short_esc[r]);
    } else if (r < 0x20 || r == 0x7f) {
        buf_printf(out, "\\x%02x", r);
    } else if (r < 0x10000) {
        buf_printf(out, "\\u%04x", r);
    } else {
        buf_printf(out, "\\U%08x", r);
    }
}

void labels_quote(buf_t *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    buf_reserve(out, n + 2);
    buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        uint32_t r;
        int w = labels__utf8_decode(p + i, n - i, &r);
        if (w == 0) {
            buf_printf(out, "\\x%02x", p[i]);
            i++;
            continue;
        }
        if (r == '"' || r == '\\') {
            buf_putc(out, '\\');
            buf_putc(out, (char)r);
        } else if (rune_is_print(r)) {
            buf_append(out, p + i, (size_t)w);
        } else {
            put_escaped_rune(out, r);
        }
        i += (size_t)w;
    }
    buf_putc(out, '"');
}

void labels__put_name(buf_t *out, const char *s)
{
    size_t n = strlen(s);
    if (labels_is_valid_name(s, n)) {
        buf_append(out, s, n);
    } else {
        labels_quote(out, s, n);
    }
}

/* ---- unquoting ------------------------------------------------------------------------- */

/* Numeric escape after the backslash at s[0] ('0'-'7', 'x', 'u', 'U'). Appends the byte or
 * rune; returns the escape's length after the backslash, or 0 with *why set. */
static size_t numeric_escape(const char *s, buf_t *out, const char **why)
{
    int digits = 3, base = 8, skip = 0;
    uint32_t max = 255;
    if (s[0] == 'x') {
        digits = 2, base = 16, skip = 1;
    } else if (s[0] == 'u') {
        digits = 4, base = 16, skip = 1, max = 0x10ffff;
    } else if (s[0] == 'U') {
        digits = 8, base = 16, skip = 1, max = 0x10ffff;
    }
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int d = buf_hex_digit((unsigned char)s[skip + i]);
        if (d < 0 || d >= base) {
            *why = s[skip + i] == '\0' ? "escape sequence not terminated"
                                       : "illegal character in escape sequence";
            return 0;
        }
        v = v * (uint32_t)base + (uint32_t)d;
    }
    if (v > max || (v >= 0xd800 && v <= 0xdfff)) {
        *why = "escape sequence is an invalid Unicode code point";
        return 0;
    }
    if (max == 255) {
        buf_putc(out, (char)v); /* octal and \x give raw bytes */
    } else {
        labels__utf8_encode(out, v);
    }
    return (size_t)(skip + digits);
}

/* One escape after the backslash at s[0] inside a literal quoted with q. */
static size_t one_escape(const char *s, char q, buf_t *out, const char **why)
{
    static const char simple[][2] = {{'a', '\a'}, {'b', '\b'}, {'f', '\f'}, {'n', '\n'},
                                     {'r', '\r'}, {'t', '\t'}, {'v', '\v'}, {'\\', '\\'}};
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (s[0] == simple[i][0]) {
            buf_putc(out, simple[i][1]);
            return 1;
        }
    }
    if (s[0] == q) {
        buf_putc(out, q);
        return 1;
    }
    if ((s[0] >= '0' && s[0] <= '7') || s[0] == 'x' || s[0] == 'u' || s[0] == 'U') {
        return numeric_escape(s, out, why);
    }
    *why = s[0] == '\0' ? "escape sequence not terminated" : "unknown escape sequence";
    return 0;
}

static char *finish_unquote(arena_t *a, buf_t *b, labels__text_err_t *e)
{
    char *r = arena_strndup(a, b->data != NULL ? b->data : "", b->len);
    buf_fini(b);
    if (r == NULL) {
        e->msg = NULL;
        e->off = 0;
    }
    return r;
}

char *labels__unquote(arena_t *a, const char *s, size_t *consumed, labels__text_err_t *e)
{
    char q = s[0];
    buf_t b;
    buf_init(&b);
    size_t i = 1;
    if (q == '`') {
        const char *end = strchr(s + 1, '`');
        if (end == NULL) {
            goto unterminated;
        }
        buf_append(&b, s + 1, (size_t)(end - s - 1));
        *consumed = (size_t)(end - s) + 1;
        return finish_unquote(a, &b, e);
    }
    while (s[i] != q) {
        if (s[i] == '\0' || s[i] == '\n') {
            goto unterminated;
        }
        if (s[i] != '\\') {
            buf_putc(&b, s[i++]);
            continue;
        }
        const char *why = NULL;
        size_t n = one_escape(s + i + 1, q, &b, &why);
        if (n == 0) {
            e->msg = why;
            e->off = i;
            buf_fini(&b);
            return NULL;
        }
        i += 1 + n;
    }
    *consumed = i + 1;
    return finish_unquote(a, &b, e);
unterminated:
    buf_fini(&b);
    e->msg = "unterminated quoted string";
    e->off = 0;
    return NULL;
}

char *labels_unquote(arena_t *a, const char *s, size_t *consumed, err_t *err)
{
    labels__text_err_t e = {0};
    if (s[0] != '"' && s[0] != '\'' && s[0] != '`') {
        err_set(err, ERR_BAD_DATA, "string literal must start with a quote");
        return NULL;
    }
    char *r = labels__unquote(a, s, consumed, &e);
    if (r == NULL && e.msg != NULL) {
        err_set(err, ERR_BAD_DATA, "%s", e.msg);
    }
    return r;
}

/* ---- parse ----------------------------------------------------------------------------- */

size_t labels__skip_space(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
        i++;
    }
    return i;
}

typedef struct {
    arena_t *a;
    const char *s;
    size_t i;
    label_t *items;
    size_t n, cap;
    err_t *err;
} set_parser_t;

static int parse_fail(set_parser_t *p, size_t off, const char *msg)
{
    return err_set(p->err, ERR_BAD_DATA, "1:%zu: parse error: %s", off + 1, msg);
}

/* Appends a pair; a NULL name or value (an arena copy that failed) is the budget error. */
static int add_item(set_parser_t *p, const char *name, const char *value)
{
    if (name == NULL || value == NULL) {
        return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing labels");
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        label_t *items = arena_realloc(p->a, p->items, p->cap * sizeof(label_t),
                                       cap * sizeof(label_t));
        if (items == NULL) {
            return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing labels");
        }
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = (label_t){name, value};
    return 0;
}

/* A quoted string at p->i; NULL with the error set otherwise. */
static char *parse_string(set_parser_t *p)
{
    char c = p->s[p->i];
    if (c != '"' && c != '\'' && c != '`') {
        parse_fail(p, p->i, c == '\0' ? "unexpected end of input, expected string"
                                      : "expected quoted string");
        return NULL;
    }
    labels__text_err_t e = {0};
    size_t used = 0;
    char *v = labels__unquote(p->a, p->s + p->i, &used, &e);
    if (v == NULL) {
        if (e.msg != NULL) {
            parse_fail(p, p->i + e.off, e.msg);
        }
        return NULL;
    }
    p->i += used;
    return v;
}

/* name="value", "name"="value", or a lone "metric name" inside braces. */
static int parse_item(set_parser_t *p)
{
    const char *name;
    size_t len = labels__ident_len(p->s + p->i, 0);
    if (len > 0) {
        if ((name = arena_strndup(p->a, p->s + p->i, len)) == NULL) {
            return add_item(p, NULL, NULL);
        }
        p->i += len;
    } else if ((name = parse_string(p)) == NULL) {
        return -1;
    }
    p->i = labels__skip_space(p->s, p->i);
    if (p->s[p->i] != '=') {
        if (len == 0 && (p->s[p->i] == ',' || p->s[p->i] == '}')) {
            return add_item(p, "__name__", name);
        }
        return parse_fail(p, p->i, "expected \"=\" after label name");
    }
    p->i = labels__skip_space(p->s, p->i + 1);
    const char *value = parse_string(p);
    return value != NULL ? add_item(p, name, value) : -1;
}

static int parse_braces(set_parser_t *p)
{
    p->i = labels__skip_space(p->s, p->i + 1);
    while (p->s[p->i] != '}') {
        if (p->s[p->i] == '\0') {
            return parse_fail(p, p->i, "unexpected end of input inside braces");
        }
        if (parse_item(p) != 0) {
            return -1;
        }
        p->i = labels__skip_space(p->s, p->i);
        if (p->s[p->i] == ',') {
            p->i = labels__skip_space(p->s, p->i + 1);
        } else if (p->s[p->i] != '}') {
            return parse_fail(p, p->i, "expected \",\" or \"}\" after label");
        }
    }
    p->i++;
    return 0;
}

labels_t *labels_parse(arena_t *a, const char *s, err_t *err)
{
    set_parser_t p = {.a = a, .s = s, .err = err};
    p.i = labels__skip_space(s, 0);
    size_t len = labels__ident_len(s + p.i, 1);
    if (len > 0) {
        if (add_item(&p, "__name__", arena_strndup(a, s + p.i, len)) != 0) {
            return NULL;
        }
        p.i = labels__skip_space(s, p.i + len);
    }
    if (s[p.i] == '{') {
        if (parse_braces(&p) != 0) {
            return NULL;
        }
        p.i = labels__skip_space(s, p.i);
    } else if (len == 0) {
        parse_fail(&p, p.i, "expected metric name or \"{\"");
        return NULL;
    }
    if (s[p.i] != '\0') {
        parse_fail(&p, p.i, "unexpected character after label set");
        return NULL;
    }
    return labels_new_arena(a, p.items, p.n, err);
}

/* ---- format ---------------------------------------------------------------------------- */

static void put_pair(buf_t *out, label_t l)
{
    labels__put_name(out, l.name);
    buf_putc(out, '=');
    labels_quote(out, l.value, strlen(l.value));
}

void labels_format(const labels_t *ls, buf_t *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < labels_len(ls); i++) {
        if (i > 0) {
            buf_puts(out, ", ");
        }
        put_pair(out, labels_at(ls, i));
    }
    buf_putc(out, '}');
}

void labels_format_series(const labels_t *ls, buf_t *out)
{
    const char *metric = labels_get(ls, "__name__");
    size_t n = labels_len(ls), shown = 0;
    int bare = metric != NULL && labels_is_valid_metric_name(metric, strlen(metric));
    if (bare) {
        buf_puts(out, metric);
        if (n == 1) {
            return;
        }
    }
    buf_putc(out, '{');
    if (metric != NULL && !bare) {
        labels_quote(out, metric, strlen(metric));
        shown++;
    }
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ls, i);
        if (strcmp(l.name, "__name__") == 0) {
            continue;
        }
        if (shown++ > 0) {
            buf_puts(out, ", ");
        }
        put_pair(out, l);
    }
    buf_putc(out, '}');
}
