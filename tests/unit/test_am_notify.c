/* tests/unit/test_am_notify.c - notification payloads (webhook v4, Slack, PagerDuty, email)
 * formatted without I/O, the alert merge rule, and silence create/update/expire rules. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"
#include "tests/unit/test.h"

#define S(x) ((int64_t)(x) * AM_NS_PER_S)

static am_alert_t *mk_alert(const char *name, const char *tenant, int64_t starts, int64_t ends)
{
    am_alert_t *a = am__alert_new();
    label_t l[] = {{"alertname", name}, {"tenant", tenant}};
    label_t an[] = {{"summary", "errors <high> & rising"}};
    a->labels = labels_new(l, 2, NULL);
    a->annotations = labels_new(an, 1, NULL);
    a->starts_ns = starts;
    a->ends_ns = ends;
    a->generator_url = xstrdup("http://prom/graph?g0.expr=up");
    a->fp = am__fingerprint(a->labels);
    return a;
}

typedef struct {
    am_alert_t *alerts[3];
    am_notice_t n;
    labels_t *gl;
} fixture_t;

/* 1785600000 = 2026-08-01T16:00:00Z */
static void fixture(fixture_t *f, int resolved_second)
{
    label_t g[] = {{"alertname", "HighErrors"}};
    memset(f, 0, sizeof(*f));
    f->alerts[0] = mk_alert("HighErrors", "prod", S(1785600000) + 500000000, 0);
    f->alerts[1] = mk_alert("HighErrors", "prod", S(1785600000),
                            resolved_second ? S(1785600030) : 0);
    labels_unref(f->alerts[1]->labels);
    label_t l2[] = {{"alertname", "HighErrors"}, {"instance", "b:1"}, {"tenant", "prod"}};
    f->alerts[1]->labels = labels_new(l2, 3, NULL);
    f->alerts[1]->fp = am__fingerprint(f->alerts[1]->labels);
    f->gl = labels_new(g, 1, NULL);
    f->n = (am_notice_t){.receiver = "prod-receiver",
                         .group_key = "{}/{tenant=\"prod\"}:{alertname=\"HighErrors\"}",
                         .external_url = "http://am:9093/alertmanager",
                         .group_labels = f->gl,
                         .alerts = f->alerts,
                         .n_alerts = 2,
                         .now_ns = S(1785600060)};
}

static void fixture_fini(fixture_t *f)
{
    am__alert_unref(f->alerts[0]);
    am__alert_unref(f->alerts[1]);
    labels_unref(f->gl);
}

TEST(webhook_payload_v4_exact)
{
    fixture_t f;
    buf_t b;
    fixture(&f, 1);
    buf_init(&b);
    am__webhook_json(&f.n, 0, &b);
    char fp0[17], fp1[17];
    snprintf(fp0, sizeof(fp0), "%016llx", (unsigned long long)f.alerts[0]->fp);
    snprintf(fp1, sizeof(fp1), "%016llx", (unsigned long long)f.alerts[1]->fp);
    char want[4096];
    snprintf(want, sizeof(want),
             "{\"receiver\":\"prod-receiver\",\"status\":\"firing\",\"alerts\":["
             "{\"status\":\"firing\",\"labels\":{\"alertname\":\"HighErrors\",\"tenant\":\"prod\"},"
             "\"annotations\":{\"summary\":\"errors \\u003chigh\\u003e \\u0026 rising\"},"
             "\"startsAt\":\"2026-08-01T16:00:00.5Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
             "\"generatorURL\":\"http://prom/graph?g0.expr=up\",\"fingerprint\":\"%s\"},"
             "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"HighErrors\",\"instance\":"
             "\"b:1\",\"tenant\":\"prod\"},\"annotations\":{\"summary\":\"errors \\u003chigh"
             "\\u003e \\u0026 rising\"},\"startsAt\":\"2026-08-01T16:00:00Z\",\"endsAt\":"
             "\"2026-08-01T16:00:30Z\",\"generatorURL\":\"http://prom/graph?g0.expr=up\","
             "\"fingerprint\":\"%s\"}],"
             "\"groupLabels\":{\"alertname\":\"HighErrors\"},"
             "\"commonLabels\":{\"alertname\":\"HighErrors\",\"tenant\":\"prod\"},"
             "\"commonAnnotations\":{\"summary\":\"errors \\u003chigh\\u003e \\u0026 rising\"},"
             "\"externalURL\":\"http://am:9093/alertmanager\",\"version\":\"4\",\"groupKey\":"
             "\"{}/{tenant=\\\"prod\\\"}:{alertname=\\\"HighErrors\\\"}\",\"truncatedAlerts\":0}\n",
             fp0, fp1);
    ASSERT_STR_EQ(b.data, want);
    buf_reset(&b);
    am__webhook_json(&f.n, 1, &b);
    ASSERT_TRUE(strstr(b.data, "\"truncatedAlerts\":1}") != NULL);
    ASSERT_TRUE(strstr(b.data, fp1) == NULL); /* the second alert was cut */
    buf_fini(&b);
    fixture_fini(&f);
}

