/* common/hashmap.h - open-addressing hash map with string keys (copied) and void* values.
 * Caller-provided storage (hashmap_init/fini); not thread-safe: guard it with the owner's
 * lock. Also the project's hash function. */
#ifndef HERALD_COMMON_HASHMAP_H
#define HERALD_COMMON_HASHMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key; /* NULL: empty slot */
    uint64_t hash;
    void *value;
    int tomb;
} hashmap_slot_t;

typedef struct {
    hashmap_slot_t *slots;
    size_t cap, len, used; /* used = len + tombstones */
} hashmap_t;

void hashmap_init(hashmap_t *m);
/* Frees keys; calls free_value on each value if not NULL. */
void hashmap_fini(hashmap_t *m, void (*free_value)(void *));
void *hashmap_get(const hashmap_t *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL). */
void *hashmap_put(hashmap_t *m, const char *key, void *value);
void *hashmap_del(hashmap_t *m, const char *key); /* returns the removed value or NULL */
size_t hashmap_len(const hashmap_t *m);
/* Iteration: size_t it = 0; while (hashmap_next(m, &it, &k, &v)) {...}. No insertion while
 * iterating; hashmap_del of the current key is allowed. */
int hashmap_next(const hashmap_t *m, size_t *it, const char **key, void **value);

/* 64-bit hash of bytes (fast, good distribution, not cryptographic). */
uint64_t hash_bytes(const void *data, size_t n, uint64_t seed);

#endif
