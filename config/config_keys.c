/* config/config_keys.c - the table of every configuration key of the four programs.
 *
 * Names, flags and defaults follow Mimir (herald-promd, herald-alertd), Loki (herald-logd) and
 * Alloy's rules.kubernetes components (herald-rulesync). Where herald's default differs from
 * upstream (ports, data under ./data, the ruler sending to the embedded Alertmanager), the
 * help text says so; docs/configuration.md is generated from this table. */
#include <stddef.h>

#include "config/config_int.h"

#define PROMD CFG__P_PROMD
#define LOGD CFG__P_LOGD
#define ALERTD CFG__P_ALERTD
#define RULESYNC CFG__P_RULESYNC
#define MIMIR CFG__P_MIMIR
#define ALL CFG__P_ALL
#define MR CFG__P_MIMIR_RULES
#define LR CFG__P_LOKI_RULES
#define RULES CFG__P_RULES

/* A row of the root table (fields of cfg_t). */
#define K(p, fl, ty, fld, d, progs, h)                                                             \
    {                                                                                              \
        .path = (p), .flag = (fl), .type = (ty), .offset = offsetof(cfg_t, fld), .def = (d),       \
        .programs = (progs), .help = (h)                                                           \
    }
/* A string row restricted to `ch` ("a|b"). */
#define KC(p, fl, fld, d, ch, progs, h)                                                            \
    {                                                                                              \
        .path = (p), .flag = (fl), .type = CFG__STRING, .offset = offsetof(cfg_t, fld),            \
        .def = (d), .choices = (ch), .programs = (progs), .help = (h)                              \
    }
/* A section accepted for compatibility with upstream files and ignored. */
#define IGN(p, progs)                                                                              \
    {                                                                                              \
        .path = (p), .type = CFG__IGNORED, .programs = (progs),                                    \
        .help = "Accepted for compatibility with upstream configuration files and ignored."        \
    }

/* ---- herald-rulesync list elements ------------------------------------------------------ */

#define KM(p, ty, fld, d, ch, h)                                                                   \
    {                                                                                              \
        .path = (p), .type = (ty), .offset = offsetof(cfg_query_matcher_t, fld), .def = (d),       \
        .choices = (ch), .programs = RULES, .help = (h)                                            \
    }
static const cfg__key_t matcher_keys[] = {
    KM("name", CFG__STRING, name, NULL, NULL, "Label name the matcher sets in every selector."),
    KM("match_type", CFG__STRING, match_type, "=", "=|!=|=~|!~", "Matcher operator."),
    KM("value", CFG__STRING, value, NULL, NULL,
       "Value to match (exclusive with value_from_label)."),
    KM("value_from_label", CFG__STRING, value_from_label, NULL, NULL,
       "Take the value from this label of the PrometheusRule object (mimir_rules only)."),
};
static const cfg__table_t matcher_table = {
    matcher_keys, sizeof(matcher_keys) / sizeof(matcher_keys[0]), sizeof(cfg_query_matcher_t)};

#define KE(p, ty, fld, ch, h)                                                                      \
    {                                                                                              \
        .path = (p), .type = (ty), .offset = offsetof(cfg_match_expr_t, fld), .choices = (ch),     \
        .programs = RULES, .help = (h)                                                             \
    }
static const cfg__key_t match_expr_keys[] = {
    KE("key", CFG__STRING, key, NULL, "Label key the expression tests."),
    KE("operator", CFG__STRING, operator, "In|NotIn|Exists|DoesNotExist", "Set operator."),
    KE("values", CFG__STRLIST, values, NULL, "Values for In and NotIn."),
};
static const cfg__table_t match_expr_table = {match_expr_keys,
                                              sizeof(match_expr_keys) / sizeof(match_expr_keys[0]),
                                              sizeof(cfg_match_expr_t)};

#define KT(p, ty, fld, d, progs, h)                                                                \
    {                                                                                              \
        .path = (p), .type = (ty), .offset = offsetof(cfg_rules_target_t, fld), .def = (d),        \
        .programs = (progs), .help = (h)                                                           \
    }
#define KT_LIST(p, fld, cnt, tab, h)                                                               \
    {                                                                                              \
        .path = (p), .type = CFG__LIST, .offset = offsetof(cfg_rules_target_t, fld),               \
        .count_offset = offsetof(cfg_rules_target_t, cnt), .programs = RULES, .sub = (tab),        \
        .help = (h)                                                                                \
    }
/* The two Kubernetes label selectors of a target share their shape. */
#define KT_SELECTOR(p, fld, what)                                                                  \
    KT(p ".match_labels", CFG__STRMAP, fld.match_labels, NULL, RULES,                              \
       "Labels the " what " must carry (all of them)."),                                           \
        KT_LIST(p ".match_expression", fld.match_expression, fld.n_match_expression,               \
                &match_expr_table, "Set-based requirements on the " what "'s labels.")

