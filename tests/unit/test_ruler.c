/* tests/unit/test_ruler.c - the ruler with a fake evaluator: rule-file parsing
 * and writing, validation messages, the alert state machine's timing (for,
 * keep_firing_for, resolution), the notifier's payload, the filesystem store,
 * and whole-group evaluation (recording rules, ALERTS series, stale markers,
 * templates, restoring activeAt after a restart). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/labels.h"
#include "ruler/ruler_int.h"
#include "storage/memstore.h"
#include "test.h"

#define MIN (60 * 1000)

/* ---- fake evaluator: expression -> fixed vector
 * ---------------------------------------- */

typedef struct {
    const char *expr;
    const char *series[8]; /* label sets in `{a="b"}` form */
    double values[8];
    size_t n;
} fake_result_t;

typedef struct {
    char labels[256];
    int64_t t;
    double v;
} fake_sample_t;

static struct {
    fake_result_t results[8];
    size_t n_results;
    fake_sample_t written[256];
    size_t n_written;
    int eval_calls;
    memstore_t *store; /* when set, appended samples land here and restores read it */
} fake;

static void fake_reset(void)
{
    memset(&fake, 0, sizeof(fake));
}

static void fake_set(const char *expr, size_t n, const char *const *series, const double *v)
{
    fake_result_t *r = NULL;
    for (size_t i = 0; i < fake.n_results; i++) {
        if (strcmp(fake.results[i].expr, expr) == 0) {
            r = &fake.results[i];
        }
    }
    if (r == NULL) {
        r = &fake.results[fake.n_results++];
    }
    r->expr = expr;
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        r->series[i] = series[i];
        r->values[i] = v[i];
    }
}

static int fake_validate(void *ctx, const char *expr, err_t *err)
{
    if (strstr(expr, "((") != NULL) {
        return err_set(err, ERR_BAD_DATA, "1:3: parse error: unexpected \"(\"");
    }
    return 0;
}

static int fake_eval(void *ctx, arena_t *a, const char *tenant, const char *expr, int64_t t,
                     ruler_sample_t **out, size_t *n_out, err_t *err)
{
    fake.eval_calls++;
    *n_out = 0;
    *out = arena_alloc(a, 8 * sizeof(**out));
    for (size_t i = 0; i < fake.n_results; i++) {
        if (strcmp(fake.results[i].expr, expr) != 0) {
            continue;
        }
        for (size_t j = 0; j < fake.results[i].n; j++) {
            (*out)[j].labels = labels_parse(a, fake.results[i].series[j], err);
            (*out)[j].v = fake.results[i].values[j];
        }
        *n_out = fake.results[i].n;
    }
    if (strcmp(expr, "broken") == 0) {
        return err_set(err, ERR_EXECUTION, "query failed");
    }
    return 0;
}

static int fake_append(appender_t *ap, const labels_t *ls, int64_t t, double v, err_t *err)
{
    fake_sample_t *s = &fake.written[fake.n_written++ % 256];
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    snprintf(s->labels, sizeof(s->labels), "%s", b.data);
    buf_fini(&b);
    s->t = t;
    s->v = v;
    return fake.store != NULL ? memstore_add(fake.store, ls, t, v, err) : 0;
}

static int fake_commit(appender_t *ap, err_t *err)
{
    return 0;
}

static void fake_rollback(appender_t *ap)
{
}

static const appender_ops_t fake_app_ops = {fake_append, fake_commit, fake_rollback};
static appender_t fake_app = {&fake_app_ops};

static appender_t *fake_appender(void *ctx, const char *tenant, err_t *err)
{
    return &fake_app;
}

static queryable_t *fake_queryable(void *ctx, const char *tenant, err_t *err)
{
    return fake.store != NULL ? memstore_queryable(fake.store) : NULL;
}

static const ruler_evaluator_t fake_ev = {
    .lang = "fake",
    .validate = fake_validate,
    .eval = fake_eval,
    .appender = fake_appender,
    .queryable = fake_queryable,
};

static const fake_sample_t *find_written(const char *labels)
{
    for (size_t i = fake.n_written; i-- > 0;) {
        if (strcmp(fake.written[i].labels, labels) == 0) {
            return &fake.written[i];
        }
    }
    return NULL;
}

