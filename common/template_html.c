/* common/template_html.c - html/template-style escaping for HTML notification bodies
 * (Alertmanager runs e-mail HTML through Go's html/template).
 *
 * DESIGN: Go's html/template finds each action's context by analysing the template text;
 * herald tracks the same context dynamically instead: a small HTML state machine is fed the
 * template's text as it is written out, and each printed value is escaped for the state at
 * that point: element text (HTML-escaped, '+' too), quoted attribute values (the same), and
 * URL attributes (href, src, ...: unsafe schemes replaced by "#ZgotmplZ", the URL normalised,
 * values after '?' or '#' query-escaped). safeHtml values are written as they are in text.
 * An action ending in html/template's predefined escapers (html, urlquery) has that escaper
 * merged with the context's, as Go does, instead of its output escaped again.
 * Comments in element text are dropped, as html/template drops them. Not modelled:
 * <script>/<style> contents, unquoted attribute values. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/template_int.h"

enum { H_TEXT, H_TAG_OPEN, H_TAG, H_ATTR_NAME, H_AFTER_NAME, H_AFTER_EQ, H_VALUE, H_COMMENT };

static int is_url_attr(const char *name)
{
    static const char *const names[] = {"href", "src", "action", "cite", "data", "formaction",
                                        "poster", "background", "longdesc", "codebase",
                                        "usemap", "manifest", "icon", "classid", "archive",
                                        NULL};
    for (int i = 0; names[i] != NULL; i++) {
        if (strcasecmp(names[i], name) == 0) {
            return 1;
        }
    }
    return strcasestr(name, "url") != NULL || strcasestr(name, "uri") != NULL;
}

static void url_advance(thtml_t *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n && h->url_attr; i++) {
        h->url_part = p[i] == '?' || p[i] == '#' ? 2 : h->url_part > 1 ? 2 : 1;
    }
}

static void scan_tag(thtml_t *h, char c)
{
    switch (h->state) {
    case H_TAG:
        if (isalpha((unsigned char)c)) {
            h->state = H_ATTR_NAME;
            h->attr_n = 0;
            h->attr[h->attr_n++] = c;
        }
        break;
    case H_ATTR_NAME:
        if (c == '=' || isspace((unsigned char)c)) {
            h->attr[h->attr_n] = 0;
            h->state = c == '=' ? H_AFTER_EQ : H_AFTER_NAME;
        } else if (h->attr_n + 1 < sizeof(h->attr)) {
            h->attr[h->attr_n++] = c;
        }
        break;
    case H_AFTER_NAME:
        h->state = c == '=' ? H_AFTER_EQ : isspace((unsigned char)c) ? H_AFTER_NAME : H_TAG;
        break;
    case H_AFTER_EQ:
        if (c == '"' || c == '\'') {
            h->state = H_VALUE;
            h->quote = c;
            h->url_attr = is_url_attr(h->attr);
            h->url_part = 0;
        } else if (!isspace((unsigned char)c)) {
            h->state = H_TAG; /* unquoted attribute values: treated as tag text */
        }
        break;
    default:
        break;
    }
}

int tmpl__html_unquoted_value(const thtml_t *h)
{
    return h->state == H_AFTER_EQ;
}

static void scan_byte(thtml_t *h, char c)
{
    if (h->state == H_TEXT) {
        h->state = c == '<' ? H_TAG_OPEN : H_TEXT;
    } else if (h->state == H_TAG_OPEN) {
        h->state = isalpha((unsigned char)c) || c == '/' ? H_TAG : H_TEXT;
    } else if (h->state == H_VALUE) {
        if (c == h->quote) {
            h->state = H_TAG;
            h->url_attr = 0;
        } else {
            url_advance(h, &c, 1);
        }
    } else if (c == '>') {
        h->state = H_TEXT;
    } else {
        scan_tag(h, c);
    }
}

/* Writes template text to out, minus HTML comments (html/template drops them, with any
 * value printed inside), and advances the context. */