static const cfg__key_t rules_target_keys[] = {
    KT("address", CFG__STRING, address, NULL, RULES, "Ruler base URL (required)."),
    KT("tenant_id", CFG__STRING, tenant_id, NULL, RULES,
       "Sent as X-Scope-OrgID; empty sends no header."),
    KT("use_legacy_routes", CFG__BOOL, use_legacy_routes, "false", RULES,
       "Use the legacy /api/v1/rules routes."),
    KT("prometheus_http_prefix", CFG__STRING, prometheus_http_prefix, "/prometheus", MR,
       "Prefix of the ruler config API (`<prefix>/config/v1/rules`)."),
    KT("mimir_namespace_prefix", CFG__STRING, namespace_prefix, "alloy", MR,
       "Prefix of the ruler namespaces this syncer manages."),
    KT("loki_namespace_prefix", CFG__STRING, namespace_prefix, "alloy", LR,
       "Prefix of the ruler namespaces this syncer manages."),
    KT("mimir_namespace_separator", CFG__STRING, namespace_separator, "/", MR,
       "Separator between the parts of a ruler namespace name."),
    KT("loki_namespace_separator", CFG__STRING, namespace_separator, "-", LR,
       "Separator between the parts of a ruler namespace name."),
    KT("sync_interval", CFG__DURATION, sync_interval_ms, "5m", MR, "Full resync period."),
    KT("sync_interval", CFG__DURATION, sync_interval_ms, "30s", LR, "Full resync period."),
    KT("external_labels", CFG__STRMAP, external_labels, NULL, RULES,
       "Labels added to every rule, replacing same-named rule labels."),
    KT_LIST("extra_query_matchers.matcher", extra_query_matchers, n_extra_query_matchers,
            &matcher_table, "Matchers added to every selector of every rule expression."),
    KT_SELECTOR("rule_selector", rule_selector, "PrometheusRule"),
    KT_SELECTOR("rule_namespace_selector", rule_namespace_selector, "Kubernetes namespace"),
    KT("copy_object_labels", CFG__STRLIST, copy_object_labels, NULL, RULES,
       "herald: labels of the PrometheusRule object copied onto each of its rules (a rule's "
       "own labels win)."),
    {.path = "bearer_token",
     .type = CFG__STRING,
     .offset = offsetof(cfg_rules_target_t, bearer_token),
     .programs = RULES,
     .is_secret = 1,
     .help = "Bearer token for the ruler."},
    KT("bearer_token_file", CFG__STRING, bearer_token_file, NULL, RULES,
       "File holding the bearer token."),
    KT("basic_auth.username", CFG__STRING, basic_auth_username, NULL, RULES,
       "Basic auth user name."),
    {.path = "basic_auth.password",
     .type = CFG__STRING,
     .offset = offsetof(cfg_rules_target_t, basic_auth_password),
     .programs = RULES,
     .is_secret = 1,
     .help = "Basic auth password."},
    KT("basic_auth.password_file", CFG__STRING, basic_auth_password_file, NULL, RULES,
       "File holding the basic auth password."),
    KT("http_headers", CFG__STRMAP, http_headers, NULL, RULES,
       "Extra HTTP headers sent to the ruler."),
};
static const cfg__table_t rules_target_table = {
    rules_target_keys, sizeof(rules_target_keys) / sizeof(rules_target_keys[0]),
    sizeof(cfg_rules_target_t)};

/* ---- herald-logd: ruler.remote_write.clients.<name> (a Prometheus remote_write entry) ---- */

#define KW(p, ty, fld, d, h)                                                                       \
    {                                                                                              \
        .path = (p), .type = (ty), .offset = offsetof(cfg_rw_client_t, fld), .def = (d),           \
        .programs = LOGD, .help = (h)                                                              \
    }
static const cfg__key_t rw_client_keys[] = {
    {.path = "name",
     .type = CFG__STRING,
     .offset = offsetof(cfg_rw_client_t, name),
     .programs = LOGD,
     .is_map_key = 1,
     .help = "Client name: the key of the entry."},
    KW("url", CFG__STRING, url, NULL, "Remote-write endpoint (required)."),
    KW("remote_timeout", CFG__DURATION, remote_timeout_ms, "30s", "Timeout of one request."),
    KW("headers", CFG__STRMAP, headers, NULL,
       "Extra HTTP headers; an X-Scope-OrgID here is replaced by the rule's tenant when "
       "add_org_id_header is on."),
    KW("basic_auth.username", CFG__STRING, basic_auth_username, NULL, "Basic auth user name."),
    {.path = "basic_auth.password",
     .type = CFG__STRING,
     .offset = offsetof(cfg_rw_client_t, basic_auth_password),
     .programs = LOGD,
     .is_secret = 1,
     .help = "Basic auth password."},
    {.path = "bearer_token",
     .type = CFG__STRING,
     .offset = offsetof(cfg_rw_client_t, bearer_token),
     .programs = LOGD,
     .is_secret = 1,
     .help = "Bearer token (exclusive with basic_auth)."},
};
static const cfg__table_t rw_client_table = {
    rw_client_keys, sizeof(rw_client_keys) / sizeof(rw_client_keys[0]), sizeof(cfg_rw_client_t)};

/* ---- the root table ---------------------------------------------------------------------- */

