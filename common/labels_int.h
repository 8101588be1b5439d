/* common/labels_int.h - internals shared by the labels and matchers files of common/.
 * Only common/labels*.c and common/matchers*.c include it. Pure functions, thread-safe. */
#ifndef HERALD_COMMON_LABELS_INT_H
#define HERALD_COMMON_LABELS_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"

/* Where and why a text scan failed: `off` is the byte offset in the scanned input. */
typedef struct {
    const char *msg; /* static text, or arena text for the escape messages */
    size_t off;
} labels__text_err_t;

/* Decodes one UTF-8 sequence as Go does (no overlongs, surrogates or > U+10FFFF). Returns its
 * width (1-4) and sets *r, or returns 0 for an invalid byte (which Go reads as width 1). */
int labels__utf8_decode(const unsigned char *s, size_t n, uint32_t *r);
void labels__utf8_encode(buf_t *out, uint32_t r);

/* Unquotes the Go/PromQL string literal starting at s[0] (", ' or `). On success returns the
 * NUL-terminated value in `a` and sets *consumed to the literal's length including quotes.
 * On failure returns NULL and fills *e (e->msg NULL with the arena over budget). */
char *labels__unquote(arena_t *a, const char *s, size_t *consumed, labels__text_err_t *e);

/* Appends s as an identifier if legacy-valid, else quoted. */
void labels__put_name(buf_t *out, const char *s);

/* Leading whitespace as the PromQL lexer skips it. */
size_t labels__skip_space(const char *s, size_t i);
/* Length of the metric-name identifier [a-zA-Z_:][a-zA-Z0-9_:]* at s (0 if none). */
size_t labels__ident_len(const char *s, int allow_colon);

#endif
