/* common/http_req.c - the request side of common/http: URI and form parsing, accessors, URL
 * escaping, and the tenant middleware with dskit's validation rules and messages.
 *
 * DESIGN: every string a handler sees lives in the request arena (unlimited budget, so
 * allocations cannot fail) and dies with the request. Arguments are one ordered list of
 * (name, value) pairs, query first, then the form body, as Go's Request.Form merges them;
 * repeated keys such as match[] keep their order. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common/http_int.h"

/* ---- URL escaping ------------------------------------------------------------------------ */

char *http_url_decode(arena_t *a, const char *s, size_t n, int plus_as_space)
{
    char *out = arena_alloc(a, n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                return NULL;
            }
            int h = buf_hex_digit((unsigned char)s[i + 1]), l = buf_hex_digit((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = plus_as_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Go's shouldEscape for path segments: unreserved bytes and $&+,:;=@ stay. */
static int path_byte_is_plain(unsigned char c)
{
    return isalnum(c) || strchr("-_.~$&+,:;=@", c) != NULL;
}

void http_url_encode(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (path_byte_is_plain(*p)) {
            buf_putc(out, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, esc, 3);
        }
    }
}

/* ---- URI, query and form --------------------------------------------------------------- */

static void add_arg(http_req_t *r, const char *name, const char *value)
{
    if (r->n_args == r->cap_args) {
        size_t cap = r->cap_args ? r->cap_args * 2 : 8;
        r->args = arena_realloc(r->arena, r->args, r->cap_args * sizeof(*r->args),
                                cap * sizeof(*r->args));
        r->cap_args = cap;
    }
    r->args[r->n_args++] = (http__kv_t){name, value};
}

/* Parses "a=1&b=2&a=3" as Go's url.ParseQuery: pairs with a bad escape or a ';' are
 * skipped, a key without '=' gets the empty value. */
static void parse_urlencoded(http_req_t *r, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(pair_end - s));
        const char *key_end = eq != NULL ? eq : pair_end;
        if (pair_end > s && memchr(s, ';', (size_t)(pair_end - s)) == NULL) {
            char *k = http_url_decode(r->arena, s, (size_t)(key_end - s), 1);
            char *v = eq != NULL ? http_url_decode(r->arena, eq + 1, (size_t)(pair_end - eq - 1), 1)
                                 : arena_strdup(r->arena, "");
            if (k != NULL && v != NULL) {
                add_arg(r, k, v);
            }
        }
        s = pair_end + 1;
    }
}

/* Splits the still-encoded path on '/' and decodes each part, so an escaped "%2F" stays
 * inside its segment (Mimir's rule namespaces); with route_decoded_path the decoded path is
 * split instead (Loki). -1 on a malformed escape. */
static int split_segments(http_req_t *r)
{
    int decoded = r->srv->opts.route_decoded_path;
    const char *path = decoded ? r->path : r->raw_path;
    const char *p = path + (path[0] == '/');
    size_t n = 1;
    for (const char *c = p; *c != '\0'; c++) {
        n += *c == '/';
    }
    r->segs = arena_alloc(r->arena, n * sizeof(*r->segs));
    for (r->n_segs = 0; r->n_segs < n; r->n_segs++) {
        size_t len = strcspn(p, "/");
        r->segs[r->n_segs] =
            decoded ? arena_strndup(r->arena, p, len) : http_url_decode(r->arena, p, len, 0);
        if (r->segs[r->n_segs] == NULL) {
            return -1;
        }
        p += len + (p[len] == '/');
    }
    return 0;
}

int http__req_parse_uri(http_req_t *r, const char *uri, err_t *err)
{
    const char *q = strchr(uri, '?');
    size_t path_len = q != NULL ? (size_t)(q - uri) : strlen(uri);
    r->raw_path = arena_strndup(r->arena, uri, path_len);
    r->raw_query = q != NULL ? arena_strdup(r->arena, q + 1) : "";
    parse_urlencoded(r, r->raw_query, strlen(r->raw_query));
    r->path = http_url_decode(r->arena, r->raw_path, path_len, 0);
    if (r->path == NULL || split_segments(r) < 0) {
        r->path = r->raw_path; /* for messages and logs */
        return err_set(err, ERR_BAD_DATA, "invalid URL escape in path \"%s\"", r->raw_path);
    }
    return 0;
}

void http__req_parse_form(http_req_t *r)
{
    if (!(r->method_bit & (HTTP__M_POST | HTTP__M_PUT | HTTP__M_PATCH))) {
        return;
    }
    const char *ct = http_req_header(r, "Content-Type");
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, form, sizeof(form) - 1) != 0) {
        return;
    }
    parse_urlencoded(r, r->body.data != NULL ? r->body.data : "", r->body.len);
}

/* Inflates src into out, refusing more than `limit` bytes. window_bits: 16+15 gzip, -15 raw
 * deflate (Go's compress/flate, which Loki uses for "deflate"). */
static int inflate_into(const buf_t *src, buf_t *out, int window_bits, size_t limit, err_t *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, window_bits) != Z_OK) {
        return err_set(err, ERR_INTERNAL, "inflate: cannot initialize");
    }
    z.next_in = (Bytef *)(src->data != NULL ? src->data : "");
    z.avail_in = (uInt)src->len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        buf_reserve(out, 65536);
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len - 1);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = z.total_out;
        out->data[out->len] = '\0';
        if (out->len > limit) {
            inflateEnd(&z);
            return err_set(err, ERR_TOO_LARGE, "request body too large: limit is %zu bytes", limit);
        }
        if (rc == Z_BUF_ERROR && z.avail_in > 0) {
            rc = Z_OK; /* output space ran out: grow and go on */
        }
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        return err_set(err, ERR_BAD_DATA, "invalid %s request body: %s",
                       window_bits < 0 ? "deflate" : "gzip", z.msg ? z.msg : "truncated");
    }
    return 0;
}

