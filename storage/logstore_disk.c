/* storage/logstore_disk.c - the log store on disk, per tenant directory:
 *   wal          frames of pushes (a GEN header after a checkpoint, then ENTRIES frames)
 *   index        frames: STREAM (id, labels), BLOCK (stream, file, offset, sizes, crc,
 *                min/max ts), CUT (stream, WAL generation, WAL offset), COMMIT (generation)
 *   chunks/NNNNNNNN  compressed blocks (zstd, ~256 KiB of records each), append-only
 * Every frame is u32 length | u32 CRC32C(payload) | payload (little endian).
 *
 * DESIGN (docs/logstore.md): a flush G appends the cut blocks to the data file and fsyncs
 * it; if a checkpoint is due, writes and fsyncs wal.tmp (GEN G plus the entries still in
 * heads); appends BLOCK, CUT and COMMIT G to the index and fsyncs it (the commit point);
 * then renames wal.tmp over wal. Without a checkpoint the WAL stays and replay skips each
 * cut stream's frames before its CUT. At open, index records after the last COMMIT are cut
 * off and a wal.tmp of the last committed generation replaces wal; any other wal.tmp is
 * stale. So every acknowledged entry is replayed from the WAL or read from committed
 * blocks, never both. Retention rewrites the index whole (index.tmp, rename) and deletes
 * data files no block references any more. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "storage/logstore_int.h"
#include "storage/tsdb_int.h"

enum {
    REC_STREAM = 1,
    REC_BLOCK = 2,
    REC_COMMIT = 3,
    REC_CUT = 4,
    REC_GEN = 'G',
    REC_ENTRIES = 'E'
};

static char *path_of(const ls_tenant_t *t, const char *name)
{
    size_t n = strlen(t->dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", t->dir, name);
    return p;
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put_u32(buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, x, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void frame(buf_t *out, const buf_t *payload)
{
    put_u32(out, (uint32_t)payload->len);
    put_u32(out, tsdb__crc32c(0, payload->data, payload->len));
    buf_append(out, payload->data, payload->len);
}

/* Next frame of data[0..n) at *pos: 1 and the payload, 0 at a clean end, -1 torn/corrupt. */
static int next_frame(const uint8_t *data, size_t n, size_t *pos, tsdb_reader_t *payload)
{
    if (*pos == n) {
        return 0;
    }
    if (n - *pos < 8) {
        return -1;
    }
    uint32_t len = get_u32(data + *pos), crc = get_u32(data + *pos + 4);
    if (len > n - *pos - 8 || tsdb__crc32c(0, data + *pos + 8, len) != crc) {
        return -1;
    }
    *payload = (tsdb_reader_t){.data = data + *pos + 8, .len = len, .pos = 0};
    *pos += 8 + (size_t)len;
    return 1;
}