/* ---- rule files
 * ---------------------------------------------------------------------- */

static const char mimir_group[] = "name: test\n"
                                  "interval: 15s\n"
                                  "rules:\n"
                                  "    - record: up_rule\n"
                                  "      expr: up{}\n"
                                  "    - alert: up_alert\n"
                                  "      expr: sum(up{}) > 1\n"
                                  "      for: 30s\n"
                                  "      labels:\n"
                                  "        test: test\n"
                                  "      annotations:\n"
                                  "        test: test\n";

TEST(rulefmt_roundtrip_matches_mimir_layout)
{
    err_t err = {0};
    ruler_group_def_t *g = ruler__group_parse(mimir_group, strlen(mimir_group), &err);
    ASSERT_NOT_NULL(g);
    ASSERT_STR_EQ(g->name, "test");
    ASSERT_EQ(g->interval_ms, 15000);
    ASSERT_EQ(g->n_rules, 2);
    ASSERT_STR_EQ(g->rules[1].alert, "up_alert");
    ASSERT_EQ(g->rules[1].for_ms, 30000);
    buf_t b;
    buf_init(&b);
    ruler__group_yaml(g, &b, 0);
    ASSERT_STR_EQ(b.data, mimir_group);
    buf_fini(&b);
    ruler__group_def_free(g);
}

TEST(rulefmt_normalises_durations_and_quotes)
{
    const char *in = "name: g\ninterval: 60s\nrules:\n- alert: A\n  expr: |\n    "
                     "up\n      == 0\n"
                     "  annotations:\n    summary: 'yes'\n";
    err_t err = {0};
    ruler_group_def_t *g = ruler__group_parse(in, strlen(in), &err);
    ASSERT_NOT_NULL(g);
    buf_t b;
    buf_init(&b);
    ruler__group_yaml(g, &b, 0);
    ASSERT_STR_EQ(b.data, "name: g\ninterval: 1m\nrules:\n    - alert: A\n      expr: |\n"
                          "        up\n          == 0\n      annotations:\n"
                          "        summary: \"yes\"\n");
    /* and what we write parses back to the same */
    ruler_group_def_t *g2 = ruler__group_parse(b.data, b.len, &err);
    ASSERT_NOT_NULL(g2);
    ASSERT_STR_EQ(g2->rules[0].expr, "up\n  == 0\n");
    ASSERT_STR_EQ(g2->rules[0].annotations[0].value, "yes");
    buf_fini(&b);
    ruler__group_def_free(g);
    ruler__group_def_free(g2);
}

TEST(rulefmt_rejects_non_group)
{
    err_t err = {0};
    ASSERT_NULL(ruler__group_parse("- a\n- b\n", 8, &err));
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    err_clear(&err);
    ASSERT_NULL(ruler__group_parse("name: [\n", 8, &err));
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    err_clear(&err);
    ASSERT_NULL(ruler__group_parse("name: g\ninterval: 5x\nrules: []\n", 31, &err));
    ASSERT_TRUE(strstr(err.msg, "2:11:") != NULL);
}

static void expect_invalid(const char *yaml, ruler_flavor_t flavor, const char *msg)
{
    err_t err = {0};
    ruler_group_def_t *g = ruler__group_parse(yaml, strlen(yaml), &err);
    ASSERT_NOT_NULL(g);
    ASSERT_EQ(ruler__group_validate(g, flavor, &fake_ev, &err), -1);
    ASSERT_STR_EQ(err.msg, msg);
    ruler__group_def_free(g);
}

