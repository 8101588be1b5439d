/* ruler/rulesync_module.c - herald-rulesync's daemon module: checks the arguments, picks
 * the object source (manifest_dir, else the Kubernetes API), starts one component per
 * mimir_rules / loki_rules entry, serves the status page and stops it all with the daemon.
 * /ready and /metrics come from config/daemon.c. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "ruler/rulesync.h"
#include "ruler/rulesync_int.h"

/* Reloads (serialized by the daemon) replace cfg, source and comps under mu; status
 * requests read them under mu. */
typedef struct {
    pthread_mutex_t mu;
    cfg_t *cfg; /* the snapshot the components borrow their arguments from */
    rulesync_store_t store;
    rulesync_source_t *source;
    rulesync_comp_t **comps;
    size_t n_comps;
} rulesync_mod_t;

static int check_target(const cfg_rules_target_t *t, const char *what, size_t i, err_t *err)
{
    if (t->address[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "%s[%zu]: address is required", what, i);
    }
    if (t->namespace_prefix[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "%s[%zu]: the namespace prefix must not be empty", what,
                       i);
    }
    if (t->sync_interval_ms <= 0) {
        return err_set(err, ERR_BAD_DATA, "%s[%zu]: sync_interval must be greater than 0", what, i);
    }
    for (size_t j = 0; j < t->n_extra_query_matchers; j++) {
        const cfg_query_matcher_t *m = &t->extra_query_matchers[j];
        if ((m->value[0] != '\0') == (m->value_from_label[0] != '\0') || m->name[0] == '\0') {
            return err_set(err, ERR_BAD_DATA,
                           "%s[%zu]: extra_query_matchers: each matcher needs a name and exactly "
                           "one of value and value_from_label",
                           what, i);
        }
    }
    return 0;
}

