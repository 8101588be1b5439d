/* tests/fuzz/fuzz_ws.c - libFuzzer target for the WebSocket frame decoder (common/ws.h).
 * The first input byte picks the mode:
 *   even: a client byte stream. data[1] sets max_message_bytes (x16; 0xff: 1 MiB), the low
 *      4 bits of data[2] say how many piece-size bytes follow, then the stream. The stream
 *      (twice over, so the decoder's buffer compaction runs) is decoded once fed whole and
 *      once fed in pieces of those sizes (cycled; 0 is an empty feed), draining after each
 *      feed. Invariants: both give the same events; each event is well formed (a message
 *      within the limit with a data opcode, text in UTF-8, control payloads <= 125 bytes, a
 *      close code a peer may send, an error code of 1002/1007/1009); nothing follows a
 *      Close or an error, however many bytes come after.
 *   odd: round trip. data[1] holds flags, data[2..5] a mask key, the rest a payload, which
 *      ws_frame_encode / ws_close_encode turn into server frames; the target masks them as
 *      a client must (the decoder refuses unmasked frames), optionally splits a message
 *      into fragments with a Ping between them, and the decoder must give back exactly the
 *      payload, opcode and close code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/labels.h"
#include "common/ws.h"

#define CONTROL_MAX 125

typedef struct {
    ws_decoder_t d;
    size_t max;
    int ended; /* a Close or an error was delivered */
    buf_t log; /* every event, serialized, to compare runs */
} run_t;

static void run_init(run_t *r, size_t max)
{
    ws_decoder_init(&r->d, max);
    r->max = max;
    r->ended = 0;
    buf_init(&r->log);
}

static void run_fini(run_t *r)
{
    ws_decoder_fini(&r->d);
    buf_fini(&r->log);
}

static void record(buf_t *log, int type, int opcode, int code, const char *data, size_t len)
{
    int head[3] = {type, opcode, code};
    buf_append(log, head, sizeof(head));
    buf_append(log, &len, sizeof(len));
    if (len > 0) {
        buf_append(log, data, len);
    }
}

