/* config/config.h - typed configuration of the four herald programs, loaded from defaults,
 * a YAML file (libyaml) and command-line flags, in that order (flags override the file).
 *
 * YAML keys and flag names are Mimir's (herald-promd, herald-alertd), Loki's (herald-logd) and
 * Alloy's mimir.rules.kubernetes / loki.rules.kubernetes arguments (herald-rulesync). One
 * table of keys drives parsing, flags, -help, the YAML dump (GET /config) and
 * docs/configuration.md. Every key is listed there with its flag and default.
 *
 * Ownership: a loaded cfg_t is an immutable, refcounted snapshot (cfg_ref / cfg_unref). A
 * reload builds a new snapshot; cfg_slot_t swaps snapshots under a brief lock so readers take
 * a reference and then read freely. Strings in a cfg_t are never NULL ("" when unset).
 * Thread-safety: a snapshot is read-only once returned, so any thread may read it.
 *
 * Units: durations are int64 milliseconds (`_ms`), sizes int64 bytes, booleans int 0/1. */
#ifndef HERALD_CONFIG_CONFIG_H
#define HERALD_CONFIG_CONFIG_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

typedef enum {
    CFG_PROMD,    /* herald-promd: Mimir keys, port 9009 */
    CFG_LOGD,     /* herald-logd: Loki keys, port 3100 */
    CFG_ALERTD,   /* herald-alertd: Mimir alertmanager keys, port 9093 */
    CFG_RULESYNC, /* herald-rulesync: Alloy rules.kubernetes arguments, port 12345 */
} cfg_program_t;

typedef struct {
    char **items;
    size_t n;
} cfg_strlist_t;

typedef struct {
    char **keys; /* sorted, unique */
    char **values;
    size_t n;
} cfg_strmap_t;

typedef struct {
    int64_t *ms;
    size_t n;
} cfg_durlist_t;

/* server: (dskit) */
typedef struct {
    char *http_listen_address; /* "" = every interface */
    int http_listen_port;
    int grpc_listen_port;   /* accepted for compatibility; herald serves no gRPC */
    char *http_path_prefix; /* prefix of every route */
    char *log_level;        /* debug|info|warn|error */
    char *log_format;       /* logfmt|json */
    int64_t graceful_shutdown_timeout_ms;
    int64_t http_server_read_timeout_ms;
    int64_t http_server_write_timeout_ms;
    int64_t http_server_idle_timeout_ms;
    int http_listen_conn_limit; /* 0 = no limit */
    int http_server_threads;    /* herald: libmicrohttpd pool size */
} cfg_server_t;

/* blocks_storage: (Mimir) */
typedef struct {
    char *backend;        /* only "filesystem" */
    char *filesystem_dir; /* long-term blocks (herald keeps them under tsdb.dir) */
    char *tsdb_dir;       /* WAL + blocks, one sub-folder per tenant */
    int64_t tsdb_retention_period_ms;
    cfg_durlist_t tsdb_block_ranges_period;
    int64_t tsdb_head_compaction_interval_ms;
    int tsdb_wal_compression_enabled;
    int64_t tsdb_wal_segment_size_bytes;
    int tsdb_flush_blocks_on_shutdown;
} cfg_blocks_storage_t;

/* common: (Loki) */
typedef struct {
    char *path_prefix; /* chunks, index, WAL, per tenant */
    char *storage_filesystem_chunks_directory;
    char *storage_filesystem_rules_directory;
} cfg_common_t;

/* querier: */
typedef struct {
    int64_t timeout_ms;  /* Mimir querier.timeout */
    int max_concurrent;  /* queries run at once (a semaphore) */
    int64_t max_samples; /* Mimir querier.max_samples */
    int64_t lookback_delta_ms;
    int multi_tenant_queries_enabled; /* Loki */
    int max_concurrent_tail_requests; /* Loki: live tails per tenant */
    int64_t tail_max_duration_ms;     /* Loki */
} cfg_querier_t;

