/* common/arena.h - region allocator, one per query, rule evaluation or request.
 * Everything allocated from an arena is released by one arena_free. Over its byte budget
 * an allocation returns NULL and sets ERR_EXECUTION on the arena's err (a 422, not an OOM
 * kill). Not thread-safe: an arena belongs to one thread at a time. */
#ifndef HERALD_COMMON_ARENA_H
#define HERALD_COMMON_ARENA_H
#include <stdarg.h>
#include <stddef.h>

#include "common/err.h"

typedef struct arena arena_t;

/* budget_bytes 0 means unlimited. `err` (may be NULL) receives the over-budget error and
 * must outlive the arena. Never returns NULL. */
arena_t *arena_new(size_t budget_bytes, err_t *err);
void arena_free(arena_t *a);  /* runs cleanups LIFO, then frees blocks; NULL is a no-op */
void arena_reset(arena_t *a); /* like free + new, keeping the first block */

void *arena_alloc(arena_t *a, size_t n);  /* 16-byte aligned; NULL once over budget */
void *arena_calloc(arena_t *a, size_t n); /* zeroed */
/* Grows an array allocated from this arena (old contents copied; old space not reused). */
void *arena_realloc(arena_t *a, void *old, size_t old_n, size_t new_n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_sprintf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(arena_t *a, const char *fmt, va_list ap);

/* Registers fn(arg) to run at arena_free/arena_reset (pcre2 code, jansson values, ...). */
int arena_on_free(arena_t *a, void (*fn)(void *), void *arg);

size_t arena_used(const arena_t *a); /* bytes handed out so far */

#endif
