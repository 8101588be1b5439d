/* logql/tail.h - Loki's live tail: GET /loki/api/v1/tail (and the deprecated /api/prom/tail)
 * over WebSocket (common/ws.h). Each tail subscribes to its tenant's pushes
 * (logstore_subscribe), keeps the entries whose stream matches the selector in a bounded
 * queue, runs the pipeline on them on the WebSocket hub's thread and sends them as text
 * frames {"streams":[...],"dropped_entries":[...]}, after an initial look-back from `start`.
 * X-Loki-Response-Encoding-Flags: categorize-labels gives the query API's categorized values
 * (logql/api_int.h) and a trailing "encodingFlags" in every v1 frame.
 *
 * Ownership: the returned logql_tail_t is single-owner; it borrows the store, which must
 * outlive it. Free it after the HTTP server has stopped (the server's stop closes the tails).
 * Thread-safety: handlers run on the server's pool, the push callbacks on pushing threads,
 * everything else on the hub's thread; a push never waits for a tail (entries over a tail's
 * bound are counted as dropped). */
#ifndef HERALD_LOGQL_TAIL_H
#define HERALD_LOGQL_TAIL_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/http.h"
#include "storage/logstore.h"

typedef struct {
    int max_per_tenant;      /* concurrent tails per tenant (Loki's
                              * max_concurrent_tail_requests); 0: 10 */
    int64_t max_duration_ms; /* a tail ends (1011) after this (querier.tail_max_duration); 0: 1h */
    size_t max_queued;       /* entries waiting per tail before new ones drop; 0: 5000 */
    size_t max_queued_bytes; /* bytes of those entries; 0: 16 MiB */
    int ping_interval_ms;    /* 0: 1000 */
} logql_tail_opts_t;

typedef struct logql_tail logql_tail_t;

/* Registers the tail routes (GET, HTTP_AUTH | HTTP_TEXT_ERRORS) on `srv`, starts the
 * WebSocket hub and hooks its shutdown to the server's stop. opts may be NULL. */
logql_tail_t *logql_tail_register(http_server_t *srv, logstore_t *store,
                                  const logql_tail_opts_t *opts, err_t *err);
void logql_tail_free(logql_tail_t *t); /* NULL is a no-op */

#endif
