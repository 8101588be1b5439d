/* storage/module.c - the herald-promd "tsdb" module: config (blocks_storage.*, limits.*,
 * distributor.max_recv_msg_size) -> TSDB options and push limits, registry lifecycle,
 * route registration, limit reloads.
 *
 * DESIGN: one registry per process, kept in a file-scope struct so the PromQL engine and
 * the ruler can reach it through storage_module_registry(); set once at init, cleared at
 * stop, both before/after the HTTP server runs, hence no lock. */
#include <stdlib.h>

#include "config/daemon.h"
#include "storage/api.h"

static struct {
    tsdb_registry_t *reg;
    storage_api_t *api;
    _Atomic int64_t max_recv_msg_size; /* not a per-tenant limit; follows reloads */
} mod;

static void limits_map(const cfg_limits_t *c, int64_t max_recv, storage_limits_t *l)
{
    storage_limits_default(l);
    l->ingestion_rate = c->ingestion_rate;
    l->ingestion_burst_size = c->ingestion_burst_size;
    l->max_global_series_per_user = c->max_global_series_per_user;
    l->max_label_names_per_series = c->max_label_names_per_series;
    l->max_label_name_length = c->max_label_name_length;
    l->max_label_value_length = c->max_label_value_length;
    if (c->creation_grace_period_ms > 0) {
        l->creation_grace_period_ms = c->creation_grace_period_ms;
    }
    if (max_recv > 0) {
        l->max_recv_msg_size = (size_t)max_recv;
    }
}

static void limits_from_cfg(const cfg_t *c, storage_limits_t *l)
{
    limits_map(&c->limits, c->distributor_max_recv_msg_size, l);
}

/* The tenant's limits with its runtime overrides (storage_limits_fn). */
static void tenant_limits(void *arg, const char *tenant, storage_limits_t *out)
{
    cfg_limits_t cl;
    daemon_limits(arg, tenant, &cl);
    limits_map(&cl, mod.max_recv_msg_size, out);
}

static void opts_from_cfg(const cfg_t *c, tsdb_opts_t *o)
{
    tsdb_opts_default(o);
    if (c->blocks_storage.tsdb_dir[0] != '\0') {
        o->dir = c->blocks_storage.tsdb_dir;
    }
    if (c->blocks_storage.tsdb_block_ranges_period.n > 0) {
        o->block_range_ms = c->blocks_storage.tsdb_block_ranges_period.ms[0];
    }
    if (c->blocks_storage.tsdb_wal_segment_size_bytes > 0) {
        o->wal_segment_bytes = (size_t)c->blocks_storage.tsdb_wal_segment_size_bytes;
    }
    o->wal_compression = c->blocks_storage.tsdb_wal_compression_enabled;
    o->out_of_order_window_ms = c->limits.out_of_order_time_window_ms;
    if (c->blocks_storage.tsdb_head_compaction_interval_ms > 0) {
        o->maintenance_interval_ms = c->blocks_storage.tsdb_head_compaction_interval_ms;
    }
    /* Mimir keeps two knobs (ingester retention, compactor retention); herald has one store. */
    o->retention_ms = c->blocks_storage.tsdb_retention_period_ms;
    if (c->limits.compactor_blocks_retention_period_ms > 0) {
        o->retention_ms = c->limits.compactor_blocks_retention_period_ms;
    }
}

static void on_reload(void *arg, const cfg_t *c)
{
    mod.max_recv_msg_size = c->distributor_max_recv_msg_size;
    storage_limits_t l;
    limits_from_cfg(c, &l);
    storage_api_set_limits(arg, &l);
}

static void on_stop(void *arg)
{
    storage_api_free(mod.api);
    tsdb_registry_close(mod.reg);
    mod.api = NULL;
    mod.reg = NULL;
}

int storage_module_init(struct daemon *d, err_t *err)
{
    cfg_t *c = daemon_config(d);
    tsdb_opts_t o;
    storage_limits_t l;
    opts_from_cfg(c, &o);
    limits_from_cfg(c, &l);
    mod.max_recv_msg_size = c->distributor_max_recv_msg_size;
    mod.reg = tsdb_registry_open(&o, err);
    if (mod.reg != NULL) {
        mod.api =
            storage_api_register(daemon_http(d), mod.reg, &l, c->api_prometheus_http_prefix, err);
    }
    cfg_unref(c);
    if (mod.api == NULL) {
        tsdb_registry_close(mod.reg);
        mod.reg = NULL;
        return -1;
    }
    storage_api_set_limits_fn(mod.api, tenant_limits, d);
    daemon_on_stop(d, on_stop, NULL);
    daemon_on_reload(d, on_reload, mod.api);
    return 0;
}

tsdb_registry_t *storage_module_registry(void) { return mod.reg; }
