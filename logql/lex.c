/* logql/lex.c - the LogQL lexer: Loki's token rules (keywords are reserved and
 * case-insensitive, function names are keywords only before `(`, numbers glued to a unit
 * become durations or byte sizes, `[...]` is one RANGE token) and its error texts and
 * positions (1-based line and column of the token; RANGE errors report line 0). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "logql/logql_int.h"

typedef struct {
    const char *word;
    lq_tok_kind_t kind;
    int sub;
} lq_word_t;

static const lq_word_t keywords[] = {
    {"or", TK_OR, 0},
    {"and", TK_AND, 0},
    {"unless", TK_UNLESS, 0},
    {"by", TK_BY, 0},
    {"without", TK_WITHOUT, 0},
    {"bool", TK_BOOL, 0},
    {"on", TK_ON, 0},
    {"ignoring", TK_IGNORING, 0},
    {"group_left", TK_GROUP_LEFT, 0},
    {"group_right", TK_GROUP_RIGHT, 0},
    {"offset", TK_OFFSET, 0},
    {"json", TK_JSON, 0},
    {"logfmt", TK_LOGFMT, 0},
    {"regexp", TK_REGEXP, 0},
    {"unpack", TK_UNPACK, 0},
    {"pattern", TK_PATTERN, 0},
    {"line_format", TK_LINE_FMT, 0},
    {"label_format", TK_LABEL_FMT, 0},
    {"unwrap", TK_UNWRAP, 0},
    {"decolorize", TK_DECOLORIZE, 0},
    {"drop", TK_DROP, 0},
    {"keep", TK_KEEP, 0},
};

static const lq_word_t functions[] = {
    {"count_over_time", TK_FN_RANGE, LOGQL_COUNT_OVER_TIME},
    {"rate", TK_FN_RANGE, LOGQL_RATE},
    {"rate_counter", TK_FN_RANGE, LOGQL_RATE_COUNTER},
    {"bytes_over_time", TK_FN_RANGE, LOGQL_BYTES_OVER_TIME},
    {"bytes_rate", TK_FN_RANGE, LOGQL_BYTES_RATE},
    {"avg_over_time", TK_FN_RANGE, LOGQL_AVG_OVER_TIME},
    {"sum_over_time", TK_FN_RANGE, LOGQL_SUM_OVER_TIME},
    {"min_over_time", TK_FN_RANGE, LOGQL_MIN_OVER_TIME},
    {"max_over_time", TK_FN_RANGE, LOGQL_MAX_OVER_TIME},
    {"stdvar_over_time", TK_FN_RANGE, LOGQL_STDVAR_OVER_TIME},
    {"stddev_over_time", TK_FN_RANGE, LOGQL_STDDEV_OVER_TIME},
    {"quantile_over_time", TK_FN_RANGE, LOGQL_QUANTILE_OVER_TIME},
    {"first_over_time", TK_FN_RANGE, LOGQL_FIRST_OVER_TIME},
    {"last_over_time", TK_FN_RANGE, LOGQL_LAST_OVER_TIME},
    {"absent_over_time", TK_FN_RANGE, LOGQL_ABSENT_OVER_TIME},
    {"vector", TK_FN_VECTOR, 0},
    {"sum", TK_FN_VECTOR_AGG, VEC_SUM},
    {"avg", TK_FN_VECTOR_AGG, VEC_AVG},
    {"count", TK_FN_VECTOR_AGG, VEC_COUNT},
    {"max", TK_FN_VECTOR_AGG, VEC_MAX},
    {"min", TK_FN_VECTOR_AGG, VEC_MIN},
    {"stddev", TK_FN_VECTOR_AGG, VEC_STDDEV},
    {"stdvar", TK_FN_VECTOR_AGG, VEC_STDVAR},
    {"bottomk", TK_FN_VECTOR_AGG, VEC_BOTTOMK},
    {"topk", TK_FN_VECTOR_AGG, VEC_TOPK},
    {"sort", TK_FN_VECTOR_AGG, VEC_SORT},
    {"sort_desc", TK_FN_VECTOR_AGG, VEC_SORT_DESC},
    {"approx_topk", TK_FN_VECTOR_AGG, VEC_APPROX_TOPK},
    {"bytes", TK_FN_CONV, LQ_CONV_BYTES},
    {"duration", TK_FN_CONV, LQ_CONV_DURATION},
    {"duration_seconds", TK_FN_CONV, LQ_CONV_DURATION_SECONDS},
    /* Also plain tokens in Loki, but its function check comes first: an identifier unless
     * called. */
    {"ip", TK_IP_KW, 0},
    {"label_replace", TK_FN_LABEL_REPLACE, 0},
};

