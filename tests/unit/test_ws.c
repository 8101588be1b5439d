/* tests/unit/test_ws.c - common/ws: the handshake key, server frame encoding, the client-frame
 * decoder (masking, fragmentation, control frames, close codes, limits) fed in arbitrary
 * chunks, and a hub behind a real common/http server on 127.0.0.1 driven by a raw-socket
 * client written here (its own masking and framing, independent of the code under test). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/timeutil.h"
#include "common/ws.h"
#include "test.h"

/* ---- client-side framing (test-only) --------------------------------------------------- */

/* A client frame: masked with `mask` unless mask is NULL; fin and opcode as given. */
static void client_frame(buf_t *out, int fin, int opcode, const void *payload, size_t len,
                         const unsigned char *mask)
{
    unsigned char hdr[14];
    size_t n = 2;
    hdr[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    unsigned char m = mask != NULL ? 0x80 : 0;
    if (len < 126) {
        hdr[1] = (unsigned char)(m | len);
    } else if (len <= 0xffff) {
        hdr[1] = m | 126;
        hdr[2] = (unsigned char)(len >> 8), hdr[3] = (unsigned char)len;
        n = 4;
    } else {
        hdr[1] = m | 127;
        for (int i = 0; i < 8; i++) {
            hdr[2 + i] = (unsigned char)((unsigned long long)len >> (56 - 8 * i));
        }
        n = 10;
    }
    if (mask != NULL) {
        memcpy(hdr + n, mask, 4);
        n += 4;
    }
    buf_append(out, hdr, n);
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = mask != NULL ? (unsigned char)(p[i] ^ mask[i & 3]) : p[i];
        buf_append(out, &c, 1);
    }
}

static const unsigned char MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static void masked(buf_t *out, int fin, int opcode, const char *s)
{
    client_frame(out, fin, opcode, s, strlen(s), MASK);
}

/* Feeds `in` one byte at a time (the worst fragmentation) and returns the first event. */
static int next_bytewise(ws_decoder_t *d, const buf_t *in, size_t *fed, ws_event_t *ev)
{
    while (*fed < in->len) {
        ws_decoder_feed(d, in->data + *fed, 1);
        (*fed)++;
        if (ws_decoder_next(d, ev)) {
            return 1;
        }
    }
    return ws_decoder_next(d, ev);
}

/* ---- handshake and encoding ----------------------------------------------------------- */

