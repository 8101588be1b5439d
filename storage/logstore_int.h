/* storage/logstore_int.h - internals shared by storage/logstore*.c only: the tenant, its
 * streams, head chunks, flushed blocks, the entry record codec, the WAL and the index.
 *
 * Locking: a tenant's `mu` guards its stream map, every stream's head and block list, its
 * WAL and its index file. The store's `mu` guards only the tenant map; subscriptions have
 * their own rwlock. Order: store.mu, then one tenant.mu; never two tenants. Heads, block
 * lists and data files are refcounted so a reader keeps its snapshot after the lock is
 * released (a cut or retention replaces them, never changes them). */
#ifndef HERALD_STORAGE_LOGSTORE_INT_H
#define HERALD_STORAGE_LOGSTORE_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/hashmap.h"
#include "storage/logstore.h"

#define LS_BLOCK_BYTES (256u << 10) /* uncompressed bytes per compressed block */
#define LS_PAGE_BYTES (64u << 10)   /* head record pages */
#define LS_DATA_FILE_BYTES (64u << 20)

/* One entry record (head pages and block payloads):
 *   varint ts | uvarint len | line | NUL | uvarint n_md | n_md x (uvarint n, name, NUL,
 *   uvarint n, value, NUL)
 * The NULs let readers hand out pointers into the record as C strings. */
void ls__rec_encode(buf_t *out, const log_entry_t *e);
/* Decodes the record at p (at most n bytes). *md gets n_md pairs in `mdbuf`, grown as
 * needed (heap, caller frees). Returns the record length, or 0 if corrupt. */
size_t ls__rec_decode(const uint8_t *p, size_t n, log_entry_t *out, label_t **mdbuf,
                      size_t *md_cap);

/* ---- head: entries in arrival order, in pages that never move ---- */
typedef struct {
    int64_t ts;
    const uint8_t *rec; /* into a page */
    uint32_t rec_len;
    uint32_t line_hash; /* for dedup */
} ls_hentry_t;

typedef struct ls_head {
    atomic_int refs;
    uint8_t **pages;
    size_t n_pages, pages_cap, page_used, page_size; /* last page fill and size */
    ls_hentry_t *entries; /* arrival order; index < n never changes once written */
    size_t n, cap;
    uint32_t *dedup; /* open addressing, entry index + 1, 0 = free */
    size_t dedup_cap;
    size_t bytes; /* record bytes */
    int64_t min_ts, max_ts;
} ls_head_t;

ls_head_t *ls__head_new(void);
void ls__head_unref(ls_head_t *h);
/* Appends unless an entry with the same ts and line is already there: 1 added, 0 dup. */
int ls__head_add(ls_head_t *h, const log_entry_t *e);
void ls__head_truncate(ls_head_t *h, size_t n); /* rollback to n entries */
/* Indices of the first n entries with ts in [from, to), sorted by (ts, arrival). */
size_t ls__head_sorted(const ls_head_t *h, size_t n, int64_t from, int64_t to, uint32_t **out);

/* ---- flushed blocks ---- */
typedef struct ls_file {
    atomic_int refs;
    int fd;
    uint32_t no;
    char *path;
    int64_t live_blocks; /* under the tenant lock */
} ls_file_t;

ls_file_t *ls__file_ref(ls_file_t *f);
void ls__file_unref(ls_file_t *f);

typedef struct {
    ls_file_t *file;
    uint64_t off;
    uint32_t clen, ulen, n, crc;
    int64_t min_ts, max_ts;
    uint64_t gen;
} ls_block_t;

typedef struct {
    atomic_int refs;
    size_t n;
    ls_block_t b[];
} ls_blocks_t;

ls_blocks_t *ls__blocks_with(const ls_blocks_t *old, const ls_block_t *add, size_t n_add);
ls_blocks_t *ls__blocks_ref(ls_blocks_t *bs); /* NULL-safe */
void ls__blocks_unref(ls_blocks_t *bs);
/* Decompresses a block into *out (heap, caller frees); verifies its CRC. */
int ls__block_read(const ls_block_t *b, uint8_t **out, err_t *err);

/* ---- streams and tenants ---- */
typedef struct ls_stream {
    uint32_t id;
    labels_t *labels; /* interned */
    ls_head_t *head;
    ls_blocks_t *blocks; /* NULL: none */
    int64_t first_push_ms, last_push_ms;
    int indexed; /* its STREAM record is in the index file */
    /* Last cut: entries pushed before it are in blocks; WAL frames of this stream in WAL
     * generation cut_wal_gen before byte cut_wal_off (or in older generations) are skipped
     * at replay. has_cut 0: never cut. */
    int has_cut;
    uint64_t cut_wal_gen;
    int64_t cut_wal_off;
    struct ls_stream *next_same_hash;
} ls_stream_t;

typedef struct {
    char *id, *dir;
    pthread_mutex_t mu;
    hashmap_t by_hash; /* hex labels hash -> ls_stream_t* chain */
    ls_stream_t **streams;
    size_t n_streams, streams_cap;
    uint32_t next_id;
    int wal_fd;
    int wal_dirty;
    int64_t wal_bytes;
    int index_fd;
    uint64_t gen;     /* last committed flush */
    uint64_t wal_gen; /* the flush whose checkpoint started the current WAL file (0: none) */
    ls_file_t *data;  /* current data file, NULL before the first flush */
    ls_file_t **files;
    size_t n_files, files_cap;
} ls_tenant_t;

struct logstore {
    logstore_opts_t o;
    char *dir;
    pthread_mutex_t mu; /* guards tenants */
    hashmap_t tenants;  /* id -> ls_tenant_t* */
    pthread_rwlock_t subs_mu;
    logstore_sub_t *subs;
    pthread_t bg;
    int bg_running, stopping;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
};

ls_stream_t *ls__stream_find(ls_tenant_t *t, const labels_t *ls);
ls_stream_t *ls__stream_get(ls_tenant_t *t, const labels_t *ls, int64_t now_ms);
ls_tenant_t *ls__tenant_get(logstore_t *s, const char *tenant, int create, err_t *err);
/* Is the stream live for the stream limit: it has head entries or pushed lately. */
int ls__stream_live(const logstore_t *s, const ls_stream_t *st, int64_t now_ms);

/* ---- disk (logstore_disk.c), all under the tenant lock ---- */
int ls__tenant_load(logstore_t *s, ls_tenant_t *t, err_t *err); /* index, then WAL replay */
void ls__tenant_close_files(ls_tenant_t *t);
/* WAL record of one push: the accepted entries per stream. */
void ls__wal_record(buf_t *out, const labels_t *ls, const log_entry_t *const *es, size_t n);
int ls__wal_append(logstore_t *s, ls_tenant_t *t, const buf_t *payload, err_t *err);
int ls__wal_sync(ls_tenant_t *t);
/* Cuts the heads due at now_ms (all with force), writes blocks, commits the index and
 * rewrites the WAL to what stays in the heads. */
int ls__flush(logstore_t *s, ls_tenant_t *t, int64_t now_ms, int force, err_t *err);
int ls__retain(logstore_t *s, ls_tenant_t *t, int64_t now_ms, err_t *err);

#endif
