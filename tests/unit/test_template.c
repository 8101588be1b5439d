/* tests/unit/test_template.c - the template engine's API: sets, flavours, limits, the cache,
 * concurrent execution. Language/function conformance is the corpus in tests/template/. */
#include <pthread.h>

#include "common/template.h"
#include "test.h"

/* Runs `text` on JSON `data` (NULL: null) with built-ins only; returns a static copy. */
static const char *run(const char *text, const char *data, err_t *err)
{
    static char out[4096];
    tmpl_t *t = tmpl_new("t", TMPL_FUNCS_ALERTMANAGER);
    json_t *j = data != NULL ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
    buf_t b;
    buf_init(&b);
    int rc = tmpl_parse(t, "t", text, err);
    if (rc == 0) {
        rc = tmpl_execute_json(t, NULL, j, NULL, &b, err);
    }
    snprintf(out, sizeof(out), "%s", rc == 0 && b.data != NULL ? b.data : "");
    buf_fini(&b);
    json_decref(j);
    tmpl_unref(t);
    return rc == 0 ? out : NULL;
}

TEST(template_executes_fields_ranges_and_printf)
{
    err_t err = {0};
    ASSERT_STR_EQ(run("{{ .a }}-{{ range .l }}{{ . }},{{ end }}{{ printf \"%05.1f\" .f }}",
                      "{\"a\":\"x\",\"l\":[1,2],\"f\":3.14159}", &err),
                  "x-1,2,003.1");
    ASSERT_STR_EQ(run("{{ range $k, $v := .m }}{{ $k }}{{ $v }}{{ end }}",
                      "{\"m\":{\"b\":2,\"a\":1}}", &err),
                  "a1b2");
    ASSERT_STR_EQ(run("{{ .missing }}", "{}", &err), "<no value>");
}

TEST(template_parse_error_is_go_worded_and_leaves_set_unchanged)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("t", 0);
    ASSERT_EQ(tmpl_parse(t, "t", "{{ define \"a\" }}A{{ end }}", &err), 0);
    ASSERT_EQ(tmpl_parse(t, "u", "{{ define \"a\" }}B{{ end }}{{ nosuch }}", &err), -1);
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    ASSERT_STR_EQ(err.msg, "template: u:1: function \"nosuch\" not defined");
    ASSERT_TRUE(tmpl_has(t, "a"));
    ASSERT_FALSE(tmpl_has(t, "u"));
    buf_t b;
    buf_init(&b);
    err_clear(&err);
    ASSERT_EQ(tmpl_execute_json(t, "a", NULL, NULL, &b, &err), 0);
    ASSERT_STR_EQ(b.data, "A");
    buf_fini(&b);
    tmpl_unref(t);
}

TEST(template_exec_error_names_line_and_column)
{
    err_t err = {0};
    ASSERT_NULL(run("ok\n  {{ .a.b }}", "{\"a\":\"s\"}", &err));
    ASSERT_EQ(err.code, ERR_EXECUTION);
    ASSERT_STR_EQ(err.msg, "template: t:2:7: executing \"t\" at <.a.b>: can't evaluate field b "
                           "in type string");
}

TEST(template_output_limit_stops_execution)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("t", TMPL_FUNCS_LOKI);
    ASSERT_EQ(tmpl_parse(t, "t", "{{ range .l }}{{ repeat 100 \"x\" }}{{ end }}", &err), 0);
    json_t *d = json_pack("{s:[iiiiiiiiii]}", "l", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    tmpl_limits_t lim = {.max_output_bytes = 500};
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(tmpl_execute_json(t, NULL, d, &lim, &b, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "output exceeds 500 bytes") != NULL);
    ASSERT_TRUE(b.len <= 500);
    buf_fini(&b);
    json_decref(d);
    tmpl_unref(t);
}

