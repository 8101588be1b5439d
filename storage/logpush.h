/* storage/logpush.h - the Loki push API of herald-logd: POST /loki/api/v1/push and the
 * deprecated POST /api/prom/push. Decodes JSON (v1 and the legacy form) and snappy-protobuf
 * bodies, validates them against Loki's limits_config with Loki's error texts, applies the
 * per-tenant ingestion rate limit (token bucket in bytes) and the active stream limit, adds
 * `service_name` as Loki's discovery does, and stores the valid streams. A partly invalid
 * push stores its valid streams and answers 400 naming the invalid ones, as Loki.
 *
 * Ownership: a pusher borrows the store (which must outlive it) and copies limits. Decoded
 * requests live in the caller's arena. Threads: logpush_ingest is thread-safe; limits may be
 * swapped at runtime (config reload). */
#ifndef HERALD_STORAGE_LOGPUSH_H
#define HERALD_STORAGE_LOGPUSH_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "storage/logstore.h"

/* Loki's limits_config names (defaults in logpush_limits_default). */
typedef struct {
    double ingestion_rate_mb;              /* MiB/s per tenant; 0: unlimited (4) */
    double ingestion_burst_size_mb;        /* token bucket size, MiB (6) */
    int max_label_names_per_series;        /* 15 */
    int max_label_name_length;             /* 1024 */
    int max_label_value_length;            /* 2048 */
    int reject_old_samples;                /* 1 */
    int64_t reject_old_samples_max_age_ms; /* 1w */
    int64_t creation_grace_period_ms;      /* 10m */
    int64_t max_line_size;                 /* bytes; 0: no limit (256KB) */
    int max_line_size_truncate;            /* 0 */
    int max_global_streams_per_user;       /* 0: no limit (5000) */
    int allow_structured_metadata;         /* 1 */
    size_t max_structured_metadata_size;   /* bytes of names + values per entry; 0: any (64KB) */
    int max_structured_metadata_entries_count; /* pairs per entry; 0: any (128) */
    int discover_service_name;                 /* 1: Loki's default label list; 0: off */
    size_t max_recv_msg_size;                  /* decompressed body limit (100 MiB) */
} logpush_limits_t;

void logpush_limits_default(logpush_limits_t *l);

/* ---- decoding (exposed for tests and the fuzz target) ---- */
typedef enum {
    LOGPUSH_JSON,        /* {"streams":[{"stream":{..},"values":[["ns","line",{md}]]}]} */
    LOGPUSH_JSON_LEGACY, /* /api/prom/push: {"streams":[{"labels":"{..}","entries":[..]}]} */
    LOGPUSH_PROTO,       /* snappy block around a PushRequest */
} logpush_format_t;

typedef struct {
    const char *labels_text; /* the stream as pushed: selector text, or formatted JSON map */
    labels_t *labels;        /* JSON v1: built from the object; else NULL until parsed */
    log_entry_t *entries;
    size_t n_entries;
} logpush_stream_t;

typedef struct {
    logpush_stream_t *streams;
    size_t n_streams;
} logpush_req_t;

/* Decodes `body` into `a`. max_bytes bounds the snappy-decoded size (413 territory: the
 * error is ERR_TOO_LARGE). Malformed input: -1 + ERR_BAD_DATA with a reason. */
int logpush_decode(arena_t *a, logpush_format_t f, const void *body, size_t len, size_t max_bytes,
                   logpush_req_t *out, err_t *err);

/* ---- ingestion ---- */
typedef struct {
    int status;        /* 204, 400, 413, 422, 429, 500 */
    char msg[2048];    /* plain-text body when status != 204 */
    size_t n_entries;  /* entries in the request */
    size_t n_accepted; /* entries handed to the store (before its dedup) */
} logpush_result_t;

typedef struct logpush logpush_t;

logpush_t *logpush_new(logstore_t *store, const logpush_limits_t *limits);
void logpush_free(logpush_t *p); /* NULL is a no-op */
void logpush_set_limits(logpush_t *p, const logpush_limits_t *limits);

/* Ingests one request body for `tenant`.
 *   content_type      the Content-Type header (NULL: missing -> 400 `mime: no media type`)
 *   content_encoding  the Content-Encoding header: NULL, gzip/deflate (already decoded by the
 *                     HTTP layer), snappy (ignored); anything else -> 400
 *   legacy            1 for /api/prom/push (legacy JSON form)
 *   limits            the tenant's limits (NULL: the pusher's)
 *   now_ns            reference time for the age checks */
void logpush_ingest(logpush_t *p, const char *tenant, const char *content_type,
                    const char *content_encoding, int legacy, const logpush_limits_t *limits,
                    const void *body, size_t len, int64_t now_ns, logpush_result_t *res);

/* herald-logd module (config/daemon.h): opens the log store from common.path_prefix and
 * limits_config (retention_period), registers the push routes, reloads limits (and the
 * runtime-config per-tenant overrides) on SIGHUP, flushes and closes the store at stop. */
struct daemon;
int logstore_module_init(struct daemon *d, err_t *err);
/* The store opened by logstore_module_init, for the LogQL engine, the ruler and tail:
 * valid from that init until the daemon stops; NULL before. */
logstore_t *logstore_module_store(void);

#endif
