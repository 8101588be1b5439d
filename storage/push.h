/* storage/push.h - Prometheus remote write 1.0 ingestion: snappy + protobuf decoding,
 * Mimir's per-tenant validation limits and ingestion rate limit, then the tenant TSDB.
 * A partially bad request stores its good series and reports the first bad one, as Mimir.
 *
 * Ownership: the pusher borrows the registry (it must outlive the pusher) and copies limits.
 * Threads: storage_push is thread-safe; limits may be swapped at runtime (config reload). */
#ifndef HERALD_STORAGE_PUSH_H
#define HERALD_STORAGE_PUSH_H
#include <stddef.h>
#include <stdint.h>

#include "storage/tsdb.h"

/* Mimir's `limits:` names; the daemon maps its config onto this struct. */
typedef struct {
    double ingestion_rate;              /* samples/s per tenant; 0 = unlimited (10000) */
    int64_t ingestion_burst_size;       /* token bucket size (200000) */
    int64_t max_global_series_per_user; /* live series per tenant; 0 = unlimited (150000) */
    int max_label_names_per_series;     /* 30 */
    int max_label_name_length;          /* 1024 */
    int max_label_value_length;         /* 2048 */
    int64_t creation_grace_period_ms;   /* samples further in the future are rejected (10m) */
    size_t max_recv_msg_size;           /* decompressed request limit (100 MiB) */
} storage_limits_t;

void storage_limits_default(storage_limits_t *l);

typedef struct {
    int status;        /* 200 ok; 400 invalid (some data may be stored); 429; 500 */
    char msg[1024];    /* plain-text reason when status != 200 */
    size_t n_series;   /* series in the request */
    size_t n_samples;  /* samples in the request */
    size_t n_accepted; /* samples stored */
} storage_push_result_t;

typedef struct storage_pusher storage_pusher_t;

storage_pusher_t *storage_pusher_new(tsdb_registry_t *reg, const storage_limits_t *limits);
void storage_pusher_free(storage_pusher_t *p); /* NULL is a no-op */
void storage_pusher_set_limits(storage_pusher_t *p, const storage_limits_t *limits);
/* Per-tenant limits (runtime overrides): when set, `fn` gives each push its tenant's limits
 * instead of the pusher's. It must be thread-safe. */
typedef void (*storage_limits_fn)(void *arg, const char *tenant, storage_limits_t *out);
void storage_pusher_set_limits_fn(storage_pusher_t *p, storage_limits_fn fn, void *arg);

/* Decodes and ingests one remote-write body (snappy block format around a WriteRequest)
 * for `tenant`; `now_ms` is the reference for the future-timestamp check. */
void storage_push(storage_pusher_t *p, const char *tenant, const void *body, size_t len,
                  int64_t now_ms, storage_push_result_t *res);

#endif
