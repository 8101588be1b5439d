/* storage/tsdb_wal.c - write-ahead log of a tenant TSDB.
 *
 * DESIGN: numbered segment files (wal/00000007) of framed records:
 *   u8 type | u32 payload length (LE) | u32 CRC32C(type, payload) (LE) | payload
 * SERIES payloads hold (uvarint id, uvarint n, n x (bytes name, bytes value))*, SAMPLES
 * payloads (uvarint id, varint t, u64 value bits)*. A push is one write(2) of its records,
 * done before the push is acknowledged: a killed process loses nothing acknowledged, and
 * the fsync policy (per write, or batched by the background thread) covers power loss.
 * On open, the newest checkpoint (series records of the live series when the head was last
 * truncated) is replayed, then every segment in order; a torn or corrupt tail is cut off.
 * Segments whose samples all precede the head's min_valid (they are in blocks) are deleted
 * at checkpoint time. Not thread-safe: the tenant lock guards it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "storage/tsdb_int.h"

#define REC_HEADER 9

static char *seg_path(const tsdb_wal_t *w, const char *prefix, uint32_t seg)
{
    size_t n = strlen(w->dir) + strlen(prefix) + 16;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s%08u", w->dir, prefix, seg);
    return p;
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

void tsdb__wal_frame(buf_t *out, int type, const buf_t *payload, int compress)
{
    uint8_t hdr[REC_HEADER];
    const char *data = payload->data;
    size_t n = payload->len;
    char *packed = NULL;
    if (compress && n > 64) {
        size_t cap = snappy_max_compressed_length(n);
        packed = xmalloc(cap);
        if (snappy_compress(payload->data, n, packed, &cap) == SNAPPY_OK && cap < n) {
            data = packed;
            n = cap;
            type |= TSDB_WAL_SNAPPY;
        }
    }
    uint8_t t = (uint8_t)type;
    uint32_t len = (uint32_t)n;
    uint32_t crc = tsdb__crc32c(tsdb__crc32c(0, &t, 1), data, n);
    hdr[0] = t;
    for (int i = 0; i < 4; i++) {
        hdr[1 + i] = (uint8_t)(len >> (8 * i));
        hdr[5 + i] = (uint8_t)(crc >> (8 * i));
    }
    buf_append(out, hdr, sizeof(hdr));
    if (n > 0) {
        buf_append(out, data, n);
    }
    free(packed);
}

void tsdb__samples_put(tsdb_samples_enc_t *e, uint32_t id, int64_t t, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if (!e->started) {
        tsdb__put_varint(e->payload, t);
        e->base_t = t;
        e->prev_id = 0;
        e->started = 1;
    }
    tsdb__put_varint(e->payload, (int64_t)id - (int64_t)e->prev_id);
    tsdb__put_varint(e->payload, t - e->base_t);
    tsdb__put_u64(e->payload, bits);
    e->prev_id = id;
}

void tsdb__series_record(buf_t *payload, uint32_t id, const labels_t *ls)
{
    size_t n = labels_len(ls);
    tsdb__put_uvarint(payload, id);
    tsdb__put_uvarint(payload, n);
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ls, i);
        tsdb__put_bytes(payload, l.name, strlen(l.name));
        tsdb__put_bytes(payload, l.value, strlen(l.value));
    }
}

/* ---- replay --------------------------------------------------------------------------- */