void tmpl__html_text(thtml_t *h, const char *p, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (h->state == H_COMMENT) {
            if (c == '>' && h->attr_n >= 2) {
                h->state = H_TEXT;
            }
            h->attr_n = c == '-' ? h->attr_n + 1 : 0; /* counts trailing dashes */
            continue;
        }
        if (h->state == H_TEXT && c == '<' && n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
            h->state = H_COMMENT;
            h->attr_n = 0;
            i += 3;
            continue;
        }
        buf_putc(out, c);
        scan_byte(h, c);
    }
}


/* html/template's htmlEscaper. */
static void html_escape(const char *s, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '+':
            buf_puts(out, "&#43;");
            break;
        case '"': case '\'': case '&': case '<': case '>': case 0:
            tmpl_html_escape(s + i, 1, out);
            break;
        default:
            buf_putc(out, s[i]);
        }
    }
}

/* urlNormalizer (query=0) or urlEscaper (query=1), lower-case hex as html/template. The
 * normaliser keeps RFC 3986's reserved characters except ' ( ) (Go encodes them so that the
 * URL may sit in a single-quoted attribute or a CSS url()) and keeps '%' only where it starts
 * a valid escape. */
static void url_escape(const char *s, size_t n, int query, buf_t *out)
{
    static const char keep[] = "-._~!#$&*+,/:;=?@[]";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int valid_pct = c == '%' && !query && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                        isxdigit((unsigned char)s[i + 2]);
        if (isalnum(c) || valid_pct || (c != 0 && strchr(query ? "-._~" : keep, c) != NULL)) {
            buf_putc(out, (char)c);
        } else {
            buf_printf(out, "%%%02x", c);
        }
    }
}

/* A URL with a scheme other than http, https or mailto is replaced, as html/template does. */
static int unsafe_scheme(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || memchr(s, '/', (size_t)(colon - s)) != NULL) {
        return 0;
    }
    size_t k = (size_t)(colon - s);
    return !((k == 4 && strncasecmp(s, "http", 4) == 0) ||
             (k == 5 && strncasecmp(s, "https", 5) == 0) ||
             (k == 6 && strncasecmp(s, "mailto", 6) == 0));
}

void tmpl__html_escape_value(thtml_t *h, tv_t v, const char *s, size_t n, buf_t *out)
{
    if (h->state == H_COMMENT) {
        return;
    }
    if (h->state != H_VALUE) {
        if (v.type == TVT_SAFEHTML && h->state == H_TEXT) {
            buf_append(out, s, n);
        } else {
            html_escape(s, n, out);
        }
        return;
    }
    if (!h->url_attr) {
        html_escape(s, n, out);
        return;
    }
    buf_t u;
    buf_init(&u);
    if (h->url_part == 0 && v.type != TVT_SAFEURL && unsafe_scheme(s, n)) {
        buf_puts(&u, "#ZgotmplZ");
    } else if (v.type == TVT_SAFEURL) {
        buf_append(&u, s, n);
    } else {
        url_escape(s, n, h->url_part == 2, &u);
    }
    url_advance(h, s, n);
    html_escape(u.data != NULL ? u.data : "", u.len, out);
    buf_fini(&u);
}

/* Go's rewritten pipeline: in a URL attribute, urlquery takes the place of the normaliser or
 * query escaper (after the scheme filter) and html that of the attribute escaper; elsewhere
 * html is the text/attribute escaper, and urlquery's output is escaped as any value. */
void tmpl__html_escape_predef(thtml_t *h, int urlquery, const char *s, size_t n, buf_t *out)
{
    if (h->state == H_COMMENT) {
        return;
    }
    buf_t u;
    buf_init(&u);
    if (h->state == H_VALUE && h->url_attr) {
        int unsafe = h->url_part == 0 && unsafe_scheme(s, n);
        const char *p = unsafe ? "#ZgotmplZ" : s;
        size_t pn = unsafe ? strlen(p) : n;
        if (urlquery) {
            tmpl__query_escape(p, pn, &u);
        } else {
            url_escape(p, pn, h->url_part == 2, &u);
        }
        url_advance(h, s, n);
    } else if (urlquery) {
        tmpl__query_escape(s, n, &u);
    } else {
        buf_append(&u, s, n);
    }
    if (urlquery) {
        html_escape(u.data != NULL ? u.data : "", u.len, out);
    } else {
        tmpl_html_escape(u.data != NULL ? u.data : "", u.len, out);
    }
    buf_fini(&u);
}
