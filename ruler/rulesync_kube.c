/* ruler/rulesync_kube.c - PrometheusRules and Namespaces from the Kubernetes API server,
 * as client-go informers get them: LIST, then WATCH from the list's resourceVersion
 * (newline-delimited JSON events over a chunked response), re-WATCH when the server ends
 * the stream, re-LIST on 410 Gone, reconnect with back-off (1 s doubling to 30 s) on
 * errors. One thread per resource; the store gets every change.
 *
 * Where the server is and how to authenticate: rulesync__kubeconn_resolve
 * (rulesync_kubecfg.c). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "ruler/rulesync_int.h"

#define WATCH_TIMEOUT_S 300
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

typedef struct kube_src kube_src_t;

typedef struct {
    kube_src_t *src;
    rulesync_obj_kind_t kind;
    const char *path; /* collection path */
    pthread_t thread;
    int started;  /* the thread runs (join it at stop) */
    char rv[128]; /* last resourceVersion seen */
    int listed;   /* a LIST succeeded since start; guarded by the store's mutex */
    buf_t line;   /* partial watch line */
    int gone;     /* the watch reported 410: re-list */
} kube_watch_t;

struct kube_src {
    rulesync_source_t base;
    rulesync_store_t *store;
    rulesync_kubeconn_t conn;
    kube_watch_t watches[2];
    /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stop;
    char last_error[512];
};