/* Two-character operators first, so `|=` wins over `|`. */
static const lq_word_t operators[] = {
    {"|=", TK_PIPE_EXACT, 0}, {"|~", TK_PIPE_MATCH, 0}, {"|>", TK_PIPE_PATTERN, 0},
    {"!=", TK_NEQ, 0},        {"!~", TK_NRE, 0},        {"!>", TK_NPA, 0},
    {"=~", TK_RE, 0},         {"==", TK_CMP_EQ, 0},     {">=", TK_GTE, 0},
    {"<=", TK_LTE, 0},        {",", TK_COMMA, 0},       {".", TK_DOT, 0},
    {"{", TK_LBRACE, 0},      {"}", TK_RBRACE, 0},      {"=", TK_EQ, 0},
    {"|", TK_PIPE, 0},        {"(", TK_LPAREN, 0},      {")", TK_RPAREN, 0},
    {"]", TK_RBRACKET, 0},    {"+", TK_ADD, 0},         {"-", TK_SUB, 0},
    {"*", TK_MUL, 0},         {"/", TK_DIV, 0},         {"%", TK_MOD, 0},
    {"^", TK_POW, 0},         {">", TK_GT, 0},          {"<", TK_LT, 0},
};

void logql__lex_init(lq_lexer_t *lx, arena_t *a, const char *src, err_t *err)
{
    memset(lx, 0, sizeof(*lx));
    lx->a = a;
    lx->src = src;
    lx->n = strlen(src);
    lx->line = 1;
    lx->col = 1;
    lx->err = err;
}

static int peekc(const lq_lexer_t *lx, size_t ahead)
{
    return lx->pos + ahead < lx->n ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

/* Advances one byte, counting columns in runes as Go's scanner does. */
static void advance(lq_lexer_t *lx)
{
    unsigned char c = (unsigned char)lx->src[lx->pos++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        lx->col++;
    }
}

static void advance_n(lq_lexer_t *lx, size_t n)
{
    while (n-- > 0 && lx->pos < lx->n) {
        advance(lx);
    }
}

static int fail_at(lq_lexer_t *lx, int line, int col, const char *msg)
{
    err_set(lx->err, ERR_BAD_DATA, "parse error at line %d, col %d: %s", line, col, msg);
    lx->failed = 1;
    return TK_EOF;
}

static void skip_space_and_comments(lq_lexer_t *lx)
{
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            advance(lx);
        } else if (c == '#') {
            while (peekc(lx, 0) != -1 && peekc(lx, 0) != '\n') {
                advance(lx);
            }
        } else {
            return;
        }
    }
}

static int is_ident_start(int c)
{
    return c == '_' || isalpha(c);
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || isdigit(c);
}

/* Bytes of the UTF-8 sequence starting at the current position (by its lead byte). */
static size_t utf8_len(const lq_lexer_t *lx)
{
    unsigned char c = (unsigned char)lx->src[lx->pos];
    size_t w = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return w <= lx->n - lx->pos ? w : lx->n - lx->pos;
}

