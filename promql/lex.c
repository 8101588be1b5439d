/* promql/lex.c - the PromQL lexer and Go-style string quoting/unquoting.
 * The lexer is context-free: every word is TOK_IDENT and the parser decides whether it is a
 * keyword, a label name or a metric name, as Prometheus' lexer does by state. */
#include <ctype.h>
#include <string.h>

#include "promql/promql_int.h"

void promql__lex_init(promql__lexer_t *lx, const char *q)
{
    lx->q = q;
    lx->pos = 0;
    lx->errmsg = NULL;
    lx->brackets = 0;
}

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static int is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

/* Length of a duration `1h30m` starting at s, or 0 if s does not start one. */
static int duration_len(const char *s)
{
    int i = 0, parts = 0;
    while (isdigit((unsigned char)s[i])) {
        int j = i;
        while (isdigit((unsigned char)s[j])) {
            j++;
        }
        if (s[j] == 'm' && s[j + 1] == 's') {
            j += 2;
        } else if (strchr("smhdwy", s[j]) != NULL && s[j] != '\0') {
            j++;
        } else {
            break;
        }
        parts++;
        i = j;
    }
    if (parts == 0 || isalnum((unsigned char)s[i]) || s[i] == '_') {
        return 0;
    }
    return i;
}

static int number_len(const char *s)
{
    int i = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char)s[2])) {
        i = 2;
        while (isxdigit((unsigned char)s[i])) {
            i++;
        }
        return i;
    }
    while (isdigit((unsigned char)s[i])) {
        i++;
    }
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i])) {
            i++;
        }
    }
    if (i > 0 && (s[i] == 'e' || s[i] == 'E')) {
        int j = i + 1;
        if (s[j] == '+' || s[j] == '-') {
            j++;
        }
        if (isdigit((unsigned char)s[j])) {
            while (isdigit((unsigned char)s[j])) {
                j++;
            }
            i = j;
        }
    }
    return i;
}

static promql__tok_t tok_make(promql__lexer_t *lx, promql__tok_kind_t k, int start, int len)
{
    promql__tok_t t = {k, start, len, lx->q + start};
    lx->pos = start + len;
    return t;
}

static promql__tok_t lex_error(promql__lexer_t *lx, int start, const char *msg)
{
    lx->errmsg = msg;
    return tok_make(lx, TOK_ERROR, start, 0);
}

static promql__tok_t lex_string(promql__lexer_t *lx, int start)
{
    const char *q = lx->q;
    char quote = q[start];
    int i = start + 1;
    while (q[i] != '\0' && q[i] != quote) {
        if (quote != '`' && q[i] == '\\' && q[i + 1] != '\0') {
            i++;
        } else if (quote != '`' && q[i] == '\n') {
            return lex_error(lx, start, "unterminated quoted string");
        }
        i++;
    }
    if (q[i] == '\0') {
        return lex_error(lx, start,
                         quote == '`' ? "unterminated raw string" : "unterminated quoted string");
    }
    return tok_make(lx, TOK_STRING, start, i + 1 - start);
}

/* Two-character operators first, then one-character ones. */
static const struct {
    const char *text;
    promql__tok_kind_t kind;
} ops[] = {
    {"==", TOK_EQLC}, {"!=", TOK_NEQ}, {"=~", TOK_EQL_REGEX}, {"!~", TOK_NEQ_REGEX},
    {"<=", TOK_LTE},  {">=", TOK_GTE}, {"(", TOK_LPAREN},     {")", TOK_RPAREN},
    {"{", TOK_LBRACE}, {"}", TOK_RBRACE}, {"[", TOK_LBRACKET}, {"]", TOK_RBRACKET},
    {",", TOK_COMMA}, {":", TOK_COLON}, {"@", TOK_AT},         {"=", TOK_ASSIGN},
    {"<", TOK_LSS},   {">", TOK_GTR},   {"+", TOK_ADD},        {"-", TOK_SUB},
    {"*", TOK_MUL},   {"/", TOK_DIV},   {"%", TOK_MOD},        {"^", TOK_POW},
};