static int read_file(const char *path, uint8_t **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    struct stat st;
    int rc = fstat(fd, &st);
    if (rc == 0 && st.st_size > 0) {
        *data = xmalloc((size_t)st.st_size);
        rc = pread(fd, *data, (size_t)st.st_size, 0) == st.st_size ? 0 : -1;
        *n = (size_t)st.st_size;
    }
    close(fd);
    return rc;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int io_fail(err_t *err, const char *what, const char *path)
{
    return err_set(err, ERR_INTERNAL, "log store: %s %s: %s", what, path, strerror(errno));
}

/* ---- data files ------------------------------------------------------------------------- */

static ls_file_t *file_find(ls_tenant_t *t, uint32_t no)
{
    for (size_t i = 0; i < t->n_files; i++) {
        if (t->files[i]->no == no) {
            return t->files[i];
        }
    }
    return NULL;
}

static ls_file_t *file_open(ls_tenant_t *t, uint32_t no, int create, err_t *err)
{
    ls_file_t *f = file_find(t, no);
    if (f != NULL) {
        return f;
    }
    char name[32];
    snprintf(name, sizeof(name), "chunks/%08u", no);
    char *path = path_of(t, name);
    int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (fd < 0) {
        io_fail(err, "open", path);
        free(path);
        return NULL;
    }
    f = xcalloc(1, sizeof(*f));
    atomic_init(&f->refs, 1);
    f->fd = fd;
    f->no = no;
    f->path = path;
    xgrow((void **)&t->files, &t->files_cap, t->n_files + 1, sizeof(ls_file_t *));
    t->files[t->n_files++] = f;
    return f;
}

void ls__tenant_close_files(ls_tenant_t *t)
{
    for (size_t i = 0; i < t->n_files; i++) {
        ls__file_unref(t->files[i]);
    }
    free(t->files);
    t->files = NULL;
    t->n_files = 0;
    if (t->wal_fd >= 0) {
        close(t->wal_fd);
    }
    if (t->index_fd >= 0) {
        close(t->index_fd);
    }
    t->wal_fd = t->index_fd = -1;
}

/* ---- index load ----------------------------------------------------------------------------- */

/* A BLOCK or CUT record read but not yet committed. */
typedef struct {
    int type;
    uint32_t sid;
    ls_block_t b;
    uint64_t cut_wal_gen;
    int64_t cut_wal_off;
} pend_t;

typedef struct {
    ls_stream_t **by_id;
    size_t cap;
    pend_t *pending;
    size_t n_pending, pending_cap;
} load_t;

static pend_t *pend_add(load_t *L, int type, uint64_t sid)
{
    if (sid >= L->cap || L->by_id[sid] == NULL) {
        return NULL;
    }
    xgrow((void **)&L->pending, &L->pending_cap, L->n_pending + 1, sizeof(pend_t));
    pend_t *p = &L->pending[L->n_pending++];
    *p = (pend_t){.type = type, .sid = (uint32_t)sid};
    return p;
}

static labels_t *read_pairs(tsdb_reader_t *r, arena_t *a, err_t *err)
{
    uint64_t n;
    if (tsdb__get_uvarint(r, &n) < 0 || n > r->len) {
        return NULL;
    }
    label_t *ps = arena_alloc(a, (n + 1) * sizeof(label_t));
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (tsdb__get_bytes(r, &s, &len) < 0) {
            return NULL;
        }
        ps[i].name = arena_strndup(a, s, len);
        if (tsdb__get_bytes(r, &s, &len) < 0) {
            return NULL;
        }
        ps[i].value = arena_strndup(a, s, len);
    }
    return labels_new_arena(a, ps, (size_t)n, err);
}

static void put_pairs(buf_t *b, const labels_t *ls)
{
    tsdb__put_uvarint(b, labels_len(ls));
    for (size_t i = 0; i < labels_len(ls); i++) {
        label_t l = labels_at(ls, i);
        tsdb__put_bytes(b, l.name, strlen(l.name));
        tsdb__put_bytes(b, l.value, strlen(l.value));
    }
}

static int load_stream_rec(ls_tenant_t *t, load_t *L, tsdb_reader_t *r)
{
    uint64_t id;
    err_t e = {0};
    arena_t *a = arena_new(0, NULL);
    labels_t *ls = tsdb__get_uvarint(r, &id) == 0 ? read_pairs(r, a, &e) : NULL;
    if (ls == NULL || id > UINT32_MAX - 1) {
        arena_free(a);
        return -1;
    }
    ls_stream_t *st = ls__stream_get(t, ls, 0);
    arena_free(a);
    st->id = (uint32_t)id;
    st->indexed = 1;
    if (t->next_id <= id) {
        t->next_id = (uint32_t)id + 1;
    }
    if (id >= L->cap) {
        size_t old = L->cap;
        xgrow((void **)&L->by_id, &L->cap, (size_t)id + 1, sizeof(ls_stream_t *));
        memset(L->by_id + old, 0, (L->cap - old) * sizeof(ls_stream_t *));
    }
    L->by_id[id] = st;
    return 0;
}

