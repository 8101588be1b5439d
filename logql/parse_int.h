/* logql/parse_int.h - the parser state shared by logql/parse.c (selectors, pipelines,
 * label filters) and logql/parse_expr.c (metric expressions, validation). Only those two
 * files include it. Not thread-safe: one parser per logql_parse call. */
#ifndef HERALD_LOGQL_PARSE_INT_H
#define HERALD_LOGQL_PARSE_INT_H
#include "logql/logql_int.h"

typedef struct {
    arena_t *a;
    lq_lexer_t lx;
    lq_tok_t tok; /* current token */
    err_t *err;
    int failed;
} lq_parser_t;

/* Moves to the next token. */
void logql__p_next(lq_parser_t *p);
/* The token after the current one, without consuming anything. */
void logql__p_peek(lq_parser_t *p, lq_tok_t *out);
/* "syntax error: unexpected X[, expecting ...]" at the current token; returns NULL. */
void *logql__p_unexpected(lq_parser_t *p, const char *expecting);
/* Consumes a token of `kind` or fails as above. 0 ok, -1 failed. */
int logql__p_expect(lq_parser_t *p, lq_tok_kind_t kind, const char *expecting);
/* A semantic error Loki reports without a position ("parse error : msg"); returns NULL. */
void *logql__p_fail(lq_parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `{...}` followed by its pipeline; unwrap allowed in range aggregations only. */
lq_sel_t *logql__parse_selector(lq_parser_t *p, int allow_unwrap);
/* Appends pipeline stages (and an unwrap, if allowed) to `s`. */
int logql__parse_pipeline(lq_parser_t *p, lq_sel_t *s, int allow_unwrap);
/* `(a, b)` label lists of groupings and vector matching; *n_out 0 for `()`. */
const char **logql__parse_labels(lq_parser_t *p, size_t *n_out);

#endif
