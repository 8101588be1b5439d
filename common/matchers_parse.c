/* common/matchers_parse.c - selector parsing: PromQL `metric{a="b", c=~"d"}` and the
 * Alertmanager matchers syntax (`{foo=bar, "x.y"!~"z"}`, braces optional).
 *
 * DESIGN: the PromQL form is a small recursive-descent parser sharing the string literal
 * rules of labels_text.c. The Alertmanager form follows Alertmanager's UTF-8 matchers
 * parser: a lexer yields braces, commas, operators, double-quoted strings and unquoted runs
 * of any characters except whitespace and {}!=~,\"'`; errors carry rune columns as
 * Alertmanager prints them. As in Alertmanager's fallback to its classic parser, an operator
 * followed directly by a comma, a close brace or the end means an empty value (`foo=`). */
#include <string.h>

#include "common/labels_int.h"
#include "common/matchers.h"

typedef struct {
    arena_t *a;
    const char *s;
    size_t i;
    err_t *err;
    matcher_t **ms;
    size_t n, cap;
    const char *metric; /* metric name already given, for the "set twice" check */
} sel_parser_t;

static int add_matcher(sel_parser_t *p, match_type_t type, const char *name, const char *value)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        matcher_t **ms = arena_realloc(p->a, p->ms, p->cap * sizeof(*ms), cap * sizeof(*ms));
        if (ms == NULL) {
            return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
        }
        p->ms = ms;
        p->cap = cap;
    }
    matcher_t *m = matcher_new_arena(p->a, type, name, value, p->err);
    if (m == NULL) {
        return -1;
    }
    p->ms[p->n++] = m;
    return 0;
}

/* Operator at s: its length (1 or 2) and *type, or 0. */
static size_t scan_op(const char *s, match_type_t *type)
{
    if (s[0] == '=' && s[1] == '~') {
        *type = MATCH_RE;
        return 2;
    }
    if (s[0] == '!' && (s[1] == '~' || s[1] == '=')) {
        *type = s[1] == '~' ? MATCH_NRE : MATCH_NEQ;
        return 2;
    }
    if (s[0] == '=') {
        *type = MATCH_EQ;
        return 1;
    }
    return 0;
}

/* ---- PromQL selectors ------------------------------------------------------------------ */

static int pq_fail(sel_parser_t *p, size_t off, const char *msg)
{
    return err_set(p->err, ERR_BAD_DATA, "1:%zu: parse error: %s", off + 1, msg);
}

static char *pq_string(sel_parser_t *p, const char *what)
{
    char c = p->s[p->i];
    if (c != '"' && c != '\'' && c != '`') {
        err_set(p->err, ERR_BAD_DATA, "1:%zu: parse error: unexpected %s in label matching, "
                "expected %s", p->i + 1, c == '\0' ? "end of input" : "character", what);
        return NULL;
    }
    labels__text_err_t e = {0};
    size_t used = 0;
    char *v = labels__unquote(p->a, p->s + p->i, &used, &e);
    if (v == NULL) {
        if (e.msg != NULL) {
            pq_fail(p, p->i + e.off, e.msg);
        } else {
            err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
        }
        return NULL;
    }
    p->i += used;
    return v;
}

static int pq_metric_name(sel_parser_t *p, const char *name, size_t at)
{
    if (p->metric != NULL) {
        return err_set(p->err, ERR_BAD_DATA,
                       "1:%zu: parse error: metric name must not be set twice: \"%s\" or \"%s\"",
                       at + 1, p->metric, name);
    }
    p->metric = name;
    return add_matcher(p, MATCH_EQ, "__name__", name);
}

/* One `name op "value"` or lone `"metric name"` inside braces. */
static int pq_item(sel_parser_t *p)
{
    size_t at = p->i, len = labels__ident_len(p->s + p->i, 0);
    char *name;
    if (len > 0) {
        name = arena_strndup(p->a, p->s + p->i, len);
        p->i += len;
    } else if ((name = pq_string(p, "label matching")) == NULL) {
        return -1;
    }
    if (name == NULL) {
        return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
    }
    p->i = labels__skip_space(p->s, p->i);
    match_type_t type;
    size_t op = scan_op(p->s + p->i, &type);
    if (op == 0) {
        if (len == 0 && (p->s[p->i] == ',' || p->s[p->i] == '}')) {
            return pq_metric_name(p, name, at);
        }
        return pq_fail(p, p->i, "unexpected character in label matching, expected label "
                                "matching operator");
    }
    p->i = labels__skip_space(p->s, p->i + op);
    const char *value = pq_string(p, "string");
    return value != NULL ? add_matcher(p, type, name, value) : -1;
}