TEST(accept_key_matches_rfc6455_example)
{
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 section 1.3 */
    ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out); /* RFC 6455 section 1.2 client key */
    ASSERT_STR_EQ(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(encode_uses_the_shortest_length_form)
{
    buf_t b;
    buf_init(&b);
    ws_frame_encode(&b, WS_OP_TEXT, "hi", 2);
    ASSERT_EQ(b.len, (size_t)4);
    ASSERT_EQ((unsigned char)b.data[0], 0x81);
    ASSERT_EQ((unsigned char)b.data[1], 2);
    buf_reset(&b);
    char big[70000];
    memset(big, 'a', sizeof(big));
    ws_frame_encode(&b, WS_OP_BINARY, big, 126);
    ASSERT_EQ((unsigned char)b.data[1], 126);
    ASSERT_EQ(((unsigned char)b.data[2] << 8) | (unsigned char)b.data[3], 126);
    ASSERT_EQ(b.len, (size_t)(4 + 126));
    buf_reset(&b);
    ws_frame_encode(&b, WS_OP_TEXT, big, sizeof(big));
    ASSERT_EQ((unsigned char)b.data[1], 127);
    ASSERT_EQ((unsigned char)b.data[7], (70000 >> 16) & 0xff);
    ASSERT_EQ((unsigned char)b.data[9], 70000 & 0xff);
    ASSERT_EQ(b.len, (size_t)(10 + 70000));
    buf_fini(&b);
}

TEST(close_encode_cuts_reason_on_a_utf8_boundary)
{
    buf_t b;
    buf_init(&b);
    char reason[200];
    memset(reason, 'x', sizeof(reason));
    memcpy(reason + 122, "\xc3\xa9", 2); /* a 2-byte rune straddling the 123-byte limit */
    reason[199] = '\0';
    ws_close_encode(&b, WS_CLOSE_INTERNAL, reason);
    ASSERT_EQ((unsigned char)b.data[0], 0x88);
    size_t plen = (unsigned char)b.data[1];
    ASSERT_TRUE(plen <= 125);
    ASSERT_EQ(plen, (size_t)(2 + 122));
    ASSERT_EQ(((unsigned char)b.data[2] << 8) | (unsigned char)b.data[3], 1011);
    buf_fini(&b);
}

/* ---- decoder ---------------------------------------------------------------------------- */

TEST(decodes_masked_text_fed_byte_by_byte)
{
    ws_decoder_t d;
    ws_decoder_init(&d, 1 << 20);
    buf_t in;
    buf_init(&in);
    masked(&in, 1, WS_OP_TEXT, "hello");
    char blob[300];
    memset(blob, 'z', sizeof(blob));
    client_frame(&in, 1, WS_OP_BINARY, blob, sizeof(blob), MASK); /* 16-bit length */
    size_t fed = 0;
    ws_event_t ev;
    ASSERT_TRUE(next_bytewise(&d, &in, &fed, &ev));
    ASSERT_EQ(ev.type, WS_EV_MESSAGE);
    ASSERT_EQ(ev.opcode, WS_OP_TEXT);
    ASSERT_EQ(ev.len, (size_t)5);
    ASSERT_TRUE(memcmp(ev.data, "hello", 5) == 0);
    ASSERT_TRUE(next_bytewise(&d, &in, &fed, &ev));
    ASSERT_EQ(ev.opcode, WS_OP_BINARY);
    ASSERT_EQ(ev.len, sizeof(blob));
    ASSERT_TRUE(memcmp(ev.data, blob, sizeof(blob)) == 0);
    ASSERT_FALSE(ws_decoder_next(&d, &ev));
    buf_fini(&in);
    ws_decoder_fini(&d);
}

TEST(joins_fragments_around_an_interleaved_ping)
{
    ws_decoder_t d;
    ws_decoder_init(&d, 1 << 20);
    buf_t in;
    buf_init(&in);
    masked(&in, 0, WS_OP_TEXT, "frag");
    masked(&in, 1, WS_OP_PING, "p!");
    masked(&in, 0, WS_OP_CONT, "ment");
    masked(&in, 1, WS_OP_CONT, "ed");
    ws_decoder_feed(&d, in.data, in.len);
    ws_event_t ev;
    ASSERT_TRUE(ws_decoder_next(&d, &ev));
    ASSERT_EQ(ev.type, WS_EV_PING);
    ASSERT_EQ(ev.len, (size_t)2);
    ASSERT_TRUE(memcmp(ev.data, "p!", 2) == 0);
    ASSERT_TRUE(ws_decoder_next(&d, &ev));
    ASSERT_EQ(ev.type, WS_EV_MESSAGE);
    ASSERT_EQ(ev.len, (size_t)10);
    ASSERT_TRUE(memcmp(ev.data, "fragmented", 10) == 0);
    ASSERT_FALSE(ws_decoder_next(&d, &ev));
    buf_fini(&in);
    ws_decoder_fini(&d);
}

/* Decodes `in` whole and expects an error event with `code`. */
static void expect_error(const buf_t *in, size_t max, int code)
{
    ws_decoder_t d;
    ws_decoder_init(&d, max);
    ws_decoder_feed(&d, in->data, in->len);
    ws_event_t ev;
    int got = ws_decoder_next(&d, &ev);
    int type = got ? (int)ev.type : -1, ev_code = got ? ev.code : 0;
    ASSERT_FALSE(ws_decoder_next(&d, &ev)); /* nothing after a failure */
    ws_decoder_fini(&d);
    ASSERT_EQ(type, WS_EV_ERROR);
    ASSERT_EQ(ev_code, code);
}

TEST(protocol_violations_are_close_1002)
{
    buf_t in;
    buf_init(&in);
    client_frame(&in, 1, WS_OP_TEXT, "x", 1, NULL); /* unmasked */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    masked(&in, 1, WS_OP_CONT, "x"); /* continuation without a message */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    masked(&in, 0, WS_OP_TEXT, "a");
    masked(&in, 1, WS_OP_TEXT, "b"); /* a new message inside a fragmented one */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    masked(&in, 0, WS_OP_PING, "x"); /* fragmented control frame */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    char big[126];
    memset(big, 'p', sizeof(big));
    client_frame(&in, 1, WS_OP_PING, big, sizeof(big), MASK); /* control frame > 125 */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    masked(&in, 1, 0x3, "x"); /* reserved opcode */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    masked(&in, 1, WS_OP_TEXT, "x");
    in.data[0] |= 0x40; /* RSV1 without an extension */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_fini(&in);
}

TEST(bad_utf8_is_1007_and_oversize_is_1009)
{
    buf_t in;
    buf_init(&in);
    client_frame(&in, 1, WS_OP_TEXT, "\xff\xfe", 2, MASK);
    expect_error(&in, 1 << 20, WS_CLOSE_BAD_DATA);
    buf_reset(&in);
    masked(&in, 0, WS_OP_TEXT, "12345");
    masked(&in, 1, WS_OP_CONT, "67890"); /* 10 bytes over two frames, limit 8 */
    expect_error(&in, 8, WS_CLOSE_TOO_BIG);
    buf_reset(&in);
    /* a header announcing 2^40 bytes fails at once, before any payload arrives */
    unsigned char hdr[14] = {0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    buf_append(&in, hdr, sizeof(hdr));
    expect_error(&in, 1 << 20, WS_CLOSE_TOO_BIG);
    buf_fini(&in);
}

TEST(close_frames_carry_code_and_reason)
{
    ws_decoder_t d;
    ws_decoder_init(&d, 1 << 20);
    buf_t in;
    buf_init(&in);
    client_frame(&in, 1, WS_OP_CLOSE,
                 "\x03\xe8"
                 "bye",
                 5, MASK);
    ws_decoder_feed(&d, in.data, in.len);
    ws_event_t ev;
    ASSERT_TRUE(ws_decoder_next(&d, &ev));
    ASSERT_EQ(ev.type, WS_EV_CLOSE);
    ASSERT_EQ(ev.code, 1000);
    ASSERT_EQ(ev.len, (size_t)3);
    ASSERT_TRUE(memcmp(ev.data, "bye", 3) == 0);
    ws_decoder_fini(&d);

    ws_decoder_init(&d, 1 << 20);
    buf_reset(&in);
    client_frame(&in, 1, WS_OP_CLOSE, NULL, 0, MASK);
    ws_decoder_feed(&d, in.data, in.len);
    ASSERT_TRUE(ws_decoder_next(&d, &ev));
    ASSERT_EQ(ev.type, WS_EV_CLOSE);
    ASSERT_EQ(ev.code, WS_CLOSE_NO_STATUS);
    ws_decoder_fini(&d);

    buf_reset(&in);
    client_frame(&in, 1, WS_OP_CLOSE, "\x03", 1, MASK); /* one byte: no room for a code */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_reset(&in);
    client_frame(&in, 1, WS_OP_CLOSE, "\x03\xed", 2, MASK); /* 1005 may not be sent */
    expect_error(&in, 1 << 20, WS_CLOSE_PROTOCOL);
    buf_fini(&in);
}

/* ---- live: hub behind common/http ----------------------------------------------------- */

typedef struct {
    atomic_int opened, closed, last_code, ticks;
} echo_state_t;

static void echo_open(ws_conn_t *c, void *arg)
{
    (void)c;
    atomic_fetch_add(&((echo_state_t *)arg)->opened, 1);
}

/* Echoes text; "close-me" makes the server close with 1011. */
static void echo_message(ws_conn_t *c, void *arg, int opcode, const char *data, size_t len)
{
    (void)arg, (void)opcode;
    if (len == 8 && memcmp(data, "close-me", 8) == 0) {
        ws_conn_close(c, WS_CLOSE_INTERNAL, "asked to");
        return;
    }
    ws_conn_send_text(c, data, len);
}

static void echo_tick(ws_conn_t *c, void *arg, int64_t now_ms)
{
    (void)c, (void)now_ms;
    atomic_fetch_add(&((echo_state_t *)arg)->ticks, 1);
}

static void echo_close(ws_conn_t *c, void *arg, int code)
{
    (void)c;
    echo_state_t *st = arg;
    atomic_store(&st->last_code, code);
    atomic_fetch_add(&st->closed, 1);
}

static const ws_handler_t echo_handler = {echo_open, echo_message, echo_tick, echo_close};

typedef struct {
    ws_hub_t *hub;
    echo_state_t state;
} echo_ctx_t;

static int echo_route(http_req_t *r, void *ctx, err_t *err)
{
    echo_ctx_t *e = ctx;
    return ws_upgrade(r, e->hub, &echo_handler, &e->state, err);
}

typedef struct {
    http_server_t *srv;
    echo_ctx_t echo;
    int port;
} live_t;

static void stop_hub(void *hub)
{
    ws_hub_stop(hub);
}

static void live_start(live_t *l)
{
    memset(l, 0, sizeof(*l));
    err_t err = {0};
    ws_hub_opts_t ho = {.ping_interval_ms = 200, .tick_ms = 50, .close_timeout_ms = 500};
    l->echo.hub = ws_hub_new(&ho, &err);
    http_server_opts_t o = {.listen_address = "127.0.0.1", .threads = 2};
    l->srv = http_server_new(&o, &err);
    http_route(l->srv, "GET", "/ws", HTTP_TEXT_ERRORS, echo_route, &l->echo);
    http_server_on_stop(l->srv, stop_hub, l->echo.hub);
    ASSERT_EQ(http_server_start(l->srv, &err), 0);
    l->port = http_server_port(l->srv);
}

static void live_stop(live_t *l)
{
    http_server_free(l->srv);
    ws_hub_free(l->echo.hub);
}

static int client_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return;
        }
        c += w, n -= (size_t)w;
    }
}

