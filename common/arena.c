/* common/arena.c - bump allocator over a chain of blocks; big requests get their own block. */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} block_t;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup_t;

struct arena {
    block_t *head;
    cleanup_t *cleanups;
    size_t budget, used;
    err_t *err;
};

static block_t *block_new(size_t size)
{
    block_t *b = xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_new(size_t budget_bytes, err_t *err)
{
    arena_t *a = xcalloc(1, sizeof(*a));
    a->head = block_new(ARENA_BLOCK);
    a->budget = budget_bytes;
    a->err = err;
    return a;
}

static void run_cleanups(arena_t *a)
{
    cleanup_t *c = a->cleanups;
    a->cleanups = NULL;
    while (c != NULL) {
        cleanup_t *next = c->next;
        c->fn(c->arg);
        free(c);
        c = next;
    }
}

void arena_free(arena_t *a)
{
    if (a == NULL) {
        return;
    }
    run_cleanups(a);
    for (block_t *b = a->head, *n; b != NULL; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void arena_reset(arena_t *a)
{
    run_cleanups(a);
    block_t *last = a->head;
    while (last->next != NULL) {
        block_t *n = last->next;
        free(last);
        last = n;
    }
    /* keep the oldest block (the first one made) when it is a standard one */
    if (last->size != ARENA_BLOCK) {
        free(last);
        last = block_new(ARENA_BLOCK);
    }
    last->used = 0;
    a->head = last;
    a->used = 0;
}

void *arena_alloc(arena_t *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n) {
        return NULL;
    }
    if (a->budget != 0 && a->used + need > a->budget) {
        err_set(a->err, ERR_EXECUTION, "query exceeded its memory budget of %zu bytes",
                a->budget);
        return NULL;
    }
    block_t *b = a->head;
    if (b->size - b->used < need) {
        if (need > ARENA_BLOCK / 4) {
            /* a private block, linked behind the head so the head keeps its free space */
            block_t *big = block_new(need);
            big->used = need;
            big->next = b->next;
            b->next = big;
            a->used += need;
            return big->data;
        }
        b = block_new(ARENA_BLOCK);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *arena_calloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p != NULL) {
        memset(p, 0, n);
    }
    return p;
}

void *arena_realloc(arena_t *a, void *old, size_t old_n, size_t new_n)
{
    if (new_n <= old_n && old != NULL) {
        return old;
    }
    void *p = arena_alloc(a, new_n);
    if (p != NULL && old != NULL) {
        memcpy(p, old, old_n);
    }
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vsprintf(arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return NULL;
    }
    char *d = arena_alloc(a, (size_t)n + 1);
    if (d != NULL) {
        vsnprintf(d, (size_t)n + 1, fmt, ap);
    }
    return d;
}

char *arena_sprintf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return d;
}

int arena_on_free(arena_t *a, void (*fn)(void *), void *arg)
{
    /* cleanups are bookkeeping, not query data: they do not count against the budget */
    cleanup_t *c = xmalloc(sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t arena_used(const arena_t *a)
{
    return a->used;
}
