/* tests/unit/test_config.c - config: defaults, YAML, errors, flags, env expansion, dump
 * round trip, reload, the snapshot slot, the key table's consistency and the generated docs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "config/config.h"
#include "test.h"

static cfg_t *parse(cfg_program_t prog, const char *yaml, err_t *err)
{
    return cfg_parse(prog, yaml, strlen(yaml), "f.yaml", err);
}

/* Parses yaml, expecting failure; returns the message (static storage). */
static const char *parse_error(cfg_program_t prog, const char *yaml)
{
    static err_t err;
    err_clear(&err);
    cfg_t *c = parse(prog, yaml, &err);
    if (c != NULL) {
        cfg_unref(c);
        return "(no error)";
    }
    return err.msg;
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/herald-test-config-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        abort();
    }
    close(fd);
    return path;
}

static char *dump(const cfg_t *c)
{
    buf_t b;
    buf_init(&b);
    cfg_dump_yaml(c, &b);
    return buf_steal(&b, NULL);
}

TEST(defaults_promd)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_PROMD, "", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 9009);
    ASSERT_STR_EQ(c->server.http_listen_address, "");
    ASSERT_EQ(c->multitenancy_enabled, 1);
    ASSERT_STR_EQ(c->no_auth_tenant, "anonymous");
    ASSERT_STR_EQ(c->blocks_storage.tsdb_dir, "./data/tsdb");
    ASSERT_EQ(c->blocks_storage.tsdb_retention_period_ms, 15LL * 86400 * 1000);
    ASSERT_EQ(c->blocks_storage.tsdb_block_ranges_period.n, 1);
    ASSERT_EQ(c->blocks_storage.tsdb_block_ranges_period.ms[0], 2 * 3600 * 1000);
    ASSERT_STR_EQ(c->ruler.alertmanager_url, "http://localhost:9009/alertmanager");
    ASSERT_STR_EQ(c->ruler_storage.backend, "filesystem");
    ASSERT_STR_EQ(c->ruler_storage.filesystem_dir, "./data/rules");
    ASSERT_EQ(c->ruler.for_grace_period_ms, 2 * 60 * 1000);
    ASSERT_EQ(c->ruler.poll_interval_ms, 10 * 60 * 1000);
    ASSERT_STR_EQ(c->alertmanager.external_url, "http://localhost:9009/alertmanager");
    ASSERT_STR_EQ(c->alertmanager.data_dir, "./data/alertmanager");
    ASSERT_STR_EQ(c->alertmanager_storage.filesystem_dir, "./data/alertmanager-configs");
    ASSERT_EQ(c->alertmanager.retention_ms, 120LL * 3600 * 1000);
    ASSERT_EQ(c->limits.ruler_evaluation_delay_duration_ms, 60000);
    ASSERT_EQ(c->limits.ruler_max_rules_per_rule_group, 20);
    ASSERT_DBL_EQ(c->limits.ingestion_rate, 10000);
    ASSERT_EQ(c->querier.max_samples, 50000000);
    ASSERT_EQ(c->distributor_max_recv_msg_size, 104857600);
    /* Loki-only strings exist (empty) so shared code never sees NULL. */
    ASSERT_STR_EQ(c->common.path_prefix, "");
    ASSERT_STR_EQ(c->ruler.wal_dir, "");
    ASSERT_STR_EQ(c->file, "");
    cfg_unref(c);
}

TEST(defaults_logd_alertd_rulesync)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_LOGD, "", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 3100);
    ASSERT_STR_EQ(c->no_auth_tenant, "fake");
    ASSERT_STR_EQ(c->ruler_storage.backend, "local");
    ASSERT_STR_EQ(c->ruler_storage.local_directory, "./data/loki/rules");
    ASSERT_EQ(c->ruler.enable_alertmanager_v2, 1);
    ASSERT_EQ(c->ruler.for_grace_period_ms, 10 * 60 * 1000);
    ASSERT_EQ(c->limits.max_line_size_bytes, 256 * 1024);
    ASSERT_EQ(c->limits.per_stream_rate_limit_burst_bytes, 15 * 1024 * 1024);
    ASSERT_EQ(c->limits.max_query_length_ms, 721LL * 3600 * 1000);
    ASSERT_EQ(c->limits.reject_old_samples_max_age_ms, 7LL * 86400 * 1000);
    ASSERT_EQ(c->limits.ruler_evaluation_delay_duration_ms, 0);
    ASSERT_EQ(c->limits.max_label_names_per_series, 15);
    cfg_unref(c);
    c = parse(CFG_ALERTD, "", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 9093);
    ASSERT_STR_EQ(c->alertmanager.external_url, "http://localhost:9093/alertmanager");
    ASSERT_STR_EQ(c->target, "alertmanager");
    cfg_unref(c);
    c = parse(CFG_RULESYNC, "", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 12345);
    ASSERT_EQ(c->rulesync.n_mimir_rules, 0);
    cfg_unref(c);
}

