/* storage/tsdb_block.c - immutable on-disk blocks: writing, opening through mmap, merging.
 *
 * DESIGN: one file per block, <tenant>/blocks/b-<mint>-<maxt>.blk, covering [mint, maxt):
 *   "HRLDBLK1" | chunk bytes, back to back | index | footer (32 bytes)
 *   index  = uvarint n_series, then per series (sorted by labels): uvarint n_labels,
 *            n x (bytes name, bytes value), uvarint n_chunks, per chunk: varint mint,
 *            uvarint maxt - mint, uvarint n_samples, uvarint offset, uvarint length
 *   footer = u64 index offset | u64 mint | u64 maxt | u32 CRC32C(index) | "HRLF"
 * Chunks are XOR chunks exactly as in the head, so cutting and merging copy bytes without
 * re-encoding. Files are written to a .tmp name, fsynced and renamed. Opening verifies the
 * index checksum, interns every label set (shared with the head) and builds postings; the
 * chunk bytes are read lazily through the mapping. A block is refcounted: queriers hold
 * references, so compaction and retention can drop it while a query still reads it (the
 * file is unlinked at the last unref). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "storage/tsdb_int.h"

#define BLOCK_MAGIC "HRLDBLK1"
#define FOOTER_MAGIC 0x464c5248u /* "HRLF" little endian */
#define FOOTER_LEN 32

static void index_write_series(buf_t *ix, const tsdb_bwrite_t *s, uint64_t *offset)
{
    size_t nl = labels_len(s->labels);
    tsdb__put_uvarint(ix, nl);
    for (size_t i = 0; i < nl; i++) {
        label_t l = labels_at(s->labels, i);
        tsdb__put_bytes(ix, l.name, strlen(l.name));
        tsdb__put_bytes(ix, l.value, strlen(l.value));
    }
    tsdb__put_uvarint(ix, s->n);
    for (size_t k = 0; k < s->n; k++) {
        const tsdb_chunk_t *c = &s->chunks[k];
        tsdb__put_varint(ix, c->mint);
        tsdb__put_uvarint(ix, (uint64_t)(c->maxt - c->mint));
        tsdb__put_uvarint(ix, c->n);
        tsdb__put_uvarint(ix, *offset);
        tsdb__put_uvarint(ix, c->len);
        *offset += c->len;
    }
}

static void put_u32(buf_t *b, uint32_t v)
{
    uint8_t tmp[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, tmp, 4);
}

static int write_file(const char *tmp, const tsdb_bwrite_t *series, size_t n, const buf_t *tail)
{
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        return -1;
    }
    int rc = fwrite(BLOCK_MAGIC, 1, 8, f) == 8 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t k = 0; rc == 0 && k < series[i].n; k++) {
            const tsdb_chunk_t *c = &series[i].chunks[k];
            rc = fwrite(c->data, 1, c->len, f) == c->len ? 0 : -1;
        }
    }
    if (rc == 0 && fwrite(tail->data, 1, tail->len, f) != tail->len) {
        rc = -1;
    }
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        rc = -1;
    }
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

