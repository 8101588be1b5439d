/* common/matchers_re.c - RE2 patterns on pcre2: translation and fast-path analysis.
 *
 * DESIGN: Prometheus compiles a matcher regex with Go's regexp as `^(?s:re)$`. pcre2 accepts
 * a superset of RE2 with a few different meanings, so the pattern is rewritten token by
 * token: RE2-only escapes become pcre2 spellings (\v, \s, octal, \Q..\E), pcre2-only syntax
 * RE2 rejects (backreferences, lookarounds, possessive and nested quantifiers, \C, \h, \R,
 * verbs) fails with Go's error text, and literal `{` is escaped so pcre2 never reads it as a
 * quantifier RE2 would not. Anchoring, `(?s)` and `$` = end of text are compile options
 * chosen in matchers.c. The analysis reads the same syntax to find literals, literal sets,
 * prefixes and `.*`/`.+` shapes that need no regex engine at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/labels.h"
#include "common/labels_int.h"
#include "common/matchers_int.h"
#include "common/mem.h"

/* Go bounds {n,m} repeat counts at 1000. */
#define RE_MAX_REPEAT 1000

typedef struct {
    const char *re;
    size_t i;
    buf_t *out;
    err_t *err;
    int depth;      /* open groups */
    int can_repeat; /* the previous item takes a quantifier */
    int repeated;   /* the item just translated is a quantifier */
    int prev_quant; /* the item before the current one is a quantifier */
    size_t quant_at; /* where the last quantifier started */
} re_tr_t;

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int tr_fail(re_tr_t *t, const char *what, const char *arg, size_t arg_len)
{
    return err_set(t->err, ERR_BAD_DATA, "error parsing regexp: %s: `%.*s`", what, (int)arg_len,
                   arg);
}

static int is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* \x: two hex digits or \x{hex}; appends \x{...}. Returns the bytes used after 'x', or 0. */
static size_t tr_hex(const char *s, buf_t *out)
{
    const char *hex = "0123456789abcdefABCDEF";
    if (s[0] == '{') {
        size_t n = strspn(s + 1, hex);
        if (n == 0 || n > 8 || s[1 + n] != '}' || strtoul(s + 1, NULL, 16) > 0x10ffff) {
            return 0;
        }
        buf_printf(out, "\\x{%.*s}", (int)n, s + 1);
        return n + 2;
    }
    if (strspn(s, hex) < 2) {
        return 0;
    }
    buf_printf(out, "\\x{%.2s}", s);
    return 2;
}

/* Escapes that mean the same inside and outside a class. Returns the bytes used after the
 * backslash, 0 if the escape is not one of these. */
static size_t tr_common_escape(const char *s, buf_t *out)
{
    static const char *const map[128] = {
        ['a'] = "\\x07", ['f'] = "\\f", ['n'] = "\\n", ['r'] = "\\r", ['t'] = "\\t",
        ['v'] = "\\x0B", ['d'] = "\\d", ['D'] = "\\D", ['w'] = "\\w", ['W'] = "\\W",
    };
    unsigned char c = (unsigned char)s[0];
    if (c < 128 && map[c] != NULL) {
        buf_puts(out, map[c]);
        return 1;
    }
    if (c != '\0' && c < 0x80 && !is_alnum(c)) {
        buf_putc(out, '\\'); /* escaped punctuation is that character in both */
        buf_putc(out, (char)c);
        return 1;
    }
    if (c == 'x') {
        size_t n = tr_hex(s + 1, out);
        return n ? n + 1 : 0;
    }
    /* Octal: \0 with up to two more digits, or \1-\7 followed by at least one more (a lone
     * \1 would be a backreference, which RE2 lacks). */
    if (is_octal((char)c) && (c == '0' || is_octal(s[1]))) {
        size_t n = 0;
        unsigned v = 0;
        while (n < 3 && is_octal(s[n])) {
            v = v * 8 + (unsigned)(s[n++] - '0');
        }
        buf_printf(out, "\\x{%x}", v);
        return n;
    }
    if ((c == 'p' || c == 'P') && s[1] != '\0') {
        size_t n = s[1] == '{' ? strcspn(s, "}") + 1 : 2;
        if (s[1] == '{' && s[n - 1] != '}') {
            return 0;
        }
        buf_append(out, s - 1, n + 1);
        return n;
    }
    return 0;
}