TEST(contract_configs_load)
{
    static const char promd[] = "server:\n"
                                "  http_listen_address: 0.0.0.0\n"
                                "  http_listen_port: 9009\n"
                                "multitenancy_enabled: true\n"
                                "blocks_storage:\n"
                                "  tsdb:\n"
                                "    dir: /data/tsdb\n"
                                "    retention_period: 15d\n"
                                "ruler:\n"
                                "  enable_api: true\n"
                                "  alertmanager_url: http://localhost:9009/alertmanager\n"
                                "  rule_path: /data/mimir/rules-data\n"
                                "  evaluation_interval: 30s\n"
                                "  tenant_label_name: tenant\n"
                                "ruler_storage:\n"
                                "  backend: filesystem\n"
                                "  filesystem:\n"
                                "    dir: /data/rules\n"
                                "alertmanager:\n"
                                "  enable_api: true\n"
                                "  data_dir: /data/mimir/alertmanager\n"
                                "  external_url: http://mimir:9009/alertmanager\n"
                                "  fallback_config_file: \"\"\n"
                                "alertmanager_storage:\n"
                                "  backend: filesystem\n"
                                "  filesystem:\n"
                                "    dir: /data/mimir/alertmanager-configs\n"
                                "limits:\n"
                                "  ruler_evaluation_delay_duration: 0s\n"
                                "  ruler_external_labels:\n"
                                "    cluster: eu\n";
    err_t err = {0};
    cfg_t *c = parse(CFG_PROMD, promd, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->server.http_listen_address, "0.0.0.0");
    ASSERT_STR_EQ(c->blocks_storage.tsdb_dir, "/data/tsdb");
    ASSERT_EQ(c->ruler.evaluation_interval_ms, 30000);
    ASSERT_STR_EQ(c->ruler.tenant_label_name, "tenant");
    ASSERT_STR_EQ(c->alertmanager.external_url, "http://mimir:9009/alertmanager");
    ASSERT_STR_EQ(c->alertmanager_storage.filesystem_dir, "/data/mimir/alertmanager-configs");
    ASSERT_EQ(c->limits.ruler_evaluation_delay_duration_ms, 0);
    ASSERT_EQ(c->limits.ruler_external_labels.n, 1);
    ASSERT_STR_EQ(c->limits.ruler_external_labels.values[0], "eu");
    cfg_unref(c);

    static const char logd[] = "auth_enabled: false\n"
                               "server:\n"
                               "  http_listen_port: 3101\n"
                               "common:\n"
                               "  path_prefix: /loki\n"
                               "  replication_factor: 1\n"
                               "  ring:\n"
                               "    kvstore:\n"
                               "      store: inmemory\n"
                               "schema_config:\n"
                               "  configs:\n"
                               "    - from: 2020-10-24\n"
                               "      store: tsdb\n"
                               "ruler:\n"
                               "  alertmanager_url: http://mimir:9009/alertmanager\n"
                               "  enable_api: true\n"
                               "  enable_alertmanager_v2: true\n"
                               "  storage:\n"
                               "    type: local\n"
                               "    local:\n"
                               "      directory: /loki/rules\n"
                               "limits_config:\n"
                               "  max_line_size: 1MB\n"
                               "  ingestion_rate_mb: 8.5\n";
    c = parse(CFG_LOGD, logd, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->multitenancy_enabled, 0);
    ASSERT_EQ(c->server.http_listen_port, 3101);
    ASSERT_STR_EQ(c->common.path_prefix, "/loki");
    ASSERT_STR_EQ(c->ruler_storage.local_directory, "/loki/rules");
    ASSERT_STR_EQ(c->ruler.wal_dir, "/loki/ruler-wal"); /* follows path_prefix */
    ASSERT_STR_EQ(c->ruler.rule_path, "/loki/rules-temp");
    ASSERT_STR_EQ(c->ruler.alertmanager_url, "http://mimir:9009/alertmanager");
    ASSERT_EQ(c->limits.max_line_size_bytes, 1024 * 1024);
    ASSERT_DBL_EQ(c->limits.ingestion_rate_mb, 8.5);
    cfg_unref(c);
}

TEST(unknown_keys_name_file_line_and_section)
{
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  http_listen_port: 1\nbogus: 1\n"),
                  "f.yaml:3: unknown key \"bogus\" at top level");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "ruler:\n  enable_api: true\n  nope: x\n"),
                  "f.yaml:3: unknown key \"nope\" in section \"ruler\"");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "blocks_storage:\n  tsdb:\n    dirr: x\n"),
                  "f.yaml:3: unknown key \"dirr\" in section \"blocks_storage.tsdb\"");
    /* Each program accepts only its own upstream's keys. */
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "multitenancy_enabled: false\n"),
                  "f.yaml:1: unknown key \"multitenancy_enabled\" at top level");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "auth_enabled: false\n"),
                  "f.yaml:1: unknown key \"auth_enabled\" at top level");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "schema_config: {}\n"),
                  "f.yaml:1: unknown key \"schema_config\" at top level");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server.http_listen_port: 1\n"),
                  "f.yaml:1: unknown key \"server.http_listen_port\" at top level");
    ASSERT_STR_EQ(parse_error(CFG_ALERTD, "ruler:\n  enable_api: true\n"),
                  "f.yaml:1: unknown key \"ruler\" at top level");
}

TEST(wrong_types_name_the_key)
{
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  http_listen_port: abc\n"),
                  "f.yaml:2: key \"server.http_listen_port\": cannot unmarshal \"abc\" into int");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  http_listen_port: 99999999999\n"),
                  "f.yaml:2: key \"server.http_listen_port\": cannot unmarshal \"99999999999\" "
                  "into int");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "multitenancy_enabled: maybe\n"),
                  "f.yaml:1: key \"multitenancy_enabled\": cannot unmarshal \"maybe\" into bool");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "ruler:\n  evaluation_interval: 5 minutes\n"),
                  "f.yaml:2: key \"ruler.evaluation_interval\": cannot unmarshal \"5 minutes\" "
                  "into duration");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server: 5\n"),
                  "f.yaml:1: key \"server\": cannot unmarshal a scalar into a section");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  http_listen_port: [1]\n"),
                  "f.yaml:2: key \"server.http_listen_port\": cannot unmarshal a sequence into "
                  "int");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  log_level: verbose\n"),
                  "f.yaml:2: key \"server.log_level\": invalid value \"verbose\" (want one of "
                  "debug|info|warn|error)");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "- a\n- b\n"),
                  "f.yaml:1: the configuration must be a mapping, not a sequence");
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "server:\n  http_listen_port: 1\n"
                                         "server:\n  http_listen_port: 2\n"),
                  "f.yaml:3: key \"server\": mapping key already defined at line 1");
    const char *msg = parse_error(CFG_PROMD, "server: [\n");
    ASSERT_TRUE(strncmp(msg, "f.yaml:", 7) == 0);
}

