/* logql/pipeline_util.c - small matchers used by pipeline stages: ip("...") patterns
 * (address, range a-b, CIDR; v4 and v6) for line and label filters, Loki's pattern
 * language (`<name>`, `<_>`, literals) for `pattern` parsers and `|>` filters, and the
 * decolorize stage (drops ANSI CSI sequences). */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "logql/pipeline_int.h"

/* ---- ip ---------------------------------------------------------------------------------- */

struct lq_ip {
    int family; /* AF_INET / AF_INET6 */
    unsigned char lo[16], hi[16];
    size_t n; /* 4 or 16 */
};

/* Parses one address of s[0..n); *family gets its kind. */
static int ip_parse(const char *s, size_t n, unsigned char *out, int *family)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static int ip_cidr(lq_ip_t *ip, const char *p, const char *slash)
{
    if (ip_parse(p, (size_t)(slash - p), ip->lo, &ip->family) != 0) {
        return -1;
    }
    ip->n = ip->family == AF_INET ? 4 : 16;
    char *end = NULL;
    long bits = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end != '\0' || bits < 0 || bits > (long)ip->n * 8) {
        return -1;
    }
    for (size_t i = 0; i < ip->n; i++) {
        long keep = bits - (long)i * 8;
        unsigned char mask = keep >= 8 ? 0xFF : keep <= 0 ? 0 : (unsigned char)(0xFF << (8 - keep));
        ip->lo[i] &= mask;
        ip->hi[i] = ip->lo[i] | (unsigned char)~mask;
    }
    return 0;
}

static int ip_compile(lq_ip_t *ip, const char *p)
{
    const char *slash = strchr(p, '/');
    if (slash != NULL) {
        return ip_cidr(ip, p, slash);
    }
    const char *dash = strchr(p, '-');
    if (dash == NULL) {
        if (ip_parse(p, strlen(p), ip->lo, &ip->family) != 0) {
            return -1;
        }
        ip->n = ip->family == AF_INET ? 4 : 16;
        memcpy(ip->hi, ip->lo, ip->n);
        return 0;
    }
    int f2 = 0;
    if (ip_parse(p, (size_t)(dash - p), ip->lo, &ip->family) != 0 ||
        ip_parse(dash + 1, strlen(dash + 1), ip->hi, &f2) != 0 || f2 != ip->family) {
        return -1;
    }
    ip->n = ip->family == AF_INET ? 4 : 16;
    return memcmp(ip->lo, ip->hi, ip->n) <= 0 ? 0 : -1;
}

lq_ip_t *logql__ip_new(arena_t *a, const char *pattern, err_t *err)
{
    lq_ip_t *ip = arena_calloc(a, sizeof(*ip));
    if (ip == NULL) {
        return NULL;
    }
    if (ip_compile(ip, pattern) != 0) {
        err_set(err, ERR_BAD_DATA, "parse error : ip: invalid pattern: \"%s\"", pattern);
        return NULL;
    }
    return ip;
}

/* 1 if s[0..n) is exactly one address inside the range. */
static int ip_match_value(const lq_ip_t *ip, const char *s, size_t n)
{
    unsigned char addr[16];
    int family = 0;
    if (ip_parse(s, n, addr, &family) != 0 || family != ip->family) {
        return 0;
    }
    return memcmp(addr, ip->lo, ip->n) >= 0 && memcmp(addr, ip->hi, ip->n) <= 0;
}

static int ip_char(unsigned char c)
{
    return isxdigit(c) || c == '.' || c == ':';
}