static int tr_bad_escape(re_tr_t *t)
{
    const char *s = t->re + t->i;
    uint32_t r;
    if (s[1] == '\0') {
        return err_set(t->err, ERR_BAD_DATA, "error parsing regexp: trailing backslash at end of "
                                             "expression: ``");
    }
    int w = labels__utf8_decode((const unsigned char *)s + 1, strlen(s + 1), &r);
    return tr_fail(t, "invalid escape sequence", s, 1 + (size_t)(w > 0 ? w : 1));
}

/* \Q...\E: everything up to \E (or the end) is literal. */
static void tr_quoted(re_tr_t *t)
{
    const char *s = t->re + t->i + 2;
    const char *end = strstr(s, "\\E");
    size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x80 && !is_alnum(c) && c != ' ') {
            buf_putc(t->out, '\\');
        }
        buf_putc(t->out, (char)c);
    }
    t->i += 2 + n + (end != NULL ? 2 : 0);
    t->can_repeat = n > 0;
}

static int tr_escape(re_tr_t *t)
{
    const char *s = t->re + t->i + 1;
    switch (s[0]) {
    case 'A': case 'z': case 'b': case 'B':
        /* Grouped: RE2 lets assertions take quantifiers (`\b*`), pcre2 only groups. */
        buf_printf(t->out, "(?:\\%c)", s[0]);
        t->i += 2;
        t->can_repeat = 1;
        return 0;
    case 's': case 'S':
        buf_puts(t->out, s[0] == 's' ? "[\\t\\n\\f\\r ]" : "[^\\t\\n\\f\\r ]");
        t->i += 2;
        t->can_repeat = 1;
        return 0;
    case 'Q':
        tr_quoted(t);
        return 0;
    default: {
        size_t n = tr_common_escape(s, t->out);
        if (n == 0) {
            return tr_bad_escape(t);
        }
        t->i += 1 + n;
        t->can_repeat = 1;
        return 0;
    }
    }
}

/* RE2's ASCII classes as code point ranges: pcre2 is given the ranges (negated ones as the
 * complement) because it mishandles some combinations such as [[:^alpha:][:digit:]]. */
typedef struct {
    const char *name;
    unsigned char ranges[5][2];
} posix_class_t;

static const posix_class_t posix_classes[] = {
    {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}},
    {"alpha", {{'A', 'Z'}, {'a', 'z'}}},
    {"ascii", {{0x00, 0x7f}}},
    {"blank", {{'\t', '\t'}, {' ', ' '}}},
    {"cntrl", {{0x00, 0x1f}, {0x7f, 0x7f}}},
    {"digit", {{'0', '9'}}},
    {"graph", {{'!', '~'}}},
    {"lower", {{'a', 'z'}}},
    {"print", {{' ', '~'}}},
    {"punct", {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}},
    {"space", {{'\t', '\r'}, {' ', ' '}}},
    {"upper", {{'A', 'Z'}}},
    {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}},
    {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}},
};

/* `[:name:]` or `[:^name:]` at s: its length and *cls if the name is known, else 0. */
static size_t posix_class_len(const char *s, const posix_class_t **cls)
{
    if (s[0] != '[' || s[1] != ':') {
        return 0;
    }
    const char *name = s + 2 + (s[2] == '^');
    const char *end = strstr(name, ":]");
    if (end == NULL) {
        return 0;
    }
    for (size_t k = 0; k < sizeof(posix_classes) / sizeof(posix_classes[0]); k++) {
        if (strlen(posix_classes[k].name) == (size_t)(end - name) &&
            strncmp(name, posix_classes[k].name, (size_t)(end - name)) == 0) {
            *cls = &posix_classes[k];
            return (size_t)(end - s) + 2;
        }
    }
    return 0;
}

/* The class's ranges (or their complement up to U+10FFFF) as pcre2 class items. */
static void put_posix_ranges(buf_t *out, const posix_class_t *cls, int negated)
{
    uint32_t next = 0; /* first code point not yet covered, for the complement */
    for (size_t i = 0; i < 5 && (i == 0 || cls->ranges[i][1] != 0); i++) {
        uint32_t lo = cls->ranges[i][0], hi = cls->ranges[i][1];
        if (!negated) {
            buf_printf(out, "\\x{%x}-\\x{%x}", lo, hi);
        } else if (lo > next) {
            buf_printf(out, "\\x{%x}-\\x{%x}", next, lo - 1);
        }
        next = hi + 1;
    }
    if (negated) {
        buf_printf(out, "\\x{%x}-\\x{10ffff}", next);
    }
}

