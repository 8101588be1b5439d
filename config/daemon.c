/* config/daemon.c - the program skeleton shared by herald-promd, -logd, -alertd and -rulesync
 * (see daemon.h).
 *
 * DESIGN: SIGTERM, SIGINT and SIGHUP are blocked before any thread exists, so every thread
 * inherits the mask and only the main thread, parked in sigwait(), ever sees them: no
 * async-signal-safety concerns. Reloads come from that thread (SIGHUP) or from an HTTP pool
 * thread (POST /-/reload); reload_mu serializes them. Stop hooks run after the HTTP server
 * has drained, in reverse order of registration, like destructors. */
#include "config/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "config/daemon_int.h"

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.1.0"
#endif

typedef struct {
    void (*stop)(void *arg);
    void (*reload)(void *arg, const cfg_t *cfg);
    void *arg;
} hook_t;

struct daemon {
    cfg_program_t prog;
    cfg_slot_t slot;
    http_server_t *http;
    char **auth_prefixes; /* NULL-terminated, owned */
    pthread_mutex_t reload_mu;
    pthread_mutex_t hooks_mu; /* guards hooks */
    hook_t *hooks;
    size_t n_hooks, cap_hooks;
    daemon_limits_t limits;
};

/* ---- accessors and hooks ----------------------------------------------------------------- */

http_server_t *daemon_http(daemon_t *d)
{
    return d->http;
}

cfg_t *daemon_config(daemon_t *d)
{
    return cfg_slot_get(&d->slot);
}

void daemon_limits(daemon_t *d, const char *tenant, cfg_limits_t *out)
{
    daemon_limits_get(&d->limits, tenant, out);
}

cfg_program_t daemon_program(const daemon_t *d)
{
    return d->prog;
}

static void add_hook(daemon_t *d, hook_t h)
{
    pthread_mutex_lock(&d->hooks_mu);
    xgrow((void **)&d->hooks, &d->cap_hooks, d->n_hooks + 1, sizeof(*d->hooks));
    d->hooks[d->n_hooks++] = h;
    pthread_mutex_unlock(&d->hooks_mu);
}

void daemon_on_stop(daemon_t *d, void (*fn)(void *arg), void *arg)
{
    add_hook(d, (hook_t){.stop = fn, .arg = arg});
}

void daemon_on_reload(daemon_t *d, void (*fn)(void *arg, const cfg_t *cfg), void *arg)
{
    add_hook(d, (hook_t){.reload = fn, .arg = arg});
}

/* ---- reload ------------------------------------------------------------------------------ */

static void apply_log_level(const cfg_t *c)
{
    log_level_t level;
    if (log_parse_level(c->server.log_level, &level) == 0) {
        log_set_level(level);
    }
}

int daemon_reload(daemon_t *d, err_t *err)
{
    pthread_mutex_lock(&d->reload_mu);
    cfg_t *cur = cfg_slot_get(&d->slot);
    cfg_t *next = cfg_reload(cur, err);
    cfg_unref(cur);
    if (next == NULL) {
        LOG_ERROR("config reload failed, keeping the previous config", KV_STR("err", err->msg));
        pthread_mutex_unlock(&d->reload_mu);
        return -1;
    }
    apply_log_level(next);
    daemon_limits_reload(&d->limits, next);
    http_server_set_tenancy(d->http, next->multitenancy_enabled, next->no_auth_tenant);
    cfg_slot_set(&d->slot, cfg_ref(next));
    pthread_mutex_lock(&d->hooks_mu);
    for (size_t i = 0; i < d->n_hooks; i++) {
        if (d->hooks[i].reload != NULL) {
            d->hooks[i].reload(d->hooks[i].arg, next);
        }
    }
    pthread_mutex_unlock(&d->hooks_mu);
    LOG_INFO("config reloaded", KV_STR("file", next->file));
    cfg_unref(next);
    pthread_mutex_unlock(&d->reload_mu);
    return 0;
}

/* ---- common routes ----------------------------------------------------------------------- */

static int h_ready(http_req_t *r, void *ctx, err_t *err)
{
    http_reply_text(r, 200, "ready");
    return 0;
}

static int h_metrics(http_req_t *r, void *ctx, err_t *err)
{
    buf_t b;
    buf_init(&b);
    metrics_write(&b);
    http_reply_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    return 0;
}

