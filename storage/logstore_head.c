/* storage/logstore_head.c - the in-memory parts of the log store: the entry record codec,
 * head chunks (records in arrival order with a dedup set), and the refcounted block lists
 * and data files that readers share with the writer.
 *
 * DESIGN: a head never moves a record once written: records live in fixed pages, so a
 * reader that copied (under the tenant lock) the entry descriptors it wants can read the
 * records afterwards without the lock, while pushes go on appending. A cut replaces the
 * stream's head by a new one; readers keep the old one alive by reference. Dedup (same
 * timestamp and line, as Loki's ingester drops them) is an open-addressing set of entry
 * indices keyed by a hash of (ts, line). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/hashmap.h"
#include "common/mem.h"
#include "storage/logstore_int.h"
#include "storage/tsdb_int.h"

/* ---- record codec ------------------------------------------------------------------------ */

static void put_cstr(buf_t *out, const char *s, size_t n)
{
    tsdb__put_bytes(out, s, n);
    buf_putc(out, '\0');
}

void ls__rec_encode(buf_t *out, const log_entry_t *e)
{
    tsdb__put_varint(out, e->ts_ns);
    put_cstr(out, e->line, e->len);
    tsdb__put_uvarint(out, e->n_metadata);
    for (size_t i = 0; i < e->n_metadata; i++) {
        put_cstr(out, e->metadata[i].name, strlen(e->metadata[i].name));
        put_cstr(out, e->metadata[i].value, strlen(e->metadata[i].value));
    }
}

static int get_cstr(tsdb_reader_t *r, const char **s, size_t *n)
{
    if (tsdb__get_bytes(r, s, n) < 0 || r->pos >= r->len || r->data[r->pos] != '\0') {
        return -1;
    }
    r->pos++;
    return 0;
}

size_t ls__rec_decode(const uint8_t *p, size_t n, log_entry_t *out, label_t **mdbuf, size_t *md_cap)
{
    tsdb_reader_t r = {.data = p, .len = n, .pos = 0};
    uint64_t n_md;
    if (tsdb__get_varint(&r, &out->ts_ns) < 0 || get_cstr(&r, &out->line, &out->len) < 0 ||
        tsdb__get_uvarint(&r, &n_md) < 0 || n_md > n) {
        return 0;
    }
    if (n_md > *md_cap) {
        xgrow((void **)mdbuf, md_cap, (size_t)n_md, sizeof(label_t));
    }
    for (size_t i = 0; i < n_md; i++) {
        size_t ln;
        if (get_cstr(&r, &(*mdbuf)[i].name, &ln) < 0 || get_cstr(&r, &(*mdbuf)[i].value, &ln) < 0) {
            return 0;
        }
    }
    out->metadata = n_md > 0 ? *mdbuf : NULL;
    out->n_metadata = (size_t)n_md;
    return r.pos;
}

/* ---- head -------------------------------------------------------------------------------- */

ls_head_t *ls__head_new(void)
{
    ls_head_t *h = xcalloc(1, sizeof(*h));
    atomic_init(&h->refs, 1);
    h->min_ts = INT64_MAX;
    h->max_ts = INT64_MIN;
    return h;
}