static am_config_t *cfg_with(const char *receivers)
{
    char yaml[2048];
    err_t err = {0};
    snprintf(yaml, sizeof(yaml), "route: {receiver: r}\nreceivers:\n%s", receivers);
    am_config_t *c = am__config_parse(yaml, strlen(yaml), &err);
    if (c != NULL && am__config_templates(c, NULL, "/nonexistent", &err) < 0) {
        am__config_unref(c);
        return NULL;
    }
    return c;
}

TEST(slack_default_body)
{
    fixture_t f;
    err_t err = {0};
    fixture(&f, 0);
    am_config_t *c =
        cfg_with("  - name: r\n    slack_configs: [{api_url: 'http://127.0.0.1:1/s'}]\n");
    ASSERT_NOT_NULL(c);
    am_request_t req = {0};
    buf_init(&req.body);
    f.n.receiver = "r";
    ASSERT_EQ(am__notify_format(&c->receivers[0].ints[0], c, &f.n, &req, &err), 0);
    ASSERT_STR_EQ(req.body.data,
                  "{\"username\":\"Alertmanager\",\"attachments\":[{\"title\":\"[FIRING:2] "
                  "HighErrors (prod)\",\"title_link\":\"http://am:9093/alertmanager/#/alerts?"
                  "receiver=r\",\"text\":\"\",\"fallback\":\"[FIRING:2] HighErrors (prod) | "
                  "http://am:9093/alertmanager/#/alerts?receiver=r\",\"callback_id\":\"\","
                  "\"footer\":\"\",\"color\":\"danger\",\"mrkdwn_in\":[\"fallback\",\"pretext\","
                  "\"text\"]}]}\n");
    buf_fini(&req.body);
    am__config_unref(c);
    fixture_fini(&f);
}

TEST(pagerduty_body_fields)
{
    fixture_t f;
    err_t err = {0};
    fixture(&f, 1);
    am_config_t *c = cfg_with("  - name: r\n    pagerduty_configs:\n      - routing_key: abc\n"
                              "        url: http://127.0.0.1:1/pd\n        severity: critical\n"
                              "        links: [{href: 'http://x/{{ .Status }}', text: t}]\n"
                              "        details: {team: db}\n");
    ASSERT_NOT_NULL(c);
    am_request_t req = {0};
    buf_init(&req.body);
    f.n.receiver = "r";
    ASSERT_EQ(am__notify_format(&c->receivers[0].ints[0], c, &f.n, &req, &err), 0);
    char dedup[65], want[400];
    am__sha256_hex(f.n.group_key, dedup);
    snprintf(want, sizeof(want), "{\"routing_key\":\"abc\",\"dedup_key\":\"%s\","
                                 "\"event_action\":\"trigger\",\"payload\":{\"summary\":"
                                 "\"[FIRING:1] HighErrors (prod)\",\"source\":\"Alertmanager\","
                                 "\"severity\":\"critical\",\"custom_details\":{\"firing\":",
             dedup);
    ASSERT_TRUE(strncmp(req.body.data, want, strlen(want)) == 0);
    ASSERT_TRUE(strstr(req.body.data, "\"num_firing\":\"1\",\"num_resolved\":\"1\"") != NULL);
    ASSERT_TRUE(strstr(req.body.data, "\"team\":\"db\"}}") != NULL);
    const char *links = "\"links\":[{\"href\":\"http://x/firing\",\"text\":\"t\"}]";
    ASSERT_TRUE(strstr(req.body.data, links) != NULL);
    buf_fini(&req.body);
    am__config_unref(c);
    fixture_fini(&f);
}

