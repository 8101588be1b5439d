/* herald-rulesync - syncs PrometheusRule manifests to the Mimir and Loki rulers (Alloy's
 * mimir.rules.kubernetes / loki.rules.kubernetes, status and /metrics on port 12345). This
 * file only lists the modules; config/daemon.c runs them. */
#include "config/daemon.h"

/* Modules, in start order; add one line per module, e.g. {"rulesync", rulesync_module_init}. */
static const daemon_module_t modules[] = {
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_RULESYNC, modules, argc, argv);
}
