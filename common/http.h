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
    const char *listen_address; /* "0.0.0.0" */
    int port;                   /* 0: an ephemeral port, see http_server_port */
    int threads;                /* pool size; 0: number of CPUs */
    size_t max_body_bytes;      /* larger bodies: 413 */
    int multitenancy;           /* 1: X-Scope-OrgID required on HTTP_AUTH routes */
    const char *no_auth_tenant; /* tenant used when multitenancy is off ("anonymous"/"fake") */
    const char *server_name;    /* for logs */
} http_server_opts_t;

/* Route flags */
#define HTTP_AUTH 0x1 /* tenant required (Mimir/Loki auth middleware) */
#define HTTP_GZIP 0x2 /* gzip the response when the client accepts it */
#define HTTP_PREFIX 0x4 /* pattern matches the path and everything below it */

/* Returns 0, or -1 with err set (the server then answers with it, in the route's error style). */
typedef int (*http_handler_fn)(http_req_t *req, void *ctx, err_t *err);

http_server_t *http_server_new(const http_server_opts_t *opts, err_t *err);
/* Pattern: "/prometheus/api/v1/label/{name}/values"; methods: "GET", "GET,POST", "*".
 * Same path with another method: 405 JSON. No route: 404 JSON. Register before start. */
int http_route(http_server_t *s, const char *methods, const char *pattern, int flags,
               http_handler_fn fn, void *ctx);
int http_server_start(http_server_t *s, err_t *err);
int http_server_port(const http_server_t *s); /* the bound port (after start) */
void http_server_stop(http_server_t *s);      /* stops accepting, finishes in-flight requests */
void http_server_free(http_server_t *s);      /* NULL is a no-op */
/* Swap multitenancy settings at runtime (config reload). */
void http_server_set_tenancy(http_server_t *s, int multitenancy, const char *no_auth_tenant);

/* ---- request accessors (all borrowed, valid during the handler) ---- */
const char *http_req_method(const http_req_t *r);
const char *http_req_path(const http_req_t *r);       /* decoded path */
const char *http_req_param(const http_req_t *r, const char *name); /* {name} path part, decoded */
const char *http_req_header(const http_req_t *r, const char *name); /* case-insensitive */
/* URL query and, for POST application/x-www-form-urlencoded, form values merged (query
 * first). http_req_arg: first value or NULL; http_req_args: all values of a repeated key
 * (e.g. match[]), returns count. */
const char *http_req_arg(const http_req_t *r, const char *name);
size_t http_req_args(const http_req_t *r, const char *name, const char *const **vals);
const char *http_req_body(const http_req_t *r, size_t *len); /* raw body (not NUL-safe) */
const char *http_req_tenant(const http_req_t *r); /* validated tenant on HTTP_AUTH routes */
arena_t *http_req_arena(http_req_t *r);           /* per-request arena */

/* Mimir/dskit tenant ID validation. 0 ok; -1 + ERR_BAD_DATA with dskit's wording. */
int http_validate_tenant(const char *id, err_t *err);

/* ---- responses: call exactly one per request ---- */
void http_reply(http_req_t *r, int status, const char *content_type, const void *body,
                size_t len);                          /* copies body */
void http_reply_buf(http_req_t *r, int status, const char *content_type, buf_t *body); /* steals */
void http_reply_text(http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));            /* text/plain, message + "\n" */
void http_reply_json(http_req_t *r, int status, json_t *body); /* steals body */
/* Prometheus envelope {"status":"success","data":<data>} (steals data; NULL -> null) */
void http_reply_prom_data(http_req_t *r, json_t *data);
/* Prometheus envelope around pre-encoded data written with jsonw (steals). */
void http_reply_prom_raw(http_req_t *r, buf_t *data_json);
/* {"status":"error","errorType":…,"error":…} with the status of err->code. */
void http_reply_prom_error(http_req_t *r, const err_t *err);
void http_set_header(http_req_t *r, const char *name, const char *value); /* before reply */

/* URL helpers */
char *http_url_decode(arena_t *a, const char *s, size_t n, int plus_as_space);
void http_url_encode(buf_t *out, const char *s); /* path segment escaping */

#endif
