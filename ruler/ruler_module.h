/* ruler/ruler_module.h - the ruler as a module of herald-promd / herald-logd
 * (config/daemon.h): config keys to options, start, routes, stop.
 * Thread-safety: called from the daemon's start thread only; the ruler it
 * starts is thread-safe (ruler/ruler.h). */
#ifndef HERALD_RULER_RULER_MODULE_H
#define HERALD_RULER_RULER_MODULE_H
#include "config/daemon.h"
#include "config/config.h"
#include "ruler/ruler.h"

/* Options from a config snapshot: Mimir keys (ruler.*, ruler_storage.*,
 * limits.ruler_*) or Loki keys (ruler.*, ruler.storage.local.directory,
 * limits_config.ruler_*). Strings are borrowed from `c`. */
void ruler_opts_from_cfg(ruler_opts_t *o, const cfg_t *c, ruler_flavor_t flavor);

/* Starts a ruler over `ev` (copied; its ctx must outlive the daemon), registers
 * the config API (Mimir /prometheus/config/v1/rules, Loki /loki/api/v1/rules +
 * /api/prom/rules) and the read API, and stops it with the daemon. */
int ruler_module_start(daemon_t *d, ruler_flavor_t flavor, const ruler_evaluator_t *ev, err_t *err);

/* herald-promd's module entry: PromQL rules. */
int ruler_promd_init(daemon_t *d, err_t *err);

/* herald-logd's module entry: LogQL rules over the log store (logql/logql_ruler.c). */
int ruler_logd_init(daemon_t *d, err_t *err);

#endif