static int h_config(http_req_t *r, void *ctx, err_t *err)
{
    cfg_t *c = daemon_config(ctx);
    buf_t b;
    buf_init(&b);
    cfg_dump_yaml(c, &b);
    cfg_unref(c);
    http_reply_buf(r, 200, "application/yaml", &b);
    return 0;
}

static int h_reload(http_req_t *r, void *ctx, err_t *err)
{
    err_t rerr = {0};
    if (daemon_reload(ctx, &rerr) < 0) {
        http_reply_text(r, 500, "failed to reload config: %s", rerr.msg);
        return 0;
    }
    http_reply(r, 200, "text/plain; charset=utf-8", "", 0);
    return 0;
}

static void register_common_routes(daemon_t *d)
{
    http_route(d->http, "GET", "/ready", 0, h_ready, d);
    http_route(d->http, "GET", "/metrics", HTTP_GZIP, h_metrics, d);
    http_route(d->http, "GET", "/config", 0, h_config, d);
    http_route(d->http, "POST,PUT", "/-/reload", 0, h_reload, d);
}

/* ---- construction ------------------------------------------------------------------------ */

static char *with_slash(const char *prefix, const char *fallback)
{
    const char *p = prefix[0] != '\0' ? prefix : fallback;
    char *out = xmalloc(strlen(p) + 2);
    sprintf(out, "%s/", p);
    return out;
}

/* Paths under which the tenant middleware runs even without a matching route, as the
 * upstream auth middleware wraps each program's whole API. NULL-terminated. */
static char **auth_prefixes_for(const cfg_t *c)
{
    char **out = xcalloc(5, sizeof(*out));
    switch (c->program) {
    case CFG_PROMD: /* Mimir: Prometheus API, Alertmanager, config APIs, legacy Cortex paths */
        out[0] = with_slash(c->api_prometheus_http_prefix, "/prometheus");
        out[1] = with_slash(c->api_alertmanager_http_prefix, "/alertmanager");
        out[2] = xstrdup("/api/v1/");
        out[3] = xstrdup("/api/prom/");
        break;
    case CFG_ALERTD:
        out[0] = with_slash(c->api_alertmanager_http_prefix, "/alertmanager");
        out[1] = xstrdup("/api/v1/");
        break;
    case CFG_LOGD:
        out[0] = xstrdup("/loki/");
        out[1] = xstrdup("/prometheus/");
        out[2] = xstrdup("/api/prom/");
        break;
    case CFG_RULESYNC:
        break;
    }
    return out;
}

static const char *metrics_prefix_for(cfg_program_t prog)
{
    switch (prog) {
    case CFG_PROMD:
    case CFG_ALERTD:
        return "cortex";
    case CFG_LOGD:
        return "loki";
    case CFG_RULESYNC:
        break;
    }
    return NULL; /* herald-rulesync: no request histogram */
}

static daemon_t *daemon_new(cfg_t *c)
{
    daemon_t *d = xcalloc(1, sizeof(*d));
    d->prog = c->program;
    pthread_mutex_init(&d->reload_mu, NULL);
    pthread_mutex_init(&d->hooks_mu, NULL);
    d->auth_prefixes = auth_prefixes_for(c);
    size_t max_body = (size_t)(c->program == CFG_ALERTD ? c->alertmanager.max_recv_msg_size
                                                        : c->distributor_max_recv_msg_size);
    http_server_opts_t o = {
        .listen_address = c->server.http_listen_address,
        .port = c->server.http_listen_port,
        .threads = c->server.http_server_threads,
        .max_body_bytes = max_body,
        .multitenancy = c->multitenancy_enabled,
        .no_auth_tenant = c->no_auth_tenant,
        .server_name = cfg_program_name(c->program),
        .metrics_prefix = metrics_prefix_for(c->program),
        .auth_prefixes = (const char *const *)d->auth_prefixes,
        .idle_timeout_s = (int)(c->server.http_server_idle_timeout_ms / 1000),
        .max_connections = c->server.http_listen_conn_limit,
        .route_decoded_path = c->program == CFG_LOGD, /* Loki routes on the decoded path */
    };
    d->http = http_server_new(&o, NULL);
    cfg_slot_init(&d->slot, c);
    register_common_routes(d);
    return d;
}

static void daemon_free(daemon_t *d)
{
    http_server_free(d->http);
    for (char **p = d->auth_prefixes; *p != NULL; p++) {
        free(*p);
    }
    free(d->auth_prefixes);
    free(d->hooks);
    cfg_slot_fini(&d->slot);
    pthread_mutex_destroy(&d->reload_mu);
    pthread_mutex_destroy(&d->hooks_mu);
    free(d);
}

