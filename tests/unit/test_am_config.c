/* tests/unit/test_am_config.c - Alertmanager config parsing and validation, routing (match,
 * continue, keys), group labels, fingerprints and time intervals. */
#include <string.h>

#include "alertmanager/am_int.h"
#include "tests/unit/test.h"

static am_config_t *parse(const char *yaml, err_t *err)
{
    return am__config_parse(yaml, strlen(yaml), err);
}

static const char *const seed_cfg =
    "route:\n"
    "  group_by: [\"alertname\", \"tenant\", \"cluster\"]\n"
    "  receiver: default-receiver\n"
    "  routes:\n"
    "    - receiver: stage-receiver\n"
    "      matchers:\n"
    "        - tenant=\"stage\"\n"
    "    - receiver: prod-receiver\n"
    "      group_wait: 10s\n"
    "      matchers:\n"
    "        - tenant=\"prod\"\n"
    "      routes:\n"
    "        - receiver: pager\n"
    "          match: {severity: page}\n"
    "          continue: true\n"
    "        - receiver: prod-receiver\n"
    "          match_re: {team: \"db|web\"}\n"
    "receivers:\n"
    "  - name: default-receiver\n"
    "    webhook_configs: [{url: 'http://127.0.0.1:1/d'}]\n"
    "  - name: stage-receiver\n"
    "    webhook_configs: [{url: 'http://127.0.0.1:1/s', send_resolved: false}]\n"
    "  - name: prod-receiver\n"
    "    webhook_configs: [{url: 'http://127.0.0.1:1/p', max_alerts: 3}]\n"
    "  - name: pager\n";

static labels_t *lset(const char *a, const char *b, const char *c, const char *d)
{
    label_t p[2] = {{a, b}, {c, d}};
    return labels_new(p, c != NULL ? 2 : 1, NULL);
}

TEST(config_defaults_and_inheritance)
{
    err_t err = {0};
    am_config_t *c = parse(seed_cfg, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->global.resolve_timeout_ns, 300LL * AM_NS_PER_S);
    ASSERT_EQ(c->route->group_wait_ns, 30LL * AM_NS_PER_S);
    ASSERT_EQ(c->route->group_interval_ns, 300LL * AM_NS_PER_S);
    ASSERT_EQ(c->route->repeat_interval_ns, 4LL * 3600 * AM_NS_PER_S);
    ASSERT_EQ(c->route->n_routes, 2);
    const am_route_t *prod = c->route->routes[1];
    ASSERT_EQ(prod->group_wait_ns, 10LL * AM_NS_PER_S);
    ASSERT_EQ(prod->routes[0]->group_wait_ns, 10LL * AM_NS_PER_S); /* inherited */
    ASSERT_EQ(prod->routes[0]->n_group_by, 3);
    ASSERT_STR_EQ(c->route->routes[0]->key, "{}/{tenant=\"stage\"}");
    ASSERT_STR_EQ(prod->routes[1]->key, "{}/{tenant=\"prod\"}/{team=~\"db|web\"}");
    const am_receiver_t *r = am__config_receiver(c, "prod-receiver");
    ASSERT_NOT_NULL(r);
    ASSERT_EQ(r->ints[0].max_alerts, 3);
    ASSERT_EQ(r->ints[0].send_resolved, 1);
    ASSERT_EQ(am__config_receiver(c, "stage-receiver")->ints[0].send_resolved, 0);
    ASSERT_EQ(am__config_receiver(c, "pager")->n_ints, 0);
    am__config_unref(c);
}

