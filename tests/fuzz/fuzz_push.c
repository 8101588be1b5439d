/* tests/fuzz/fuzz_push.c - libFuzzer target for remote-write bodies (snappy block format
 * around a protobuf WriteRequest): decoding, validation and ingestion into a fresh TSDB in a
 * temporary directory. Invariants: the answer is 200, 400 or 429 (never a server fault),
 * and a 200 stored every sample of the request. Everything is freed per input. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/push.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rmrf(const char *dir)
{
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/herald-fuzz-push-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return 0;
    }
    tsdb_opts_t o;
    tsdb_opts_default(&o);
    o.dir = dir;
    o.background = 0;
    err_t err = {0};
    tsdb_registry_t *reg = tsdb_registry_open(&o, &err);
    if (reg == NULL) {
        abort();
    }
    storage_limits_t l;
    storage_limits_default(&l);
    l.max_recv_msg_size = 1 << 20;
    storage_pusher_t *p = storage_pusher_new(reg, &l);
    storage_push_result_t res;
    storage_push(p, "fuzz", data, size, 1700000000000LL, &res);
    if (res.status != 200 && res.status != 400 && res.status != 429) {
        abort();
    }
    if (res.status == 200 && res.n_accepted != res.n_samples) {
        abort();
    }
    storage_pusher_free(p);
    tsdb_registry_close(reg);
    rmrf(dir);
    return 0;
}