static int replay_series(const tsdb_wal_replay_t *cb, tsdb_reader_t *r)
{
    label_t ls[256];
    char *strs[512];
    while (r->pos < r->len) {
        uint64_t id, n;
        if (tsdb__get_uvarint(r, &id) < 0 || tsdb__get_uvarint(r, &n) < 0 || n > 256) {
            return -1;
        }
        for (uint64_t i = 0; i < n; i++) {
            const char *s[2];
            size_t len[2];
            if (tsdb__get_bytes(r, &s[0], &len[0]) < 0 || tsdb__get_bytes(r, &s[1], &len[1]) < 0) {
                for (uint64_t k = 0; k < 2 * i; k++) {
                    free(strs[k]);
                }
                return -1;
            }
            strs[2 * i] = xstrndup(s[0], len[0]);
            strs[2 * i + 1] = xstrndup(s[1], len[1]);
            ls[i].name = strs[2 * i];
            ls[i].value = strs[2 * i + 1];
        }
        cb->series(cb->ctx, (uint32_t)id, ls, (size_t)n);
        for (uint64_t k = 0; k < 2 * n; k++) {
            free(strs[k]);
        }
    }
    return 0;
}

static int replay_samples(const tsdb_wal_replay_t *cb, tsdb_reader_t *r, int64_t *maxt)
{
    int64_t base, id = 0;
    if (r->len > 0 && tsdb__get_varint(r, &base) < 0) {
        return -1;
    }
    while (r->pos < r->len) {
        int64_t did, dt;
        uint64_t bits;
        double v;
        if (tsdb__get_varint(r, &did) < 0 || tsdb__get_varint(r, &dt) < 0 ||
            tsdb__get_u64(r, &bits) < 0 || id + did < 0 || id + did > UINT32_MAX) {
            return -1;
        }
        id += did;
        memcpy(&v, &bits, sizeof(v));
        cb->sample(cb->ctx, (uint32_t)id, base + dt, v);
        if (base + dt > *maxt) {
            *maxt = base + dt;
        }
    }
    return 0;
}

/* The payload of a record as stored: decompressed into *tmp when flagged. */
static int record_payload(uint8_t type, uint8_t *data, uint32_t len, uint8_t **tmp, size_t *cap,
                          tsdb_reader_t *r)
{
    if ((type & TSDB_WAL_SNAPPY) == 0) {
        *r = (tsdb_reader_t){data, len, 0};
        return 0;
    }
    size_t ulen;
    if (snappy_uncompressed_length((const char *)data, len, &ulen) != SNAPPY_OK ||
        ulen > (1u << 30)) {
        return -1;
    }
    xgrow((void **)tmp, cap, ulen + 1, 1);
    if (snappy_uncompress((const char *)data, len, (char *)*tmp, &ulen) != SNAPPY_OK) {
        return -1;
    }
    *r = (tsdb_reader_t){*tmp, ulen, 0};
    return 0;
}

/* Replays one file; returns the offset of the end of the last good record. */
static size_t replay_file(const char *path, const tsdb_wal_replay_t *cb, int64_t *maxt,
                          uint64_t *n_records, int *corrupt)
{
    *corrupt = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    size_t good = 0, cap = 0, plain_cap = 0;
    uint8_t *payload = NULL, *plain = NULL;
    for (;;) {
        uint8_t hdr[REC_HEADER];
        size_t k = fread(hdr, 1, sizeof(hdr), f);
        if (k == 0) {
            break;
        }
        uint32_t len = 0, crc = 0;
        for (int i = 0; i < 4; i++) {
            len |= (uint32_t)hdr[1 + i] << (8 * i);
            crc |= (uint32_t)hdr[5 + i] << (8 * i);
        }
        if (k < sizeof(hdr) || len > (1u << 30)) {
            *corrupt = 1;
            break;
        }
        xgrow((void **)&payload, &cap, len + 1, 1);
        if (fread(payload, 1, len, f) != len ||
            tsdb__crc32c(tsdb__crc32c(0, hdr, 1), payload, len) != crc) {
            *corrupt = 1;
            break;
        }
        tsdb_reader_t r;
        uint8_t type = hdr[0] & (uint8_t)~TSDB_WAL_SNAPPY;
        int rc = record_payload(hdr[0], payload, len, &plain, &plain_cap, &r);
        if (rc == 0) {
            rc = type == TSDB_WAL_SERIES    ? replay_series(cb, &r)
                 : type == TSDB_WAL_SAMPLES ? replay_samples(cb, &r, maxt)
                                            : 0;
        }
        if (rc < 0) {
            *corrupt = 1;
            break;
        }
        good += REC_HEADER + len;
        (*n_records)++;
    }
    free(payload);
    free(plain);
    fclose(f);
    return good;
}