TEST(template_recursion_and_steps_are_bounded)
{
    err_t err = {0};
    ASSERT_NULL(run("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" }}", NULL,
                    &err));
    ASSERT_TRUE(strstr(err.msg, "exceeded maximum template depth (1000)") != NULL);
    err_clear(&err);
    tmpl_t *t = tmpl_new("t", 0);
    ASSERT_EQ(tmpl_parse(t, "t",
                         "{{ define \"w\" }}{{ range . }}{{ range . }}x{{ end }}{{ end }}{{ end }}"
                         "{{ template \"w\" . }}",
                         &err),
              0);
    json_t *row = json_array(), *grid = json_array();
    for (int i = 0; i < 200; i++) {
        json_array_append_new(row, json_integer(i));
    }
    for (int i = 0; i < 200; i++) {
        json_array_append(grid, row);
    }
    tmpl_limits_t lim = {.max_steps = 10000};
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(tmpl_execute_json(t, NULL, grid, &lim, &b, &err), -1);
    ASSERT_TRUE(strstr(err.msg, "exceeded 10000 steps") != NULL);
    buf_fini(&b);
    json_decref(row);
    json_decref(grid);
    tmpl_unref(t);
}

TEST(template_am_expand_uses_defaults_without_changing_the_set)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    ASSERT_EQ(tmpl_add_am_defaults(t, &err), 0);
    json_t *p = json_loads("{\"receiver\":\"r x\",\"status\":\"firing\",\"alerts\":[{\"status\":"
                           "\"firing\",\"labels\":{\"alertname\":\"A\",\"job\":\"j\"}}],"
                           "\"groupLabels\":{\"alertname\":\"A\"},\"commonLabels\":{\"alertname\""
                           ":\"A\",\"job\":\"j\"},\"externalURL\":\"http://am\"}",
                           0, NULL);
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(tmpl_am_expand(t, "{{ define \"x\" }}X{{ end }}{{ template \"slack.default.title\" . }}"
                                "|{{ template \"slack.default.titlelink\" . }}",
                             p, NULL, &b, &err),
              0);
    ASSERT_STR_EQ(b.data, "[FIRING:1] A (j)|http://am/#/alerts?receiver=r+x");
    ASSERT_FALSE(tmpl_has(t, "x")); /* the overlay's definitions stay in the overlay */
    buf_fini(&b);
    json_decref(p);
    tmpl_unref(t);
}

static int one_sample(void *arg, const char *q, int64_t ts, arena_t *a, tmpl_sample_t **out,
                      size_t *n, err_t *err)
{
    static const label_t ls[] = {{"instance", "x:1"}};
    if (strcmp(q, "up") != 0) {
        return err_set(err, ERR_EXECUTION, "parse error: bad query");
    }
    tmpl_sample_t *s = arena_calloc(a, sizeof(*s));
    s->labels = ls;
    s->n_labels = 1;
    s->value = 1536;
    *out = s;
    *n = 1;
    return 0;
}

TEST(template_prom_expand_output_and_error_text)
{
    label_t ls[] = {{"instance", "h:9100"}};
    tmpl_prom_data_t d = {.labels = ls, .n_labels = 1, .value = 0.125, .query = one_sample};
    tmpl_cache_t *c = tmpl_cache_new(2);
    err_t err = {0};
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(tmpl_prom_expand(c, "__alert_A",
                               "{{ $labels.instance }} {{ humanizePercentage $value }} "
                               "{{ query \"up\" | first | value | humanize1024 }}",
                               &d, &b, &err),
              0);
    ASSERT_STR_EQ(b.data, "h:9100 12.5% 1.5ki");
    buf_reset(&b);
    ASSERT_EQ(tmpl_prom_expand(c, "__alert_A", "{{ query \"x\" }}", &d, &b, &err), -1);
    ASSERT_STR_EQ(b.data, "<error expanding template: error executing template __alert_A: "
                          "template: __alert_A:1:115: executing \"__alert_A\" at <query \"x\">: "
                          "error calling query: parse error: bad query>");
    buf_fini(&b);
    tmpl_cache_free(c);
}

