/* storage/tsdb_int.h - internals shared by storage/tsdb_*.c only: XOR chunk codec, CRC32C,
 * varint records, the series index (postings), the head, the WAL and blocks.
 * Locking: a tenant's `mu` guards its head, WAL and block list; see tsdb.c. */
#ifndef HERALD_STORAGE_TSDB_INT_H
#define HERALD_STORAGE_TSDB_INT_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/hashmap.h"
#include "common/labels.h"
#include "common/matchers.h"
#include "storage/tsdb.h"

#define TSDB_CHUNK_SAMPLES 120

/* ---- XOR chunks (tsdb_chunk.c) ---- */
typedef struct {
    uint8_t *buf; /* heap, zero-filled beyond nbits */
    uint32_t cap, nbits;
    uint16_t n;
    uint8_t leading, trailing; /* leading 0xff: no XOR window yet */
    int64_t t, t_delta, mint;
    uint64_t v_bits;
} tsdb_xor_enc_t;

typedef struct {
    const uint8_t *data;
    uint32_t len, n, i;
    uint64_t pos; /* bit position */
    int64_t t, t_delta;
    uint64_t v_bits;
    uint8_t leading, trailing;
} tsdb_xor_dec_t;

void tsdb__xor_append(tsdb_xor_enc_t *e, int64_t t, double v);
void tsdb__xor_reset(tsdb_xor_enc_t *e); /* frees the buffer */
void tsdb__xor_dec_init(tsdb_xor_dec_t *d, const uint8_t *data, uint32_t len, uint32_t n);
int tsdb__xor_next(tsdb_xor_dec_t *d, int64_t *t, double *v); /* 1, 0 at end, -1 corrupt */

uint32_t tsdb__crc32c(uint32_t seed, const void *data, size_t n);

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} tsdb_reader_t;
void tsdb__put_uvarint(buf_t *b, uint64_t v);
void tsdb__put_varint(buf_t *b, int64_t v);
void tsdb__put_u64(buf_t *b, uint64_t v); /* little endian */
void tsdb__put_bytes(buf_t *b, const char *s, size_t n);
int tsdb__get_uvarint(tsdb_reader_t *r, uint64_t *out);
int tsdb__get_varint(tsdb_reader_t *r, int64_t *out);
int tsdb__get_u64(tsdb_reader_t *r, uint64_t *out);
int tsdb__get_bytes(tsdb_reader_t *r, const char **s, size_t *n);

/* A closed chunk: head chunks own `data` (heap), block chunks point into the mmap. */
typedef struct {
    const uint8_t *data;
    uint32_t len, n;
    int64_t mint, maxt;
} tsdb_chunk_t;

/* ---- series index (tsdb_index.c): id -> labels, labels -> id, postings ---- */
typedef struct {
    uint32_t *ids; /* ascending */
    uint32_t n, cap;
} tsdb_postings_t;

typedef struct {
    labels_t **labels; /* by id; NULL = removed; one interned reference each */
    uint64_t *hashes;
    uint32_t n, cap; /* ids in [0, n) */
    uint32_t *slots; /* open addressing on hash: id + 1, 0 = empty */
    uint32_t n_slots, n_used;
    hashmap_t names; /* label name -> hashmap_t* (value -> tsdb_postings_t*) */
    uint32_t n_live;
} tsdb_index_t;

uint64_t tsdb__pairs_hash(const label_t *ls, size_t n);
uint64_t tsdb__labels_hash(const labels_t *ls);
void tsdb__index_init(tsdb_index_t *ix);
void tsdb__index_fini(tsdb_index_t *ix);
/* Adds a series under `id` (>= ix->n leaves a gap); steals `ls`. */
void tsdb__index_add(tsdb_index_t *ix, uint32_t id, labels_t *ls, uint64_t hash);
int64_t tsdb__index_find_pairs(const tsdb_index_t *ix, const label_t *ls, size_t n,
                               uint64_t hash); /* id or -1 */
int64_t tsdb__index_find(const tsdb_index_t *ix, const labels_t *ls);
/* Marks removed ids (labels unref'd), then rebuilds the hash table and postings. */
void tsdb__index_remove_many(tsdb_index_t *ix, const uint32_t *ids, size_t n);
/* Sorted ids of live series matching every matcher; *ids in arena. */
int tsdb__index_select(const tsdb_index_t *ix, arena_t *a, const matcher_t *const *ms, size_t n_ms,
                       uint32_t **ids, size_t *n_ids, err_t *err);
