/* tests/unit/test_rulesync.c - herald-rulesync without I/O: manifests, selectors, ruler
 * namespace names, the managed-namespace test, conversion (strict Mimir, lenient Loki),
 * label merging, extra query matchers, YAML serialisation, listings and the diff. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/log.h"
#include "config/config.h"
#include "ruler/rulesync_int.h"
#include "test.h"

#define UID "2f6c8a1e-0d8e-4d3b-9d8e-6b1c2a3d4e5f"

static const char *const manifests =
    "apiVersion: v1\n"
    "kind: Namespace\n"
    "metadata:\n"
    "  name: monitoring\n"
    "  labels: {team: sre}\n"
    "---\n"
    "apiVersion: monitoring.coreos.com/v1\n"
    "kind: PrometheusRule\n"
    "metadata:\n"
    "  name: app-alerts\n"
    "  namespace: monitoring\n"
    "  uid: " UID "\n"
    "  labels: {tenant: prod, type: metrics}\n"
    "  annotations:\n"
    "    monitoring.grafana.com/source_tenants: \"team-a, team-b\"\n"
    "spec:\n"
    "  groups:\n"
    "    - name: app.rules\n"
    "      interval: 60s\n"
    "      rules:\n"
    "        - alert: HighErrorRate\n"
    "          expr: rate(errors_total{cluster=\"a\"}[5m]) > 5\n"
    "          for: 5m\n"
    "          labels: {severity: page, type: mine}\n"
    "          annotations: {summary: errors}\n"
    "        - record: job:errors:rate5m\n"
    "          expr: sum by (job) (rate(errors_total[5m]))\n"
    "---\n"
    "kind: List\n"
    "items:\n"
    "  - kind: PrometheusRule\n"
    "    metadata: {name: no-uid, labels: {tenant: stage}}\n"
    "    spec: {groups: [{name: g, rules: [{alert: A, expr: up == 0}]}]}\n"
    "  - kind: ConfigMap\n"
    "    metadata: {name: ignored}\n";

/* A parsed config with one entry of each kind, with extra keys under each. */
static cfg_t *load_cfg2(const char *mimir_extra, const char *loki_extra)
{
    buf_t y;
    buf_init(&y);
    buf_printf(&y,
               "mimir_rules:\n  - address: http://127.0.0.1:1\n%s"
               "loki_rules:\n  - address: http://127.0.0.1:2\n%s",
               mimir_extra, loki_extra);
    err_t err = {0};
    cfg_t *c = cfg_parse(CFG_RULESYNC, y.data, y.len, "t.yaml", &err);
    if (c == NULL) {
        fprintf(stderr, "config: %s\n", err.msg);
    }
    buf_fini(&y);
    return c;
}

static cfg_t *load_cfg(const char *extra)
{
    return load_cfg2(extra, extra);
}

static void parse_manifests(rulesync_objs_t *objs)
{
    err_t err = {0};
    *objs = (rulesync_objs_t){0};
    if (rulesync__manifest_parse(manifests, strlen(manifests), "m.yaml", objs, &err) != 0) {
        fprintf(stderr, "manifest: %s\n", err.msg);
    }
}

static const rulesync_obj_t *find_obj(const rulesync_objs_t *objs, const char *name)
{
    for (size_t i = 0; i < objs->n; i++) {
        if (strcmp(objs->items[i]->name, name) == 0) {
            return objs->items[i];
        }
    }
    return NULL;
}

TEST(manifest_multi_doc_list_and_namespace)
{
    rulesync_objs_t objs;
    parse_manifests(&objs);
    ASSERT_EQ(objs.n, 3);
    const rulesync_obj_t *ns = find_obj(&objs, "monitoring");
    const rulesync_obj_t *pr = find_obj(&objs, "app-alerts");
    const rulesync_obj_t *nouid = find_obj(&objs, "no-uid");
    ASSERT_NOT_NULL(ns);
    ASSERT_NOT_NULL(pr);
    ASSERT_NOT_NULL(nouid);
    ASSERT_EQ(ns->kind, RULESYNC_OBJ_NAMESPACE);
    ASSERT_STR_EQ(rulesync__kvs_get(&ns->labels, "team"), "sre");
    ASSERT_STR_EQ(pr->uid, UID);
    ASSERT_EQ(pr->n_groups, 1);
    ASSERT_EQ(pr->groups[0].n_rules, 2);
    ASSERT_STR_EQ(pr->groups[0].rules[1].record, "job:errors:rate5m");
    ASSERT_STR_EQ(nouid->ns, "default"); /* no namespace: "default" */
    ASSERT_TRUE(rulesync__is_managed(
        "alloy", rulesync__ns_name(
                     nouid->arena,
                     &(cfg_rules_target_t){.namespace_prefix = "alloy", .namespace_separator = "/"},
                     nouid)));
    rulesync__objs_fini(&objs);
}