static int stopping(kube_src_t *s)
{
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void set_error(kube_src_t *s, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
    pthread_mutex_unlock(&s->mu);
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return stopping(arg); /* non-zero aborts the transfer at shutdown */
}

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[16384] = "";
    if (f == NULL) {
        return NULL;
    }
    if (fgets(line, sizeof(line), f) == NULL) {
        line[0] = '\0';
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return xstrdup(line);
}

static struct curl_slist *auth_headers(const rulesync_kubeconn_t *k)
{
    struct curl_slist *hs = curl_slist_append(NULL, "Accept: application/json");
    char *token = k->token != NULL && k->token[0] != '\0' ? xstrdup(k->token)
                  : k->token_file[0] != '\0'              ? read_token(k->token_file)
                                                          : NULL;
    if (token != NULL && token[0] != '\0') {
        char *v = xmalloc(strlen(token) + 32);
        sprintf(v, "Authorization: Bearer %s", token);
        hs = curl_slist_append(hs, v);
        free(v);
    }
    free(token);
    return hs;
}

/* TLS settings: CA, client certificate and key, each inline (PEM blob) or a file. */
static void tls_options(CURL *h, const rulesync_kubeconn_t *k)
{
    if (k->ca_pem.len > 0) {
        struct curl_blob b = {k->ca_pem.data, k->ca_pem.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    } else if (k->ca_file[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
    }
    if (k->cert_pem.len > 0) {
        struct curl_blob b = {k->cert_pem.data, k->cert_pem.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    } else if (k->cert_file[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_SSLCERT, k->cert_file);
    }
    if (k->key_pem.len > 0) {
        struct curl_blob b = {k->key_pem.data, k->key_pem.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    } else if (k->key_file[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_SSLKEY, k->key_file);
    }
    if (k->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* A GET to the API server; the body goes to fn(arg). Returns the HTTP status, or 0 with
 * err set when no answer came. */
static long kube_get(kube_src_t *s, const char *path_query, long timeout_s,
                     size_t (*fn)(char *, size_t, size_t, void *), void *arg, err_t *err)
{
    CURL *h = curl_easy_init();
    char *url = xmalloc(strlen(s->conn.server) + strlen(path_query) + 1);
    sprintf(url, "%s%s", s->conn.server, path_query);
    struct curl_slist *hs = auth_headers(&s->conn);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fn);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, arg);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
    tls_options(h, &s->conn);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && !(cc == CURLE_OPERATION_TIMEDOUT && status == 200)) {
        err_set(err, ERR_UNAVAILABLE, "GET %s: %s", path_query, curl_easy_strerror(cc));
        status = 0;
    }
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    free(url);
    return status;
}

static size_t to_buf(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

static rulesync_obj_t *obj_from_jansson(json_t *o, rulesync_obj_kind_t kind, err_t *err)
{
    char *text = json_dumps(o, JSON_COMPACT);
    if (text == NULL) {
        err_set(err, ERR_BAD_DATA, "cannot encode an object");
        return NULL;
    }
    rulesync_obj_t *obj = rulesync__obj_from_json(text, strlen(text), kind, err);
    free(text);
    return obj;
}

static void mark_listed(kube_watch_t *w)
{
    kube_src_t *s = w->src;
    pthread_mutex_lock(&s->store->mu); /* `listed` of both watches is read under it */
    w->listed = 1;
    if (s->watches[0].listed && s->watches[1].listed && !s->store->ready) {
        s->store->ready = 1;
        pthread_cond_broadcast(&s->store->changed);
    }
    pthread_mutex_unlock(&s->store->mu);
}

/* LIST: replaces every object of the watch's kind. */
static int do_list(kube_watch_t *w, err_t *err)
{
    buf_t body;
    buf_init(&body);
    long status = kube_get(w->src, w->path, 60, to_buf, &body, err);
    json_error_t je;
    json_t *root = status == 200 ? json_loadb(body.data, body.len, 0, &je) : NULL;
    if (status != 200) {
        if (status != 0) {
            err_set(err, ERR_UNAVAILABLE, "LIST %s: HTTP status %ld", w->path, status);
        }
        buf_fini(&body);
        return -1;
    }
    buf_fini(&body);
    json_t *items = json_object_get(root, "items");
    const char *rv =
        json_string_value(json_object_get(json_object_get(root, "metadata"), "resourceVersion"));
    if (!json_is_array(items)) {
        json_decref(root);
        return err_set(err, ERR_BAD_DATA, "LIST %s: no items in the answer", w->path);
    }
    rulesync_objs_t objs = {0};
    for (size_t i = 0; i < json_array_size(items); i++) {
        err_t e = {0};
        rulesync_obj_t *o = obj_from_jansson(json_array_get(items, i), w->kind, &e);
        if (o != NULL) {
            rulesync__objs_push(&objs, o);
        }
    }
    snprintf(w->rv, sizeof(w->rv), "%s", rv != NULL ? rv : "");
    json_decref(root);
    rulesync__store_replace(w->src->store, w->kind, &objs);
    rulesync__objs_fini(&objs);
    mark_listed(w);
    return 0;
}

/* One watch event line: {"type": ..., "object": {...}}. */
static void on_event(kube_watch_t *w, const char *line, size_t n)
{
    json_error_t je;
    json_t *ev = json_loadb(line, n, 0, &je);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (type == NULL) {
        json_decref(ev);
        return;
    }
    if (strcmp(type, "ERROR") == 0) {
        w->gone = json_integer_value(json_object_get(obj, "code")) == 410;
        json_decref(ev);
        return;
    }
    if (rv != NULL) {
        snprintf(w->rv, sizeof(w->rv), "%s", rv);
    }
    err_t e = {0};
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        rulesync_obj_t *o = obj_from_jansson(obj, w->kind, &e);
        if (o != NULL) {
            rulesync__store_put(w->src->store, o);
        }
    } else if (strcmp(type, "DELETED") == 0) {
        rulesync_obj_t *o = obj_from_jansson(obj, w->kind, &e);
        if (o != NULL) {
            rulesync__store_delete(w->src->store, o->kind, o->ns, o->name);
            rulesync__obj_free(o);
        }
    }
    json_decref(ev);
}

static size_t on_watch_bytes(char *p, size_t size, size_t n, void *arg)
{
    kube_watch_t *w = arg;
    buf_append(&w->line, p, size * n);
    char *start = w->line.data;
    char *end = w->line.data + w->line.len;
    for (char *nl; (nl = memchr(start, '\n', (size_t)(end - start))) != NULL; start = nl + 1) {
        if (nl > start) {
            on_event(w, start, (size_t)(nl - start));
        }
    }
    size_t rest = (size_t)(end - start);
    memmove(w->line.data, start, rest);
    w->line.len = rest;
    return size * n;
}

/* WATCH from w->rv until the server ends it. 0: re-watch; -1: re-list (410 or error). */
static int do_watch(kube_watch_t *w, err_t *err)
{
    char pq[512];
    snprintf(pq, sizeof(pq),
             "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s", w->path,
             WATCH_TIMEOUT_S, w->rv);
    buf_reset(&w->line);
    w->gone = 0;
    long status = kube_get(w->src, pq, WATCH_TIMEOUT_S + 30, on_watch_bytes, w, err);
    if (status == 410 || w->gone) {
        LOG_INFO("watch expired, listing again", KV_STR("path", w->path));
        return -1;
    }
    if (status != 200) {
        if (status != 0) {
            err_set(err, ERR_UNAVAILABLE, "WATCH %s: HTTP status %ld", w->path, status);
        }
        return -1;
    }
    return 0;
}

static void sleep_ms(kube_src_t *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&s->mu);
    if (!s->stop) {
        pthread_cond_timedwait(&s->wake, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
}

static void *watch_thread(void *arg)
{
    kube_watch_t *w = arg;
    kube_src_t *s = w->src;
    int64_t backoff = BACKOFF_MIN_MS;
    int need_list = 1;
    while (!stopping(s)) {
        err_t err = {0};
        int rc = need_list ? do_list(w, &err) : do_watch(w, &err);
        if (stopping(s)) {
            break;
        }
        if (rc == 0) {
            need_list = 0;
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        need_list = 1;
        if (err.code != ERR_NONE) {
            LOG_ERROR("kubernetes API request failed", KV_STR("path", w->path),
                      KV_STR("err", err.msg), KV_INT("retry_in_ms", backoff));
            set_error(s, err.msg);
            sleep_ms(s, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
    }
    return NULL;
}

static void kube_status(rulesync_source_t *src, buf_t *out)
{
    kube_src_t *s = (kube_src_t *)src;
    pthread_mutex_lock(&s->mu);
    buf_puts(out, "\"source\":\"kubernetes\",\"api_server\":");
    jsonw_quote(out, s->conn.server, strlen(s->conn.server), 0);
    buf_puts(out, ",\"last_error\":");
    jsonw_quote(out, s->last_error, strlen(s->last_error), 0);
    pthread_mutex_unlock(&s->mu);
}

static void kube_stop(rulesync_source_t *src)
{
    kube_src_t *s = (kube_src_t *)src;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < 2; i++) {
        if (s->watches[i].started) {
            pthread_join(s->watches[i].thread, NULL);
        }
        buf_fini(&s->watches[i].line);
    }
    rulesync__kubeconn_fini(&s->conn);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const rulesync_source_ops_t kube_ops = {NULL, kube_status, kube_stop};

rulesync_source_t *rulesync__kube_start(rulesync_store_t *st, const cfg_rulesync_t *c, err_t *err)
{
    kube_src_t *s = xcalloc(1, sizeof(*s));
    if (rulesync__kubeconn_resolve(c, &s->conn, err) < 0) {
        free(s);
        return NULL;
    }
    s->base.ops = &kube_ops;
    s->store = st;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    static const char *const paths[] = {"/apis/monitoring.coreos.com/v1/prometheusrules",
                                        "/api/v1/namespaces"};
    LOG_INFO("watching the Kubernetes API", KV_STR("api_server", s->conn.server));
    for (size_t i = 0; i < 2; i++) {
        kube_watch_t *w = &s->watches[i];
        w->src = s;
        w->kind = i == 0 ? RULESYNC_OBJ_RULE : RULESYNC_OBJ_NAMESPACE;
        w->path = paths[i];
        buf_init(&w->line);
        w->started = pthread_create(&w->thread, NULL, watch_thread, w) == 0;
        if (!w->started) {
            LOG_ERROR("cannot start a watch thread", KV_STR("path", w->path));
        }
    }
    return &s->base;
}
