/* storage/tsdb_index.c - the series index shared by the head and the blocks: series ids to
 * interned label sets, a hash table from label sets to ids, and postings (label name ->
 * value -> ascending ids) so that matchers resolve by unioning and intersecting lists.
 *
 * DESIGN: ids are dense and only grow, so appending an id keeps every postings list sorted
 * without work. Removal (head garbage collection after a block cut, rare) nulls the label
 * pointers and rebuilds the hash table and postings from scratch. Not thread-safe: the
 * owner's lock guards it. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "storage/tsdb_int.h"

#define HASH_SEED 0x9e3779b97f4a7c15ULL

static uint64_t hash_pair(uint64_t h, const char *name, const char *value)
{
    h = hash_bytes(name, strlen(name), h);
    return hash_bytes(value, strlen(value), h ^ 0xff);
}

uint64_t tsdb__pairs_hash(const label_t *ls, size_t n)
{
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i < n; i++) {
        h = hash_pair(h, ls[i].name, ls[i].value);
    }
    return h;
}

uint64_t tsdb__labels_hash(const labels_t *ls)
{
    uint64_t h = HASH_SEED;
    size_t n = labels_len(ls);
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ls, i);
        h = hash_pair(h, l.name, l.value);
    }
    return h;
}

void tsdb__index_init(tsdb_index_t *ix)
{
    memset(ix, 0, sizeof(*ix));
    hashmap_init(&ix->names);
}

static void free_postings(void *p)
{
    tsdb_postings_t *ps = p;
    free(ps->ids);
    free(ps);
}

static void free_values(void *p)
{
    hashmap_t *values = p;
    hashmap_fini(values, free_postings);
    free(values);
}

void tsdb__index_fini(tsdb_index_t *ix)
{
    for (uint32_t i = 0; i < ix->n; i++) {
        labels_unref(ix->labels[i]);
    }
    free(ix->labels);
    free(ix->hashes);
    free(ix->slots);
    hashmap_fini(&ix->names, free_values);
    memset(ix, 0, sizeof(*ix));
}

static void slot_insert(tsdb_index_t *ix, uint32_t id)
{
    uint32_t mask = ix->n_slots - 1;
    uint32_t i = (uint32_t)ix->hashes[id] & mask;
    while (ix->slots[i] != 0) {
        i = (i + 1) & mask;
    }
    ix->slots[i] = id + 1;
    ix->n_used++;
}

static void slots_rebuild(tsdb_index_t *ix, uint32_t n_slots)
{
    free(ix->slots);
    ix->slots = xcalloc(n_slots, sizeof(*ix->slots));
    ix->n_slots = n_slots;
    ix->n_used = 0;
    for (uint32_t id = 0; id < ix->n; id++) {
        if (ix->labels[id] != NULL) {
            slot_insert(ix, id);
        }
    }
}

static void postings_add(tsdb_index_t *ix, const char *name, const char *value, uint32_t id)
{
    hashmap_t *values = hashmap_get(&ix->names, name);
    if (values == NULL) {
        values = xmalloc(sizeof(*values));
        hashmap_init(values);
        hashmap_put(&ix->names, name, values);
    }
    tsdb_postings_t *ps = hashmap_get(values, value);
    if (ps == NULL) {
        ps = xcalloc(1, sizeof(*ps));
        hashmap_put(values, value, ps);
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap == 0 ? 1 : ps->cap * 2;
        ps->ids = xrealloc(ps->ids, ps->cap * sizeof(*ps->ids));
    }
    ps->ids[ps->n++] = id;
}

static void postings_add_series(tsdb_index_t *ix, uint32_t id)
{
    size_t n = labels_len(ix->labels[id]);
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ix->labels[id], i);
        postings_add(ix, l.name, l.value, id);
    }
}

void tsdb__index_add(tsdb_index_t *ix, uint32_t id, labels_t *ls, uint64_t hash)
{
    if (id >= ix->cap) {
        uint32_t cap = ix->cap == 0 ? 64 : ix->cap;
        while (cap <= id) {
            cap *= 2;
        }
        ix->labels = xrealloc(ix->labels, cap * sizeof(*ix->labels));
        ix->hashes = xrealloc(ix->hashes, cap * sizeof(*ix->hashes));
        memset(ix->labels + ix->cap, 0, (cap - ix->cap) * sizeof(*ix->labels));
        ix->cap = cap;
    }
    for (uint32_t i = ix->n; i < id; i++) {
        ix->labels[i] = NULL; /* a gap left by a replayed id */
    }
    if (id >= ix->n) {
        ix->n = id + 1;
    }
    ix->labels[id] = ls;
    ix->hashes[id] = hash;
    ix->n_live++;
    if ((ix->n_used + 1) * 4 > ix->n_slots * 3) {
        slots_rebuild(ix, ix->n_slots == 0 ? 1024 : ix->n_slots * 2);
    } else {
        slot_insert(ix, id);
    }
    postings_add_series(ix, id);
}