TEST(null_keeps_default_and_quoted_empty_clears)
{
    err_t err = {0};
    cfg_t *c =
        parse(CFG_PROMD, "ruler:\n  alertmanager_url:\n  rule_path: ~\nalertmanager:\n", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->ruler.alertmanager_url, "http://localhost:9009/alertmanager");
    ASSERT_STR_EQ(c->ruler.rule_path, "./data/rules-data");
    cfg_unref(c);
    c = parse(CFG_PROMD, "ruler:\n  alertmanager_url: ''\n", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->ruler.alertmanager_url, "");
    cfg_unref(c);
}

TEST(values_durations_sizes_bools)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_LOGD,
                     "ruler:\n  evaluation_interval: 1.5h\n  resend_delay: 1m30s\n"
                     "  enable_api: no\n"
                     "limits_config:\n  max_line_size: 512\n  per_stream_rate_limit: 2MiB\n"
                     "  max_query_length: 0\n",
                     &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->ruler.evaluation_interval_ms, 5400000);
    ASSERT_EQ(c->ruler.resend_delay_ms, 90000);
    ASSERT_EQ(c->ruler.enable_api, 0);
    ASSERT_EQ(c->limits.max_line_size_bytes, 512);
    ASSERT_EQ(c->limits.per_stream_rate_limit_bytes, 2 * 1024 * 1024);
    ASSERT_EQ(c->limits.max_query_length_ms, 0);
    cfg_unref(c);
    c = parse(CFG_LOGD,
              "limits_config:\n  max_query_series: 017\n  max_entries_limit_per_query: 0x10\n",
              &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->limits.max_query_series, 17);
    ASSERT_EQ(c->limits.max_entries_limit_per_query, 16);
    cfg_unref(c);
    c = parse(CFG_LOGD,
              "ruler:\n  evaluation_interval: 1.5h\nlimits_config:\n  max_line_size: 512\n"
              "  per_stream_rate_limit: 2MiB\n",
              &err);
    ASSERT_NOT_NULL(c);
    char *y = dump(c);
    ASSERT_TRUE(strstr(y, "evaluation_interval: 1h30m\n") != NULL);
    ASSERT_TRUE(strstr(y, "max_line_size: 512B\n") != NULL);
    ASSERT_TRUE(strstr(y, "per_stream_rate_limit: 2MB\n") != NULL);
    free(y);
    cfg_unref(c);
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "limits_config:\n  max_line_size: 5XB\n"),
                  "f.yaml:2: key \"limits_config.max_line_size\": cannot unmarshal \"5XB\" into "
                  "size");
}

static const char rulesync_yaml[] = "manifest_dir: /rules\n"
                                    "mimir_rules:\n"
                                    "  - address: http://mimir:9009\n"
                                    "    tenant_id: stage\n"
                                    "    rule_selector:\n"
                                    "      match_labels:\n"
                                    "        type: metrics\n"
                                    "        tenant: stage\n"
                                    "      match_expression:\n"
                                    "        - key: team\n"
                                    "          operator: In\n"
                                    "          values: [a, b]\n"
                                    "    extra_query_matchers:\n"
                                    "      matcher:\n"
                                    "        - name: cluster\n"
                                    "          value_from_label: cluster\n"
                                    "    copy_object_labels: [type]\n"
                                    "    basic_auth: {username: u, password: hunter2}\n"
                                    "loki_rules:\n"
                                    "  - address: http://loki:3100\n"
                                    "    tenant_id: prod\n"
                                    "    external_labels: {source: loki}\n";

TEST(rulesync_lists)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_RULESYNC, rulesync_yaml, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->rulesync.manifest_dir, "/rules");
    ASSERT_EQ(c->rulesync.n_mimir_rules, 1);
    const cfg_rules_target_t *m = &c->rulesync.mimir_rules[0];
    ASSERT_STR_EQ(m->address, "http://mimir:9009");
    ASSERT_STR_EQ(m->namespace_separator, "/");
    ASSERT_STR_EQ(m->namespace_prefix, "alloy");
    ASSERT_STR_EQ(m->prometheus_http_prefix, "/prometheus");
    ASSERT_EQ(m->sync_interval_ms, 5 * 60 * 1000);
    ASSERT_EQ(m->rule_selector.match_labels.n, 2);
    ASSERT_STR_EQ(m->rule_selector.match_labels.keys[0], "tenant"); /* sorted */
    ASSERT_STR_EQ(m->rule_selector.match_labels.values[1], "metrics");
    ASSERT_EQ(m->rule_selector.n_match_expression, 1);
    ASSERT_STR_EQ(m->rule_selector.match_expression[0].operator, "In");
    ASSERT_EQ(m->rule_selector.match_expression[0].values.n, 2);
    ASSERT_EQ(m->n_extra_query_matchers, 1);
    ASSERT_STR_EQ(m->extra_query_matchers[0].match_type, "=");
    ASSERT_STR_EQ(m->extra_query_matchers[0].value_from_label, "cluster");
    ASSERT_EQ(m->copy_object_labels.n, 1);
    ASSERT_STR_EQ(m->basic_auth_password, "hunter2");
    char *y = dump(c);
    ASSERT_NULL(strstr(y, "hunter2")); /* GET /config must not show secrets */
    ASSERT_NOT_NULL(strstr(y, "    password: '********'\n"));
    free(y);
    const cfg_rules_target_t *l = &c->rulesync.loki_rules[0];
    ASSERT_STR_EQ(l->namespace_separator, "-");
    ASSERT_EQ(l->sync_interval_ms, 30000);
    ASSERT_STR_EQ(l->external_labels.values[0], "loki");
    ASSERT_STR_EQ(l->prometheus_http_prefix, "");
    cfg_unref(c);
}