static int scan_string(lq_lexer_t *lx, lq_tok_t *t)
{
    char q = lx->src[lx->pos];
    size_t i = lx->pos + 1;
    while (i < lx->n && lx->src[i] != q && !(q == '"' && lx->src[i] == '\n')) {
        if (q == '"' && lx->src[i] == '\\' && i + 1 < lx->n) {
            i++;
        }
        i++;
    }
    if (i >= lx->n || lx->src[i] != q) {
        return fail_at(lx, t->line, t->col, "literal not terminated");
    }
    if (!labels_is_valid_utf8(lx->src + lx->pos, i + 1 - lx->pos)) {
        return fail_at(lx, t->line, t->col, "invalid UTF-8 encoding");
    }
    err_t e = {0};
    size_t used = 0;
    char *v = labels_unquote(lx->a, lx->src + lx->pos, &used, &e);
    if (v == NULL) {
        return fail_at(lx, t->line, t->col, "invalid char escape");
    }
    t->kind = TK_STRING;
    t->text = v;
    t->len = strlen(v);
    advance_n(lx, i + 1 - lx->pos);
    return TK_STRING;
}

/* Go scanner's number: decimal int/float with exponent, or 0x hex. */
static size_t number_len(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (i = 2; i < n && (isxdigit((unsigned char)s[i]) || s[i] == '_'); i++) {
        }
        return i;
    }
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_')) {
        i++;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && isdigit((unsigned char)s[i]); i++) {
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) {
            j++;
        }
        if (j < n && isdigit((unsigned char)s[j])) {
            for (i = j; i < n && isdigit((unsigned char)s[i]); i++) {
            }
        }
    }
    return i;
}

static int is_duration_char(int c)
{
    return isdigit(c) || c == '.' || (c != 0 && strchr("numsmhdwy", c) != NULL) || c == 0xC2 ||
           c == 0xB5;
}

static int is_bytes_char(int c)
{
    return isdigit(c) || c == '.' || (c != 0 && strchr("BikKMGTP", c) != NULL);
}

/* Length of the unit suffix after the number at `start` made of chars `ok` accepts. */
static size_t suffix_len(const lq_lexer_t *lx, size_t start, int (*ok)(int))
{
    size_t i = start;
    while (i < lx->n && ok((unsigned char)lx->src[i])) {
        i++;
    }
    return i - start;
}

/* Tries `<number><unit>` at [start, start+num) as a duration, then as a byte size. */
static int scan_unit(lq_lexer_t *lx, lq_tok_t *t, size_t start, size_t num)
{
    size_t dl = suffix_len(lx, start + num, is_duration_char);
    if (dl > 0 && logql__parse_duration(lx->src + start, num + dl, &t->dur_ns) == 0) {
        t->kind = TK_DURATION;
        t->text = arena_strndup(lx->a, lx->src + start, num + dl);
        advance_n(lx, num + dl);
        return 1;
    }
    size_t bl = suffix_len(lx, start + num, is_bytes_char);
    if (bl > 0 && logql__parse_bytes(lx->src + start, num + bl, &t->bytes) == 0) {
        t->kind = TK_BYTES;
        t->text = arena_strndup(lx->a, lx->src + start, num + bl);
        advance_n(lx, num + bl);
        return 1;
    }
    return 0;
}

static int scan_number(lq_lexer_t *lx, lq_tok_t *t)
{
    size_t num = number_len(lx->src + lx->pos, lx->n - lx->pos);
    if (scan_unit(lx, t, lx->pos, num)) {
        return t->kind;
    }
    t->kind = TK_NUMBER;
    t->text = arena_strndup(lx->a, lx->src + lx->pos, num);
    t->len = num;
    advance_n(lx, num);
    return TK_NUMBER;
}

