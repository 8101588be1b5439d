/* common/labels.c - label sets: construction, lookup, hashing, ordering, interning, builder.
 * Text (parse, format, quoting) lives in labels_text.c.
 *
 * DESIGN: a set is one allocation: the header, then n label_t whose pointers aim into the
 * string bytes that follow, laid out as "name\0value\0name\0value\0..." in sorted order.
 * Because that byte run is canonical, equality is one memcmp and the hash is hash_bytes over
 * it (a subset hash over all labels gives the same value). Arena and static sets carry
 * refs == LABELS_NOREF and ignore ref/unref.
 *
 * Interning: 64 shards chosen by the top hash bits, each a mutex and a chained bucket array
 * (the chain link lives in the set). An interned set's count only reaches zero under its
 * shard's lock: unref takes the lock when it may drop the last reference, and lookups bump
 * the count under the same lock, so a set found in the table is never concurrently freed. */
#include "common/labels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/labels_int.h"
#include "common/mem.h"

#define LABELS_NOREF (-1)
#define INTERN_SHARDS 64
#define INTERN_SHARD_BITS 6
#define INTERN_MIN_BUCKETS 64
/* Below this many labels a linear scan beats binary search. */
#define LABELS_LINEAR_MAX 8

struct labels {
    atomic_int refs;   /* LABELS_NOREF: arena or static, not counted */
    uint32_t n;        /* labels */
    uint32_t n_bytes;  /* string bytes after pairs[n] */
    uint8_t interned;  /* in the intern table */
    uint64_t hash;     /* hash_bytes over the string bytes; 0 for the empty set */
    struct labels *intern_next;
    label_t pairs[];
};

typedef struct {
    pthread_mutex_t mu;
    labels_t **buckets;
    size_t n_buckets, n_sets;
} intern_shard_t;

static struct {
    intern_shard_t shards[INTERN_SHARDS];
    atomic_size_t n_sets;
} intern = {.shards = {[0 ... INTERN_SHARDS - 1] = {.mu = PTHREAD_MUTEX_INITIALIZER}}};

static labels_t empty_set = {.refs = LABELS_NOREF};

labels_t *labels_empty(void)
{
    return &empty_set;
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const label_t *)a)->name, ((const label_t *)b)->name);
}

/* Insertion sort: sets are small and usually arrive nearly sorted (from a builder over an
 * existing set), where it is linear and avoids qsort's indirect calls. */
