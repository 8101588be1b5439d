/* common/http.c - the server of common/http: lifecycle, libmicrohttpd callbacks, the routing
 * table and the order in which a request is checked (route, tenant, size) before its handler.
 *
 * DESIGN: libmicrohttpd runs in thread-pool mode. The URI-log callback (called once per
 * request, before headers are parsed) creates the http_req_t from the raw request target, so
 * routing sees the still-encoded path as Mimir's gorilla/mux does; the completion callback
 * frees it. The access callback is called once when headers are in (route, auth and a
 * Content-Length check answer early, so a refused body is never read), once per body chunk,
 * and once at the end, when the handler runs. `in_flight` counts requests between those two
 * callbacks so a stop can let them finish. A handler may instead answer 101 and hand the
 * socket over (http_reply_upgrade, for WebSockets): the connection then leaves in_flight,
 * and a stop first runs the on_stop hooks so the owners close such sockets while they exist. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_int.h"
#include "common/log.h"
#include "common/mem.h"

#define HTTP_DEFAULT_MAX_BODY (100u * 1024 * 1024)
#define HTTP_DEFAULT_IDLE_S 120

/* ---- construction and routes -------------------------------------------------------- */

/* Splits a pattern on '/'; "{name}" parts become captures named "name". */
static void route_split(http__route_t *rt, const char *pattern)
{
    const char *p = pattern + 1;
    size_t n = 1;
    for (const char *c = p; *c != '\0'; c++) {
        n += *c == '/';
    }
    rt->segs = xcalloc(n, sizeof(*rt->segs));
    rt->is_param = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, "/");
        rt->is_param[i] = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        rt->segs[i] = rt->is_param[i] ? xstrndup(p + 1, len - 2) : xstrndup(p, len);
        p += len + (p[len] == '/');
    }
    rt->n_segs = n;
}

/* dskit's MakeLabelValue: runs of non-alphanumerics become '_', trimmed, lower case. */
static char *route_label(const char *pattern)
{
    char *out = xmalloc(strlen(pattern) + 5);
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)pattern; *p != '\0'; p++) {
        if (isalnum(*p)) {
            out[o++] = (char)tolower(*p);
        } else if (o > 0 && out[o - 1] != '_') {
            out[o++] = '_';
        }
    }
    while (o > 0 && out[o - 1] == '_') {
        o--;
    }
    out[o] = '\0';
    if (o == 0) {
        strcpy(out, "root");
    }
    return out;
}

/* "GET,POST" -> method bits; "*" -> all; 0 on an unknown name. */
static unsigned parse_methods(const char *methods)
{
    if (strcmp(methods, "*") == 0) {
        return HTTP__M_ALL;
    }
    unsigned bits = 0;
    char name[16];
    for (const char *p = methods; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(name)) {
            return 0;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        unsigned bit = http__method_bit(name);
        if (bit == 0) {
            return 0;
        }
        bits |= bit;
        p += len + (p[len] == ',');
    }
    return bits;
}

http_server_t *http_server_new(const http_server_opts_t *opts, err_t *err)
{
    http_server_t *s = xcalloc(1, sizeof(*s));
    s->opts = *opts;
    s->listen_address = xstrdup(opts->listen_address != NULL ? opts->listen_address : "");
    s->server_name = xstrdup(opts->server_name != NULL ? opts->server_name : "http");
    s->opts.listen_address = s->listen_address;
    s->opts.server_name = s->server_name;
    if (s->opts.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->opts.threads = n > 0 ? (int)n : 2;
    }
    s->opts.max_body_bytes = opts->max_body_bytes ? opts->max_body_bytes : HTTP_DEFAULT_MAX_BODY;
    s->opts.idle_timeout_s = opts->idle_timeout_s > 0 ? opts->idle_timeout_s : HTTP_DEFAULT_IDLE_S;
    while (opts->auth_prefixes != NULL && opts->auth_prefixes[s->n_auth_prefixes] != NULL) {
        s->n_auth_prefixes++;
    }
    s->auth_prefixes = xcalloc(s->n_auth_prefixes + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_auth_prefixes; i++) {
        s->auth_prefixes[i] = xstrdup(opts->auth_prefixes[i]);
    }
    s->opts.auth_prefixes = NULL; /* the copies above are used instead */
    s->multitenancy = opts->multitenancy;
    s->no_auth_tenant = xstrdup(opts->no_auth_tenant != NULL ? opts->no_auth_tenant : "anonymous");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (opts->metrics_prefix != NULL && opts->metrics_prefix[0] != '\0') {
        char name[128];
        snprintf(name, sizeof(name), "%s_request_duration_seconds", opts->metrics_prefix);
        s->req_duration = metric_histogram(name, "Time (in seconds) spent serving HTTP requests.",
                                           "method,route,status_code,ws", NULL, 0);
    }
    (void)err;
    return s;
}