/* Close codes RFC 6455 section 7.4 lets a peer send (written out here, not taken from ws.c). */
static int peer_code(int code)
{
    return code == 1000 || code == 1001 || code == 1002 || code == 1003 ||
           (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static void check_event(const ws_event_t *ev, size_t max)
{
    if (ev->len > 0 && ev->data == NULL) {
        abort();
    }
    switch (ev->type) {
    case WS_EV_MESSAGE:
        if ((ev->opcode != WS_OP_TEXT && ev->opcode != WS_OP_BINARY) || ev->len > max ||
            (ev->opcode == WS_OP_TEXT && !labels_is_valid_utf8(ev->data, ev->len))) {
            abort();
        }
        break;
    case WS_EV_PING:
    case WS_EV_PONG:
        if (ev->len > CONTROL_MAX) {
            abort();
        }
        break;
    case WS_EV_CLOSE:
        if (ev->len > CONTROL_MAX - 2 || !labels_is_valid_utf8(ev->data, ev->len) ||
            (ev->code == WS_CLOSE_NO_STATUS ? ev->len != 0 : !peer_code(ev->code))) {
            abort();
        }
        break;
    case WS_EV_ERROR:
        if ((ev->code != WS_CLOSE_PROTOCOL && ev->code != WS_CLOSE_BAD_DATA &&
             ev->code != WS_CLOSE_TOO_BIG) ||
            ev->len == 0) {
            abort();
        }
        break;
    default:
        abort();
    }
}

static void drain(run_t *r)
{
    ws_event_t ev;
    while (ws_decoder_next(&r->d, &ev)) {
        if (r->ended) {
            abort(); /* an event after a Close or an error */
        }
        check_event(&ev, r->max);
        record(&r->log, (int)ev.type, ev.opcode, ev.code, ev.data, ev.len);
        r->ended = ev.type == WS_EV_CLOSE || ev.type == WS_EV_ERROR;
    }
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
    if (size < 3 || size < 3 + (size_t)(data[2] & 15)) {
        return;
    }
    size_t max = data[1] == 0xff ? (size_t)1 << 20 : (size_t)data[1] * 16;
    size_t k = data[2] & 15;
    const uint8_t *sched = data + 3;
    size_t half = size - 3 - k;
    uint8_t *stream = malloc(2 * half + 1);
    memcpy(stream, sched + k, half);
    memcpy(stream + half, sched + k, half);
    size_t len = 2 * half;

    run_t whole, pieces;
    run_init(&whole, max);
    run_init(&pieces, max);
    ws_decoder_feed(&whole.d, stream, len);
    drain(&whole);
    for (size_t off = 0, i = 0; off < len; i++) {
        size_t n = k > 0 ? sched[i % k] : 1;
        if (n == 0) {
            ws_decoder_feed(&pieces.d, stream + off, 0);
            drain(&pieces);
            n = 1;
        }
        n = n < len - off ? n : len - off;
        ws_decoder_feed(&pieces.d, stream + off, n);
        drain(&pieces);
        off += n;
    }
    if (whole.log.len != pieces.log.len ||
        (whole.log.len > 0 && memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0)) {
        abort();
    }
    run_fini(&whole);
    run_fini(&pieces);
    free(stream);
}

/* Appends the server frame `frame` as a client would send it: FIN and opcode as given, the
 * mask bit set, the key after the length, the payload XORed with it. */
static void client_frame(buf_t *out, const buf_t *frame, int fin, int opcode, const uint8_t key[4])
{
    const uint8_t *f = (const uint8_t *)frame->data;
    size_t hdr = (f[1] & 0x7f) == 127 ? 10 : (f[1] & 0x7f) == 126 ? 4 : 2;
    uint8_t h[10];
    memcpy(h, f, hdr);
    h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    h[1] |= 0x80;
    buf_append(out, h, hdr);
    buf_append(out, key, 4);
    for (size_t i = hdr; i < frame->len; i++) {
        buf_putc(out, (char)(f[i] ^ key[(i - hdr) & 3]));
    }
}

/* One encoded frame of payload, masked, appended to out. */
static void add_frame(buf_t *out, int fin, int opcode, const void *p, size_t n, const uint8_t *key)
{
    buf_t f;
    buf_init(&f);
    ws_frame_encode(&f, opcode, p, n);
    client_frame(out, &f, fin, opcode, key);
    buf_fini(&f);
}

/* A message in nfrag fragments, with a Ping of its head after the first when asked. */
static void build_message(buf_t *wire, buf_t *want, int flags, const uint8_t *key, const char *p,
                          size_t n)
{
    int opcode = (flags & 0x20) && labels_is_valid_utf8(p, n) ? WS_OP_TEXT : WS_OP_BINARY;
    size_t nfrag = (size_t)((flags >> 2) & 7) + 1;
    size_t ping = n < CONTROL_MAX ? n : CONTROL_MAX;
    for (size_t i = 0; i < nfrag; i++) {
        size_t from = i * n / nfrag, to = (i + 1) * n / nfrag;
        add_frame(wire, i + 1 == nfrag, i == 0 ? opcode : WS_OP_CONT, p + from, to - from, key);
        if (i == 0 && nfrag > 1 && (flags & 0x40)) {
            add_frame(wire, 1, WS_OP_PING, p, ping, key);
            record(want, WS_EV_PING, 0, 0, p, ping);
        }
    }
    record(want, WS_EV_MESSAGE, opcode, 0, p, n);
}

/* A Close with a code a peer may send and the payload (up to its first NUL) as reason;
 * ws_close_encode cuts the reason to 123 bytes without splitting a UTF-8 sequence. */
static void build_close(buf_t *wire, buf_t *want, const uint8_t *key, const char *p, size_t n)
{
    static const int codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014};
    unsigned raw = n >= 2 ? (unsigned)(uint8_t)p[0] << 8 | (uint8_t)p[1] : 0;
    int code = (raw & 1) ? 3000 + (int)(raw % 2000) : codes[raw % 10];
    char *reason = strndup(n >= 2 ? p + 2 : "", n >= 2 ? n - 2 : 0);
    size_t rlen = strlen(reason);
    if (!labels_is_valid_utf8(reason, rlen)) {
        free(reason);
        return;
    }
    size_t cut = rlen < CONTROL_MAX - 2 ? rlen : CONTROL_MAX - 2;
    while (cut < rlen && cut > 0 && ((uint8_t)reason[cut] & 0xc0) == 0x80) {
        cut--;
    }
    buf_t f;
    buf_init(&f);
    ws_close_encode(&f, code, reason);
    client_frame(wire, &f, 1, WS_OP_CLOSE, key);
    record(want, WS_EV_CLOSE, 0, code, reason, cut);
    buf_fini(&f);
    free(reason);
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 6) {
        return;
    }
    int flags = data[1];
    const uint8_t *key = data + 2;
    const char *p = (const char *)data + 6;
    size_t n = size - 6;
    char *big = NULL;
    buf_t wire, want;
    buf_init(&wire);
    buf_init(&want);
    switch (flags & 3) {
    case 0:
        build_message(&wire, &want, flags, key, p, n);
        break;
    case 1:
        if (n > 0) { /* over 64 KiB: the 8-byte length form */
            size_t total = 65536 + (size_t)(flags >> 2);
            big = malloc(total);
            for (size_t i = 0; i < total; i++) {
                big[i] = p[i % n];
            }
            p = big;
            n = total;
        }
        build_message(&wire, &want, flags & ~0x20, key, p, n);
        break;
    case 2:
        n = n < CONTROL_MAX ? n : CONTROL_MAX;
        add_frame(&wire, 1, (flags & 4) ? WS_OP_PONG : WS_OP_PING, p, n, key);
        record(&want, (flags & 4) ? WS_EV_PONG : WS_EV_PING, 0, 0, p, n);
        break;
    default:
        build_close(&wire, &want, key, p, n);
        break;
    }
    /* the limit exactly at the message size, or with room to spare */
    run_t r;
    run_init(&r, (flags & 0x80) ? n : n + 100);
    ws_decoder_feed(&r.d, wire.data != NULL ? wire.data : "", wire.len);
    drain(&r);
    if (r.log.len != want.len || (want.len > 0 && memcmp(r.log.data, want.data, want.len) != 0)) {
        abort();
    }
    run_fini(&r);
    buf_fini(&wire);
    buf_fini(&want);
    free(big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    if (data[0] & 1) {
        fuzz_roundtrip(data, size);
    } else {
        fuzz_stream(data, size);
    }
    return 0;
}