/* After a set item (\d, \pL, [:alpha:]) RE2 reads `-` as a literal, pcre2 as a bad range. */
static void tr_dash_after_set(re_tr_t *t)
{
    if (t->re[t->i] == '-' && t->re[t->i + 1] != ']') {
        buf_puts(t->out, "\\-");
        t->i++;
    }
}

/* A range `lo-hi` of plain characters at s with lo > hi fails with Go's message (pcre2 would
 * word it differently). */
static int tr_check_range(re_tr_t *t, const char *s)
{
    uint32_t lo, hi;
    int w = labels__utf8_decode((const unsigned char *)s, strlen(s), &lo);
    if (w == 0 || s[w] != '-' || s[w + 1] == '\0' || strchr("]\\[", s[w + 1]) != NULL) {
        return 0;
    }
    int w2 = labels__utf8_decode((const unsigned char *)s + w + 1, strlen(s + w + 1), &hi);
    if (w2 > 0 && lo > hi) {
        return tr_fail(t, "invalid character class range", s, (size_t)(w + 1 + w2));
    }
    return 0;
}

/* One item inside a class at t->i (not the closing bracket). */
static int tr_class_item(re_tr_t *t)
{
    const char *s = t->re + t->i;
    const posix_class_t *cls;
    size_t n = posix_class_len(s, &cls);
    if (n > 0) {
        put_posix_ranges(t->out, cls, s[2] == '^');
        t->i += n;
        tr_dash_after_set(t);
        return 0;
    }
    if (s[0] == '[' && s[1] == ':' && strstr(s, ":]") != NULL) {
        return tr_fail(t, "invalid character class range", s, (size_t)(strstr(s, ":]") - s) + 2);
    }
    if (s[0] == '[') {
        buf_puts(t->out, "\\[");
        t->i++;
        return 0;
    }
    if (s[0] != '\\') {
        if (tr_check_range(t, s) != 0) {
            return -1;
        }
        buf_putc(t->out, s[0]);
        t->i++;
        return 0;
    }
    if (s[1] == 's' || s[1] == 'S') {
        /* RE2's \s is [\t\n\f\r ], without pcre2's \v; \S is spelled as its complement. */
        buf_puts(t->out, s[1] == 's' ? "\\t\\n\\f\\r "
                                     : "\\x00-\\x08\\x0B\\x0E-\\x1F\\x21-\\x{10FFFF}");
        t->i += 2;
        tr_dash_after_set(t);
        return 0;
    }
    size_t used = tr_common_escape(s + 1, t->out);
    if (used == 0) {
        return tr_bad_escape(t);
    }
    t->i += 1 + used;
    if (strchr("dDwWpP", s[1]) != NULL) {
        tr_dash_after_set(t);
    }
    return 0;
}

static int tr_class(re_tr_t *t)
{
    size_t start = t->i;
    buf_putc(t->out, '[');
    t->i++;
    if (t->re[t->i] == '^') {
        buf_putc(t->out, '^');
        t->i++;
    }
    if (t->re[t->i] == ']') {
        buf_puts(t->out, "\\]"); /* a leading ] is literal */
        t->i++;
    }
    while (t->re[t->i] != ']') {
        if (t->re[t->i] == '\0') {
            return tr_fail(t, "missing closing ]", t->re + start, strlen(t->re + start));
        }
        if (tr_class_item(t) != 0) {
            return -1;
        }
    }
    buf_putc(t->out, ']');
    t->i++;
    t->can_repeat = 1;
    return 0;
}

/* Flags of `(?flags)` or `(?flags:` at s (after "(?"): returns the length of the flags
 * including the closing ')' or ':', or 0 if invalid. Like RE2, `(?)` is an empty flag set
 * but a `-` must be followed by a flag. */
static size_t group_flags_len(const char *s, size_t *bad_at)
{
    int neg = 0, any = 0;
    if (s[0] == ')') {
        return 1;
    }
    for (size_t k = 0;; k++) {
        char c = s[k];
        if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
            any = 1;
        } else if (c == '-' && !neg && (any || k == 0)) {
            neg = 1;
            any = 0;
        } else if ((c == ')' || c == ':') && any) {
            return k + 1;
        } else {
            *bad_at = k; /* Go quotes the group up to the offending character */
            return 0;
        }
    }
}