static int pq_braces(sel_parser_t *p)
{
    p->i = labels__skip_space(p->s, p->i + 1);
    while (p->s[p->i] != '}') {
        if (p->s[p->i] == '\0') {
            return pq_fail(p, p->i, "unexpected end of input inside braces");
        }
        if (pq_item(p) != 0) {
            return -1;
        }
        p->i = labels__skip_space(p->s, p->i);
        if (p->s[p->i] == ',') {
            p->i = labels__skip_space(p->s, p->i + 1);
        } else if (p->s[p->i] != '}') {
            return pq_fail(p, p->i, p->s[p->i] == '\0' ? "unexpected end of input inside braces"
                                                        : "unexpected character inside braces, "
                                                          "expected \",\" or \"}\"");
        }
    }
    p->i++;
    return 0;
}

static int parse_promql(sel_parser_t *p)
{
    p->i = labels__skip_space(p->s, 0);
    size_t len = labels__ident_len(p->s + p->i, 1);
    if (len > 0) {
        char *name = arena_strndup(p->a, p->s + p->i, len);
        if (name == NULL || pq_metric_name(p, name, p->i) != 0) {
            return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
        }
        p->i = labels__skip_space(p->s, p->i + len);
    }
    if (p->s[p->i] == '{') {
        if (pq_braces(p) != 0) {
            return -1;
        }
        p->i = labels__skip_space(p->s, p->i);
    } else if (len == 0) {
        return pq_fail(p, p->i, p->s[p->i] == '\0' ? "unexpected end of input"
                                                    : "expected metric name or \"{\"");
    }
    if (p->s[p->i] != '\0') {
        return pq_fail(p, p->i, "unexpected character after selector");
    }
    return 0;
}

/* ---- Alertmanager matchers ------------------------------------------------------------- */

typedef enum { AT_EOF, AT_OPEN, AT_CLOSE, AT_COMMA, AT_OP, AT_QUOTED, AT_UNQUOTED } am_kind_t;

typedef struct {
    am_kind_t kind;
    size_t start, end; /* byte offsets */
    match_type_t op;
} am_tok_t;

static size_t rune_col(const char *s, size_t off)
{
    size_t cols = 0;
    for (size_t i = 0; i < off; i++) {
        cols += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    return cols;
}

/* Width of a whitespace rune at s (Go's unicode.IsSpace for the common cases), else 0. */
static size_t am_space(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
        return 1;
    }
    if (c == 0xc2 && ((unsigned char)s[1] == 0x85 || (unsigned char)s[1] == 0xa0)) {
        return 2;
    }
    return 0;
}

static int am_reserved(const char *s)
{
    return am_space(s) > 0 || (s[0] != '\0' && strchr("{}!=~,\\\"'`", s[0]) != NULL);
}

static int am_fail(sel_parser_t *p, size_t start, size_t end, const char *what)
{
    return err_set(p->err, ERR_BAD_DATA, "%zu:%zu: %.*s: %s", rune_col(p->s, start),
                   rune_col(p->s, end), (int)(end - start), p->s + start, what);
}

static int am_scan_quoted(sel_parser_t *p, size_t i, am_tok_t *t)
{
    size_t k = i + 1;
    while (p->s[k] != '\0' && p->s[k] != '"') {
        k += p->s[k] == '\\' && p->s[k + 1] != '\0' ? 2 : 1;
    }
    if (p->s[k] != '"') {
        return am_fail(p, i, k, "missing end \"");
    }
    *t = (am_tok_t){.kind = AT_QUOTED, .start = i, .end = k + 1};
    return 0;
}

static int am_scan_op(sel_parser_t *p, size_t i, am_tok_t *t)
{
    match_type_t type;
    size_t n = scan_op(p->s + i, &type);
    if (n == 0) {
        size_t end = i + 1 + (p->s[i + 1] != '\0');
        if (p->s[i + 1] == '\0') {
            return err_set(p->err, ERR_BAD_DATA, "%zu:%zu: unexpected end of input, expected "
                           "one of '=~'", rune_col(p->s, i), rune_col(p->s, end));
        }
        return am_fail(p, i, end, "expected one of '=~'");
    }
    *t = (am_tok_t){.kind = AT_OP, .start = i, .end = i + n, .op = type};
    return 0;
}

/* The token at p->i (after whitespace); does not consume it. */
static int am_peek(sel_parser_t *p, am_tok_t *t)
{
    size_t i = p->i, w;
    while ((w = am_space(p->s + i)) > 0) {
        i += w;
    }
    char c = p->s[i];
    static const am_kind_t single[128] = {['{'] = AT_OPEN, ['}'] = AT_CLOSE, [','] = AT_COMMA};
    if (c == '\0' || ((unsigned char)c < 128 && single[(unsigned char)c] != AT_EOF)) {
        *t = (am_tok_t){.kind = c ? single[(unsigned char)c] : AT_EOF, .start = i,
                        .end = i + (c != '\0')};
        return 0;
    }
    if (c == '=' || c == '!') {
        return am_scan_op(p, i, t);
    }
    if (c == '"') {
        return am_scan_quoted(p, i, t);
    }
    if (am_reserved(p->s + i)) {
        return am_fail(p, i, i + 1, "invalid input");
    }
    size_t k = i;
    while (p->s[k] != '\0' && !am_reserved(p->s + k)) {
        k++;
    }
    *t = (am_tok_t){.kind = AT_UNQUOTED, .start = i, .end = k};
    return 0;
}