static int load_block_rec(ls_tenant_t *t, load_t *L, tsdb_reader_t *r, err_t *err)
{
    uint64_t sid, no, off, clen, ulen, n, crc;
    int64_t min_ts, max_ts;
    if (tsdb__get_uvarint(r, &sid) < 0 || tsdb__get_uvarint(r, &no) < 0 ||
        tsdb__get_uvarint(r, &off) < 0 || tsdb__get_uvarint(r, &clen) < 0 ||
        tsdb__get_uvarint(r, &ulen) < 0 || tsdb__get_uvarint(r, &n) < 0 ||
        tsdb__get_uvarint(r, &crc) < 0 || tsdb__get_varint(r, &min_ts) < 0 ||
        tsdb__get_varint(r, &max_ts) < 0) {
        return -1;
    }
    ls_file_t *f = file_open(t, (uint32_t)no, 0, err);
    if (f == NULL) {
        return -2;
    }
    pend_t *p = pend_add(L, REC_BLOCK, sid);
    if (p == NULL) {
        return -1;
    }
    p->b = (ls_block_t){.file = f,
                        .off = off,
                        .clen = (uint32_t)clen,
                        .ulen = (uint32_t)ulen,
                        .n = (uint32_t)n,
                        .crc = (uint32_t)crc,
                        .min_ts = min_ts,
                        .max_ts = max_ts};
    return 0;
}

static int load_cut_rec(load_t *L, tsdb_reader_t *r)
{
    uint64_t sid, gen, off;
    if (tsdb__get_uvarint(r, &sid) < 0 || tsdb__get_uvarint(r, &gen) < 0 ||
        tsdb__get_uvarint(r, &off) < 0) {
        return -1;
    }
    pend_t *p = pend_add(L, REC_CUT, sid);
    if (p == NULL) {
        return -1;
    }
    p->cut_wal_gen = gen;
    p->cut_wal_off = (int64_t)off;
    return 0;
}

static void load_commit(load_t *L)
{
    for (size_t i = 0; i < L->n_pending; i++) {
        pend_t *p = &L->pending[i];
        ls_stream_t *st = L->by_id[p->sid];
        if (p->type == REC_CUT) {
            st->has_cut = 1;
            st->cut_wal_gen = p->cut_wal_gen;
            st->cut_wal_off = p->cut_wal_off;
            continue;
        }
        ls_blocks_t *nb = ls__blocks_with(st->blocks, &p->b, 1);
        ls__blocks_unref(st->blocks);
        st->blocks = nb;
    }
    L->n_pending = 0;
}

/* Applies the index; returns the length of its committed prefix, or -1 + err. */
static ssize_t load_index(ls_tenant_t *t, const uint8_t *data, size_t n, err_t *err)
{
    load_t L = {0};
    size_t pos = 0, committed = 0;
    tsdb_reader_t r;
    int rc = 0;
    while (rc == 0 && next_frame(data, n, &pos, &r) == 1 && r.len > 0) {
        uint8_t type = r.data[r.pos++];
        uint64_t gen;
        if (type == REC_STREAM) {
            rc = load_stream_rec(t, &L, &r);
        } else if (type == REC_BLOCK) {
            rc = load_block_rec(t, &L, &r, err);
        } else if (type == REC_CUT) {
            rc = load_cut_rec(&L, &r);
        } else if (type == REC_COMMIT && tsdb__get_uvarint(&r, &gen) == 0) {
            load_commit(&L);
            t->gen = gen;
            committed = pos;
        } else {
            rc = -1;
        }
    }
    free(L.by_id);
    free(L.pending);
    if (rc == -2) {
        return -1;
    }
    return (ssize_t)committed; /* a corrupt or torn tail is cut off like an uncommitted one */
}

/* ---- WAL ------------------------------------------------------------------------------------ */

void ls__wal_record(buf_t *out, const labels_t *ls, const log_entry_t *const *es, size_t n)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, REC_ENTRIES);
    put_pairs(&p, ls);
    tsdb__put_uvarint(&p, n);
    for (size_t i = 0; i < n; i++) {
        ls__rec_encode(&p, es[i]);
    }
    frame(out, &p);
    buf_fini(&p);
}

static void wal_record_head(buf_t *out, const ls_stream_t *st)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, REC_ENTRIES);
    put_pairs(&p, st->labels);
    tsdb__put_uvarint(&p, st->head->n);
    for (size_t i = 0; i < st->head->n; i++) {
        buf_append(&p, st->head->entries[i].rec, st->head->entries[i].rec_len);
    }
    frame(out, &p);
    buf_fini(&p);
}

/* A record holding only a generation number: the WAL header (REC_GEN) or an index commit
 * (REC_COMMIT). */
