/* config/daemon.h - what the four herald programs share around their modules: flags and
 * config loading (-help, -version, a bad config is one line on stderr and exit 1), the log
 * level, the HTTP server with the common routes (/ready, /metrics, /config, POST /-/reload),
 * signals (SIGTERM/SIGINT: stop, exit 0; SIGHUP: reload, keeping the old config on error),
 * and the start/stop order of modules. A main is a module table plus daemon_main().
 *
 * Layering: it sits in config/ because it is built on the config snapshot; common/ stays
 * free of other folders. Modules' *_module_init functions are written against it.
 * Ownership: the daemon owns the HTTP server and the config slot. Thread-safety: accessors
 * may be called from any thread; reloads (SIGHUP, /-/reload) are serialized. */
#ifndef HERALD_CONFIG_DAEMON_H
#define HERALD_CONFIG_DAEMON_H
#include "common/err.h"
#include "common/http.h"
#include "config/config.h"

typedef struct daemon daemon_t;

/* A module: init registers its routes on daemon_http(), starts its background work and adds
 * its stop/reload hooks. Called in table order before the server starts; -1 + err aborts
 * the start (logged, exit 1). */
typedef struct {
    const char *name;
    int (*init)(daemon_t *d, err_t *err);
} daemon_module_t;

/* Runs a program: loads the config from argv, inits `modules` (terminated by a {NULL, NULL}
 * entry), serves until SIGTERM/SIGINT, stops the server (letting in-flight requests finish
 * within server.graceful_shutdown_timeout), runs the stop hooks, and returns the exit code
 * for main. */
int daemon_main(cfg_program_t prog, const daemon_module_t *modules, int argc, char **argv);

http_server_t *daemon_http(daemon_t *d); /* borrowed; register routes before the start */
cfg_t *daemon_config(daemon_t *d);       /* new reference to the current snapshot: cfg_unref */
cfg_program_t daemon_program(const daemon_t *d);

/* Hooks. Stop hooks run after the HTTP server has stopped, last added first (flush WALs,
 * stop pools). Reload hooks run after a successful reload with the new snapshot (borrowed). */
void daemon_on_stop(daemon_t *d, void (*fn)(void *arg), void *arg);
void daemon_on_reload(daemon_t *d, void (*fn)(void *arg, const cfg_t *cfg), void *arg);

/* Per-tenant limits: the tenant's entry of the runtime config file (runtime_config.file,
 * `overrides:` as Mimir and Loki read it) over the limits of the current config, copied into
 * *out. The file is read at start (a bad file fails the start), re-read when it changes
 * (checked every runtime_config.period) and on reload; a bad new file keeps the old overrides
 * (logged). Strings and maps inside *out stay valid until the daemon stops. Thread-safe. */
void daemon_limits(daemon_t *d, const char *tenant, cfg_limits_t *out);

/* Re-reads the config file with the same flags. 0, or -1 + err with the old config kept.
 * Logs the outcome. */
int daemon_reload(daemon_t *d, err_t *err);

#endif