TEST(config_routing_with_continue)
{
    err_t err = {0};
    am_config_t *c = parse(seed_cfg, &err);
    const am_route_t *out[8];
    labels_t *a = lset("severity", "page", "tenant", "prod");
    size_t n = am__route_match(c->route, a, out, 8);
    ASSERT_EQ(n, 1); /* pager (continue) then nothing else matches, prod route is not added */
    ASSERT_STR_EQ(out[0]->receiver, "pager");
    labels_t *b = lset("team", "db", "tenant", "prod");
    n = am__route_match(c->route, b, out, 8);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0]->receiver, "prod-receiver");
    labels_t *d = lset("tenant", "prod", NULL, NULL);
    n = am__route_match(c->route, d, out, 8);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(out[0]->key, "{}/{tenant=\"prod\"}"); /* no child matched: the parent */
    labels_t *e = lset("tenant", "dev", NULL, NULL);
    n = am__route_match(c->route, e, out, 8);
    ASSERT_STR_EQ(out[0]->receiver, "default-receiver");
    labels_unref(a);
    labels_unref(b);
    labels_unref(d);
    labels_unref(e);
    am__config_unref(c);
}

TEST(config_group_labels_and_key_strings)
{
    err_t err = {0};
    am_config_t *c = parse(seed_cfg, &err);
    label_t p[] = {{"alertname", "X"}, {"tenant", "prod"}, {"pod", "p1"}};
    labels_t *ls = labels_new(p, 3, NULL);
    labels_t *gl = am__route_group_labels(c->route, ls);
    buf_t b;
    buf_init(&b);
    am__lset_string(gl, &b);
    ASSERT_STR_EQ(b.data, "{alertname=\"X\", tenant=\"prod\"}");
    buf_fini(&b);
    labels_unref(gl);
    labels_unref(ls);
    am__config_unref(c);
}

TEST(config_group_by_all)
{
    err_t err = {0};
    am_config_t *c = parse("route: {receiver: r, group_by: ['...']}\nreceivers: [{name: r}]\n",
                           &err);
    ASSERT_NOT_NULL(c);
    ASSERT_TRUE(c->route->group_by_all);
    am__config_unref(c);
    c = parse("route: {receiver: r, group_by: ['...', a]}\nreceivers: [{name: r}]\n", &err);
    ASSERT_NULL(c);
    ASSERT_TRUE(strstr(err.msg, "wildcard group_by") != NULL);
}

static void expect_error(const char *yaml, const char *want)
{
    err_t err = {0};
    am_config_t *c = parse(yaml, &err);
    if (c != NULL) {
        am__config_unref(c);
        TEST_FAIL_("config accepted, wanted error %s", want);
    }
    if (strstr(err.msg, want) == NULL) {
        TEST_FAIL_("error %s does not contain %s", err.msg, want);
    }
}

TEST(config_validation_errors)
{
    expect_error("route: {receiver: nope}\nreceivers: [{name: r}]\n",
                 "undefined receiver \"nope\" used in route");
    expect_error("receivers: [{name: r}]\n", "no routes provided");
    expect_error("route: {receiver: r, matchers: ['a=b']}\nreceivers: [{name: r}]\n",
                 "root route must not have any matchers");
    expect_error("route: {receiver: r, continue: true}\nreceivers: [{name: r}]\n",
                 "cannot have continue in root route");
    expect_error("route: {}\nreceivers: [{name: r}]\n",
                 "root route must specify a default receiver");
    expect_error("route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n",
                 "notification config name \"r\" is not unique");
    expect_error("route: {receiver: r}\nfoo: 1\nreceivers: [{name: r}]\n",
                 "line 2: field foo not found in type config.plain");
    expect_error("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{}]}]\n",
                 "one of url or url_file must be configured");
    expect_error("route: {receiver: r, group_wait: 5x}\nreceivers: [{name: r}]\n",
                 "not a valid duration string");
    expect_error("route: {receiver: r, routes: [{mute_time_intervals: [x]}]}\n"
                 "receivers: [{name: r}]\n",
                 "undefined time interval \"x\" used in route");
    expect_error("route: {receiver: r, repeat_interval: 0s}\nreceivers: [{name: r}]\n",
                 "repeat_interval cannot be zero");
    expect_error("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{}]}]\n",
                 "no global Slack API URL set");
    expect_error("route: {receiver: r}\nreceivers:\n  - name: r\n    email_configs: [{to: a@b}]\n",
                 "no global SMTP smarthost set");
    expect_error("route: [\n", "yaml: line");
}