static int tr_named_group(re_tr_t *t, const char *name)
{
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    if (n == 0 || name[n] != '>') {
        const char *s = t->re + t->i;
        const char *end = strchr(name, '>');
        return tr_fail(t, "invalid named capture", s,
                       end != NULL ? (size_t)(end - s) + 1 : strlen(s));
    }
    buf_printf(t->out, "(?<%.*s>", (int)n, name);
    t->i = (size_t)(name - t->re) + n + 1;
    t->depth++;
    t->can_repeat = 0;
    return 0;
}

static int tr_group(re_tr_t *t)
{
    const char *s = t->re + t->i;
    t->can_repeat = 0;
    if (s[1] != '?') {
        buf_putc(t->out, '(');
        t->i++;
        t->depth++;
        return 0;
    }
    if (strncmp(s, "(?P<", 4) == 0) {
        return tr_named_group(t, s + 4);
    }
    if (strncmp(s, "(?<", 3) == 0 && s[3] != '=' && s[3] != '!') {
        return tr_named_group(t, s + 3);
    }
    size_t bad = 0, n = s[2] == ':' ? 1 : group_flags_len(s + 2, &bad);
    if (n == 0) {
        const char *at = s + 2 + bad;
        uint32_t r;
        int w = *at != '\0' ? labels__utf8_decode((const unsigned char *)at, strlen(at), &r) : 0;
        return tr_fail(t, "invalid or unsupported Perl syntax", s,
                       2 + bad + (size_t)(w > 0 ? w : 0));
    }
    if (n > 1 || s[2] == ':') { /* `(?)` changes nothing and pcre2 rejects it */
        buf_append(t->out, s, 2 + n);
    }
    t->i += 2 + n;
    if (s[1 + n] == ':') {
        t->depth++;
    }
    return 0;
}

/* `{n}`, `{n,}` or `{n,m}` at s: its length, or 0 if s does not start a repeat (then `{` is
 * a literal). *bad is set for a syntactically valid repeat with counts Go rejects. */
static size_t repeat_len(const char *s, int *bad)
{
    char *end;
    const char *p = s + 1;
    if (!(*p >= '0' && *p <= '9')) {
        return 0;
    }
    unsigned long lo = strtoul(p, &end, 10), hi = lo;
    p = end;
    if (*p == ',') {
        p++;
        hi = (unsigned long)-1;
        if (*p >= '0' && *p <= '9') {
            hi = strtoul(p, &end, 10);
            p = end;
        }
    }
    if (*p != '}') {
        return 0;
    }
    *bad = lo > RE_MAX_REPEAT || (hi != (unsigned long)-1 && (hi > RE_MAX_REPEAT || hi < lo));
    return (size_t)(p - s) + 1;
}

/* A quantifier (* + ? or {..}) of length n at t->i, plus an optional lazy '?'. */
static int tr_quantifier(re_tr_t *t, size_t n)
{
    const char *s = t->re + t->i;
    if (t->prev_quant) {
        /* Go quotes the previous operator and this one together. */
        return tr_fail(t, "invalid nested repetition operator", t->re + t->quant_at,
                       t->i - t->quant_at + n);
    }
    if (!t->can_repeat) {
        return tr_fail(t, "missing argument to repetition operator", s, n);
    }
    buf_append(t->out, s, n);
    t->quant_at = t->i;
    t->i += n;
    if (t->re[t->i] == '?') {
        buf_putc(t->out, '?');
        t->i++;
    }
    t->repeated = 1;
    t->can_repeat = 0;
    return 0;
}

static int tr_brace(re_tr_t *t)
{
    int bad = 0;
    size_t n = repeat_len(t->re + t->i, &bad);
    if (n == 0) {
        buf_puts(t->out, "\\{");
        t->i++;
        t->can_repeat = 1;
        return 0;
    }
    if (bad) {
        return tr_fail(t, "invalid repeat count", t->re + t->i, n);
    }
    return tr_quantifier(t, n);
}

static int tr_close(re_tr_t *t)
{
    if (t->depth == 0) {
        return tr_fail(t, "unexpected )", t->re, strlen(t->re));
    }
    t->depth--;
    buf_putc(t->out, ')');
    t->i++;
    t->can_repeat = 1;
    return 0;
}