int logql__ip_match_line(const lq_ip_t *ip, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (!ip_char((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && ip_char((unsigned char)s[j])) {
            j++;
        }
        size_t e = j;
        while (e > i + 1 && (s[e - 1] == '.' || s[e - 1] == ':') && s[e - 2] != ':') {
            e--; /* a sentence's full stop or a `key:` separator is not part of it */
        }
        if (ip_match_value(ip, s + i, e - i)) {
            return 1;
        }
        i = j;
    }
    return 0;
}

/* ---- pattern ----------------------------------------------------------------------------- */

typedef struct {
    int capture;      /* 1: <name> or <_> */
    const char *text; /* literal bytes, or the capture name ("_" unnamed) */
    size_t len;
} lq_pnode_t;

struct lq_pattern {
    lq_pnode_t *nodes;
    size_t n;
    const char **names;
    size_t n_names;
};

/* Length of a `<name>` capture at s, 0 if s does not start one. */
static size_t capture_len(const char *s)
{
    if (s[0] != '<' || !(isalpha((unsigned char)s[1]) || s[1] == '_')) {
        return 0;
    }
    size_t i = 2;
    while (isalnum((unsigned char)s[i]) || s[i] == '_') {
        i++;
    }
    return s[i] == '>' ? i + 1 : 0;
}

static int pattern_split(arena_t *a, lq_pattern_t *p, const char *text)
{
    size_t cap = strlen(text) + 1;
    p->nodes = arena_calloc(a, cap * sizeof(*p->nodes));
    p->names = arena_calloc(a, cap * sizeof(*p->names));
    if (p->nodes == NULL || p->names == NULL) {
        return -1;
    }
    for (const char *s = text; *s != '\0';) {
        size_t c = capture_len(s);
        if (c > 0) {
            p->nodes[p->n++] = (lq_pnode_t){1, arena_strndup(a, s + 1, c - 2), c - 2};
            s += c;
            continue;
        }
        if (p->n == 0 || p->nodes[p->n - 1].capture) {
            p->nodes[p->n++] = (lq_pnode_t){0, s, 0};
        }
        p->nodes[p->n - 1].len++;
        s++;
    }
    return 0;
}

static int is_unnamed(const lq_pnode_t *nd)
{
    return nd->len == 1 && nd->text[0] == '_';
}

static int pattern_validate(lq_pattern_t *p, int line_filter, err_t *err)
{
    const char *what = line_filter ? "parse error : " : "parse error : invalid pattern parser: ";
    int any = 0;
    for (size_t i = 0; i < p->n; i++) {
        const lq_pnode_t *nd = &p->nodes[i];
        if (!nd->capture) {
            continue;
        }
        any = 1;
        if (i + 1 < p->n && p->nodes[i + 1].capture) {
            return err_set(err, ERR_BAD_DATA,
                           "%sfound consecutive capture '<%s><%s>': invalid expression", what,
                           nd->text, p->nodes[i + 1].text);
        }
        if (is_unnamed(nd)) {
            continue;
        }
        if (line_filter) {
            return err_set(err, ERR_BAD_DATA, "%snamed captures are not allowed: found '<%s>'",
                           what, nd->text);
        }
        for (size_t k = 0; k < p->n_names; k++) {
            if (strcmp(p->names[k], nd->text) == 0) {
                return err_set(err, ERR_BAD_DATA,
                               "%sduplicate capture name (%s): invalid expression", what, nd->text);
            }
        }
        p->names[p->n_names++] = nd->text;
    }
    if (!any && !line_filter) {
        return err_set(err, ERR_BAD_DATA, "%sat least one capture is required", what);
    }
    return 0;
}

lq_pattern_t *logql__pattern_new(arena_t *a, const char *text, int line_filter, err_t *err)
{
    lq_pattern_t *p = arena_calloc(a, sizeof(*p));
    if (p == NULL || pattern_split(a, p, text) != 0 || pattern_validate(p, line_filter, err) != 0) {
        return NULL;
    }
    return p;
}

const char *logql__pattern_name(const lq_pattern_t *p, size_t i)
{
    return p->names[i];
}

static const char *find_lit(const char *s, size_t n, const lq_pnode_t *lit)
{
    return memmem(s, n, lit->text, lit->len);
}

size_t logql__pattern_match(const lq_pattern_t *p, const char *s, size_t n, size_t *off,
                            size_t *len)
{
    const lq_pnode_t *nd = p->nodes, *end = p->nodes + p->n;
    const char *in = s, *stop = s + n;
    size_t k = 0;
    if (n == 0 || nd == end) {
        return 0;
    }
    if (!nd->capture) {
        if ((size_t)(stop - in) < nd->len || memcmp(in, nd->text, nd->len) != 0) {
            return 0;
        }
        in += nd->len;
        nd++;
    }
    while (nd < end && k < 64) {
        if (nd + 1 == end) { /* ends on a capture: the rest of the line */
            if (!is_unnamed(nd)) {
                off[k] = (size_t)(in - s);
                len[k++] = (size_t)(stop - in);
            }
            return k;
        }
        const char *hit = find_lit(in, (size_t)(stop - in), nd + 1);
        if (hit == NULL) {
            if (!is_unnamed(nd)) {
                off[k] = (size_t)(in - s);
                len[k++] = (size_t)(stop - in);
            }
            return k;
        }
        if (!is_unnamed(nd)) {
            off[k] = (size_t)(in - s);
            len[k++] = (size_t)(hit - in);
        }
        in = hit + nd[1].len;
        nd += 2;
    }
    return k;
}

int logql__pattern_test(const lq_pattern_t *p, const char *s, size_t n)
{
    if (n == 0 || p->n == 0) {
        return n == 0 && p->n == 0;
    }
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        const lq_pnode_t *nd = &p->nodes[i];
        if (nd->capture) {
            continue;
        }
        const char *hit = find_lit(s + off, n - off, nd);
        if (hit == NULL) {
            return 0;
        }
        size_t j = (size_t)(hit - (s + off));
        if (i != 0 && j == 0) {
            return 0; /* the capture before it must not be empty */
        }
        off += j + nd->len;
    }
    int req_rest = p->nodes[p->n - 1].capture;
    return req_rest == (off != n);
}

/* ---- decolorize -------------------------------------------------------------------------- */

void logql__decolorize(logql_proc_t *pr)
{
    if (memchr(pr->line, 0x1b, pr->len) == NULL) {
        return;
    }
    const char *s = pr->line;
    size_t n = pr->len;
    buf_t *b = logql__line_begin(pr);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0x1b && i + 1 < n && s[i + 1] == '[') {
            size_t j = i + 2;
            while (j < n && (isdigit((unsigned char)s[j]) || s[j] == ';' || s[j] == '?')) {
                j++;
            }
            if (j < n && s[j] >= 0x40 && s[j] <= 0x7e) {
                i = j;
                continue;
            }
        }
        buf_putc(b, s[i]);
    }
    logql__line_commit(pr);
}