TEST(manifest_json_and_bad_yaml)
{
    const char *json = "{\"apiVersion\":\"monitoring.coreos.com/v1\",\"kind\":\"PrometheusRule\","
                       "\"metadata\":{\"name\":\"j\",\"namespace\":\"ns1\",\"uid\":\"" UID "\"},"
                       "\"spec\":{\"groups\":[{\"name\":\"g\",\"rules\":[{\"alert\":\"A\","
                       "\"expr\":\"up == 0\"}]}]}}";
    rulesync_objs_t objs = {0};
    err_t err = {0};
    ASSERT_EQ(rulesync__manifest_parse(json, strlen(json), "j.json", &objs, &err), 0);
    ASSERT_EQ(objs.n, 1);
    ASSERT_STR_EQ(objs.items[0]->ns, "ns1");
    const char *bad = "kind: PrometheusRule\nmetadata: {name: x\n";
    ASSERT_EQ(rulesync__manifest_parse(bad, strlen(bad), "b.yaml", &objs, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "b.yaml: line") != NULL);
    ASSERT_EQ(objs.n, 1); /* unchanged on error */
    rulesync__objs_fini(&objs);
}

TEST(derived_uid_is_stable_and_uuid_shaped)
{
    err_t err = {0};
    arena_t *a = arena_new(1 << 20, &err);
    const char *u1 = rulesync__derive_uid(a, "monitoring", "app");
    const char *u2 = rulesync__derive_uid(a, "monitoring", "app");
    const char *u3 = rulesync__derive_uid(a, "monitoring", "app2");
    ASSERT_STR_EQ(u1, u2);
    ASSERT_TRUE(strcmp(u1, u3) != 0);
    ASSERT_EQ(strlen(u1), 36);
    ASSERT_TRUE(rulesync__is_managed("x", arena_sprintf(a, "x-a-b-%s", u1)));
    arena_free(a);
}

static rulesync_kvs_t kvs2(rulesync_kv_t *items, size_t n)
{
    return (rulesync_kvs_t){items, n};
}

TEST(selectors_labels_and_expressions)
{
    rulesync_kv_t l[] = {{"tenant", "prod"}, {"type", "metrics"}};
    rulesync_kvs_t labels = kvs2(l, 2);
    cfg_t *c = load_cfg("    rule_selector:\n"
                        "      match_labels: {tenant: prod}\n"
                        "      match_expression:\n"
                        "        - {key: type, operator: In, values: [metrics, x]}\n"
                        "        - {key: team, operator: DoesNotExist}\n"
                        "    rule_namespace_selector:\n"
                        "      match_expression:\n"
                        "        - {key: type, operator: NotIn, values: [logs]}\n"
                        "        - {key: tenant, operator: Exists}\n");
    ASSERT_NOT_NULL(c);
    const cfg_rules_target_t *t = &c->rulesync.mimir_rules[0];
    ASSERT_TRUE(rulesync__selector_matches(&t->rule_selector, &labels));
    ASSERT_TRUE(rulesync__selector_matches(&t->rule_namespace_selector, &labels));
    l[1].value = "logs";
    ASSERT_FALSE(rulesync__selector_matches(&t->rule_selector, &labels));
    ASSERT_FALSE(rulesync__selector_matches(&t->rule_namespace_selector, &labels));
    rulesync_kvs_t none = {0};
    ASSERT_FALSE(rulesync__selector_matches(&t->rule_selector, &none));
    cfg_label_selector_t empty = {0};
    ASSERT_TRUE(rulesync__selector_matches(&empty, &none)); /* empty selects everything */
    cfg_unref(c);
}

