/* ruler/ruler.h - the ruler: rule groups stored per tenant, evaluated on a
 * schedule, alerts sent to an Alertmanager. One module for both query
 * languages: the language plugs in through ruler_evaluator_t (PromQL on
 * herald-promd, LogQL on herald-logd).
 *
 * Ownership: ruler_new copies its options; the evaluator's ctx is borrowed and
 * must outlive the ruler. Threads: every ruler_* function is thread-safe. The
 * ruler runs one scheduler thread, evaluates groups on its own workpool and
 * sends alerts from one notifier thread. Lock order inside: registry, then one
 * tenant, then one group; no I/O while holding any. */
#ifndef HERALD_RULER_RULER_H
#define HERALD_RULER_RULER_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "common/labels.h"
#include "storage/querier.h"

/* One sample of an instant vector (or a scalar: labels empty). */
typedef struct {
    labels_t *labels; /* in the arena passed to eval */
    double v;
} ruler_sample_t;

/* The query language behind the ruler. All functions may be called from several
 * threads at once. Errors carry the message the API shows (`1:5: parse error:
 * ...`). */
typedef struct {
    /* "promql" or "logql": only used in messages and docs. */
    const char *lang;
    /* Parses expr; 0 if it is a valid rule expression, else -1 + ERR_BAD_DATA. */
    int (*validate)(void *ctx, const char *expr, err_t *err);
    /* Evaluates expr for tenant at t_ms as an instant query. The result lives in
     * `a`. A scalar result is one sample with empty labels. */
    int (*eval)(void *ctx, arena_t *a, const char *tenant, const char *expr, int64_t t_ms,
                ruler_sample_t **out, size_t *n_out, err_t *err);
    /* Appender for the tenant's store (recorded series, ALERTS); NULL function or
     * NULL result: the samples are dropped (Loki without remote write). */
    appender_t *(*appender)(void *ctx, const char *tenant, err_t *err);
    /* Canonical text of a valid expression (Prometheus' Expr.String(), shown as `query` by
     * /prometheus/api/v1/rules), heap-allocated; NULL function or result: shown as written. */
    char *(*format)(void *ctx, const char *expr);
    /* Read access to the tenant's store, for restoring ALERTS_FOR_STATE after a
     * restart; NULL function or result: nothing is restored. The queryable is
     * borrowed. */
    queryable_t *(*queryable)(void *ctx, const char *tenant, err_t *err);
    void *ctx;
} ruler_evaluator_t;

/* Which upstream the HTTP API imitates (empty listings, error wording, paths).
 */
typedef enum { RULER_FLAVOR_MIMIR, RULER_FLAVOR_LOKI } ruler_flavor_t;

/* The limits a tenant's runtime overrides may change (Mimir/Loki ruler_* limits). */
typedef struct ruler_limits {
    int64_t evaluation_delay_ms; /* ruler_evaluation_delay_duration */
    int max_rules_per_group;     /* 0: no limit */
    int max_groups_per_tenant;   /* 0: no limit */
} ruler_limits_t;

typedef struct {
    ruler_flavor_t flavor;
    const char *rules_dir;          /* <dir>/<tenant>/<escaped namespace> rule files */
    int enable_api;                 /* config API routes (Loki: also the read API) */
    int read_only;                  /* Mimir's `local` backend: writes answer 500 */
    int64_t evaluation_interval_ms; /* groups without `interval` */
    int64_t poll_interval_ms;       /* re-read the store this often (0: never) */
    int64_t evaluation_delay_ms;    /* limit ruler_evaluation_delay_duration */
    int max_rules_per_group;        /* 0: no limit */
    int max_groups_per_tenant;      /* 0: no limit */
    const char *alertmanager_url;   /* comma-separated; NULL/"": alerts are not sent */
    const char *external_url;       /* generatorURL base and $externalURL */
    const label_t *external_labels; /* added to sent alerts, $externalLabels */
    size_t n_external_labels;
    const char *tenant_label_name;      /* herald's extension: add the tenant as this label */
    int64_t resend_delay_ms;            /* 1m */
    int64_t for_outage_tolerance_ms;    /* 1h */
    int64_t for_grace_period_ms;        /* Mimir 2m, Loki 10m */
    size_t notification_queue_capacity; /* 10000 */
    int64_t notification_timeout_ms;    /* 10s */
    int eval_threads;                   /* workpool size; 0: 2 */
    int manual;                         /* 1: no scheduler thread (tests, rule unit tests):
                                         * evaluations only through ruler_eval_tenant_at */
    /* Per-tenant limits (runtime overrides): called with *out preset from the three fields
     * above; NULL: those fields for every tenant. Thread-safe, quick, no callbacks. */
    void (*limits)(void *arg, const char *tenant, ruler_limits_t *out);
    void *limits_arg;
} ruler_opts_t;

typedef struct ruler ruler_t;

/* Fills `o` with upstream defaults for the flavor (rules_dir "./data/rules").
 */
void ruler_opts_default(ruler_opts_t *o, ruler_flavor_t flavor);

/* Loads every tenant's stored groups and starts scheduling and notifying. The
 * evaluator is copied (its ctx borrowed). NULL + err when the rules directory
 * cannot be created. */
ruler_t *ruler_new(const ruler_opts_t *opts, const ruler_evaluator_t *ev, err_t *err);
/* Stops the threads (in-flight evaluations finish, queued notifications are
 * flushed with a short deadline) and frees everything. NULL is a no-op. */
void ruler_free(ruler_t *r);

/* Registers the HTTP API on srv. prefix: "/prometheus/config/v1/rules" (Mimir)
 * or
 * "/loki/api/v1/rules" (Loki) for the config API; the read API is always
 * "/prometheus/api/v1/rules" and "/prometheus/api/v1/alerts". The ruler must
 * outlive srv. */
int ruler_api_register(http_server_t *srv, ruler_t *r, const char *prefix, err_t *err);

/* Re-reads one tenant's groups from the store now (the API does it after each
 * write). Groups whose rules keep their names keep their alert state. */
void ruler_sync_tenant(ruler_t *r, const char *tenant);

/* Evaluates every group of the tenant once at t_ms, synchronously, in file
 * order: for tests and the promtool-style runner. Alerts still go through the
 * notifier. */
int ruler_eval_tenant_at(ruler_t *r, const char *tenant, int64_t t_ms, err_t *err);

/* The tenant's pending and firing alerts as the JSON array
 * `/prometheus/api/v1/alerts` shows under data.alerts (labels, annotations,
 * state, activeAt, value). */
void ruler_alerts_json(ruler_t *r, const char *tenant, buf_t *out);

#endif
