/* common/ws.c - WebSocket server side: handshake (SHA-1 + base64 for Sec-WebSocket-Accept,
 * written here because nothing herald links provides them), frame encoding, the client-frame
 * decoder, and the hub that serves upgraded connections.
 *
 * DESIGN: one hub thread per ws_hub_t polls every connection's socket plus a wake-up pipe.
 * libmicrohttpd hands an upgraded socket over on one of its threads (on_upgraded); the
 * connection goes onto the hub's `incoming` list under `mu` and the pipe wakes the thread,
 * which adopts it (on_open). From then on only the hub thread touches the connection: reads
 * are decoded into events, writes go through a per-connection output buffer flushed with
 * non-blocking send(), and every tick runs on_tick, the pings and the close deadlines. A
 * finished connection gets on_close, then its socket goes back to libmicrohttpd
 * (http_upgrade_close), which closes it. Lock order: only `mu`, never held across a
 * callback. */
#include "common/ws.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/labels.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_CONTROL 125

/* ---- SHA-1 (FIPS 180-4), only for the 60-byte handshake input ------------------------- */

typedef struct {
    uint32_t h[5];
    uint64_t total;
    uint8_t block[64];
    size_t used;
} sha1_t;

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(sha1_t *s, const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) {
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d), k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d, k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d, k = 0xca62c1d6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol32(b, 30), b = a, a = t;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void sha1_update(sha1_t *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->total += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take, p += take, n -= take;
        if (s->used == 64) {
            sha1_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha1(const void *data, size_t n, uint8_t out[20])
{
    sha1_t s = {.h = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}};
    sha1_update(&s, data, n);
    uint64_t bits = s.total * 8;
    uint8_t pad[72] = {0x80};
    size_t pad_len = (s.used < 56 ? 56 : 120) - s.used;
    for (int i = 0; i < 8; i++) {
        pad[pad_len + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha1_update(&s, pad, pad_len + 8);
    for (int i = 0; i < 20; i++) {
        out[i] = (uint8_t)(s.h[i / 4] >> (24 - 8 * (i % 4)));
    }
}

/* ---- base64 ------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding; out holds 4 * ceil(n / 3) + 1 bytes. */
static void base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Does `key` decode (standard base64) to exactly 16 bytes? That is 22 symbols then "==". */
static int key_is_valid(const char *key)
{
    if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0) {
        return 0;
    }
    for (int i = 0; i < 22; i++) {
        if (strchr(b64_alphabet, key[i]) == NULL || key[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

void ws_accept_key(const char *key, char out[29])
{
    char input[128];
    int n = snprintf(input, sizeof(input), "%s%s", key, WS_GUID);
    uint8_t digest[20];
    sha1(input, n > 0 && (size_t)n < sizeof(input) ? (size_t)n : sizeof(input) - 1, digest);
    base64_encode(digest, sizeof(digest), out);
}

/* ---- encoding ----------------------------------------------------------------------------- */

void ws_frame_encode(buf_t *out, int opcode, const void *payload, size_t len)
{
    uint8_t hdr[10];
    size_t n = 2;
    hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        hdr[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(len >> 8), hdr[3] = (uint8_t)len;
        n = 4;
    } else {
        hdr[1] = 127;
        for (int i = 0; i < 8; i++) {
            hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        }
        n = 10;
    }
    buf_append(out, hdr, n);
    if (len > 0) {
        buf_append(out, payload, len);
    }
}

void ws_close_encode(buf_t *out, int code, const char *reason)
{
    char payload[WS_MAX_CONTROL];
    size_t n = reason != NULL ? strlen(reason) : 0;
    if (n > WS_MAX_CONTROL - 2) {
        n = WS_MAX_CONTROL - 2;
        while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80) {
            n--; /* do not cut a UTF-8 sequence: the client would fail the close with 1007 */
        }
    }
    payload[0] = (char)(code >> 8), payload[1] = (char)code;
    if (n > 0) {
        memcpy(payload + 2, reason, n);
    }
    ws_frame_encode(out, WS_OP_CLOSE, payload, n + 2);
}

/* ---- decoding ----------------------------------------------------------------------------- */

void ws_decoder_init(ws_decoder_t *d, size_t max_message_bytes)
{
    memset(d, 0, sizeof(*d));
    buf_init(&d->in);
    buf_init(&d->msg);
    d->max_message_bytes = max_message_bytes;
}

void ws_decoder_fini(ws_decoder_t *d)
{
    buf_fini(&d->in);
    buf_fini(&d->msg);
}

void ws_decoder_feed(ws_decoder_t *d, const void *data, size_t n)
{
    if (d->pos > 0 && d->pos == d->in.len) {
        buf_reset(&d->in); /* all decoded: start over instead of growing */
        d->pos = 0;
    } else if (d->pos > 4096 && d->pos * 2 > d->in.len) {
        memmove(d->in.data, d->in.data + d->pos, d->in.len - d->pos);
        d->in.len -= d->pos;
        d->pos = 0;
    }
    buf_append(&d->in, data, n);
}

static int decode_fail(ws_decoder_t *d, ws_event_t *ev, int code, const char *reason)
{
    d->failed = 1;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    *ev = (ws_event_t){
        .type = WS_EV_ERROR, .code = code, .data = d->reason, .len = strlen(d->reason)};
    return 1;
}

/* Close codes a peer may send (RFC 6455 7.4, IANA registry). */
static int close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

typedef struct {
    int fin, opcode;
    uint64_t len;
    size_t hdr; /* header bytes, mask key included */
} frame_hdr_t;

/* Parses the header at in[pos]: 1 done, 0 needs more bytes, -1 too long a length field. */
static int parse_header(const ws_decoder_t *d, frame_hdr_t *f, int *masked, int *rsv)
{
    const uint8_t *p = (const uint8_t *)d->in.data + d->pos;
    size_t avail = d->in.len - d->pos;
    if (avail < 2) {
        return 0;
    }
    f->fin = p[0] >> 7;
    *rsv = p[0] & 0x70;
    f->opcode = p[0] & 0x0f;
    *masked = p[1] >> 7;
    f->len = p[1] & 0x7f;
    f->hdr = 2;
    if (f->len == 126) {
        f->hdr = 4;
        if (avail < 4) {
            return 0;
        }
        f->len = (uint64_t)p[2] << 8 | p[3];
    } else if (f->len == 127) {
        f->hdr = 10;
        if (avail < 10) {
            return 0;
        }
        f->len = 0;
        for (int i = 0; i < 8; i++) {
            f->len = f->len << 8 | p[2 + i];
        }
        if (f->len >> 63) {
            return -1;
        }
    }
    f->hdr += *masked ? 4 : 0;
    return 1;
}

/* Protocol checks that need only the header; NULL when the frame is acceptable. */
static const char *check_header(const ws_decoder_t *d, const frame_hdr_t *f, int masked, int rsv,
                                int *code)
{
    *code = WS_CLOSE_PROTOCOL;
    int control = f->opcode >= 0x8;
    if (rsv != 0) {
        return "reserved bits set";
    }
    if (!masked) {
        return "client frame not masked";
    }
    if (f->opcode > WS_OP_BINARY && f->opcode != WS_OP_CLOSE && f->opcode != WS_OP_PING &&
        f->opcode != WS_OP_PONG) {
        return "unknown opcode";
    }
    if (control && (!f->fin || f->len > WS_MAX_CONTROL)) {
        return "invalid control frame";
    }
    if (f->opcode == WS_OP_CONT && d->msg_opcode == 0) {
        return "continuation frame without a message";
    }
    if ((f->opcode == WS_OP_TEXT || f->opcode == WS_OP_BINARY) && d->msg_opcode != 0) {
        return "new message inside a fragmented one";
    }
    if (!control && d->msg.len + f->len > d->max_message_bytes) {
        *code = WS_CLOSE_TOO_BIG;
        return "message too big";
    }
    return NULL;
}

static int decode_close(ws_decoder_t *d, const char *p, size_t n, ws_event_t *ev)
{
    if (n == 1) {
        return decode_fail(d, ev, WS_CLOSE_PROTOCOL, "invalid close payload");
    }
    int code = n == 0 ? WS_CLOSE_NO_STATUS : ((unsigned char)p[0] << 8 | (unsigned char)p[1]);
    if (n > 0 && !close_code_valid(code)) {
        return decode_fail(d, ev, WS_CLOSE_PROTOCOL, "invalid close code");
    }
    if (n > 2 && !labels_is_valid_utf8(p + 2, n - 2)) {
        return decode_fail(d, ev, WS_CLOSE_BAD_DATA, "invalid UTF-8 in close reason");
    }
    d->failed = 1; /* nothing follows a Close */
    *ev = (ws_event_t){
        .type = WS_EV_CLOSE, .code = code, .data = n > 2 ? p + 2 : "", .len = n > 2 ? n - 2 : 0};
    return 1;
}

/* A data frame's payload joins the open message; 1 with the event when it completes it. */
static int decode_data(ws_decoder_t *d, const frame_hdr_t *f, const char *p, ws_event_t *ev)
{
    if (f->opcode != WS_OP_CONT) {
        d->msg_opcode = f->opcode;
    }
    buf_append(&d->msg, p, (size_t)f->len);
    if (!f->fin) {
        return 0;
    }
    int opcode = d->msg_opcode;
    d->msg_opcode = 0;
    if (opcode == WS_OP_TEXT &&
        !labels_is_valid_utf8(d->msg.data != NULL ? d->msg.data : "", d->msg.len)) {
        return decode_fail(d, ev, WS_CLOSE_BAD_DATA, "invalid UTF-8 in text message");
    }
    *ev = (ws_event_t){.type = WS_EV_MESSAGE,
                       .opcode = opcode,
                       .data = d->msg.data != NULL ? d->msg.data : "",
                       .len = d->msg.len};
    return 1;
}

int ws_decoder_next(ws_decoder_t *d, ws_event_t *ev)
{
    if (d->msg_opcode == 0) {
        buf_reset(&d->msg); /* the previous message was delivered */
    }
    while (!d->failed) {
        frame_hdr_t f;
        int masked = 0, rsv = 0, code = 0;
        int rc = parse_header(d, &f, &masked, &rsv);
        if (rc < 0) {
            return decode_fail(d, ev, WS_CLOSE_TOO_BIG, "message too big");
        }
        if (rc == 0) {
            return 0;
        }
        const char *why = check_header(d, &f, masked, rsv, &code);
        if (why != NULL) {
            return decode_fail(d, ev, code, why);
        }
        if (d->in.len - d->pos < f.hdr + f.len) {
            return 0;
        }
        char *p = d->in.data + d->pos + f.hdr;
        const uint8_t *key = (const uint8_t *)p - 4;
        for (size_t i = 0; i < f.len; i++) {
            p[i] = (char)(p[i] ^ key[i & 3]);
        }
        d->pos += f.hdr + (size_t)f.len;
        if (f.opcode == WS_OP_CLOSE) {
            return decode_close(d, p, (size_t)f.len, ev);
        }
        if (f.opcode == WS_OP_PING || f.opcode == WS_OP_PONG) {
            *ev = (ws_event_t){.type = f.opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG,
                               .data = p,
                               .len = (size_t)f.len};
            return 1;
        }
        if (decode_data(d, &f, p, ev)) {
            return 1;
        }
    }
    return 0;
}

/* ---- the hub ------------------------------------------------------------------------------ */

typedef enum {
    CONN_OPEN,
    CONN_CLOSING, /* our Close is queued or sent; waiting for the client's */
    CONN_DONE,    /* to be reaped: on_close, then the socket goes back */
} conn_state_t;

struct ws_conn {
    ws_hub_t *hub;
    int fd; /* -1: the 101 never went out */
    http_upgrade_t *up;
    ws_handler_t handler;
    void *arg;
    ws_decoder_t dec;
    buf_t out; /* frames not yet written, from out_pos */
    size_t out_pos;
    conn_state_t state;
    int close_code;       /* reported to on_close */
    int64_t next_ping_ms; /* monotonic */
    int64_t close_deadline_ms;
    struct ws_conn *next;
};

struct ws_hub {
    ws_hub_opts_t opts;
    char *name;
    pthread_t thread;
    int wake[2]; /* pipe: [0] polled by the hub, [1] written to wake it */

    pthread_mutex_t mu;
    ws_conn_t *incoming; /* handed over, not yet adopted; guarded by mu */
    size_t n_open;       /* adopted and not reaped; guarded by mu */
    int stopping;        /* guarded by mu */
    int joined;          /* the thread has been joined (ws_hub_stop ran) */

    ws_conn_t *conns; /* hub thread only */
};

/* What ws_upgrade leaves for the upgrade callback. */
typedef struct {
    ws_hub_t *hub;
    ws_handler_t handler;
    void *arg;
} pending_t;

static void hub_wake(ws_hub_t *h)
{
    char c = 1;
    ssize_t rc = write(h->wake[1], &c, 1);
    (void)rc; /* a full pipe already means "wake up" */
}

/* ---- per connection: output ---- */

static void conn_queue(ws_conn_t *c, int opcode, const void *payload, size_t len)
{
    ws_frame_encode(&c->out, opcode, payload, len);
}

/* Writes what the socket takes now; a hard error ends the connection (1006). */
static void conn_flush(ws_conn_t *c)
{
    while (c->fd >= 0 && c->out_pos < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_pos, c->out.len - c->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (c->state != CONN_CLOSING) {
            c->close_code = WS_CLOSE_ABNORMAL;
        }
        c->state = CONN_DONE;
        c->out_pos = c->out.len;
    }
    if (c->out_pos == c->out.len) {
        buf_reset(&c->out);
        c->out_pos = 0;
    }
}

size_t ws_conn_pending(const ws_conn_t *c)
{
    return c->out.len - c->out_pos;
}

void ws_conn_send_text(ws_conn_t *c, const char *data, size_t len)
{
    if (c->state == CONN_OPEN) {
        conn_queue(c, WS_OP_TEXT, data, len);
    }
}

void ws_conn_close(ws_conn_t *c, int code, const char *reason)
{
    if (c->state != CONN_OPEN) {
        return;
    }
    ws_close_encode(&c->out, code, reason);
    c->state = CONN_CLOSING;
    c->close_code = code;
    c->close_deadline_ms = time_mono_ms() + c->hub->opts.close_timeout_ms;
}

/* ---- per connection: input ---- */

static void conn_on_event(ws_conn_t *c, const ws_event_t *ev)
{
    switch (ev->type) {
    case WS_EV_MESSAGE:
        if (c->state == CONN_OPEN && c->handler.on_message != NULL) {
            c->handler.on_message(c, c->arg, ev->opcode, ev->data, ev->len);
        }
        break;
    case WS_EV_PING:
        if (c->state == CONN_OPEN) {
            conn_queue(c, WS_OP_PONG, ev->data, ev->len);
        }
        break;
    case WS_EV_PONG: break;
    case WS_EV_CLOSE:
        if (c->state == CONN_OPEN) {
            /* echo the code (RFC 6455 5.5.1); a Close without one is answered with 1000 */
            int code = ev->code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev->code;
            ws_close_encode(&c->out, code, NULL);
            c->close_code = ev->code;
        }
        c->state = CONN_DONE;
        break;
    case WS_EV_ERROR:
        if (c->state == CONN_OPEN) {
            ws_close_encode(&c->out, ev->code, ev->data);
            c->close_code = ev->code;
        }
        c->state = CONN_DONE;
        break;
    }
}

/* Reads what is there and handles the decoded events. EOF or an error ends it (1006). */
static void conn_read(ws_conn_t *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            if (c->state == CONN_OPEN) {
                c->close_code = WS_CLOSE_ABNORMAL;
            }
            c->state = CONN_DONE;
            return;
        }
        ws_decoder_feed(&c->dec, tmp, (size_t)n);
        ws_event_t ev;
        while (c->state != CONN_DONE && ws_decoder_next(&c->dec, &ev)) {
            conn_on_event(c, &ev);
        }
        if (c->state == CONN_DONE || (size_t)n < sizeof(tmp)) {
            return;
        }
    }
}

/* ---- adoption and reaping ---- */

static ws_conn_t *conn_new(ws_hub_t *h, const pending_t *p, int fd, http_upgrade_t *up)
{
    ws_conn_t *c = xcalloc(1, sizeof(*c));
    c->hub = h;
    c->fd = fd;
    c->up = up;
    c->handler = p->handler;
    c->arg = p->arg;
    ws_decoder_init(&c->dec, h->opts.max_message_bytes);
    buf_init(&c->out);
    c->state = fd >= 0 ? CONN_OPEN : CONN_DONE;
    c->close_code = WS_CLOSE_ABNORMAL;
    return c;
}

/* The last steps of a connection, on any thread that owns it. */
static void conn_finish(ws_conn_t *c)
{
    conn_flush(c); /* best effort: the Close frame, if the socket takes it */
    c->handler.on_close(c, c->arg, c->close_code);
    http_upgrade_close(c->up);
    ws_decoder_fini(&c->dec);
    buf_fini(&c->out);
    free(c);
}

static void hub_adopt(ws_hub_t *h, ws_conn_t *c)
{
    if (c->fd >= 0) {
        int fl = fcntl(c->fd, F_GETFL);
        fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
        c->next_ping_ms = time_mono_ms() + h->opts.ping_interval_ms;
        if (c->handler.on_open != NULL) {
            c->handler.on_open(c, c->arg);
        }
        ws_event_t ev; /* the client may have sent frames right after its request */
        while (c->state != CONN_DONE && ws_decoder_next(&c->dec, &ev)) {
            conn_on_event(c, &ev);
        }
    }
    c->next = h->conns;
    h->conns = c;
}

/* Takes the connections handed over since the last round. Returns the stopping flag. */
static int hub_take_incoming(ws_hub_t *h)
{
    pthread_mutex_lock(&h->mu);
    ws_conn_t *list = h->incoming;
    h->incoming = NULL;
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->mu);
    while (list != NULL) {
        ws_conn_t *next = list->next;
        hub_adopt(h, list);
        list = next;
    }
    return stopping;
}

static void hub_reap(ws_hub_t *h)
{
    for (ws_conn_t **pp = &h->conns; *pp != NULL;) {
        ws_conn_t *c = *pp;
        if (c->state != CONN_DONE) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        conn_finish(c);
        pthread_mutex_lock(&h->mu);
        h->n_open--;
        pthread_mutex_unlock(&h->mu);
    }
}

/* ---- the loop ---- */

/* Timers of one connection: ping, close deadline, then the owner's tick. */
static void conn_tick(ws_conn_t *c, int64_t now)
{
    const ws_hub_opts_t *o = &c->hub->opts;
    if (c->state == CONN_CLOSING && now >= c->close_deadline_ms) {
        c->state = CONN_DONE;
        return;
    }
    if (c->state != CONN_OPEN) {
        return;
    }
    if (now >= c->next_ping_ms) {
        conn_queue(c, WS_OP_PING, NULL, 0);
        c->next_ping_ms = now + o->ping_interval_ms;
    }
    if (c->handler.on_tick != NULL) {
        c->handler.on_tick(c, c->arg, now);
    }
}

/* Polls the wake pipe and every socket for up to timeout_ms; handles what is ready. */
static void hub_poll(ws_hub_t *h, int timeout_ms)
{
    size_t n = 1;
    for (ws_conn_t *c = h->conns; c != NULL; c = c->next) {
        n++;
    }
    struct pollfd *fds = xcalloc(n, sizeof(*fds));
    fds[0] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
    size_t i = 1;
    for (ws_conn_t *c = h->conns; c != NULL; c = c->next, i++) {
        short ev = c->state == CONN_DONE ? 0 : POLLIN;
        fds[i] = (struct pollfd){.fd = c->fd, .events = ev | (ws_conn_pending(c) ? POLLOUT : 0)};
    }
    if (poll(fds, n, timeout_ms) > 0) {
        if (fds[0].revents & POLLIN) {
            char drain[64];
            while (read(h->wake[0], drain, sizeof(drain)) == (ssize_t)sizeof(drain)) {
            }
        }
        i = 1;
        for (ws_conn_t *c = h->conns; c != NULL; c = c->next, i++) {
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                conn_read(c);
            }
        }
    }
    free(fds);
}

static void hub_close_all(ws_hub_t *h)
{
    for (ws_conn_t *c = h->conns; c != NULL; c = c->next) {
        if (c->state == CONN_OPEN) {
            ws_close_encode(&c->out, WS_CLOSE_GOING_AWAY, "server shutting down");
            c->close_code = WS_CLOSE_GOING_AWAY;
        }
        c->state = CONN_DONE;
    }
    hub_reap(h);
}

static void *hub_main(void *arg)
{
    ws_hub_t *h = arg;
    int64_t next_tick = time_mono_ms();
    for (;;) {
        if (hub_take_incoming(h)) {
            break;
        }
        int64_t now = time_mono_ms();
        if (now >= next_tick) {
            for (ws_conn_t *c = h->conns; c != NULL; c = c->next) {
                conn_tick(c, now);
            }
            next_tick = now + h->opts.tick_ms;
        }
        for (ws_conn_t *c = h->conns; c != NULL; c = c->next) {
            conn_flush(c);
        }
        hub_reap(h);
        hub_poll(h, (int)(next_tick - now > 0 ? next_tick - now : 0));
    }
    hub_close_all(h);
    return NULL;
}

/* ---- lifecycle ---- */

ws_hub_t *ws_hub_new(const ws_hub_opts_t *opts, err_t *err)
{
    ws_hub_t *h = xcalloc(1, sizeof(*h));
    h->opts = *opts;
    h->opts.ping_interval_ms = opts->ping_interval_ms > 0 ? opts->ping_interval_ms : 1000;
    h->opts.tick_ms = opts->tick_ms > 0 ? opts->tick_ms : 100;
    h->opts.close_timeout_ms = opts->close_timeout_ms > 0 ? opts->close_timeout_ms : 1000;
    h->opts.max_message_bytes = opts->max_message_bytes ? opts->max_message_bytes : 1u << 20;
    h->name = xstrdup(opts->name != NULL ? opts->name : "ws");
    h->opts.name = h->name;
    pthread_mutex_init(&h->mu, NULL);
    if (pipe(h->wake) != 0) {
        abort(); /* out of descriptors at startup: nothing sensible to do */
    }
    fcntl(h->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(h->wake[1], F_SETFL, O_NONBLOCK);
    if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
        abort();
    }
    (void)err;
    return h;
}

void ws_hub_stop(ws_hub_t *h)
{
    pthread_mutex_lock(&h->mu);
    int first = !h->stopping;
    h->stopping = 1;
    pthread_mutex_unlock(&h->mu);
    if (!first) {
        return;
    }
    hub_wake(h);
    pthread_join(h->thread, NULL);
    pthread_mutex_lock(&h->mu);
    ws_conn_t *late = h->incoming; /* handed over while the thread was leaving */
    h->incoming = NULL;
    h->joined = 1;
    pthread_mutex_unlock(&h->mu);
    while (late != NULL) {
        ws_conn_t *next = late->next;
        late->state = CONN_DONE;
        late->close_code = late->fd >= 0 ? WS_CLOSE_GOING_AWAY : WS_CLOSE_ABNORMAL;
        conn_finish(late);
        late = next;
    }
}

void ws_hub_free(ws_hub_t *h)
{
    if (h == NULL) {
        return;
    }
    ws_hub_stop(h);
    close(h->wake[0]);
    close(h->wake[1]);
    pthread_mutex_destroy(&h->mu);
    free(h->name);
    free(h);
}

size_t ws_hub_count(ws_hub_t *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->n_open;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* ---- handshake ---------------------------------------------------------------------------- */

/* Does the comma-separated header value list `token` (case-insensitive)? */
static int header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    while (value != NULL && *value != '\0') {
        value += strspn(value, " \t,");
        size_t n = strcspn(value, ",");
        size_t m = n;
        while (m > 0 && (value[m - 1] == ' ' || value[m - 1] == '\t')) {
            m--;
        }
        if (m == tlen && strncasecmp(value, token, tlen) == 0) {
            return 1;
        }
        value += n;
    }
    return 0;
}

/* Runs on a libmicrohttpd thread: hands the socket (or the failure) to the hub. */
static void on_upgraded(void *arg, int fd, const char *extra, size_t n_extra, http_upgrade_t *up)
{
    pending_t *p = arg;
    ws_hub_t *h = p->hub;
    ws_conn_t *c = conn_new(h, p, fd, up);
    free(p);
    if (n_extra > 0) {
        ws_decoder_feed(&c->dec, extra, n_extra);
    }
    pthread_mutex_lock(&h->mu);
    int joined = h->joined;
    if (!joined) {
        c->next = h->incoming;
        h->incoming = c;
        h->n_open++;
    }
    pthread_mutex_unlock(&h->mu);
    if (joined) {
        c->close_code = fd >= 0 ? WS_CLOSE_GOING_AWAY : WS_CLOSE_ABNORMAL;
        c->state = CONN_DONE;
        conn_finish(c); /* the hub is gone: finish here */
        return;
    }
    hub_wake(h);
}

int ws_check_handshake(http_req_t *r, err_t *err)
{
    const char *pre = "websocket: the client is not using the websocket protocol: ";
    if (!header_has_token(http_req_header(r, "Connection"), "upgrade")) {
        return err_set(err, ERR_BAD_DATA, "%s'upgrade' token not found in 'Connection' header",
                       pre);
    }
    if (!header_has_token(http_req_header(r, "Upgrade"), "websocket")) {
        return err_set(err, ERR_BAD_DATA, "%s'websocket' token not found in 'Upgrade' header", pre);
    }
    if (strcmp(http_req_method(r), "GET") != 0) {
        return err_set(err, ERR_BAD_DATA, "%srequest method is not GET", pre);
    }
    if (!header_has_token(http_req_header(r, "Sec-WebSocket-Version"), "13")) {
        http_set_header(r, "Sec-WebSocket-Version", "13");
        return err_set(err, ERR_BAD_DATA,
                       "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' "
                       "header");
    }
    if (!key_is_valid(http_req_header(r, "Sec-WebSocket-Key"))) {
        return err_set(err, ERR_BAD_DATA,
                       "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be "
                       "Base64 encoded value of 16-byte in length");
    }
    return 0;
}

int ws_upgrade(http_req_t *r, ws_hub_t *h, const ws_handler_t *handler, void *arg, err_t *err)
{
    if (ws_check_handshake(r, err) < 0) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->mu);
    if (stopping) {
        return err_set(err, ERR_UNAVAILABLE, "server shutting down");
    }
    char accept[29];
    ws_accept_key(http_req_header(r, "Sec-WebSocket-Key"), accept);
    http_set_header(r, "Sec-WebSocket-Accept", accept);
    pending_t *p = xmalloc(sizeof(*p));
    *p = (pending_t){.hub = h, .handler = *handler, .arg = arg};
    if (http_reply_upgrade(r, "websocket", on_upgraded, p, err) < 0) {
        free(p);
        return -1;
    }
    return 0;
}