/* limits: (Mimir) and limits_config: (Loki). Fields a program does not use keep defaults. */
typedef struct {
    /* Mimir ingestion */
    double ingestion_rate; /* samples/s */
    int ingestion_burst_size;
    int max_global_series_per_user;
    int max_global_series_per_metric;
    int max_global_metadata_per_user;
    int max_metadata_length;
    int64_t past_grace_period_ms;
    int64_t out_of_order_time_window_ms;
    /* both */
    int max_label_names_per_series;
    int max_label_name_length;
    int max_label_value_length;
    int64_t creation_grace_period_ms;
    int64_t max_query_lookback_ms;
    int max_query_parallelism;
    /* Mimir queries */
    int max_fetched_series_per_query;
    int max_fetched_chunks_per_query;
    int64_t max_fetched_chunk_bytes_per_query;
    int64_t max_total_query_length_ms;
    int64_t max_partial_query_length_ms;
    int64_t compactor_blocks_retention_period_ms;
    /* ruler (both) */
    int ruler_max_rules_per_rule_group;
    int ruler_max_rule_groups_per_tenant;
    int64_t ruler_evaluation_delay_duration_ms;
    int ruler_recording_rules_evaluation_enabled;
    int ruler_alerting_rules_evaluation_enabled;
    int ruler_sync_rules_on_changes_enabled;
    char *ruler_protected_namespaces; /* comma-separated */
    int ruler_tenant_shard_size;
    int ruler_remote_write_disabled;    /* Loki */
    cfg_strmap_t ruler_external_labels; /* Mimir: labels added to every alert */
    /* alertmanager (Mimir) */
    int alertmanager_max_config_size_bytes;
    int alertmanager_max_templates_count;
    int alertmanager_max_template_size_bytes;
    int alertmanager_max_alerts_count;
    int alertmanager_max_alerts_size_bytes;
    int alertmanager_max_silences_count;
    int alertmanager_max_silence_size_bytes;
    double alertmanager_notification_rate_limit; /* per second, 0 = none */
    cfg_strmap_t alertmanager_notification_rate_limit_per_integration; /* name -> rate text */
    int alertmanager_max_dispatcher_aggregation_groups;
    /* Loki */
    double ingestion_rate_mb;
    double ingestion_burst_size_mb;
    int reject_old_samples;
    int64_t reject_old_samples_max_age_ms;
    int64_t max_line_size_bytes;
    int max_line_size_truncate;
    int max_streams_per_user;
    int max_global_streams_per_user;
    int64_t per_stream_rate_limit_bytes;
    int64_t per_stream_rate_limit_burst_bytes;
    int max_entries_limit_per_query;
    int max_query_series;
    int64_t max_query_length_ms;
    int64_t query_timeout_ms;
    int64_t retention_period_ms;
    int allow_structured_metadata;
    int increment_duplicate_timestamp;
} cfg_limits_t;

/* Loki's ruler.remote_write.clients.<name>: one Prometheus remote_write entry. */
typedef struct {
    char *name;                /* the map key */
    char *url;                 /* required */
    int64_t remote_timeout_ms; /* 30s */
    cfg_strmap_t headers;      /* an X-Scope-OrgID here is replaced by the rule's tenant */
    char *basic_auth_username;
    char *basic_auth_password;
    char *bearer_token;
} cfg_rw_client_t;

/* ruler: (both; Loki-only keys noted) */
typedef struct {
    int enable_api;
    char *external_url;             /* generatorURL base */
    int64_t evaluation_interval_ms; /* default for groups without `interval` */
    int64_t poll_interval_ms;
    char *rule_path;
    char *alertmanager_url; /* comma-separated; "" = alerts are not sent */
    int64_t alertmanager_refresh_interval_ms;
    int enable_alertmanager_v2; /* Loki; Mimir always uses v2 */
    int notification_queue_capacity;
    int64_t notification_timeout_ms;
    int64_t for_outage_tolerance_ms;
    int64_t for_grace_period_ms;
    int64_t resend_delay_ms;
    char *tenant_label_name;       /* herald: label carrying the tenant id, "" = off */
    int tenant_federation_enabled; /* Mimir */
    char *wal_dir;                 /* Loki ruler WAL */
    int remote_write_enabled;      /* Loki: recording-rule results remote-written */
    int remote_write_add_org_id_header;
    cfg_rw_client_t *remote_write_clients; /* Loki: ruler.remote_write.clients (a map) */
    size_t n_remote_write_clients;
} cfg_ruler_t;