TEST(namespace_names_and_managed_regex)
{
    rulesync_objs_t objs;
    parse_manifests(&objs);
    cfg_t *c = load_cfg("");
    const rulesync_obj_t *pr = find_obj(&objs, "app-alerts");
    arena_t *a = pr->arena;
    ASSERT_STR_EQ(rulesync__ns_name(a, &c->rulesync.mimir_rules[0], pr),
                  "alloy/monitoring/app-alerts/" UID);
    ASSERT_STR_EQ(rulesync__ns_name(a, &c->rulesync.loki_rules[0], pr),
                  "alloy-monitoring-app-alerts-" UID);
    ASSERT_TRUE(rulesync__is_managed("alloy", "alloy/monitoring/app-alerts/" UID));
    ASSERT_TRUE(rulesync__is_managed("alloy", "alloy-monitoring-app-alerts-" UID));
    ASSERT_TRUE(rulesync__is_managed("alloy", "alloy_x_2F6C8A1E-0D8E-4D3B-9D8E-6B1C2A3D4E5F"));
    ASSERT_FALSE(rulesync__is_managed("alloy", "alloy" UID)); /* .+ needs one byte */
    ASSERT_FALSE(rulesync__is_managed("alloy", "prod"));
    ASSERT_FALSE(rulesync__is_managed("alloy", "other/monitoring/app/" UID));
    ASSERT_FALSE(rulesync__is_managed("alloy", "alloy/monitoring/app/2f6c8a1e-0d8e-4d3b-9d8e"));
    ASSERT_FALSE(rulesync__is_managed("a.c", "abc/x/" UID)); /* the prefix is literal */
    ASSERT_FALSE(rulesync__is_managed("alloy", "alloy/x\n/" UID));
    cfg_unref(c);
    rulesync__objs_fini(&objs);
}

static void group_text(const rulesync_group_t *g, buf_t *out)
{
    buf_init(out);
    rulesync__group_yaml(g, out);
    buf_putc(out, '\0');
}

TEST(convert_mimir_yaml_labels_source_tenants)
{
    rulesync_objs_t objs;
    parse_manifests(&objs);
    cfg_t *c = load_cfg("    external_labels: {cluster: eu, severity: ticket}\n"
                        "    copy_object_labels: [type, tenant]\n");
    const rulesync_obj_t *pr = find_obj(&objs, "app-alerts");
    rulesync_group_t *groups;
    size_t n;
    err_t err = {0};
    ASSERT_EQ(rulesync__convert(pr->arena, RULESYNC_MIMIR, &c->rulesync.mimir_rules[0], pr, &groups,
                                &n, &err),
              0);
    ASSERT_EQ(n, 1);
    buf_t y;
    group_text(&groups[0], &y);
    ASSERT_STR_EQ(y.data, "name: app.rules\n"
                          "interval: 1m\n"
                          "rules:\n"
                          "    - alert: HighErrorRate\n"
                          "      expr: rate(errors_total{cluster=\"a\"}[5m]) > 5\n"
                          "      for: 5m\n"
                          "      labels:\n"
                          "        cluster: eu\n"
                          "        severity: ticket\n"
                          "        tenant: prod\n"
                          "        type: mine\n"
                          "      annotations:\n"
                          "        summary: errors\n"
                          "    - record: job:errors:rate5m\n"
                          "      expr: sum by (job) (rate(errors_total[5m]))\n"
                          "      labels:\n"
                          "        cluster: eu\n"
                          "        severity: ticket\n"
                          "        tenant: prod\n"
                          "        type: metrics\n"
                          "source_tenants:\n"
                          "    - team-a\n"
                          "    - team-b\n");
    buf_fini(&y);
    cfg_unref(c);
    rulesync__objs_fini(&objs);
}

static int convert_text(rulesync_kind_t kind, const char *cfg_extra, const char *manifest,
                        buf_t *out, err_t *err)
{
    rulesync_objs_t objs = {0};
    cfg_t *c = kind == RULESYNC_MIMIR ? load_cfg2(cfg_extra, "") : load_cfg2("", cfg_extra);
    int rc = rulesync__manifest_parse(manifest, strlen(manifest), "x.yaml", &objs, err);
    buf_init(out);
    if (rc == 0 && objs.n == 1) {
        const cfg_rules_target_t *t =
            kind == RULESYNC_MIMIR ? &c->rulesync.mimir_rules[0] : &c->rulesync.loki_rules[0];
        rulesync_group_t *groups;
        size_t n;
        rc = rulesync__convert(objs.items[0]->arena, kind, t, objs.items[0], &groups, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rulesync__group_yaml(&groups[i], out);
        }
    }
    buf_putc(out, '\0');
    rulesync__objs_fini(&objs);
    cfg_unref(c);
    return rc;
}