/* Sends a request with the given extra header lines; reads the response head into `head`
 * and anything after it into `rest`. Returns the status code (0 on failure). */
static int client_handshake(int fd, const char *headers, buf_t *head, buf_t *rest)
{
    char req[1024];
    snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", headers);
    send_all(fd, req, strlen(req));
    char tmp[4096];
    for (;;) {
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            return 0;
        }
        buf_append(head, tmp, (size_t)n);
        char *end = strstr(head->data, "\r\n\r\n");
        if (end != NULL) {
            size_t hl = (size_t)(end + 4 - head->data);
            buf_append(rest, head->data + hl, head->len - hl);
            head->len = hl;
            head->data[hl] = '\0';
            return atoi(head->data + 9);
        }
    }
}

#define GOOD_HEADERS                                            \
    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" \
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* Reads one server frame (unmasked) into *opcode / payload. 0 on timeout or EOF. */
static int client_read_frame(int fd, buf_t *pending, int *opcode, buf_t *payload)
{
    for (;;) {
        const unsigned char *p = (const unsigned char *)pending->data;
        if (pending->len >= 2) {
            ASSERT_EQ(p[1] & 0x80, 0); /* server frames are never masked */
            size_t len = p[1] & 0x7f, hl = 2;
            if (len == 126 && pending->len >= 4) {
                len = (size_t)p[2] << 8 | p[3], hl = 4;
            }
            if (len < 126 && pending->len >= hl + len) {
                *opcode = p[0] & 0x0f;
                buf_reset(payload);
                buf_append(payload, p + hl, len);
                memmove(pending->data, pending->data + hl + len, pending->len - hl - len);
                pending->len -= hl + len;
                return 1;
            }
        }
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            return 0;
        }
        buf_append(pending, tmp, (size_t)n);
    }
}

