/* storage/tsdb_chunk.c - Gorilla/XOR sample compression (the encoding Prometheus calls
 * XOR chunks) and CRC32C, shared by the head, the blocks and the WAL.
 *
 * DESIGN: a chunk is a bit stream. Sample 0: timestamp as a zigzag varint, value as 64 raw
 * bits. Sample 1: timestamp delta as an unsigned varint, value XOR-coded. Later samples:
 * delta-of-delta in one of five buckets ('0'; '10'+14 bits; '110'+17; '1110'+20;
 * '1111'+64), then the value XORed with the previous one: '0' when equal, '10' when the
 * meaningful bits fit in the previous leading/trailing window, else '11' + 5 bits of
 * leading zeros + 6 bits of length + the bits. Typical scrape data costs ~1.3 bytes a
 * sample. The sample count is kept beside the bytes, not in them. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "storage/tsdb_int.h"

/* ---- bit writer ------------------------------------------------------------------------ */

static void enc_reserve(tsdb_xor_enc_t *e, uint32_t more_bits)
{
    uint32_t need = (e->nbits + more_bits + 7) / 8;
    if (need <= e->cap) {
        return;
    }
    uint32_t cap = e->cap == 0 ? 16 : e->cap;
    while (cap < need) {
        cap *= 2;
    }
    e->buf = xrealloc(e->buf, cap);
    memset(e->buf + e->cap, 0, cap - e->cap);
    e->cap = cap;
}

static void put_bits(tsdb_xor_enc_t *e, uint64_t v, unsigned nb)
{
    enc_reserve(e, nb);
    while (nb > 0) {
        unsigned free_bits = 8 - (e->nbits & 7);
        unsigned take = nb < free_bits ? nb : free_bits;
        uint8_t part = (uint8_t)((v >> (nb - take)) & ((1u << take) - 1));
        e->buf[e->nbits >> 3] |= (uint8_t)(part << (free_bits - take));
        e->nbits += take;
        nb -= take;
    }
}

static void put_uvarint(tsdb_xor_enc_t *e, uint64_t v)
{
    while (v >= 0x80) {
        put_bits(e, (v & 0x7f) | 0x80, 8);
        v >>= 7;
    }
    put_bits(e, v, 8);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static void put_dod(tsdb_xor_enc_t *e, int64_t dod)
{
    /* Buckets hold signed values in two's complement of the given width. */
    static const struct {
        unsigned prefix, prefix_bits, bits;
    } buckets[] = {{0x2, 2, 14}, {0x6, 3, 17}, {0xe, 4, 20}};
    if (dod == 0) {
        put_bits(e, 0, 1);
        return;
    }
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        int64_t lim = (int64_t)1 << (buckets[i].bits - 1);
        if (dod >= -lim + 1 && dod <= lim) {
            put_bits(e, buckets[i].prefix, buckets[i].prefix_bits);
            put_bits(e, (uint64_t)dod & (((uint64_t)1 << buckets[i].bits) - 1), buckets[i].bits);
            return;
        }
    }
    put_bits(e, 0xf, 4);
    put_bits(e, (uint64_t)dod, 64);
}

static void put_xor(tsdb_xor_enc_t *e, uint64_t bits)
{
    uint64_t x = bits ^ e->v_bits;
    if (x == 0) {
        put_bits(e, 0, 1);
        return;
    }
    unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
    if (lead >= 32) {
        lead = 31; /* 5 bits hold it */
    }
    if (e->leading != 0xff && lead >= e->leading && trail >= e->trailing) {
        put_bits(e, 0x2, 2);
        put_bits(e, x >> e->trailing, 64 - e->leading - e->trailing);
        return;
    }
    e->leading = (uint8_t)lead;
    e->trailing = (uint8_t)trail;
    unsigned sig = 64 - lead - trail;
    put_bits(e, 0x3, 2);
    put_bits(e, lead, 5);
    put_bits(e, sig & 63, 6); /* 64 significant bits are written as 0 */
    put_bits(e, x >> trail, sig);
}

void tsdb__xor_append(tsdb_xor_enc_t *e, int64_t t, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if (e->n == 0) {
        put_uvarint(e, zigzag(t));
        put_bits(e, bits, 64);
        e->leading = 0xff;
        e->mint = t;
    } else if (e->n == 1) {
        put_uvarint(e, (uint64_t)(t - e->t));
        put_xor(e, bits);
        e->t_delta = t - e->t;
    } else {
        int64_t delta = t - e->t;
        put_dod(e, delta - e->t_delta);
        put_xor(e, bits);
        e->t_delta = delta;
    }
    e->t = t;
    e->v_bits = bits;
    e->n++;
}

void tsdb__xor_reset(tsdb_xor_enc_t *e)
{
    free(e->buf);
    memset(e, 0, sizeof(*e));
}

/* ---- bit reader ------------------------------------------------------------------------ */

static int get_bits(tsdb_xor_dec_t *d, unsigned nb, uint64_t *out)
{
    uint64_t v = 0;
    if (d->pos + nb > (uint64_t)d->len * 8) {
        return -1;
    }
    while (nb > 0) {
        unsigned off = (unsigned)(d->pos & 7);
        unsigned avail = 8 - off;
        unsigned take = nb < avail ? nb : avail;
        uint8_t byte = d->data[d->pos >> 3];
        v = (v << take) | ((byte >> (avail - take)) & ((1u << take) - 1));
        d->pos += take;
        nb -= take;
    }
    *out = v;
    return 0;
}