TEST(email_message_headers_and_parts)
{
    fixture_t f;
    err_t err = {0};
    fixture(&f, 0);
    am_config_t *c = cfg_with("  - name: r\n    email_configs:\n      - to: ops@example.org\n"
                              "        from: am@example.org\n        smarthost: 127.0.0.1:25\n"
                              "        text: 'n={{ len .Alerts }} {{ .CommonLabels.tenant }}'\n"
                              "        html: ''\n");
    ASSERT_NOT_NULL(c);
    buf_t m;
    buf_init(&m);
    f.n.receiver = "r";
    int rc = am__email_format(&c->receivers[0].ints[0], c, &f.n, &m, &err);
    if (rc != 0) {
        TEST_FAIL_("email: %s", err.msg);
    }
    ASSERT_TRUE(strstr(m.data, "Subject: [FIRING:2] HighErrors (prod)\r\n") != NULL);
    ASSERT_TRUE(strstr(m.data, "To: ops@example.org\r\n") != NULL);
    ASSERT_TRUE(strstr(m.data, "From: am@example.org\r\n") != NULL);
    ASSERT_TRUE(strstr(m.data, "Content-Type: text/plain; charset=UTF-8\r\n\r\nn=3D2 prod\r\n") !=
                NULL);
    buf_fini(&m);
    am__config_unref(c);
    fixture_fini(&f);
}

/* The decoded quoted-printable body of the message's part of type `ctype` ("" if none). */
static void qp_part(const char *msg, const char *ctype, buf_t *out)
{
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "Content-Type: %s; charset=UTF-8\r\n\r\n", ctype);
    const char *p = strstr(msg, hdr);
    buf_puts(out, "");
    for (p = p != NULL ? p + strlen(hdr) : ""; *p != '\0' && strncmp(p, "\r\n--", 4) != 0; p++) {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 2; /* soft line break */
        } else if (p[0] == '=' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            buf_putc(out, (char)strtol(hex, NULL, 16));
            p += 2;
        } else if (p[0] == '\r' && p[1] == '\n') {
            buf_putc(out, '\n');
            p++;
        } else {
            buf_putc(out, *p);
        }
    }
}

TEST(email_default_html_body_is_escaped)
{
    fixture_t f;
    err_t err = {0};
    fixture(&f, 1);
    /* no html: the receiver's default {{ template "email.default.html" . }} */
    am_config_t *c = cfg_with("  - name: r\n    email_configs:\n      - to: ops@example.org\n"
                              "        from: am@example.org\n        smarthost: 127.0.0.1:25\n"
                              "        text: '{{ .CommonAnnotations.summary }}'\n");
    ASSERT_NOT_NULL(c);
    buf_t m, html, text;
    buf_init(&m);
    buf_init(&html);
    buf_init(&text);
    f.n.receiver = "r";
    if (am__email_format(&c->receivers[0].ints[0], c, &f.n, &m, &err) != 0) {
        TEST_FAIL_("email: %s", err.msg);
    }
    qp_part(m.data, "text/plain", &text);
    qp_part(m.data, "text/html", &html);
    ASSERT_STR_EQ(text.data, "errors <high> & rising"); /* text/template: not escaped */
    const char *h = html.data;
    ASSERT_TRUE(strncmp(h, "<!DOCTYPE html>\n", 16) == 0);
    ASSERT_TRUE(html.len > 8 && strcmp(h + html.len - 8, "</html>\n") == 0);
    ASSERT_NOT_NULL(strstr(h, "<title>[FIRING:1] HighErrors (prod)</title>"));
    ASSERT_NOT_NULL(strstr(h, ">1 firing, 1 resolved</h1>"));
    ASSERT_NOT_NULL(strstr(h, ">Group: alertname=HighErrors</p>"));
    ASSERT_NOT_NULL(strstr(h, "<a href=\"http://am:9093/alertmanager/#/alerts?receiver=r\""));
    const char *firing = strstr(h, ">Firing (1)</h2>"), *resolved = strstr(h, ">Resolved (1)</h2>");
    ASSERT_TRUE(firing != NULL && resolved != NULL && firing < resolved);
    ASSERT_TRUE(strstr(resolved, ">b:1</td>") != NULL); /* the resolved alert's own label */
    const char *summary = ">errors &lt;high&gt; &amp; rising</td>";
    ASSERT_TRUE(strstr(h, summary) != NULL && strstr(strstr(h, summary) + 1, summary) != NULL);
    ASSERT_NULL(strstr(h, "<high>"));
    ASSERT_NOT_NULL(strstr(h, "<a href=\"http://prom/graph?g0.expr=up\""));
    buf_fini(&text);
    buf_fini(&html);
    buf_fini(&m);
    am__config_unref(c);
    fixture_fini(&f);
}