#define PR_HEAD                                                                               \
    "kind: PrometheusRule\nmetadata: {name: p, namespace: n, labels: {cluster: c1}}\nspec:\n" \
    "  groups:\n"

TEST(convert_mimir_is_strict)
{
    buf_t y;
    err_t err = {0};
    ASSERT_EQ(convert_text(RULESYNC_MIMIR, "",
                           PR_HEAD "    - name: g\n      partial_response_strategy: warn\n"
                                   "      rules: [{alert: A, expr: up == 0}]\n",
                           &y, &err),
              -1);
    ASSERT_TRUE(strstr(err.msg, "partial_response_strategy") != NULL);
    buf_fini(&y);
    err = (err_t){0};
    ASSERT_EQ(convert_text(RULESYNC_MIMIR, "",
                           PR_HEAD "    - name: g\n      rules: [{alert: A, expr: 'rate(x[5m]'}]\n",
                           &y, &err),
              -1);
    ASSERT_TRUE(strstr(err.msg, "group \"g\", rule 1, \"A\": could not parse expression: ") !=
                NULL);
    buf_fini(&y);
    err = (err_t){0};
    ASSERT_EQ(convert_text(RULESYNC_MIMIR, "",
                           PR_HEAD "    - name: g\n      rules: [{alert: A, expr: up}]\n"
                                   "    - name: g\n      rules: [{record: 'bad name', expr: up}]\n",
                           &y, &err),
              -1);
    ASSERT_TRUE(strstr(err.msg, "groupname: \"g\" is repeated in the same file") != NULL);
    ASSERT_TRUE(strstr(err.msg, "invalid recording rule name: bad name") != NULL);
    buf_fini(&y);
    err = (err_t){0};
    ASSERT_EQ(convert_text(RULESYNC_MIMIR, "",
                           PR_HEAD "    - name: g\n      interval: 5x\n      rules: []\n", &y,
                           &err),
              -1);
    ASSERT_TRUE(strstr(err.msg, "\"5x\"") != NULL);
    buf_fini(&y);
}

TEST(convert_loki_is_lenient_about_thanos_fields)
{
    buf_t y;
    err_t err = {0};
    ASSERT_EQ(convert_text(RULESYNC_LOKI, "",
                           PR_HEAD
                           "    - name: logs\n      partial_response_strategy: warn\n"
                           "      rules: [{alert: A, expr: 'sum(rate({app=\"x\"}[5m])) > 1'}]\n",
                           &y, &err),
              0);
    ASSERT_TRUE(strstr(y.data, "name: logs\n") != NULL);
    ASSERT_TRUE(strstr(y.data, "partial_response_strategy") == NULL);
    buf_fini(&y);
    err = (err_t){0};
    ASSERT_EQ(convert_text(RULESYNC_LOKI, "",
                           PR_HEAD
                           "    - name: logs\n      rules: [{alert: A, expr: 'rate(x[5m])'}]\n",
                           &y, &err),
              -1);
    ASSERT_TRUE(strstr(err.msg, "could not parse expression for alert 'A' in group 'logs': ") !=
                NULL);
    buf_fini(&y);
}

TEST(extra_query_matchers_logql)
{
    buf_t y;
    err_t err = {0};
    ASSERT_EQ(convert_text(
                  RULESYNC_LOKI,
                  "    extra_query_matchers:\n"
                  "      matcher: [{name: cluster, match_type: \"!=\", value: dev}]\n",
                  PR_HEAD
                  "    - name: logs\n      rules:\n"
                  "        - {alert: A, expr: 'sum(rate({app=\"x\", cluster=\"a\"}[5m])) > 1'}\n",
                  &y, &err),
              0);
    ASSERT_TRUE(strstr(y.data, "expr: (sum(rate({app=\"x\", cluster!=\"dev\"}[5m])) > 1)\n") !=
                NULL);
    buf_fini(&y);
}

