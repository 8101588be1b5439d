/* tests/tools/bench_labels.c - micro-benchmark of the label, matcher and hash-map hot paths.
 * Prints one line per operation with CPU nanoseconds per call (thread CPU time, so a busy
 * machine inflates the figures less than wall time would). Not a test: timings vary with the
 * machine. Usage: build/tools/bench_labels [iterations-scale, default 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hashmap.h"
#include "common/labels.h"
#include "common/matchers.h"

static volatile uint64_t sink; /* keeps results alive so the loops are not optimized away */

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *what, int64_t t0_ns, long n)
{
    double ns = (double)(cpu_ns() - t0_ns) / (double)n;
    printf("%-44s %10.1f ns/op\n", what, ns);
}

static labels_t *sample_set(int i)
{
    static char v[32];
    snprintf(v, sizeof(v), "10.0.%d.%d:9100", i / 256 % 256, i % 256);
    label_t in[] = {{"__name__", "node_cpu_seconds_total"}, {"instance", v}, {"job", "node"},
                    {"cpu", "3"}, {"mode", "idle"}, {"env", "prod"}};
    err_t err = {0};
    return labels_new(in, 6, &err);
}

static void bench_labels(long n)
{
    int64_t t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        labels_t *ls = sample_set((int)i);
        sink += labels_hash(ls);
        labels_unref(ls);
    }
    report("labels_new (6 labels) + unref", t0, n);

    labels_t *ls = sample_set(1);
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        sink += (uintptr_t)labels_get(ls, (i & 1) ? "mode" : "instance");
    }
    report("labels_get", t0, n);

    labels_t *held = labels_intern(ls);
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        labels_t *in = labels_intern(ls);
        labels_unref(in);
    }
    report("labels_intern (hit) + unref", t0, n);
    const char *by[] = {"job", "mode"};
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        sink += labels_hash_subset(ls, by, 2, 1);
    }
    report("labels_hash_subset (by job, mode)", t0, n);
    labels_unref(held);
    labels_unref(ls);
}

static void bench_matcher(const char *re, long n)
{
    err_t err = {0};
    matcher_t *m = matcher_new(MATCH_RE, "l", re, &err);
    if (m == NULL) {
        printf("%s: %s\n", re, err.msg);
        return;
    }
    const char *vals[] = {"api-server-7", "foo", "database", "node-exporter-123456"};
    int64_t t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        sink += (uint64_t)matcher_matches(m, vals[i & 3]);
    }
    char what[64];
    snprintf(what, sizeof(what), "matcher =~ %s", re);
    report(what, t0, n);
    matcher_free(m);
}

static void bench_hashmap(long n)
{
    hashmap_t m;
    hashmap_init(&m);
    char k[32];
    int64_t t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "series-%ld", i);
        hashmap_put(&m, k, (void *)(uintptr_t)(i + 1));
    }
    report("hashmap_put (incl. snprintf)", t0, n);
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "series-%ld", (i * 7919) % n);
        sink += (uintptr_t)hashmap_get(&m, k);
    }
    report("hashmap_get (incl. snprintf)", t0, n);
    hashmap_fini(&m, NULL);
    char buf[1024];
    memset(buf, 'x', sizeof(buf));
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        sink += hash_bytes(buf, 32, (uint64_t)i);
    }
    report("hash_bytes (32 bytes)", t0, n);
    t0 = cpu_ns();
    for (long i = 0; i < n / 8; i++) {
        sink += hash_bytes(buf, sizeof(buf), (uint64_t)i);
    }
    report("hash_bytes (1 KiB)", t0, n / 8);
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1;
    long n = 1000000 * (scale > 0 ? scale : 1);
    bench_labels(n);
    const char *res[] = {"api-server-7", "api-.*", ".*server.*", "foo|bar|database",
                         "(?i)API-.*", "node-exporter-[0-9]+", ".*-[0-9]+"};
    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
        bench_matcher(res[i], n);
    }
    bench_hashmap(n);
    return (int)(sink & 0);
}