/* The message model.ParseDuration gives for a bad range. */
static const char *range_error(lq_lexer_t *lx, const char *d)
{
    if (*d == '\0') {
        return "empty duration string";
    }
    size_t i = 0;
    while (isdigit((unsigned char)d[i])) {
        i++;
    }
    size_t u = i;
    while (isalpha((unsigned char)d[u])) {
        u++;
    }
    if (i > 0 && u > i && d[u] == '\0') {
        return arena_sprintf(lx->a, "unknown unit \"%s\" in duration \"%s\"", d + i, d);
    }
    return arena_sprintf(lx->a, "not a valid duration string: \"%s\"", d);
}

static int scan_range(lq_lexer_t *lx, lq_tok_t *t)
{
    size_t i = lx->pos + 1;
    while (i < lx->n && lx->src[i] != ']') {
        i++;
    }
    if (i >= lx->n) {
        return fail_at(lx, 0, t->col, "missing closing ']' in duration");
    }
    char *d = arena_strndup(lx->a, lx->src + lx->pos + 1, i - lx->pos - 1);
    int64_t ms = 0;
    err_t e = {0};
    if (duration_parse(d, &ms, &e) != 0) {
        return fail_at(lx, 0, t->col, range_error(lx, d));
    }
    t->kind = TK_RANGE;
    t->text = d;
    t->dur_ns = ms * 1000000;
    t->line = 0;
    advance_n(lx, i + 1 - lx->pos);
    return TK_RANGE;
}

/* `--strict` / `--keep-empty`, or a negative duration, or `-`. */
static int scan_minus(lq_lexer_t *lx, lq_tok_t *t)
{
    if (peekc(lx, 1) == '-') {
        size_t i = lx->pos + 2;
        while (i < lx->n && (isalpha((unsigned char)lx->src[i]) || lx->src[i] == '-')) {
            i++;
        }
        size_t len = i - lx->pos;
        if ((len == 8 && strncmp(lx->src + lx->pos, "--strict", 8) == 0) ||
            (len == 12 && strncmp(lx->src + lx->pos, "--keep-empty", 12) == 0)) {
            t->kind = TK_FLAG;
            t->text = arena_strndup(lx->a, lx->src + lx->pos, len);
            advance_n(lx, len);
            return TK_FLAG;
        }
    }
    size_t dl = suffix_len(lx, lx->pos + 1, is_duration_char);
    if (dl > 0 && logql__parse_duration(lx->src + lx->pos, dl + 1, &t->dur_ns) == 0) {
        t->kind = TK_DURATION;
        t->text = arena_strndup(lx->a, lx->src + lx->pos, dl + 1);
        advance_n(lx, dl + 1);
        return TK_DURATION;
    }
    t->kind = TK_SUB;
    t->text = "-";
    advance(lx);
    return TK_SUB;
}

static int word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* Loki's isFunction: the next non-space text is `(`, or `by`/`without` then `(`. */
static int followed_by_call(const lq_lexer_t *lx, size_t i)
{
    while (i < lx->n && isspace((unsigned char)lx->src[i])) {
        i++;
    }
    if (i < lx->n && lx->src[i] == '(') {
        return 1;
    }
    size_t kw = 0;
    if (lx->n - i >= 2 && strncasecmp(lx->src + i, "by", 2) == 0) {
        kw = 2;
    } else if (lx->n - i >= 7 && strncasecmp(lx->src + i, "without", 7) == 0) {
        kw = 7;
    }
    if (kw == 0) {
        return 0;
    }
    for (i += kw; i < lx->n && isspace((unsigned char)lx->src[i]); i++) {
    }
    return i < lx->n && lx->src[i] == '(';
}