TEST(rulesync_errors)
{
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "mimir_rules:\n  - tenant_id: a\n"),
                  "mimir_rules[0]: \"address\" is required");
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "loki_rules:\n  - address: x\n"
                                            "    prometheus_http_prefix: /p\n"),
                  "f.yaml:3: unknown key \"prometheus_http_prefix\" in section \"loki_rules[0]\"");
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "mimir_rules:\n  - address: x\n  - address: y\n"
                                            "    extra_query_matchers:\n      matcher:\n"
                                            "        - name: a\n          value: b\n"
                                            "          value_from_label: c\n"),
                  "mimir_rules[1].extra_query_matchers.matcher[0]: exactly one of \"value\" and "
                  "\"value_from_label\" must be set");
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "mimir_rules:\n  - address: x\n"
                                            "    rule_selector:\n      match_expression:\n"
                                            "        - key: a\n          operator: Exists\n"
                                            "          values: [x]\n"),
                  "mimir_rules[0].rule_selector.match_expression[0]: operator Exists takes no "
                  "values");
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "mimir_rules:\n  - address: x\n"
                                            "    rule_selector:\n      match_labels: [a]\n"),
                  "f.yaml:4: key \"mimir_rules[0].rule_selector.match_labels\": cannot "
                  "unmarshal a sequence into map of strings");
    ASSERT_STR_EQ(parse_error(CFG_RULESYNC, "mimir_rules: {}\n"),
                  "f.yaml:1: key \"mimir_rules\": cannot unmarshal a mapping into a list of "
                  "mappings");
}

static void assert_round_trip(cfg_program_t prog, const char *yaml)
{
    err_t err = {0};
    cfg_t *a = parse(prog, yaml, &err);
    ASSERT_NOT_NULL(a);
    char *ya = dump(a);
    cfg_t *b = cfg_parse(prog, ya, strlen(ya), "dump.yaml", &err);
    if (b == NULL) {
        TEST_FAIL_("dump does not load: %s\n%s", err.msg, ya);
    }
    char *yb = dump(b);
    ASSERT_STR_EQ(ya, yb);
    free(ya);
    free(yb);
    cfg_unref(a);
    cfg_unref(b);
}

static const char rw_clients_yaml[] = "ruler:\n"
                                      "  remote_write:\n"
                                      "    enabled: true\n"
                                      "    clients:\n"
                                      "      local:\n"
                                      "        url: http://localhost:9009/api/v1/push\n"
                                      "        remote_timeout: 10s\n"
                                      "        headers: {X-Custom: a, X-Scope-OrgID: t}\n"
                                      "        basic_auth: {username: u, password: hunter2}\n"
                                      "      'yes':\n"
                                      "        url: http://other/push\n"
                                      "        bearer_token: s3cret\n";

TEST(remote_write_clients_map)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_LOGD, rw_clients_yaml, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->ruler.remote_write_enabled, 1);
    ASSERT_EQ(c->ruler.n_remote_write_clients, 2);
    const cfg_rw_client_t *a = &c->ruler.remote_write_clients[0];
    ASSERT_STR_EQ(a->name, "local"); /* file order */
    ASSERT_STR_EQ(a->url, "http://localhost:9009/api/v1/push");
    ASSERT_EQ(a->remote_timeout_ms, 10000);
    ASSERT_EQ(a->headers.n, 2);
    ASSERT_STR_EQ(a->headers.keys[0], "X-Custom");
    ASSERT_STR_EQ(a->headers.values[1], "t");
    ASSERT_STR_EQ(a->basic_auth_username, "u");
    ASSERT_STR_EQ(a->basic_auth_password, "hunter2");
    ASSERT_STR_EQ(a->bearer_token, "");
    const cfg_rw_client_t *b = &c->ruler.remote_write_clients[1];
    ASSERT_STR_EQ(b->name, "yes");
    ASSERT_EQ(b->remote_timeout_ms, 30000); /* Prometheus's default */
    ASSERT_EQ(b->headers.n, 0);
    ASSERT_STR_EQ(b->basic_auth_username, "");
    ASSERT_STR_EQ(b->bearer_token, "s3cret");
    cfg_unref(c);
    c = parse(CFG_LOGD, "ruler:\n  remote_write:\n    clients: {}\n", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->ruler.n_remote_write_clients, 0);
    ASSERT_NULL(c->ruler.remote_write_clients);
    cfg_unref(c);
}

