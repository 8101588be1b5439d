/* common/mem.h - heap allocation that aborts on failure (outside arenas). Thread-safe. */
#ifndef HERALD_COMMON_MEM_H
#define HERALD_COMMON_MEM_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *items (of elem_size bytes) so that at least `need` fit; doubles capacity. */
void xgrow(void **items, size_t *cap, size_t need, size_t elem_size);

#endif