TEST(validate_messages_as_mimir)
{
    expect_invalid("name: g\nrules:\n- alert: A\n  record: r\n  expr: up\n", RULER_FLAVOR_MIMIR,
                   "3:3: group \"g\", rule 1, \"A\": only one of 'record' and "
                   "'alert' must be set");
    expect_invalid("name: g\nrules:\n- record: r\n", RULER_FLAVOR_MIMIR,
                   "3:3: group \"g\", rule 1, \"r\": field 'expr' must be set in rule");
    expect_invalid("name: g\nrules:\n- record: r\n  expr: up\n- alert: B\n  expr: sum((x)\n",
                   RULER_FLAVOR_MIMIR,
                   "6:9: group \"g\", rule 2, \"B\": could not parse expression: 1:3: parse "
                   "error: unexpected \"(\"");
    expect_invalid("name: g\nrules:\n- record: 'bad name'\n  expr: up\n  for: 1m\n",
                   RULER_FLAVOR_MIMIR,
                   "3:3: group \"g\", rule 1, \"bad name\": invalid field 'for' in "
                   "recording "
                   "rule, 3:3: group \"g\", rule 1, \"bad name\": invalid recording rule "
                   "name: "
                   "bad name");
    expect_invalid("name: ''\nrules: []\n", RULER_FLAVOR_MIMIR,
                   "invalid rules configuration: rule group name must not be empty");
    expect_invalid("name: g\nrules: []\n", RULER_FLAVOR_MIMIR,
                   "invalid rules configuration: rule group 'g' has no rules");
    expect_invalid("name: g\nrules:\n- alert: A\n  expr: up\n  labels:\n    a-b: x\n",
                   RULER_FLAVOR_MIMIR, "3:3: group \"g\", rule 1, \"A\": invalid label name: a-b");
}

TEST(validate_messages_as_loki)
{
    expect_invalid("name: g\nrules:\n- alert: A\n  expr: sum((x)\n", RULER_FLAVOR_LOKI,
                   "could not parse expression for alert 'A' in group 'g': 1:3: "
                   "parse error: "
                   "unexpected \"(\"");
    err_t err = {0};
    ruler_group_def_t *g = ruler__group_parse("name: g\n", 8, &err);
    ASSERT_EQ(ruler__group_validate(g, RULER_FLAVOR_LOKI, &fake_ev, &err), 0); /* no rules: ok */
    ruler__group_def_free(g);
}

TEST(validate_rejects_bad_template)
{
    const char *y = "name: g\nrules:\n- alert: A\n  expr: up\n  annotations:\n   "
                    " s: '{{ .x '\n";
    err_t err = {0};
    ruler_group_def_t *g = ruler__group_parse(y, strlen(y), &err);
    ASSERT_EQ(ruler__group_validate(g, RULER_FLAVOR_MIMIR, &fake_ev, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "3:3: group \"g\", rule 1, \"A\": msg=template: __alert_A") ==
                err.msg);
    ruler__group_def_free(g);
}

/* ---- state machine
 * ------------------------------------------------------------------- */

typedef struct {
    arena_t *a;
    ruler_candidate_t c[4];
    size_t n;
} cands_t;

static void cand(cands_t *cs, const char *labels, double v)
{
    err_t err = {0};
    ruler_candidate_t *c = &cs->c[cs->n++];
    memset(c, 0, sizeof(*c));
    c->labels = labels_parse(cs->a, labels, &err);
    c->value = v;
}

static ruler_alert_t *only_alert(ruler_alerts_t *as)
{
    size_t n = 0;
    ruler_alert_t **v = ruler__alerts_sorted(as, &n);
    ruler_alert_t *a = n == 1 ? v[0] : NULL;
    free(v);
    return a;
}

TEST(alert_pending_then_firing_after_for)
{
    ruler_alerts_t as;
    ruler__alerts_init(&as);
    cands_t cs = {.a = arena_new(0, NULL)};
    cand(&cs, "{alertname=\"A\", job=\"x\"}", 3);
    err_t err = {0};
    int64_t t0 = 1000 * MIN;
    ASSERT_EQ(ruler__alerts_update(&as, cs.c, cs.n, t0, 5 * MIN, 0, 0, &err), 1);
    ruler_alert_t *a = only_alert(&as);
    ASSERT_EQ(a->state, RULER_PENDING);
    ASSERT_EQ(a->active_at_ms, t0);
    ASSERT_FALSE(ruler__alert_needs_sending(a, t0, MIN));
    ruler__alerts_update(&as, cs.c, cs.n, t0 + 4 * MIN, 5 * MIN, 0, 0, &err);
    ASSERT_EQ(a->state, RULER_PENDING);
    ruler__alerts_update(&as, cs.c, cs.n, t0 + 5 * MIN, 5 * MIN, 0, 0, &err);
    ASSERT_EQ(a->state, RULER_FIRING);
    ASSERT_EQ(a->active_at_ms, t0);
    ASSERT_EQ(a->fired_at_ms, t0 + 5 * MIN);
    ASSERT_TRUE(ruler__alert_needs_sending(a, t0 + 5 * MIN, MIN));
    /* condition gone: resolved, kept 15 minutes, then dropped */
    ASSERT_EQ(ruler__alerts_update(&as, NULL, 0, t0 + 6 * MIN, 5 * MIN, 0, 0, &err), 0);
    ASSERT_EQ(a->state, RULER_INACTIVE);
    ASSERT_EQ(a->resolved_at_ms, t0 + 6 * MIN);
    a->last_sent_at_ms = t0 + 5 * MIN;
    ASSERT_TRUE(ruler__alert_needs_sending(a, t0 + 6 * MIN, MIN));
    ruler__alerts_update(&as, NULL, 0, t0 + 21 * MIN, 5 * MIN, 0, 0, &err);
    ASSERT_NOT_NULL(only_alert(&as));
    ruler__alerts_update(&as, NULL, 0, t0 + 21 * MIN + 1, 5 * MIN, 0, 0, &err);
    ASSERT_NULL(only_alert(&as));
    ruler__alerts_fini(&as);
    arena_free(cs.a);
}

