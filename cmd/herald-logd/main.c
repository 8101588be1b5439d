/* herald-logd - the logs daemon (Grafana Loki compatible, port 3100): log push, log store,
 * LogQL query API and the LogQL ruler. This file only lists the modules; config/daemon.c
 * runs them. */
#include "config/daemon.h"
#include "logql/api.h"
#include "ruler/ruler_module.h"
#include "storage/logpush.h"

/* Modules, in start order. Each init registers its routes on daemon_http(d) and its stop
 * hooks; stop hooks run in reverse, so the store outlives its readers. */
static const daemon_module_t modules[] = {
    {"logstore", logstore_module_init},   /* store + POST /loki/api/v1/push */
    {"logql-api", logql_api_module_init}, /* /loki/api/v1/query, query_range, labels... */
    {"ruler", ruler_logd_init},           /* /loki/api/v1/rules, /prometheus/api/v1/rules */
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_LOGD, modules, argc, argv);
}