TEST(remote_write_clients_errors)
{
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      local:\n        url: http://x\n"
                                        "        queue_config: {}\n"),
                  "f.yaml:6: unknown key \"queue_config\" in section "
                  "\"ruler.remote_write.clients.local\"");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      local:\n        url: http://x\n"
                                        "        basic_auth: {user: u}\n"),
                  "f.yaml:6: unknown key \"user\" in section "
                  "\"ruler.remote_write.clients.local.basic_auth\"");
    /* The name is the map key, never a key inside the entry. */
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      local: {url: http://x, name: n}\n"),
                  "f.yaml:4: unknown key \"name\" in section "
                  "\"ruler.remote_write.clients.local\"");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      a: {url: http://x}\n"
                                        "      b: {remote_timeout: 5s}\n"),
                  "ruler.remote_write.clients.b: url for remote_write is empty");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n      a:\n"),
                  "ruler.remote_write.clients.a: url for remote_write is empty");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    enabled: true\n"),
                  "remote-write enabled but no clients URL are configured"); /* Loki's */
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      a: {url: x, bearer_token: t, "
                                        "basic_auth: {username: u}}\n"),
                  "ruler.remote_write.clients.a: at most one of basic_auth and bearer_token "
                  "must be configured");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      - url: http://x\n"),
                  "f.yaml:4: key \"ruler.remote_write.clients\": cannot unmarshal a sequence "
                  "into a map of sections");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      a: http://x\n"),
                  "f.yaml:4: key \"ruler.remote_write.clients.a\": cannot unmarshal a scalar "
                  "into a section");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      a: {url: x, remote_timeout: soon}\n"),
                  "f.yaml:4: key \"ruler.remote_write.clients.a.remote_timeout\": cannot "
                  "unmarshal \"soon\" into duration");
    ASSERT_STR_EQ(parse_error(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                        "      a: {url: x}\n      a: {url: y}\n"),
                  "f.yaml:5: key \"ruler.remote_write.clients.a\": mapping key already "
                  "defined at line 4");
    /* Loki's key: herald-promd (Mimir) has no ruler.remote_write. */
    ASSERT_STR_EQ(parse_error(CFG_PROMD, "ruler:\n  remote_write:\n    clients:\n"
                                         "      a: {url: x}\n"),
                  "f.yaml:2: unknown key \"remote_write\" in section \"ruler\"");
}

TEST(remote_write_clients_dump)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_LOGD, rw_clients_yaml, &err);
    ASSERT_NOT_NULL(c);
    char *y = dump(c);
    ASSERT_NOT_NULL(strstr(y, "  remote_write:\n    enabled: true\n"));
    ASSERT_NOT_NULL(strstr(y, "    clients:\n      local:\n"
                              "        url: http://localhost:9009/api/v1/push\n"
                              "        remote_timeout: 10s\n"));
    ASSERT_NOT_NULL(strstr(y, "      'yes':\n        url: http://other/push\n"
                              "        remote_timeout: 30s\n"));
    ASSERT_NOT_NULL(strstr(y, "          password: '********'\n"));
    ASSERT_NOT_NULL(strstr(y, "        bearer_token: '********'\n"));
    ASSERT_NULL(strstr(y, "hunter2")); /* GET /config must not show secrets */
    ASSERT_NULL(strstr(y, "s3cret"));
    ASSERT_NULL(strstr(y, " name:")); /* the name is the key only */
    free(y);
    cfg_unref(c);
    c = parse(CFG_LOGD, "", &err);
    ASSERT_NOT_NULL(c);
    y = dump(c);
    ASSERT_NOT_NULL(strstr(y, "    clients: {}\n"));
    free(y);
    cfg_unref(c);
    c = parse(CFG_PROMD, "", &err);
    ASSERT_NOT_NULL(c);
    y = dump(c);
    ASSERT_NULL(strstr(y, "remote_write"));
    free(y);
    cfg_unref(c);
}

TEST(dump_round_trips)
{
    assert_round_trip(CFG_LOGD, "common:\n  path_prefix: /var/loki\n");
    assert_round_trip(CFG_PROMD, "");
    assert_round_trip(CFG_LOGD, "");
    assert_round_trip(CFG_ALERTD, "");
    assert_round_trip(CFG_RULESYNC, rulesync_yaml);
    /* Without secrets, which the dump masks. */
    assert_round_trip(CFG_LOGD, "ruler:\n  remote_write:\n    clients:\n"
                                "      b: {url: 'http://b', headers: {X-A: '1'}}\n"
                                "      a: {url: http://a, remote_timeout: 1m, "
                                "basic_auth: {username: u}}\n");
    assert_round_trip(CFG_PROMD, "ruler:\n  alertmanager_url: ''\n  tenant_label_name: 'true'\n"
                                 "  external_url: \"a: b # c\"\n"
                                 "blocks_storage:\n  tsdb:\n    block_ranges_period: [2h, 12h]\n");
}

TEST(dump_shape)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_PROMD, "ruler:\n  tenant_label_name: 'yes'\n", &err);
    ASSERT_NOT_NULL(c);
    char *y = dump(c);
    ASSERT_TRUE(strstr(y, "server:\n  http_listen_address: ''\n  http_listen_port: 9009\n") !=
                NULL);
    ASSERT_TRUE(strstr(y, "\nmultitenancy_enabled: true\n") != NULL);
    ASSERT_TRUE(strstr(y, "  tenant_label_name: 'yes'\n") != NULL);
    ASSERT_TRUE(strstr(y, "    retention_period: 15d\n") != NULL);
    ASSERT_TRUE(strstr(y, "block_ranges_period:\n    - 2h\n") != NULL);
    ASSERT_TRUE(strstr(y, "  ingestion_rate: 10000\n") != NULL);
    ASSERT_TRUE(strstr(y, "ingester") == NULL); /* ignored sections are not dumped */
    ASSERT_TRUE(strstr(y, "auth_enabled") == NULL);
    /* Each section appears once although its rows are spread over the table. */
    const char *ruler = strstr(y, "\nruler:\n");
    ASSERT_NOT_NULL(ruler);
    ASSERT_NULL(strstr(ruler + 1, "\nruler:\n"));
    free(y);
    cfg_unref(c);
}