TEST(alert_pending_dropped_and_restarted)
{
    ruler_alerts_t as;
    ruler__alerts_init(&as);
    cands_t cs = {.a = arena_new(0, NULL)};
    cand(&cs, "{alertname=\"A\"}", 1);
    err_t err = {0};
    ruler__alerts_update(&as, cs.c, cs.n, 1000, 5 * MIN, 0, 0, &err);
    ruler__alerts_update(&as, NULL, 0, 2000, 5 * MIN, 0, 0, &err);
    ASSERT_NULL(only_alert(&as)); /* pending alerts vanish at once */
    ruler__alerts_update(&as, cs.c, cs.n, 3000, 5 * MIN, 0, 0, &err);
    ASSERT_EQ(only_alert(&as)->active_at_ms, 3000);
    ruler__alerts_fini(&as);
    arena_free(cs.a);
}

TEST(alert_for_zero_fires_at_once_and_keep_firing_for)
{
    ruler_alerts_t as;
    ruler__alerts_init(&as);
    cands_t cs = {.a = arena_new(0, NULL)};
    cand(&cs, "{alertname=\"A\"}", 1);
    err_t err = {0};
    ruler__alerts_update(&as, cs.c, cs.n, MIN, 0, 2 * MIN, 0, &err);
    ruler_alert_t *a = only_alert(&as);
    ASSERT_EQ(a->state, RULER_FIRING);
    ASSERT_EQ(ruler__alerts_update(&as, NULL, 0, 2 * MIN, 0, 2 * MIN, 0, &err), 1);
    ASSERT_EQ(a->state, RULER_FIRING);
    ASSERT_EQ(a->keep_firing_since_ms, 2 * MIN);
    ASSERT_EQ(ruler__alerts_update(&as, NULL, 0, 3 * MIN + 59999, 0, 2 * MIN, 0, &err), 1);
    ASSERT_EQ(a->state, RULER_FIRING);
    ASSERT_EQ(ruler__alerts_update(&as, NULL, 0, 4 * MIN, 0, 2 * MIN, 0, &err), 0);
    ASSERT_EQ(a->state, RULER_INACTIVE);
    ASSERT_EQ(a->resolved_at_ms, 4 * MIN);
    ruler__alerts_fini(&as);
    arena_free(cs.a);
}

TEST(alert_duplicate_labelsets_and_limit)
{
    ruler_alerts_t as;
    ruler__alerts_init(&as);
    cands_t cs = {.a = arena_new(0, NULL)};
    cand(&cs, "{alertname=\"A\", i=\"1\"}", 1);
    cand(&cs, "{alertname=\"A\", i=\"2\"}", 1);
    err_t err = {0};
    ASSERT_EQ(ruler__alerts_update(&as, cs.c, cs.n, MIN, 0, 0, 1, &err), -1);
    ASSERT_STR_EQ(err.msg, "exceeded limit of 1 with 2 alerts");
    ASSERT_EQ(hashmap_len(&as.by_key), 0);
    err_clear(&err);
    cand(&cs, "{alertname=\"A\", i=\"1\"}", 2);
    ASSERT_EQ(ruler__alerts_update(&as, cs.c, cs.n, MIN, 0, 0, 0, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "same labelset") != NULL);
    ruler__alerts_fini(&as);
    arena_free(cs.a);
}