void ls__head_unref(ls_head_t *h)
{
    if (h == NULL || atomic_fetch_sub(&h->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < h->n_pages; i++) {
        free(h->pages[i]);
    }
    free(h->pages);
    free(h->entries);
    free(h->dedup);
    free(h);
}

static uint64_t entry_key(int64_t ts, uint32_t line_hash)
{
    return hash_bytes(&ts, sizeof(ts), line_hash);
}

static uint32_t line_hash_of(const char *line, size_t len)
{
    return (uint32_t)hash_bytes(line, len, 0x10c5);
}

static void dedup_insert(ls_head_t *h, size_t idx)
{
    size_t mask = h->dedup_cap - 1;
    size_t i = entry_key(h->entries[idx].ts, h->entries[idx].line_hash) & mask;
    while (h->dedup[i] != 0) {
        i = (i + 1) & mask;
    }
    h->dedup[i] = (uint32_t)idx + 1;
}

/* Keeps the set under half full; rebuilt from the first n entries. */
static void dedup_rebuild(ls_head_t *h, size_t cap)
{
    free(h->dedup);
    h->dedup_cap = cap;
    h->dedup = xcalloc(cap, sizeof(uint32_t));
    for (size_t i = 0; i < h->n; i++) {
        dedup_insert(h, i);
    }
}

/* The line of a head record (it precedes the metadata). */
static const char *rec_line(const ls_hentry_t *e, size_t *len)
{
    tsdb_reader_t r = {.data = e->rec, .len = e->rec_len, .pos = 0};
    int64_t ts;
    const char *s = NULL;
    if (tsdb__get_varint(&r, &ts) < 0 || tsdb__get_bytes(&r, &s, len) < 0) {
        *len = 0;
        return "";
    }
    return s;
}

static int is_dup(const ls_head_t *h, const log_entry_t *e, uint32_t lh)
{
    if (h->dedup_cap == 0) {
        return 0;
    }
    size_t mask = h->dedup_cap - 1;
    for (size_t i = entry_key(e->ts_ns, lh) & mask; h->dedup[i] != 0; i = (i + 1) & mask) {
        const ls_hentry_t *o = &h->entries[h->dedup[i] - 1];
        size_t len;
        if (o->ts != e->ts_ns || o->line_hash != lh) {
            continue;
        }
        const char *line = rec_line(o, &len);
        if (len == e->len && memcmp(line, e->line, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static uint8_t *page_room(ls_head_t *h, size_t need)
{
    if (h->n_pages == 0 || h->page_size - h->page_used < need) {
        size_t size = need > LS_PAGE_BYTES ? need : LS_PAGE_BYTES;
        xgrow((void **)&h->pages, &h->pages_cap, h->n_pages + 1, sizeof(uint8_t *));
        h->pages[h->n_pages++] = xmalloc(size);
        h->page_size = size;
        h->page_used = 0;
    }
    uint8_t *p = h->pages[h->n_pages - 1] + h->page_used;
    h->page_used += need;
    return p;
}

int ls__head_add(ls_head_t *h, const log_entry_t *e)
{
    uint32_t lh = line_hash_of(e->line, e->len);
    if (is_dup(h, e, lh)) {
        return 0;
    }
    buf_t rec;
    buf_init(&rec);
    ls__rec_encode(&rec, e);
    uint8_t *p = page_room(h, rec.len);
    memcpy(p, rec.data, rec.len);
    xgrow((void **)&h->entries, &h->cap, h->n + 1, sizeof(ls_hentry_t));
    h->entries[h->n] =
        (ls_hentry_t){.ts = e->ts_ns, .rec = p, .rec_len = (uint32_t)rec.len, .line_hash = lh};
    h->n++;
    h->bytes += rec.len;
    buf_fini(&rec);
    if (e->ts_ns < h->min_ts) {
        h->min_ts = e->ts_ns;
    }
    if (e->ts_ns > h->max_ts) {
        h->max_ts = e->ts_ns;
    }
    if (h->n * 2 > h->dedup_cap) {
        dedup_rebuild(h, h->dedup_cap == 0 ? 64 : h->dedup_cap * 2);
    } else {
        dedup_insert(h, h->n - 1);
    }
    return 1;
}

void ls__head_truncate(ls_head_t *h, size_t n)
{
    if (n >= h->n) {
        return;
    }
    for (size_t i = n; i < h->n; i++) {
        h->bytes -= h->entries[i].rec_len;
    }
    h->n = n;
    dedup_rebuild(h, h->dedup_cap);
}

typedef struct {
    int64_t ts;
    uint32_t idx;
} ts_idx_t;

static int cmp_ts_idx(const void *a, const void *b)
{
    const ts_idx_t *x = a, *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

size_t ls__head_sorted(const ls_head_t *h, size_t n, int64_t from, int64_t to, uint32_t **out)
{
    ts_idx_t *tmp = xmalloc((n > 0 ? n : 1) * sizeof(ts_idx_t));
    size_t k = 0;
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = h->entries[i].ts;
        if (ts >= from && ts < to) {
            sorted = sorted && (k == 0 || tmp[k - 1].ts <= ts);
            tmp[k++] = (ts_idx_t){ts, (uint32_t)i};
        }
    }
    if (!sorted) {
        qsort(tmp, k, sizeof(ts_idx_t), cmp_ts_idx);
    }
    uint32_t *idx = xmalloc((k > 0 ? k : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < k; i++) {
        idx[i] = tmp[i].idx;
    }
    free(tmp);
    *out = idx;
    return k;
}

/* ---- files and blocks ---------------------------------------------------------------------- */

ls_file_t *ls__file_ref(ls_file_t *f)
{
    atomic_fetch_add(&f->refs, 1);
    return f;
}

void ls__file_unref(ls_file_t *f)
{
    if (f == NULL || atomic_fetch_sub(&f->refs, 1) != 1) {
        return;
    }
    close(f->fd);
    free(f->path);
    free(f);
}

ls_blocks_t *ls__blocks_with(const ls_blocks_t *old, const ls_block_t *add, size_t n_add)
{
    size_t n_old = old != NULL ? old->n : 0;
    ls_blocks_t *bs = xmalloc(sizeof(*bs) + (n_old + n_add) * sizeof(ls_block_t));
    atomic_init(&bs->refs, 1);
    bs->n = n_old + n_add;
    if (n_old > 0) {
        memcpy(bs->b, old->b, n_old * sizeof(ls_block_t));
    }
    memcpy(bs->b + n_old, add, n_add * sizeof(ls_block_t));
    for (size_t i = 0; i < bs->n; i++) {
        ls__file_ref(bs->b[i].file);
    }
    return bs;
}

ls_blocks_t *ls__blocks_ref(ls_blocks_t *bs)
{
    if (bs != NULL) {
        atomic_fetch_add(&bs->refs, 1);
    }
    return bs;
}

void ls__blocks_unref(ls_blocks_t *bs)
{
    if (bs == NULL || atomic_fetch_sub(&bs->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < bs->n; i++) {
        ls__file_unref(bs->b[i].file);
    }
    free(bs);
}

int ls__block_read(const ls_block_t *b, uint8_t **out, err_t *err)
{
    uint8_t *c = xmalloc(b->clen > 0 ? b->clen : 1);
    uint8_t *u = NULL;
    ssize_t got = pread(b->file->fd, c, b->clen, (off_t)b->off);
    if (got != (ssize_t)b->clen || tsdb__crc32c(0, c, b->clen) != b->crc) {
        err_set(err, ERR_INTERNAL, "log chunk %s@%llu: short read or bad checksum", b->file->path,
                (unsigned long long)b->off);
        goto fail;
    }
    u = xmalloc(b->ulen + 1);
    size_t n = ZSTD_decompress(u, b->ulen, c, b->clen);
    if (ZSTD_isError(n) || n != b->ulen) {
        err_set(err, ERR_INTERNAL, "log chunk %s@%llu: cannot decompress", b->file->path,
                (unsigned long long)b->off);
        goto fail;
    }
    free(c);
    *out = u;
    return 0;
fail:
    free(c);
    free(u);
    return -1;
}