TEST(alias_bomb_is_refused)
{
    /* 1000 targets x 1000 expressions x 1000 values through aliases: 1e9 nodes from a 20 KB
     * document. The node budget stops the walk instead of spinning for minutes. */
    buf_t y;
    buf_init(&y);
    buf_puts(&y, "mimir_rules:\n  - &t\n    address: x\n    rule_selector:\n"
                 "      match_expression:\n        - &e {key: k, operator: In, values: &v [a");
    for (int i = 1; i < 1000; i++) {
        buf_puts(&y, ", a");
    }
    buf_puts(&y, "]}\n");
    for (int i = 1; i < 1000; i++) {
        buf_puts(&y, "        - *e\n");
    }
    for (int i = 1; i < 1000; i++) {
        buf_puts(&y, "  - *t\n");
    }
    const char *msg = parse_error(CFG_RULESYNC, y.data);
    ASSERT_TRUE(strstr(msg, "document too large") != NULL);
    buf_fini(&y);
}

/* ---- flags ------------------------------------------------------------------------------ */

static cfg_t *load(cfg_program_t prog, err_t *err, int argc, const char **argv)
{
    return cfg_load(prog, argc, (char *const *)argv, err);
}

TEST(flags_override_file_in_every_syntax)
{
    char *path = write_temp("server:\n  http_listen_port: 1111\n  log_level: warn\n"
                            "ruler:\n  alertmanager_url: http://file\n");
    char file_flag[256];
    snprintf(file_flag, sizeof(file_flag), "-config.file=%s", path);
    err_t err = {0};
    const char *argv[] = {"prog",
                          file_flag,
                          "-server.http-listen-port",
                          "2222",
                          "--ruler.alertmanager-url=http://flag",
                          "-auth.multitenancy-enabled=false",
                          "-ruler.enable-api"};
    cfg_t *c = load(CFG_PROMD, &err, 7, argv);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->file, path);
    ASSERT_EQ(c->server.http_listen_port, 2222);
    ASSERT_STR_EQ(c->server.log_level, "warn");
    ASSERT_STR_EQ(c->ruler.alertmanager_url, "http://flag");
    ASSERT_EQ(c->multitenancy_enabled, 0);
    ASSERT_EQ(c->ruler.enable_api, 1);
    cfg_unref(c);
    unlink(path);
    free(path);
}

TEST(flag_errors)
{
    err_t err = {0};
    const char *a1[] = {"prog", "-nope=1"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a1));
    ASSERT_STR_EQ(err.msg, "flag provided but not defined: -nope");
    err_clear(&err);
    const char *a2[] = {"prog", "-server.http-listen-port"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a2));
    ASSERT_STR_EQ(err.msg, "flag needs an argument: -server.http-listen-port");
    err_clear(&err);
    const char *a3[] = {"prog", "-server.http-listen-port=x"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a3));
    ASSERT_STR_EQ(err.msg, "invalid value \"x\" for flag -server.http-listen-port: cannot "
                           "unmarshal \"x\" into int");
    err_clear(&err);
    const char *a4[] = {"prog", "-auth.enabled=false"}; /* Loki's flag, not Mimir's */
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a4));
    ASSERT_STR_EQ(err.msg, "flag provided but not defined: -auth.enabled");
    err_clear(&err);
    const char *a5[] = {"prog", "stray"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a5));
    ASSERT_STR_EQ(err.msg, "unexpected argument: stray");
    err_clear(&err);
    const char *a6[] = {"prog", "-config.file=/nonexistent/herald.yaml"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a6));
    ASSERT_STR_EQ(err.msg, "open /nonexistent/herald.yaml: No such file or directory");
    err_clear(&err);
    const char *a8[] = {"prog", "-ruler.external.url=\xff\xfe"};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, a8));
    ASSERT_STR_EQ(err.msg, "invalid value \"\xff\xfe\" for flag -ruler.external.url: invalid "
                           "UTF-8 in \"\xff\xfe\"");
    err_clear(&err);
    const char *a7[] = {"prog", "-log.level=loud"};
    ASSERT_NULL(load(CFG_LOGD, &err, 2, a7));
    ASSERT_STR_EQ(err.msg, "invalid value \"loud\" for flag -log.level: invalid value \"loud\" "
                           "(want one of debug|info|warn|error)");
}

TEST(file_errors_carry_the_file_name)
{
    char *path = write_temp("server:\n  http_listen_port: abc\n");
    char flag[256];
    snprintf(flag, sizeof(flag), "-config.file=%s", path);
    const char *argv[] = {"prog", flag};
    err_t err = {0};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, argv));
    char want[512];
    snprintf(want, sizeof(want),
             "%s:2: key \"server.http_listen_port\": cannot unmarshal \"abc\" into int", path);
    ASSERT_STR_EQ(err.msg, want);
    unlink(path);
    free(path);
}

