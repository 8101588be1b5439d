/* alertmanager/am_config_recv.c - receivers: webhook, Slack, PagerDuty and email sections,
 * http_config, and the defaults and global fallbacks Alertmanager applies to them.
 *
 * DESIGN: each receiver kind is a table row: its YAML key, its known keys, its string fields
 * (stored by index in am_integration_t.fields) with their default templates, and a check
 * function. Other receiver kinds Alertmanager knows are accepted and ignored (logged once
 * when used), so configs written for upstream load unchanged. */
#include <string.h>
#include <strings.h>

#include "alertmanager/am_int.h"

/* Field lists: index i of `fields` in am_integration_t. */
static const char *const webhook_fields[] = {"url", "url_file", NULL};
static const char *const slack_fields[] = {
    "api_url",  "channel",     "username", "color",      "title",     "title_link",
    "pretext",  "text",        "footer",   "fallback",   "callback_id", "icon_emoji",
    "icon_url", "image_url",   "thumb_url", "api_url_file", NULL};
static const char *const pagerduty_fields[] = {
    "routing_key", "service_key", "url",   "client",    "client_url", "description",
    "source",      "severity",    "class", "component", "group",      NULL};
static const char *const email_fields[] = {
    "to",            "from",          "hello",       "smarthost", "auth_username",
    "auth_password", "auth_secret",   "auth_identity", "html",    "text",
    NULL};

/* Defaults, as Alertmanager's config defaults reference its default templates. */
static const am_kv_t slack_defaults[] = {
    {"color", "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}"},
    {"username", "{{ template \"slack.default.username\" . }}"},
    {"title", "{{ template \"slack.default.title\" . }}"},
    {"title_link", "{{ template \"slack.default.titlelink\" . }}"},
    {"pretext", "{{ template \"slack.default.pretext\" . }}"},
    {"text", "{{ template \"slack.default.text\" . }}"},
    {"fallback", "{{ template \"slack.default.fallback\" . }}"},
    {"callback_id", "{{ template \"slack.default.callbackid\" . }}"},
    {"icon_emoji", "{{ template \"slack.default.iconemoji\" . }}"},
    {"icon_url", "{{ template \"slack.default.iconurl\" . }}"},
    {"footer", "{{ template \"slack.default.footer\" . }}"},
    {NULL, NULL}};
static const am_kv_t pagerduty_defaults[] = {
    {"description", "{{ template \"pagerduty.default.description\" .}}"},
    {"client", "{{ template \"pagerduty.default.client\" . }}"},
    {"client_url", "{{ template \"pagerduty.default.clientURL\" . }}"},
    {NULL, NULL}};
static const am_kv_t email_defaults[] = {
    {"html", "{{ template \"email.default.html\" . }}"}, {NULL, NULL}};

typedef struct {
    am_recv_kind_t kind;
    const char *section; /* "webhook_configs" */
    const char *name;
    const char *const *fields;
    const char *const *other_keys; /* non-string keys */
    const am_kv_t *defaults;
    int send_resolved;
    int (*check)(arena_t *a, const am_global_t *g, am_integration_t *in, err_t *err);
} recv_kind_t;

static const char *const webhook_other[] = {"send_resolved", "http_config", "max_alerts",
                                            "timeout", NULL};
static const char *const slack_other[] = {
    "send_resolved", "http_config", "fields",     "short_fields", "link_names",
    "mrkdwn_in",     "actions",     "app_token",  "app_token_file", "app_url",
    "update_message", "timeout",    "message_text", NULL};
static const char *const pagerduty_other[] = {"send_resolved", "http_config", "details",
                                              "images", "links", "routing_key_file",
                                              "service_key_file", "timeout", NULL};
static const char *const email_other[] = {"send_resolved", "headers", "require_tls",
                                          "tls_config", "auth_password_file",
                                          "auth_secret_file", "force_implicit_tls",
                                          "threading", NULL};

static const char *field(const recv_kind_t *k, const am_integration_t *in, const char *name)
{
    int i = am__recv_field(k->kind, name);
    return i >= 0 ? in->fields[i] : NULL;
}

