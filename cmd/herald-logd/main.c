/* herald-logd - the logs daemon (Grafana Loki compatible, port 3100): log push, log store,
 * LogQL query API and the LogQL ruler. This file only lists the modules; config/daemon.c
 * runs them. */
#include "config/daemon.h"
#include "ruler/ruler_module.h"

/* Modules, in start order. Each init registers its routes on daemon_http(d) and its stop
 * hooks. Add one line per module here, e.g.
 *     {"logstore", logstore_module_init},  storage + POST /loki/api/v1/push
 *     {"logql-api", logql_api_init},       /loki/api/v1/query...
 *     {"ruler", ruler_logd_init},          /loki/api/v1/rules, /prometheus/api/v1/rules */
static const daemon_module_t modules[] = {
    {"ruler", ruler_logd_init},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_LOGD, modules, argc, argv);
}