static void sort_pairs(label_t *p, size_t n)
{
    if (n > 32) {
        qsort(p, n, sizeof(*p), pair_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        label_t x = p[i];
        size_t j = i;
        while (j > 0 && strcmp(p[j - 1].name, x.name) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

static const char *set_bytes(const labels_t *ls)
{
    return (const char *)&ls->pairs[ls->n];
}

/* Copies sorted, duplicate-free pairs into `mem` (sized by the caller) and fills the header. */
static labels_t *fill_set(void *mem, const label_t *sorted, size_t n, size_t n_bytes, int refs)
{
    labels_t *ls = mem;
    atomic_init(&ls->refs, refs);
    ls->n = (uint32_t)n;
    ls->n_bytes = (uint32_t)n_bytes;
    ls->interned = 0;
    ls->intern_next = NULL;
    char *p = (char *)&ls->pairs[n];
    for (size_t i = 0; i < n; i++) {
        size_t ln = strlen(sorted[i].name) + 1, lv = strlen(sorted[i].value) + 1;
        ls->pairs[i].name = memcpy(p, sorted[i].name, ln);
        ls->pairs[i].value = memcpy(p + ln, sorted[i].value, lv);
        p += ln + lv;
    }
    ls->hash = n > 0 ? hash_bytes(set_bytes(ls), n_bytes, 0) : 0;
    return ls;
}

/* Drops empty values, sorts and checks names. Returns the kept count, or -1 on a duplicate.
 * `tmp` has room for n pairs; *n_bytes gets the string bytes the set needs. */
static long prepare_pairs(const label_t *pairs, size_t n, label_t *tmp, size_t *n_bytes,
                          err_t *err)
{
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].value == NULL || pairs[i].value[0] == '\0') {
            continue;
        }
        tmp[k++] = pairs[i];
        bytes += strlen(pairs[i].name) + strlen(pairs[i].value) + 2;
    }
    sort_pairs(tmp, k);
    for (size_t i = 1; i < k; i++) {
        if (strcmp(tmp[i - 1].name, tmp[i].name) == 0) {
            err_set(err, ERR_BAD_DATA, "label set has duplicate label name: \"%s\"", tmp[i].name);
            return -1;
        }
    }
    *n_bytes = bytes;
    return (long)k;
}

/* Shared by the heap and arena constructors: a == NULL means heap. */
static labels_t *new_set(arena_t *a, const label_t *pairs, size_t n, err_t *err)
{
    label_t stack_tmp[32];
    label_t *tmp = n <= 32 ? stack_tmp : xmalloc(n * sizeof(*tmp));
    labels_t *ls = NULL;
    size_t n_bytes = 0;
    long k = prepare_pairs(pairs, n, tmp, &n_bytes, err);
    if (k < 0) {
        goto done;
    }
    if (k == 0) {
        ls = &empty_set;
        goto done;
    }
    size_t size = sizeof(labels_t) + (size_t)k * sizeof(label_t) + n_bytes;
    void *mem = a != NULL ? arena_alloc(a, size) : xmalloc(size);
    if (mem == NULL) {
        err_set(err, ERR_EXECUTION, "memory budget exceeded while building a label set");
        goto done;
    }
    ls = fill_set(mem, tmp, (size_t)k, n_bytes, a != NULL ? LABELS_NOREF : 1);
done:
    if (tmp != stack_tmp) {
        free(tmp);
    }
    return ls;
}

labels_t *labels_new(const label_t *pairs, size_t n, err_t *err)
{
    return new_set(NULL, pairs, n, err);
}

labels_t *labels_new_arena(arena_t *a, const label_t *pairs, size_t n, err_t *err)
{
    return new_set(a, pairs, n, err);
}

/* A heap copy of a valid set, without re-sorting. */
static labels_t *copy_heap(const labels_t *src)
{
    size_t size = sizeof(labels_t) + src->n * sizeof(label_t) + src->n_bytes;
    return fill_set(xmalloc(size), src->pairs, src->n, src->n_bytes, 1);
}

labels_t *labels_ref(labels_t *ls)
{
    if (ls != NULL && atomic_load_explicit(&ls->refs, memory_order_relaxed) != LABELS_NOREF) {
        atomic_fetch_add_explicit(&ls->refs, 1, memory_order_relaxed);
    }
    return ls;
}

static intern_shard_t *shard_of(uint64_t hash)
{
    return &intern.shards[hash >> (64 - INTERN_SHARD_BITS)];
}

static labels_t **bucket_of(intern_shard_t *sh, uint64_t hash)
{
    return &sh->buckets[hash & (sh->n_buckets - 1)];
}

/* Removes ls from its shard's table; the shard lock is held. */
static void intern_unlink(intern_shard_t *sh, labels_t *ls)
{
    labels_t **pp = bucket_of(sh, ls->hash);
    while (*pp != ls) {
        pp = &(*pp)->intern_next;
    }
    *pp = ls->intern_next;
    sh->n_sets--;
    atomic_fetch_sub(&intern.n_sets, 1);
}

static void unref_interned(labels_t *ls)
{
    int r = atomic_load(&ls->refs);
    while (r > 1) {
        if (atomic_compare_exchange_weak(&ls->refs, &r, r - 1)) {
            return;
        }
    }
    /* Possibly the last reference: only lookups under this lock can add one now. */
    intern_shard_t *sh = shard_of(ls->hash);
    pthread_mutex_lock(&sh->mu);
    int freed = atomic_fetch_sub(&ls->refs, 1) == 1;
    if (freed) {
        intern_unlink(sh, ls);
    }
    pthread_mutex_unlock(&sh->mu);
    if (freed) {
        free(ls);
    }
}

void labels_unref(labels_t *ls)
{
    if (ls == NULL || atomic_load_explicit(&ls->refs, memory_order_relaxed) == LABELS_NOREF) {
        return;
    }
    if (ls->interned) {
        unref_interned(ls);
        return;
    }
    if (atomic_fetch_sub_explicit(&ls->refs, 1, memory_order_acq_rel) == 1) {
        free(ls);
    }
}

/* Doubles the bucket array once the shard averages one set per bucket; lock held. */
static void shard_grow(intern_shard_t *sh)
{
    if (sh->n_sets < sh->n_buckets) {
        return;
    }
    size_t nb = sh->n_buckets ? sh->n_buckets * 2 : INTERN_MIN_BUCKETS;
    labels_t **old = sh->buckets;
    size_t old_nb = sh->n_buckets;
    sh->buckets = xcalloc(nb, sizeof(*sh->buckets));
    sh->n_buckets = nb;
    for (size_t i = 0; i < old_nb; i++) {
        labels_t *ls = old[i];
        while (ls != NULL) {
            labels_t *next = ls->intern_next;
            labels_t **b = bucket_of(sh, ls->hash);
            ls->intern_next = *b;
            *b = ls;
            ls = next;
        }
    }
    free(old);
}

static labels_t *shard_find(intern_shard_t *sh, const labels_t *ls)
{
    if (sh->n_buckets == 0) {
        return NULL;
    }
    for (labels_t *c = *bucket_of(sh, ls->hash); c != NULL; c = c->intern_next) {
        if (labels_equal(c, ls)) {
            return c;
        }
    }
    return NULL;
}

labels_t *labels_intern(const labels_t *ls)
{
    if (ls->n == 0) {
        return &empty_set;
    }
    if (ls->interned) {
        return labels_ref((labels_t *)ls);
    }
    intern_shard_t *sh = shard_of(ls->hash);
    pthread_mutex_lock(&sh->mu);
    labels_t *found = shard_find(sh, ls);
    if (found != NULL) {
        atomic_fetch_add(&found->refs, 1);
    } else {
        found = copy_heap(ls);
        found->interned = 1;
        shard_grow(sh);
        labels_t **b = bucket_of(sh, found->hash);
        found->intern_next = *b;
        *b = found;
        sh->n_sets++;
        atomic_fetch_add(&intern.n_sets, 1);
    }
    pthread_mutex_unlock(&sh->mu);
    return found;
}

size_t labels_intern_count(void)
{
    return atomic_load(&intern.n_sets);
}

size_t labels_len(const labels_t *ls)
{
    return ls->n;
}

label_t labels_at(const labels_t *ls, size_t i)
{
    return ls->pairs[i];
}

const char *labels_get(const labels_t *ls, const char *name)
{
    if (ls->n <= LABELS_LINEAR_MAX) {
        for (size_t i = 0; i < ls->n; i++) {
            if (strcmp(ls->pairs[i].name, name) == 0) {
                return ls->pairs[i].value;
            }
        }
        return NULL;
    }
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ls->pairs[mid].name, name);
        if (c == 0) {
            return ls->pairs[mid].value;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

uint64_t labels_hash(const labels_t *ls)
{
    return ls->hash;
}

static int name_listed(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

uint64_t labels_hash_subset(const labels_t *ls, const char *const *names, size_t n, int keep)
{
    /* The selected labels' "name\0value\0" runs, so that selecting all equals labels_hash. */
    char stack_buf[1024];
    char *bytes = ls->n_bytes <= sizeof(stack_buf) ? stack_buf : xmalloc(ls->n_bytes);
    size_t len = 0;
    for (size_t i = 0; i < ls->n; i++) {
        if (name_listed(ls->pairs[i].name, names, n) != keep) {
            continue;
        }
        const char *start = ls->pairs[i].name;
        const char *end = ls->pairs[i].value + strlen(ls->pairs[i].value) + 1;
        memcpy(bytes + len, start, (size_t)(end - start));
        len += (size_t)(end - start);
    }
    uint64_t h = len > 0 ? hash_bytes(bytes, len, 0) : 0;
    if (bytes != stack_buf) {
        free(bytes);
    }
    return h;
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

int labels_cmp(const labels_t *a, const labels_t *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->pairs[i].name, b->pairs[i].name);
        if (c == 0) {
            c = strcmp(a->pairs[i].value, b->pairs[i].value);
        }
        if (c != 0) {
            return sign(c);
        }
    }
    return (a->n > b->n) - (a->n < b->n);
}

int labels_equal(const labels_t *a, const labels_t *b)
{
    if (a == b) {
        return 1;
    }
    return a->n == b->n && a->hash == b->hash && a->n_bytes == b->n_bytes &&
           memcmp(set_bytes(a), set_bytes(b), a->n_bytes) == 0;
}

/* ---- builder --------------------------------------------------------------------------- */

struct labels_builder {
    arena_t *a;
    label_t *items; /* working set, unsorted; strings borrowed from base or arena copies */
    size_t n, cap;
};

labels_builder_t *labels_builder_new(arena_t *a, const labels_t *base)
{
    labels_builder_t *b = arena_calloc(a, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->a = a;
    labels_builder_reset(b, base);
    return b;
}

/* Room for one more item; on arena exhaustion the builder stops growing (build fails). */
static int builder_room(labels_builder_t *b)
{
    if (b->n < b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap * 2 : 16;
    label_t *items = arena_realloc(b->a, b->items, b->cap * sizeof(label_t), cap * sizeof(label_t));
    if (items == NULL) {
        return -1;
    }
    b->items = items;
    b->cap = cap;
    return 0;
}

void labels_builder_reset(labels_builder_t *b, const labels_t *base)
{
    b->n = 0;
    size_t n = base != NULL ? base->n : 0;
    for (size_t i = 0; i < n && builder_room(b) == 0; i++) {
        b->items[b->n++] = base->pairs[i];
    }
}

static long builder_find(const labels_builder_t *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->items[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

void labels_builder_del(labels_builder_t *b, const char *name)
{
    long i = builder_find(b, name);
    if (i >= 0) {
        b->items[i] = b->items[--b->n];
    }
}

void labels_builder_set(labels_builder_t *b, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        labels_builder_del(b, name);
        return;
    }
    char *v = arena_strdup(b->a, value);
    long i = builder_find(b, name);
    if (v == NULL) {
        return;
    }
    if (i >= 0) {
        b->items[i].value = v;
        return;
    }
    char *nm = arena_strdup(b->a, name);
    if (nm != NULL && builder_room(b) == 0) {
        b->items[b->n++] = (label_t){nm, v};
    }
}

void labels_builder_keep(labels_builder_t *b, const char *const *names, size_t n, int keep)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (name_listed(b->items[i].name, names, n) == keep) {
            b->items[k++] = b->items[i];
        }
    }
    b->n = k;
}

labels_t *labels_builder_build(labels_builder_t *b)
{
    return labels_new_arena(b->a, b->items, b->n, NULL);
}

labels_t *labels_builder_build_heap(labels_builder_t *b)
{
    return labels_new(b->items, b->n, NULL);
}