TEST(config_inhibit_rules_and_matchers_syntax)
{
    err_t err = {0};
    am_config_t *c = parse("route: {receiver: r}\nreceivers: [{name: r}]\n"
                           "inhibit_rules:\n"
                           "  - source_matchers: [severity=\"critical\"]\n"
                           "    target_matchers: ['severity=~\"warning|info\"', team!=ops]\n"
                           "    equal: [alertname]\n",
                           &err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->n_inhibit, 1);
    ASSERT_EQ(c->inhibit[0].n_source, 1);
    ASSERT_EQ(c->inhibit[0].n_target, 2);
    ASSERT_EQ(c->inhibit[0].n_equal, 1);
    am__config_unref(c);
}

TEST(fingerprint_matches_prometheus)
{
    /* Values observed from Alertmanager 0.25 for the same label sets. */
    labels_t *a = lset("alertname", "A", "tenant", "prod");
    ASSERT_EQ(am__fingerprint(a), 0xe80b95b1ac00b00eULL);
    ASSERT_EQ(am__fingerprint(labels_empty()), 0xcbf29ce484222325ULL);
    labels_unref(a);
}

TEST(time_intervals)
{
    err_t err = {0};
    am_config_t *c = parse("route: {receiver: r, routes: [{receiver: r, "
                           "mute_time_intervals: [office]}]}\n"
                           "receivers: [{name: r}]\n"
                           "time_intervals:\n"
                           "  - name: office\n"
                           "    time_intervals:\n"
                           "      - times: [{start_time: '09:00', end_time: '17:00'}]\n"
                           "        weekdays: ['monday:friday']\n"
                           "        days_of_month: ['1:10', '-1']\n"
                           "        months: ['november']\n",
                           &err);
    ASSERT_NOT_NULL(c);
    const am_timeint_set_t *s = am__config_timeint(c, "office");
    ASSERT_NOT_NULL(s);
    /* 2026-11-02 is a Monday. */
    int64_t mon10 = 1793613600LL * AM_NS_PER_S; /* 2026-11-02T10:00:00Z */
    ASSERT_TRUE(am__timeint_set_active(s, mon10));
    ASSERT_FALSE(am__timeint_set_active(s, mon10 + 8LL * 3600 * AM_NS_PER_S)); /* 18:00 */
    ASSERT_FALSE(am__timeint_set_active(s, mon10 + 5LL * 86400 * AM_NS_PER_S)); /* Saturday */
    ASSERT_FALSE(am__timeint_set_active(s, mon10 + 14LL * 86400 * AM_NS_PER_S)); /* 16th */
    ASSERT_TRUE(am__timeint_set_active(s, mon10 + 28LL * 86400 * AM_NS_PER_S)); /* 30th, -1 */
    const char *names[4];
    ASSERT_EQ(am__route_muted(c, c->route->routes[0], mon10, names, 4), 1);
    ASSERT_STR_EQ(names[0], "office");
    am__config_unref(c);
    expect_error("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals:\n"
                 "  - name: x\n    time_intervals: [{times: [{start_time: '10:00', "
                 "end_time: '09:00'}]}]\n",
                 "start time cannot be equal or greater than end time");
}

