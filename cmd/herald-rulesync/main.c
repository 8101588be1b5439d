/* herald-rulesync - syncs PrometheusRule manifests to the Mimir and Loki rulers (Alloy's
 * mimir.rules.kubernetes / loki.rules.kubernetes, status and /metrics on port 12345). This
 * file only lists the modules; config/daemon.c runs them. */
#include "config/daemon.h"
#include "ruler/rulesync.h"

/* Modules, in start order. */
static const daemon_module_t modules[] = {
    {"rulesync", rulesync_module_init}, /* sources, components, /status */
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_RULESYNC, modules, argc, argv);
}
