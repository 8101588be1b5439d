/* ruler/ruler_api.c - the ruler's HTTP API. Config API (Mimir
 * `/prometheus/config/v1/rules`, Loki `/loki/api/v1/rules` and
 * `/api/prom/rules`): listings read the store, so a write is visible at once;
 * writes validate everything first, then store, then re-sync the tenant. Read
 * API (`/prometheus/api/v1/rules|alerts`, ruler_api_read.c) shows the loaded
 * groups. Listings answer JSON unless YAML is asked for (contract.md,
 * differences 2). */
#include <stdio.h>
#include <string.h>

#include "common/jsonw.h"
#include "ruler/ruler_int.h"

static const char ok_body[] =
    "{\"status\":\"success\",\"data\":null,\"errorType\":\"\",\"error\":\"\"}";

int ruler__want_yaml(http_req_t *req)
{
    const char *fmt = http_req_arg(req, "format");
    if (fmt != NULL) {
        return strcmp(fmt, "yaml") == 0;
    }
    const char *accept = http_req_header(req, "Accept");
    return accept != NULL &&
           (strstr(accept, "application/yaml") != NULL ||
            strstr(accept, "application/x-yaml") != NULL || strstr(accept, "text/yaml") != NULL);
}

/* The JSON envelope the ruler handlers write (all four keys, always). */
void ruler__reply_envelope(http_req_t *req, int status, const char *error_type, const char *msg)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "error");
    jsonw_key(w, "data");
    jsonw_null(w);
    jsonw_key(w, "errorType");
    jsonw_str(w, error_type);
    jsonw_key(w, "error");
    jsonw_str(w, msg);
    jsonw_obj_end(w);
    jsonw_free(w);
    http_reply_buf(req, status, "application/json", &b);
}

static void reply_accepted(http_req_t *req)
{
    http_reply(req, 202, "application/json", ok_body, sizeof(ok_body) - 1);
}

/* ---- listings
 * ------------------------------------------------------------------------- */

typedef struct {
    buf_t out;
    jsonw_t *w;
    int yaml, n_groups;
} listing_t;

static void listing_ns(listing_t *l, const char *ns_name, const ruler_ns_t *ns)
{
    if (ns->n == 0) {
        return;
    }
    l->n_groups += (int)ns->n;
    if (l->yaml) {
        ruler__yaml_key(&l->out, ns_name);
        buf_puts(&l->out, ":\n");
        for (size_t i = 0; i < ns->n; i++) {
            ruler__group_yaml(ns->groups[i], &l->out, 4);
        }
        return;
    }
    jsonw_key(l->w, ns_name);
    jsonw_arr_begin(l->w);
    for (size_t i = 0; i < ns->n; i++) {
        buf_t g;
        buf_init(&g);
        ruler__group_json(ns->groups[i], &g);
        jsonw_raw(l->w, g.data);
        buf_fini(&g);
    }
    jsonw_arr_end(l->w);
}

