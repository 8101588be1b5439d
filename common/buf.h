/* common/buf.h - growable byte buffer (heap, single owner). Always NUL-terminated. */
#ifndef HERALD_COMMON_BUF_H
#define HERALD_COMMON_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len, cap;
} buf_t;

void buf_init(buf_t *b);
void buf_fini(buf_t *b);
void buf_reset(buf_t *b); /* len = 0, keeps capacity */
void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *data, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Value of the hex digit c (0-9, a-f, A-F), -1 if c is not one (percent- and \x-decoding). */
int buf_hex_digit(int c);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *buf_steal(buf_t *b, size_t *len);

#endif
