/* alertmanager/am_route.c - the routing tree: matching as Route.Match does, route keys
 * (which become part of every group key), group labels, and the string forms Alertmanager
 * uses in keys (label sets, matchers) plus the Prometheus label-set fingerprint. */
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"

size_t am__route_match(const am_route_t *r, const labels_t *ls, const am_route_t **out,
                       size_t cap)
{
    size_t n = 0;
    if (!am__matchers_match(r->matchers, r->n_matchers, ls)) {
        return 0;
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        size_t got = am__route_match(r->routes[i], ls, out + n, cap - n);
        n += got;
        if (got > 0 && !r->routes[i]->cont) {
            break;
        }
    }
    if (n == 0 && cap > 0) {
        out[n++] = r;
    }
    return n;
}

int am__matchers_match(matcher_t *const *ms, size_t n, const labels_t *ls)
{
    for (size_t i = 0; i < n; i++) {
        if (!matcher_matches_labels(ms[i], ls)) {
            return 0;
        }
    }
    return 1;
}

/* labels.Matchers order: name, then value, then type. */
static int matcher_cmp(const void *pa, const void *pb)
{
    const matcher_t *a = *(matcher_t *const *)pa, *b = *(matcher_t *const *)pb;
    int c = strcmp(matcher_name(a), matcher_name(b));
    if (c == 0) {
        c = strcmp(matcher_value(a), matcher_value(b));
    }
    if (c == 0) {
        c = (int)matcher_type(a) - (int)matcher_type(b);
    }
    return c;
}

void am__matcher_string(const matcher_t *m, buf_t *out)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    buf_puts(out, matcher_name(m));
    buf_puts(out, ops[matcher_type(m)]);
    buf_putc(out, '"');
    /* Alertmanager escapes values the OpenMetrics way: backslash, newline, quote. */
    for (const char *p = matcher_value(m); *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            buf_putc(out, '\\');
            buf_putc(out, *p);
        } else if (*p == '\n') {
            buf_puts(out, "\\n");
        } else {
            buf_putc(out, *p);
        }
    }
    buf_putc(out, '"');
}

void am__route_finish(arena_t *a, am_route_t *r)
{
    buf_t b;
    buf_init(&b);
    if (r->n_matchers > 1) {
        qsort(r->matchers, r->n_matchers, sizeof(*r->matchers), matcher_cmp);
    }
    if (r->parent != NULL) {
        buf_puts(&b, r->parent->key);
        buf_putc(&b, '/');
    }
    buf_putc(&b, '{');
    for (size_t i = 0; i < r->n_matchers; i++) {
        if (i > 0) {
            buf_putc(&b, ',');
        }
        am__matcher_string(r->matchers[i], &b);
    }
    buf_putc(&b, '}');
    r->key = arena_strdup(a, b.data);
    buf_fini(&b);
}

labels_t *am__route_group_labels(const am_route_t *r, const labels_t *ls)
{
    if (r->group_by_all) {
        return labels_ref((labels_t *)ls);
    }
    label_t pairs[64];
    size_t n = 0;
    for (size_t i = 0; i < r->n_group_by && n < 64; i++) {
        const char *v = labels_get(ls, r->group_by[i]);
        if (v != NULL) {
            pairs[n].name = r->group_by[i];
            pairs[n++].value = v;
        }
    }
    return labels_new(pairs, n, NULL);
}

void am__lset_string(const labels_t *ls, buf_t *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < labels_len(ls); i++) {
        label_t l = labels_at(ls, i);
        if (i > 0) {
            buf_puts(out, ", ");
        }
        buf_puts(out, l.name);
        buf_putc(out, '=');
        labels_quote(out, l.value, strlen(l.value));
    }
    buf_putc(out, '}');
}

static uint64_t fnv_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t fnv_byte(uint64_t h, unsigned char b)
{
    h ^= b;
    return h * 1099511628211ULL;
}

uint64_t am__fingerprint(const labels_t *ls)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < labels_len(ls); i++) {
        label_t l = labels_at(ls, i);
        h = fnv_byte(fnv_add(h, l.name), 0xff);
        h = fnv_byte(fnv_add(h, l.value), 0xff);
    }
    return h;
}

/* model.LabelSet.Before: shorter sets first, then the first differing label. */
int am__lset_before(const labels_t *a, const labels_t *b)
{
    size_t na = labels_len(a), nb = labels_len(b), i = 0, j = 0;
    if (na != nb) {
        return na < nb;
    }
    while (i < na && j < nb) {
        label_t x = labels_at(a, i), y = labels_at(b, j);
        int c = strcmp(x.name, y.name);
        if (c < 0) {
            return 0; /* name only in a: b lacks it */
        }
        if (c > 0) {
            return 1; /* name only in b: a lacks it */
        }
        c = strcmp(x.value, y.value);
        if (c != 0) {
            return c < 0;
        }
        i++;
        j++;
    }
    return 0;
}