static int am_next(sel_parser_t *p, am_tok_t *t)
{
    if (am_peek(p, t) != 0) {
        return -1;
    }
    p->i = t->end;
    return 0;
}

static int am_unexpected(sel_parser_t *p, const am_tok_t *t, const char *expected)
{
    if (t->kind == AT_EOF) {
        return err_set(p->err, ERR_BAD_DATA, "end of input: %s", expected);
    }
    return err_set(p->err, ERR_BAD_DATA, "%zu:%zu: unexpected %.*s: %s", rune_col(p->s, t->start),
                   rune_col(p->s, t->end), (int)(t->end - t->start), p->s + t->start, expected);
}

/* The text of a name or value token. */
static char *am_text(sel_parser_t *p, const am_tok_t *t)
{
    if (t->kind == AT_UNQUOTED) {
        return arena_strndup(p->a, p->s + t->start, t->end - t->start);
    }
    labels__text_err_t e = {0};
    size_t used = 0;
    char *v = labels__unquote(p->a, p->s + t->start, &used, &e);
    if (v == NULL && e.msg != NULL) {
        am_fail(p, t->start, t->end, "invalid input");
    }
    return v;
}

static int am_matcher(sel_parser_t *p, const am_tok_t *name_tok)
{
    am_tok_t t;
    char *name = am_text(p, name_tok);
    if (name == NULL || am_next(p, &t) != 0) {
        return -1;
    }
    if (t.kind != AT_OP) {
        return am_unexpected(p, &t, "expected an operator such as '=', '!=', '=~' or '!~'");
    }
    match_type_t type = t.op;
    if (am_peek(p, &t) != 0) {
        return -1;
    }
    if (t.kind == AT_EOF || t.kind == AT_COMMA || t.kind == AT_CLOSE) {
        return add_matcher(p, type, name, ""); /* classic syntax: `foo=` */
    }
    p->i = t.end;
    if (t.kind != AT_QUOTED && t.kind != AT_UNQUOTED) {
        return am_unexpected(p, &t, "expected label value");
    }
    char *value = am_text(p, &t);
    return value != NULL ? add_matcher(p, type, name, value) : -1;
}

/* After `}` or the last matcher without braces: only the end may follow. */
static int am_end(sel_parser_t *p, int has_open, int closed)
{
    am_tok_t t;
    if (has_open && !closed) {
        return err_set(p->err, ERR_BAD_DATA, "0:%zu: end of input: expected close brace",
                       rune_col(p->s, strlen(p->s)));
    }
    if (am_next(p, &t) != 0) {
        return -1;
    }
    if (t.kind != AT_EOF) {
        return am_fail(p, t.start, t.end, "expected end of input");
    }
    return 0;
}

static int parse_am(sel_parser_t *p)
{
    am_tok_t t;
    if (am_peek(p, &t) != 0) {
        return -1;
    }
    int has_open = t.kind == AT_OPEN, after_comma = 0;
    p->i = has_open ? t.end : p->i;
    for (;;) {
        if (am_next(p, &t) != 0) {
            return -1;
        }
        if (t.kind == AT_EOF || (t.kind == AT_CLOSE && has_open)) {
            return am_end(p, has_open, t.kind == AT_CLOSE);
        }
        if (t.kind == AT_CLOSE) {
            return err_set(p->err, ERR_BAD_DATA, "0:%zu: }: expected opening brace",
                           rune_col(p->s, t.end));
        }
        if (t.kind != AT_QUOTED && t.kind != AT_UNQUOTED) {
            return am_unexpected(p, &t, after_comma ? "expected a matcher or close brace after "
                                                      "comma" : "expected label name");
        }
        if (am_matcher(p, &t) != 0 || am_peek(p, &t) != 0) {
            return -1;
        }
        if (t.kind == AT_COMMA) {
            p->i = t.end;
            after_comma = 1;
        } else if (t.kind != AT_EOF && t.kind != AT_CLOSE) {
            return am_unexpected(p, &t, "expected a comma or close brace");
        }
    }
}

matcher_t **matchers_parse(arena_t *a, const char *s, size_t *n, int am_syntax, err_t *err)
{
    sel_parser_t p = {.a = a, .s = s, .err = err};
    int rc = am_syntax ? parse_am(&p) : parse_promql(&p);
    if (rc != 0) {
        return NULL;
    }
    *n = p.n;
    if (p.ms == NULL) {
        p.ms = arena_alloc(a, sizeof(*p.ms)); /* a non-NULL empty result */
    }
    return p.ms;
}