/* Appends names (or values of `name`) having live series to *out (arena, unsorted). */
void tsdb__index_names(const tsdb_index_t *ix, arena_t *a, const char ***out, size_t *n,
                       size_t *cap);
void tsdb__index_values(const tsdb_index_t *ix, arena_t *a, const char *name, const char ***out,
                        size_t *n, size_t *cap);

/* ---- head (tsdb_head.c) ---- */
typedef struct {
    tsdb_chunk_t *closed; /* time order; data heap-owned */
    uint32_t n_closed, cap_closed;
    tsdb_xor_enc_t open; /* open.n == 0: none */
    int64_t open_end;    /* exclusive end of the block range the open chunk belongs to */
    int64_t last_t;      /* INT64_MIN before the first sample */
    uint64_t last_bits;  /* value bits of the last sample, to tell re-sends from conflicts */
    sample_t *ooo;       /* out-of-order samples (before last_t), sorted; NULL when none */
    uint32_t n_ooo, cap_ooo;
} tsdb_hseries_t;

typedef struct {
    tsdb_index_t ix;
    tsdb_hseries_t **series; /* by id, parallel to ix.labels */
    uint32_t cap;
    int64_t mint, maxt; /* of samples in the head; INT64_MAX/INT64_MIN when empty */
    int64_t min_valid;  /* samples before this are in blocks */
    int64_t range_ms;
    int64_t ooo_window_ms; /* 0: out-of-order samples are rejected */
    int replaying;         /* WAL replay: accept what was accepted once, whatever the config */
    size_t n_chunks;
} tsdb_head_t;

void tsdb__head_init(tsdb_head_t *h, int64_t range_ms);
void tsdb__head_fini(tsdb_head_t *h);
/* Creates series `id` (replay) or the next id (id < 0). Steals `ls`. */
tsdb_hseries_t *tsdb__head_add_series(tsdb_head_t *h, int64_t id, labels_t *ls, uint64_t hash,
                                      uint32_t *out_id);
/* Appends one sample after order checks: 0 ok, 1 identical duplicate (ignored),
 * -1 out of order, -2 duplicate timestamp with another value, -3 too old, -4 out of order
 * and beyond the out-of-order window. Inside the window, older samples go to s->ooo. */
int tsdb__head_append(tsdb_head_t *h, tsdb_hseries_t *s, int64_t t, double v);
/* Closes open chunks whose range ends at or before `before`. */
void tsdb__head_close_chunks(tsdb_head_t *h, int64_t before);
/* Drops closed chunks ending before `before`, then series left empty; sets min_valid. */
void tsdb__head_truncate(tsdb_head_t *h, int64_t before);
int tsdb__head_series_range(const tsdb_hseries_t *s, int64_t *mint, int64_t *maxt);

/* ---- WAL (tsdb_wal.c) ---- */
#define TSDB_WAL_SERIES 1
#define TSDB_WAL_SAMPLES 2
#define TSDB_WAL_SNAPPY 0x80 /* type flag: the payload is snappy-compressed */

typedef struct {
    uint32_t seg;
    int64_t maxt;
} tsdb_wal_seg_t;

typedef struct {
    char *dir;
    int fd;
    uint32_t seg; /* current segment */
    uint64_t seg_bytes, max_seg_bytes, total_bytes;
    int64_t seg_maxt;
    tsdb_wal_seg_t *old; /* closed segments still on disk */
    size_t n_old, cap_old;
    int dirty;
    int compress; /* snappy-compress record payloads */
} tsdb_wal_t;

typedef struct {
    void *ctx;
    void (*series)(void *ctx, uint32_t id, const label_t *ls, size_t n);
    void (*sample)(void *ctx, uint32_t id, int64_t t, double v);
} tsdb_wal_replay_t;

/* Opens dir, replays checkpoint + segments through cb (a torn tail is truncated), then
 * starts a fresh segment. *n_records gets the records read. */
int tsdb__wal_open(tsdb_wal_t *w, const char *dir, uint64_t max_seg_bytes,
                   const tsdb_wal_replay_t *cb, uint64_t *n_records, err_t *err);
void tsdb__wal_close(tsdb_wal_t *w);
/* Frames one record of `type` around payload into out (header + CRC32C), compressing the
 * payload with snappy when `compress`. */
