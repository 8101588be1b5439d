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
    unsigned flags;     /* MATCHER_* for the matchers built */
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
    matcher_t *m = matcher_new_arena_flags(p->a, type, name, value, p->flags, p->err);
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

/* ---- Alertmanager classic matchers ---------------------------------------------------- */

/* Go regexp's \s. */
static int go_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int classic_fail(sel_parser_t *p, const char *what, const char *s, size_t n)
{
    return err_set(p->err, ERR_BAD_DATA, "%s: %.*s", what, (int)n, s);
}

/* The value after the operator, trimmed: strips one pair of quotes and reads \n \" \\ (any
 * other escape stays as written). */
static int classic_value(sel_parser_t *p, const char *raw, size_t n, char **out)
{
    int quoted = n > 0 && raw[0] == '"', escaped = 0;
    const char *v = raw + quoted;
    size_t vn = n - (size_t)quoted, k = 0;
    if (!labels_is_valid_utf8(v, vn)) {
        return classic_fail(p, "matcher value not valid UTF-8", raw, n);
    }
    char *buf = arena_alloc(p->a, vn + 1);
    if (buf == NULL) {
        return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
    }
    for (size_t i = 0; i < vn; i++) {
        char c = v[i];
        if (escaped) {
            escaped = 0;
            if (c != 'n' && c != '"' && c != '\\') {
                buf[k++] = '\\';
            }
            buf[k++] = c == 'n' ? '\n' : c;
        } else if (c == '\\' && i < vn - 1) {
            escaped = 1;
        } else if (c == '"') {
            if (!quoted || i < vn - 1) {
                return classic_fail(p, "matcher value contains unescaped double quote", raw, n);
            }
            quoted = 0;
        } else {
            buf[k++] = c;
        }
    }
    if (quoted) {
        return classic_fail(p, "matcher value contains unescaped double quote", raw, n);
    }
    buf[k] = '\0';
    *out = buf;
    return 0;
}

/* Length of [a-zA-Z_:][a-zA-Z0-9_:]* at s[0..n). */
static size_t classic_name_len(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && (s[k] == '_' || s[k] == ':' || (s[k] >= 'a' && s[k] <= 'z') ||
                     (s[k] >= 'A' && s[k] <= 'Z') || (k > 0 && s[k] >= '0' && s[k] <= '9'))) {
        k++;
    }
    return k;
}

/* One matcher `name op value` from s[0..n), as `^\s*(name)\s*(op)\s*((?s).*?)\s*$`. */
static int classic_matcher(sel_parser_t *p, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && go_space(s[i])) {
        i++;
    }
    size_t name_at = i, name_len = classic_name_len(s + i, n - i);
    for (i += name_len; i < n && go_space(s[i]);) {
        i++;
    }
    match_type_t type;
    size_t op = i < n ? scan_op(s + i, &type) : 0;
    if (name_len == 0 || op == 0 || i + op > n) {
        return classic_fail(p, "bad matcher format", s, n);
    }
    size_t v = i + op, end = n;
    while (v < end && go_space(s[v])) {
        v++;
    }
    while (end > v && go_space(s[end - 1])) {
        end--;
    }
    char *name = arena_strndup(p->a, s + name_at, name_len), *value = NULL;
    if (name == NULL) {
        return err_set(p->err, ERR_EXECUTION, "memory budget exceeded while parsing matchers");
    }
    return classic_value(p, s + v, end - v, &value) == 0 ? add_matcher(p, type, name, value) : -1;
}

static int parse_am_classic(sel_parser_t *p)
{
    size_t start = p->s[0] == '{', end = strlen(p->s), tok;
    if (end > start && p->s[end - 1] == '}') {
        end--;
    }
    int in_quotes = 0, escaped = 0;
    for (size_t i = tok = start; i < end; i++) {
        char c = p->s[i];
        if (c == ',' && !in_quotes) {
            if (classic_matcher(p, p->s + tok, i - tok) != 0) {
                return -1;
            }
            tok = i + 1;
        } else if (c == '"') {
            in_quotes ^= !escaped;
            escaped = 0;
        } else if (c == '\\') {
            escaped = !escaped;
        } else if (c != ',') {
            escaped = 0;
        }
    }
    while (tok < end && (go_space(p->s[tok]) || p->s[tok] == '\v')) {
        tok++; /* the last token alone is trimmed, and skipped when empty */
    }
    while (end > tok && (go_space(p->s[end - 1]) || p->s[end - 1] == '\v')) {
        end--;
    }
    return end > tok ? classic_matcher(p, p->s + tok, end - tok) : 0;
}

/* Alertmanager's fallback mode: classic if it accepts the input, else UTF-8, else the classic
 * error. Each attempt parses into its own error so that the first does not mask the second. */
static int parse_am_fallback(sel_parser_t *p)
{
    err_t classic_err = {0}, utf8_err = {0}, *err = p->err;
    p->err = &classic_err;
    if (parse_am_classic(p) == 0) {
        p->err = err;
        return 0;
    }
    p->n = 0;
    p->i = 0;
    p->err = &utf8_err;
    int rc = parse_am(p);
    p->err = err;
    if (rc == 0) {
        return 0;
    }
    const err_t *why = utf8_err.code == ERR_EXECUTION ? &utf8_err : &classic_err;
    return err_set(err, why->code, "%s", why->msg);
}

matcher_t **matchers_parse(arena_t *a, const char *s, size_t *n, int am_syntax, err_t *err)
{
    static int (*const parsers[])(sel_parser_t *) = {
        [MATCHERS_PROMQL] = parse_promql,
        [MATCHERS_AM] = parse_am_fallback,
        [MATCHERS_AM_UTF8] = parse_am,
        [MATCHERS_AM_CLASSIC] = parse_am_classic,
    };
    sel_parser_t p = {.a = a, .s = s, .err = err};
    p.flags = am_syntax != MATCHERS_PROMQL ? MATCHER_AM_REGEX : 0;
    if (am_syntax < 0 || am_syntax > MATCHERS_AM_CLASSIC) {
        err_set(err, ERR_INTERNAL, "matchers_parse: unknown syntax %d", am_syntax);
        return NULL;
    }
    if (parsers[am_syntax](&p) != 0) {
        return NULL;
    }
    *n = p.n;
    if (p.ms == NULL) {
        p.ms = arena_alloc(a, sizeof(*p.ms)); /* a non-NULL empty result */
    }
    return p.ms;
}
