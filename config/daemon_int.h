/* config/daemon_int.h - internals shared by config/daemon.c and config/daemon_limits.c:
 * the per-tenant limits state the daemon owns. Thread-safety as in daemon.h. */
#ifndef HERALD_CONFIG_DAEMON_INT_H
#define HERALD_CONFIG_DAEMON_INT_H
#include <pthread.h>
#include <stdint.h>

#include "config/config.h"

typedef struct {
    int64_t mtime_ns, size, ino;
} daemon_file_stamp_t;

typedef struct {
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond;
    cfg_t *cfg;                /* config the overrides are built on (one reference) */
    cfg_overrides_t *cur;      /* never NULL once started */
    cfg_overrides_t **retired; /* replaced sets, freed at stop */
    size_t n_retired;
    daemon_file_stamp_t stamp; /* of the file `cur` was read from */
    int64_t period_ms;
    int stopping, has_thread;
    pthread_t thread;
} daemon_limits_t;

/* Loads c's runtime config file and, if there is one, starts watching it. -1 + err on a
 * bad file (the daemon does not start, as Mimir). */
int daemon_limits_start(daemon_limits_t *l, cfg_t *c, err_t *err);
/* After a config reload: rebuild on the new config (keeps the old on error). */
void daemon_limits_reload(daemon_limits_t *l, cfg_t *c);
void daemon_limits_get(daemon_limits_t *l, const char *tenant, cfg_limits_t *out);
void daemon_limits_stop(daemon_limits_t *l); /* joins the watcher, frees every set */

#endif