TEST(template_cache_returns_shared_sets_and_evicts)
{
    err_t err = {0};
    tmpl_cache_t *c = tmpl_cache_new(2);
    tmpl_t *a = tmpl_cache_get(c, 0, "n", "a", &err);
    tmpl_t *a2 = tmpl_cache_get(c, 0, "n", "a", &err);
    ASSERT_TRUE(a == a2);
    tmpl_t *b = tmpl_cache_get(c, 0, "n", "b", &err);
    tmpl_t *d = tmpl_cache_get(c, 0, "n", "d", &err); /* evicts "a" */
    tmpl_t *a3 = tmpl_cache_get(c, 0, "n", "a", &err);
    ASSERT_TRUE(a3 != a);
    ASSERT_NULL(tmpl_cache_get(c, 0, "n", "{{", &err));
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    tmpl_unref(a);
    tmpl_unref(a2);
    tmpl_unref(a3);
    tmpl_unref(b);
    tmpl_unref(d);
    tmpl_cache_free(c);
}

TEST(template_loki_line_and_labels)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("l", TMPL_FUNCS_LOKI);
    ASSERT_EQ(tmpl_parse(t, NULL, "{{ .app | ToUpper }} {{ __line__ | trunc 3 }} "
                                  "{{ __timestamp__.Unix }}",
                         &err),
              0);
    label_t ls[] = {{"app", "web"}};
    buf_t b;
    buf_init(&b);
    ASSERT_EQ(tmpl_execute_loki(t, ls, 1, "hello", 1700000000000000000LL, NULL, &b, &err), 0);
    ASSERT_STR_EQ(b.data, "WEB hel 1700000000");
    buf_fini(&b);
    tmpl_unref(t);
}

typedef struct {
    tmpl_t *t;
    json_t *data;
    int ok;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    w->ok = 1;
    for (int i = 0; i < 200; i++) {
        err_t err = {0};
        buf_t b;
        buf_init(&b);
        if (tmpl_execute_am(w->t, "__subject", w->data, NULL, &b, &err) != 0 ||
            strcmp(b.data, "[FIRING:1] A ") != 0) {
            w->ok = 0;
        }
        buf_fini(&b);
    }
    return NULL;
}

TEST(template_concurrent_executions_share_one_set)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    ASSERT_EQ(tmpl_add_am_defaults(t, &err), 0);
    json_t *p = json_loads("{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\"}],"
                           "\"groupLabels\":{\"alertname\":\"A\"}}",
                           0, NULL);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){t, p, 0};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_TRUE(w[i].ok);
    }
    json_decref(p);
    tmpl_unref(t);
}

TEST(template_parser_nesting_is_bounded)
{
    err_t err = {0};
    char text[4096] = "{{ ";
    for (int i = 0; i < 1000; i++) {
        strcat(text, "(");
    }
    ASSERT_NULL(run(text, NULL, &err));
    ASSERT_STR_EQ(err.msg, "template: t:1: max expression depth exceeded");
}

TEST(template_html_escape)
{
    buf_t b;
    buf_init(&b);
    tmpl_html_escape("<a href='x'>&\"", 14, &b);
    ASSERT_STR_EQ(b.data, "&lt;a href=&#39;x&#39;&gt;&amp;&#34;");
    buf_fini(&b);
}

/* Counts the non-overlapping occurrences of `needle` in `s`. */
static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + strlen(needle), needle)) {
        n++;
    }
    return n;
}