static void gen_record(buf_t *out, char type, uint64_t gen)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, type);
    tsdb__put_uvarint(&p, gen);
    frame(out, &p);
    buf_fini(&p);
}

int ls__wal_append(logstore_t *s, ls_tenant_t *t, const buf_t *payload, err_t *err)
{
    if (write_all(t->wal_fd, payload->data, payload->len) < 0 ||
        (s->o.wal_fsync_ms <= 0 && fdatasync(t->wal_fd) < 0)) {
        int e = errno;
        /* Cut a partial frame off so later appends stay readable. */
        if (ftruncate(t->wal_fd, t->wal_bytes) < 0) {
            LOG_WARN("log WAL truncate failed", KV_STR("tenant", t->id));
        }
        errno = e;
        return io_fail(err, "write WAL of", t->id);
    }
    t->wal_bytes += (int64_t)payload->len;
    t->wal_dirty = s->o.wal_fsync_ms > 0;
    return 0;
}

int ls__wal_sync(ls_tenant_t *t)
{
    if (!t->wal_dirty || t->wal_fd < 0) {
        return 0;
    }
    t->wal_dirty = 0;
    return fdatasync(t->wal_fd);
}

/* 1 if the WAL frame at byte `off` of stream st holds entries already flushed. */
static int flushed_frame(const ls_tenant_t *t, const ls_stream_t *st, int64_t off)
{
    return st != NULL && st->has_cut &&
           (st->cut_wal_gen > t->wal_gen ||
            (st->cut_wal_gen == t->wal_gen && off < st->cut_wal_off));
}

/* Replays one ENTRIES frame that starts at byte `off` of the WAL. */
static int replay_entries(ls_tenant_t *t, tsdb_reader_t *r, int64_t off)
{
    err_t e = {0};
    arena_t *a = arena_new(0, NULL);
    labels_t *ls = read_pairs(r, a, &e);
    uint64_t n;
    int rc = ls != NULL && tsdb__get_uvarint(r, &n) == 0 ? 0 : -1;
    if (rc == 0 && flushed_frame(t, ls__stream_find(t, ls), off)) {
        arena_free(a);
        return 0;
    }
    ls_stream_t *st = rc == 0 ? ls__stream_get(t, ls, time_now_ms()) : NULL;
    label_t *md = NULL;
    size_t md_cap = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        log_entry_t en;
        size_t used = ls__rec_decode(r->data + r->pos, r->len - r->pos, &en, &md, &md_cap);
        if (used == 0) {
            rc = -1;
            break;
        }
        r->pos += used;
        ls__head_add(st->head, &en);
    }
    free(md);
    arena_free(a);
    return rc;
}

/* Replays wal (its header sets t->wal_gen); returns the length of its valid prefix. */
static size_t replay_wal(ls_tenant_t *t, const uint8_t *data, size_t n)
{
    size_t pos = 0, good = 0;
    tsdb_reader_t r;
    while (next_frame(data, n, &pos, &r) == 1 && r.len > 0) {
        uint8_t type = r.data[r.pos++];
        if (type == REC_GEN && good == 0 && tsdb__get_uvarint(&r, &t->wal_gen) < 0) {
            break;
        }
        if (type == REC_ENTRIES && replay_entries(t, &r, (int64_t)good) < 0) {
            break;
        }
        good = pos;
    }
    return good;
}

static int wal_tmp_gen(const char *path, uint64_t *gen)
{
    uint8_t *data;
    size_t n, pos = 0;
    tsdb_reader_t r;
    int ok = read_file(path, &data, &n) == 0 && next_frame(data, n, &pos, &r) == 1 && r.len > 1 &&
             r.data[0] == REC_GEN;
    if (ok) {
        r.pos = 1;
        ok = tsdb__get_uvarint(&r, gen) == 0;
    }
    free(data);
    return ok;
}