TEST(extra_query_matchers_promql)
{
    buf_t y;
    err_t err = {0};
    ASSERT_EQ(convert_text(RULESYNC_MIMIR,
                           "    extra_query_matchers:\n"
                           "      matcher:\n"
                           "        - {name: cluster, match_type: \"=~\", value: \"prod-.*\"}\n"
                           "        - {name: env, value_from_label: cluster}\n",
                           PR_HEAD
                           "    - name: g\n      rules:\n"
                           "        - {alert: A, expr: 'rate(errors_total{cluster=\"a\"}[5m]) "
                           "> on() group_left sum(up)'}\n",
                           &y, &err),
              0);
    ASSERT_TRUE(strstr(y.data,
                       "expr: rate(errors_total{cluster=~\"prod-.*\",env=\"c1\"}[5m]) > on () "
                       "group_left () sum(up{cluster=~\"prod-.*\",env=\"c1\"})\n") != NULL);
    buf_fini(&y);
    /* value_from_label naming a label the object lacks: the expression is emptied (and the
     * error logged, which this test keeps out of its output) */
    int devnull = open("/dev/null", O_WRONLY);
    log_set_fd(devnull);
    ASSERT_EQ(convert_text(RULESYNC_MIMIR,
                           "    extra_query_matchers:\n"
                           "      matcher: [{name: env, value_from_label: missing}]\n",
                           PR_HEAD "    - name: g\n      rules: [{alert: A, expr: up}]\n", &y,
                           &err),
              0);
    log_set_fd(-1);
    close(devnull);
    ASSERT_TRUE(strstr(y.data, "expr: \"\"\n") != NULL);
    buf_fini(&y);
}

TEST(set_matcher_replaces_or_appends)
{
    err_t err = {0};
    arena_t *a = arena_new(1 << 20, &err);
    ASSERT_STR_EQ(rulesync__set_matcher(a, RULESYNC_MIMIR, "foo{a=\"1\",b=\"2\"} + bar", "a",
                                        "!=", "x", &err),
                  "foo{a!=\"x\",b=\"2\"} + bar{a!=\"x\"}");
    ASSERT_STR_EQ(rulesync__set_matcher(a, RULESYNC_MIMIR, "foo", "__name__", "=", "bar", &err),
                  "{__name__=\"bar\"}");
    ASSERT_NULL(rulesync__set_matcher(a, RULESYNC_MIMIR, "foo", "a", "~", "x", &err));
    ASSERT_TRUE(strstr(err.msg, "invalid label match type") != NULL);
    arena_free(a);
}

TEST(path_escaping_is_go_path_escape)
{
    buf_t b;
    buf_init(&b);
    http_url_encode(&b, "alloy/monitoring/app alerts/a:b?c#d");
    buf_putc(&b, '\0');
    ASSERT_STR_EQ(b.data, "alloy%2Fmonitoring%2Fapp%20alerts%2Fa:b%3Fc%23d");
    buf_fini(&b);
}

TEST(listing_roundtrip_is_byte_stable)
{
    rulesync_objs_t objs;
    parse_manifests(&objs);
    cfg_t *c = load_cfg("");
    const rulesync_obj_t *pr = find_obj(&objs, "app-alerts");
    rulesync_group_t *groups;
    size_t n;
    err_t err = {0};
    ASSERT_EQ(rulesync__convert(pr->arena, RULESYNC_MIMIR, &c->rulesync.mimir_rules[0], pr, &groups,
                                &n, &err),
              0);
    buf_t one, listing;
    group_text(&groups[0], &one);
    /* the ruler's listing form: "<ns>:\n    - <group indented by 6>" */
    buf_init(&listing);
    buf_puts(&listing, "alloy/monitoring/app-alerts/" UID ":\n");
    for (const char *line = one.data; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        buf_puts(&listing, line == one.data ? "    - " : "      ");
        buf_append(&listing, line, (size_t)(nl - line + 1));
        line = nl + 1;
    }
    rulesync_state_t st;
    ASSERT_EQ(rulesync__listing_parse(pr->arena, listing.data, listing.len, &st, &err), 0);
    ASSERT_EQ(st.n, 1);
    ASSERT_EQ(st.ns[0].n_groups, 1);
    buf_t again;
    group_text(&st.ns[0].groups[0], &again);
    ASSERT_STR_EQ(again.data, one.data);
    /* JSON, as herald's rulers answer by default, reads the same */
    const char *json =
        "{\"ns\":[{\"name\":\"app.rules\",\"interval\":\"60s\",\"rules\":[{\"alert\":"
        "\"A\",\"expr\":\"up == 0\",\"for\":\"5m\",\"labels\":{\"b\":\"2\",\"a\":"
        "\"1\"}}]}]}";
    ASSERT_EQ(rulesync__listing_parse(pr->arena, json, strlen(json), &st, &err), 0);
    buf_t j;
    group_text(&st.ns[0].groups[0], &j);
    ASSERT_STR_EQ(j.data, "name: app.rules\ninterval: 1m\nrules:\n    - alert: A\n"
                          "      expr: up == 0\n      for: 5m\n      labels:\n        a: \"1\"\n"
                          "        b: \"2\"\n");
    buf_fini(&j);
    buf_fini(&again);
    buf_fini(&one);
    buf_fini(&listing);
    cfg_unref(c);
    rulesync__objs_fini(&objs);
}