TEST(help_and_version)
{
    err_t err = {0};
    const char *argv[] = {"prog", "-config.file=/nonexistent", "-help"};
    cfg_t *c = load(CFG_PROMD, &err, 3, argv);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->show_help, 1);
    cfg_unref(c);
    const char *argv2[] = {"prog", "--version"};
    c = load(CFG_LOGD, &err, 2, argv2);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->show_version, 1);
    cfg_unref(c);
    buf_t b;
    buf_init(&b);
    cfg_write_help(CFG_PROMD, &b);
    ASSERT_TRUE(strncmp(b.data, "Usage of herald-promd:\n", 23) == 0);
    ASSERT_TRUE(strstr(b.data, "\n  -server.http-listen-port int\n") != NULL);
    ASSERT_TRUE(strstr(b.data, "(default 9009)\n") != NULL);
    ASSERT_TRUE(strstr(b.data, "\n  -auth.multitenancy-enabled\n") != NULL);
    ASSERT_TRUE(strstr(b.data, "(default \"./data/tsdb\")\n") != NULL);
    ASSERT_TRUE(strstr(b.data, "-auth.enabled\n") == NULL);
    /* Sorted by flag name, as Go prints them. */
    ASSERT_TRUE(strstr(b.data, "-alertmanager.configs.fallback") <
                strstr(b.data, "-server.http-listen-port"));
    buf_fini(&b);
}

TEST(expand_env)
{
    setenv("HERALD_T_PORT", "4444", 1);
    setenv("HERALD_T_EMPTY", "", 1);
    unsetenv("HERALD_T_UNSET");
    char *path = write_temp("server:\n  http_listen_port: ${HERALD_T_PORT}\n"
                            "  http_listen_address: ${HERALD_T_UNSET:127.0.0.1}\n"
                            "  http_path_prefix: ${HERALD_T_EMPTY:-/p}$HERALD_T_PORT\n"
                            "ruler:\n  external_url: x${HERALD_T_UNSET}y$\n"
                            "  tenant_label_name: ${unterminated\n");
    char flag[256];
    snprintf(flag, sizeof(flag), "-config.file=%s", path);
    err_t err = {0};
    const char *argv[] = {"prog", flag, "-config.expand-env=true"};
    cfg_t *c = load(CFG_PROMD, &err, 3, argv);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 4444);
    ASSERT_STR_EQ(c->server.http_listen_address, "127.0.0.1");
    ASSERT_STR_EQ(c->server.http_path_prefix, "/p4444");
    ASSERT_STR_EQ(c->ruler.external_url, "xy$");
    ASSERT_STR_EQ(c->ruler.tenant_label_name, "${unterminated");
    cfg_unref(c);
    /* Without the flag the text is taken literally: ${...} is not an int. */
    const char *argv2[] = {"prog", flag};
    ASSERT_NULL(load(CFG_PROMD, &err, 2, argv2));
    unlink(path);
    free(path);
}

TEST(loki_config_file_list_uses_first_existing)
{
    char *path = write_temp("server:\n  http_listen_port: 3999\n");
    char flag[512];
    snprintf(flag, sizeof(flag), "-config.file=/nonexistent/a.yaml,%s", path);
    err_t err = {0};
    const char *argv[] = {"prog", flag};
    cfg_t *c = load(CFG_LOGD, &err, 2, argv);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->server.http_listen_port, 3999);
    cfg_unref(c);
    unlink(path);
    free(path);
}

TEST(reload_reads_the_file_again_and_keeps_flags)
{
    char *path = write_temp("server:\n  http_listen_port: 1000\n  log_level: debug\n");
    char flag[256];
    snprintf(flag, sizeof(flag), "-config.file=%s", path);
    err_t err = {0};
    const char *argv[] = {"prog", flag, "-log.level=error"};
    cfg_t *c1 = load(CFG_PROMD, &err, 3, argv);
    ASSERT_NOT_NULL(c1);
    FILE *f = fopen(path, "w");
    fputs("server:\n  http_listen_port: 2000\n", f);
    fclose(f);
    cfg_t *c2 = cfg_reload(c1, &err);
    ASSERT_NOT_NULL(c2);
    ASSERT_EQ(c1->server.http_listen_port, 1000); /* the old snapshot is untouched */
    ASSERT_EQ(c2->server.http_listen_port, 2000);
    ASSERT_STR_EQ(c2->server.log_level, "error");
    f = fopen(path, "w");
    fputs("server:\n  nope: 1\n", f);
    fclose(f);
    ASSERT_NULL(cfg_reload(c2, &err));
    ASSERT_TRUE(strstr(err.msg, "unknown key \"nope\"") != NULL);
    cfg_unref(c1);
    cfg_unref(c2);
    unlink(path);
    free(path);
}

TEST(slot_swaps_snapshots)
{
    err_t err = {0};
    cfg_slot_t slot;
    cfg_slot_init(&slot, parse(CFG_PROMD, "server: {http_listen_port: 1}\n", &err));
    cfg_t *held = cfg_slot_get(&slot);
    cfg_slot_set(&slot, parse(CFG_PROMD, "server: {http_listen_port: 2}\n", &err));
    ASSERT_EQ(held->server.http_listen_port, 1); /* a reader's reference stays valid */
    cfg_t *now = cfg_slot_get(&slot);
    ASSERT_EQ(now->server.http_listen_port, 2);
    cfg_unref(now);
    cfg_unref(held);
    cfg_slot_fini(&slot);
}

/* ---- the table itself ------------------------------------------------------------------ */

TEST(flags_and_paths_unique_per_program)
{
    /* Duplicates would show in the help text twice and the dump would repeat a key. */
    for (int p = CFG_PROMD; p <= CFG_RULESYNC; p++) {
        buf_t b;
        buf_init(&b);
        cfg_write_help((cfg_program_t)p, &b);
        for (char *line = strstr(b.data, "\n  -"); line != NULL; line = strstr(line + 1, "\n  -")) {
            char name[128];
            sscanf(line + 4, "%127s", name);
            char pat[160];
            snprintf(pat, sizeof(pat), "\n  -%s", name);
            char *again = strstr(line + 1, pat);
            if (again != NULL && (again[strlen(pat)] == ' ' || again[strlen(pat)] == '\n')) {
                TEST_FAIL_("%s: flag -%s twice", cfg_program_name((cfg_program_t)p), name);
            }
        }
        buf_fini(&b);
    }
}

