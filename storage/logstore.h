/* storage/logstore.h - the log store of herald-logd: per-tenant streams (a label set each) of
 * timestamped lines with optional structured metadata, written ahead to a WAL before a push
 * is acknowledged, cut into compressed chunks, flushed to disk, replayed after a crash, and
 * read back by time range and stream matchers.
 *
 * Ownership: the registry owns every tenant store. A reader is a single-owner snapshot bound
 * to one tenant and one time range; streams and entries it returns stay valid until
 * logstore_reader_close (entry strings: until the next call on the same iterator). Result
 * arrays live in the arena passed in.
 * Threads: push, readers and subscriptions are thread-safe against each other; one reader or
 * iterator is used by one thread at a time. */
#ifndef HERALD_STORAGE_LOGSTORE_H
#define HERALD_STORAGE_LOGSTORE_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"
#include "common/matchers.h"

typedef struct {
    const char *dir;              /* <dir>/<tenant>/{wal,chunks}; created if missing */
    int64_t retention_ms;         /* 0: keep forever (Loki's retention_period 0s) */
    int64_t wal_fsync_ms;         /* group fsync period; 0: fsync before each ack */
    size_t chunk_target_bytes;    /* cut a head chunk at this many uncompressed bytes (1.5 MiB) */
    int64_t chunk_max_age_ms;     /* ... or when its first entry is this old (2h) */
    int64_t chunk_idle_ms;        /* ... or when the stream got nothing for this long (30m) */
    /* A flush rewrites the WAL to the entries still in heads only once the WAL exceeds this
     * and 4x those heads (64 MiB); until then replay skips the frames of flushed entries. */
    size_t wal_checkpoint_bytes;
} logstore_opts_t;

void logstore_opts_default(logstore_opts_t *o);

/* One log line. In pushes the strings are borrowed from the caller for the call only. */
typedef struct {
    int64_t ts_ns;
    const char *line;
    size_t len;
    const label_t *metadata; /* structured metadata, in push order; may be NULL */
    size_t n_metadata;
} log_entry_t;

/* The entries of one stream in a push (any order; the store sorts). */
typedef struct {
    const labels_t *labels;
    const log_entry_t *entries;
    size_t n_entries;
} log_stream_push_t;

typedef struct logstore logstore_t;

logstore_t *logstore_open(const logstore_opts_t *o, err_t *err); /* replays every WAL */
void logstore_close(logstore_t *s); /* flushes, fsyncs; NULL is a no-op */

/* The background thread's work, run now (tests, shutdown): cut the head chunks due at
 * now_ms (every non-empty one with force), flush them, truncate the WALs, apply retention
 * relative to now_ms. -1 + err (ERR_INTERNAL) on I/O errors; data stays in the WAL. */
int logstore_maintain(logstore_t *s, int64_t now_ms, int force, err_t *err);

/* Appends the streams of one push for `tenant`; on return 0 the data is in the WAL (fsynced
 * per wal_fsync_ms) and visible to new readers. An entry equal to one already stored (same
 * stream, timestamp and line) is dropped, as Loki does. -1 + err (ERR_INTERNAL) on I/O
 * errors: nothing of the push was acknowledged. */
int logstore_push(logstore_t *s, const char *tenant, const log_stream_push_t *streams, size_t n,
                  err_t *err);

/* Live streams of the tenant (for max_global_streams_per_user), and whether `ls` is one. */
size_t logstore_stream_count(logstore_t *s, const char *tenant);
int logstore_has_stream(logstore_t *s, const char *tenant, const labels_t *ls);

typedef struct logstore_reader logstore_reader_t;
typedef struct {
    const labels_t *labels; /* borrowed from the reader */
    void *ref;              /* store-private */
} log_stream_t;

/* Snapshot of the tenant's data with timestamps in [from_ns, to_ns). A tenant that never
 * pushed reads as empty. */
logstore_reader_t *logstore_reader(logstore_t *s, const char *tenant, int64_t from_ns,
                                   int64_t to_ns, err_t *err);
void logstore_reader_close(logstore_reader_t *r); /* NULL is a no-op */

/* Streams matching every matcher with at least one entry in the range (chunk bounds may make
 * this an over-approximation), sorted by labels_cmp. */
int logstore_select(logstore_reader_t *r, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                    log_stream_t **out, size_t *n_out, err_t *err);
/* Sorted distinct label names, or values of `name`, of streams matching ms (n_ms 0: all). */
int logstore_label_names(logstore_reader_t *r, arena_t *a, const matcher_t *const *ms,
                         size_t n_ms, const char ***out, size_t *n_out, err_t *err);
int logstore_label_values(logstore_reader_t *r, arena_t *a, const char *name,
                          const matcher_t *const *ms, size_t n_ms, const char ***out,
                          size_t *n_out, err_t *err);

/* Entries of one selected stream within the reader's range, oldest first (backward=0) or
 * newest first; equal timestamps keep push order (reversed when backward). */
typedef struct log_iter log_iter_t;
log_iter_t *logstore_iter(logstore_reader_t *r, arena_t *a, const log_stream_t *st, int backward,
                          err_t *err);
/* 1 and *out set (strings valid until the next call), 0 at the end, -1 + err. */
int log_iter_next(log_iter_t *it, log_entry_t *out, err_t *err);

/* Tail: `fn` is called after every successful push of `tenant`, on the pushing thread, with
 * the accepted entries (borrowed for the call). It must not block nor call back into the
 * store. */
typedef void (*logstore_tail_fn)(void *arg, const labels_t *stream, const log_entry_t *entries,
                                 size_t n);
typedef struct logstore_sub logstore_sub_t;
logstore_sub_t *logstore_subscribe(logstore_t *s, const char *tenant, logstore_tail_fn fn,
                                   void *arg);
void logstore_unsubscribe(logstore_t *s, logstore_sub_t *sub); /* returns after any call ends */

#endif