TEST(alert_merge_rules)
{
    am_alert_t *old = mk_alert("A", "t", S(100), S(500));
    am_alert_t *in = mk_alert("A", "t", S(200), S(400));
    old->updated_ns = S(10);
    old->timeout = 1;
    in->updated_ns = S(20);
    am_alert_t *m = am__alert_merge(old, in, S(300));
    ASSERT_EQ(m->starts_ns, S(100)); /* earliest start */
    ASSERT_EQ(m->ends_ns, S(400));   /* the older end was a timeout */
    am__alert_unref(m);
    old->timeout = 0;
    m = am__alert_merge(old, in, S(300));
    ASSERT_EQ(m->ends_ns, S(500)); /* an explicit later end wins */
    am__alert_unref(m);
    /* Both resolved: the latest end wins. */
    in->ends_ns = S(250);
    m = am__alert_merge(old, in, S(600));
    ASSERT_EQ(m->ends_ns, S(500));
    am__alert_unref(m);
    am__alert_unref(old);
    am__alert_unref(in);
}

static am_silence_t *mk_sil(const char *value, int64_t st, int64_t en)
{
    am_smatcher_t m = {.name = "tenant", .value = value, .is_equal = 1};
    am_silence_t *s = am__silence_new(&m, 1, NULL);
    s->starts_ns = st;
    s->ends_ns = en;
    s->created_by = xstrdup("me");
    s->comment = xstrdup("c");
    return s;
}

TEST(silence_create_update_expire)
{
    am_tenant_t t = {0};
    am_changed_t ch = {0};
    err_t err = {0};
    hashmap_init(&t.silences);
    am_silence_t *s = mk_sil("prod", S(50), S(1000));
    ASSERT_EQ(am__silence_set(&t, s, S(100), &ch, &err), 0);
    char id[40];
    memcpy(id, s->id, sizeof(id));
    ASSERT_EQ(strlen(id), 36);
    ASSERT_EQ(s->starts_ns, S(100)); /* a start in the past becomes now */
    am__changed_fini(&ch);
    /* Same matchers, same start, later end: updated in place. */
    am_silence_t *u = mk_sil("prod", S(100), S(2000));
    memcpy(u->id, id, sizeof(id));
    ASSERT_EQ(am__silence_set(&t, u, S(150), &ch, &err), 0);
    ASSERT_STR_EQ(u->id, id);
    ASSERT_EQ(hashmap_len(&t.silences), 1);
    am__changed_fini(&ch);
    /* Other matchers: the old one expires, a new id is made. */
    am_silence_t *v = mk_sil("stage", S(100), S(2000));
    memcpy(v->id, id, sizeof(id));
    ASSERT_EQ(am__silence_set(&t, v, S(200), &ch, &err), 0);
    ASSERT_TRUE(strcmp(v->id, id) != 0);
    ASSERT_EQ(ch.n, 2);
    am__changed_fini(&ch);
    am_silence_t *old = hashmap_get(&t.silences, id);
    ASSERT_EQ(am__silence_state(old, S(200)), AM_SIL_EXPIRED);
    ASSERT_EQ(am__silence_expire(&t, id, S(300), &ch, &err), -1);
    char want[80];
    snprintf(want, sizeof(want), "silence %s already expired", id);
    ASSERT_STR_EQ(err.msg, want);
    hashmap_fini(&t.silences, (void (*)(void *))am__silence_free);
}