int http_route(http_server_t *s, const char *methods, const char *pattern, int flags,
               http_handler_fn fn, void *ctx)
{
    unsigned bits = parse_methods(methods);
    if (bits == 0 || pattern[0] != '/' || s->mhd != NULL) {
        return -1;
    }
    xgrow((void **)&s->routes, &s->cap_routes, s->n_routes + 1, sizeof(*s->routes));
    http__route_t *rt = &s->routes[s->n_routes++];
    memset(rt, 0, sizeof(*rt));
    rt->methods = bits;
    route_split(rt, pattern);
    if ((flags & HTTP_PREFIX) && rt->n_segs > 1 && rt->segs[rt->n_segs - 1][0] == '\0') {
        free(rt->segs[--rt->n_segs]); /* "/a/" as a prefix means the same as "/a" */
    }
    rt->flags = flags;
    rt->fn = fn;
    rt->ctx = ctx;
    rt->metric_route = route_label(pattern);
    return 0;
}

/* ---- matching ---------------------------------------------------------------------------- */

/* Does the request path match the route? With `capture`, records the {name} parts. */
static int route_matches(http_req_t *r, const http__route_t *rt, int capture)
{
    int prefix = (rt->flags & HTTP_PREFIX) != 0;
    if (prefix ? r->n_segs < rt->n_segs : r->n_segs != rt->n_segs) {
        return 0;
    }
    for (size_t i = 0; i < rt->n_segs; i++) {
        if (rt->is_param[i]) {
            if (capture) {
                r->params[r->n_params++] = (http__kv_t){rt->segs[i], r->segs[i]};
            }
        } else if (strcmp(rt->segs[i], r->segs[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* First route whose path and method match. *allowed collects the methods of routes whose
 * path matches, for a 405. */
static const http__route_t *find_route(http_req_t *r, unsigned *allowed)
{
    *allowed = 0;
    for (size_t i = 0; i < r->srv->n_routes; i++) {
        const http__route_t *rt = &r->srv->routes[i];
        if (!route_matches(r, rt, 0)) {
            continue;
        }
        if (rt->methods & r->method_bit) {
            r->params = arena_alloc(r->arena, rt->n_segs * sizeof(*r->params));
            route_matches(r, rt, 1);
            return rt;
        }
        *allowed |= rt->methods;
    }
    return NULL;
}

static int under_auth_prefix(const http_req_t *r)
{
    for (size_t i = 0; i < r->srv->n_auth_prefixes; i++) {
        const char *p = r->srv->auth_prefixes[i];
        size_t n = strlen(p);
        if (strncmp(r->path, p, n) == 0) {
            return 1;
        }
        /* "/prometheus" itself is under "/prometheus/" */
        if (n > 1 && p[n - 1] == '/' && strlen(r->path) == n - 1 &&
            strncmp(r->path, p, n - 1) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- request flow ------------------------------------------------------------------------ */

static void reply_not_found(http_req_t *r)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "path not found: %.250s", r->path);
    http__reply_prom_error_raw(r, 404, "not_found", msg);
}

static void reply_not_allowed(http_req_t *r, unsigned allowed)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    char allow[64] = "";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (allowed & (1u << i)) {
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                     allow[0] != '\0' ? ", " : "", names[i]);
        }
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "method %.16s not allowed for %.250s", r->method, r->path);
    http_set_header(r, "Allow", allow);
    http__reply_prom_error_raw(r, 405, "method_not_allowed", msg);
}

static void reply_too_large(http_req_t *r)
{
    err_t err = {0};
    err_set(&err, ERR_TOO_LARGE, "request body too large: limit is %zu bytes",
            r->srv->opts.max_body_bytes);
    http__reply_err(r, &err);
}

/* Routes the request, runs the tenant middleware and refuses a declared oversized body.
 * Returns -1 when it answered. */
static int admit(http_req_t *r)
{
    unsigned allowed = 0;
    r->route = find_route(r, &allowed);
    int need_auth = r->route != NULL ? (r->route->flags & HTTP_AUTH) != 0 : under_auth_prefix(r);
    if (need_auth && http__req_auth(r) < 0) {
        return -1;
    }
    if (r->route == NULL) {
        allowed ? reply_not_allowed(r, allowed) : reply_not_found(r);
        return -1;
    }
    const char *cl = http_req_header(r, "Content-Length");
    if (cl != NULL && strtoull(cl, NULL, 10) > r->srv->opts.max_body_bytes) {
        reply_too_large(r);
        return -1;
    }
    return 0;
}

static int expects_body(const http_req_t *r)
{
    const char *cl = http_req_header(r, "Content-Length");
    return (cl != NULL && strtoull(cl, NULL, 10) > 0) ||
           http_req_header(r, "Transfer-Encoding") != NULL;
}

/* Headers are in. A request with a body is admitted now, so a refused body is never read
 * (its connection is then closed); one without waits for the final call, where answering
 * keeps the connection alive. */
static void on_headers(http_req_t *r)
{
    err_t err = {0};
    if (http__req_parse_uri(r, r->uri, &err) < 0) {
        http_reply_prom_error(r, &err);
        return;
    }
    r->has_body = expects_body(r);
    if (r->has_body && admit(r) < 0) {
        return;
    }
    r->stage = HTTP__BODY;
}

static void on_body(http_req_t *r, const char *data, size_t n)
{
    if (r->stage != HTTP__BODY) {
        return; /* discarded: too large, or already answered */
    }
    if (r->body.len + n > r->srv->opts.max_body_bytes) {
        r->stage = HTTP__TOO_LARGE;
        buf_fini(&r->body);
        return;
    }
    buf_append(&r->body, data, n);
}

static void run_handler(http_req_t *r)
{
    err_t err = {0};
    if (http__req_decode_body(r, &err) < 0) {
        http__reply_err(r, &err);
        return;
    }
    http__req_parse_form(r);
    int rc = r->route->fn(r, r->route->ctx, &err);
    if (r->replied) {
        return;
    }
    if (rc == 0) {
        err_set(&err, ERR_INTERNAL, "handler for %s did not reply", r->path);
    }
    http__reply_err(r, &err);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    http_req_t *r = *con_cls;
    if (r == NULL) {
        return MHD_NO; /* no URI-log record: cannot happen with our options */
    }
    if (r->stage == HTTP__NEW) {
        r->method = arena_strdup(r->arena, method);
        r->method_bit = http__method_bit(method);
        on_headers(r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        on_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->stage == HTTP__TOO_LARGE) {
        reply_too_large(r);
    } else if (r->stage == HTTP__BODY && (r->has_body || admit(r) == 0)) {
        run_handler(r);
    }
    return MHD_YES;
}

static void leave_in_flight(http_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->in_flight == 0) {
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- protocol upgrade ----------------------------------------------------------------------
 * libmicrohttpd keeps an upgraded connection (and its request record) until the owner gives
 * the socket back; the request then completes. It stops counting as in flight as soon as it
 * is handed over, so a server stop waits only for HTTP requests, after the stop hooks have
 * closed the upgraded ones. */

struct http_upgrade {
    struct MHD_UpgradeResponseHandle *urh;
};

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                        size_t n_extra, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    http_req_t *r = cls;
    http_upgrade_t *up = xmalloc(sizeof(*up));
    up->urh = urh;
    r->upgrade = HTTP__UPGRADE_DONE;
    leave_in_flight(r->srv);
    r->upgrade_fn(r->upgrade_arg, sock, extra, n_extra, up);
}

int http_reply_upgrade(http_req_t *r, const char *protocol, http_upgrade_fn fn, void *arg,
                       err_t *err)
{
    if (r->replied) {
        return err_set(err, ERR_INTERNAL, "upgrade of %s after a reply", r->path);
    }
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgraded, r);
    if (resp == NULL) {
        return err_set(err, ERR_INTERNAL, "cannot create the upgrade response");
    }
    MHD_add_response_header(resp, "Connection", "Upgrade");
    MHD_add_response_header(resp, "Upgrade", protocol);
    for (const http__hdr_t *h = r->headers; h != NULL; h = h->next) {
        MHD_add_response_header(resp, h->name, h->value);
    }
    r->upgrade_fn = fn;
    r->upgrade_arg = arg;
    r->upgrade = HTTP__UPGRADE_QUEUED;
    enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES) {
        r->upgrade = HTTP__UPGRADE_NONE;
        return err_set(err, ERR_BAD_DATA, "cannot upgrade this connection (HTTP/1.1 required)");
    }
    r->replied = 1;
    r->stage = HTTP__DONE;
    return 0;
}

void http_upgrade_close(http_upgrade_t *up)
{
    if (up == NULL) {
        return;
    }
    MHD_upgrade_action(up->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(up);
}

void http_server_on_stop(http_server_t *s, void (*fn)(void *arg), void *arg)
{
    xgrow((void **)&s->stop_hooks, &s->cap_stop_hooks, s->n_stop_hooks + 1, sizeof(*s->stop_hooks));
    s->stop_hooks[s->n_stop_hooks++] = (struct http__stop_hook){fn, arg};
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_server_t *s = cls;
    http_req_t *r = xcalloc(1, sizeof(*r));
    r->srv = s;
    r->conn = conn;
    r->arena = arena_new(0, &r->arena_err);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->uri = arena_strdup(r->arena, uri); /* MHD rewrites its copy in place later */
    r->method = "";
    r->path = "";
    buf_init(&r->body);
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    http_req_t *r = *con_cls;
    if (r == NULL) {
        return;
    }
    *con_cls = NULL;
    if (r->upgrade == HTTP__UPGRADE_QUEUED) {
        r->upgrade_fn(r->upgrade_arg, -1, NULL, 0, NULL); /* the 101 never went out */
    }
    int counted = r->upgrade != HTTP__UPGRADE_DONE;
    buf_fini(&r->body);
    arena_free(r->arena);
    free(r);
    if (counted) {
        leave_in_flight(s);
    }
}

/* libmicrohttpd's own messages: client resets and the like, so debug level; the last one is
 * kept to explain a failed start. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server_t *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    LOG_DEBUG("libmicrohttpd", KV_STR("server", s->server_name), KV_STR("detail", msg));
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
    pthread_mutex_unlock(&s->mu);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* Resolves listen_address:port into addr (numeric or a name; "" is every IPv4 interface). */
static int resolve_listen(const http_server_t *s, struct sockaddr_storage *addr, int *is_ipv6,
                          err_t *err)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    const char *host = s->listen_address[0] != '\0' ? s->listen_address : NULL;
    hints.ai_family = host == NULL ? AF_INET : AF_UNSPEC;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->opts.port);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        return err_set(err, ERR_UNAVAILABLE, "listen tcp %s:%d: %s", s->listen_address,
                       s->opts.port, gai_strerror(rc));
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *is_ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int http_server_start(http_server_t *s, err_t *err)
{
    struct sockaddr_storage addr;
    int is_ipv6 = 0;
    if (s->mhd != NULL) {
        return err_set(err, ERR_INTERNAL, "http server %s already started", s->server_name);
    }
    if (resolve_listen(s, &addr, &is_ipv6, err) < 0) {
        return -1;
    }
    /* epoll where available: select() would cap connections at FD_SETSIZE */
    unsigned flags =
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    struct MHD_OptionItem limit[] = {
        {s->opts.max_connections > 0 ? MHD_OPTION_CONNECTION_LIMIT : MHD_OPTION_END,
         s->opts.max_connections, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(
        flags | (is_ipv6 ? MHD_USE_IPv6 : 0), (uint16_t)s->opts.port, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first: later options may log */
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->opts.threads, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.idle_timeout_s, MHD_OPTION_ARRAY, limit,
        MHD_OPTION_END);
    if (s->mhd == NULL) {
        pthread_mutex_lock(&s->mu);
        err_set(err, ERR_UNAVAILABLE, "listen tcp %s:%d: %s", s->listen_address, s->opts.port,
                s->last_error[0] != '\0' ? s->last_error : "cannot start the HTTP server");
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : s->opts.port;
    return 0;
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

void http_server_stop_timeout(http_server_t *s, int timeout_ms)
{
    if (s == NULL || s->mhd == NULL) {
        return;
    }
    /* Quiescing hands the listening socket back to us: closing it refuses new clients. */
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
    for (size_t i = 0; i < s->n_stop_hooks; i++) {
        s->stop_hooks[i].fn(s->stop_hooks[i].arg);
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0) {
        if (pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    size_t left = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        LOG_WARN("http: stopping with requests in flight", KV_STR("server", s->server_name),
                 KV_INT("requests", left));
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}

void http_server_stop(http_server_t *s)
{
    http_server_stop_timeout(s, 30000);
}

void http_server_set_tenancy(http_server_t *s, int multitenancy, const char *no_auth_tenant)
{
    char *copy = xstrdup(no_auth_tenant != NULL ? no_auth_tenant : "anonymous");
    pthread_mutex_lock(&s->mu);
    char *old = s->no_auth_tenant;
    s->multitenancy = multitenancy;
    s->no_auth_tenant = copy;
    pthread_mutex_unlock(&s->mu);
    free(old);
}

static void route_fini(http__route_t *rt)
{
    for (size_t i = 0; i < rt->n_segs; i++) {
        free(rt->segs[i]);
    }
    free(rt->segs);
    free(rt->is_param);
    free(rt->metric_route);
}

void http_server_free(http_server_t *s)
{
    if (s == NULL) {
        return;
    }
    http_server_stop(s);
    for (size_t i = 0; i < s->n_routes; i++) {
        route_fini(&s->routes[i]);
    }
    free(s->routes);
    for (size_t i = 0; i < s->n_auth_prefixes; i++) {
        free(s->auth_prefixes[i]);
    }
    free(s->auth_prefixes);
    free(s->stop_hooks);
    free(s->listen_address);
    free(s->server_name);
    free(s->no_auth_tenant);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