/* Rule store. backend "filesystem": filesystem_dir, read-write. "local": local_directory
 * (Mimir: read-only; herald-logd: Loki's ruler.storage.type=local, writable, see contract). */
typedef struct {
    char *backend;
    char *filesystem_dir;
    char *local_directory;
} cfg_rule_store_t;

/* alertmanager: (Mimir) */
typedef struct {
    int enable_api;
    char *data_dir; /* silences, notification log, per tenant */
    char *external_url;
    char *fallback_config_file; /* Alertmanager YAML for tenants without their own */
    int64_t retention_ms;
    int64_t poll_interval_ms;
    int64_t max_recv_msg_size;
} cfg_alertmanager_t;

/* alertmanager_storage: (Mimir) */
typedef struct {
    char *backend; /* filesystem | local (read-only) */
    char *filesystem_dir;
    char *local_path;
} cfg_am_store_t;

/* herald-rulesync: one entry of mimir_rules / loki_rules (Alloy component arguments). */
typedef struct {
    char *key;
    char *operator; /* In | NotIn | Exists | DoesNotExist */
    cfg_strlist_t values;
} cfg_match_expr_t;

typedef struct {
    cfg_strmap_t match_labels;
    cfg_match_expr_t *match_expression;
    size_t n_match_expression;
} cfg_label_selector_t;

typedef struct {
    char *name;
    char *match_type; /* = != =~ !~ */
    char *value;
    char *value_from_label;
} cfg_query_matcher_t;

typedef struct {
    char *address;   /* ruler base URL, required */
    char *tenant_id; /* X-Scope-OrgID; "" = no header */
    int use_legacy_routes;
    char *prometheus_http_prefix; /* mimir only */
    char *namespace_prefix;       /* mimir_namespace_prefix / loki_namespace_prefix */
    char *namespace_separator;
    int64_t sync_interval_ms;
    cfg_strmap_t external_labels;
    cfg_query_matcher_t *extra_query_matchers;
    size_t n_extra_query_matchers;
    cfg_label_selector_t rule_selector;
    cfg_label_selector_t rule_namespace_selector;
    cfg_strlist_t copy_object_labels; /* herald: PrometheusRule labels copied onto rules */
    char *bearer_token;
    char *bearer_token_file;
    char *basic_auth_username;
    char *basic_auth_password;
    char *basic_auth_password_file;
    cfg_strmap_t http_headers;
} cfg_rules_target_t;

typedef struct {
    char *manifest_dir;          /* PrometheusRule YAML files, read instead of the API */
    char *kubernetes_api_server; /* "" = in-cluster (KUBERNETES_SERVICE_HOST) */
    char *kubernetes_kubeconfig_file;
    char *kubernetes_bearer_token_file;
    char *kubernetes_ca_file;
    int kubernetes_insecure_skip_verify;
    cfg_rules_target_t *mimir_rules;
    size_t n_mimir_rules;
    cfg_rules_target_t *loki_rules;
    size_t n_loki_rules;
} cfg_rulesync_t;

typedef struct cfg_internal cfg_internal_t; /* refcount, argv copy */

typedef struct cfg {
    cfg_program_t program;
    char *file;       /* the loaded -config.file, "" when none */
    int show_help;    /* -help / -h given: print cfg_write_help and exit 0 */
    int show_version; /* -version given */

    char *target;
    int multitenancy_enabled; /* Mimir multitenancy_enabled, Loki auth_enabled */
    char *no_auth_tenant;     /* tenant when multitenancy is off: anonymous / fake */
    int tenant_federation_enabled;
    char *api_prometheus_http_prefix;   /* /prometheus */
    char *api_alertmanager_http_prefix; /* /alertmanager */
    int64_t distributor_max_recv_msg_size;
    char *runtime_config_file;
    int64_t runtime_config_period_ms;

    cfg_server_t server;
    cfg_blocks_storage_t blocks_storage;
    cfg_common_t common;
    cfg_querier_t querier;
    cfg_limits_t limits;
    cfg_ruler_t ruler;
    cfg_rule_store_t ruler_storage;
    cfg_alertmanager_t alertmanager;
    cfg_am_store_t alertmanager_storage;
    cfg_rulesync_t rulesync;

    cfg_internal_t *internal;
} cfg_t;

