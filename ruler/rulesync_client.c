/* ruler/rulesync_client.c - the ruler config API client of herald-rulesync (libcurl): list,
 * create/update and delete rule groups as Alloy's Mimir and Loki clients do, with their
 * error texts and their idea of which failures are worth a retry.
 *
 * Thread-safety: a client belongs to one component thread; each request uses its own curl
 * handle, so nothing is shared but the (thread-safe) metrics. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "ruler/rulesync_int.h"

struct rulesync_client {
    rulesync_kind_t kind;
    char *address;   /* scheme://host:port, no trailing slash */
    char *base_path; /* /prometheus/config/v1/rules, /loki/api/v1/rules or /api/v1/rules */
    char *base;      /* address + base_path, for messages and status */
    char *prefix;    /* namespace prefix: listings keep only managed namespaces */
    const cfg_rules_target_t *t; /* borrowed from the component's config snapshot */
    char *component_id;
    metric_t *duration;
};

static const char *reason_phrase(int status)
{
    static const struct {
        int code;
        const char *text;
    } tab[] = {{400, "Bad Request"},
               {401, "Unauthorized"},
               {403, "Forbidden"},
               {404, "Not Found"},
               {405, "Method Not Allowed"},
               {409, "Conflict"},
               {413, "Request Entity Too Large"},
               {422, "Unprocessable Entity"},
               {429, "Too Many Requests"},
               {500, "Internal Server Error"},
               {502, "Bad Gateway"},
               {503, "Service Unavailable"},
               {504, "Gateway Timeout"}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (tab[i].code == status) {
            return tab[i].text;
        }
    }
    return "";
}

rulesync_client_t *rulesync__client_new(rulesync_kind_t kind, const cfg_rules_target_t *t,
                                        const char *component_id)
{
    static const double buckets[] = {0.005, 0.02, 0.08, 0.32, 1.28, 5.12, 20.48};
    rulesync_client_t *c = xcalloc(1, sizeof(*c));
    c->kind = kind;
    c->t = t;
    /* Alloy needs a full URL; a bare host:port (the seed's MIMIR_ENDPOINT) means http. */
    const char *scheme = strstr(t->address, "://") != NULL ? "" : "http://";
    size_t n = strlen(t->address);
    while (n > 0 && t->address[n - 1] == '/') {
        n--;
    }
    c->address = xmalloc(strlen(scheme) + n + 1);
    sprintf(c->address, "%s%.*s", scheme, (int)n, t->address);
    if (t->use_legacy_routes) {
        c->base_path = xstrdup("/api/v1/rules");
    } else if (kind == RULESYNC_MIMIR) {
        c->base_path = xmalloc(strlen(t->prometheus_http_prefix) + 32);
        sprintf(c->base_path, "%s/config/v1/rules", t->prometheus_http_prefix);
    } else {
        c->base_path = xstrdup("/loki/api/v1/rules");
    }
    c->base = xmalloc(strlen(c->address) + strlen(c->base_path) + 1);
    sprintf(c->base, "%s%s", c->address, c->base_path);
    c->prefix = xstrdup(t->namespace_prefix);
    c->component_id = xstrdup(component_id);
    c->duration = metric_histogram(
        kind == RULESYNC_MIMIR ? "mimir_rules_mimir_client_request_duration_seconds"
                               : "loki_rules_loki_client_request_duration_seconds",
        kind == RULESYNC_MIMIR ? "Duration of requests to the Mimir API."
                               : "Duration of requests to the Loki API.",
        "component_id,operation,status_code", buckets, sizeof(buckets) / sizeof(buckets[0]));
    return c;
}

void rulesync__client_free(rulesync_client_t *c)
{
    if (c == NULL) {
        return;
    }
    free(c->address);
    free(c->base_path);
    free(c->base);
    free(c->prefix);
    free(c->component_id);
    free(c);
}

const char *rulesync__client_base(const rulesync_client_t *c)
{
    return c->base;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

/* First line of a file's content (token files end with a newline). */
static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char line[8192];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (got == NULL) {
        return xstrdup("");
    }
    line[strcspn(line, "\r\n")] = '\0';
    return xstrdup(line);
}

static struct curl_slist *add_header(struct curl_slist *h, const char *name, const char *value)
{
    char *line = xmalloc(strlen(name) + strlen(value) + 3);
    sprintf(line, "%s: %s", name, value);
    h = curl_slist_append(h, line);
    free(line);
    return h;
}

/* Headers every request carries: tenant, auth, user headers; "Content-Type:" with no value
 * makes curl send none, as Alloy's client does. */
static struct curl_slist *request_headers(const rulesync_client_t *c, CURL *h)
{
    const cfg_rules_target_t *t = c->t;
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type:");
    hs = curl_slist_append(hs, "Expect:");
    if (t->tenant_id[0] != '\0') {
        hs = add_header(hs, "X-Scope-OrgID", t->tenant_id);
    }
    char *token = t->bearer_token_file[0] != '\0' ? read_secret(t->bearer_token_file)
                                                  : xstrdup(t->bearer_token);
    if (token != NULL && token[0] != '\0') {
        char *v = xmalloc(strlen(token) + 8);
        sprintf(v, "Bearer %s", token);
        hs = add_header(hs, "Authorization", v);
        free(v);
    }
    free(token);
    if (t->basic_auth_username[0] != '\0') {
        char *pw = t->basic_auth_password_file[0] != '\0' ? read_secret(t->basic_auth_password_file)
                                                          : xstrdup(t->basic_auth_password);
        curl_easy_setopt(h, CURLOPT_USERNAME, t->basic_auth_username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pw != NULL ? pw : "");
        free(pw);
    }
    for (size_t i = 0; i < t->http_headers.n; i++) {
        hs = add_header(hs, t->http_headers.keys[i], t->http_headers.values[i]);
    }
    return hs;
}

