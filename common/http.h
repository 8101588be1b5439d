/* common/http.h - HTTP server on libmicrohttpd (thread-pool mode, keep-alive), a routing
 * table with path parameters, the tenant middleware, body limits, gzip, and the response
 * helpers that turn err_t into bytes (the only place that does).
 *
 * Threads: handlers run on the server's pool threads, concurrently; a handler must only
 * touch state guarded by its own locks. A request (http_req_t) and its arena belong to the
 * handler call; both die when the handler returns.
 * Ownership: routes keep `ctx` borrowed; it must outlive the server. */
#ifndef HERALD_COMMON_HTTP_H
#define HERALD_COMMON_HTTP_H
#include <jansson.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;

typedef struct {
    const char *listen_address; /* "0.0.0.0"; NULL or "": all IPv4 interfaces; "::" IPv6 */
    int port;                   /* 0: an ephemeral port, see http_server_port */
    int threads;                /* pool size; 0: number of CPUs */
    size_t max_body_bytes;      /* larger bodies: 413; 0: 100 MiB (Mimir's default) */
    int multitenancy;           /* 1: X-Scope-OrgID required on HTTP_AUTH routes */
    const char *no_auth_tenant; /* tenant used when multitenancy is off ("anonymous"/"fake") */
    const char *server_name;    /* for logs */
    /* Request metrics family prefix: "cortex" (Mimir) or "loki" gives
     * <prefix>_request_duration_seconds{method,route,status_code,ws}; NULL: none. */
    const char *metrics_prefix;
    /* NULL-terminated path prefixes ("/prometheus/", "/api/v1/") under which the tenant
     * middleware runs even when no route matches (as Mimir's auth wraps its whole API): an
     * unknown path there without X-Scope-OrgID is a 401 before it is a 404. NULL: none. */
    const char *const *auth_prefixes;
    int idle_timeout_s;  /* keep-alive connections idle this long are closed; 0: 120 */
    int max_connections; /* concurrent connections; 0: libmicrohttpd's default */
    /* 1: route on the decoded path, as Loki does ("/rules/a%2Fb" is namespace a, group b);
     * 0: route on the encoded path, decoding each segment after the split (Mimir). */
    int route_decoded_path;
} http_server_opts_t;

/* Route flags. HTTP_AUTH runs dskit's tenant middleware before the handler: X-Scope-OrgID
 * missing or empty -> 401 "no org id"; invalid -> 400 with dskit's message; several tenants
 * ("a|b") -> 422 "too many tenant IDs present. max: 1 actual: 2" (all text/plain). */
#define HTTP_AUTH 0x1        /* tenant required (Mimir/Loki auth middleware) */
#define HTTP_GZIP 0x2        /* gzip the response when the client accepts it */
#define HTTP_PREFIX 0x4      /* pattern matches the path and everything below it */
#define HTTP_TEXT_ERRORS 0x8 /* a handler's err is answered as text/plain (Loki, config APIs) */

/* Returns 0, or -1 with err set (the server then answers with it, in the route's error style:
 * Prometheus JSON, or text/plain with HTTP_TEXT_ERRORS). Returning 0 without replying is a
 * bug answered with a 500. */
typedef int (*http_handler_fn)(http_req_t *req, void *ctx, err_t *err);

/* Copies opts (strings included). Never fails today; err is for future checks. */
http_server_t *http_server_new(const http_server_opts_t *opts, err_t *err);
/* Pattern: "/prometheus/api/v1/label/{name}/values"; methods: "GET", "GET,POST", "*".
 * Same path with another method: 405 JSON (with Allow). No route: 404 JSON. The first
 * registered match wins. Paths are matched segment by segment on the still-encoded path
 * (Mimir's gorilla/mux UseEncodedPath), each segment then percent-decoded, so
 * "/rules/a%2Fb" gives {namespace} "a/b" (see opts.route_decoded_path for Loki). Register before
 * start; -1 on an unknown method or a pattern not starting with '/'. */
int http_route(http_server_t *s, const char *methods, const char *pattern, int flags,
               http_handler_fn fn, void *ctx);
/* Binds and starts the pool. Fails (ERR_UNAVAILABLE) when the address cannot be bound. */
int http_server_start(http_server_t *s, err_t *err);
int http_server_port(const http_server_t *s); /* the bound port (after start) */
/* Stops accepting, waits up to timeout_ms for in-flight requests to be answered, then closes
 * every connection. Idempotent. */
void http_server_stop_timeout(http_server_t *s, int timeout_ms);
void http_server_stop(http_server_t *s); /* http_server_stop_timeout with 30 s */
void http_server_free(http_server_t *s); /* stops it first if running; NULL is a no-op */
/* Swap multitenancy settings at runtime (config reload). */
void http_server_set_tenancy(http_server_t *s, int multitenancy, const char *no_auth_tenant);

