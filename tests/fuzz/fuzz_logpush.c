/* tests/fuzz/fuzz_logpush.c - libFuzzer target for Loki push bodies. The first byte picks
 * the form: 0 JSON v1, 1 legacy JSON, 2 snappy-protobuf as sent, 3 a raw PushRequest that
 * the target snappy-compresses first (so the fuzzer explores protobuf rather than snappy).
 * The body is decoded, validated and ingested into a fresh store in a temporary directory,
 * then read back. Invariants: the status is one a client error or success may have (never
 * a 5xx), a 204 accepted every entry, and the store returns at least one and at most the
 * accepted entries. Everything is freed per input. */
#include <ftw.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/logpush.h"

#define NOW_NS 1700000000000000000LL

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static size_t count_stored(logstore_t *s)
{
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    logstore_reader_t *r = logstore_reader(s, "fuzz", INT64_MIN, INT64_MAX, &err);
    log_stream_t *sts = NULL;
    size_t n_st = 0, n = 0;
    if (logstore_select(r, a, NULL, 0, &sts, &n_st, &err) < 0) {
        abort();
    }
    for (size_t i = 0; i < n_st; i++) {
        log_iter_t *it = logstore_iter(r, a, &sts[i], (int)(i & 1), &err);
        log_entry_t e;
        int rc;
        while ((rc = log_iter_next(it, &e, &err)) == 1) {
            n++;
        }
        if (rc < 0) {
            abort();
        }
    }
    logstore_reader_close(r);
    arena_free(a);
    return n;
}

static void check(const logpush_result_t *res, size_t stored)
{
    int st = res->status;
    if (st != 204 && st != 400 && st != 413 && st != 422 && st != 429) {
        fprintf(stderr, "status %d: %s\n", st, res->msg);
        abort();
    }
    if ((st == 204 && res->n_accepted != res->n_entries) || stored > res->n_accepted ||
        (res->n_accepted > 0 && stored == 0)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int form = data[0] & 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *packed = NULL;
    if (form == 3) {
        size_t cap = snappy_max_compressed_length(len);
        packed = malloc(cap + 1);
        snappy_compress(body, len, packed, &cap);
        body = packed;
        len = cap;
    }
    char dir[] = "/tmp/herald-fuzz-logpush-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        free(packed);
        return 0;
    }
    logstore_opts_t o;
    logstore_opts_default(&o);
    o.dir = dir;
    o.wal_fsync_ms = 1000;
    err_t err = {0};
    logstore_t *s = logstore_open(&o, &err);
    logpush_limits_t l;
    logpush_limits_default(&l);
    l.max_recv_msg_size = 1 << 20;
    logpush_t *p = logpush_new(s, &l);
    logpush_result_t res;
    logpush_ingest(p, "fuzz", form < 2 ? "application/json" : "application/x-protobuf", NULL,
                   form == 1, NULL, body, len, NOW_NS, &res);
    check(&res, count_stored(s));
    logpush_free(p);
    logstore_close(s);
    free(packed);
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        abort();
    }
    return 0;
}