/* Builds a snapshot for `prog` from defaults, the file named by -config.file (optional) and
 * the flags in argv[1..argc-1]. With -config.expand-env=true, ${VAR}, ${VAR:default} and
 * ${VAR:-default} are substituted in the file before YAML parsing.
 * Errors (NULL + ERR_BAD_DATA), one line each, e.g.
 *   `cfg.yaml:3: unknown key "foo" in section "ruler"`
 *   `cfg.yaml:2: key "server.http_listen_port": cannot unmarshal "abc" into int`
 *   `flag provided but not defined: -nope`
 * Caller owns one reference. */
cfg_t *cfg_load(cfg_program_t prog, int argc, char *const argv[], err_t *err);
/* Re-reads the same file with the same flags as `cur`. New snapshot or NULL + err. */
cfg_t *cfg_reload(const cfg_t *cur, err_t *err);
/* Defaults + YAML text only (no flags, no env expansion), for tests and the fuzz target.
 *   prog       which program's keys and defaults
 *   yaml, len  the text (need not be NUL-terminated)
 *   file_name  used in error messages */
cfg_t *cfg_parse(cfg_program_t prog, const char *yaml, size_t len, const char *file_name,
                 err_t *err);

cfg_t *cfg_ref(cfg_t *c);
void cfg_unref(cfg_t *c); /* NULL is a no-op; the last unref frees */

/* The effective configuration as YAML, every key of the program (GET /config). */
void cfg_dump_yaml(const cfg_t *c, buf_t *out);
/* Usage text: every flag with its type, default and help (-help). */
void cfg_write_help(cfg_program_t prog, buf_t *out);
/* Markdown reference of every key of every program (docs/configuration.md). */
void cfg_write_docs(buf_t *out);
const char *cfg_program_name(cfg_program_t prog); /* "herald-promd", ... */

/* Per-tenant limits from the runtime configuration file (runtime_config.file), as Mimir's
 * and Loki's runtime config:
 *   overrides:
 *     team-a:
 *       ingestion_rate: 50000        # any key of limits: (Mimir) / limits_config: (Loki)
 * A tenant's limits start from the snapshot's limits; keys given override them. Immutable
 * once built; cfg_overrides_get may be called from any thread. Re-load every
 * runtime_config.period and swap, as with snapshots. */
typedef struct cfg_overrides cfg_overrides_t;

/* Reads c->runtime_config_file ("" gives no per-tenant overrides). Errors as cfg_load's,
 * e.g. `rt.yaml:3: unknown key "x" in section "overrides.team-a"`. Caller owns the result;
 * it keeps a reference to c. */
cfg_overrides_t *cfg_overrides_load(cfg_t *c, err_t *err);
/* The same from YAML text (tests, fuzzing): c gives the program and the default limits,
 * yaml/len the text, file_name the name used in messages. */
cfg_overrides_t *cfg_overrides_parse(cfg_t *c, const char *yaml, size_t len,
                                     const char *file_name, err_t *err);
/* The tenant's limits, or the defaults (c->limits) for a tenant without overrides. Borrowed:
 * valid while the overrides object lives. */
const cfg_limits_t *cfg_overrides_get(const cfg_overrides_t *o, const char *tenant);
size_t cfg_overrides_count(const cfg_overrides_t *o); /* tenants with overrides */
void cfg_overrides_free(cfg_overrides_t *o);           /* NULL is a no-op */

/* Holder of the current snapshot (one per daemon). Thread-safe. */
typedef struct {
    pthread_mutex_t mu;
    cfg_t *cur;
} cfg_slot_t;

void cfg_slot_init(cfg_slot_t *s, cfg_t *c); /* steals c */
cfg_t *cfg_slot_get(cfg_slot_t *s);          /* new reference: cfg_unref it */
void cfg_slot_set(cfg_slot_t *s, cfg_t *c);  /* steals c, drops the old snapshot */
void cfg_slot_fini(cfg_slot_t *s);

#endif