static int pairs_equal(const labels_t *ls, const label_t *p, size_t n)
{
    if (labels_len(ls) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ls, i);
        if (strcmp(l.name, p[i].name) != 0 || strcmp(l.value, p[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}

int64_t tsdb__index_find_pairs(const tsdb_index_t *ix, const label_t *ls, size_t n, uint64_t hash)
{
    if (ix->n_slots == 0) {
        return -1;
    }
    uint32_t mask = ix->n_slots - 1;
    for (uint32_t i = (uint32_t)hash & mask; ix->slots[i] != 0; i = (i + 1) & mask) {
        uint32_t id = ix->slots[i] - 1;
        if (ix->hashes[id] == hash && ix->labels[id] != NULL &&
            pairs_equal(ix->labels[id], ls, n)) {
            return id;
        }
    }
    return -1;
}

int64_t tsdb__index_find(const tsdb_index_t *ix, const labels_t *ls)
{
    if (ix->n_slots == 0) {
        return -1;
    }
    uint64_t hash = tsdb__labels_hash(ls);
    uint32_t mask = ix->n_slots - 1;
    for (uint32_t i = (uint32_t)hash & mask; ix->slots[i] != 0; i = (i + 1) & mask) {
        uint32_t id = ix->slots[i] - 1;
        if (ix->hashes[id] == hash && ix->labels[id] != NULL &&
            (ix->labels[id] == ls || labels_equal(ix->labels[id], ls))) {
            return id;
        }
    }
    return -1;
}

void tsdb__index_remove_many(tsdb_index_t *ix, const uint32_t *ids, size_t n)
{
    if (n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        labels_unref(ix->labels[ids[i]]);
        ix->labels[ids[i]] = NULL;
        ix->n_live--;
    }
    hashmap_fini(&ix->names, free_values);
    hashmap_init(&ix->names);
    for (uint32_t id = 0; id < ix->n; id++) {
        if (ix->labels[id] != NULL) {
            postings_add_series(ix, id);
        }
    }
    slots_rebuild(ix, ix->n_slots);
}

/* ---- selection ------------------------------------------------------------------------ */

typedef struct {
    uint32_t *ids;
    size_t n;
} idlist_t;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t sort_unique_ids(uint32_t *v, size_t n)
{
    if (n < 2) {
        return n;
    }
    qsort(v, n, sizeof(*v), cmp_u32);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (v[i] != v[w - 1]) {
            v[w++] = v[i];
        }
    }
    return w;
}

static void list_append(arena_t *a, idlist_t *l, size_t *cap, const tsdb_postings_t *ps)
{
    if (l->n + ps->n > *cap) {
        size_t nc = (*cap == 0 ? 64 : *cap * 2);
        while (nc < l->n + ps->n) {
            nc *= 2;
        }
        l->ids = arena_realloc(a, l->ids, *cap * sizeof(uint32_t), nc * sizeof(uint32_t));
        *cap = nc;
    }
    if (l->ids != NULL) {
        memcpy(l->ids + l->n, ps->ids, ps->n * sizeof(uint32_t));
        l->n += ps->n;
    }
}

/* Union of the postings of every value of the matcher's label that it accepts. */
static void matcher_postings(const tsdb_index_t *ix, arena_t *a, const matcher_t *m, idlist_t *out)
{
    size_t cap = 0;
    out->ids = NULL;
    out->n = 0;
    hashmap_t *values = hashmap_get(&ix->names, matcher_name(m));
    if (values == NULL) {
        return;
    }
    const char *const *set;
    int n_set = matcher_set_values(m, &set);
    if (n_set >= 0) {
        for (int i = 0; i < n_set; i++) {
            tsdb_postings_t *ps = hashmap_get(values, set[i]);
            if (ps != NULL) {
                list_append(a, out, &cap, ps);
            }
        }
    } else {
        const char *prefix = matcher_prefix(m), *val;
        size_t plen = strlen(prefix), it = 0;
        void *p;
        while (hashmap_next(values, &it, &val, &p)) {
            if (strncmp(val, prefix, plen) == 0 && matcher_matches(m, val)) {
                list_append(a, out, &cap, p);
            }
        }
    }
    if (n_set != 1) {
        out->n = sort_unique_ids(out->ids, out->n);
    }
}

static size_t intersect(uint32_t *dst, const uint32_t *x, size_t nx, const uint32_t *y, size_t ny)
{
    size_t i = 0, j = 0, w = 0;
    while (i < nx && j < ny) {
        if (x[i] < y[j]) {
            i++;
        } else if (x[i] > y[j]) {
            j++;
        } else {
            dst[w++] = x[i];
            i++;
            j++;
        }
    }
    return w;
}

/* Candidates: the intersection of the postings of matchers that reject the empty string
 * (they need the label present), or every live id when there is none. */
static int candidates(const tsdb_index_t *ix, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                      idlist_t *cand)
{
    int have = 0;
    for (size_t i = 0; i < n_ms; i++) {
        if (matcher_matches_empty(ms[i])) {
            continue;
        }
        idlist_t l;
        matcher_postings(ix, a, ms[i], &l);
        if (!have) {
            *cand = l;
            have = 1;
        } else {
            cand->n = intersect(cand->ids, cand->ids, cand->n, l.ids, l.n);
        }
        if (cand->n == 0) {
            return 0;
        }
    }
    if (!have) {
        cand->ids = arena_alloc(a, (ix->n + 1) * sizeof(uint32_t));
        cand->n = 0;
        for (uint32_t id = 0; id < ix->n; id++) {
            if (ix->labels[id] != NULL) {
                cand->ids[cand->n++] = id;
            }
        }
    }
    return 0;
}

int tsdb__index_select(const tsdb_index_t *ix, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                       uint32_t **ids, size_t *n_ids, err_t *err)
{
    idlist_t cand = {NULL, 0};
    candidates(ix, a, ms, n_ms, &cand);
    size_t w = 0;
    for (size_t i = 0; i < cand.n; i++) {
        const labels_t *ls = ix->labels[cand.ids[i]];
        int ok = ls != NULL;
        for (size_t k = 0; ok && k < n_ms; k++) {
            /* Postings already proved the non-empty matchers; re-check only the others. */
            ok = !matcher_matches_empty(ms[k]) || matcher_matches_labels(ms[k], ls);
        }
        if (ok) {
            cand.ids[w++] = cand.ids[i];
        }
    }
    *ids = cand.ids;
    *n_ids = w;
    return 0;
}

static void push_str(arena_t *a, const char ***out, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t nc = *cap == 0 ? 64 : *cap * 2;
        *out = arena_realloc(a, (void *)*out, *cap * sizeof(char *), nc * sizeof(char *));
        *cap = nc;
    }
    (*out)[(*n)++] = s;
}

static int values_live(const hashmap_t *values)
{
    size_t it = 0;
    const char *k;
    void *p;
    while (hashmap_next(values, &it, &k, &p)) {
        if (((tsdb_postings_t *)p)->n > 0) {
            return 1;
        }
    }
    return 0;
}

void tsdb__index_names(const tsdb_index_t *ix, arena_t *a, const char ***out, size_t *n,
                       size_t *cap)
{
    size_t it = 0;
    const char *name;
    void *values;
    while (hashmap_next(&ix->names, &it, &name, &values)) {
        if (values_live(values)) {
            push_str(a, out, n, cap, arena_strdup(a, name));
        }
    }
}

void tsdb__index_values(const tsdb_index_t *ix, arena_t *a, const char *name, const char ***out,
                        size_t *n, size_t *cap)
{
    hashmap_t *values = hashmap_get(&ix->names, name);
    size_t it = 0;
    const char *v;
    void *p;
    while (values != NULL && hashmap_next(values, &it, &v, &p)) {
        if (((tsdb_postings_t *)p)->n > 0) {
            push_str(a, out, n, cap, arena_strdup(a, v));
        }
    }
}

int tsdb__cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t tsdb_sort_unique_strs(const char **v, size_t n)
{
    if (n < 2) {
        return n;
    }
    qsort(v, n, sizeof(*v), tsdb__cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i], v[w - 1]) != 0) {
            v[w++] = v[i];
        }
    }
    return w;
}
