/* storage/tsdb.h - the per-tenant time-series database: a registry of tenant TSDBs, each an
 * in-memory head (interned series, postings, XOR chunks) protected by a write-ahead log, plus
 * immutable on-disk blocks read through mmap, compacted and deleted by retention.
 * Layout on disk: <dir>/<tenant>/wal/ and <dir>/<tenant>/blocks/ (see docs/storage.md).
 *
 * Ownership: the registry owns every tenant TSDB; a tsdb_t pointer stays valid until
 * tsdb_registry_close. Queryables are borrowed from the registry; queriers and appenders
 * are single-owner (see storage/querier.h).
 * Threads: everything here is thread-safe. Each tenant has its own rwlock (appends write,
 * queries read briefly); the registry lock guards only the tenant map. Lock order:
 * registry, then one tenant. A background thread fsyncs WALs and runs maintenance. */
#ifndef HERALD_STORAGE_TSDB_H
#define HERALD_STORAGE_TSDB_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "storage/querier.h"

typedef struct tsdb_registry tsdb_registry_t;
typedef struct tsdb tsdb_t;

typedef struct {
    const char *dir;                 /* blocks_storage.tsdb.dir; tenants are sub-folders */
    int64_t block_range_ms;          /* head cut into blocks of this range (2h) */
    int64_t retention_ms;            /* blocks wholly older than now - this are deleted; 0 keeps */
    int64_t wal_fsync_interval_ms;   /* background fsync period; 0 = fsync before every ack */
    size_t wal_segment_bytes;        /* WAL segment size (128 MiB) */
    int wal_compression;             /* snappy-compress WAL records (replay reads both) */
    int64_t out_of_order_window_ms;  /* limits.out_of_order_time_window; 0 rejects them */
    int64_t maintenance_interval_ms; /* how often cut/compaction/retention run (10 s) */
    int background;                  /* 1: start the fsync + maintenance thread */
} tsdb_opts_t;

void tsdb_opts_default(tsdb_opts_t *o);

/* Creates `dir` if needed and opens every tenant found in it (WAL replay, blocks). Logs the
 * replay rate per tenant. NULL + err on I/O failure. */
tsdb_registry_t *tsdb_registry_open(const tsdb_opts_t *o, err_t *err);
/* Stops the background thread, fsyncs every WAL, frees everything. NULL is a no-op. */
void tsdb_registry_close(tsdb_registry_t *r);

/* The tenant's TSDB; created (folder and WAL) on first use when `create` is 1. Without
 * create, NULL (err untouched) if the tenant has no data. Borrowed, valid until close. */
tsdb_t *tsdb_tenant(tsdb_registry_t *r, const char *tenant, int create, err_t *err);

/* Read interface for the PromQL engine, the ruler and the series APIs. Never NULL: an unknown
 * tenant gets a queryable that selects nothing. Borrowed from the registry. */
queryable_t *tsdb_queryable(tsdb_registry_t *r, const char *tenant);
/* Write interface for recording rules (creates the tenant on commit). Single owner. */
appender_t *tsdb_appender(tsdb_registry_t *r, const char *tenant);

/* ---- ingestion ------------------------------------------------------------------------- */

typedef struct {
    const label_t *labels; /* sorted by name, validated, no empty values */
    size_t n_labels;
    const sample_t *samples; /* time order expected */
    size_t n_samples;
} tsdb_series_in_t;

typedef struct {
    size_t n_ok;         /* samples stored (or identical duplicates ignored) */
    size_t n_failed;     /* samples rejected */
    size_t n_new_series; /* series created */
    size_t n_out_of_order, n_too_old, n_duplicate, n_series_limit; /* per reason */
    err_t first; /* first rejection, with Mimir's message; ERR_BAD_DATA, or
                  * ERR_TOO_MANY_REQUESTS for the series limit */
} tsdb_append_result_t;

/* Appends a batch atomically with respect to queries: series are created as needed (at most
 * `max_series` live series, 0 = no limit), each sample checked for order and age, and the
 * accepted ones written to the WAL before returning (write(2) done; fsync per policy).
 * Rejected samples go to *res, not err. Returns -1 (err, ERR_INTERNAL) only when the WAL
 * write fails. */
int tsdb_append(tsdb_t *db, const tsdb_series_in_t *in, size_t n, size_t max_series,
                tsdb_append_result_t *res, err_t *err);

/* ---- maintenance (the background thread calls these; tests call them directly) -------- */

/* Cuts head ranges older than 1.5 block ranges into blocks, compacts adjacent blocks into
 * 3x larger ones, deletes blocks past retention. `now_ms` drives retention. */
int tsdb_maintain(tsdb_t *db, int64_t now_ms, err_t *err);
/* fsyncs the WAL. */
int tsdb_sync(tsdb_t *db, err_t *err);

typedef struct {
    size_t n_series;      /* live head series */
    size_t n_head_chunks; /* closed + open head chunks */
    size_t n_blocks;
    int64_t head_mint, head_maxt; /* INT64_MAX / INT64_MIN when the head is empty */
    int64_t blocks_mint, blocks_maxt;
    uint64_t wal_bytes;
    uint64_t block_bytes;       /* block files */
    uint64_t block_chunk_bytes; /* of which XOR chunk data */
} tsdb_stats_t;
void tsdb_stats(tsdb_t *db, tsdb_stats_t *out);

/* Sorts strings byte-wise and drops duplicates in place; returns the new count. */
size_t tsdb_sort_unique_strs(const char **v, size_t n);

#endif