static int parse_num(const char *s, uint32_t *out)
{
    if (*s == '\0' || strlen(s) > 8) {
        return -1;
    }
    uint32_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (uint32_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment numbers (sorted) and the newest checkpoint (-1 if none). */
static int list_dir(const char *dir, uint32_t **segs, size_t *n, int64_t *ckpt)
{
    DIR *d = opendir(dir);
    size_t cap = 0;
    *segs = NULL;
    *n = 0;
    *ckpt = -1;
    if (d == NULL) {
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint32_t v;
        if (parse_num(e->d_name, &v) == 0) {
            xgrow((void **)segs, &cap, *n + 1, sizeof(**segs));
            (*segs)[(*n)++] = v;
        } else if (strncmp(e->d_name, "checkpoint.", 11) == 0 &&
                   parse_num(e->d_name + 11, &v) == 0 && (int64_t)v > *ckpt) {
            *ckpt = v;
        }
    }
    closedir(d);
    if (*n > 1) {
        qsort(*segs, *n, sizeof(**segs), cmp_u32);
    }
    return 0;
}

static void old_push(tsdb_wal_t *w, uint32_t seg, int64_t maxt)
{
    xgrow((void **)&w->old, &w->cap_old, w->n_old + 1, sizeof(*w->old));
    w->old[w->n_old].seg = seg;
    w->old[w->n_old].maxt = maxt;
    w->n_old++;
}

static void replay_segment(tsdb_wal_t *w, uint32_t seg, const tsdb_wal_replay_t *cb,
                           uint64_t *n_records)
{
    char *path = seg_path(w, "", seg);
    int64_t maxt = INT64_MIN;
    int corrupt;
    size_t good = replay_file(path, cb, &maxt, n_records, &corrupt);
    if (corrupt) {
        /* A torn tail from a crash mid-write: cut it so new segments follow good data. */
        LOG_WARN("WAL segment has a torn or corrupt tail, truncating", KV_STR("segment", path),
                 KV_INT("good_bytes", good));
        if (truncate(path, (off_t)good) != 0) {
            LOG_ERROR("WAL truncate failed", KV_STR("segment", path),
                      KV_STR("err", strerror(errno)));
        }
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        w->total_bytes += (uint64_t)st.st_size;
    }
    old_push(w, seg, maxt);
    free(path);
}

static int open_segment(tsdb_wal_t *w, uint32_t seg, err_t *err)
{
    char *path = seg_path(w, "", seg);
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        err_set(err, ERR_INTERNAL, "open WAL segment %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    w->seg = seg;
    w->seg_bytes = 0;
    w->seg_maxt = INT64_MIN;
    return 0;
}

int tsdb__wal_open(tsdb_wal_t *w, const char *dir, uint64_t max_seg_bytes,
                   const tsdb_wal_replay_t *cb, uint64_t *n_records, err_t *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    w->dir = xstrdup(dir);
    w->max_seg_bytes = max_seg_bytes;
    *n_records = 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return err_set(err, ERR_INTERNAL, "mkdir %s: %s", dir, strerror(errno));
    }
    uint32_t *segs;
    size_t n;
    int64_t ckpt;
    if (list_dir(dir, &segs, &n, &ckpt) < 0) {
        return err_set(err, ERR_INTERNAL, "read WAL dir %s: %s", dir, strerror(errno));
    }
    if (ckpt >= 0) {
        char *path = seg_path(w, "checkpoint.", (uint32_t)ckpt);
        int64_t maxt = INT64_MIN;
        int corrupt;
        replay_file(path, cb, &maxt, n_records, &corrupt);
        if (corrupt) {
            LOG_WARN("WAL checkpoint is corrupt", KV_STR("checkpoint", path));
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++) {
        replay_segment(w, segs[i], cb, n_records);
    }
    uint32_t next = n > 0 ? segs[n - 1] + 1 : (ckpt >= 0 ? (uint32_t)ckpt : 0);
    free(segs);
    return open_segment(w, next, err);
}

void tsdb__wal_close(tsdb_wal_t *w)
{
    if (w->fd >= 0) {
        fsync(w->fd);
        close(w->fd);
    }
    free(w->old);
    free(w->dir);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

static int rotate(tsdb_wal_t *w, err_t *err)
{
    if (fsync(w->fd) != 0) {
        return err_set(err, ERR_INTERNAL, "fsync WAL: %s", strerror(errno));
    }
    close(w->fd);
    w->fd = -1;
    old_push(w, w->seg, w->seg_maxt);
    w->dirty = 0;
    return open_segment(w, w->seg + 1, err);
}

int tsdb__wal_write(tsdb_wal_t *w, const buf_t *framed, int64_t maxt, int sync, err_t *err)
{
    if (framed->len == 0) {
        return 0;
    }
    if (write_all(w->fd, framed->data, framed->len) < 0) {
        return err_set(err, ERR_INTERNAL, "write WAL segment %08u: %s", w->seg, strerror(errno));
    }
    w->seg_bytes += framed->len;
    w->total_bytes += framed->len;
    if (maxt > w->seg_maxt) {
        w->seg_maxt = maxt;
    }
    w->dirty = 1;
    if (sync) {
        if (fdatasync(w->fd) != 0) {
            return err_set(err, ERR_INTERNAL, "fsync WAL: %s", strerror(errno));
        }
        w->dirty = 0;
    }
    if (w->seg_bytes >= w->max_seg_bytes) {
        return rotate(w, err);
    }
    return 0;
}

int tsdb__wal_sync_fd(tsdb_wal_t *w)
{
    if (!w->dirty || w->fd < 0) {
        return -1;
    }
    w->dirty = 0;
    return dup(w->fd);
}

static int write_checkpoint(tsdb_wal_t *w, uint32_t seg, const buf_t *records, err_t *err)
{
    char *path = seg_path(w, "checkpoint.", seg);
    size_t n = strlen(path) + 8;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 || write_all(fd, records->data, records->len) < 0 || fsync(fd) != 0 ? -1 : 0;
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
    }
    if (rc < 0) {
        err_set(err, ERR_INTERNAL, "write WAL checkpoint %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(path);
    return rc;
}

static void delete_old(tsdb_wal_t *w, uint32_t keep_ckpt, int64_t min_valid)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->n_old; i++) {
        if (w->old[i].maxt < min_valid) {
            char *path = seg_path(w, "", w->old[i].seg);
            struct stat st;
            if (stat(path, &st) == 0 && w->total_bytes >= (uint64_t)st.st_size) {
                w->total_bytes -= (uint64_t)st.st_size;
            }
            unlink(path);
            free(path);
        } else {
            w->old[keep++] = w->old[i];
        }
    }
    w->n_old = keep;
    DIR *d = opendir(w->dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        uint32_t v;
        if (strncmp(e->d_name, "checkpoint.", 11) == 0 && parse_num(e->d_name + 11, &v) == 0 &&
            v != keep_ckpt) {
            char *path = seg_path(w, "checkpoint.", v);
            unlink(path);
            free(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

int tsdb__wal_checkpoint(tsdb_wal_t *w, const buf_t *series_records, int64_t min_valid, err_t *err)
{
    uint32_t next = w->seg + 1;
    if (write_checkpoint(w, next, series_records, err) < 0 || rotate(w, err) < 0) {
        return -1;
    }
    delete_old(w, next, min_valid);
    return 0;
}
