/* common/ws.h - the server side of WebSocket (RFC 6455) on common/http's protocol upgrade:
 * the opening handshake, a decoder for client frames (masking, fragmentation, control frames,
 * close codes), and a hub: one I/O thread serving every upgraded connection (it reads client
 * frames, writes queued frames, pings each connection every ping_interval_ms and runs the
 * close handshake).
 *
 * Threads: a hub's callbacks run on its thread, one at a time; ws_conn_* are called from
 * them only. ws_upgrade runs on the HTTP handler's thread. The hub owns its connections: a
 * ws_conn_t lives from on_open until on_close returns.
 * Ownership: the decoder is caller-provided storage (init/fini); event payloads are borrowed
 * until the next ws_decoder_* call. */
#ifndef HERALD_COMMON_WS_H
#define HERALD_COMMON_WS_H
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"

/* Opcodes and the close codes herald uses. */
enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_NO_STATUS = 1005, /* a Close without a code (never sent) */
    WS_CLOSE_ABNORMAL = 1006,  /* the connection dropped without a Close (never sent) */
    WS_CLOSE_BAD_DATA = 1007,  /* a text message that is not UTF-8 */
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

/* ---- handshake and framing (pure, for the hub and for tests) ---- */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)), 28
 * characters and a NUL. */
void ws_accept_key(const char *key, char out[29]);
/* One unmasked server frame with FIN set (payload may be NULL when len is 0). */
void ws_frame_encode(buf_t *out, int opcode, const void *payload, size_t len);
/* A Close frame: the code, then the reason cut to fit the 125-byte control frame limit. */
void ws_close_encode(buf_t *out, int code, const char *reason);

/* What the decoder found in the client's bytes. */
typedef enum {
    WS_EV_MESSAGE, /* a whole text or binary message (fragments joined) */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE, /* code: the client's (WS_CLOSE_NO_STATUS without one); data: reason */
    WS_EV_ERROR, /* protocol violation: code is what to close with, data the reason text */
} ws_event_type_t;

typedef struct {
    ws_event_type_t type;
    int opcode; /* WS_OP_TEXT or WS_OP_BINARY for a message */
    int code;   /* CLOSE / ERROR */
    const char *data;
    size_t len;
} ws_event_t;

typedef struct {
    buf_t in;                 /* bytes received, not yet decoded */
    size_t pos;               /* decoded up to here */
    buf_t msg;                /* the fragmented message being assembled */
    int msg_opcode;           /* its opcode; 0 when no message is open */
    size_t max_message_bytes; /* larger messages: WS_EV_ERROR with 1009 */
    int failed;               /* after an ERROR or CLOSE, nothing more is decoded */
    char reason[64];
} ws_decoder_t;

void ws_decoder_init(ws_decoder_t *d, size_t max_message_bytes);
void ws_decoder_fini(ws_decoder_t *d);
void ws_decoder_feed(ws_decoder_t *d, const void *data, size_t n);
/* 1 and *ev set, or 0 when more bytes are needed. Client frames must be masked; reserved
 * bits, unknown opcodes, fragmented or long (> 125 bytes) control frames, a continuation
 * without a message or a new message inside one, an invalid close code and a text message
 * that is not UTF-8 are errors (1002, 1007), as is a message over the limit (1009). */
int ws_decoder_next(ws_decoder_t *d, ws_event_t *ev);

/* ---- the hub ---- */

typedef struct ws_hub ws_hub_t;
typedef struct ws_conn ws_conn_t;

typedef struct {
    int ping_interval_ms;     /* 0: 1000 (Loki's tail pings every second) */
    int tick_ms;              /* how often on_tick runs; 0: 100 */
    int close_timeout_ms;     /* wait for the client's Close after ours; 0: 1000 */
    size_t max_message_bytes; /* client messages above it: Close 1009; 0: 1 MiB */
    const char *name;         /* for logs */
} ws_hub_opts_t;

/* Per-connection callbacks, all on the hub thread. Only on_close is required. */
typedef struct {
    void (*on_open)(ws_conn_t *c, void *arg);
    /* A whole message from the client. */
    void (*on_message)(ws_conn_t *c, void *arg, int opcode, const char *data, size_t len);
    /* Every tick_ms while open: the place to send what is pending. */
    void (*on_tick)(ws_conn_t *c, void *arg, int64_t now_ms);
    /* The last call, once per ws_upgrade that returned 0 (even when the 101 could not be
     * sent, then without on_open): code is the client's close code, WS_CLOSE_ABNORMAL
     * when the connection dropped, or the code the server closed with. Release arg here. */
    void (*on_close)(ws_conn_t *c, void *arg, int code);
} ws_handler_t;

/* Starts the hub's thread. Never NULL today; err is for future checks. */
ws_hub_t *ws_hub_new(const ws_hub_opts_t *opts, err_t *err);
/* Closes every connection with 1001 (on_close runs for each), then returns. The hub
 * accepts no connection afterwards. Idempotent; suitable for http_server_on_stop. */
void ws_hub_stop(ws_hub_t *h);
void ws_hub_free(ws_hub_t *h);    /* stops it first; NULL is a no-op */
size_t ws_hub_count(ws_hub_t *h); /* open connections (tests, metrics) */

/* The handshake checks of ws_upgrade alone, with gorilla/websocket's wording and order (as
 * Loki answers them): lets a handler refuse a non-WebSocket request before expensive work.
 * 0, or -1 + err (ERR_BAD_DATA). */
int ws_check_handshake(http_req_t *r, err_t *err);
/* Validates the opening handshake of `r` (GET, "Upgrade: websocket", "Connection" with
 * "upgrade", "Sec-WebSocket-Version: 13", a 16-byte base64 "Sec-WebSocket-Key"; any Origin)
 * and answers 101; the connection then joins the hub and `handler` gets its calls with
 * `arg`. -1 + err (ERR_BAD_DATA with the reason) when the handshake is invalid or the hub
 * stopped: nothing was sent, the callbacks will not run, the caller replies. */
int ws_upgrade(http_req_t *r, ws_hub_t *h, const ws_handler_t *handler, void *arg, err_t *err);

/* Queues a text message (one frame). */
void ws_conn_send_text(ws_conn_t *c, const char *data, size_t len);
/* Bytes queued and not yet written to the socket (a slow client makes it grow). */
size_t ws_conn_pending(const ws_conn_t *c);
/* Sends a Close with code and reason, then ends the connection once the client answers
 * (or after close_timeout_ms). Nothing more is delivered or sent. */
void ws_conn_close(ws_conn_t *c, int code, const char *reason);

#endif
