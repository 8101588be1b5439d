/* herald-promd - the metrics daemon (Grafana Mimir compatible, port 9009): remote-write
 * ingest, metrics store, Prometheus query API, PromQL ruler and the multi-tenant
 * Alertmanager. This file only lists the modules; config/daemon.c runs them. */
#include "alertmanager/alertmanager.h"
#include "config/daemon.h"
#include "promql/api.h"
#include "ruler/ruler_module.h"
#include "storage/api.h"

/* Modules, in start order. Each init registers its routes on daemon_http(d) and its stop
 * hooks. Add one line per module here, e.g.
 *     {"tsdb", tsdb_module_init},          storage + POST /api/v1/push
 *     {"promql-api", promql_api_init},     /prometheus/api/v1/query...
 *     {"ruler", ruler_promd_init},         /prometheus/api/v1/rules, config API
 *     {"alertmanager", am_module_init},    /alertmanager/..., /api/v1/alerts */
static const daemon_module_t modules[] = {
    {"alertmanager", am_module_init},
    {"tsdb", storage_module_init}, /* storage + POST /api/v1/push, series/labels APIs */
    {"promql-api", promql_api_module_init}, /* /prometheus/api/v1/query, query_range... */
    {"ruler", ruler_promd_init},   /* /prometheus/config/v1/rules, /prometheus/api/v1/rules */
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return daemon_main(CFG_PROMD, modules, argc, argv);
}