TEST(silence_validation)
{
    am_tenant_t t = {0};
    am_changed_t ch = {0};
    err_t err = {0};
    hashmap_init(&t.silences);
    am_smatcher_t m = {.name = "tenant", .value = ".*", .is_regex = 1, .is_equal = 1};
    am_silence_t *s = am__silence_new(&m, 1, &err);
    s->ends_ns = S(10);
    ASSERT_EQ(am__silence_set(&t, s, S(1), &ch, &err), -1);
    ASSERT_STR_EQ(err.msg, "invalid silence: at least one matcher must not match the empty "
                           "string");
    am_smatcher_t bad = {.name = "a", .value = "(", .is_regex = 1, .is_equal = 1};
    err_clear(&err);
    ASSERT_NULL(am__silence_new(&bad, 1, &err));
    ASSERT_TRUE(strstr(err.msg, "invalid label matcher 0") != NULL);
    hashmap_fini(&t.silences, NULL);
}

/* ---- notification rate limits (am_ratelimit.c) ---------------------------------------- */

/* A limits source: a tenant-wide rate and one per-integration override for "email". */
typedef struct {
    double rate, email_rate;
    int has_email_rate;
} rate_src_t;

static void rate_limits(void *arg, const char *tenant, am_limits_t *out)
{
    const rate_src_t *src = arg;
    (void)tenant;
    out->notification_rate_limit = src->rate;
    if (out->integration != NULL && strcmp(out->integration, "email") == 0 &&
        src->has_email_rate) {
        out->notification_rate_limit = src->email_rate;
    }
}

/* How many of `n` notifications at `now` go through. */
static int allowed(am_tenant_t *t, const am_integration_t *in, int n, int64_t now)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += am__ratelimit_allow(t, "recv", in, now);
    }
    return ok;
}

TEST(rate_limit_burst_as_mimir)
{
    ASSERT_DBL_EQ(am__ratelimit_burst(0), (double)INT64_MAX); /* 0: no limit */
    ASSERT_DBL_EQ(am__ratelimit_burst(INFINITY), (double)INT64_MAX);
    ASSERT_DBL_EQ(am__ratelimit_burst(-1), 0); /* negative: nothing */
    ASSERT_DBL_EQ(am__ratelimit_burst(0.2), 1);
    ASSERT_DBL_EQ(am__ratelimit_burst(3.7), 3);
    ASSERT_DBL_EQ(am__ratelimit_burst(10), 10);
}

TEST(rate_limit_token_bucket)
{
    rate_src_t src = {.rate = 2};
    am_t am = {.opts = {.limits = rate_limits, .limits_arg = &src}};
    am_tenant_t t = {.am = &am, .id = "t1"};
    am_integration_t hook = {.kind = AM_RECV_WEBHOOK}, hook2 = {.kind = AM_RECV_WEBHOOK, .index = 1};
    am_integration_t mail = {.kind = AM_RECV_EMAIL};
    hashmap_init(&t.limiters);
    ASSERT_EQ(allowed(&t, &hook, 5, S(100)), 2);                  /* a full bucket: burst 2 */
    ASSERT_EQ(allowed(&t, &hook, 5, S(100) + AM_NS_PER_S / 2), 1); /* 0.5 s at 2/s: 1 token */
    ASSERT_EQ(allowed(&t, &hook, 5, S(110)), 2);                  /* refilled, capped at burst */
    ASSERT_EQ(allowed(&t, &hook2, 5, S(110)), 2); /* each integration has its own bucket */
    /* Per-integration override, and a negative rate: nothing goes out. */
    src.has_email_rate = 1;
    src.email_rate = -1;
    ASSERT_EQ(allowed(&t, &mail, 3, S(120)), 0);
    src.email_rate = 0; /* changed to "no limit": applied at the next notification */
    ASSERT_EQ(allowed(&t, &mail, 50, S(121)), 50);
    /* Tenant-wide 0.5/s: burst 1, then one every 2 s. */
    src.rate = 0.5;
    ASSERT_EQ(allowed(&t, &hook, 3, S(130)), 1);
    ASSERT_EQ(allowed(&t, &hook, 3, S(131)), 0);
    ASSERT_EQ(allowed(&t, &hook, 3, S(132)), 1);
    /* A new config starts with full buckets. */
    am__ratelimit_reset(&t);
    ASSERT_EQ(allowed(&t, &hook, 3, S(132)), 1);
    am__ratelimit_fini(&t);
}
