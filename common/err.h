/* common/err.h - error values that travel from the failure site up to the HTTP layer.
 * An err_t is caller-owned storage; the first error set wins, so the root cause survives
 * unwinding. Not shared between threads. */
#ifndef HERALD_COMMON_ERR_H
#define HERALD_COMMON_ERR_H

/* code, Prometheus errorType, HTTP status */
#define ERR_CODES(X)                                                                        \
    X(ERR_BAD_DATA, "bad_data", 400)                                                        \
    X(ERR_EXECUTION, "execution", 422)                                                      \
    X(ERR_CANCELED, "canceled", 499)                                                        \
    X(ERR_TIMEOUT, "timeout", 503)                                                          \
    X(ERR_NOT_FOUND, "not_found", 404)                                                      \
    X(ERR_NOT_ACCEPTABLE, "not_acceptable", 406)                                            \
    X(ERR_TOO_MANY_REQUESTS, "too_many_requests", 429)                                      \
    X(ERR_TOO_LARGE, "too_large_entry", 413)                                                \
    X(ERR_UNAUTHORIZED, "unauthorized", 401)                                                \
    X(ERR_PRECONDITION, "precondition_failed", 412)                                         \
    X(ERR_UNAVAILABLE, "unavailable", 503)                                                  \
    X(ERR_INTERNAL, "internal", 500)

#define ERR_ENUM_(code, type, status) code,
typedef enum { ERR_NONE, ERR_CODES(ERR_ENUM_) ERR_COUNT_ } err_code_t;
#undef ERR_ENUM_

typedef struct {
    err_code_t code;
    char msg[512];
} err_t;

/* Sets *err unless an error is already set (first error wins). Always returns -1. */
int err_set(err_t *err, err_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the message of an already-set error with "prefix: ". Returns -1. */
int err_wrap(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(err_t *err);
int err_is_set(const err_t *err);
const char *err_type(err_code_t code);  /* Prometheus errorType, "" for ERR_NONE */
int err_status(err_code_t code);        /* HTTP status, 200 for ERR_NONE */

#endif