TEST(sha256_known_vectors)
{
    char hex[65];
    am__sha256_hex("abc", hex);
    ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    am__sha256_hex("", hex);
    ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    am__sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    ASSERT_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(user_config_validation)
{
    am_opts_t o = {0};
    err_t err = {0};
    am_t *am = am_new(&o, &err);
    ASSERT_NOT_NULL(am);
    const char *empty = "alertmanager_config: \"\"\n";
    ASSERT_NULL(am__user_config_parse(am, empty, strlen(empty), &err));
    ASSERT_EQ(err.code, ERR_PRECONDITION);
    err_clear(&err);
    const char *bad = "alertmanager_config: |\n  route: {receiver: x}\n  receivers: [{name: r}]\n";
    ASSERT_NULL(am__user_config_parse(am, bad, strlen(bad), &err));
    ASSERT_STR_EQ(err.msg, "undefined receiver \"x\" used in route");
    err_clear(&err);
    const char *file = "alertmanager_config: |\n  route: {receiver: r}\n  receivers:\n"
                       "    - name: r\n      webhook_configs: [{url_file: /etc/x}]\n";
    ASSERT_NULL(am__user_config_parse(am, file, strlen(file), &err));
    ASSERT_STR_EQ(err.msg, "setting url_file is not allowed");
    err_clear(&err);
    const char *ok = "template_files:\n  a.tmpl: '{{ define \"x\" }}hi{{ end }}'\n"
                     "alertmanager_config: |\n  route: {receiver: r}\n  receivers: [{name: r}]\n"
                     "  templates: ['*.tmpl']\n";
    am_config_t *c = am__user_config_parse(am, ok, strlen(ok), &err);
    ASSERT_NOT_NULL(c);
    ASSERT_TRUE(tmpl_has(c->tmpl, "x"));
    am__config_unref(c);
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(am__user_config_render(ok, 1, &b, &err), 0);
    ASSERT_STR_EQ(b.data, "template_files:\n    a.tmpl: |-\n        {{ define \"x\" }}hi{{ end }}\n"
                          "alertmanager_config: |\n    route: {receiver: r}\n"
                          "    receivers: [{name: r}]\n    templates: ['*.tmpl']\n");
    buf_fini(&b);
    am_free(am);
}

TEST(yaml_block_literal_round_trips)
{
    static const char *const texts[] = {"route:\n  receiver: r\n", "no newline",
                                        "  leading blanks\nx\n", "two newlines\n\n", "a\n\nb",
                                        "\nstarts with a newline\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        buf_t b;
        err_t err = {0};
        buf_init(&b);
        buf_puts(&b, "k: ");
        am__yaml_put_str(&b, texts[i], 2, 2);
        arena_t *a = arena_new(0, NULL);
        am_ynode_t *root = am__yaml_parse(a, b.data, b.len, &err);
        ASSERT_NOT_NULL(root);
        ASSERT_STR_EQ(am__ymap_get(root, "k")->str, texts[i]);
        arena_free(a);
        buf_fini(&b);
    }
}

TEST(time_interval_locations)
{
    err_t err = {0};
    am_config_t *c = parse("route: {receiver: r}\nreceivers: [{name: r}]\n"
                           "time_intervals:\n  - name: berlin\n    time_intervals:\n"
                           "      - times: [{start_time: '09:00', end_time: '17:00'}]\n"
                           "        location: Europe/Berlin\n",
                           &err);
    ASSERT_NOT_NULL(c);
    const am_timeint_set_t *s = am__config_timeint(c, "berlin");
    int64_t nov_1630z = 1793637000LL * AM_NS_PER_S; /* 2026-11-02T16:30:00Z = 17:30 CET */
    ASSERT_FALSE(am__timeint_set_active(s, nov_1630z));
    ASSERT_TRUE(am__timeint_set_active(s, nov_1630z - 3600LL * AM_NS_PER_S));
    int64_t jul_1430z = 1783348200LL * AM_NS_PER_S; /* 2026-07-06T14:30:00Z = 16:30 CEST */
    ASSERT_TRUE(am__timeint_set_active(s, jul_1430z));
    ASSERT_FALSE(am__timeint_set_active(s, jul_1430z + 3600LL * AM_NS_PER_S));
    am__config_unref(c);
    expect_error("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals:\n"
                 "  - name: x\n    time_intervals: [{location: Mars/Base}]\n",
                 "unknown time zone Mars/Base");
}