/* ---- notifier payload
 * ---------------------------------------------------------------- */

TEST(notifier_format_adds_tenant_and_external_labels)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    label_t ext[] = {{"cluster", "eu"}, {"severity", "none"}};
    ruler_notifier_opts_t o = {
        .external_labels = ext, .n_external_labels = 2, .tenant_label_name = "tenant"};
    ruler_kv_t ann[] = {{"summary", "high \"errors\""}};
    ruler_sent_alert_t sa = {
        .labels = labels_parse(a, "{alertname=\"A\", severity=\"page\"}", &err),
        .annotations = ann,
        .n_annotations = 1,
        .starts_at_ms = 1700000000123,
        .ends_at_ms = 1700000240000,
        .generator_url = ruler__generator_url("http://h:9009", "rate(x[5m]) > 0.5"),
    };
    buf_t b;
    buf_init(&b);
    ruler__notifier_format(&o, "prod", &sa, 1, &b);
    ASSERT_STR_EQ(b.data, "[{\"annotations\":{\"summary\":\"high \\\"errors\\\"\"},"
                          "\"endsAt\":\"2023-11-14T22:17:20Z\",\"startsAt\":\"2023-11-14T22:13:20."
                          "123Z\","
                          "\"generatorURL\":\"http://h:9009/"
                          "graph?g0.expr=rate%28x%5B5m%5D%29+%3E+0.5\\u0026g0."
                          "tab=1\",\"labels\":{\"alertname\":\"A\",\"cluster\":\"eu\",\"severity\":"
                          "\"page\",\"tenant\":\"prod\"}}]");
    buf_fini(&b);
    free(sa.generator_url);
    arena_free(a);
}

/* ---- store
 * ---------------------------------------------------------------------------
 */

static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/herald-ruler-XXXXXX";
    return strdup(mkdtemp(tmpl));
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ASSERT_EQ(system(cmd), 0);
}

TEST(store_roundtrip_with_escaped_namespace)
{
    char *dir = tmp_dir();
    err_t err = {0};
    ruler_store_t *s = ruler__store_new(dir, &err);
    ASSERT_NOT_NULL(s);
    ruler_ns_t ns = {0};
    ruler__ns_put(&ns, ruler__group_parse(mimir_group, strlen(mimir_group), &err));
    ASSERT_EQ(ruler__store_save(s, "team-a", "alloy/mon/app 1", &ns, &err), 0);
    ruler__ns_fini(&ns);
    char path[600];
    snprintf(path, sizeof(path), "%s/team-a/alloy%%2Fmon%%2Fapp%%201", dir);
    ASSERT_EQ(access(path, F_OK), 0);
    size_t n = 0;
    char **names = ruler__store_namespaces(s, "team-a", &n);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(names[0], "alloy/mon/app 1");
    ruler__strv_free(names, n);
    ASSERT_EQ(ruler__store_load(s, "team-a", "alloy/mon/app 1", &ns, &err), 0);
    ASSERT_EQ(ns.n, 1);
    ASSERT_STR_EQ(ns.groups[0]->rules[1].annotations[0].value, "test");
    ruler__ns_fini(&ns);
    ASSERT_EQ(ruler__store_save(s, "team-a", "alloy/mon/app 1", &ns, &err), 0); /* empty */
    ASSERT_NE(access(path, F_OK), 0);
    ruler__store_free(s);
    rm_rf(dir);
    free(dir);
}

/* ---- whole groups
 * -------------------------------------------------------------------- */

static ruler_t *new_ruler(const char *dir, const char *tenant, const char *yaml)
{
    err_t err = {0};
    ruler_store_t *s = ruler__store_new(dir, &err);
    ruler_ns_t ns = {0};
    ruler__ns_put(&ns, ruler__group_parse(yaml, strlen(yaml), &err));
    ruler__store_save(s, tenant, "ns1", &ns, &err);
    ruler__ns_fini(&ns);
    ruler__store_free(s);
    ruler_opts_t o;
    ruler_opts_default(&o, RULER_FLAVOR_MIMIR);
    o.rules_dir = dir;
    o.manual = 1; /* evaluations only through ruler_eval_tenant_at */
    o.poll_interval_ms = 0;
    o.evaluation_delay_ms = 0;
    return ruler_new(&o, &fake_ev, &err);
}

