/* ruler/rulesync.h - herald-rulesync: Grafana Alloy's mimir.rules.kubernetes and
 * loki.rules.kubernetes components as a daemon module. PrometheusRule objects come from a
 * manifest directory or the Kubernetes API (LIST + WATCH); each mimir_rules / loki_rules
 * entry of the config selects some of them, converts them to rule groups and keeps one
 * ruler tenant's managed namespaces equal to them through the ruler config API.
 * docs/rulesync.md describes the behaviour; api-reference.md section 5 is the spec.
 *
 * Ownership: the module keeps a reference to the config snapshot it started with and
 * frees everything in its stop hook. Thread-safety: one thread per source (two for the
 * Kubernetes API) and one per component, all started here; status routes are thread-safe.
 * A reload (SIGHUP, POST /-/reload) with changed arguments restarts the components (and the
 * source if its keys changed); with the same arguments it re-reads the manifest directory
 * and queues a full sync of every component. */
#ifndef HERALD_RULER_RULESYNC_H
#define HERALD_RULER_RULESYNC_H
#include "common/err.h"
#include "config/daemon.h"

/* Module entry for cmd/herald-rulesync: validates the arguments (address and namespace
 * prefix required; value xor value_from_label per matcher), starts the source and the
 * components, registers GET /api/v0/web/components and GET /status (JSON: source,
 * components with health, last error, last sync time, managed namespaces) and GET /-/healthy
 * (200, or 500 naming the unhealthy components). -1 + err on a
 * bad configuration or when neither manifest_dir nor a Kubernetes API is available. */
int rulesync_module_init(daemon_t *d, err_t *err);

#endif