/* ---- request accessors (all borrowed, valid during the handler) ---- */
const char *http_req_method(const http_req_t *r);
const char *http_req_path(const http_req_t *r);                     /* decoded path */
const char *http_req_param(const http_req_t *r, const char *name);  /* {name} path part, decoded */
const char *http_req_header(const http_req_t *r, const char *name); /* case-insensitive */
/* URL query and, for POST/PUT/PATCH application/x-www-form-urlencoded bodies, form values
 * merged (query first), as Go's Request.Form. http_req_arg: first value or NULL;
 * http_req_args: all values of a repeated key (e.g. match[]) in order, *vals an array in the
 * request arena; returns the count. */
const char *http_req_arg(const http_req_t *r, const char *name);
size_t http_req_args(const http_req_t *r, const char *name, const char *const **vals);
/* The body; NUL-terminated for convenience but may contain NULs (use *len). len may be NULL.
 * A gzip or deflate Content-Encoding is already decoded (a bad stream is a 400, a decoded
 * size over max_body_bytes a 413, before the handler); other encodings (snappy) are left to
 * the handler. */
const char *http_req_body(const http_req_t *r, size_t *len);
/* Validated tenant on HTTP_AUTH routes (no_auth_tenant when multitenancy is off); NULL on
 * other routes. */
const char *http_req_tenant(const http_req_t *r);
arena_t *http_req_arena(http_req_t *r); /* per-request arena */

/* Mimir/dskit tenant ID validation. 0 ok; -1 + ERR_BAD_DATA with dskit's wording. */
int http_validate_tenant(const char *id, err_t *err);

/* ---- responses: call exactly one per request ---- */
void http_reply(http_req_t *r, int status, const char *content_type, const void *body,
                size_t len); /* copies body */
void http_reply_buf(http_req_t *r, int status, const char *content_type, buf_t *body); /* steals */
void http_reply_text(http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))); /* text/plain, message + "\n" */
/* application/json; steals body. Encoded by jsonw_json (Go's escaping and float forms,
 * object keys in insertion order). */
void http_reply_json(http_req_t *r, int status, json_t *body);
/* Prometheus envelope {"status":"success","data":<data>} (steals data; NULL -> null) */
void http_reply_prom_data(http_req_t *r, json_t *data);
/* Prometheus envelope around pre-encoded data written with jsonw (steals; NULL or empty ->
 * null). */
void http_reply_prom_raw(http_req_t *r, buf_t *data_json);
/* {"status":"error","errorType":…,"error":…} with the status of err->code. */
void http_reply_prom_error(http_req_t *r, const err_t *err);
void http_set_header(http_req_t *r, const char *name, const char *value); /* before reply */

/* ---- protocol upgrade (WebSocket, see common/ws.h) ---- */
typedef struct http_upgrade http_upgrade_t;
/* Runs exactly once per successful http_reply_upgrade, on a libmicrohttpd thread (must not
 * block): after the 101 went out, with the connection's socket (owned by the callee until
 * http_upgrade_close; never close() it), the bytes the client sent after its request
 * (`extra`, borrowed for the call) and the handle; or with fd -1 and up NULL when the
 * connection ended before the 101 could be sent (the callee then only releases arg). An
 * upgraded connection no longer counts as a request in flight for http_server_stop. */
typedef void (*http_upgrade_fn)(void *arg, int fd, const char *extra, size_t n_extra,
                                http_upgrade_t *up);
/* Answers 101 Switching Protocols with "Upgrade: <protocol>", "Connection: Upgrade" and the
 * headers set with http_set_header. 0, or -1 + err when it cannot (already replied, not
 * HTTP/1.1): then nothing was sent, fn will not run and the caller replies. */
int http_reply_upgrade(http_req_t *r, const char *protocol, http_upgrade_fn fn, void *arg,
                       err_t *err);
/* Gives the socket back to libmicrohttpd, which closes it; frees up. Any thread. */
void http_upgrade_close(http_upgrade_t *up);
/* fn(arg) runs when the server starts stopping, after it stopped accepting and before it
 * waits for requests: owners of upgraded connections close them there (synchronously: the
 * sockets are gone once libmicrohttpd stops). Register before the start. */
void http_server_on_stop(http_server_t *s, void (*fn)(void *arg), void *arg);

/* URL helpers. Decode: %XX (and '+' as space in forms); NULL for a malformed escape, as
 * Go's url.PathUnescape fails. Encode: Go's url.PathEscape (unreserved bytes and $&+,:;=@
 * kept, the rest %XX in upper case). */
char *http_url_decode(arena_t *a, const char *s, size_t n, int plus_as_space);
void http_url_encode(buf_t *out, const char *s);

#endif