static int set_field(const recv_kind_t *k, am_integration_t *in, const char *name,
                     const char *v)
{
    int i = am__recv_field(k->kind, name);
    if (i >= 0) {
        in->fields[i] = v;
    }
    return 0;
}

static int check_webhook(arena_t *a, const am_global_t *g, am_integration_t *in, err_t *err)
{
    const char *url = in->fields[0], *file = in->fields[1];
    (void)a;
    (void)g;
    if (url == NULL && file == NULL) {
        return err_set(err, ERR_BAD_DATA, "one of url or url_file must be configured");
    }
    if (url != NULL && file != NULL) {
        return err_set(err, ERR_BAD_DATA, "at most one of url & url_file must be configured");
    }
    if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        return err_set(err, ERR_BAD_DATA, "unsupported scheme \"%.*s\" for URL",
                       strchr(url, ':') ? (int)(strchr(url, ':') - url) : 0, url);
    }
    in->url = url;
    if (in->max_alerts < 0) {
        return err_set(err, ERR_BAD_DATA, "max_alerts must be a non-negative integer");
    }
    return 0;
}

static int check_slack(arena_t *a, const am_global_t *g, am_integration_t *in, err_t *err)
{
    (void)a;
    in->url = in->fields[0];
    if (in->url == NULL && in->fields[15] == NULL) {
        in->url = g->slack_api_url;
    }
    if (in->url == NULL && in->fields[15] == NULL) {
        return err_set(err, ERR_BAD_DATA, "no global Slack API URL set");
    }
    return 0;
}

static int check_pagerduty(arena_t *a, const am_global_t *g, am_integration_t *in, err_t *err)
{
    (void)a;
    if (in->fields[0] == NULL && in->fields[1] == NULL) {
        return err_set(err, ERR_BAD_DATA, "missing service or routing key in PagerDuty config");
    }
    in->url = in->fields[2] != NULL ? in->fields[2] : g->pagerduty_url;
    if (in->fields[7] == NULL && in->fields[0] != NULL) {
        in->fields[7] = "error";
    }
    return 0;
}

static int check_email(arena_t *a, const am_global_t *g, am_integration_t *in, err_t *err)
{
    (void)a;
    if (in->fields[0] == NULL) {
        return err_set(err, ERR_BAD_DATA, "missing to address in email config");
    }
    const char **fallback[] = {&in->fields[1], &in->fields[2], &in->fields[3], &in->fields[4],
                               &in->fields[5], &in->fields[6], &in->fields[7]};
    const char *global[] = {g->smtp_from,          g->smtp_hello,         g->smtp_smarthost,
                            g->smtp_auth_username, g->smtp_auth_password, g->smtp_auth_secret,
                            g->smtp_auth_identity};
    for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
        if (*fallback[i] == NULL) {
            *fallback[i] = global[i];
        }
    }
    if (in->fields[3] == NULL) {
        return err_set(err, ERR_BAD_DATA, "no global SMTP smarthost set");
    }
    if (in->fields[1] == NULL) {
        return err_set(err, ERR_BAD_DATA, "no global mail from address set");
    }
    for (size_t i = 0; i < in->n_map; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(in->map[i].key, in->map[j].key) == 0) {
                return err_set(err, ERR_BAD_DATA, "duplicate header \"%s\" in email config",
                               in->map[i].key);
            }
        }
    }
    return 0;
}

static const recv_kind_t kinds[] = {
    {.kind = AM_RECV_WEBHOOK, .section = "webhook_configs", .name = "webhook",
     .fields = webhook_fields, .other_keys = webhook_other, .send_resolved = 1,
     .check = check_webhook},
    {.kind = AM_RECV_SLACK, .section = "slack_configs", .name = "slack", .fields = slack_fields,
     .other_keys = slack_other, .defaults = slack_defaults, .send_resolved = 0,
     .check = check_slack},
    {.kind = AM_RECV_PAGERDUTY, .section = "pagerduty_configs", .name = "pagerduty",
     .fields = pagerduty_fields, .other_keys = pagerduty_other, .defaults = pagerduty_defaults,
     .send_resolved = 1, .check = check_pagerduty},
    {.kind = AM_RECV_EMAIL, .section = "email_configs", .name = "email", .fields = email_fields,
     .other_keys = email_other, .defaults = email_defaults, .send_resolved = 0,
     .check = check_email},
};