static int scan_ident(lq_lexer_t *lx, lq_tok_t *t)
{
    size_t i = lx->pos;
    while (i < lx->n && is_ident_char((unsigned char)lx->src[i])) {
        i++;
    }
    const char *s = lx->src + lx->pos;
    size_t n = i - lx->pos;
    t->kind = TK_IDENT;
    t->text = arena_strndup(lx->a, s, n);
    t->len = n;
    for (size_t k = 0; k < sizeof(functions) / sizeof(functions[0]); k++) {
        if (word_is(s, n, functions[k].word)) {
            if (followed_by_call(lx, i)) {
                t->kind = functions[k].kind;
                t->sub = functions[k].sub;
            }
            advance_n(lx, n);
            return t->kind;
        }
    }
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (word_is(s, n, keywords[k].word)) {
            t->kind = keywords[k].kind;
            t->text = keywords[k].word; /* yacc names keywords in lower case */
            break;
        }
    }
    advance_n(lx, n);
    return t->kind;
}

static int scan_operator(lq_lexer_t *lx, lq_tok_t *t)
{
    for (size_t k = 0; k < sizeof(operators) / sizeof(operators[0]); k++) {
        size_t n = strlen(operators[k].word);
        if (lx->n - lx->pos >= n && strncmp(lx->src + lx->pos, operators[k].word, n) == 0) {
            t->kind = operators[k].kind;
            t->text = operators[k].word;
            advance_n(lx, n);
            return t->kind;
        }
    }
    /* Loki's lexer turns any other character into an IDENTIFIER token; herald accepts it
     * only where Loki reports it, never as a label name. */
    size_t n = 1;
    while (lx->pos + n < lx->n && ((unsigned char)lx->src[lx->pos + n] & 0xC0) == 0x80) {
        n++;
    }
    t->kind = TK_STRAY;
    t->text = arena_strndup(lx->a, lx->src + lx->pos, n);
    t->len = n;
    advance_n(lx, n);
    return TK_STRAY;
}

/* Go's scanner reads 'x' as a character literal. */
static int scan_char(lq_lexer_t *lx, lq_tok_t *t)
{
    size_t i = lx->pos + 1, runes = 0;
    while (i < lx->n && lx->src[i] != '\'' && lx->src[i] != '\n') {
        runes += ((unsigned char)lx->src[i] & 0xC0) != 0x80;
        i += lx->src[i] == '\\' && i + 1 < lx->n ? 2 : 1;
    }
    if (i >= lx->n || lx->src[i] != '\'') {
        return fail_at(lx, t->line, t->col, "literal not terminated");
    }
    if (runes != 1) {
        return fail_at(lx, t->line, t->col, "illegal char literal");
    }
    t->kind = TK_STRAY;
    t->text = arena_strndup(lx->a, lx->src + lx->pos, i + 1 - lx->pos);
    advance_n(lx, i + 1 - lx->pos);
    return TK_STRAY;
}

int logql__lex_next(lq_lexer_t *lx, lq_tok_t *t)
{
    memset(t, 0, sizeof(*t));
    if (lx->failed) {
        return TK_EOF;
    }
    skip_space_and_comments(lx);
    t->line = lx->line;
    t->col = lx->col;
    int c = peekc(lx, 0);
    if (c == -1) {
        t->kind = TK_EOF;
        return TK_EOF;
    }
    if (c == '"' || c == '`') {
        return scan_string(lx, t);
    }
    if (c == '\'') {
        return scan_char(lx, t);
    }
    if (isdigit(c) || (c == '.' && isdigit(peekc(lx, 1)))) {
        return scan_number(lx, t);
    }
    if (c == '[') {
        return scan_range(lx, t);
    }
    if (c == '-') {
        return scan_minus(lx, t);
    }
    if (is_ident_start(c)) {
        return scan_ident(lx, t);
    }
    if (c >= 0x80 && !labels_is_valid_utf8(lx->src + lx->pos, utf8_len(lx))) {
        return fail_at(lx, t->line, t->col, "invalid UTF-8 encoding");
    }
    return scan_operator(lx, t);
}