TEST(group_eval_recording_and_alerts_series)
{
    fake_reset();
    char *dir = tmp_dir();
    ruler_t *r = new_ruler(dir, "t1",
                           "name: g\ninterval: 1m\nlabels:\n  team: a\nrules:\n"
                           "- record: job:up:sum\n  expr: sum by (job) (up)\n"
                           "- alert: Down\n  expr: up == 0\n  for: 1m\n"
                           "  labels:\n    severity: page\n");
    ASSERT_NOT_NULL(r);
    const char *rec[] = {"{job=\"api\"}"};
    double one[] = {1};
    fake_set("sum by (job) (up)", 1, rec, one);
    const char *down[] = {"{__name__=\"up\", job=\"api\", instance=\"i1\"}"};
    double zero[] = {0};
    fake_set("up == 0", 1, down, zero);
    err_t err = {0};
    ASSERT_EQ(ruler_eval_tenant_at(r, "t1", 10 * MIN, &err), 0);
    const fake_sample_t *s = find_written("{__name__=\"job:up:sum\", job=\"api\", team=\"a\"}");
    ASSERT_NOT_NULL(s);
    ASSERT_EQ(s->t, 10 * MIN);
    s = find_written("{__name__=\"ALERTS\", alertname=\"Down\", alertstate=\"pending\", "
                     "instance=\"i1\", job=\"api\", severity=\"page\", team=\"a\"}");
    ASSERT_NOT_NULL(s);
    s = find_written("{__name__=\"ALERTS_FOR_STATE\", alertname=\"Down\", instance=\"i1\", "
                     "job=\"api\", severity=\"page\", team=\"a\"}");
    ASSERT_NOT_NULL(s);
    ASSERT_DBL_EQ(s->v, 600);
    ASSERT_EQ(ruler_eval_tenant_at(r, "t1", 11 * MIN, &err), 0);
    s = find_written("{__name__=\"ALERTS\", alertname=\"Down\", alertstate=\"pending\", "
                     "instance=\"i1\", job=\"api\", severity=\"page\", team=\"a\"}");
    ASSERT_TRUE(s != NULL && s->t == 11 * MIN && isnan(s->v)); /* stale: now firing */
    s = find_written("{__name__=\"ALERTS\", alertname=\"Down\", alertstate=\"firing\", "
                     "instance=\"i1\", job=\"api\", severity=\"page\", team=\"a\"}");
    ASSERT_TRUE(s != NULL && s->t == 11 * MIN && s->v == 1);
    ruler_free(r);
    rm_rf(dir);
    free(dir);
}

TEST(group_eval_errors_mark_health)
{
    fake_reset();
    char *dir = tmp_dir();
    ruler_t *r = new_ruler(dir, "t1", "name: g\nrules:\n- record: x\n  expr: broken\n");
    err_t err = {0};
    ruler_eval_tenant_at(r, "t1", MIN, &err);
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, "t1", &n);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(v[0]->rules[0].health, RULER_HEALTH_ERR);
    ASSERT_STR_EQ(v[0]->rules[0].last_error, "query failed");
    ruler__group_unref(v[0]);
    free(v);
    ruler_free(r);
    rm_rf(dir);
    free(dir);
}

