/* common/hashmap.c - string-keyed open-addressing hash map and the project's hash function.
 *
 * DESIGN: linear probing over a power-of-two slot array. A deleted slot becomes a tombstone
 * (key kept NULL, tomb=1) so probe chains stay intact; `used` counts live slots plus
 * tombstones and the table is rebuilt when it passes 70% of the capacity, which both grows
 * the table and drops the tombstones. The full 64-bit hash is kept per slot so probes
 * compare hashes before keys and rebuilds never rehash.
 *
 * hash_bytes is a multiply-and-fold design: 16 input bytes per round are mixed through a
 * 64x64->128 bit multiplication whose halves are xored together. It is fast on short keys
 * (label names and values are mostly under 32 bytes) and mixes every input bit into every
 * output bit; it is not meant to resist hash flooding. */
#include "common/hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define HASHMAP_MIN_CAP 16

/* Odd constants with well-spread bits (from the fractional parts of sqrt(2), pi and e). */
#define HASH_K0 0x6a09e667f3bcc909ULL
#define HASH_K1 0x243f6a8885a308d3ULL
#define HASH_K2 0xb7e151628aed2a6bULL

static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t read32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 1..16 trailing bytes as two words; overlapping reads avoid a byte loop. */
static void read_tail(const unsigned char *p, size_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        *a = read64(p);
        *b = read64(p + n - 8);
    } else if (n >= 4) {
        *a = read32(p);
        *b = read32(p + n - 4);
    } else {
        *a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n / 2] << 8) | p[n - 1];
        *b = 0;
    }
}

uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ hash_mix(seed ^ HASH_K0, HASH_K1 ^ n);
    size_t left = n;
    while (left > 16) {
        h = hash_mix(read64(p) ^ HASH_K1, read64(p + 8) ^ h);
        p += 16;
        left -= 16;
    }
    uint64_t a = 0, b = 0;
    if (left > 0) {
        read_tail(p, left, &a, &b);
    }
    h = hash_mix(a ^ HASH_K1, b ^ h);
    return hash_mix(h ^ HASH_K2, HASH_K0 ^ n);
}

void hashmap_init(hashmap_t *m)
{
    m->slots = NULL;
    m->cap = m->len = m->used = 0;
}

void hashmap_fini(hashmap_t *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        hashmap_slot_t *s = &m->slots[i];
        if (s->key != NULL) {
            if (free_value != NULL) {
                free_value(s->value);
            }
            free(s->key);
        }
    }
    free(m->slots);
    hashmap_init(m);
}

static uint64_t key_hash(const char *key)
{
    return hash_bytes(key, strlen(key), 0);
}

/* Slot holding `key`, or NULL. */
static hashmap_slot_t *find_slot(const hashmap_t *m, const char *key, uint64_t h)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hashmap_slot_t *s = &m->slots[i];
        if (s->key == NULL && !s->tomb) {
            return NULL;
        }
        if (s->key != NULL && s->hash == h && strcmp(s->key, key) == 0) {
            return s;
        }
    }
}

/* Places an entry known to be absent into a table without tombstones. */
static void place(hashmap_t *m, char *key, uint64_t h, void *value)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key != NULL) {
        i = (i + 1) & mask;
    }
    m->slots[i] = (hashmap_slot_t){.key = key, .hash = h, .value = value, .tomb = 0};
}

static void rebuild(hashmap_t *m, size_t cap)
{
    hashmap_slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != NULL) {
            place(m, old[i].key, old[i].hash, old[i].value);
        }
    }
    m->used = m->len;
    free(old);
}

/* Keeps (used + 1) / cap <= 0.7 so that an insertion always finds an empty slot. The
 * rebuilt table is the smallest with a live load of at most 0.5: a table full of live
 * entries doubles (to 0.35), one mostly holding tombstones is swept at the same size. */
static void make_room(hashmap_t *m)
{
    if ((m->used + 1) * 10 <= m->cap * 7) {
        return;
    }
    size_t cap = HASHMAP_MIN_CAP;
    while ((m->len + 1) * 2 > cap) {
        cap *= 2;
    }
    rebuild(m, cap);
}

void *hashmap_get(const hashmap_t *m, const char *key)
{
    hashmap_slot_t *s = find_slot(m, key, key_hash(key));
    return s != NULL ? s->value : NULL;
}

void *hashmap_put(hashmap_t *m, const char *key, void *value)
{
    uint64_t h = key_hash(key);
    hashmap_slot_t *s = find_slot(m, key, h);
    if (s != NULL) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    make_room(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key != NULL) {
        i = (i + 1) & mask;
    }
    if (!m->slots[i].tomb) {
        m->used++;
    }
    m->slots[i] = (hashmap_slot_t){.key = xstrdup(key), .hash = h, .value = value, .tomb = 0};
    m->len++;
    return NULL;
}

void *hashmap_del(hashmap_t *m, const char *key)
{
    hashmap_slot_t *s = find_slot(m, key, key_hash(key));
    if (s == NULL) {
        return NULL;
    }
    void *prev = s->value;
    free(s->key);
    *s = (hashmap_slot_t){.key = NULL, .hash = 0, .value = NULL, .tomb = 1};
    m->len--;
    return prev;
}

size_t hashmap_len(const hashmap_t *m)
{
    return m->len;
}

int hashmap_next(const hashmap_t *m, size_t *it, const char **key, void **value)
{
    while (*it < m->cap) {
        hashmap_slot_t *s = &m->slots[(*it)++];
        if (s->key != NULL) {
            *key = s->key;
            *value = s->value;
            return 1;
        }
    }
    return 0;
}