static promql__tok_t lex_number(promql__lexer_t *lx, int start)
{
    const char *s = lx->q + start;
    int d = duration_len(s);
    int n = number_len(s);
    if (d > 0 && d > n) {
        return tok_make(lx, TOK_DURATION, start, d);
    }
    if (n == 0 || (n == 1 && s[0] == '.')) {
        return lex_error(lx, start, "bad number or duration syntax");
    }
    if (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.') {
        return lex_error(lx, start, "bad number or duration syntax");
    }
    return tok_make(lx, TOK_NUMBER, start, n);
}

promql__tok_t promql__lex_next(promql__lexer_t *lx)
{
    const char *q = lx->q;
    int i = lx->pos;
    for (;;) {
        while (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r') {
            i++;
        }
        if (q[i] != '#') {
            break;
        }
        while (q[i] != '\0' && q[i] != '\n') {
            i++;
        }
    }
    unsigned char c = (unsigned char)q[i];
    if (c == '\0') {
        return tok_make(lx, TOK_EOF, i, 0);
    }
    if (c == '"' || c == '\'' || c == '`') {
        return lex_string(lx, i);
    }
    if (isdigit(c) || (c == '.' && isdigit((unsigned char)q[i + 1]))) {
        return lex_number(lx, i);
    }
    if (is_ident_start(c) && !(c == ':' && lx->brackets > 0)) {
        int j = i;
        while (is_ident_char((unsigned char)q[j])) {
            j++;
        }
        return tok_make(lx, TOK_IDENT, i, j - i);
    }
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        size_t n = strlen(ops[k].text);
        if (strncmp(q + i, ops[k].text, n) == 0) {
            lx->brackets += ops[k].kind == TOK_LBRACKET ? 1 : ops[k].kind == TOK_RBRACKET ? -1 : 0;
            return tok_make(lx, ops[k].kind, i, (int)n);
        }
    }
    if (c == '!') {
        return lex_error(lx, i, "unexpected character after '!'");
    }
    return lex_error(lx, i, "unexpected character");
}

void promql__pos_linecol(const char *q, int pos, int *line, int *col)
{
    int l = 1, c = 1;
    for (int i = 0; i < pos && q[i] != '\0'; i++) {
        if (q[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static size_t utf8_encode(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape after the backslash at s[*i]; appends to out. 0 ok, -1 bad escape. */
static int unescape_one(const char *s, size_t n, size_t *i, char quote, char *out, size_t *o)
{
    static const char simple_from[] = "abfnrtv\\";
    static const char simple_to[] = "\a\b\f\n\r\t\v\\";
    char c = s[*i];
    const char *p = strchr(simple_from, c);
    if (c != '\0' && p != NULL) {
        out[(*o)++] = simple_to[p - simple_from];
        (*i)++;
        return 0;
    }
    if (c == quote) {
        out[(*o)++] = c;
        (*i)++;
        return 0;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 3 : 0;
    if (digits == 0) {
        return -1;
    }
    size_t j = c >= '0' && c <= '7' ? *i : *i + 1;
    unsigned v = 0;
    for (int k = 0; k < digits; k++, j++) {
        int d = (unsigned char)s[j];
        int ok = c >= '0' && c <= '7' ? (d >= '0' && d <= '7') : isxdigit(d);
        if (j >= n || !ok) {
            return -1;
        }
        v = c >= '0' && c <= '7' ? v * 8 + (unsigned)(d - '0') : v * 16 + (unsigned)buf_hex_digit(d);
    }
    if (c == 'x' || (c >= '0' && c <= '7')) {
        if (v > 255) {
            return -1;
        }
        out[(*o)++] = (char)v;
    } else {
        if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
            return -1;
        }
        *o += utf8_encode(out + *o, v);
    }
    *i = j;
    return 0;
}

char *promql__unquote(arena_t *a, const char *s, size_t n, const char **msg)
{
    char quote = s[0];
    char *out = arena_alloc(a, n + 1);
    if (out == NULL) {
        *msg = "out of memory";
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 1; i + 1 < n;) {
        if (quote != '`' && s[i] == '\\') {
            i++;
            if (unescape_one(s, n - 1, &i, quote, out, &o) < 0) {
                *msg = "invalid syntax";
                return NULL;
            }
            continue;
        }
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