/* Receiver kinds Alertmanager knows that herald accepts but does not send to. */
static const char *const ignored_sections[] = {
    "opsgenie_configs", "wechat_configs",   "pushover_configs", "victorops_configs",
    "sns_configs",      "telegram_configs", "webex_configs",    "discord_configs",
    "msteams_configs",  "msteamsv2_configs", "jira_configs",    "rocketchat_configs",
    "mattermost_configs", "incidentio_configs", NULL};

int am__recv_field(am_recv_kind_t kind, const char *name)
{
    const char *const *f = kinds[kind].fields;
    for (int i = 0; f[i] != NULL; i++) {
        if (strcmp(f[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *am__recv_kind_name(am_recv_kind_t kind)
{
    return kinds[kind].name;
}

static const char *const http_keys[] = {
    "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config",
    "proxy_url",  "follow_redirects", "enable_http2", "oauth2", "no_proxy",
    "proxy_from_environment", "proxy_connect_header", NULL};
static const char *const basic_keys[] = {"username", "password", "password_file",
                                         "username_file", NULL};
static const char *const authz_keys[] = {"type", "credentials", "credentials_file", NULL};
static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "ca", "cert", "key",
                                       "server_name", "insecure_skip_verify", "min_version",
                                       "max_version", NULL};

int am__http_cfg_parse(arena_t *a, const am_ynode_t *n, am_http_cfg_t *out, err_t *err)
{
    const am_ynode_t *ba = am__ymap_get(n, "basic_auth"), *az = am__ymap_get(n, "authorization");
    const am_ynode_t *tls = am__ymap_get(n, "tls_config");
    const char *type = NULL;
    out->follow_redirects = 1;
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (am__y_unknown(n, http_keys, "config.plain", err) < 0 ||
        am__y_unknown(ba, basic_keys, "config.plain", err) < 0 ||
        am__y_unknown(az, authz_keys, "config.plain", err) < 0 ||
        am__y_unknown(tls, tls_keys, "config.plain", err) < 0 ||
        am__y_str(a, am__ymap_get(ba, "username"), &out->username, err) < 0 ||
        am__y_str(a, am__ymap_get(ba, "password"), &out->password, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "bearer_token"), &out->bearer_token, err) < 0 ||
        am__y_str(a, am__ymap_get(az, "type"), &type, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "proxy_url"), &out->proxy_url, err) < 0 ||
        am__y_bool(am__ymap_get(tls, "insecure_skip_verify"), &out->insecure_skip_verify, err) <
            0 ||
        am__y_bool(am__ymap_get(n, "follow_redirects"), &out->follow_redirects, err) < 0) {
        return -1;
    }
    if (az != NULL && out->bearer_token != NULL) {
        return err_set(err, ERR_BAD_DATA,
                       "at most one of bearer_token & bearer_token_file & authorization must be "
                       "configured");
    }
    if (az != NULL) {
        if (type != NULL && strcasecmp(type, "bearer") != 0) {
            return err_set(err, ERR_BAD_DATA, "herald supports only Bearer authorization");
        }
        if (am__y_str(a, am__ymap_get(az, "credentials"), &out->bearer_token, err) < 0) {
            return -1;
        }
    }
    if (ba != NULL && out->bearer_token != NULL) {
        return err_set(err, ERR_BAD_DATA,
                       "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must "
                       "be configured");
    }
    return 0;
}

static int kv_map(arena_t *a, const am_ynode_t *n, am_kv_t **out, size_t *cnt, err_t *err)
{
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_MAP) {
        return err_set(err, ERR_BAD_DATA, "yaml: unmarshal errors:\n  line %d: expected a map",
                       n->line);
    }
    *out = arena_calloc(a, (n->n + 1) * sizeof(**out));
    for (size_t i = 0; *out != NULL && i < n->n; i++) {
        (*out)[i].key = n->keys[i];
        (*out)[i].value = n->vals[i]->str != NULL ? n->vals[i]->str : "";
    }
    *cnt = n->n;
    return 0;
}

static int integration_parse(arena_t *a, const am_global_t *g, const recv_kind_t *k,
                             const am_ynode_t *n, am_integration_t *in, err_t *err)
{
    const char *known[64];
    size_t nk = 0;
    for (size_t i = 0; k->fields[i] != NULL; i++) {
        known[nk++] = k->fields[i];
    }
    for (size_t i = 0; k->other_keys[i] != NULL; i++) {
        known[nk++] = k->other_keys[i];
    }
    known[nk] = NULL;
    in->kind = k->kind;
    in->node = n;
    in->send_resolved = k->send_resolved;
    in->http = g->http;
    if (am__y_unknown(n, known, "config.plain", err) < 0) {
        return -1;
    }
    for (size_t i = 0; k->fields[i] != NULL; i++) {
        if (am__y_str(a, am__ymap_get(n, k->fields[i]), &in->fields[i], err) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; k->defaults != NULL && k->defaults[i].key != NULL; i++) {
        if (field(k, in, k->defaults[i].key) == NULL) {
            set_field(k, in, k->defaults[i].key, k->defaults[i].value);
        }
    }
    const am_ynode_t *hc = am__ymap_get(n, "http_config");
    if ((hc != NULL && am__http_cfg_parse(a, hc, &in->http, err) < 0) ||
        am__y_bool(am__ymap_get(n, "send_resolved"), &in->send_resolved, err) < 0 ||
        am__y_int(am__ymap_get(n, "max_alerts"), &in->max_alerts, err) < 0 ||
        am__y_duration(am__ymap_get(n, "timeout"), &in->timeout_ns, err) < 0 ||
        kv_map(a, am__ymap_get(n, k->kind == AM_RECV_EMAIL ? "headers" : "details"), &in->map,
               &in->n_map, err) < 0) {
        return -1;
    }
    return k->check(a, g, in, err);
}

static int section_parse(arena_t *a, const am_global_t *g, const recv_kind_t *k,
                         const am_ynode_t *sec, am_receiver_t *out, err_t *err)
{
    if (sec == NULL || sec->kind == AM_Y_NULL) {
        return 0;
    }
    if (sec->kind != AM_Y_SEQ) {
        return err_set(err, ERR_BAD_DATA, "yaml: unmarshal errors:\n  line %d: %s must be a list",
                       sec->line, k->section);
    }
    out->ints = arena_realloc(a, out->ints, out->n_ints * sizeof(*out->ints),
                              (out->n_ints + sec->n) * sizeof(*out->ints));
    if (out->ints == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sec->n; i++) {
        am_integration_t *in = &out->ints[out->n_ints];
        memset(in, 0, sizeof(*in));
        in->index = (int)i;
        if (integration_parse(a, g, k, sec->vals[i], in, err) < 0) {
            return -1;
        }
        out->n_ints++;
    }
    return 0;
}

int am__recv_parse(arena_t *a, const am_global_t *g, const am_ynode_t *n, am_receiver_t *out,
                   err_t *err)
{
    const char *known[32];
    size_t nk = 0;
    known[nk++] = "name";
    for (size_t i = 0; i < AM_RECV_KIND_COUNT_; i++) {
        known[nk++] = kinds[i].section;
    }
    for (size_t i = 0; ignored_sections[i] != NULL; i++) {
        known[nk++] = ignored_sections[i];
    }
    known[nk] = NULL;
    if (am__y_unknown(n, known, "config.plain", err) < 0 ||
        am__y_str(a, am__ymap_get(n, "name"), &out->name, err) < 0) {
        return -1;
    }
    if (out->name == NULL || out->name[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "missing name in receiver");
    }
    for (size_t i = 0; i < AM_RECV_KIND_COUNT_; i++) {
        if (section_parse(a, g, &kinds[i], am__ymap_get(n, kinds[i].section), out, err) < 0) {
            return -1;
        }
    }
    return 0;
}