/* Reads frames, skipping pings, until a non-ping one. */
static int client_read_skip_pings(int fd, buf_t *pending, int *opcode, buf_t *payload)
{
    while (client_read_frame(fd, pending, opcode, payload)) {
        if (*opcode != WS_OP_PING) {
            return 1;
        }
    }
    return 0;
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 300 && atomic_load(v) < want; i++) {
        usleep(10000);
    }
}

TEST(live_handshake_echo_ping_and_client_close)
{
    live_t l;
    live_start(&l);
    int fd = client_connect(l.port);
    ASSERT_TRUE(fd >= 0);
    buf_t head, rest, payload, out;
    buf_init(&head), buf_init(&rest), buf_init(&payload), buf_init(&out);
    ASSERT_EQ(client_handshake(fd, GOOD_HEADERS, &head, &rest), 101);
    ASSERT_NOT_NULL(strstr(head.data, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    ASSERT_NOT_NULL(strstr(head.data, "Upgrade: websocket"));
    wait_for(&l.echo.state.opened, 1);
    ASSERT_EQ(atomic_load(&l.echo.state.opened), 1);

    masked(&out, 0, WS_OP_TEXT, "hel"); /* fragmented, with a ping in between */
    masked(&out, 1, WS_OP_PING, "pp");
    masked(&out, 1, WS_OP_CONT, "lo");
    send_all(fd, out.data, out.len);
    int op = 0, saw_pong = 0;
    while (client_read_frame(fd, &rest, &op, &payload) && op != WS_OP_TEXT) {
        saw_pong |= op == WS_OP_PONG && payload.len == 2 && memcmp(payload.data, "pp", 2) == 0;
    }
    ASSERT_EQ(op, WS_OP_TEXT);
    ASSERT_TRUE(saw_pong);
    ASSERT_EQ(payload.len, (size_t)5);
    ASSERT_TRUE(memcmp(payload.data, "hello", 5) == 0);

    int64_t t0 = time_mono_ms(); /* the server pings on its own (every 200 ms here) */
    ASSERT_TRUE(client_read_frame(fd, &rest, &op, &payload));
    ASSERT_EQ(op, WS_OP_PING);
    ASSERT_TRUE(time_mono_ms() - t0 < 1000);
    ASSERT_TRUE(atomic_load(&l.echo.state.ticks) > 0);

    buf_reset(&out);
    client_frame(&out, 1, WS_OP_CLOSE, "\x03\xe8", 2, MASK);
    send_all(fd, out.data, out.len);
    ASSERT_TRUE(client_read_skip_pings(fd, &rest, &op, &payload));
    ASSERT_EQ(op, WS_OP_CLOSE);
    ASSERT_EQ(((unsigned char)payload.data[0] << 8) | (unsigned char)payload.data[1], 1000);
    wait_for(&l.echo.state.closed, 1);
    ASSERT_EQ(atomic_load(&l.echo.state.last_code), 1000);
    char c;
    ASSERT_EQ(recv(fd, &c, 1, 0), 0); /* the server closed the TCP connection */
    close(fd);
    buf_fini(&head), buf_fini(&rest), buf_fini(&payload), buf_fini(&out);
    live_stop(&l);
}

TEST(live_server_close_and_protocol_error)
{
    live_t l;
    live_start(&l);
    buf_t head, rest, payload, out;
    buf_init(&head), buf_init(&rest), buf_init(&payload), buf_init(&out);
    int fd = client_connect(l.port);
    ASSERT_EQ(client_handshake(fd, GOOD_HEADERS, &head, &rest), 101);
    masked(&out, 1, WS_OP_TEXT, "close-me");
    send_all(fd, out.data, out.len);
    int op = 0;
    ASSERT_TRUE(client_read_skip_pings(fd, &rest, &op, &payload));
    ASSERT_EQ(op, WS_OP_CLOSE);
    ASSERT_EQ(((unsigned char)payload.data[0] << 8) | (unsigned char)payload.data[1], 1011);
    ASSERT_EQ(payload.len, (size_t)10);
    ASSERT_TRUE(memcmp(payload.data + 2, "asked to", 8) == 0);
    buf_reset(&out);
    client_frame(&out, 1, WS_OP_CLOSE, "\x03\xf3", 2, MASK); /* answer with 1011 */
    send_all(fd, out.data, out.len);
    wait_for(&l.echo.state.closed, 1);
    ASSERT_EQ(atomic_load(&l.echo.state.last_code), 1011);
    close(fd);

    fd = client_connect(l.port); /* an unmasked frame: the server fails with 1002 */
    buf_reset(&head), buf_reset(&rest), buf_reset(&out);
    ASSERT_EQ(client_handshake(fd, GOOD_HEADERS, &head, &rest), 101);
    client_frame(&out, 1, WS_OP_TEXT, "plain", 5, NULL);
    send_all(fd, out.data, out.len);
    ASSERT_TRUE(client_read_skip_pings(fd, &rest, &op, &payload));
    ASSERT_EQ(op, WS_OP_CLOSE);
    ASSERT_EQ(((unsigned char)payload.data[0] << 8) | (unsigned char)payload.data[1], 1002);
    wait_for(&l.echo.state.closed, 2);
    ASSERT_EQ(atomic_load(&l.echo.state.last_code), 1002);
    close(fd);

    fd = client_connect(l.port); /* the client vanishes: 1006 */
    buf_reset(&head), buf_reset(&rest);
    ASSERT_EQ(client_handshake(fd, GOOD_HEADERS, &head, &rest), 101);
    wait_for(&l.echo.state.opened, 3);
    close(fd);
    wait_for(&l.echo.state.closed, 3);
    ASSERT_EQ(atomic_load(&l.echo.state.last_code), WS_CLOSE_ABNORMAL);
    ASSERT_EQ(ws_hub_count(l.echo.hub), (size_t)0);
    buf_fini(&head), buf_fini(&rest), buf_fini(&payload), buf_fini(&out);
    live_stop(&l);
}

TEST(live_bad_handshakes_are_400)
{
    live_t l;
    live_start(&l);
    static const struct {
        const char *headers, *needle;
    } cases[] = {
        {"", "'upgrade' token not found in 'Connection' header"},
        {"Connection: Upgrade\r\nUpgrade: h2c\r\n",
         "'websocket' token not found in 'Upgrade' header"},
        {"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
         "unsupported version"},
        {"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: c2hvcnQ=\r\n",
         "'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte in length"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = client_connect(l.port);
        buf_t head, rest;
        buf_init(&head), buf_init(&rest);
        ASSERT_EQ(client_handshake(fd, cases[i].headers, &head, &rest), 400);
        buf_append(&head, rest.data, rest.len);
        ASSERT_NOT_NULL(strstr(head.data, cases[i].needle));
        buf_fini(&head), buf_fini(&rest);
        close(fd);
    }
    ASSERT_EQ(atomic_load(&l.echo.state.opened), 0);
    live_stop(&l);
}

TEST(live_server_stop_closes_with_1001_promptly)
{
    live_t l;
    live_start(&l);
    int fds[3];
    buf_t head, rest, payload;
    buf_init(&head), buf_init(&rest), buf_init(&payload);
    for (int i = 0; i < 3; i++) {
        fds[i] = client_connect(l.port);
        buf_reset(&head), buf_reset(&rest);
        ASSERT_EQ(client_handshake(fds[i], GOOD_HEADERS, &head, &rest), 101);
    }
    wait_for(&l.echo.state.opened, 3);
    ASSERT_EQ(ws_hub_count(l.echo.hub), (size_t)3);
    int64_t t0 = time_mono_ms();
    http_server_stop(l.srv); /* the on_stop hook closes them; no 30 s wait */
    ASSERT_TRUE(time_mono_ms() - t0 < 2000);
    ASSERT_EQ(atomic_load(&l.echo.state.closed), 3);
    ASSERT_EQ(atomic_load(&l.echo.state.last_code), 1001);
    for (int i = 0; i < 3; i++) {
        int op = 0;
        buf_reset(&rest);
        ASSERT_TRUE(client_read_skip_pings(fds[i], &rest, &op, &payload));
        ASSERT_EQ(op, WS_OP_CLOSE);
        ASSERT_EQ(((unsigned char)payload.data[0] << 8) | (unsigned char)payload.data[1], 1001);
        close(fds[i]);
    }
    buf_fini(&head), buf_fini(&rest), buf_fini(&payload);
    live_stop(&l);
}