void tsdb__wal_frame(buf_t *out, int type, const buf_t *payload, int compress);
/* SAMPLES payload writer: ids and timestamps delta-coded against the record's first sample. */
typedef struct {
    buf_t *payload;
    int started;
    int64_t base_t;
    uint32_t prev_id;
} tsdb_samples_enc_t;
void tsdb__samples_put(tsdb_samples_enc_t *e, uint32_t id, int64_t t, double v);
/* One write(2) of framed records; fsync too when `sync`. */
int tsdb__wal_write(tsdb_wal_t *w, const buf_t *framed, int64_t maxt, int sync, err_t *err);
int tsdb__wal_sync_fd(tsdb_wal_t *w); /* dup of the current fd for an unlocked fsync, or -1 */
/* Starts a new segment whose checkpoint holds `series_records` (framed), then deletes
 * segments whose samples all lie before `min_valid`. */
int tsdb__wal_checkpoint(tsdb_wal_t *w, const buf_t *series_records, int64_t min_valid, err_t *err);
void tsdb__series_record(buf_t *payload, uint32_t id, const labels_t *ls);

/* ---- blocks (tsdb_block.c) ---- */
typedef struct {
    uint32_t first, n; /* into chunks[] */
} tsdb_bseries_t;

typedef struct tsdb_block {
    int refs;    /* atomic */
    int deleted; /* unlink the file at the last unref */
    char *path;
    int64_t mint, maxt; /* [mint, maxt) */
    uint8_t *map;
    size_t map_len;
    tsdb_index_t ix;
    tsdb_bseries_t *series; /* by id */
    tsdb_chunk_t *chunks;
    size_t n_chunks;
} tsdb_block_t;

/* One series' chunks to write (a block writer input), all in [mint, maxt). */
typedef struct {
    labels_t *labels; /* borrowed */
    const tsdb_chunk_t *chunks;
    size_t n;
    int owns_data; /* chunks' bytes were re-encoded for this write (free them after) */
} tsdb_bwrite_t;

/* Decodes chunks (time-ordered) and merges sorted extra samples into one sorted array with
 * unique timestamps (chunk samples win); keeps t in [mint, maxt]. *out is heap (free). */
size_t tsdb__merge_samples(const tsdb_chunk_t *cs, size_t n_cs, const sample_t *extra,
                           size_t n_extra, int64_t mint, int64_t maxt, sample_t **out);
/* Encodes sorted samples into chunks of at most TSDB_CHUNK_SAMPLES (heap data). */
size_t tsdb__encode_chunks(const sample_t *ss, size_t n, tsdb_chunk_t **out);

/* Writes a block file atomically (tmp + rename) in `dir`; series must be sorted by labels. */
int tsdb__block_write(const char *dir, int64_t mint, int64_t maxt, const tsdb_bwrite_t *series,
                      size_t n, char **out_path, err_t *err);
tsdb_block_t *tsdb__block_open(const char *path, err_t *err);
tsdb_block_t *tsdb__block_ref(tsdb_block_t *b);
void tsdb__block_unref(tsdb_block_t *b);
/* Merges blocks (sorted, disjoint) into one covering [mint, maxt). */
tsdb_block_t *tsdb__block_merge(const char *dir, tsdb_block_t *const *bs, size_t n, int64_t mint,
                                int64_t maxt, err_t *err);

/* ---- tenant (tsdb.c) ---- */
struct tsdb {
    queryable_t qb; /* first: the queryable of this tenant */
    tsdb_registry_t *reg;
    char *tenant, *dir;
    pthread_rwlock_t mu; /* head, wal, blocks */
    pthread_mutex_t maint_mu;
    tsdb_head_t head;
    tsdb_wal_t wal;
    tsdb_block_t **blocks; /* sorted by mint; one reference each */
    size_t n_blocks, cap_blocks;
    int sync_each; /* fsync before ack */
    int64_t retention_ms;
};

/* Inserts a block keeping the list sorted by mint (wider first on ties). Write lock held. */
void tsdb__blocks_add(tsdb_t *db, tsdb_block_t *b);

/* Self-metrics (tsdb_append.c). */
void tsdb__metrics_init(void);
void tsdb__metrics_replay(tsdb_t *db, int64_t ms);
void tsdb__metrics_fsync(int64_t ms);
void tsdb__metrics_maint(tsdb_t *db, int compactions, int checkpoints, size_t removed_series);

/* Querier (tsdb_query.c). */
querier_t *tsdb__querier_new(tsdb_t *db, int64_t mint, int64_t maxt);
extern const queryable_ops_t tsdb__queryable_ops;
extern queryable_t tsdb__empty_queryable; /* for tenants without data; immutable */

/* Sorting helpers. */
int tsdb__cmp_str(const void *a, const void *b);

#endif