TEST(paths_unique_per_program)
{
    /* A path declared twice for one program would parse into one field and dump once. */
    buf_t b;
    buf_init(&b);
    cfg_write_docs(&b);
    for (char *sec = strstr(b.data, "\n## "); sec != NULL;) {
        char *next = strstr(sec + 1, "\n## ");
        for (char *row = strstr(sec, "\n| `"); row != NULL && (next == NULL || row < next);
             row = strstr(row + 1, "\n| `")) {
            char cell[256];
            sscanf(row + 1, "| %255s", cell);
            char pat[300];
            snprintf(pat, sizeof(pat), "\n| %s |", cell);
            char *again = strstr(row + 1, pat);
            if (again != NULL && (next == NULL || again < next)) {
                TEST_FAIL_("path %s declared twice", cell);
            }
        }
        sec = next;
    }
    buf_fini(&b);
}

TEST(docs_are_current)
{
    const char *root = getenv("HERALD_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", root != NULL ? root : ".");
    buf_t want;
    buf_init(&want);
    cfg_write_docs(&want);
    if (getenv("HERALD_UPDATE_DOCS") != NULL) {
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fwrite(want.data, 1, want.len, f);
        fclose(f);
    }
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    buf_t got;
    buf_init(&got);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_append(&got, chunk, n);
    }
    fclose(f);
    if (got.data == NULL || strcmp(got.data, want.data) != 0) {
        TEST_FAIL_("%s is stale: run HERALD_UPDATE_DOCS=1 build/tests/test_config "
                   "docs_are_current",
                   path);
    }
    ASSERT_TRUE(strstr(want.data, "| `server.http_listen_port` | `-server.http-listen-port` |") !=
                NULL);
    ASSERT_TRUE(strstr(want.data, "`mimir_rules[].rule_selector.match_labels`") != NULL);
    ASSERT_TRUE(strstr(want.data, "| `ruler.remote_write.clients` |  | map of sections |") != NULL);
    ASSERT_TRUE(strstr(want.data, "| `ruler.remote_write.clients.<name>.remote_timeout` |  | "
                                  "duration | `30s` |") != NULL);
    buf_fini(&got);
    buf_fini(&want);
}

/* ---- runtime overrides ------------------------------------------------------------------ */

TEST(overrides_per_tenant_limits)
{
    err_t err = {0};
    cfg_t *c =
        parse(CFG_PROMD, "limits:\n  ingestion_rate: 100\n  max_label_names_per_series: 7\n", &err);
    ASSERT_NOT_NULL(c);
    static const char rt[] = "overrides:\n"
                             "  team-a:\n"
                             "    ingestion_rate: 50000\n"
                             "    ruler_evaluation_delay_duration: 0s\n"
                             "    ruler_external_labels: {env: prod}\n"
                             "  team-b:\n";
    cfg_overrides_t *o = cfg_overrides_parse(c, rt, strlen(rt), "rt.yaml", &err);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(cfg_overrides_count(o), 1);
    const cfg_limits_t *a = cfg_overrides_get(o, "team-a");
    ASSERT_DBL_EQ(a->ingestion_rate, 50000);
    ASSERT_EQ(a->max_label_names_per_series, 7); /* not overridden: the snapshot's value */
    ASSERT_EQ(a->ruler_evaluation_delay_duration_ms, 0);
    ASSERT_STR_EQ(a->ruler_external_labels.values[0], "prod");
    const cfg_limits_t *other = cfg_overrides_get(o, "nobody");
    ASSERT_TRUE(other == &c->limits);
    ASSERT_EQ(other->ruler_evaluation_delay_duration_ms, 60000);
    cfg_unref(c); /* the overrides keep their own reference */
    ASSERT_DBL_EQ(cfg_overrides_get(o, "x")->ingestion_rate, 100);
    cfg_overrides_free(o);
}

TEST(overrides_errors)
{
    err_t err = {0};
    cfg_t *c = parse(CFG_LOGD, "", &err);
    static const char *const bad[][2] = {
        {"overrides:\n  t1:\n    max_line_size: 10XB\n",
         "rt.yaml:3: key \"overrides.t1.max_line_size\": cannot unmarshal \"10XB\" into size"},
        {"overrides:\n  t1:\n    ingestion_rate: 5\n",
         "rt.yaml:3: unknown key \"ingestion_rate\" in section \"overrides.t1\""},
        {"overrides:\n  t1: 5\n",
         "rt.yaml:2: key \"overrides.t1\": cannot unmarshal a scalar into a section"},
        {"limits:\n  a: 1\n", "rt.yaml:1: unknown key \"limits\" at top level"},
        {"overrides:\n  t1: {max_query_series: 1}\n  t1: {max_query_series: 2}\n",
         "overrides: tenant \"t1\" is listed twice"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&err);
        ASSERT_NULL(cfg_overrides_parse(c, bad[i][0], strlen(bad[i][0]), "rt.yaml", &err));
        ASSERT_STR_EQ(err.msg, bad[i][1]);
    }
    cfg_overrides_t *o = cfg_overrides_load(c, &err); /* no runtime_config.file */
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(cfg_overrides_count(o), 0);
    cfg_overrides_free(o);
    cfg_unref(c);
}
