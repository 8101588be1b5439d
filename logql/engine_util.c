/* logql/engine_util.c - small helpers of the LogQL engine: an arena-backed pointer map used
 * to group entries by output label set, the query deadline and counters, label copies. */
#include <string.h>
#include <time.h>

#include "common/timeutil.h"
#include "logql/engine_int.h"

void logql__emap_init(logql__emap_t *m, arena_t *a)
{
    memset(m, 0, sizeof(*m));
    m->a = a;
}

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33; /* pointers share their low bits: mix before masking */
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void *logql__emap_get(const logql__emap_t *m, uint64_t key)
{
    if (m->cap == 0) {
        return NULL;
    }
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            return m->vals[i];
        }
        if (m->keys[i] == 0) {
            return NULL;
        }
    }
}

static int grow(logql__emap_t *m)
{
    size_t cap = m->cap != 0 ? m->cap * 2 : 64;
    uint64_t *keys = arena_calloc(m->a, cap * sizeof(*keys));
    void **vals = arena_alloc(m->a, cap * sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != 0) {
            size_t j = slot_of(m->keys[i], cap);
            while (keys[j] != 0) {
                j = (j + 1) & (cap - 1);
            }
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int logql__emap_put(logql__emap_t *m, uint64_t key, void *val)
{
    if ((m->len + 1) * 2 > m->cap && grow(m) < 0) {
        return -1;
    }
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] != 0 && m->keys[i] != key) {
        i = (i + 1) & (m->cap - 1);
    }
    if (m->keys[i] == 0) {
        m->keys[i] = key;
        m->len++;
    }
    m->vals[i] = val;
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void logql__erun_init(logql__erun_t *run, const logql_opts_t *opts)
{
    memset(run, 0, sizeof(*run));
    int64_t timeout_ms = opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : 60000;
    run->started_ns = mono_ns();
    run->deadline_ms = time_mono_ms() + timeout_ms;
}

int logql__erun_tick(logql__erun_t *run, size_t line_len, err_t *err)
{
    run->stats.lines_processed++;
    run->stats.bytes_processed += line_len;
    if ((++run->ticks & 1023u) == 0 && time_mono_ms() > run->deadline_ms) {
        return err_set(err, ERR_TIMEOUT, "%s", LOGQL__TIMEOUT_MSG);
    }
    return 0;
}

void logql__erun_finish(logql__erun_t *run, logql_stats_t *out)
{
    run->stats.exec_seconds = (double)(mono_ns() - run->started_ns) / 1e9;
    *out = run->stats;
}

labels_t *logql__e_labels_copy(arena_t *a, const labels_t *ls)
{
    labels_builder_t *b = labels_builder_new(a, ls);
    return b != NULL ? labels_builder_build(b) : NULL;
}

int logql__e_oom(err_t *err)
{
    return err_set(err, ERR_EXECUTION, "query exceeded its memory budget");
}
