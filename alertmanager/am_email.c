/* alertmanager/am_email.c - the email notifier: headers (Subject, From, To and the
 * configured ones, templated), a multipart/alternative body with the text and HTML parts in
 * quoted-printable as Alertmanager writes them, sent over SMTP through libcurl (STARTTLS when
 * require_tls, implicit TLS on port 465, AUTH PLAIN/LOGIN from auth_username/password).
 * The message is built by am__email_format (no I/O) so tests can compare it. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

static const char *efield(const am_integration_t *in, const char *name)
{
    int i = am__recv_field(AM_RECV_EMAIL, name);
    return i >= 0 ? in->fields[i] : NULL;
}

/* Headers and the text part go through text/template, the HTML part through html/template
 * (every printed value escaped for its HTML context), as Alertmanager's ExecuteTextString and
 * ExecuteHTMLString do. */
static int expand(const am_config_t *c, const json_t *data, const char *text, int is_html,
                  buf_t *out, err_t *err)
{
    buf_puts(out, "");
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    if (is_html) {
        return tmpl_am_expand_html(c->tmpl, text, data, NULL, out, err);
    }
    return tmpl_am_expand(c->tmpl, text, data, NULL, out, err);
}

/* Go's quotedprintable.Writer: CRLF line ends, soft breaks at 76, '=' and bytes outside
 * printable ASCII encoded, trailing blanks encoded. */
static void qp_encode(const char *s, buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        char enc[4];
        int n;
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            p += *p == '\r';
            buf_puts(out, "\r\n");
            col = 0;
            continue;
        }
        int blank_at_eol = (*p == ' ' || *p == '\t') && (p[1] == '\n' || p[1] == '\0' ||
                                                         (p[1] == '\r' && p[2] == '\n'));
        if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !blank_at_eol)) {
            enc[0] = (char)*p;
            n = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            n = 3;
        }
        if (col + n > 75) {
            buf_puts(out, "=\r\n");
            col = 0;
        }
        buf_append(out, enc, (size_t)n);
        col += n;
    }
}

static void add_part(buf_t *m, const char *boundary, const char *ctype, const char *body)
{
    buf_printf(m, "--%s\r\nContent-Transfer-Encoding: quoted-printable\r\n"
                  "Content-Type: %s; charset=UTF-8\r\n\r\n",
               boundary, ctype);
    qp_encode(body, m);
    buf_puts(m, "\r\n");
}

static int has_header(const am_integration_t *in, const char *name)
{
    for (size_t i = 0; i < in->n_map; i++) {
        if (strcasecmp(in->map[i].key, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int write_headers(const am_integration_t *in, const am_config_t *c, const json_t *data,
                         buf_t *m, err_t *err)
{
    const am_kv_t defaults[] = {
        {"Subject", "{{ template \"email.default.subject\" . }}"},
        {"To", efield(in, "to")},
        {"From", efield(in, "from")}};
    buf_t v;
    buf_init(&v);
    for (size_t i = 0; i < in->n_map + 3; i++) {
        const am_kv_t *h = i < in->n_map ? &in->map[i] : &defaults[i - in->n_map];
        if (i >= in->n_map && has_header(in, h->key)) {
            continue;
        }
        buf_reset(&v);
        if (expand(c, data, h->value, 0, &v, err) < 0) {
            buf_fini(&v);
            return -1;
        }
        buf_printf(m, "%s: %s\r\n", h->key, v.data);
    }
    buf_fini(&v);
    return 0;
}

int am__email_format(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                     buf_t *m, err_t *err)
{
    char boundary[64], date[64], host[256] = "localhost";
    buf_t data, body;
    time_t now = time(NULL);
    struct tm tm;
    int rc = -1;
    buf_init(&data);
    buf_init(&body);
    am__notice_data_json(n, &data);
    json_t *j = json_loads(data.data, 0, NULL);
    gethostname(host, sizeof(host) - 1);
    unsigned long long r1 = (unsigned long long)random() << 31 ^ (unsigned long long)random();
    snprintf(boundary, sizeof(boundary), "%016llx%016llx", r1, r1 * 2654435761ULL);
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    if (write_headers(in, c, j, m, err) < 0) {
        goto done;
    }
    if (!has_header(in, "Message-Id")) {
        buf_printf(m, "Message-Id: <%lld.%llu@%s>\r\n", (long long)n->now_ns, r1, host);
    }
    buf_printf(m, "Date: %s\r\nContent-Type: multipart/alternative;  boundary=%s\r\n"
                  "MIME-Version: 1.0\r\n\r\n",
               date, boundary);
    if (expand(c, j, efield(in, "text"), 0, &body, err) < 0) {
        goto done;
    }
    if (body.len > 0) {
        add_part(m, boundary, "text/plain", body.data);
    }
    buf_reset(&body);
    if (expand(c, j, efield(in, "html"), 1, &body, err) < 0) {
        goto done;
    }
    if (body.len > 0) {
        add_part(m, boundary, "text/html", body.data);
    }
    buf_printf(m, "--%s--\r\n", boundary);
    rc = 0;
done:
    json_decref(j);
    buf_fini(&data);
    buf_fini(&body);
    return rc;
}

typedef struct {
    const buf_t *m;
    size_t off;
} reader_t;

static size_t read_msg(char *ptr, size_t size, size_t nmemb, void *arg)
{
    reader_t *r = arg;
    size_t n = size * nmemb, left = r->m->len - r->off;
    if (n > left) {
        n = left;
    }
    memcpy(ptr, r->m->data + r->off, n);
    r->off += n;
    return n;
}

/* "a@b, Name <c@d>" -> recipient list of bare addresses. */
static struct curl_slist *recipients(const char *to)
{
    struct curl_slist *l = NULL;
    char *copy = xstrdup(to), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *lt = strchr(tok, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
        if (lt != NULL && gt != NULL) {
            *gt = '\0';
            tok = lt + 1;
        }
        while (*tok == ' ') {
            tok++;
        }
        l = curl_slist_append(l, tok);
    }
    free(copy);
    return l;
}

static int smtp_send(const am_integration_t *in, const buf_t *m, err_t *err)
{
    char url[1024];
    const char *smarthost = efield(in, "smarthost"), *from = efield(in, "from");
    const char *user = efield(in, "auth_username"), *pass = efield(in, "auth_password");
    const char *colon = strrchr(smarthost, ':');
    int implicit = colon != NULL && strcmp(colon, ":465") == 0;
    int require_tls = 1;
    am__y_bool(am__ymap_get(in->node, "require_tls"), &require_tls, NULL);
    snprintf(url, sizeof(url), "%s://%s/%s", implicit ? "smtps" : "smtp", smarthost,
             efield(in, "hello") != NULL ? efield(in, "hello") : "localhost");
    am__curl_init();
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return err_set(err, ERR_UNAVAILABLE, "cannot create an SMTP client");
    }
    struct curl_slist *rcpt = recipients(efield(in, "to"));
    reader_t rd = {.m = m};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_msg);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    long ssl = require_tls && !implicit ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE;
    curl_easy_setopt(c, CURLOPT_USE_SSL, ssl);
    if (user != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass != NULL ? pass : "");
    }
    if (in->http.insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        return err_set(err, ERR_UNAVAILABLE, "send email to %s: %s", smarthost,
                       curl_easy_strerror(cc));
    }
    return 0;
}

int am__email_send(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                   err_t *err)
{
    buf_t m;
    buf_init(&m);
    int rc = am__email_format(in, c, n, &m, err);
    if (rc == 0) {
        rc = smtp_send(in, &m, err);
    }
    buf_fini(&m);
    return rc;
}
