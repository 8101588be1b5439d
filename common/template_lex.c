/* common/template_lex.c - the lexer of Go's text/template language ({{ }} only).
 *
 * DESIGN: items are produced on demand (the parser peeks at most three ahead). The lexer
 * alternates between text and action state; trim markers ("{{- ", " -}}") are resolved
 * here by shortening the neighbouring text items, as Go's lexer does. Errors become an
 * ITEM_ERROR whose text is Go's message. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/template_int.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alnum(unsigned char c)
{
    return c == '_' || isalnum(c) || c >= 0x80;
}

void tlex_init(tlex_t *lx, const char *src)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = src;
    lx->len = strlen(src);
    lx->line = 1;
}

static titem_t emit(tlex_t *lx, titem_type_t type, size_t start)
{
    titem_t it = {.type = type, .pos = (int)start, .p = lx->src + start,
                  .n = lx->pos - start, .line = lx->start_line};
    for (size_t i = start; i < lx->pos; i++) {
        lx->line += lx->src[i] == '\n';
    }
    lx->start_line = lx->line;
    return it;
}

static titem_t error_item(tlex_t *lx, const char *msg)
{
    titem_t it = {.type = ITEM_ERROR, .pos = (int)lx->pos, .p = msg, .n = strlen(msg),
                  .line = lx->start_line};
    lx->done = 1;
    return it;
}

/* "{{" at i, with a trim marker "- " after it? */
static int left_trim_at(const tlex_t *lx, size_t i)
{
    return i + 3 < lx->len + 1 && lx->src[i + 2] == '-' && i + 3 < lx->len &&
           is_space(lx->src[i + 3]);
}

/* " -}}" at i? */
static int right_trim_at(const tlex_t *lx, size_t i)
{
    return i + 3 < lx->len && is_space(lx->src[i]) && lx->src[i + 1] == '-' &&
           lx->src[i + 2] == '}' && lx->src[i + 3] == '}';
}

static titem_t lex_text(tlex_t *lx)
{
    const char *d = strstr(lx->src + lx->pos, "{{");
    size_t end = d != NULL ? (size_t)(d - lx->src) : lx->len;
    size_t start = lx->pos, text_end = end;
    if (lx->trim_next) {
        while (start < end && is_space(lx->src[start])) {
            lx->line += lx->src[start] == '\n';
            start++;
        }
        lx->trim_next = 0;
        lx->start_line = lx->line;
    }
    if (d != NULL && left_trim_at(lx, end)) {
        while (text_end > start && is_space(lx->src[text_end - 1])) {
            text_end--;
        }
    }
    lx->pos = text_end;
    if (text_end == start) {
        lx->pos = end;
        for (size_t i = start; i < end; i++) {
            lx->line += lx->src[i] == '\n';
        }
        lx->start_line = lx->line;
        return tlex_next(lx);
    }
    titem_t it = emit(lx, ITEM_TEXT, start);
    for (size_t i = text_end; i < end; i++) {
        lx->line += lx->src[i] == '\n';
    }
    lx->start_line = lx->line;
    lx->pos = end;
    return it;
}

/* After "{{" (and an optional "- "): a comment runs to "*\/}}" or "*\/ -}}". */
static titem_t lex_comment(tlex_t *lx)
{
    const char *e = strstr(lx->src + lx->pos + 2, "*/");
    if (e == NULL) {
        return error_item(lx, "unclosed comment");
    }
    size_t after = (size_t)(e - lx->src) + 2;
    size_t start = lx->pos;
    if (right_trim_at(lx, after)) {
        lx->trim_next = 1;
        after += 4;
    } else if (strncmp(lx->src + after, "}}", 2) == 0) {
        after += 2;
    } else {
        return error_item(lx, "comment ends before closing delimiter");
    }
    lx->pos = after;
    emit(lx, ITEM_COMMENT, start);
    return tlex_next(lx);
}

static titem_t lex_left_delim(tlex_t *lx)
{
    size_t start = lx->pos;
    int trim = left_trim_at(lx, start);
    lx->pos += trim ? 3 : 2;
    size_t after = lx->pos;
    while (trim && after < lx->len && is_space(lx->src[after])) {
        after++;
    }
    if (strncmp(lx->src + after, "/*", 2) == 0) {
        lx->pos = after;
        for (size_t i = start; i < after; i++) {
            lx->line += lx->src[i] == '\n';
        }
        lx->start_line = lx->line;
        return lex_comment(lx);
    }
    lx->in_action = 1;
    lx->paren_depth = 0;
    return emit(lx, ITEM_LEFT_DELIM, start);
}

static titem_t lex_quote(tlex_t *lx, char q, titem_type_t type, const char *unterminated)
{
    size_t start = lx->pos++;
    while (lx->pos < lx->len && lx->src[lx->pos] != q) {
        if (q != '`' && lx->src[lx->pos] == '\\' && lx->pos + 1 < lx->len) {
            lx->pos++;
        }
        if (q != '`' && lx->src[lx->pos] == '\n') {
            return error_item(lx, unterminated);
        }
        lx->pos++;
    }
    if (lx->pos >= lx->len) {
        return error_item(lx, unterminated);
    }
    lx->pos++;
    return emit(lx, type, start);
}