/* ---- run --------------------------------------------------------------------------------- */

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an error return, not a death */
}

/* -help / -version / a config error: answered without starting anything. Returns the exit
 * code, or -1 to go on with *out set. */
static int load_config(cfg_program_t prog, int argc, char **argv, cfg_t **out)
{
    err_t err = {0};
    cfg_t *c = cfg_load(prog, argc, argv, &err);
    if (c == NULL) {
        fprintf(stderr, "%s: %s\n", cfg_program_name(prog), err.msg);
        return 1;
    }
    if (c->show_help || c->show_version) {
        buf_t b;
        buf_init(&b);
        if (c->show_help) {
            cfg_write_help(prog, &b);
        } else {
            buf_printf(&b, "%s, version %s\n", cfg_program_name(prog), HERALD_VERSION);
        }
        fwrite(b.data != NULL ? b.data : "", 1, b.len, stdout);
        buf_fini(&b);
        cfg_unref(c);
        return 0;
    }
    apply_log_level(c);
    *out = c;
    return -1;
}

static int init_modules(daemon_t *d, const daemon_module_t *modules, buf_t *names)
{
    for (const daemon_module_t *m = modules; m != NULL && m->init != NULL; m++) {
        err_t err = {0};
        if (m->init(d, &err) < 0) {
            LOG_ERROR("module failed to start", KV_STR("module", m->name), KV_STR("err", err.msg));
            return -1;
        }
        buf_printf(names, "%s%s", names->len ? "," : "", m->name);
    }
    return 0;
}

static int serve(daemon_t *d, const cfg_t *c, const char *module_names)
{
    err_t err = {0};
    if (http_server_start(d->http, &err) < 0) {
        LOG_ERROR("cannot start the HTTP server", KV_STR("err", err.msg));
        return -1;
    }
    char addr[300];
    snprintf(addr, sizeof(addr), "%s:%d",
             c->server.http_listen_address[0] ? c->server.http_listen_address : "0.0.0.0",
             http_server_port(d->http));
    LOG_INFO("server listening", KV_STR("program", cfg_program_name(d->prog)), KV_STR("addr", addr),
             KV_STR("modules", module_names),
             KV_STR("multitenancy", c->multitenancy_enabled ? "true" : "false"),
             KV_STR("config", c->file[0] ? c->file : "(defaults)"));
    return 0;
}

/* Parks the main thread until SIGTERM/SIGINT; SIGHUP reloads. */
static void wait_for_stop(daemon_t *d, const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) {
            LOG_INFO("stopping", KV_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
            return;
        }
        LOG_INFO("SIGHUP received, reloading config");
        err_t err = {0};
        daemon_reload(d, &err); /* logs its outcome */
    }
}

static void run_stop_hooks(daemon_t *d)
{
    pthread_mutex_lock(&d->hooks_mu);
    for (size_t i = d->n_hooks; i-- > 0;) {
        if (d->hooks[i].stop != NULL) {
            d->hooks[i].stop(d->hooks[i].arg);
        }
    }
    pthread_mutex_unlock(&d->hooks_mu);
}

int daemon_main(cfg_program_t prog, const daemon_module_t *modules, int argc, char **argv)
{
    sigset_t set;
    block_signals(&set);
    cfg_t *c = NULL;
    int rc = load_config(prog, argc, argv, &c);
    if (rc >= 0) {
        return rc;
    }
    daemon_t *d = daemon_new(c); /* takes c */
    c = daemon_config(d);
    err_t err = {0};
    if (daemon_limits_start(&d->limits, c, &err) < 0) {
        LOG_ERROR("invalid runtime config", KV_STR("err", err.msg));
        cfg_unref(c);
        daemon_free(d);
        return 1;
    }
    buf_t names;
    buf_init(&names);
    rc = 1;
    if (init_modules(d, modules, &names) == 0 && serve(d, c, names.data ? names.data : "") == 0) {
        wait_for_stop(d, &set);
        http_server_stop_timeout(d->http, (int)c->server.graceful_shutdown_timeout_ms);
        rc = 0;
    }
    run_stop_hooks(d);
    daemon_limits_stop(&d->limits);
    LOG_INFO("stopped", KV_STR("program", cfg_program_name(prog)), KV_INT("exit_code", rc));
    buf_fini(&names);
    cfg_unref(c);
    daemon_free(d);
    return rc;
}
