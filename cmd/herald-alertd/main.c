/* herald-alertd - the multi-tenant Alertmanager alone (port 9093), the same module that
 * herald-promd embeds. This file only lists the modules; config/daemon.c runs them. */
#include "alertmanager/alertmanager.h"
#include "config/daemon.h"

/* Modules, in start order; add one line per module, e.g. {"alertmanager", am_module_init}. */
static const daemon_module_t modules[] = {
    {"alertmanager", am_module_init},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_ALERTD, modules, argc, argv);
}