static rulesync_group_t mk_group(const char *name, const char *expr)
{
    static rulesync_rule_t rules[8];
    static size_t used;
    rulesync_rule_t *r = &rules[used++ % 8];
    *r = (rulesync_rule_t){.alert = "A", .expr = expr};
    return (rulesync_group_t){.name = name, .query_offset_ms = -1, .rules = r, .n_rules = 1};
}

TEST(diff_add_update_remove_and_gc)
{
    err_t err = {0};
    arena_t *a = arena_new(1 << 20, &err);
    rulesync_state_t want = {0}, have = {0};
    rulesync_group_t w1[] = {mk_group("same", "up"), mk_group("changed", "up == 1"),
                             mk_group("new", "up")};
    rulesync_group_t h1[] = {mk_group("same", "up"), mk_group("changed", "up == 0"),
                             mk_group("stale", "up")};
    rulesync_group_t h2[] = {mk_group("gone", "up")};
    rulesync__state_put(a, &want, "alloy/ns/a/" UID, w1, 3);
    rulesync__state_put(a, &have, "alloy/ns/a/" UID, h1, 3);
    rulesync__state_put(a, &have, "alloy/ns/deleted/" UID, h2, 1);
    rulesync_op_t *ops;
    size_t n = rulesync__diff(a, &want, &have, &ops);
    ASSERT_EQ(n, 4);
    ASSERT_EQ(ops[0].kind, RULESYNC_UPDATE);
    ASSERT_STR_EQ(ops[0].group->name, "changed");
    ASSERT_EQ(ops[1].kind, RULESYNC_ADD);
    ASSERT_STR_EQ(ops[1].group->name, "new");
    ASSERT_EQ(ops[2].kind, RULESYNC_REMOVE);
    ASSERT_STR_EQ(ops[2].group->name, "stale");
    ASSERT_EQ(ops[3].kind, RULESYNC_REMOVE);
    ASSERT_STR_EQ(ops[3].ns, "alloy/ns/deleted/" UID);
    ASSERT_EQ(rulesync__diff(a, &want, &want, &ops), 0); /* equal: nothing to do */
    arena_free(a);
}

TEST(alias_bombs_are_refused)
{
    buf_t y;
    buf_init(&y);
    buf_puts(&y, "kind: PrometheusRule\nmetadata: {name: bomb}\nx0: &l0 {alert: A, expr: up}\n");
    for (int i = 1; i <= 9; i++) {
        buf_printf(&y, "x%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++) {
            buf_printf(&y, "%s*l%d", j > 0 ? ", " : "", i - 1);
        }
        buf_puts(&y, "]\n");
    }
    buf_puts(&y, "spec: {groups: [{name: g, rules: *l9}]}\n");
    rulesync_objs_t objs = {0};
    err_t err = {0};
    ASSERT_EQ(rulesync__manifest_parse(y.data, y.len, "bomb.yaml", &objs, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "too large once its aliases are expanded") != NULL);
    ASSERT_EQ(objs.n, 0);
    /* the same for a ruler listing */
    buf_reset(&y);
    buf_puts(&y, "a0: &a0 [{name: g}, {name: h}]\n");
    for (int i = 1; i <= 20; i++) {
        buf_printf(&y, "n%d: &n%d [*%s%d, *%s%d]\n", i, i, i == 1 ? "a" : "n", i - 1,
                   i == 1 ? "a" : "n", i - 1);
    }
    err_t e2 = {0};
    arena_t *a = arena_new(0, NULL);
    rulesync_state_t st;
    buf_putc(&y, '\0');
    ASSERT_EQ(rulesync__listing_parse(a, y.data, y.len - 1, &st, &e2), -1);
    ASSERT_TRUE(strstr(e2.msg, "too large once its aliases are expanded") != NULL);
    arena_free(a);
    buf_fini(&y);
}

