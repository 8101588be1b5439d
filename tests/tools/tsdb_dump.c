/* tests/tools/tsdb_dump.c - opens a stopped herald TSDB directory (blocks + WAL replay) and
 * prints, for every series of a tenant matching a selector, one line:
 *     <labels> <samples> <min_t> <max_t> <sum of values>
 * then a last line `series=<n> samples=<n>`. Used by the storage suite to check that every
 * acknowledged sample survived a kill -9. Usage: tsdb_dump DIR TENANT SELECTOR
 * With -cut RANGE_MS first, the head is cut into blocks of that range (and compacted) before
 * dumping, and the last line adds `blocks=<n> block_bytes=<n> chunk_bytes=<n>
 * block_samples=<n>` (the benchmark's on-disk bytes per sample in blocks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/matchers.h"
#include "storage/tsdb.h"

static int dump_series(querier_t *q, arena_t *a, const series_t *s, size_t *total, err_t *err)
{
    series_iter_t *it = q->ops->iter(q, a, s, err);
    if (it == NULL) {
        return -1;
    }
    sample_t smp;
    size_t n = 0;
    int64_t mint = 0, maxt = 0;
    double sum = 0;
    int rc;
    while ((rc = it->ops->next(it, &smp, err)) == 1) {
        mint = n == 0 ? smp.t : mint;
        maxt = smp.t;
        sum += smp.v;
        n++;
    }
    buf_t b;
    buf_init(&b);
    labels_format(s->labels, &b);
    printf("%s %zu %lld %lld %.17g\n", b.data, n, (long long)mint, (long long)maxt, sum);
    buf_fini(&b);
    *total += n;
    return rc;
}

/* Cuts the tenant's head into blocks; prints block figures to *line. */
static int cut(tsdb_registry_t *r, const char *tenant, char *line, size_t n, err_t *err)
{
    tsdb_t *db = tsdb_tenant(r, tenant, 0, err);
    if (db == NULL || tsdb_maintain(db, INT64_MAX / 2, err) < 0) {
        return -1;
    }
    tsdb_stats_t st;
    tsdb_stats(db, &st);
    size_t samples = 0;
    if (st.n_blocks > 0) {
        arena_t *a = arena_new(0, err);
        size_t n_ms, n_s;
        matcher_t **ms = matchers_parse(a, "{__name__=~\".+\"}", &n_ms, 0, err);
        querier_t *q = tsdb_queryable(r, tenant)->ops->querier(
            tsdb_queryable(r, tenant), st.blocks_mint, st.blocks_maxt - 1, err);
        series_t *ss;
        q->ops->select(q, a, (const matcher_t *const *)ms, n_ms, &ss, &n_s, err);
        for (size_t i = 0; i < n_s; i++) {
            series_iter_t *it = q->ops->iter(q, a, &ss[i], err);
            sample_t smp;
            while (it->ops->next(it, &smp, err) == 1) {
                samples++;
            }
        }
        q->ops->close(q);
        arena_free(a);
    }
    snprintf(line, n, " blocks=%zu block_bytes=%llu chunk_bytes=%llu block_samples=%zu",
             st.n_blocks, (unsigned long long)st.block_bytes,
             (unsigned long long)st.block_chunk_bytes, samples);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t range = 0;
    if (argc == 6 && strcmp(argv[1], "-cut") == 0) {
        range = strtoll(argv[2], NULL, 10);
        argv += 2;
        argc -= 2;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: tsdb_dump [-cut RANGE_MS] DIR TENANT SELECTOR\n");
        return 2;
    }
    tsdb_opts_t o;
    tsdb_opts_default(&o);
    o.dir = argv[1];
    o.background = 0;
    if (range > 0) {
        o.block_range_ms = range;
    }
    char extra[256] = "";
    err_t err = {0};
    tsdb_registry_t *r = tsdb_registry_open(&o, &err);
    arena_t *a = arena_new(0, &err);
    size_t n_ms = 0, n = 0, total = 0;
    if (r != NULL && range > 0 && cut(r, argv[2], extra, sizeof(extra), &err) < 0) {
        fprintf(stderr, "tsdb_dump: cut: %s\n", err.msg);
    }
    matcher_t **ms = r != NULL ? matchers_parse(a, argv[3], &n_ms, 0, &err) : NULL;
    querier_t *q = NULL;
    series_t *ss = NULL;
    if (ms != NULL) {
        queryable_t *qb = tsdb_queryable(r, argv[2]);
        q = qb->ops->querier(qb, INT64_MIN / 2, INT64_MAX / 2, &err);
    }
    int rc =
        q != NULL ? q->ops->select(q, a, (const matcher_t *const *)ms, n_ms, &ss, &n, &err) : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = dump_series(q, a, &ss[i], &total, &err);
    }
    if (q != NULL) {
        q->ops->close(q);
    }
    if (rc < 0) {
        fprintf(stderr, "tsdb_dump: %s\n", err.msg);
    } else {
        printf("series=%zu samples=%zu%s\n", n, total, extra);
    }
    arena_free(a);
    tsdb_registry_close(r);
    return rc < 0 ? 1 : 0;
}