static titem_t lex_number(tlex_t *lx)
{
    size_t start = lx->pos;
    if (lx->src[lx->pos] == '+' || lx->src[lx->pos] == '-') {
        lx->pos++;
    }
    while (lx->pos < lx->len) {
        char c = lx->src[lx->pos];
        char prev = lx->src[lx->pos - 1];
        if (isalnum((unsigned char)c) || c == '.' || c == '_' ||
            ((c == '+' || c == '-') && (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P'))) {
            lx->pos++;
        } else {
            break;
        }
    }
    if (lx->pos < lx->len && is_alnum((unsigned char)lx->src[lx->pos])) {
        return error_item(lx, "bad number syntax");
    }
    return emit(lx, ITEM_NUMBER, start);
}

static const struct {
    const char *word;
    titem_type_t type;
} keywords[] = {
    {"block", ITEM_BLOCK}, {"break", ITEM_BREAK}, {"continue", ITEM_CONTINUE},
    {"define", ITEM_DEFINE}, {"else", ITEM_ELSE}, {"end", ITEM_END}, {"if", ITEM_IF},
    {"range", ITEM_RANGE}, {"nil", ITEM_NIL}, {"template", ITEM_TEMPLATE},
    {"with", ITEM_WITH}, {"true", ITEM_BOOL}, {"false", ITEM_BOOL},
};

static titem_t lex_word(tlex_t *lx, titem_type_t plain)
{
    size_t start = lx->pos++;
    while (lx->pos < lx->len && is_alnum((unsigned char)lx->src[lx->pos])) {
        lx->pos++;
    }
    size_t n = lx->pos - start;
    if (plain == ITEM_IDENTIFIER) {
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
            if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, lx->src + start, n) == 0) {
                return emit(lx, keywords[i].type, start);
            }
        }
    }
    return emit(lx, plain, start);
}

static titem_t lex_right_delim(tlex_t *lx, int trim)
{
    size_t start = lx->pos;
    if (trim) {
        lx->pos += 2; /* the space and the dash */
        lx->trim_next = 1;
    }
    lx->pos += 2;
    lx->in_action = 0;
    return emit(lx, ITEM_RIGHT_DELIM, start);
}

static titem_t lex_space(tlex_t *lx)
{
    size_t start = lx->pos;
    while (lx->pos < lx->len && is_space(lx->src[lx->pos]) && !right_trim_at(lx, lx->pos)) {
        lx->pos++;
    }
    return emit(lx, ITEM_SPACE, start);
}

static titem_t lex_punct(tlex_t *lx, char c)
{
    size_t start = lx->pos++;
    switch (c) {
    case '=':
        return emit(lx, ITEM_ASSIGN, start);
    case ':':
        if (lx->pos < lx->len && lx->src[lx->pos] == '=') {
            lx->pos++;
            return emit(lx, ITEM_DECLARE, start);
        }
        return error_item(lx, "expected :=");
    case '|':
        return emit(lx, ITEM_PIPE, start);
    case '(':
        lx->paren_depth++;
        return emit(lx, ITEM_LEFT_PAREN, start);
    case ')':
        lx->paren_depth--; /* a stray ')' is reported by the parser, as Go does */
        return emit(lx, ITEM_RIGHT_PAREN, start);
    case ',':
        return emit(lx, ITEM_CHAR, start);
    }
    if (c > ' ' && c < 0x7f) {
        return emit(lx, ITEM_CHAR, start); /* other printable ASCII: the parser complains */
    }
    lx->pos = start;
    snprintf(lx->errbuf, sizeof(lx->errbuf), "unrecognized character in action: U+%04X '%c'",
             (unsigned char)c, c);
    return error_item(lx, lx->errbuf);
}

static titem_t lex_action(tlex_t *lx)
{
    if (right_trim_at(lx, lx->pos)) {
        return lx->paren_depth > 0 ? error_item(lx, "unclosed left paren")
                                   : lex_right_delim(lx, 1);
    }
    if (strncmp(lx->src + lx->pos, "}}", 2) == 0) {
        return lx->paren_depth > 0 ? error_item(lx, "unclosed left paren")
                                   : lex_right_delim(lx, 0);
    }
    if (lx->pos >= lx->len) {
        return error_item(lx, "unclosed action");
    }
    char c = lx->src[lx->pos];
    char next = lx->pos + 1 < lx->len ? lx->src[lx->pos + 1] : 0;
    if (is_space(c)) {
        return lex_space(lx);
    }
    if (c == '"') {
        return lex_quote(lx, '"', ITEM_STRING, "unterminated quoted string");
    }
    if (c == '`') {
        return lex_quote(lx, '`', ITEM_RAW_STRING, "unterminated raw quoted string");
    }
    if (c == '\'') {
        return lex_quote(lx, '\'', ITEM_CHAR_CONSTANT, "unterminated character constant");
    }
    if (c == '$') {
        return lex_word(lx, ITEM_VARIABLE);
    }
    if (c == '.') {
        if (isdigit((unsigned char)next)) {
            return lex_number(lx);
        }
        if (!is_alnum((unsigned char)next)) {
            lx->pos++;
            return emit(lx, ITEM_DOT, lx->pos - 1);
        }
        return lex_word(lx, ITEM_FIELD);
    }
    if (isdigit((unsigned char)c) || ((c == '+' || c == '-') && isdigit((unsigned char)next))) {
        return lex_number(lx);
    }
    if (is_alnum((unsigned char)c)) {
        return lex_word(lx, ITEM_IDENTIFIER);
    }
    return lex_punct(lx, c);
}

titem_t tlex_next(tlex_t *lx)
{
    if (lx->done) {
        titem_t eof = {.type = ITEM_EOF, .pos = (int)lx->len, .line = lx->line};
        return eof;
    }
    if (lx->in_action) {
        return lex_action(lx);
    }
    if (lx->pos >= lx->len) {
        lx->done = 1;
        return tlex_next(lx);
    }
    if (strncmp(lx->src + lx->pos, "{{", 2) == 0) {
        return lex_left_delim(lx);
    }
    return lex_text(lx);
}