static int check_config(const cfg_rulesync_t *rs, err_t *err)
{
    for (size_t i = 0; i < rs->n_mimir_rules; i++) {
        if (check_target(&rs->mimir_rules[i], "mimir_rules", i, err) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < rs->n_loki_rules; i++) {
        if (check_target(&rs->loki_rules[i], "loki_rules", i, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Where manifests come from: manifest_dir, else the Kubernetes API (configured, or the
 * cluster the process runs in), else ./data/manifests so that a bare start works. */
static rulesync_source_t *start_source(rulesync_mod_t *m, err_t *err)
{
    const cfg_rulesync_t *rs = &m->cfg->rulesync;
    const char *dir = rs->manifest_dir;
    const char *in_cluster = getenv("KUBERNETES_SERVICE_HOST");
    if (dir[0] == '\0' && rs->kubernetes_api_server[0] == '\0' &&
        rs->kubernetes_kubeconfig_file[0] == '\0' && (in_cluster == NULL || in_cluster[0] == '\0')) {
        dir = "./data/manifests";
    }
    if (dir[0] != '\0') {
        LOG_INFO("reading PrometheusRule manifests", KV_STR("dir", dir));
        return rulesync__dir_start(&m->store, dir, err);
    }
    return rulesync__kube_start(&m->store, rs, err);
}

static int h_status(http_req_t *r, void *ctx, err_t *err)
{
    (void)err;
    rulesync_mod_t *m = ctx;
    buf_t out;
    buf_init(&out);
    pthread_mutex_lock(&m->mu);
    buf_putc(&out, '{');
    rulesync__source_status(m->source, &out);
    buf_puts(&out, ",\"components\":[");
    for (size_t i = 0; i < m->n_comps; i++) {
        buf_puts(&out, i > 0 ? "," : "");
        rulesync__comp_status(m->comps[i], &out);
    }
    buf_puts(&out, "]}\n");
    pthread_mutex_unlock(&m->mu);
    http_reply_buf(r, 200, "application/json", &out);
    return 0;
}

/* Alloy's /-/healthy: 200 when every component is healthy, else 500 naming them. */
static int h_healthy(http_req_t *r, void *ctx, err_t *err)
{
    (void)err;
    rulesync_mod_t *m = ctx;
    buf_t bad;
    buf_init(&bad);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_comps; i++) {
        if (!rulesync__comp_healthy(m->comps[i])) {
            buf_puts(&bad, bad.len > 0 ? ", " : "");
            rulesync__comp_id(m->comps[i], &bad);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (bad.len > 0) {
        http_reply_text(r, 500, "unhealthy components: %s", bad.data);
    } else {
        http_reply_text(r, 200, "All Alloy components are healthy.");
    }
    buf_fini(&bad);
    return 0;
}

static void start_components(rulesync_mod_t *m)
{
    const cfg_rulesync_t *rs = &m->cfg->rulesync;
    m->comps = xcalloc(rs->n_mimir_rules + rs->n_loki_rules + 1, sizeof(*m->comps));
    for (size_t i = 0; i < rs->n_mimir_rules; i++) {
        rulesync_comp_t *c =
            rulesync__comp_start(RULESYNC_MIMIR, &rs->mimir_rules[i], i, &m->store);
        if (c != NULL) {
            m->comps[m->n_comps++] = c;
        }
    }
    for (size_t i = 0; i < rs->n_loki_rules; i++) {
        rulesync_comp_t *c = rulesync__comp_start(RULESYNC_LOKI, &rs->loki_rules[i], i, &m->store);
        if (c != NULL) {
            m->comps[m->n_comps++] = c;
        }
    }
}

static void stop_components(rulesync_mod_t *m)
{
    for (size_t i = 0; i < m->n_comps; i++) {
        rulesync__comp_stop(m->comps[i]);
    }
    free(m->comps);
    m->comps = NULL;
    m->n_comps = 0;
}

static int same_source(const cfg_rulesync_t *x, const cfg_rulesync_t *y)
{
    return strcmp(x->manifest_dir, y->manifest_dir) == 0 &&
           strcmp(x->kubernetes_api_server, y->kubernetes_api_server) == 0 &&
           strcmp(x->kubernetes_bearer_token_file, y->kubernetes_bearer_token_file) == 0 &&
           strcmp(x->kubernetes_ca_file, y->kubernetes_ca_file) == 0 &&
           strcmp(x->kubernetes_kubeconfig_file, y->kubernetes_kubeconfig_file) == 0 &&
           x->kubernetes_insecure_skip_verify == y->kubernetes_insecure_skip_verify;
}

static int same_config(const cfg_t *x, const cfg_t *y)
{
    buf_t bx, by;
    buf_init(&bx);
    buf_init(&by);
    cfg_dump_yaml(x, &bx);
    cfg_dump_yaml(y, &by);
    int same = bx.len == by.len && memcmp(bx.data, by.data, bx.len) == 0;
    buf_fini(&bx);
    buf_fini(&by);
    return same;
}

/* New arguments: the components restart with them (Alloy's Update), the source only when
 * its own keys changed. A source that cannot start leaves the old one running. */
static void apply_config(rulesync_mod_t *m, cfg_t *next)
{
    rulesync_source_t *src = NULL;
    if (!same_source(&m->cfg->rulesync, &next->rulesync)) {
        err_t err = {0};
        cfg_t *old = m->cfg;
        m->cfg = next; /* start_source reads the source keys from m->cfg */
        src = start_source(m, &err);
        m->cfg = old;
        if (src == NULL) {
            LOG_ERROR("updating configuration failed", KV_STR("err", err.msg));
            cfg_unref(next);
            return;
        }
    }
    pthread_mutex_lock(&m->mu);
    stop_components(m);
    if (src != NULL) {
        rulesync__source_stop(m->source);
        m->source = src;
    }
    cfg_unref(m->cfg);
    m->cfg = next;
    start_components(m);
    for (size_t i = 0; i < m->n_comps; i++) {
        rulesync__comp_count_update(m->comps[i]);
    }
    pthread_mutex_unlock(&m->mu);
}

static void on_reload(void *arg, const cfg_t *cfg)
{
    rulesync_mod_t *m = arg;
    err_t err = {0};
    if (check_config(&cfg->rulesync, &err) < 0) {
        LOG_ERROR("updating configuration failed", KV_STR("err", err.msg));
    } else if (!same_config(m->cfg, cfg)) {
        apply_config(m, cfg_ref((cfg_t *)cfg));
        return;
    }
    /* Same arguments: read the manifests again and sync every component now. */
    pthread_mutex_lock(&m->mu);
    rulesync__source_rescan(m->source);
    for (size_t i = 0; i < m->n_comps; i++) {
        rulesync__comp_request_sync(m->comps[i]);
    }
    pthread_mutex_unlock(&m->mu);
}

static void on_stop(void *arg)
{
    rulesync_mod_t *m = arg;
    rulesync__store_stop(&m->store);
    rulesync__source_stop(m->source);
    stop_components(m);
    rulesync__store_fini(&m->store);
    cfg_unref(m->cfg);
    pthread_mutex_destroy(&m->mu);
    free(m);
    curl_global_cleanup();
}

int rulesync_module_init(daemon_t *d, err_t *err)
{
    rulesync_mod_t *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
    m->cfg = daemon_config(d);
    if (check_config(&m->cfg->rulesync, err) < 0) {
        goto fail;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rulesync__store_init(&m->store);
    m->source = start_source(m, err);
    if (m->source == NULL) {
        rulesync__store_fini(&m->store);
        curl_global_cleanup();
        goto fail;
    }
    start_components(m);
    http_server_t *srv = daemon_http(d);
    http_route(srv, "GET", "/status", 0, h_status, m);
    http_route(srv, "GET", "/api/v0/web/components", 0, h_status, m);
    http_route(srv, "GET", "/-/healthy", 0, h_healthy, m);
    daemon_on_reload(d, on_reload, m);
    daemon_on_stop(d, on_stop, m);
    return 0;
fail:
    cfg_unref(m->cfg);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return -1;
}