int http__req_decode_body(http_req_t *r, err_t *err)
{
    const char *ce = http_req_header(r, "Content-Encoding");
    int gzip = ce != NULL && strcasecmp(ce, "gzip") == 0;
    if (!gzip && (ce == NULL || strcasecmp(ce, "deflate") != 0)) {
        return 0; /* identity, or snappy & co. left to the handler */
    }
    buf_t plain;
    buf_init(&plain);
    if (inflate_into(&r->body, &plain, gzip ? 16 + 15 : -15, r->srv->opts.max_body_bytes, err) <
        0) {
        buf_fini(&plain);
        return -1;
    }
    buf_fini(&r->body);
    r->body = plain;
    return 0;
}

unsigned http__method_bit(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {
        {"GET", HTTP__M_GET},         {"HEAD", HTTP__M_HEAD},     {"POST", HTTP__M_POST},
        {"PUT", HTTP__M_PUT},         {"DELETE", HTTP__M_DELETE}, {"PATCH", HTTP__M_PATCH},
        {"OPTIONS", HTTP__M_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(methods[i].name, method) == 0) {
            return methods[i].bit;
        }
    }
    return 0;
}

/* ---- accessors --------------------------------------------------------------------------- */

const char *http_req_method(const http_req_t *r)
{
    return r->method;
}

const char *http_req_path(const http_req_t *r)
{
    return r->path;
}

const char *http_req_param(const http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++) {
        if (strcmp(r->params[i].name, name) == 0) {
            return r->params[i].value;
        }
    }
    return NULL;
}

const char *http_req_header(const http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_arg(const http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_args; i++) {
        if (strcmp(r->args[i].name, name) == 0) {
            return r->args[i].value;
        }
    }
    return NULL;
}

size_t http_req_args(const http_req_t *r, const char *name, const char *const **vals)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_args; i++) {
        n += strcmp(r->args[i].name, name) == 0;
    }
    const char **out = arena_alloc(r->arena, (n ? n : 1) * sizeof(*out));
    n = 0;
    for (size_t i = 0; i < r->n_args; i++) {
        if (strcmp(r->args[i].name, name) == 0) {
            out[n++] = r->args[i].value;
        }
    }
    *vals = out;
    return n;
}

const char *http_req_body(const http_req_t *r, size_t *len)
{
    if (len != NULL) {
        *len = r->body.len;
    }
    return r->body.data != NULL ? r->body.data : "";
}

const char *http_req_tenant(const http_req_t *r)
{
    return r->tenant;
}

arena_t *http_req_arena(http_req_t *r)
{
    return r->arena;
}

/* ---- tenancy ----------------------------------------------------------------------------- */

static int tenant_byte_ok(unsigned char c)
{
    return isalnum(c) || strchr("!-_.*'()", c) != NULL;
}

int http_validate_tenant(const char *id, err_t *err)
{
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        if (tenant_byte_ok(*p)) {
            continue;
        }
        /* dskit prints the byte with Go's %c, i.e. as the code point of that byte value. */
        char ch[3] = {(char)*p, 0, 0};
        if (*p >= 0x80) {
            ch[0] = (char)(0xc0 | (*p >> 6));
            ch[1] = (char)(0x80 | (*p & 0x3f));
        }
        return err_set(err, ERR_BAD_DATA, "tenant ID '%s' contains unsupported character '%s'", id,
                       ch);
    }
    if (strlen(id) > 150) {
        return err_set(err, ERR_BAD_DATA, "tenant ID is too long: max 150 characters");
    }
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        return err_set(err, ERR_BAD_DATA, "tenant ID is '.' or '..'");
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Splits an org ID on '|', drops each part's ":subtenant" suffix, validates, then sorts and
 * de-duplicates as dskit does. Returns the number of distinct tenants, -1 + err if invalid. */
static int parse_tenant_ids(arena_t *a, const char *org_id, const char ***out, err_t *err)
{
    size_t n = 1;
    for (const char *c = org_id; *c != '\0'; c++) {
        n += *c == '|';
    }
    const char **ids = arena_alloc(a, n * sizeof(*ids));
    const char *p = org_id;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, "|");
        size_t id_len = strcspn(p, "|:");
        ids[i] = arena_strndup(a, p, id_len);
        if (http_validate_tenant(ids[i], err) < 0) {
            return -1;
        }
        p += len + (p[len] == '|');
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    size_t distinct = n > 0 ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(ids[i], ids[distinct - 1]) != 0) {
            ids[distinct++] = ids[i];
        }
    }
    *out = ids;
    return (int)distinct;
}

int http__req_auth(http_req_t *r)
{
    http_server_t *s = r->srv;
    pthread_mutex_lock(&s->mu);
    int multitenancy = s->multitenancy;
    const char *fallback = arena_strdup(r->arena, s->no_auth_tenant);
    pthread_mutex_unlock(&s->mu);
    if (!multitenancy) {
        r->tenant = fallback;
        return 0;
    }
    const char *org_id = http_req_header(r, "X-Scope-OrgID");
    if (org_id == NULL || org_id[0] == '\0') {
        http_reply_text(r, 401, "no org id");
        return -1;
    }
    err_t err = {0};
    const char **ids = NULL;
    int n = parse_tenant_ids(r->arena, org_id, &ids, &err);
    if (n < 0) {
        http_reply_text(r, 400, "%s", err.msg);
        return -1;
    }
    if (n > 1) {
        http_reply_text(r, 422, "too many tenant IDs present. max: 1 actual: %d", n);
        return -1;
    }
    r->tenant = ids[0];
    return 0;
}
