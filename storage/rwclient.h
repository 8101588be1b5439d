/* storage/rwclient.h - a Prometheus remote-write 1.0 client, as an appender: the samples
 * appended are sent at commit as one snappy-compressed WriteRequest to every target. Used by
 * herald-logd's ruler for recording-rule results (Loki's ruler.remote_write).
 *
 * Ownership: rwclient_new copies the targets; the client must outlive its appenders.
 * Threads: rwclient_appender may be called from any thread; one appender is single-owner.
 * Commit sends synchronously (on the evaluation thread), retrying connection errors, 5xx
 * and 429 twice with a short backoff; other statuses fail at once. */
#ifndef HERALD_STORAGE_RWCLIENT_H
#define HERALD_STORAGE_RWCLIENT_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "storage/querier.h"

typedef struct {
    const char *name;       /* for logs and metrics */
    const char *url;        /* .../api/v1/push */
    int64_t timeout_ms;     /* 0: 30s */
    const label_t *headers; /* extra request headers */
    size_t n_headers;
    const char *basic_auth_username; /* NULL/"": none */
    const char *basic_auth_password;
    const char *bearer_token; /* NULL/"": none */
} rwclient_target_t;

typedef struct rwclient rwclient_t;

/* add_org_id_header: send the appender's tenant as X-Scope-OrgID (replacing one set in a
 * target's headers), as Loki's add_org_id_header. */
rwclient_t *rwclient_new(const rwclient_target_t *targets, size_t n, int add_org_id_header);
void rwclient_free(rwclient_t *c); /* NULL is a no-op */

/* An appender for `tenant`; commit sends (an empty commit sends nothing) and frees it. A
 * failed send is -1 + ERR_UNAVAILABLE naming the target and the status. */
appender_t *rwclient_appender(rwclient_t *c, const char *tenant);

#endif
