/* common/http_reply.c - the response side of common/http: the one place that turns bodies
 * and err_t values into bytes on the wire, with gzip, extra headers and request metrics.
 *
 * DESIGN: every reply funnels into http__send, which runs inside libmicrohttpd's access
 * callback (handlers are called from there), so the response is queued at once. A second
 * reply for the same request is dropped: the first one is what the client gets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common/http_int.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/mem.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"

/* ---- gzip -------------------------------------------------------------------------------- */

/* True when Accept-Encoding lists gzip (or *) without q=0. */
static int accepts_gzip(const char *ae)
{
    while (ae != NULL && *ae != '\0') {
        ae += strspn(ae, " \t,");
        size_t tok = strcspn(ae, " \t;,");
        int match = (tok == 4 && strncasecmp(ae, "gzip", 4) == 0) || (tok == 1 && *ae == '*');
        const char *end = ae + strcspn(ae, ",");
        const char *q = strstr(ae, "q=");
        int zero_q = q != NULL && q < end && strtod(q + 2, NULL) == 0;
        if (match && !zero_q) {
            return 1;
        }
        ae = end;
    }
    return 0;
}

/* Returns a malloc'd gzip stream of data, or NULL if zlib fails (then send it plain). */
static void *gzip_bytes(const void *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return NULL;
    }
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *out = xmalloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- the single send path ------------------------------------------------------------- */

/* Request metrics and the debug access log, once per answered request. */
static void record(http_req_t *r, int status)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - r->start.tv_sec) + (now.tv_nsec - r->start.tv_nsec) / 1e9;
    const char *route = r->route != NULL ? r->route->metric_route : "other";
    if (r->srv->req_duration != NULL) {
        char code[16];
        snprintf(code, sizeof(code), "%d", status);
        metric_observe(r->srv->req_duration, secs, r->method, route, code, "false");
    }
    LOG_DEBUG("request", KV_STR("method", r->method), KV_STR("path", r->raw_path),
              KV_STR("route", route), KV_INT("status", status), KV_FLOAT("duration_s", secs),
              KV_STR("tenant", r->tenant != NULL ? r->tenant : ""));
}

static int has_header(const http_req_t *r, const char *name)
{
    for (const http__hdr_t *h = r->headers; h != NULL; h = h->next) {
        if (strcasecmp(h->name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static struct MHD_Response *make_response(http_req_t *r, void *body, size_t len, int copy)
{
    int gzip_route = r->route != NULL && (r->route->flags & HTTP_GZIP);
    if (gzip_route) {
        http_set_header(r, "Vary", "Accept-Encoding");
    }
    if (gzip_route && len > 0 && accepts_gzip(http_req_header(r, "Accept-Encoding"))) {
        size_t zlen = 0;
        void *z = gzip_bytes(body, len, &zlen);
        if (z != NULL) {
            if (!copy) {
                free(body);
            }
            body = z, len = zlen, copy = 0;
            http_set_header(r, "Content-Encoding", "gzip");
        }
    }
    if (copy) {
        return MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    }
    return MHD_create_response_from_buffer_with_free_callback(len, body, free);
}

void http__send(http_req_t *r, int status, const char *content_type, void *body, size_t len,
                int copy)
{
    if (r->replied) {
        if (!copy) {
            free(body);
        }
        return;
    }
    r->replied = 1;
    r->stage = HTTP__DONE;
    struct MHD_Response *resp = make_response(r, body, len, copy);
    if (content_type != NULL && !has_header(r, "Content-Type")) {
        MHD_add_response_header(resp, "Content-Type", content_type);
    }
    for (const http__hdr_t *h = r->headers; h != NULL; h = h->next) {
        MHD_add_response_header(resp, h->name, h->value);
    }
    if (status == 413) {
        /* The rest of an oversized body is not worth reading: close after answering. */
        MHD_add_response_header(resp, "Connection", "close");
    }
    if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES) {
        LOG_WARN("http: could not queue response", KV_STR("path", r->raw_path),
                 KV_INT("status", status));
    }
    MHD_destroy_response(resp);
    record(r, status);
}

/* ---- public replies ------------------------------------------------------------------ */

void http_set_header(http_req_t *r, const char *name, const char *value)
{
    http__hdr_t *h = arena_alloc(r->arena, sizeof(*h));
    h->name = arena_strdup(r->arena, name);
    h->value = arena_strdup(r->arena, value);
    h->next = r->headers;
    r->headers = h;
}

void http_reply(http_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    http__send(r, status, content_type, (void *)body, len, 1);
}

void http_reply_buf(http_req_t *r, int status, const char *content_type, buf_t *body)
{
    size_t len = 0;
    char *data = buf_steal(body, &len);
    if (data == NULL) {
        http__send(r, status, content_type, "", 0, 1);
        return;
    }
    http__send(r, status, content_type, data, len, 0);
}

void http_reply_text(http_req_t *r, int status, const char *fmt, ...)
{
    buf_t b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_putc(&b, '\n');
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    http_reply_buf(r, status, CT_TEXT, &b);
}

void http_reply_json(http_req_t *r, int status, json_t *body)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    if (body != NULL) {
        jsonw_json(w, body);
    } else {
        jsonw_null(w);
    }
    jsonw_free(w);
    json_decref(body);
    http_reply_buf(r, status, CT_JSON, &b);
}

/* Writes {"status":"success","data": and returns the writer positioned for the data. */
static jsonw_t *prom_success_begin(buf_t *b)
{
    jsonw_t *w = jsonw_new(b);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "success");
    jsonw_key(w, "data");
    return w;
}

void http_reply_prom_data(http_req_t *r, json_t *data)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = prom_success_begin(&b);
    if (data != NULL) {
        jsonw_json(w, data);
    } else {
        jsonw_null(w);
    }
    jsonw_obj_end(w);
    jsonw_free(w);
    json_decref(data);
    http_reply_buf(r, 200, CT_JSON, &b);
}

void http_reply_prom_raw(http_req_t *r, buf_t *data_json)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = prom_success_begin(&b);
    jsonw_raw(w, data_json != NULL && data_json->len > 0 ? data_json->data : "null");
    jsonw_obj_end(w);
    jsonw_free(w);
    if (data_json != NULL) {
        buf_fini(data_json);
    }
    http_reply_buf(r, 200, CT_JSON, &b);
}

void http__reply_prom_error_raw(http_req_t *r, int status, const char *type, const char *msg)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, "error");
    jsonw_key(w, "errorType");
    jsonw_str(w, type);
    jsonw_key(w, "error");
    jsonw_str(w, msg);
    jsonw_obj_end(w);
    jsonw_free(w);
    http_reply_buf(r, status, CT_JSON, &b);
}

void http_reply_prom_error(http_req_t *r, const err_t *err)
{
    if (err == NULL || err->code == ERR_NONE) {
        http__reply_prom_error_raw(r, 500, "internal", "unknown error");
        return;
    }
    http__reply_prom_error_raw(r, err_status(err->code), err_type(err->code), err->msg);
}

void http__reply_err(http_req_t *r, const err_t *err)
{
    if (r->route != NULL && (r->route->flags & HTTP_TEXT_ERRORS)) {
        int set = err != NULL && err->code != ERR_NONE;
        http_reply_text(r, set ? err_status(err->code) : 500, "%s",
                        set ? err->msg : "unknown error");
        return;
    }
    http_reply_prom_error(r, err);
}