static int open_wal(ls_tenant_t *t, err_t *err)
{
    char *wal = path_of(t, "wal"), *tmp = path_of(t, "wal.tmp");
    uint64_t gen;
    if (wal_tmp_gen(tmp, &gen) && gen == t->gen && t->gen > 0) {
        rename(tmp, wal);
    } else {
        unlink(tmp);
    }
    uint8_t *data;
    size_t n;
    int rc = read_file(wal, &data, &n);
    if (rc < 0) {
        io_fail(err, "read", wal);
        goto out;
    }
    size_t good = replay_wal(t, data, n);
    free(data);
    t->wal_fd = open(wal, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (t->wal_fd < 0 || ftruncate(t->wal_fd, (off_t)good) < 0 ||
        lseek(t->wal_fd, 0, SEEK_END) < 0) {
        rc = io_fail(err, "open", wal);
        goto out;
    }
    t->wal_bytes = (int64_t)good;
out:
    free(wal);
    free(tmp);
    return rc;
}

int ls__tenant_load(logstore_t *s, ls_tenant_t *t, err_t *err)
{
    char *chunks = path_of(t, "chunks"), *index = path_of(t, "index");
    uint8_t *data = NULL;
    size_t n;
    int rc = -1;
    if ((mkdir(t->dir, 0755) < 0 && errno != EEXIST) ||
        (mkdir(chunks, 0755) < 0 && errno != EEXIST)) {
        io_fail(err, "mkdir", chunks);
        goto out;
    }
    if (read_file(index, &data, &n) < 0) {
        io_fail(err, "read", index);
        goto out;
    }
    ssize_t committed = load_index(t, data, n, err);
    t->index_fd = committed < 0 ? -1 : open(index, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (committed < 0 || t->index_fd < 0 || ftruncate(t->index_fd, committed) < 0 ||
        lseek(t->index_fd, 0, SEEK_END) < 0) {
        if (committed >= 0) {
            io_fail(err, "open", index);
        }
        goto out;
    }
    rc = open_wal(t, err);
    (void)s;
out:
    free(data);
    free(chunks);
    free(index);
    return rc;
}

/* ---- flush ------------------------------------------------------------------------------------
 */

static int cut_due(const logstore_t *s, const ls_stream_t *st, int64_t now_ms, int force)
{
    if (st->head->n == 0) {
        return 0;
    }
    return force || st->head->bytes >= s->o.chunk_target_bytes ||
           now_ms - st->first_push_ms >= s->o.chunk_max_age_ms ||
           now_ms - st->last_push_ms >= s->o.chunk_idle_ms;
}

/* The data file to append to, rolled over past LS_DATA_FILE_BYTES. */
static ls_file_t *data_file(ls_tenant_t *t, err_t *err)
{
    if (t->data != NULL) {
        off_t end = lseek(t->data->fd, 0, SEEK_END);
        if (end >= 0 && end < (off_t)LS_DATA_FILE_BYTES) {
            return t->data;
        }
    }
    uint32_t no = 0;
    for (size_t i = 0; i < t->n_files; i++) {
        no = t->files[i]->no >= no ? t->files[i]->no + 1 : no;
    }
    t->data = file_open(t, no, 1, err);
    return t->data;
}

/* Compresses one block of records and appends it to the data file. */
static int write_block(ls_tenant_t *t, const buf_t *raw, uint32_t n, int64_t min_ts, int64_t max_ts,
                       ls_block_t *out, err_t *err)
{
    ls_file_t *f = data_file(t, err);
    if (f == NULL) {
        return -1;
    }
    size_t cap = ZSTD_compressBound(raw->len);
    uint8_t *c = xmalloc(cap);
    size_t clen = ZSTD_compress(c, cap, raw->data, raw->len, 3);
    off_t off = lseek(f->fd, 0, SEEK_END);
    int rc = ZSTD_isError(clen) || off < 0 || write_all(f->fd, c, clen) < 0 ? -1 : 0;
    if (rc == 0) {
        *out = (ls_block_t){.file = f,
                            .off = (uint64_t)off,
                            .clen = (uint32_t)clen,
                            .ulen = (uint32_t)raw->len,
                            .n = n,
                            .crc = tsdb__crc32c(0, c, clen),
                            .min_ts = min_ts,
                            .max_ts = max_ts};
    } else {
        io_fail(err, "write", f->path);
    }
    free(c);
    return rc;
}

/* Encodes a head (sorted) into blocks; appends their metas to *bs. */
static int cut_head(ls_tenant_t *t, const ls_head_t *h, ls_block_t **bs, size_t *n_bs, size_t *cap,
                    err_t *err)
{
    uint32_t *idx;
    size_t n = ls__head_sorted(h, h->n, INT64_MIN, INT64_MAX, &idx);
    buf_t raw;
    buf_init(&raw);
    int rc = 0;
    size_t first = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ls_hentry_t *e = &h->entries[idx[i]];
        buf_append(&raw, e->rec, e->rec_len);
        if (raw.len >= LS_BLOCK_BYTES || i + 1 == n) {
            xgrow((void **)bs, cap, *n_bs + 1, sizeof(ls_block_t));
            rc = write_block(t, &raw, (uint32_t)(i + 1 - first), h->entries[idx[first]].ts, e->ts,
                             &(*bs)[*n_bs], err);
            *n_bs += rc == 0;
            buf_reset(&raw);
            first = i + 1;
        }
    }
    buf_fini(&raw);
    free(idx);
    return rc;
}

static void index_block_rec(buf_t *out, uint32_t sid, const ls_block_t *b)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, REC_BLOCK);
    tsdb__put_uvarint(&p, sid);
    tsdb__put_uvarint(&p, b->file->no);
    tsdb__put_uvarint(&p, b->off);
    tsdb__put_uvarint(&p, b->clen);
    tsdb__put_uvarint(&p, b->ulen);
    tsdb__put_uvarint(&p, b->n);
    tsdb__put_uvarint(&p, b->crc);
    tsdb__put_varint(&p, b->min_ts);
    tsdb__put_varint(&p, b->max_ts);
    frame(out, &p);
    buf_fini(&p);
}