static int tr_step(re_tr_t *t)
{
    char c = t->re[t->i];
    switch (c) {
    case '\\':
        return tr_escape(t);
    case '[':
        return tr_class(t);
    case '(':
        return tr_group(t);
    case ')':
        return tr_close(t);
    case '*': case '+': case '?':
        return tr_quantifier(t, 1);
    case '{':
        return tr_brace(t);
    case '|':
        t->can_repeat = 0;
        break;
    case '}':
        buf_putc(t->out, '\\');
        t->can_repeat = 1;
        break;
    case '^':
    case '$':
        buf_printf(t->out, "(?:%c)", c); /* quantifiable, as for \b above */
        t->i++;
        t->can_repeat = 1;
        return 0;
    default:
        t->can_repeat = 1;
        break;
    }
    buf_putc(t->out, c);
    t->i++;
    return 0;
}

int matchers__re_translate(const char *re, buf_t *out, err_t *err)
{
    if (!labels_is_valid_utf8(re, strlen(re))) {
        return err_set(err, ERR_BAD_DATA, "error parsing regexp: invalid UTF-8: `%s`", re);
    }
    re_tr_t t = {.re = re, .out = out, .err = err};
    while (re[t.i] != '\0') {
        t.prev_quant = t.repeated;
        t.repeated = 0;
        if (tr_step(&t) != 0) {
            return -1;
        }
    }
    if (t.depth > 0) {
        return tr_fail(&t, "missing closing )", re, strlen(re));
    }
    return 0;
}

/* ---- fast-path analysis ---------------------------------------------------------------- */

/* Index just past the class starting at s[i] == '['. */
static size_t skip_class(const char *s, size_t i)
{
    i++;
    if (s[i] == '^') {
        i++;
    }
    if (s[i] == ']') {
        i++;
    }
    while (s[i] != '\0' && s[i] != ']') {
        const posix_class_t *cls;
        size_t n = posix_class_len(s + i, &cls);
        i += n > 0 ? n : s[i] == '\\' && s[i + 1] != '\0' ? 2 : 1;
    }
    return s[i] == ']' ? i + 1 : i;
}

/* Offsets of the top-level '|' of re (at most max_n), or -1 when there are more. */
static long split_top(const char *re, size_t *bars, size_t max_n)
{
    size_t n = 0;
    int depth = 0;
    for (size_t i = 0; re[i] != '\0';) {
        char c = re[i];
        if (c == '\\') {
            i += re[i + 1] != '\0' ? 2 : 1;
            continue;
        }
        if (c == '[') {
            i = skip_class(re, i);
            continue;
        }
        depth += (c == '(') - (c == ')');
        if (c == '|' && depth == 0) {
            if (n == max_n) {
                return -1;
            }
            bars[n++] = i;
        }
        i++;
    }
    return (long)n;
}

/* Decodes the literal run at the start of s[0..n): characters with no regex meaning and
 * escaped punctuation. Returns the bytes consumed; *last gets the offset in `out` where the
 * run's last character starts (for dropping it when a quantifier follows). */
static size_t literal_run(const char *s, size_t n, buf_t *out, size_t *last)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            unsigned char e = (unsigned char)s[i + 1];
            if (i + 1 >= n || e == '\0' || e >= 0x80 || is_alnum(e)) {
                break;
            }
            *last = out->len;
            buf_putc(out, (char)e);
            i += 2;
            continue;
        }
        if (strchr(".+*?()|[]{}^$", c) != NULL) {
            break;
        }
        if ((c & 0xc0) != 0x80) {
            *last = out->len; /* a UTF-8 continuation byte stays with its lead byte */
        }
        buf_putc(out, (char)c);
        i++;
    }
    return i;
}

/* 1 if s[0..n) is entirely literal; its decoded text is heap-allocated into *lit. */
static int whole_literal(const char *s, size_t n, char **lit)
{
    buf_t b;
    buf_init(&b);
    size_t last = 0;
    int ok = literal_run(s, n, &b, &last) == n;
    *lit = ok ? xstrndup(b.data != NULL ? b.data : "", b.len) : NULL;
    buf_fini(&b);
    return ok;
}

/* `(...)` or `(?:...)` spanning the whole pattern: sets *inner and *n to its content. */
static int strip_group(const char *re, const char **inner, size_t *n)
{
    size_t len = strlen(re), open = strncmp(re, "(?:", 3) == 0 ? 3 : re[0] == '(' ? 1 : 0;
    if (open == 0 || (open == 1 && re[1] == '?') || len < open + 1 || re[len - 1] != ')') {
        return 0;
    }
    int depth = 0;
    for (size_t i = 0; i < len;) {
        if (re[i] == '\\') {
            i += 2;
            continue;
        }
        if (re[i] == '[') {
            i = skip_class(re, i);
            continue;
        }
        depth += (re[i] == '(') - (re[i] == ')');
        if (depth == 0 && i != len - 1) {
            return 0; /* the first group closes before the end */
        }
        i++;
    }
    *inner = re + open;
    *n = len - open - 1;
    return 1;
}