int tsdb__block_write(const char *dir, int64_t mint, int64_t maxt, const tsdb_bwrite_t *series,
                      size_t n, char **out_path, err_t *err)
{
    buf_t tail;
    buf_init(&tail);
    uint64_t offset = 8;
    tsdb__put_uvarint(&tail, n);
    for (size_t i = 0; i < n; i++) {
        index_write_series(&tail, &series[i], &offset);
    }
    uint32_t crc = tsdb__crc32c(0, tail.data, tail.len);
    tsdb__put_u64(&tail, offset);
    tsdb__put_u64(&tail, (uint64_t)mint);
    tsdb__put_u64(&tail, (uint64_t)maxt);
    put_u32(&tail, crc);
    put_u32(&tail, FOOTER_MAGIC);

    size_t plen = strlen(dir) + 64;
    char *path = xmalloc(plen), *tmp = xmalloc(plen + 8);
    snprintf(path, plen, "%s/b-%lld-%lld.blk", dir, (long long)mint, (long long)maxt);
    snprintf(tmp, plen + 8, "%s.tmp", path);
    int rc = write_file(tmp, series, n, &tail) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    if (rc < 0) {
        err_set(err, ERR_INTERNAL, "write block %s: %s", path, strerror(errno));
        unlink(tmp);
        free(path);
    } else {
        *out_path = path;
    }
    free(tmp);
    buf_fini(&tail);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------- */

static labels_t *read_labels(tsdb_reader_t *r)
{
    uint64_t nl;
    if (tsdb__get_uvarint(r, &nl) < 0 || nl > 4096) {
        return NULL;
    }
    label_t *pairs = xcalloc(nl + 1, sizeof(*pairs));
    char **strs = xcalloc(2 * nl + 1, sizeof(*strs));
    labels_t *out = NULL;
    uint64_t i;
    for (i = 0; i < nl; i++) {
        const char *s[2];
        size_t len[2];
        if (tsdb__get_bytes(r, &s[0], &len[0]) < 0 || tsdb__get_bytes(r, &s[1], &len[1]) < 0) {
            break;
        }
        pairs[i].name = strs[2 * i] = xstrndup(s[0], len[0]);
        pairs[i].value = strs[2 * i + 1] = xstrndup(s[1], len[1]);
    }
    if (i == nl) {
        err_t e = {0};
        labels_t *tmp = labels_new(pairs, (size_t)nl, &e);
        out = tmp != NULL ? labels_intern(tmp) : NULL;
        labels_unref(tmp);
    }
    for (uint64_t k = 0; k < 2 * i; k++) {
        free(strs[k]);
    }
    free(strs);
    free(pairs);
    return out;
}

static int read_chunks(tsdb_block_t *b, tsdb_reader_t *r, size_t *cap, uint64_t data_end)
{
    uint64_t nc;
    if (tsdb__get_uvarint(r, &nc) < 0 || nc > (1u << 24)) {
        return -1;
    }
    for (uint64_t k = 0; k < nc; k++) {
        int64_t mint;
        uint64_t span, n, off, len;
        if (tsdb__get_varint(r, &mint) < 0 || tsdb__get_uvarint(r, &span) < 0 ||
            tsdb__get_uvarint(r, &n) < 0 || tsdb__get_uvarint(r, &off) < 0 ||
            tsdb__get_uvarint(r, &len) < 0 || off < 8 || off + len > data_end) {
            return -1;
        }
        xgrow((void **)&b->chunks, cap, b->n_chunks + 1, sizeof(*b->chunks));
        tsdb_chunk_t *c = &b->chunks[b->n_chunks++];
        c->data = b->map + off;
        c->len = (uint32_t)len;
        c->n = (uint32_t)n;
        c->mint = mint;
        c->maxt = mint + (int64_t)span;
    }
    return 0;
}

static int parse_index(tsdb_block_t *b, tsdb_reader_t *r, uint64_t data_end)
{
    uint64_t ns;
    size_t cap = 0;
    if (tsdb__get_uvarint(r, &ns) < 0 || ns > (1u << 30)) {
        return -1;
    }
    b->series = xcalloc(ns + 1, sizeof(*b->series));
    for (uint64_t i = 0; i < ns; i++) {
        labels_t *ls = read_labels(r);
        if (ls == NULL) {
            return -1;
        }
        tsdb__index_add(&b->ix, (uint32_t)i, ls, tsdb__labels_hash(ls));
        b->series[i].first = (uint32_t)b->n_chunks;
        if (read_chunks(b, r, &cap, data_end) < 0) {
            return -1;
        }
        b->series[i].n = (uint32_t)(b->n_chunks - b->series[i].first);
    }
    return 0;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int map_file(tsdb_block_t *b)
{
    int fd = open(b->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 8 + FOOTER_LEN) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    b->map_len = (size_t)st.st_size;
    void *m = mmap(NULL, b->map_len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        return -1;
    }
    b->map = m;
    return 0;
}

tsdb_block_t *tsdb__block_open(const char *path, err_t *err)
{
    tsdb_block_t *b = xcalloc(1, sizeof(*b));
    b->refs = 1;
    b->path = xstrdup(path);
    tsdb__index_init(&b->ix);
    if (map_file(b) < 0) {
        err_set(err, ERR_INTERNAL, "open block %s: %s", path, strerror(errno));
        goto fail;
    }
    const uint8_t *foot = b->map + b->map_len - FOOTER_LEN;
    uint64_t ix_off = get_le(foot, 8);
    b->mint = (int64_t)get_le(foot + 8, 8);
    b->maxt = (int64_t)get_le(foot + 16, 8);
    uint32_t crc = (uint32_t)get_le(foot + 24, 4);
    if (memcmp(b->map, BLOCK_MAGIC, 8) != 0 || get_le(foot + 28, 4) != FOOTER_MAGIC || ix_off < 8 ||
        ix_off > b->map_len - FOOTER_LEN) {
        err_set(err, ERR_INTERNAL, "block %s: bad magic or footer", path);
        goto fail;
    }
    size_t ix_len = b->map_len - FOOTER_LEN - (size_t)ix_off;
    if (tsdb__crc32c(0, b->map + ix_off, ix_len) != crc) {
        err_set(err, ERR_INTERNAL, "block %s: index checksum mismatch", path);
        goto fail;
    }
    tsdb_reader_t r = {b->map + ix_off, ix_len, 0};
    if (parse_index(b, &r, ix_off) < 0) {
        err_set(err, ERR_INTERNAL, "block %s: corrupt index", path);
        goto fail;
    }
    return b;
fail:
    tsdb__block_unref(b);
    return NULL;
}

tsdb_block_t *tsdb__block_ref(tsdb_block_t *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void tsdb__block_unref(tsdb_block_t *b)
{
    if (b == NULL || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    if (b->map != NULL) {
        munmap(b->map, b->map_len);
    }
    if (b->deleted) {
        unlink(b->path);
    }
    tsdb__index_fini(&b->ix);
    free(b->series);
    free(b->chunks);
    free(b->path);
    free(b);
}

/* ---- merging ---------------------------------------------------------------------------- */

typedef struct {
    labels_t *ls;
    size_t block;
    uint32_t id;
} merge_ent_t;

static int cmp_ent(const void *a, const void *b)
{
    const merge_ent_t *x = a, *y = b;
    int c = x->ls == y->ls ? 0 : labels_cmp(x->ls, y->ls);
    if (c != 0) {
        return c;
    }
    return x->block < y->block ? -1 : x->block > y->block;
}

/* Gathers every (series, block) pair, sorted by labels then block (i.e. time). */
static merge_ent_t *merge_entries(tsdb_block_t *const *bs, size_t n, size_t *n_ent)
{
    size_t total = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        total += bs[i]->ix.n;
    }
    merge_ent_t *ents = xmalloc((total + 1) * sizeof(*ents));
    for (size_t i = 0; i < n; i++) {
        for (uint32_t id = 0; id < bs[i]->ix.n; id++) {
            ents[w++] = (merge_ent_t){bs[i]->ix.labels[id], i, id};
        }
    }
    qsort(ents, w, sizeof(*ents), cmp_ent);
    *n_ent = w;
    return ents;
}

tsdb_block_t *tsdb__block_merge(const char *dir, tsdb_block_t *const *bs, size_t n, int64_t mint,
                                int64_t maxt, err_t *err)
{
    size_t n_ent, n_out = 0, n_chunks = 0;
    merge_ent_t *ents = merge_entries(bs, n, &n_ent);
    tsdb_bwrite_t *out = xcalloc(n_ent + 1, sizeof(*out));
    tsdb_chunk_t *chunks = NULL;
    for (size_t i = 0; i < n_ent; i++) {
        const tsdb_block_t *b = bs[ents[i].block];
        n_chunks += b->series[ents[i].id].n;
    }
    chunks = xmalloc((n_chunks + 1) * sizeof(*chunks));
    size_t w = 0;
    for (size_t i = 0; i < n_ent; i++) {
        const tsdb_block_t *b = bs[ents[i].block];
        const tsdb_bseries_t *s = &b->series[ents[i].id];
        if (n_out == 0 || !labels_equal(out[n_out - 1].labels, ents[i].ls)) {
            out[n_out++] = (tsdb_bwrite_t){.labels = ents[i].ls, .chunks = chunks + w};
        }
        memcpy(chunks + w, b->chunks + s->first, s->n * sizeof(*chunks));
        w += s->n;
        out[n_out - 1].n += s->n;
    }
    char *path = NULL;
    tsdb_block_t *merged = NULL;
    if (tsdb__block_write(dir, mint, maxt, out, n_out, &path, err) == 0) {
        merged = tsdb__block_open(path, err);
    }
    free(path);
    free(chunks);
    free(out);
    free(ents);
    return merged;
}