static void index_stream_rec(buf_t *out, const ls_stream_t *st)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, REC_STREAM);
    tsdb__put_uvarint(&p, st->id);
    put_pairs(&p, st->labels);
    frame(out, &p);
    buf_fini(&p);
}

/* Writes `content` to dir/<tmp>, fsyncs it. */
static int write_tmp(ls_tenant_t *t, const char *tmp_name, const buf_t *content, err_t *err)
{
    char *tmp = path_of(t, tmp_name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd >= 0 && write_all(fd, content->data, content->len) == 0 && fsync(fd) == 0 ? 0 : -1;
    if (rc < 0) {
        io_fail(err, "write", tmp);
    }
    if (fd >= 0) {
        close(fd);
    }
    free(tmp);
    return rc;
}

typedef struct {
    ls_stream_t *st;
    size_t first, n; /* its blocks in the flush's block array */
} cut_t;

static void index_cut_rec(buf_t *out, uint32_t sid, uint64_t wal_gen, int64_t wal_off)
{
    buf_t p;
    buf_init(&p);
    buf_putc(&p, REC_CUT);
    tsdb__put_uvarint(&p, sid);
    tsdb__put_uvarint(&p, wal_gen);
    tsdb__put_uvarint(&p, (uint64_t)wal_off);
    frame(out, &p);
    buf_fini(&p);
}

/* Whether this flush rewrites the WAL: when nothing stays in heads (the new WAL is a bare
 * header), or when the WAL has grown well past what the heads still hold. */
static int want_checkpoint(const logstore_t *s, const ls_tenant_t *t, const cut_t *cuts,
                           size_t n_cuts)
{
    size_t remaining = 0;
    for (size_t i = 0, c = 0; i < t->n_streams; i++) {
        if (c < n_cuts && cuts[c].st == t->streams[i]) {
            c++;
        } else {
            remaining += t->streams[i]->head->bytes;
        }
    }
    return remaining == 0 || ((size_t)t->wal_bytes > s->o.wal_checkpoint_bytes &&
                              (size_t)t->wal_bytes > 4 * remaining);
}

/* The checkpoint WAL (generation gen: the entries still in heads) written to wal.tmp. */
static int write_checkpoint(ls_tenant_t *t, const cut_t *cuts, size_t n_cuts, uint64_t gen,
                            size_t *len, err_t *err)
{
    buf_t wal;
    buf_init(&wal);
    gen_record(&wal, REC_GEN, gen);
    for (size_t i = 0, c = 0; i < t->n_streams; i++) {
        if (c < n_cuts && cuts[c].st == t->streams[i]) {
            c++;
        } else if (t->streams[i]->head->n > 0) {
            wal_record_head(&wal, t->streams[i]);
        }
    }
    int rc = write_tmp(t, "wal.tmp", &wal, err);
    *len = wal.len;
    buf_fini(&wal);
    return rc;
}

/* Puts wal.tmp in place of wal and appends to it from now on. */
static int switch_wal(ls_tenant_t *t, uint64_t gen, size_t len, err_t *err)
{
    char *wal_path = path_of(t, "wal"), *tmp_path = path_of(t, "wal.tmp");
    int rc = rename(tmp_path, wal_path) < 0 ? io_fail(err, "rename", tmp_path) : 0;
    if (rc == 0) {
        fsync_dir(t->dir);
        close(t->wal_fd);
        t->wal_fd = open(wal_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        t->wal_bytes = (int64_t)len;
        t->wal_gen = gen;
        t->wal_dirty = 0;
        rc = t->wal_fd < 0 ? io_fail(err, "open", wal_path) : 0;
    }
    free(wal_path);
    free(tmp_path);
    return rc;
}

/* Steps 2-4 of a flush: the checkpoint WAL (if due), the index commit (STREAM, BLOCK and
 * CUT records, COMMIT gen), the WAL switch. */
static int flush_commit(const logstore_t *s, ls_tenant_t *t, const cut_t *cuts, size_t n_cuts,
                        const ls_block_t *bs, uint64_t gen, err_t *err)
{
    int checkpoint = want_checkpoint(s, t, cuts, n_cuts);
    size_t wal_len = 0;
    if (checkpoint && write_checkpoint(t, cuts, n_cuts, gen, &wal_len, err) < 0) {
        return -1;
    }
    buf_t ix;
    buf_init(&ix);
    for (size_t c = 0; c < n_cuts; c++) {
        if (!cuts[c].st->indexed) {
            index_stream_rec(&ix, cuts[c].st);
        }
        for (size_t k = 0; k < cuts[c].n; k++) {
            index_block_rec(&ix, cuts[c].st->id, &bs[cuts[c].first + k]);
        }
        index_cut_rec(&ix, cuts[c].st->id, t->wal_gen, t->wal_bytes);
    }
    gen_record(&ix, REC_COMMIT, gen);
    int rc = 0;
    if (write_all(t->index_fd, ix.data, ix.len) < 0 || fsync(t->index_fd) < 0) {
        rc = io_fail(err, "write index of", t->id);
    }
    buf_fini(&ix);
    return rc == 0 && checkpoint ? switch_wal(t, gen, wal_len, err) : rc;
}

static void flush_apply(const cut_t *cuts, size_t n_cuts, const ls_block_t *bs, uint64_t wal_gen,
                        int64_t wal_off)
{
    for (size_t c = 0; c < n_cuts; c++) {
        ls_stream_t *st = cuts[c].st;
        ls_blocks_t *nb = ls__blocks_with(st->blocks, bs + cuts[c].first, cuts[c].n);
        ls__blocks_unref(st->blocks);
        st->blocks = nb;
        ls__head_unref(st->head);
        st->head = ls__head_new();
        st->indexed = 1;
        st->has_cut = 1;
        st->cut_wal_gen = wal_gen;
        st->cut_wal_off = wal_off;
    }
}

int ls__flush(logstore_t *s, ls_tenant_t *t, int64_t now_ms, int force, err_t *err)
{
    cut_t *cuts = NULL;
    size_t n_cuts = 0, cuts_cap = 0, n_bs = 0, bs_cap = 0;
    ls_block_t *bs = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n_streams; i++) {
        ls_stream_t *st = t->streams[i];
        if (!cut_due(s, st, now_ms, force)) {
            continue;
        }
        size_t first = n_bs;
        rc = cut_head(t, st->head, &bs, &n_bs, &bs_cap, err);
        xgrow((void **)&cuts, &cuts_cap, n_cuts + 1, sizeof(cut_t));
        cuts[n_cuts++] = (cut_t){st, first, n_bs - first};
    }
    for (size_t i = 0; rc == 0 && i < n_bs; i++) {
        if ((i == 0 || bs[i].file != bs[i - 1].file) && fsync(bs[i].file->fd) < 0) {
            rc = io_fail(err, "fsync", bs[i].file->path);
        }
    }
    uint64_t wal_gen = t->wal_gen; /* where the cut streams' entries are in the WAL */
    int64_t wal_off = t->wal_bytes;
    if (rc == 0 && n_cuts > 0) {
        rc = flush_commit(s, t, cuts, n_cuts, bs, t->gen + 1, err);
    }
    if (rc == 0 && n_cuts > 0) {
        t->gen++;
        flush_apply(cuts, n_cuts, bs, wal_gen, wal_off);
    }
    free(cuts);
    free(bs);
    return rc;
}

/* ---- retention ---------------------------------------------------------------------------- */

/* Drops a stream's blocks ending before cutoff_ns; 1 if any was dropped. */
static int retain_stream(ls_stream_t *st, int64_t cutoff_ns)
{
    if (st->blocks == NULL) {
        return 0;
    }
    ls_block_t *keep = xmalloc((st->blocks->n + 1) * sizeof(ls_block_t));
    size_t k = 0;
    for (size_t i = 0; i < st->blocks->n; i++) {
        if (st->blocks->b[i].max_ts >= cutoff_ns) {
            keep[k++] = st->blocks->b[i];
        }
    }
    int dropped = k != st->blocks->n;
    if (dropped) {
        ls_blocks_t *nb = k > 0 ? ls__blocks_with(NULL, keep, k) : NULL;
        ls__blocks_unref(st->blocks);
        st->blocks = nb;
    }
    free(keep);
    return dropped;
}

static int rewrite_index(ls_tenant_t *t, err_t *err)
{
    buf_t ix;
    buf_init(&ix);
    for (size_t i = 0; i < t->n_streams; i++) {
        ls_stream_t *st = t->streams[i];
        /* a cut in the current WAL generation still masks WAL frames at replay */
        int cut = st->has_cut && st->cut_wal_gen >= t->wal_gen;
        st->indexed = st->blocks != NULL || cut;
        if (st->indexed) {
            index_stream_rec(&ix, st);
        }
        for (size_t k = 0; st->blocks != NULL && k < st->blocks->n; k++) {
            index_block_rec(&ix, st->id, &st->blocks->b[k]);
        }
        if (cut) {
            index_cut_rec(&ix, st->id, st->cut_wal_gen, st->cut_wal_off);
        }
    }
    gen_record(&ix, REC_COMMIT, t->gen);
    char *tmp = path_of(t, "index.tmp"), *index = path_of(t, "index");
    int rc = write_tmp(t, "index.tmp", &ix, err);
    if (rc == 0 && rename(tmp, index) < 0) {
        rc = io_fail(err, "rename", tmp);
    }
    if (rc == 0) {
        fsync_dir(t->dir);
        close(t->index_fd);
        t->index_fd = open(index, O_WRONLY | O_APPEND | O_CLOEXEC);
        rc = t->index_fd < 0 ? io_fail(err, "open", index) : 0;
    }
    free(tmp);
    free(index);
    buf_fini(&ix);
    return rc;
}

/* Deletes data files no block refers to (readers keep their fd open). */
static void drop_unused_files(ls_tenant_t *t)
{
    for (size_t i = 0; i < t->n_files; i++) {
        t->files[i]->live_blocks = 0;
    }
    for (size_t i = 0; i < t->n_streams; i++) {
        ls_blocks_t *bs = t->streams[i]->blocks;
        for (size_t k = 0; bs != NULL && k < bs->n; k++) {
            bs->b[k].file->live_blocks++;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < t->n_files; i++) {
        ls_file_t *f = t->files[i];
        if (f->live_blocks > 0 || f == t->data) {
            t->files[k++] = f;
            continue;
        }
        unlink(f->path);
        ls__file_unref(f);
    }
    t->n_files = k;
}

int ls__retain(logstore_t *s, ls_tenant_t *t, int64_t now_ms, err_t *err)
{
    if (s->o.retention_ms <= 0) {
        return 0;
    }
    int dropped = 0;
    for (size_t i = 0; i < t->n_streams; i++) {
        dropped |= retain_stream(t->streams[i], (now_ms - s->o.retention_ms) * 1000000);
    }
    if (!dropped) {
        return 0;
    }
    if (rewrite_index(t, err) < 0) {
        return -1;
    }
    drop_unused_files(t);
    return 0;
}