TEST(sync_keeps_alert_state_across_edits)
{
    fake_reset();
    char *dir = tmp_dir();
    const char *g1 = "name: g\nrules:\n- alert: A\n  expr: up == 0\n  for: 5m\n";
    ruler_t *r = new_ruler(dir, "t1", g1);
    const char *down[] = {"{job=\"api\"}"};
    double zero[] = {0};
    fake_set("up == 0", 1, down, zero);
    err_t err = {0};
    ruler_eval_tenant_at(r, "t1", 10 * MIN, &err);
    /* edit the group (new annotation) and re-sync: activeAt survives */
    ruler_store_t *s = ruler__store_new(dir, &err);
    ruler_ns_t ns = {0};
    const char *g2 = "name: g\nrules:\n- alert: A\n  expr: up == 0\n  for: 5m\n"
                     "  annotations:\n    s: x\n";
    ruler__ns_put(&ns, ruler__group_parse(g2, strlen(g2), &err));
    ruler__store_save(s, "t1", "ns1", &ns, &err);
    ruler__ns_fini(&ns);
    ruler__store_free(s);
    ruler_sync_tenant(r, "t1");
    ruler_eval_tenant_at(r, "t1", 15 * MIN, &err);
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, "t1", &n);
    ASSERT_EQ(n, 1);
    ruler_alert_t *a = only_alert(&v[0]->rules[0].alerts);
    ASSERT_NOT_NULL(a);
    ASSERT_EQ(a->active_at_ms, 10 * MIN);
    ASSERT_EQ(a->state, RULER_FIRING);
    ASSERT_EQ(v[0]->rules[0].def->n_annotations, 1);
    ruler__group_unref(v[0]);
    free(v);
    ruler_free(r);
    rm_rf(dir);
    free(dir);
}

static ruler_alert_t *rule_alert(ruler_t *r, size_t rule)
{
    size_t n = 0;
    ruler_group_t **v = ruler__tenant_groups(r, "t1", &n);
    ruler_alert_t *a = n == 1 ? only_alert(&v[0]->rules[rule].alerts) : NULL;
    static ruler_alert_t copy;
    if (a != NULL) {
        copy = *a;
    }
    for (size_t i = 0; i < n; i++) {
        ruler__group_unref(v[i]);
    }
    free(v);
    return a != NULL ? &copy : NULL;
}

TEST(restart_restores_active_at_from_alerts_for_state)
{
    fake_reset();
    fake.store = memstore_new();
    char *dir = tmp_dir();
    const char *g = "name: g\nrules:\n- alert: Slow\n  expr: up == 0\n  for: 30m\n"
                    "- alert: Fast\n  expr: up == 0\n";
    ruler_t *r = new_ruler(dir, "t1", g);
    const char *down[] = {"{job=\"api\"}"};
    double zero[] = {0};
    fake_set("up == 0", 1, down, zero);
    err_t err = {0};
    ruler_eval_tenant_at(r, "t1", 10 * MIN, &err);
    ruler_eval_tenant_at(r, "t1", 11 * MIN, &err);
    ruler_free(r);
    /* a new process: the first evaluation restores from ALERTS_FOR_STATE */
    r = new_ruler(dir, "t1", g);
    ruler_eval_tenant_at(r, "t1", 13 * MIN, &err);
    ruler_alert_t *slow = rule_alert(r, 0);
    ASSERT_NOT_NULL(slow);
    ASSERT_EQ(slow->state, RULER_PENDING);
    ASSERT_EQ(slow->active_at_ms, 12 * MIN); /* the 2 minutes down do not count */
    ruler_alert_t *fast = rule_alert(r, 1);
    ASSERT_NOT_NULL(fast);
    ASSERT_EQ(fast->state, RULER_FIRING);
    ASSERT_EQ(fast->active_at_ms, 10 * MIN);
    ruler_free(r);
    memstore_free(fake.store);
    rm_rf(dir);
    free(dir);
}

TEST(annotations_and_labels_are_templated)
{
    fake_reset();
    char *dir = tmp_dir();
    ruler_t *r = new_ruler(dir, "t1",
                           "name: g\nrules:\n- alert: High\n  expr: errs > 1\n"
                           "  labels:\n    sev: \"{{ if gt $value 5.0 }}page{{ else }}ticket{{ end "
                           "}}\"\n"
                           "  annotations:\n    summary: \"{{ $labels.job }} at {{ $value }}\"\n");
    const char *s[] = {"{job=\"api\"}"};
    double v[] = {7.5};
    fake_set("errs > 1", 1, s, v);
    err_t err = {0};
    ruler_eval_tenant_at(r, "t1", MIN, &err);
    ruler_alert_t *a = rule_alert(r, 0);
    ASSERT_NOT_NULL(a);
    ASSERT_STR_EQ(labels_get(a->labels, "sev"), "page");
    ASSERT_STR_EQ(labels_get(a->labels, "alertname"), "High");
    ASSERT_EQ(a->n_annotations, 1);
    ASSERT_STR_EQ(a->annotations[0].value, "api at 7.5");
    ruler_free(r);
    rm_rf(dir);
    free(dir);
}