static int get_uvarint(tsdb_xor_dec_t *d, uint64_t *out)
{
    uint64_t v = 0, b;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (get_bits(d, 8, &b) < 0) {
            return -1;
        }
        v |= (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int get_dod(tsdb_xor_dec_t *d, int64_t *dod)
{
    static const unsigned widths[] = {14, 17, 20, 64};
    uint64_t bit, v;
    unsigned ones = 0;
    while (ones < 4) {
        if (get_bits(d, 1, &bit) < 0) {
            return -1;
        }
        if (bit == 0) {
            break;
        }
        ones++;
    }
    if (ones == 0) {
        *dod = 0;
        return 0;
    }
    unsigned w = widths[ones - 1];
    if (get_bits(d, w, &v) < 0) {
        return -1;
    }
    if (w < 64 && v > ((uint64_t)1 << (w - 1))) {
        v -= (uint64_t)1 << w; /* the encoder's range is (-2^(w-1), 2^(w-1)] */
    }
    *dod = (int64_t)v;
    return 0;
}

static int get_xor(tsdb_xor_dec_t *d)
{
    uint64_t ctl, v;
    if (get_bits(d, 1, &ctl) < 0) {
        return -1;
    }
    if (ctl == 0) {
        return 0;
    }
    if (get_bits(d, 1, &ctl) < 0) {
        return -1;
    }
    if (ctl == 1) {
        uint64_t lead, sig;
        if (get_bits(d, 5, &lead) < 0 || get_bits(d, 6, &sig) < 0) {
            return -1;
        }
        if (sig == 0) {
            sig = 64;
        }
        if (lead + sig > 64) {
            return -1;
        }
        d->leading = (uint8_t)lead;
        d->trailing = (uint8_t)(64 - lead - sig);
    }
    unsigned sig = 64u - d->leading - d->trailing;
    if (sig == 0 || sig > 64 || get_bits(d, sig, &v) < 0) {
        return -1;
    }
    d->v_bits ^= v << d->trailing;
    return 0;
}

void tsdb__xor_dec_init(tsdb_xor_dec_t *d, const uint8_t *data, uint32_t len, uint32_t n)
{
    memset(d, 0, sizeof(*d));
    d->data = data;
    d->len = len;
    d->n = n;
}

int tsdb__xor_next(tsdb_xor_dec_t *d, int64_t *t, double *v)
{
    uint64_t u;
    if (d->i >= d->n) {
        return 0;
    }
    if (d->i == 0) {
        if (get_uvarint(d, &u) < 0 || get_bits(d, 64, &d->v_bits) < 0) {
            return -1;
        }
        d->t = unzigzag(u);
    } else if (d->i == 1) {
        if (get_uvarint(d, &u) < 0 || get_xor(d) < 0) {
            return -1;
        }
        d->t_delta = (int64_t)u;
        d->t += d->t_delta;
    } else {
        int64_t dod;
        if (get_dod(d, &dod) < 0 || get_xor(d) < 0) {
            return -1;
        }
        d->t_delta += dod;
        d->t += d->t_delta;
    }
    d->i++;
    *t = d->t;
    memcpy(v, &d->v_bits, sizeof(*v));
    return 1;
}

/* ---- CRC32C (Castagnoli), table-driven --------------------------------------------------- */

static struct {
    uint32_t table[8][256];
    int ready;
} crc;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc.table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int s = 1; s < 8; s++) {
            uint32_t prev = crc.table[s - 1][i];
            crc.table[s][i] = (prev >> 8) ^ crc.table[0][prev & 0xff];
        }
    }
    __atomic_store_n(&crc.ready, 1, __ATOMIC_RELEASE);
}

uint32_t tsdb__crc32c(uint32_t seed, const void *data, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    const uint8_t *p = data;
    uint32_t c = ~seed;
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = crc.table[7][lo & 0xff] ^ crc.table[6][(lo >> 8) & 0xff] ^
            crc.table[5][(lo >> 16) & 0xff] ^ crc.table[4][lo >> 24] ^ crc.table[3][hi & 0xff] ^
            crc.table[2][(hi >> 8) & 0xff] ^ crc.table[1][(hi >> 16) & 0xff] ^
            crc.table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = (c >> 8) ^ crc.table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}

/* ---- varint helpers for record payloads ------------------------------------------------ */

void tsdb__put_uvarint(buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    buf_append(b, tmp, n);
}

void tsdb__put_varint(buf_t *b, int64_t v) { tsdb__put_uvarint(b, zigzag(v)); }

void tsdb__put_u64(buf_t *b, uint64_t v)
{
    uint8_t tmp[8];
    for (int i = 0; i < 8; i++) {
        tmp[i] = (uint8_t)(v >> (8 * i));
    }
    buf_append(b, tmp, 8);
}

void tsdb__put_bytes(buf_t *b, const char *s, size_t n)
{
    tsdb__put_uvarint(b, n);
    buf_append(b, s, n);
}

int tsdb__get_uvarint(tsdb_reader_t *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && r->pos < r->len; shift += 7) {
        uint8_t b = r->data[r->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int tsdb__get_varint(tsdb_reader_t *r, int64_t *out)
{
    uint64_t u;
    if (tsdb__get_uvarint(r, &u) < 0) {
        return -1;
    }
    *out = unzigzag(u);
    return 0;
}

int tsdb__get_u64(tsdb_reader_t *r, uint64_t *out)
{
    if (r->len - r->pos < 8) {
        return -1;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | r->data[r->pos + (size_t)i];
    }
    r->pos += 8;
    *out = v;
    return 0;
}

int tsdb__get_bytes(tsdb_reader_t *r, const char **s, size_t *n)
{
    uint64_t len;
    if (tsdb__get_uvarint(r, &len) < 0 || len > r->len - r->pos) {
        return -1;
    }
    *s = (const char *)r->data + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return 0;
}
