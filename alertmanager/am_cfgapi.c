/* alertmanager/am_cfgapi.c - Mimir's per-tenant configuration API (GET/POST/DELETE
 * /api/v1/alerts, plain-text errors), applied at once, and the multi-tenant admin pages
 * (/multitenant_alertmanager/status, /configs, /delete_tenant_config). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "alertmanager/am_int.h"

static int wants_yaml(http_req_t *r)
{
    const char *accept = http_req_header(r, "Accept");
    const char *fmt = http_req_arg(r, "format");
    return (fmt != NULL && strcmp(fmt, "yaml") == 0) ||
           (accept != NULL && (strstr(accept, "application/yaml") != NULL ||
                               strstr(accept, "text/yaml") != NULL ||
                               strstr(accept, "application/x-yaml") != NULL));
}

static void get_config(http_req_t *r, am_t *am, const char *tenant)
{
    char *text = am__cfgstore_read(am, tenant);
    buf_t b;
    err_t err = {0};
    if (text == NULL) {
        http_reply_text(r, 404, "alertmanager storage object not found");
        return;
    }
    int yaml = wants_yaml(r);
    buf_init(&b);
    if (am__user_config_render(text, yaml, &b, &err) < 0) {
        buf_fini(&b);
        http_reply_text(r, 500, "%s", err.msg);
    } else {
        http_reply_buf(r, 200, yaml ? "application/yaml" : "application/json", &b);
    }
    free(text);
}

static void post_config(http_req_t *r, am_t *am, const char *tenant)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    err_t err = {0};
    char *text = strndup(body != NULL ? body : "", len);
    am_config_t *c = am__user_config_parse(am, text, len, &err);
    if (c == NULL) {
        if (strncmp(err.msg, "error marshalling", 17) == 0) {
            http_reply_text(r, 400, "%s", err.msg);
        } else {
            http_reply_text(r, 400, "error validating Alertmanager config: %s", err.msg);
        }
        free(text);
        return;
    }
    if (am__cfgstore_write(am, tenant, text, &err) < 0) {
        am__config_unref(c);
        http_reply_text(r, 500, "%s", err.msg);
    } else {
        am__tenant_apply(am, tenant, c, &err);
        http_reply(r, 201, "text/plain; charset=utf-8", "", 0);
    }
    free(text);
}

static void delete_config(http_req_t *r, am_t *am, const char *tenant)
{
    err_t err = {0};
    if (am__cfgstore_delete(am, tenant, &err) < 0) {
        http_reply_text(r, 500, "%s", err.msg);
        return;
    }
    am__tenant_apply(am, tenant, NULL, &err);
    http_reply(r, 200, "text/plain; charset=utf-8", "", 0);
}

static int h_config(http_req_t *r, void *ctx, err_t *err)
{
    const char *m = http_req_method(r);
    const char *tenant = http_req_tenant(r);
    if (strcmp(m, "GET") == 0) {
        get_config(r, ctx, tenant);
    } else if (strcmp(m, "POST") == 0) {
        post_config(r, ctx, tenant);
    } else {
        delete_config(r, ctx, tenant);
    }
    return 0;
}

static int h_delete_tenant(http_req_t *r, void *ctx, err_t *err)
{
    delete_config(r, ctx, http_req_tenant(r));
    return 0;
}

static int h_status_page(http_req_t *r, void *ctx, err_t *err)
{
    am_t *am = ctx;
    buf_t b;
    buf_init(&b);
    pthread_rwlock_rdlock(&am->mu);
    size_t n = hashmap_len(&am->tenants);
    int has_fallback = am->fallback != NULL;
    pthread_rwlock_unlock(&am->mu);
    buf_printf(&b,
               "<!DOCTYPE html>\n<html>\n<head><title>Alertmanager Status</title></head>\n"
               "<body>\n<h1>Alertmanager Status</h1>\n<p>Ring: disabled (single instance)</p>\n"
               "<p>Tenants with a running Alertmanager: %zu</p>\n<p>Fallback config: %s</p>\n"
               "</body>\n</html>\n",
               n, has_fallback ? "configured" : "none");
    http_reply_buf(r, 200, "text/html; charset=utf-8", &b);
    return 0;
}

/* YAML stream of every stored config, one document per tenant. */
static int h_configs(http_req_t *r, void *ctx, err_t *err)
{
    am_t *am = ctx;
    char dir[4096];
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "");
    snprintf(dir, sizeof(dir), "%s/alerts", am->opts.storage_dir ? am->opts.storage_dir : ".");
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp") != NULL) {
            continue;
        }
        char *text = am__cfgstore_read(am, de->d_name);
        if (text != NULL) {
            buf_printf(&b, "---\n# tenant: %s\n", de->d_name);
            am__user_config_render(text, 1, &b, err);
            free(text);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    http_reply_buf(r, 200, "application/yaml", &b);
    return 0;
}

int am__cfgapi_register(http_server_t *s, am_t *am, err_t *err)
{
    int rc = 0;
    if (am->opts.enable_api) {
        rc |= http_route(s, "GET,POST,DELETE", "/api/v1/alerts", HTTP_AUTH | HTTP_TEXT_ERRORS,
                         h_config, am);
    }
    rc |= http_route(s, "GET", "/multitenant_alertmanager/status", 0, h_status_page, am);
    rc |= http_route(s, "GET", "/multitenant_alertmanager/configs", 0, h_configs, am);
    rc |= http_route(s, "POST", "/multitenant_alertmanager/delete_tenant_config",
                     HTTP_AUTH | HTTP_TEXT_ERRORS, h_delete_tenant, am);
    return rc < 0 ? err_set(err, ERR_INTERNAL, "cannot register alertmanager config routes")
                  : 0;
}