TEST(template_email_default_html_structure_and_escaping)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    ASSERT_EQ(tmpl_add_am_defaults(t, &err), 0);
    ASSERT_TRUE(tmpl_has(t, "email.default.html"));
    /* One firing alert (annotations, a URL needing normalisation), one resolved alert (no
     * annotations, a javascript: source), hostile text in labels, annotations and receiver. */
    json_t *p = json_loads(
        "{\"receiver\":\"ops&team\",\"status\":\"firing\",\"alerts\":["
        "{\"status\":\"firing\",\"labels\":{\"alertname\":\"Disk<Full>\",\"team\":"
        "\"<b>&\\\"x\\\"\"},\"annotations\":{\"summary\":\"a+b <i>\"},"
        "\"generatorURL\":\"http://prom:9090/graph?g0.expr=up{a=\\\"1\\\"}\"},"
        "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"Disk<Full>\",\"team\":"
        "\"<b>&\\\"x\\\"\",\"instance\":\"db'3\"},\"generatorURL\":\"javascript:alert(1)\"}],"
        "\"groupLabels\":{\"alertname\":\"Disk<Full>\",\"team\":\"<b>&\\\"x\\\"\"},"
        "\"commonLabels\":{\"alertname\":\"Disk<Full>\",\"team\":\"<b>&\\\"x\\\"\"},"
        "\"externalURL\":\"http://am:9093\"}",
        0, NULL);
    ASSERT_NOT_NULL(p);
    buf_t b;
    buf_init(&b);
    if (tmpl_am_expand_html(t, "{{ template \"email.default.html\" . }}", p, NULL, &b, &err) < 0) {
        TEST_FAIL_("render: %s", err.msg);
    }
    const char *h = b.data;
    ASSERT_TRUE(strncmp(h, "<!DOCTYPE html>\n<html lang=\"en\">\n", 33) == 0);
    ASSERT_TRUE(b.len > 8 && strcmp(h + b.len - 8, "</html>\n") == 0);
    ASSERT_NOT_NULL(strstr(h, "<title>[FIRING:1] Disk&lt;Full&gt; &lt;b&gt;&amp;&#34;x&#34; "
                              "</title>"));
    ASSERT_NOT_NULL(strstr(h, ">1 firing, 1 resolved</h1>"));
    ASSERT_NOT_NULL(strstr(h, ">Group: alertname=Disk&lt;Full&gt;, "
                              "team=&lt;b&gt;&amp;&#34;x&#34;</p>"));
    ASSERT_NOT_NULL(strstr(h, "<a href=\"http://am:9093/#/alerts?receiver=ops%26team\""));
    ASSERT_NOT_NULL(strstr(h, ">View in Alertmanager</a>"));
    /* firing section first, each alert a card with its labels; annotations only if any */
    const char *firing = strstr(h, ">Firing (1)</h2>"), *resolved = strstr(h, ">Resolved (1)</h2>");
    ASSERT_TRUE(firing != NULL && resolved != NULL && firing < resolved);
    ASSERT_EQ(count_of(h, ">Labels</div>"), 2);
    ASSERT_EQ(count_of(h, ">Annotations</div>"), 1);
    ASSERT_EQ(count_of(h, "<td style=\"padding:1px 0;word-break:break-word;\">&lt;b&gt;&amp;"
                          "&#34;x&#34;</td>"),
              2);
    ASSERT_NOT_NULL(strstr(h, ">db&#39;3</td>"));
    ASSERT_NOT_NULL(strstr(h, ">summary</td><td style=\"padding:1px 0;word-break:break-word;\">"
                              "a&#43;b &lt;i&gt;</td>"));
    /* URLs: normalised in href, an unsafe scheme neutralised */
    ASSERT_NOT_NULL(strstr(h, "<a href=\"http://prom:9090/graph?g0.expr=up%7ba=%221%22%7d\""));
    ASSERT_NOT_NULL(strstr(h, "<a href=\"#ZgotmplZ\""));
    ASSERT_NOT_NULL(strstr(h, "to receiver ops&amp;team.</p>"));
    ASSERT_NULL(strstr(h, "<b>"));
    ASSERT_NULL(strstr(h, "<i>"));
    /* a resolved-only group has no firing section */
    json_object_set_new(p, "status", json_string("resolved"));
    json_object_set_new(
        p, "alerts",
        json_pack("[{s:s,s:{s:s}}]", "status", "resolved", "labels", "alertname", "A"));
    buf_reset(&b);
    ASSERT_EQ(tmpl_am_expand_html(t, "{{ template \"email.default.html\" . }}", p, NULL, &b, &err),
              0);
    ASSERT_NOT_NULL(strstr(b.data, ">0 firing, 1 resolved</h1>"));
    ASSERT_NULL(strstr(b.data, "Firing ("));
    ASSERT_EQ(count_of(b.data, ">Labels</div>"), 1);
    ASSERT_NULL(strstr(b.data, ">Source</a>")); /* no generatorURL, no link */
    buf_fini(&b);
    json_decref(p);
    tmpl_unref(t);
}
