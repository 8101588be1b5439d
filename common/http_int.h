/* common/http_int.h - state shared by common/http*.c only: the server, its routes and the
 * per-request record. http.c owns the server and the libmicrohttpd callbacks, http_req.c the
 * request parsing and accessors, http_reply.c everything that produces response bytes.
 * Thread-safety: routes are read-only after start; `mu` guards tenancy and in_flight; a
 * request belongs to the pool thread running its connection. */
#ifndef HERALD_COMMON_HTTP_INT_H
#define HERALD_COMMON_HTTP_INT_H
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/http.h"
#include "common/metrics.h"

/* Method bits of a route. */
enum {
    HTTP__M_GET = 1u << 0,
    HTTP__M_HEAD = 1u << 1,
    HTTP__M_POST = 1u << 2,
    HTTP__M_PUT = 1u << 3,
    HTTP__M_DELETE = 1u << 4,
    HTTP__M_PATCH = 1u << 5,
    HTTP__M_OPTIONS = 1u << 6,
    HTTP__M_ALL = 0x7f,
};

typedef struct {
    unsigned methods;
    char **segs;             /* pattern split on '/'; a "{name}" part is stored as "name" */
    unsigned char *is_param; /* per segment: 1 for a {name} capture */
    size_t n_segs;
    int flags;
    http_handler_fn fn;
    void *ctx;
    char *metric_route; /* the route label: the pattern as dskit's MakeLabelValue makes it */
} http__route_t;

struct http_server {
    http_server_opts_t opts; /* strings below are the server's own copies */
    char *listen_address, *server_name;
    char **auth_prefixes;
    size_t n_auth_prefixes;
    http__route_t *routes;
    size_t n_routes, cap_routes;
    struct MHD_Daemon *mhd;
    int port;
    metric_t *req_duration; /* NULL without a metrics prefix */

    pthread_mutex_t mu;
    pthread_cond_t idle;  /* signalled when in_flight drops to 0 */
    int multitenancy;     /* guarded by mu */
    char *no_auth_tenant; /* guarded by mu */
    size_t in_flight;     /* requests begun and not yet completed; guarded by mu */
    char last_error[256]; /* libmicrohttpd's last log line (bind errors); guarded by mu */

    /* http_server_on_stop hooks (owners of upgraded connections); set before start */
    struct http__stop_hook {
        void (*fn)(void *arg);
        void *arg;
    } * stop_hooks;
    size_t n_stop_hooks, cap_stop_hooks;
};

typedef struct {
    const char *name, *value;
} http__kv_t;

typedef struct http__hdr {
    const char *name, *value;
    struct http__hdr *next;
} http__hdr_t;

/* Progress of one request through the access callback. */
typedef enum {
    HTTP__NEW,       /* headers parsed, not yet routed */
    HTTP__BODY,      /* routed, accumulating the body */
    HTTP__TOO_LARGE, /* body over the limit: the rest is discarded, then 413 */
    HTTP__DONE,      /* a response was queued */
} http__stage_t;

/* Where a request answered with http_reply_upgrade stands. */
typedef enum {
    HTTP__UPGRADE_NONE,
    HTTP__UPGRADE_QUEUED, /* 101 queued; the upgrade callback has not run yet */
    HTTP__UPGRADE_DONE,   /* the socket was handed over (no longer counted in in_flight) */
} http__upgrade_t;

struct http_req {
    http_server_t *srv;
    struct MHD_Connection *conn;
    arena_t *arena;
    err_t arena_err;
    struct timespec start;
    http__stage_t stage;

    const char *uri; /* request target as received */
    const char *method;
    unsigned method_bit;
    const char *raw_path, *raw_query; /* as received (arena copies) */
    const char *path;                 /* decoded; NULL if malformed */
    const char **segs; /* raw_path split on '/' (leading one skipped), each part decoded */
    size_t n_segs;

    const http__route_t *route; /* NULL: not found or method not allowed */
    http__kv_t *params;         /* {name} captures, decoded */
    size_t n_params;
    http__kv_t *args; /* query, then form body */
    size_t n_args, cap_args;

    int has_body; /* Content-Length > 0 or chunked: admitted before the body is read */
    buf_t body;
    const char *tenant;
    http__hdr_t *headers; /* set by http_set_header, applied at reply */
    int replied;

    http__upgrade_t upgrade; /* http_reply_upgrade: its callback, run exactly once */
    http_upgrade_fn upgrade_fn;
    void *upgrade_arg;
};

/* http_req.c */
/* Parses the raw URI into path, segments and query arguments. -1 + err on a bad escape. */
int http__req_parse_uri(http_req_t *r, const char *uri, err_t *err);
/* Replaces a gzip or deflate Content-Encoding body by its decoded bytes (same size limit).
 * -1 + err (ERR_BAD_DATA, ERR_TOO_LARGE) on a bad stream. */
int http__req_decode_body(http_req_t *r, err_t *err);
/* Adds form-encoded POST body values after the query ones (no-op for other bodies). */
void http__req_parse_form(http_req_t *r);
/* Tenant middleware; on failure replies (401/400/422 text) and returns -1. */
int http__req_auth(http_req_t *r);
/* Method name -> HTTP__M_* bit, 0 if unknown. */
unsigned http__method_bit(const char *method);

/* http_reply.c */
/* Queues a response (takes `body`, a malloc'd block, or copies when `copy`). Applies headers,
 * gzip and request metrics. */
void http__send(http_req_t *r, int status, const char *content_type, void *body, size_t len,
                int copy);
/* Answers err in the route's error style (JSON, or text with HTTP_TEXT_ERRORS). */
void http__reply_err(http_req_t *r, const err_t *err);
/* {"status":"error","errorType":type,"error":msg} with status (for 404/405 and friends). */
void http__reply_prom_error_raw(http_req_t *r, int status, const char *type, const char *msg);

#endif