TEST(yaml_quoting_survives_a_roundtrip)
{
    static const char *const exprs[] = {
        "{app=\"x\"} |= \"a: b #c\"",
        "- 1",
        "'quoted'",
        "multi\nline\n",
        "  lead",
        "yes",
        "12",
        "",
        "tab\there",
        "back\\slash \"q\"",
    };
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        rulesync_rule_t r = {.alert = "A: b", .expr = exprs[i]};
        rulesync_group_t g = {.name = "#g", .query_offset_ms = -1, .rules = &r, .n_rules = 1};
        buf_t one, listing;
        group_text(&g, &one);
        buf_init(&listing);
        buf_puts(&listing, "ns:\n");
        for (const char *line = one.data; *line != '\0';) {
            const char *nl = strchr(line, '\n');
            buf_puts(&listing, line == one.data ? "    - " : "      ");
            buf_append(&listing, line, (size_t)(nl - line + 1));
            line = nl + 1;
        }
        arena_t *a = arena_new(0, NULL);
        rulesync_state_t st;
        err_t err = {0};
        ASSERT_EQ(rulesync__listing_parse(a, listing.data, listing.len, &st, &err), 0);
        ASSERT_EQ(st.n, 1);
        ASSERT_STR_EQ(st.ns[0].groups[0].rules[0].expr, exprs[i]);
        ASSERT_STR_EQ(st.ns[0].groups[0].name, "#g");
        arena_free(a);
        buf_fini(&one);
        buf_fini(&listing);
    }
}

TEST(kubeconfig_current_context)
{
    char dir[] = "/tmp/rulesync-kc-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/config", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("apiVersion: v1\nkind: Config\ncurrent-context: b\n"
          "clusters:\n"
          "  - name: a\n    cluster: {server: https://wrong:1}\n"
          "  - name: cb\n    cluster:\n      server: https://10.0.0.1:6443/\n"
          "      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
          "contexts:\n"
          "  - name: b\n    context: {cluster: cb, user: ub}\n"
          "users:\n"
          "  - name: ub\n    user: {tokenFile: tok, client-key: /abs/key.pem}\n",
          f);
    fclose(f);
    cfg_t *c = load_cfg("");
    cfg_rulesync_t rs = c->rulesync;
    rs.kubernetes_kubeconfig_file = path;
    rulesync_kubeconn_t k;
    err_t err = {0};
    ASSERT_EQ(rulesync__kubeconn_resolve(&rs, &k, &err), 0);
    ASSERT_STR_EQ(k.server, "https://10.0.0.1:6443");
    ASSERT_STR_EQ(k.ca_pem.data, "-----BEGIN CERTIFICATE-----\n");
    char want[300];
    snprintf(want, sizeof(want), "%s/tok", dir);
    ASSERT_STR_EQ(k.token_file, want);
    ASSERT_STR_EQ(k.key_file, "/abs/key.pem");
    ASSERT_NULL(k.token);
    rulesync__kubeconn_fini(&k);
    /* explicit keys override the kubeconfig */
    rs.kubernetes_api_server = "http://127.0.0.1:8001";
    rs.kubernetes_ca_file = "/etc/ca.pem";
    ASSERT_EQ(rulesync__kubeconn_resolve(&rs, &k, &err), 0);
    ASSERT_STR_EQ(k.server, "http://127.0.0.1:8001");
    ASSERT_STR_EQ(k.ca_file, "/etc/ca.pem");
    ASSERT_EQ(k.ca_pem.len, 0);
    rulesync__kubeconn_fini(&k);
    remove(path);
    rmdir(dir);
    cfg_unref(c);
}