const char *logql__tok_name(const lq_tok_t *t)
{
    switch (t->kind) {
    case TK_EOF: return "$end";
    case TK_IDENT:
    case TK_STRAY: return "IDENTIFIER";
    case TK_STRING: return "STRING";
    case TK_NUMBER: return "NUMBER";
    case TK_DURATION: return "DURATION";
    case TK_BYTES: return "BYTES";
    case TK_RANGE: return "RANGE";
    case TK_FLAG: return "FUNCTION_FLAG";
    case TK_FN_RANGE:
    case TK_FN_VECTOR_AGG:
    case TK_FN_VECTOR:
    case TK_FN_CONV: {
        static const char *conv[] = {"", "BYTES_CONV", "DURATION_CONV", "DURATION_SECONDS_CONV"};
        if (t->kind == TK_FN_CONV) {
            return conv[t->sub];
        }
        char *up = (char *)t->text; /* arena copy owned by this token */
        for (char *p = up; *p; p++) {
            *p = (char)toupper((unsigned char)*p);
        }
        return up;
    }
    case TK_IP_KW: return "ip";
    case TK_FN_LABEL_REPLACE: return "label_replace";
    default: return t->text != NULL ? t->text : "?";
    }
}

/* ---- units shared with the pipeline ------------------------------------------------------ */

int logql__parse_duration(const char *s, size_t n, int64_t *ns)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    err_t e = {0};
    int64_t ms = 0;
    if (duration_parse(tmp, &ms, &e) == 0) {
        *ns = ms * 1000000;
        return 0;
    }
    err_clear(&e);
    return go_duration_parse(tmp, ns, &e) == 0 ? 0 : -1;
}

typedef struct {
    const char *unit;
    uint64_t mult;
} lq_unit_t;

/* go-humanize's bytesSizeTable (lower-cased unit -> multiplier). */
static const lq_unit_t byte_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000ull},
    {"kb", 1000ull},
    {"ki", 1ull << 10},
    {"kib", 1ull << 10},
    {"m", 1000000ull},
    {"mb", 1000000ull},
    {"mi", 1ull << 20},
    {"mib", 1ull << 20},
    {"g", 1000000000ull},
    {"gb", 1000000000ull},
    {"gi", 1ull << 30},
    {"gib", 1ull << 30},
    {"t", 1000000000000ull},
    {"tb", 1000000000000ull},
    {"ti", 1ull << 40},
    {"tib", 1ull << 40},
    {"p", 1000000000000000ull},
    {"pb", 1000000000000000ull},
    {"pi", 1ull << 50},
    {"pib", 1ull << 50},
    {"e", 1000000000000000000ull},
    {"eb", 1000000000000000000ull},
    {"ei", 1ull << 60},
    {"eib", 1ull << 60},
};

int logql__parse_bytes(const char *s, size_t n, uint64_t *out)
{
    char num[64], unit[16];
    size_t i = 0, k = 0;
    for (; i < n && (isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == ','); i++) {
        if (s[i] != ',' && k + 1 < sizeof(num)) {
            num[k++] = s[i];
        }
    }
    num[k] = '\0';
    char *end = NULL;
    double f = k > 0 ? strtod(num, &end) : 0;
    if (k == 0 || end == NULL || *end != '\0') {
        return -1;
    }
    size_t j = i, u = 0;
    while (j < n && isspace((unsigned char)s[j])) {
        j++;
    }
    size_t e = n;
    while (e > j && isspace((unsigned char)s[e - 1])) {
        e--;
    }
    if (e - j >= sizeof(unit)) {
        return -2;
    }
    for (; j < e; j++) {
        unit[u++] = (char)tolower((unsigned char)s[j]);
    }
    unit[u] = '\0';
    for (size_t t = 0; t < sizeof(byte_units) / sizeof(byte_units[0]); t++) {
        if (strcmp(unit, byte_units[t].unit) == 0) {
            f *= (double)byte_units[t].mult;
            if (f >= 18446744073709551615.0) {
                return -3;
            }
            *out = (uint64_t)f;
            return 0;
        }
    }
    return -2;
}