typedef struct {
    const char *method;
    const char *path;      /* escaped, after the address */
    const char *operation; /* route template for the histogram */
    const char *body;
    size_t body_len;
    int64_t timeout_ms;
} request_t;

/* The Alloy client's error text for a non-2xx answer. */
static int status_error(const request_t *rq, int status, const buf_t *body, err_t *err)
{
    const char *b = body->data != NULL ? body->data : "";
    size_t n = strcspn(b, "\n");
    if (n > 512) {
        n = 512;
    }
    return err_set(err, ERR_UNAVAILABLE, "error %s %s: server returned HTTP status %d %s: %.*s",
                   rq->method, rq->path, status, reason_phrase(status), (int)n, b);
}

static int is_recoverable(rulesync_kind_t kind, int status)
{
    if (kind == RULESYNC_LOKI || status == 0) {
        return 1;
    }
    return status == 429 || status >= 500;
}

static int perform(rulesync_client_t *c, const request_t *rq, buf_t *resp, rulesync_result_t *res,
                   err_t *err)
{
    CURL *h = curl_easy_init();
    char *url = xmalloc(strlen(c->address) + strlen(rq->path) + 1);
    sprintf(url, "%s%s", c->address, rq->path);
    struct curl_slist *hs = request_headers(c, h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    if (rq->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    }
    int64_t t0 = time_mono_ms();
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char code[16];
    snprintf(code, sizeof(code), "%ld", status);
    metric_observe(c->duration, (double)(time_mono_ms() - t0) / 1000.0, c->component_id,
                   rq->operation, cc == CURLE_OK ? code : "error");
    res->status = cc == CURLE_OK ? (int)status : 0;
    res->recoverable = is_recoverable(c->kind, res->status);
    int rc = 0;
    if (cc != CURLE_OK) {
        rc = err_set(err, ERR_UNAVAILABLE, "error %s %s: %s", rq->method, rq->path,
                     curl_easy_strerror(cc));
    } else if ((status < 200 || status > 299) && !(c->kind == RULESYNC_LOKI && status == 404)) {
        rc = status_error(rq, (int)status, resp, err);
    }
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    free(url);
    return rc;
}

/* Drops the namespaces this component does not manage. */
static void keep_managed(const rulesync_client_t *c, rulesync_state_t *s)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (rulesync__is_managed(c->prefix, s->ns[i].name)) {
            s->ns[w++] = s->ns[i];
        }
    }
    s->n = w;
}

int rulesync__client_list(rulesync_client_t *c, arena_t *a, int64_t timeout_ms,
                          rulesync_state_t *out, rulesync_result_t *res, err_t *err)
{
    buf_t body;
    buf_init(&body);
    request_t rq = {"GET", c->base_path, c->base_path, NULL, 0, timeout_ms};
    *out = (rulesync_state_t){0};
    int rc = perform(c, &rq, &body, res, err);
    if (rc == 0 && res->status == 404) {
        /* Loki answers an empty ruler with 404 `no rule groups found`: nothing is there. */
        rulesync_state_t tmp;
        err_t ignored = {0};
        if (rulesync__listing_parse(a, body.data != NULL ? body.data : "", body.len, &tmp,
                                    &ignored) == 0) {
            *out = tmp;
        }
    } else if (rc == 0) {
        rc = rulesync__listing_parse(a, body.data != NULL ? body.data : "", body.len, out, err);
        res->recoverable = 1;
    }
    if (rc == 0) {
        keep_managed(c, out);
    }
    buf_fini(&body);
    return rc;
}

static char *ns_path(const rulesync_client_t *c, const char *ns, const char *group)
{
    buf_t p;
    buf_init(&p);
    buf_puts(&p, c->base_path);
    buf_putc(&p, '/');
    http_url_encode(&p, ns);
    if (group != NULL) {
        buf_putc(&p, '/');
        http_url_encode(&p, group);
    }
    return buf_steal(&p, NULL);
}

int rulesync__client_post(rulesync_client_t *c, const char *ns, const rulesync_group_t *g,
                          int64_t timeout_ms, rulesync_result_t *res, err_t *err)
{
    buf_t yaml, body;
    buf_init(&yaml);
    buf_init(&body);
    rulesync__group_yaml(g, &yaml);
    char *path = ns_path(c, ns, NULL);
    char op[512];
    snprintf(op, sizeof(op), "%s/{namespace}", c->base_path);
    request_t rq = {"POST", path, op, yaml.data != NULL ? yaml.data : "", yaml.len, timeout_ms};
    int rc = perform(c, &rq, &body, res, err);
    free(path);
    buf_fini(&yaml);
    buf_fini(&body);
    return rc;
}

int rulesync__client_delete(rulesync_client_t *c, const char *ns, const char *group,
                            int64_t timeout_ms, rulesync_result_t *res, err_t *err)
{
    buf_t body;
    buf_init(&body);
    char *path = ns_path(c, ns, group);
    char op[512];
    snprintf(op, sizeof(op), "%s/{namespace}/{groupName}", c->base_path);
    request_t rq = {"DELETE", path, op, NULL, 0, timeout_ms};
    int rc = perform(c, &rq, &body, res, err);
    free(path);
    buf_fini(&body);
    return rc;
}
