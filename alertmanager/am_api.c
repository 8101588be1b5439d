/* alertmanager/am_api.c - the v2 API plumbing: route registration, tenant resolution (412
 * when unconfigured), Alertmanager's three error body shapes, query-parameter decoding, and
 * the small endpoints (status, receivers, removed v1 routes). Alerts and silences handlers
 * live in am_api_alerts.c and am_api_silences.c. */
#include <stdio.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/timeutil.h"

void am__reply_jstr(http_req_t *r, int status, const char *msg)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_str(w, msg);
    jsonw_free(w);
    buf_putc(&b, '\n');
    http_reply_buf(r, status, "application/json", &b);
}

void am__reply_code(http_req_t *r, int status, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:i,s:s}", "code", code, "message", msg);
    http_reply_json(r, status, o);
}

void am__reply_raw(http_req_t *r, int status, buf_t *body)
{
    buf_putc(body, '\n');
    http_reply_buf(r, status, "application/json", body);
}

am_tenant_t *am__api_tenant(http_req_t *r, am_t *am)
{
    err_t err = {0};
    am_tenant_t *t = am__tenant_get(am, http_req_tenant(r), &err);
    if (t == NULL) {
        http_reply_text(r, err.code == ERR_PRECONDITION ? 412 : 500, "%s", err.msg);
    }
    return t;
}

int am__api_bool(http_req_t *r, const char *name, int *out)
{
    const char *v = http_req_arg(r, name);
    *out = 1;
    if (v == NULL) {
        return 0;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    am__reply_code(r, 400, 400, "%s in query must be of type boolean: \"%s\"", name, v);
    return -1;
}

int am__api_filter(http_req_t *r, am_filter_t *f)
{
    const char *const *vals;
    size_t n = http_req_args(r, "filter", &vals);
    arena_t *a = http_req_arena(r);
    memset(f, 0, sizeof(*f));
    f->ms = arena_calloc(a, (n * 8 + 1) * sizeof(*f->ms));
    for (size_t i = 0; i < n; i++) {
        err_t err = {0};
        size_t got = 0;
        const char *text = vals[i][0] == '{' ? vals[i] : arena_sprintf(a, "{%s}", vals[i]);
        matcher_t **ms = matchers_parse(a, text, &got, 1, &err);
        if (ms == NULL && err_is_set(&err)) {
            am__reply_jstr(r, 400, err.msg);
            return -1;
        }
        for (size_t j = 0; j < got && f->n < n * 8; j++) {
            f->ms[f->n++] = ms[j];
        }
    }
    const char *recv = http_req_arg(r, "receiver");
    if (recv != NULL && recv[0] != '\0') {
        err_t err = {0};
        f->receiver = matcher_new_arena(a, MATCH_RE, "receiver", recv, &err);
        if (f->receiver == NULL) {
            am__reply_jstr(r, 400, err.msg);
            return -1;
        }
    }
    return 0;
}

static int h_status(http_req_t *r, void *ctx, err_t *err)
{
    am_t *am = ctx;
    char uptime[64];
    am_tenant_t *t = am__api_tenant(r, am);
    if (t == NULL) {
        return 0;
    }
    am__time_format(am->start_ns, uptime, sizeof(uptime));
    pthread_mutex_lock(&t->mu);
    json_t *cfg = json_pack("{s:s}", "original", t->config->original);
    pthread_mutex_unlock(&t->mu);
    json_t *o = json_pack(
        "{s:{s:[],s:s},s:o,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "cluster", "peers", "status",
        "disabled", "config", cfg, "uptime", uptime,
        "versionInfo", "branch", "HEAD", "buildDate", "", "buildUser", "herald", "goVersion",
        "go1.19", "revision", "herald", "version", "0.25.0");
    http_reply_json(r, 200, o);
    am__tenant_unref(t);
    return 0;
}

static int h_receivers(http_req_t *r, void *ctx, err_t *err)
{
    am_tenant_t *t = am__api_tenant(r, ctx);
    if (t == NULL) {
        return 0;
    }
    json_t *arr = json_array();
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->config->n_receivers; i++) {
        json_array_append_new(arr, json_pack("{s:s}", "name", t->config->receivers[i].name));
    }
    pthread_mutex_unlock(&t->mu);
    http_reply_json(r, 200, arr);
    am__tenant_unref(t);
    return 0;
}

static int h_v1_gone(http_req_t *r, void *ctx, err_t *err)
{
    json_t *o = json_pack("{s:s,s:s}", "status", "deprecated", "error",
                          "The Alertmanager v1 API was deprecated in version 0.16.0 and is "
                          "removed as of version 0.27.0 - please use the equivalent route in "
                          "the v2 API");
    http_reply_json(r, 410, o);
    return 0;
}

typedef struct {
    const char *methods, *path;
    int auth;
    http_handler_fn fn;
} am_route_def_t;

static const am_route_def_t api_routes[] = {
    {"GET,POST", "/api/v2/alerts", 1, am__h_alerts},
    {"GET", "/api/v2/alerts/groups", 1, am__h_alert_groups},
    {"GET,POST", "/api/v2/silences", 1, am__h_silences},
    {"GET,DELETE", "/api/v2/silence/{id}", 1, am__h_silence},
    {"GET", "/api/v2/status", 1, h_status},
    {"GET", "/api/v2/receivers", 1, h_receivers},
    {"*", "/api/v1", 1, h_v1_gone},
};

int am__api_register(http_server_t *s, am_t *am, err_t *err)
{
    char path[512];
    for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
        const am_route_def_t *d = &api_routes[i];
        int flags = (d->auth ? HTTP_AUTH : 0) | HTTP_GZIP;
        if (d->fn == h_v1_gone) {
            flags |= HTTP_PREFIX;
        }
        snprintf(path, sizeof(path), "%s%s", am->prefix, d->path);
        if (http_route(s, d->methods, path, flags, d->fn, am) < 0) {
            return err_set(err, ERR_INTERNAL, "cannot register %s", path);
        }
    }
    return 0;
}