/* Loki's `?labels=k:v,k2:v2`: does the rule carry at least one of the pairs? */
static int rule_has_label(const ruler_rule_def_t *r, const char *spec)
{
    for (const char *p = spec; *p != '\0';) {
        size_t len = strcspn(p, ",");
        const char *colon = memchr(p, ':', len);
        for (size_t i = 0; colon != NULL && i < r->n_labels; i++) {
            const ruler_kv_t *kv = &r->labels[i];
            size_t kl = (size_t)(colon - p), vl = len - kl - 1;
            if (strlen(kv->key) == kl && strncmp(kv->key, p, kl) == 0 &&
                strlen(kv->value) == vl && strncmp(kv->value, colon + 1, vl) == 0) {
                return 1;
            }
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Keeps only the rules matching `spec`, in place; groups left empty are dropped. */
static void filter_ns(ruler_ns_t *ns, const char *spec)
{
    size_t kept = 0;
    for (size_t i = 0; i < ns->n; i++) {
        ruler_group_def_t *g = ns->groups[i];
        size_t k = 0;
        for (size_t j = 0; j < g->n_rules; j++) {
            if (rule_has_label(&g->rules[j], spec)) {
                g->rules[k++] = g->rules[j];
            }
        }
        g->n_rules = k;
        if (k == 0) {
            ruler__group_def_free(g);
        } else {
            ns->groups[kept++] = g;
        }
    }
    ns->n = kept;
}

static int load_ns(ruler_t *r, const char *tenant, const char *ns_name, ruler_ns_t *ns,
                   http_req_t *req)
{
    err_t err = {0};
    if (ruler__store_load(r->store, tenant, ns_name, ns, &err) < 0) {
        http_reply_text(req, 500, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* Every namespace (ns_only NULL) or one, as a map namespace -> groups. */
static int list_groups(http_req_t *req, ruler_t *r, const char *ns_only)
{
    const char *tenant = http_req_tenant(req);
    listing_t l = {.yaml = ruler__want_yaml(req)};
    const char *labels = http_req_arg(req, "labels");
    buf_init(&l.out);
    if (!l.yaml) {
        l.w = jsonw_new(&l.out);
        jsonw_obj_begin(l.w);
    }
    size_t n = 0;
    char **names = ns_only != NULL ? NULL : ruler__store_namespaces(r->store, tenant, &n);
    int rc = 0;
    for (size_t i = 0; i < (ns_only != NULL ? 1 : n) && rc == 0; i++) {
        const char *name = ns_only != NULL ? ns_only : names[i];
        ruler_ns_t ns = {0};
        rc = load_ns(r, tenant, name, &ns, req);
        if (rc == 0 && r->opts.flavor == RULER_FLAVOR_LOKI && labels != NULL && labels[0]) {
            filter_ns(&ns, labels);
        }
        if (rc == 0) {
            listing_ns(&l, name, &ns);
        }
        ruler__ns_fini(&ns);
    }
    ruler__strv_free(names, n);
    if (!l.yaml) {
        jsonw_obj_end(l.w);
        jsonw_free(l.w);
    }
    if (rc == 0 && l.n_groups == 0 && r->opts.flavor == RULER_FLAVOR_LOKI) {
        http_reply_text(req, 404, "no rule groups found");
    } else if (rc == 0 && l.n_groups == 0 && l.yaml) {
        http_reply(req, 200, "application/yaml", "{}\n", 3);
    } else if (rc == 0) {
        http_reply_buf(req, 200, l.yaml ? "application/yaml" : "application/json", &l.out);
    }
    buf_fini(&l.out);
    return 0;
}

static int h_list_all(http_req_t *req, void *ctx, err_t *err)
{
    return list_groups(req, ctx, NULL);
}

static int h_list_ns(http_req_t *req, void *ctx, err_t *err)
{
    ruler_t *r = ctx;
    const char *ns = http_req_param(req, "namespace");
    /* herald-logd: `rules/alerts` is the tenant's alert list unless such a
     * namespace exists (contract.md, differences 3). */
    if (r->opts.flavor == RULER_FLAVOR_LOKI && strcmp(ns, "alerts") == 0) {
        ruler_ns_t tmp = {0};
        ruler__store_load(r->store, http_req_tenant(req), ns, &tmp, NULL);
        size_t n = tmp.n;
        ruler__ns_fini(&tmp);
        if (n == 0) {
            return ruler__h_alerts(req, ctx, err);
        }
    }
    return list_groups(req, r, ns);
}

static int h_get_group(http_req_t *req, void *ctx, err_t *err)
{
    ruler_t *r = ctx;
    ruler_ns_t ns = {0};
    if (load_ns(r, http_req_tenant(req), http_req_param(req, "namespace"), &ns, req) < 0) {
        return 0;
    }
    const ruler_group_def_t *g = ruler__ns_find(&ns, http_req_param(req, "group"));
    if (g == NULL) {
        http_reply_text(req, 404, "group does not exist");
    } else {
        buf_t b;
        buf_init(&b);
        int yaml = ruler__want_yaml(req);
        if (yaml) {
            ruler__group_yaml(g, &b, 0);
        } else {
            ruler__group_json(g, &b);
        }
        http_reply_buf(req, 200, yaml ? "application/yaml" : "application/json", &b);
    }
    ruler__ns_fini(&ns);
    return 0;
}

/* ---- writes
 * ---------------------------------------------------------------------------
 */

static size_t count_groups(ruler_t *r, const char *tenant, const char *skip_ns,
                           const char *skip_group)
{
    size_t n = 0, total = 0;
    char **names = ruler__store_namespaces(r->store, tenant, &n);
    for (size_t i = 0; i < n; i++) {
        ruler_ns_t ns = {0};
        if (ruler__store_load(r->store, tenant, names[i], &ns, NULL) == 0) {
            total += ns.n;
            if (strcmp(names[i], skip_ns) == 0 && ruler__ns_find(&ns, skip_group) != NULL) {
                total--; /* replacing a group does not add one */
            }
        }
        ruler__ns_fini(&ns);
    }
    ruler__strv_free(names, n);
    return total;
}

static int check_limits(ruler_t *r, const char *tenant, const char *ns, const ruler_group_def_t *g,
                        http_req_t *req)
{
    ruler_limits_t l;
    ruler__tenant_limits(r, tenant, &l);
    int max_rules = l.max_rules_per_group, max_groups = l.max_groups_per_tenant;
    if (max_rules > 0 && g->n_rules > (size_t)max_rules) {
        http_reply_text(req, 400,
                        "per-user rules per rule group limit (limit: %d actual: %zu) "
                        "exceeded",
                        max_rules, g->n_rules);
        return -1;
    }
    size_t have = max_groups > 0 ? count_groups(r, tenant, ns, g->name) : 0;
    if (max_groups > 0 && have + 1 > (size_t)max_groups) {
        http_reply_text(req, 400, "per-user rule groups limit (limit: %d actual: %zu) exceeded",
                        max_groups, have + 1);
        return -1;
    }
    return 0;
}

/* Load the namespace, apply `edit` (put or delete), save, all under the store
 * lock; replies. Returns -1 when `fn` never ran (read-only store, unreadable
 * file), else 0. */
typedef int (*edit_fn)(ruler_ns_t *ns, void *arg, http_req_t *req);

static int edit_ns(ruler_t *r, http_req_t *req, const char *ns_name, edit_fn fn, void *arg)
{
    const char *tenant = http_req_tenant(req);
    if (r->opts.read_only) {
        http_reply_text(req, 500, "local rule store is read-only");
        return -1;
    }
    ruler_ns_t ns = {0};
    err_t err = {0};
    int rc = -1, ran = 0;
    ruler__store_lock(r->store);
    if (ruler__store_load(r->store, tenant, ns_name, &ns, &err) < 0) {
        http_reply_text(req, 500, "%s", err.msg);
    } else if ((ran = 1) && fn(&ns, arg, req) == 0) {
        rc = ruler__store_save(r->store, tenant, ns_name, &ns, &err);
        if (rc < 0) {
            http_reply_text(req, 500, "%s", err.msg);
        }
    }
    ruler__store_unlock(r->store);
    ruler__ns_fini(&ns);
    if (rc == 0) {
        ruler_sync_tenant(r, tenant);
        reply_accepted(req);
    }
    return ran ? 0 : -1;
}

static int edit_put(ruler_ns_t *ns, void *arg, http_req_t *req)
{
    ruler__ns_put(ns, arg);
    return 0;
}

static int h_post(http_req_t *req, void *ctx, err_t *err)
{
    ruler_t *r = ctx;
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    err_t perr = {0};
    ruler_group_def_t *g = ruler__group_parse(body != NULL ? body : "", len, &perr);
    if (g == NULL) {
        http_reply_text(req, 400,
                        r->opts.flavor == RULER_FLAVOR_LOKI ? "unable to decoded rule group"
                                                            : "unable to decode rule group");
        return 0;
    }
    const char *ns = http_req_param(req, "namespace");
    if (ruler__group_validate(g, r->opts.flavor, &r->ev, &perr) < 0) {
        http_reply_text(req, 400, "%s", perr.msg);
    } else if (check_limits(r, http_req_tenant(req), ns, g, req) == 0) {
        if (edit_ns(r, req, ns, edit_put, g) == 0) {
            return 0; /* the namespace took g */
        }
    }
    ruler__group_def_free(g);
    return 0;
}

static int edit_del_group(ruler_ns_t *ns, void *arg, http_req_t *req)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (strcmp(ns->groups[i]->name, arg) == 0) {
            ruler__group_def_free(ns->groups[i]);
            memmove(&ns->groups[i], &ns->groups[i + 1], (ns->n - i - 1) * sizeof(*ns->groups));
            ns->n--;
            return 0;
        }
    }
    http_reply_text(req, 404, "group does not exist");
    return -1;
}

static int edit_del_ns(ruler_ns_t *ns, void *arg, http_req_t *req)
{
    if (ns->n == 0) {
        http_reply_text(req, 404, "group namespace does not exist");
        return -1;
    }
    for (size_t i = 0; i < ns->n; i++) {
        ruler__group_def_free(ns->groups[i]);
    }
    ns->n = 0;
    return 0;
}

static int h_delete_group(http_req_t *req, void *ctx, err_t *err)
{
    edit_ns(ctx, req, http_req_param(req, "namespace"), edit_del_group,
            (void *)http_req_param(req, "group"));
    return 0;
}

static int h_delete_ns(http_req_t *req, void *ctx, err_t *err)
{
    edit_ns(ctx, req, http_req_param(req, "namespace"), edit_del_ns, NULL);
    return 0;
}

/* ---- registration
 * --------------------------------------------------------------------- */

static int register_config(http_server_t *srv, ruler_t *r, const char *prefix)
{
    char p1[256], p2[256];
    snprintf(p1, sizeof(p1), "%s/{namespace}", prefix);
    snprintf(p2, sizeof(p2), "%s/{namespace}/{group}", prefix);
    int rc = 0;
    rc |= http_route(srv, "GET", prefix, HTTP_AUTH | HTTP_GZIP, h_list_all, r);
    rc |= http_route(srv, "GET", p1, HTTP_AUTH | HTTP_GZIP, h_list_ns, r);
    rc |= http_route(srv, "POST", p1, HTTP_AUTH, h_post, r);
    rc |= http_route(srv, "DELETE", p1, HTTP_AUTH, h_delete_ns, r);
    rc |= http_route(srv, "GET", p2, HTTP_AUTH, h_get_group, r);
    rc |= http_route(srv, "DELETE", p2, HTTP_AUTH, h_delete_group, r);
    return rc;
}

int ruler_api_register(http_server_t *srv, ruler_t *r, const char *prefix, err_t *err)
{
    int loki = r->opts.flavor == RULER_FLAVOR_LOKI;
    int rc = 0;
    if (r->opts.enable_api) {
        rc |= register_config(srv, r, prefix);
        if (loki) {
            rc |= register_config(srv, r, "/api/prom/rules"); /* Loki's legacy paths */
        }
    }
    if (r->opts.enable_api || !loki) { /* Mimir serves the read API even without enable_api */
        rc |= http_route(srv, "GET", "/prometheus/api/v1/rules", HTTP_AUTH | HTTP_GZIP,
                         ruler__h_rules, r);
        rc |= http_route(srv, "GET", "/prometheus/api/v1/alerts", HTTP_AUTH | HTTP_GZIP,
                         ruler__h_alerts, r);
    }
    if (rc != 0) {
        return err_set(err, ERR_INTERNAL, "registering the ruler routes failed");
    }
    return 0;
}