static const cfg__key_t root_keys[] = {
    /* top level */
    K("target", "target", CFG__STRING, target, "all", PROMD | LOGD,
      "Components to run; "
      "herald runs a fixed set per program and accepts this for compatibility."),
    K("target", "target", CFG__STRING, target, "alertmanager", ALERTD,
      "Components to run; "
      "herald runs a fixed set per program and accepts this for compatibility."),
    K("multitenancy_enabled", "auth.multitenancy-enabled", CFG__BOOL, multitenancy_enabled, "true",
      MIMIR, "Require X-Scope-OrgID; false: every request is tenant no_auth_tenant."),
    K("auth_enabled", "auth.enabled", CFG__BOOL, multitenancy_enabled, "true", LOGD,
      "Require X-Scope-OrgID; false: every request is tenant no_auth_tenant."),
    K("no_auth_tenant", "auth.no-auth-tenant", CFG__STRING, no_auth_tenant, "anonymous", MIMIR,
      "Tenant used when multitenancy is disabled."),
    K("no_auth_tenant", "auth.no-auth-tenant", CFG__STRING, no_auth_tenant, "fake", LOGD,
      "Tenant used when auth is disabled."),
    K("tenant_federation.enabled", "tenant-federation.enabled", CFG__BOOL,
      tenant_federation_enabled, "false", PROMD, "Allow `a|b` tenant IDs in queries."),
    K("api.prometheus_http_prefix", "http.prometheus-http-prefix", CFG__STRING,
      api_prometheus_http_prefix, "/prometheus", PROMD, "Prefix of the Prometheus API."),
    K("api.alertmanager_http_prefix", "http.alertmanager-http-prefix", CFG__STRING,
      api_alertmanager_http_prefix, "/alertmanager", MIMIR, "Prefix of the Alertmanager API."),
    K("distributor.max_recv_msg_size", "distributor.max-recv-msg-size", CFG__INT64,
      distributor_max_recv_msg_size, "104857600", PROMD,
      "Largest remote-write request accepted, in bytes."),
    IGN("distributor.ring", PROMD),
    IGN("distributor.ha_tracker", PROMD),
    K("runtime_config.file", "runtime-config.file", CFG__STRING, runtime_config_file, NULL,
      PROMD | LOGD | ALERTD, "YAML file with per-tenant `overrides:` of the limits."),
    K("runtime_config.period", "runtime-config.reload-period", CFG__DURATION,
      runtime_config_period_ms, "10s", PROMD | LOGD | ALERTD,
      "How often the runtime config file is re-read."),

    /* server */
    K("server.http_listen_address", "server.http-listen-address", CFG__STRING,
      server.http_listen_address, NULL, ALL, "HTTP listen address; empty: every interface."),
    K("server.http_listen_port", "server.http-listen-port", CFG__INT, server.http_listen_port,
      "9009", PROMD, "HTTP listen port (Mimir's default is 8080)."),
    K("server.http_listen_port", "server.http-listen-port", CFG__INT, server.http_listen_port,
      "3100", LOGD, "HTTP listen port."),
    K("server.http_listen_port", "server.http-listen-port", CFG__INT, server.http_listen_port,
      "9093", ALERTD, "HTTP listen port."),
    K("server.http_listen_port", "server.http-listen-port", CFG__INT, server.http_listen_port,
      "12345", RULESYNC, "HTTP listen port (status and /metrics)."),
    K("server.grpc_listen_port", "server.grpc-listen-port", CFG__INT, server.grpc_listen_port,
      "9095", PROMD | LOGD | ALERTD, "Accepted for compatibility; herald serves no gRPC."),
    K("server.http_path_prefix", "server.path-prefix", CFG__STRING, server.http_path_prefix, NULL,
      ALL, "Prefix of every HTTP route."),
    {.path = "server.log_level",
     .flag = "log.level",
     .type = CFG__STRING,
     .offset = offsetof(cfg_t, server.log_level),
     .def = "info",
     .choices = "debug|info|warn|error",
     .programs = ALL,
     .help = "Lowest level logged."},
    {.path = "server.log_format",
     .flag = "log.format",
     .type = CFG__STRING,
     .offset = offsetof(cfg_t, server.log_format),
     .def = "logfmt",
     .choices = "logfmt|json",
     .programs = ALL,
     .help = "Log line format."},
    K("server.graceful_shutdown_timeout", "server.graceful-shutdown-timeout", CFG__DURATION,
      server.graceful_shutdown_timeout_ms, "30s", ALL,
      "How long in-flight requests may finish at shutdown."),
    K("server.http_server_read_timeout", "server.http-read-timeout", CFG__DURATION,
      server.http_server_read_timeout_ms, "30s", ALL, "Read timeout of a request."),
    K("server.http_server_write_timeout", "server.http-write-timeout", CFG__DURATION,
      server.http_server_write_timeout_ms, "30s", ALL, "Write timeout of a response."),
    K("server.http_server_idle_timeout", "server.http-idle-timeout", CFG__DURATION,
      server.http_server_idle_timeout_ms, "2m", ALL, "Idle keep-alive connection timeout."),
    K("server.http_listen_conn_limit", "server.http-conn-limit", CFG__INT,
      server.http_listen_conn_limit, "0", ALL, "Most simultaneous connections; 0: no limit."),
    K("server.http_server_threads", "server.http-server-threads", CFG__INT,
      server.http_server_threads, "8", ALL, "herald: HTTP worker threads."),

    /* blocks_storage (Mimir) */
    KC("blocks_storage.backend", "blocks-storage.backend", blocks_storage.backend, "filesystem",
       "filesystem", PROMD, "Block storage backend; herald supports filesystem."),
    K("blocks_storage.filesystem.dir", "blocks-storage.filesystem.dir", CFG__STRING,
      blocks_storage.filesystem_dir, "./data/blocks", PROMD, "Long-term blocks directory."),
    K("blocks_storage.tsdb.dir", "blocks-storage.tsdb.dir", CFG__STRING, blocks_storage.tsdb_dir,
      "./data/tsdb", PROMD, "TSDB (WAL + head + blocks) directory, one sub-folder per tenant."),
    K("blocks_storage.tsdb.retention_period", "blocks-storage.tsdb.retention-period", CFG__DURATION,
      blocks_storage.tsdb_retention_period_ms, "15d", PROMD,
      "How long samples are kept (Mimir's default is 13h, as it ships blocks away)."),
    K("blocks_storage.tsdb.block_ranges_period", "blocks-storage.tsdb.block-ranges-period",
      CFG__DURLIST, blocks_storage.tsdb_block_ranges_period, "2h", PROMD,
      "Block durations; the first is the head block range."),
    K("blocks_storage.tsdb.head_compaction_interval",
      "blocks-storage.tsdb.head-compaction-interval", CFG__DURATION,
      blocks_storage.tsdb_head_compaction_interval_ms, "1m", PROMD,
      "How often the head is checked for compaction."),
    K("blocks_storage.tsdb.wal_compression_enabled", "blocks-storage.tsdb.wal-compression-enabled",
      CFG__BOOL, blocks_storage.tsdb_wal_compression_enabled, "false", PROMD,
      "Compress WAL records."),
    K("blocks_storage.tsdb.wal_segment_size_bytes", "blocks-storage.tsdb.wal-segment-size-bytes",
      CFG__INT64, blocks_storage.tsdb_wal_segment_size_bytes, "134217728", PROMD,
      "WAL segment file size."),
    K("blocks_storage.tsdb.flush_blocks_on_shutdown",
      "blocks-storage.tsdb.flush-blocks-on-shutdown", CFG__BOOL,
      blocks_storage.tsdb_flush_blocks_on_shutdown, "false", PROMD,
      "Cut a block from the head at shutdown."),
    IGN("blocks_storage.bucket_store", PROMD),

    /* common (Loki) */
    K("common.path_prefix", "common.path-prefix", CFG__STRING, common.path_prefix, "./data/loki",
      LOGD,
      "Directory of chunks, index and WAL; the ruler directories below "
      "that keep their defaults move under it (Loki's default is empty)."),
    K("common.storage.filesystem.chunks_directory", "common.storage.filesystem.chunk-directory",
      CFG__STRING, common.storage_filesystem_chunks_directory, NULL, LOGD,
      "Chunks directory; empty: `<path_prefix>/chunks`."),
    K("common.storage.filesystem.rules_directory", "common.storage.filesystem.rules-directory",
      CFG__STRING, common.storage_filesystem_rules_directory, NULL, LOGD,
      "Read-only rules directory (Loki's local ruler store)."),
    IGN("common.replication_factor", LOGD),
    IGN("common.ring", LOGD),
    IGN("common.instance_addr", LOGD),

    /* querier */
    K("querier.timeout", "querier.timeout", CFG__DURATION, querier.timeout_ms, "2m", PROMD,
      "Query timeout, also for rule evaluation."),
    K("querier.max_concurrent", "querier.max-concurrent", CFG__INT, querier.max_concurrent, "20",
      PROMD, "Queries evaluated at once."),
    K("querier.max_concurrent", "querier.max-concurrent", CFG__INT, querier.max_concurrent, "4",
      LOGD, "Queries evaluated at once."),
    K("querier.max_samples", "querier.max-samples", CFG__INT64, querier.max_samples, "50000000",
      PROMD, "Most samples one query may hold in memory."),
    K("querier.lookback_delta", "querier.lookback-delta", CFG__DURATION, querier.lookback_delta_ms,
      "5m", PROMD, "PromQL staleness lookback."),
    K("querier.multi_tenant_queries_enabled", "querier.multi-tenant-queries-enabled", CFG__BOOL,
      querier.multi_tenant_queries_enabled, "false", LOGD, "Allow `a|b` tenant IDs in queries."),
    K("querier.max_concurrent_tail_requests", "querier.max-concurrent-tail-requests", CFG__INT,
      querier.max_concurrent_tail_requests, "10", LOGD, "Live tails per tenant at once."),
    K("querier.tail_max_duration", "querier.tail-max-duration", CFG__DURATION,
      querier.tail_max_duration_ms, "1h", LOGD, "Longest a live tail may run."),

    /* limits (Mimir), defaults of every tenant */
    K("limits.ingestion_rate", "distributor.ingestion-rate-limit", CFG__FLOAT,
      limits.ingestion_rate, "10000", PROMD, "Samples per second, per tenant."),
    K("limits.ingestion_burst_size", "distributor.ingestion-burst-size", CFG__INT,
      limits.ingestion_burst_size, "200000", PROMD, "Sample burst, per tenant."),
    K("limits.max_global_series_per_user", "ingester.max-global-series-per-user", CFG__INT,
      limits.max_global_series_per_user, "150000", PROMD, "In-memory series; 0: no limit."),
    K("limits.max_global_series_per_metric", "ingester.max-global-series-per-metric", CFG__INT,
      limits.max_global_series_per_metric, "0", PROMD, "Series per metric name; 0: no limit."),
    K("limits.max_global_metadata_per_user", "ingester.max-global-metadata-per-user", CFG__INT,
      limits.max_global_metadata_per_user, "0", PROMD, "Metrics with metadata; 0: no limit."),
    K("limits.max_metadata_length", "validation.max-metadata-length", CFG__INT,
      limits.max_metadata_length, "1024", PROMD, "Longest metric metadata text."),
    K("limits.max_label_names_per_series", "validation.max-label-names-per-series", CFG__INT,
      limits.max_label_names_per_series, "30", PROMD, "Most labels on one series."),
    K("limits.max_label_name_length", "validation.max-length-label-name", CFG__INT,
      limits.max_label_name_length, "1024", PROMD, "Longest label name."),
    K("limits.max_label_value_length", "validation.max-length-label-value", CFG__INT,
      limits.max_label_value_length, "2048", PROMD, "Longest label value (and metric name)."),
    K("limits.creation_grace_period", "validation.create-grace-period", CFG__DURATION,
      limits.creation_grace_period_ms, "10m", PROMD, "How far in the future samples may be."),
    K("limits.past_grace_period", "validation.past-grace-period", CFG__DURATION,
      limits.past_grace_period_ms, "0s", PROMD, "How far in the past samples may be; 0: any."),
    K("limits.out_of_order_time_window", "ingester.out-of-order-time-window", CFG__DURATION,
      limits.out_of_order_time_window_ms, "0s", PROMD,
      "How far behind the newest sample out-of-order samples are accepted."),
    K("limits.max_fetched_series_per_query", "querier.max-fetched-series-per-query", CFG__INT,
      limits.max_fetched_series_per_query, "0", PROMD, "Series one query may read; 0: any."),
    K("limits.max_fetched_chunks_per_query", "querier.max-fetched-chunks-per-query", CFG__INT,
      limits.max_fetched_chunks_per_query, "2000000", PROMD, "Chunks one query may read."),
    K("limits.max_fetched_chunk_bytes_per_query", "querier.max-fetched-chunk-bytes-per-query",
      CFG__INT64, limits.max_fetched_chunk_bytes_per_query, "0", PROMD,
      "Chunk bytes one query may read; 0: any."),
    K("limits.max_query_lookback", "querier.max-query-lookback", CFG__DURATION,
      limits.max_query_lookback_ms, "0s", PROMD, "How far back queries may read; 0: any."),
    K("limits.max_query_parallelism", "querier.max-query-parallelism", CFG__INT,
      limits.max_query_parallelism, "14", PROMD, "Sub-queries of one query run at once."),
    K("limits.max_total_query_length", "query-frontend.max-total-query-length", CFG__DURATION,
      limits.max_total_query_length_ms, "0s", PROMD, "Longest end - start of a query; 0: any."),
    K("limits.max_partial_query_length", "querier.max-partial-query-length", CFG__DURATION,
      limits.max_partial_query_length_ms, "0s", PROMD, "Longest partial query; 0: any."),
    K("limits.compactor_blocks_retention_period", "compactor.blocks-retention-period",
      CFG__DURATION, limits.compactor_blocks_retention_period_ms, "0s", PROMD,
      "Blocks older than this are deleted; 0: keep (tsdb.retention_period still applies)."),
    K("limits.ruler_max_rules_per_rule_group", "ruler.max-rules-per-rule-group", CFG__INT,
      limits.ruler_max_rules_per_rule_group, "20", PROMD, "Rules per group; 0: no limit."),
    K("limits.ruler_max_rule_groups_per_tenant", "ruler.max-rule-groups-per-tenant", CFG__INT,
      limits.ruler_max_rule_groups_per_tenant, "70", PROMD, "Groups per tenant; 0: no limit."),
    K("limits.ruler_evaluation_delay_duration", "ruler.evaluation-delay-duration", CFG__DURATION,
      limits.ruler_evaluation_delay_duration_ms, "1m", PROMD,
      "Rules are evaluated this far in the past."),
    K("limits.ruler_recording_rules_evaluation_enabled", "ruler.recording-rules-evaluation-enabled",
      CFG__BOOL, limits.ruler_recording_rules_evaluation_enabled, "true", PROMD,
      "Evaluate recording rules."),
    K("limits.ruler_alerting_rules_evaluation_enabled", "ruler.alerting-rules-evaluation-enabled",
      CFG__BOOL, limits.ruler_alerting_rules_evaluation_enabled, "true", PROMD,
      "Evaluate alerting rules."),
    K("limits.ruler_sync_rules_on_changes_enabled", "ruler.sync-rules-on-changes-enabled",
      CFG__BOOL, limits.ruler_sync_rules_on_changes_enabled, "true", PROMD,
      "Reload a tenant's rules as soon as the config API changes them."),
    K("limits.ruler_protected_namespaces", "ruler.protected-namespaces", CFG__STRING,
      limits.ruler_protected_namespaces, NULL, PROMD,
      "Comma-separated namespaces writable only with X-Mimir-Ruler-Override-Namespace-"
      "Protection."),
    K("limits.ruler_external_labels", NULL, CFG__STRMAP, limits.ruler_external_labels, NULL, PROMD,
      "Labels added to every alert the ruler sends (a rule's own labels win)."),
    K("limits.ruler_tenant_shard_size", "ruler.tenant-shard-size", CFG__INT,
      limits.ruler_tenant_shard_size, "0", PROMD, "Accepted; herald runs one ruler."),
    K("limits.alertmanager_max_config_size_bytes", "alertmanager.max-config-size-bytes", CFG__INT,
      limits.alertmanager_max_config_size_bytes, "0", MIMIR,
      "Largest tenant configuration; 0: no limit."),
    K("limits.alertmanager_max_templates_count", "alertmanager.max-templates-count", CFG__INT,
      limits.alertmanager_max_templates_count, "0", MIMIR, "Templates per tenant; 0: any."),
    K("limits.alertmanager_max_template_size_bytes", "alertmanager.max-template-size-bytes",
      CFG__INT, limits.alertmanager_max_template_size_bytes, "0", MIMIR,
      "Largest template; 0: any."),
    K("limits.alertmanager_max_alerts_count", "alertmanager.max-alerts-count", CFG__INT,
      limits.alertmanager_max_alerts_count, "0", MIMIR, "Alerts per tenant; 0: no limit."),
    K("limits.alertmanager_max_alerts_size_bytes", "alertmanager.max-alerts-size-bytes", CFG__INT,
      limits.alertmanager_max_alerts_size_bytes, "0", MIMIR,
      "Total alert bytes per tenant; 0: no limit."),
    K("limits.alertmanager_max_silences_count", "alertmanager.max-silences-count", CFG__INT,
      limits.alertmanager_max_silences_count, "0", MIMIR, "Silences per tenant; 0: no limit."),
    K("limits.alertmanager_max_silence_size_bytes", "alertmanager.max-silence-size-bytes", CFG__INT,
      limits.alertmanager_max_silence_size_bytes, "0", MIMIR, "Largest silence; 0: no limit."),
    K("limits.alertmanager_notification_rate_limit", "alertmanager.notification-rate-limit",
      CFG__FLOAT, limits.alertmanager_notification_rate_limit, "0", MIMIR,
      "Notifications per second per tenant; 0: no limit."),
    K("limits.alertmanager_notification_rate_limit_per_integration", NULL, CFG__STRMAP,
      limits.alertmanager_notification_rate_limit_per_integration, NULL, MIMIR,
      "Per-integration notification rates (integration name -> per second), overriding "
      "alertmanager_notification_rate_limit."),
    K("limits.alertmanager_max_dispatcher_aggregation_groups",
      "alertmanager.max-dispatcher-aggregation-groups", CFG__INT,
      limits.alertmanager_max_dispatcher_aggregation_groups, "0", MIMIR,
      "Aggregation groups per tenant; 0: no limit."),

    /* limits_config (Loki) */
    K("limits_config.ingestion_rate_mb", "distributor.ingestion-rate-limit-mb", CFG__FLOAT,
      limits.ingestion_rate_mb, "4", LOGD, "Ingestion rate per tenant, MB/s."),
    K("limits_config.ingestion_burst_size_mb", "distributor.ingestion-burst-size-mb", CFG__FLOAT,
      limits.ingestion_burst_size_mb, "6", LOGD, "Ingestion burst per tenant, MB."),
    K("limits_config.max_label_name_length", "validation.max-length-label-name", CFG__INT,
      limits.max_label_name_length, "1024", LOGD, "Longest label name."),
    K("limits_config.max_label_value_length", "validation.max-length-label-value", CFG__INT,
      limits.max_label_value_length, "2048", LOGD, "Longest label value."),
    K("limits_config.max_label_names_per_series", "validation.max-label-names-per-series", CFG__INT,
      limits.max_label_names_per_series, "15", LOGD, "Most labels on one stream."),
    K("limits_config.reject_old_samples", "validation.reject-old-samples", CFG__BOOL,
      limits.reject_old_samples, "true", LOGD, "Reject entries older than the max age."),
    K("limits_config.reject_old_samples_max_age", "validation.reject-old-samples.max-age",
      CFG__DURATION, limits.reject_old_samples_max_age_ms, "1w", LOGD, "Oldest entry accepted."),
    K("limits_config.creation_grace_period", "validation.create-grace-period", CFG__DURATION,
      limits.creation_grace_period_ms, "10m", LOGD, "How far in the future entries may be."),
    K("limits_config.max_line_size", "distributor.max-line-size", CFG__SIZE,
      limits.max_line_size_bytes, "256KB", LOGD, "Longest log line; 0: no limit."),
    K("limits_config.max_line_size_truncate", "distributor.max-line-size-truncate", CFG__BOOL,
      limits.max_line_size_truncate, "false", LOGD, "Truncate longer lines instead of refusing."),
    K("limits_config.increment_duplicate_timestamp", "validation.increment-duplicate-timestamps",
      CFG__BOOL, limits.increment_duplicate_timestamp, "false", LOGD,
      "Shift entries with a duplicate timestamp by 1ns."),
    K("limits_config.max_streams_per_user", "ingester.max-streams-per-user", CFG__INT,
      limits.max_streams_per_user, "0", LOGD, "Local stream limit; 0: no limit."),
    K("limits_config.max_global_streams_per_user", "ingester.max-global-streams-per-user", CFG__INT,
      limits.max_global_streams_per_user, "5000", LOGD, "Active streams per tenant."),
    K("limits_config.per_stream_rate_limit", "ingester.per-stream-rate-limit", CFG__SIZE,
      limits.per_stream_rate_limit_bytes, "3MB", LOGD, "Bytes per second per stream."),
    K("limits_config.per_stream_rate_limit_burst", "ingester.per-stream-rate-limit-burst",
      CFG__SIZE, limits.per_stream_rate_limit_burst_bytes, "15MB", LOGD, "Burst bytes per stream."),
    K("limits_config.max_entries_limit_per_query", "validation.max-entries-limit", CFG__INT,
      limits.max_entries_limit_per_query, "5000", LOGD, "Most entries one query returns."),
    K("limits_config.max_query_series", "querier.max-query-series", CFG__INT,
      limits.max_query_series, "500", LOGD, "Most series a metric query returns."),
    K("limits_config.max_query_length", "store.max-query-length", CFG__DURATION,
      limits.max_query_length_ms, "30d1h", LOGD, "Longest query range; 0: any."),
    K("limits_config.max_query_lookback", "querier.max-query-lookback", CFG__DURATION,
      limits.max_query_lookback_ms, "0s", LOGD, "How far back queries may read; 0: any."),
    K("limits_config.max_query_parallelism", "querier.max-query-parallelism", CFG__INT,
      limits.max_query_parallelism, "32", LOGD, "Sub-queries of one query run at once."),
    K("limits_config.query_timeout", "querier.query-timeout", CFG__DURATION,
      limits.query_timeout_ms, "1m", LOGD, "Query timeout."),
    K("limits_config.retention_period", "store.retention", CFG__DURATION,
      limits.retention_period_ms, "0s", LOGD, "How long logs are kept; 0: forever."),
    K("limits_config.allow_structured_metadata", "validation.allow-structured-metadata", CFG__BOOL,
      limits.allow_structured_metadata, "true", LOGD, "Accept structured metadata on entries."),
    K("limits_config.ruler_evaluation_delay_duration", "ruler.evaluation-delay-duration",
      CFG__DURATION, limits.ruler_evaluation_delay_duration_ms, "0s", LOGD,
      "Rules are evaluated this far in the past."),
    K("limits_config.ruler_max_rules_per_rule_group", "ruler.max-rules-per-rule-group", CFG__INT,
      limits.ruler_max_rules_per_rule_group, "0", LOGD, "Rules per group; 0: no limit."),
    K("limits_config.ruler_max_rule_groups_per_tenant", "ruler.max-rule-groups-per-tenant",
      CFG__INT, limits.ruler_max_rule_groups_per_tenant, "0", LOGD,
      "Groups per tenant; 0: no limit."),
    K("limits_config.ruler_remote_write_disabled", "ruler.remote-write.disabled", CFG__BOOL,
      limits.ruler_remote_write_disabled, "false", LOGD,
      "Turn off remote write of this tenant's recording rules."),

    /* ruler (both rulers) */
    K("ruler.enable_api", "ruler.enable-api", CFG__BOOL, ruler.enable_api, "true", PROMD | LOGD,
      "Serve the ruler configuration API."),
    K("ruler.external_url", "ruler.external.url", CFG__STRING, ruler.external_url, NULL,
      PROMD | LOGD, "Base of alerts' generatorURL."),
    K("ruler.evaluation_interval", "ruler.evaluation-interval", CFG__DURATION,
      ruler.evaluation_interval_ms, "1m", PROMD | LOGD, "Interval of groups without `interval`."),
    K("ruler.poll_interval", "ruler.poll-interval", CFG__DURATION, ruler.poll_interval_ms, "10m",
      PROMD, "How often rule storage is re-read."),
    K("ruler.poll_interval", "ruler.poll-interval", CFG__DURATION, ruler.poll_interval_ms, "1m",
      LOGD, "How often rule storage is re-read."),
    K("ruler.rule_path", "ruler.rule-path", CFG__STRING, ruler.rule_path, "./data/rules-data",
      PROMD, "Scratch directory for rule files."),
    K("ruler.rule_path", "ruler.rule-path", CFG__STRING, ruler.rule_path, "./data/loki/rules-temp",
      LOGD, "Scratch directory for rule files."),
    K("ruler.alertmanager_url", "ruler.alertmanager-url", CFG__STRING, ruler.alertmanager_url,
      "http://localhost:9009/alertmanager", PROMD | LOGD,
      "Comma-separated Alertmanager URLs; empty: alerts are not sent (herald's default is "
      "herald-promd's embedded Alertmanager; upstream's is empty)."),
    K("ruler.alertmanager_refresh_interval", "ruler.alertmanager-refresh-interval", CFG__DURATION,
      ruler.alertmanager_refresh_interval_ms, "1m", PROMD | LOGD,
      "How often Alertmanager URLs are re-resolved."),
    K("ruler.enable_alertmanager_v2", "ruler.alertmanager-use-v2", CFG__BOOL,
      ruler.enable_alertmanager_v2, "true", LOGD, "Send alerts with the v2 API."),
    K("ruler.notification_queue_capacity", "ruler.notification-queue-capacity", CFG__INT,
      ruler.notification_queue_capacity, "10000", PROMD | LOGD,
      "Alerts queued for sending, per tenant."),
    K("ruler.notification_timeout", "ruler.notification-timeout", CFG__DURATION,
      ruler.notification_timeout_ms, "10s", PROMD | LOGD, "Timeout of one alert POST."),
    K("ruler.for_outage_tolerance", "ruler.for-outage-tolerance", CFG__DURATION,
      ruler.for_outage_tolerance_ms, "1h", PROMD | LOGD,
      "Longest outage after which `for` state is still restored."),
    K("ruler.for_grace_period", "ruler.for-grace-period", CFG__DURATION, ruler.for_grace_period_ms,
      "2m", PROMD, "Alerts with a shorter `for` are not restored."),
    K("ruler.for_grace_period", "ruler.for-grace-period", CFG__DURATION, ruler.for_grace_period_ms,
      "10m", LOGD, "Alerts with a shorter `for` are not restored."),
    K("ruler.resend_delay", "ruler.resend-delay", CFG__DURATION, ruler.resend_delay_ms, "1m",
      PROMD | LOGD, "Least time between two sends of a firing alert."),
    K("ruler.tenant_label_name", "ruler.tenant-label-name", CFG__STRING, ruler.tenant_label_name,
      NULL, PROMD | LOGD,
      "herald: label set to the tenant ID on every alert sent; empty: off. A rule's own label "
      "wins."),
    K("ruler.tenant_federation.enabled", "ruler.tenant-federation.enabled", CFG__BOOL,
      ruler.tenant_federation_enabled, "false", PROMD, "Allow `source_tenants` in groups."),
    K("ruler.wal.dir", "ruler.wal.dir", CFG__STRING, ruler.wal_dir, "./data/loki/ruler-wal", LOGD,
      "WAL of recording-rule results."),
    K("ruler.remote_write.enabled", "ruler.remote-write.enabled", CFG__BOOL,
      ruler.remote_write_enabled, "false", LOGD, "Remote-write recording-rule results."),
    K("ruler.remote_write.add_org_id_header", "ruler.remote-write.add-org-id-header", CFG__BOOL,
      ruler.remote_write_add_org_id_header, "true", LOGD,
      "Send the rule's tenant as X-Scope-OrgID."),
    {.path = "ruler.remote_write.clients",
     .type = CFG__LIST,
     .offset = offsetof(cfg_t, ruler.remote_write_clients),
     .count_offset = offsetof(cfg_t, ruler.n_remote_write_clients),
     .programs = LOGD,
     .sub = &rw_client_table,
     .help = "Remote-write clients by name; every recorded sample goes to each of them."},
    IGN("ruler.remote_write.config_refresh_period", LOGD),
    IGN("ruler.ring", PROMD | LOGD),
    IGN("ruler.enable_sharding", LOGD),
    IGN("ruler.alertmanager_client", PROMD),
    /* Loki's ruler store lives under ruler.storage; Mimir's in ruler_storage. */
    KC("ruler.storage.type", "ruler.storage.type", ruler_storage.backend, "local", "local", LOGD,
       "Rule store; herald supports local, writable through the API (upstream: read-only)."),
    K("ruler.storage.local.directory", "ruler.storage.local.directory", CFG__STRING,
      ruler_storage.local_directory, "./data/loki/rules", LOGD,
      "Rule files: `<dir>/<tenant>/<namespace>`."),
    KC("ruler_storage.backend", "ruler-storage.backend", ruler_storage.backend, "filesystem",
       "filesystem|local", PROMD, "Rule store; local is read-only."),
    K("ruler_storage.filesystem.dir", "ruler-storage.filesystem.dir", CFG__STRING,
      ruler_storage.filesystem_dir, "./data/rules", PROMD,
      "Rule files: `<dir>/<tenant>/<namespace>`."),
    K("ruler_storage.local.directory", "ruler-storage.local.directory", CFG__STRING,
      ruler_storage.local_directory, NULL, PROMD, "Read-only rule directory (backend local)."),

    /* alertmanager (Mimir) */
    K("alertmanager.enable_api", "alertmanager.enable-api", CFG__BOOL, alertmanager.enable_api,
      "true", MIMIR, "Serve the per-tenant configuration API /api/v1/alerts."),
    K("alertmanager.data_dir", "alertmanager.storage.path", CFG__STRING, alertmanager.data_dir,
      "./data/alertmanager", MIMIR, "Silences and notification log, per tenant."),
    K("alertmanager.external_url", "alertmanager.web.external-url", CFG__STRING,
      alertmanager.external_url, "http://localhost:9009/alertmanager", PROMD,
      "URL the Alertmanager is reachable at; its path prefixes the API."),
    K("alertmanager.external_url", "alertmanager.web.external-url", CFG__STRING,
      alertmanager.external_url, "http://localhost:9093/alertmanager", ALERTD,
      "URL the Alertmanager is reachable at; its path prefixes the API."),
    K("alertmanager.fallback_config_file", "alertmanager.configs.fallback", CFG__STRING,
      alertmanager.fallback_config_file, NULL, MIMIR,
      "Alertmanager YAML for tenants without their own configuration."),
    K("alertmanager.retention", "alertmanager.storage.retention", CFG__DURATION,
      alertmanager.retention_ms, "120h", MIMIR, "How long silences and the log are kept."),
    K("alertmanager.poll_interval", "alertmanager.configs.poll-interval", CFG__DURATION,
      alertmanager.poll_interval_ms, "15s", MIMIR, "How often tenant configurations are read."),
    K("alertmanager.max_recv_msg_size", "alertmanager.max-recv-msg-size", CFG__INT64,
      alertmanager.max_recv_msg_size, "104857600", MIMIR, "Largest request body, in bytes."),
    IGN("alertmanager.sharding_ring", MIMIR),
    KC("alertmanager_storage.backend", "alertmanager-storage.backend", alertmanager_storage.backend,
       "filesystem", "filesystem|local", MIMIR, "Configuration store; local is read-only."),
    K("alertmanager_storage.filesystem.dir", "alertmanager-storage.filesystem.dir", CFG__STRING,
      alertmanager_storage.filesystem_dir, "./data/alertmanager-configs", MIMIR,
      "Per-tenant configurations."),
    K("alertmanager_storage.local.path", "alertmanager-storage.local.path", CFG__STRING,
      alertmanager_storage.local_path, NULL, MIMIR, "Read-only configurations (backend local)."),

    /* herald-rulesync */
    K("manifest_dir", "manifest-dir", CFG__STRING, rulesync.manifest_dir, NULL, RULESYNC,
      "herald: read PrometheusRule YAML files from this directory instead of the "
      "Kubernetes API."),
    K("kubernetes.api_server", "kubernetes.api-server", CFG__STRING, rulesync.kubernetes_api_server,
      NULL, RULESYNC, "Kubernetes API URL; empty: in-cluster (KUBERNETES_SERVICE_HOST)."),
    K("kubernetes.kubeconfig_file", "kubernetes.kubeconfig-file", CFG__STRING,
      rulesync.kubernetes_kubeconfig_file, NULL, RULESYNC, "kubeconfig to use."),
    K("kubernetes.bearer_token_file", "kubernetes.bearer-token-file", CFG__STRING,
      rulesync.kubernetes_bearer_token_file, NULL, RULESYNC, "Service account token file."),
    K("kubernetes.ca_file", "kubernetes.ca-file", CFG__STRING, rulesync.kubernetes_ca_file, NULL,
      RULESYNC, "CA bundle of the API server."),
    K("kubernetes.insecure_skip_verify", "kubernetes.insecure-skip-verify", CFG__BOOL,
      rulesync.kubernetes_insecure_skip_verify, "false", RULESYNC,
      "Skip TLS verification of the API server."),
    {.path = "mimir_rules",
     .type = CFG__LIST,
     .offset = offsetof(cfg_t, rulesync.mimir_rules),
     .count_offset = offsetof(cfg_t, rulesync.n_mimir_rules),
     .programs = RULESYNC,
     .sub = &rules_target_table,
     .sub_programs = MR,
     .help = "Syncers to Mimir rulers (arguments of Alloy's mimir.rules.kubernetes)."},
    {.path = "loki_rules",
     .type = CFG__LIST,
     .offset = offsetof(cfg_t, rulesync.loki_rules),
     .count_offset = offsetof(cfg_t, rulesync.n_loki_rules),
     .programs = RULESYNC,
     .sub = &rules_target_table,
     .sub_programs = LR,
     .help = "Syncers to Loki rulers (arguments of Alloy's loki.rules.kubernetes)."},

    /* Mimir and Loki sections that only matter to a distributed deployment. */
    IGN("ingester", PROMD | LOGD),
    IGN("compactor", PROMD | LOGD),
    IGN("store_gateway", PROMD),
    IGN("memberlist", PROMD | LOGD | ALERTD),
    IGN("frontend", PROMD | LOGD),
    IGN("frontend_worker", PROMD | LOGD),
    IGN("query_scheduler", PROMD | LOGD),
    IGN("overrides_exporter", PROMD),
    IGN("usage_stats", PROMD | ALERTD),
    IGN("activity_tracker", PROMD),
    IGN("schema_config", LOGD),
    IGN("storage_config", LOGD),
    IGN("query_range", LOGD),
    IGN("analytics", LOGD),
    IGN("pattern_ingester", LOGD),
    IGN("table_manager", LOGD),
    IGN("chunk_store_config", LOGD),
    IGN("index_gateway", LOGD),
    IGN("tracing", LOGD),
};

const cfg__table_t cfg__root = {root_keys, sizeof(root_keys) / sizeof(root_keys[0]), sizeof(cfg_t)};

unsigned cfg__program_mask(cfg_program_t prog)
{
    return 1u << prog;
}