/* Every top-level alternative of re[0..n) literal: fills the set. */
static int analyse_set(const char *re, size_t n, re_analysis_t *an)
{
    size_t bars[256];
    char *tmp = xstrndup(re, n);
    long nb = split_top(tmp, bars, sizeof(bars) / sizeof(bars[0]));
    int ok = nb >= 0;
    char **set = ok ? xcalloc((size_t)nb + 1, sizeof(char *)) : NULL;
    size_t start = 0, k = 0;
    for (; ok && k <= (size_t)nb; k++) {
        size_t end = k < (size_t)nb ? bars[k] : n;
        ok = whole_literal(tmp + start, end - start, &set[k]);
        start = end + 1;
    }
    free(tmp);
    if (!ok) {
        for (size_t i = 0; set != NULL && i < k; i++) {
            free(set[i]);
        }
        free(set);
        return 0;
    }
    an->fast = RE_FAST_SET;
    an->set = set;
    an->n_set = (size_t)nb + 1;
    return 1;
}

static char *common_prefix(char **set, size_t n)
{
    size_t len = strlen(set[0]);
    for (size_t i = 1; i < n; i++) {
        size_t k = 0;
        while (k < len && set[i][k] == set[0][k]) {
            k++;
        }
        len = k;
    }
    /* Cut at a UTF-8 character boundary. */
    while (len > 0 && (set[0][len] & 0xc0) == 0x80) {
        len--;
    }
    return xstrndup(set[0], len);
}

/* Shapes of a pattern without top-level alternation: lit.*, lit.+, .*lit, .*lit.* */
static void analyse_shape(const char *re, re_analysis_t *an)
{
    buf_t lit;
    buf_init(&lit);
    size_t last = 0, n = literal_run(re, strlen(re), &lit, &last);
    const char *rest = re + n;
    int drop_last = lit.len > 0 && strchr("*?{", rest[0]) != NULL && rest[0] != '\0';
    an->prefix = xstrndup(lit.data != NULL ? lit.data : "", drop_last ? last : lit.len);
    if (strcmp(rest, ".*") == 0 || strcmp(rest, ".+") == 0) {
        an->fast = lit.len == 0 ? (rest[1] == '*' ? RE_FAST_ANY : RE_FAST_NONEMPTY)
                                : (rest[1] == '*' ? RE_FAST_PREFIX : RE_FAST_PREFIX1);
    } else if (lit.len == 0 && strncmp(rest, ".*", 2) == 0) {
        buf_reset(&lit);
        n = literal_run(rest + 2, strlen(rest + 2), &lit, &last);
        const char *tail = rest + 2 + n;
        if (tail[0] == '\0') {
            an->fast = lit.len == 0 ? RE_FAST_ANY : RE_FAST_SUFFIX;
        } else if (strcmp(tail, ".*") == 0) {
            an->fast = lit.len == 0 ? RE_FAST_ANY : RE_FAST_CONTAINS;
        }
    }
    if (an->fast != RE_FAST_NONE && an->fast != RE_FAST_ANY && an->fast != RE_FAST_NONEMPTY) {
        an->lit = xstrndup(lit.data != NULL ? lit.data : "", lit.len);
    }
    buf_fini(&lit);
}

void matchers__re_analyse(const char *re, re_analysis_t *an)
{
    memset(an, 0, sizeof(*an));
    const char *inner;
    size_t n;
    if (analyse_set(re, strlen(re), an) ||
        (strip_group(re, &inner, &n) && analyse_set(inner, n, an))) {
        an->prefix = common_prefix(an->set, an->n_set);
        return;
    }
    size_t bar;
    if (split_top(re, &bar, 0) != 0) {
        an->prefix = xstrdup(""); /* alternatives share no known prefix */
        return;
    }
    analyse_shape(re, an);
}

void matchers__re_analysis_fini(re_analysis_t *an)
{
    for (size_t i = 0; i < an->n_set; i++) {
        free(an->set[i]);
    }
    free(an->set);
    free(an->lit);
    free(an->prefix);
    memset(an, 0, sizeof(*an));
}
