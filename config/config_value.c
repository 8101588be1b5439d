/* config/config_value.c - typed configuration values: decoding text (defaults, flags, YAML
 * scalars), formatting them back, defaults and freeing, all driven by the key table. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/gofloat.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "config/config_int.h"

#define FIELD(base, k) ((char *)(base) + (k)->offset)

const char *cfg__type_name(cfg__type_t type)
{
    static const char *const names[] = {
        [CFG__BOOL] = "bool",
        [CFG__INT] = "int",
        [CFG__INT64] = "int",
        [CFG__FLOAT] = "float",
        [CFG__STRING] = "string",
        [CFG__DURATION] = "duration",
        [CFG__SIZE] = "size",
        [CFG__STRLIST] = "list of strings",
        [CFG__DURLIST] = "list of durations",
        [CFG__STRMAP] = "map of strings",
        [CFG__LIST] = "list",
        [CFG__IGNORED] = "ignored",
    };
    return names[type];
}

static int bad_value(const cfg__key_t *k, const char *text, err_t *err)
{
    return err_set(err, ERR_BAD_DATA, "cannot unmarshal \"%s\" into %s", text,
                   cfg__type_name(k->type));
}

/* YAML 1.1 booleans (as yaml.v3 accepts them for bool fields) and Go flag's forms. */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y", "1", "t"};
    static const char *const no[] = {"false", "no", "off", "n", "0", "f"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Decimal, or hexadecimal with 0x; a leading zero is not octal (YAML 1.2 reads 017 as 17). */
static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    const char *digits = s + (*s == '-' || *s == '+');
    int base = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ? 16 : 10;
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (*s == '\0' || *end != '\0' || errno != 0) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || isnan(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Prometheus syntax first (1d, 1w), then Go's (1.5h, 1h0m0s, -1m). */
static int parse_duration(const char *s, int64_t *ms)
{
    err_t e = {0};
    if (duration_parse(s, ms, &e) == 0) {
        return 0;
    }
    int64_t ns;
    err_clear(&e);
    if (go_duration_parse(s, &ns, &e) == 0) {
        *ms = ns / 1000000;
        return 0;
    }
    return -1;
}

static const struct {
    const char *suffix;
    int shift;
} size_units[] = {
    {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"KB", 10}, {"MB", 20},
    {"GB", 30},  {"TB", 40},  {"K", 10},   {"M", 20},   {"G", 30},  {"B", 0},
};

/* Base-2 byte sizes as Loki's flagext.ByteSize reads them: 256KB = 262144. */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno != 0 || v < 0) {
        return -1;
    }
    int shift = 0;
    if (*end != '\0') {
        size_t i, n = sizeof(size_units) / sizeof(size_units[0]);
        for (i = 0; i < n && strcmp(end, size_units[i].suffix) != 0; i++) {
        }
        if (i == n) {
            return -1;
        }
        shift = size_units[i].shift;
    }
    if (shift > 0 && v > (LLONG_MAX >> shift)) {
        return -1;
    }
    *out = (int64_t)v << shift;
    return 0;
}

static void format_size(int64_t v, buf_t *out)
{
    static const char *const units[] = {"TB", "GB", "MB", "KB"};
    for (int i = 0; i < 4 && v != 0; i++) {
        int shift = 40 - 10 * i;
        if (v % ((int64_t)1 << shift) == 0) {
            buf_printf(out, "%" PRId64 "%s", v >> shift, units[i]);
            return;
        }
    }
    buf_printf(out, "%" PRId64 "B", v);
}

/* The shortest text that reads back as the same double, in plain notation unless the
 * exponent is extreme (10000, not %g's 1e+04). */
static void format_float(double v, buf_t *out)
{
    int plain = isfinite(v) && (v == 0 || (fabs(v) >= 1e-4 && fabs(v) < 1e21));
    gofloat_append(out, v, plain ? 'f' : 'e', -1);
}

void cfg__strlist_push(cfg_strlist_t *l, const char *s)
{
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = xstrdup(s);
}

void cfg__strlist_clear(cfg_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Keeps keys sorted and unique (a later value replaces an earlier one). */
void cfg__strmap_put(cfg_strmap_t *m, const char *key, const char *value)
{
    size_t i = 0;
    while (i < m->n && strcmp(m->keys[i], key) < 0) {
        i++;
    }
    if (i < m->n && strcmp(m->keys[i], key) == 0) {
        free(m->values[i]);
        m->values[i] = xstrdup(value);
        return;
    }
    m->keys = xrealloc(m->keys, (m->n + 1) * sizeof(char *));
    m->values = xrealloc(m->values, (m->n + 1) * sizeof(char *));
    memmove(m->keys + i + 1, m->keys + i, (m->n - i) * sizeof(char *));
    memmove(m->values + i + 1, m->values + i, (m->n - i) * sizeof(char *));
    m->keys[i] = xstrdup(key);
    m->values[i] = xstrdup(value);
    m->n++;
}

static void strmap_clear(cfg_strmap_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

/* Strings reach YAML output (GET /config), which must be UTF-8; flags may carry any bytes. */
static int is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        int n = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
        if (n < 0 || (n == 1 && *p < 0xC2)) {
            return 0;
        }
        for (p++; n > 0; n--, p++) {
            if ((*p & 0xC0) != 0x80) {
                return 0;
            }
        }
    }
    return 1;
}

static int check_text(const char *text, err_t *err)
{
    if (!is_utf8(text)) {
        return err_set(err, ERR_BAD_DATA, "invalid UTF-8 in \"%s\"", text);
    }
    return 0;
}

static int check_choice(const cfg__key_t *k, const char *text, err_t *err)
{
    if (k->choices == NULL) {
        return 0;
    }
    size_t n = strlen(text);
    for (const char *p = k->choices; *p != '\0';) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, text, n) == 0) {
            return 0;
        }
        p += len + (bar != NULL);
    }
    return err_set(err, ERR_BAD_DATA, "invalid value \"%s\" (want one of %s)", text, k->choices);
}

int cfg__set_list(const cfg__key_t *k, void *base, const cfg_strlist_t *items, err_t *err)
{
    void *field = FIELD(base, k);
    if (k->type == CFG__STRLIST) {
        for (size_t i = 0; i < items->n; i++) {
            if (check_text(items->items[i], err) != 0) {
                return -1;
            }
        }
        cfg_strlist_t copy = {0};
        for (size_t i = 0; i < items->n; i++) {
            cfg__strlist_push(&copy, items->items[i]);
        }
        cfg__strlist_clear(field);
        *(cfg_strlist_t *)field = copy;
        return 0;
    }
    int64_t *ms = xcalloc(items->n + 1, sizeof(int64_t));
    for (size_t i = 0; i < items->n; i++) {
        if (parse_duration(items->items[i], &ms[i]) != 0) {
            free(ms);
            return err_set(err, ERR_BAD_DATA, "cannot unmarshal \"%s\" into duration",
                           items->items[i]);
        }
    }
    cfg_durlist_t *dl = field;
    free(dl->ms);
    dl->ms = ms;
    dl->n = items->n;
    return 0;
}

/* Comma-separated text (a flag, a default) into a list row. */
static int set_list_text(const cfg__key_t *k, void *base, const char *text, err_t *err)
{
    cfg_strlist_t items = {0};
    const char *p = text;
    while (*text != '\0') { /* "" is the empty list */
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char *item = xstrndup(p, len);
        cfg__strlist_push(&items, item);
        free(item);
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    int rc = cfg__set_list(k, base, &items, err);
    cfg__strlist_clear(&items);
    return rc;
}

static int set_scalar_text(const cfg__key_t *k, void *f, const char *text, err_t *err)
{
    int64_t i64;
    double d;
    switch (k->type) {
    case CFG__BOOL:
        return parse_bool(text, (int *)f) == 0 ? 0 : bad_value(k, text, err);
    case CFG__INT:
        if (parse_int64(text, &i64) != 0 || i64 < INT_MIN || i64 > INT_MAX) {
            return bad_value(k, text, err);
        }
        *(int *)f = (int)i64;
        return 0;
    case CFG__INT64:
        return parse_int64(text, (int64_t *)f) == 0 ? 0 : bad_value(k, text, err);
    case CFG__FLOAT:
        if (parse_float(text, &d) != 0) {
            return bad_value(k, text, err);
        }
        *(double *)f = d;
        return 0;
    case CFG__DURATION:
        return parse_duration(text, (int64_t *)f) == 0 ? 0 : bad_value(k, text, err);
    case CFG__SIZE:
        return parse_size(text, (int64_t *)f) == 0 ? 0 : bad_value(k, text, err);
    case CFG__STRING:
        if (check_text(text, err) != 0 || check_choice(k, text, err) != 0) {
            return -1;
        }
        free(*(char **)f);
        *(char **)f = xstrdup(text);
        return 0;
    default:
        return err_set(err, ERR_BAD_DATA, "cannot unmarshal \"%s\" into %s", text,
                       cfg__type_name(k->type));
    }
}

int cfg__set_text(const cfg__key_t *k, void *base, const char *text, err_t *err)
{
    void *f = FIELD(base, k);
    if (k->type == CFG__STRLIST || k->type == CFG__DURLIST) {
        return set_list_text(k, base, text, err);
    }
    return set_scalar_text(k, f, text, err);
}

void cfg__format_scalar(const cfg__key_t *k, const void *base, buf_t *out)
{
    const char *f = (const char *)base + k->offset;
    char tmp[64];
    switch (k->type) {
    case CFG__BOOL:
        buf_puts(out, *(const int *)f ? "true" : "false");
        break;
    case CFG__INT:
        buf_printf(out, "%d", *(const int *)f);
        break;
    case CFG__INT64:
        buf_printf(out, "%" PRId64, *(const int64_t *)f);
        break;
    case CFG__FLOAT:
        format_float(*(const double *)f, out);
        break;
    case CFG__DURATION:
        cfg__format_duration(*(const int64_t *)f, tmp, sizeof(tmp));
        buf_puts(out, tmp);
        break;
    case CFG__SIZE:
        format_size(*(const int64_t *)f, out);
        break;
    case CFG__STRING:
        buf_puts(out, *(char *const *)f != NULL ? *(char *const *)f : "");
        break;
    default:
        break;
    }
}

/* Prometheus form when it reads back exactly (1m, 15d); Go's for negative values. */
void cfg__format_duration(int64_t ms, char *out, size_t n)
{
    if (ms >= 0) {
        duration_format(ms, out, n);
    } else {
        go_duration_format(ms * 1000000, out, n);
    }
}

void *cfg__list_push(const cfg__key_t *k, void *base)
{
    void **items = (void **)FIELD(base, k);
    size_t *count = (size_t *)((char *)base + k->count_offset);
    size_t sz = k->sub->elem_size;
    *items = xrealloc(*items, (*count + 1) * sz);
    void *elem = (char *)*items + *count * sz;
    memset(elem, 0, sz);
    (*count)++;
    return elem;
}

const cfg__key_t *cfg__map_key(const cfg__table_t *t)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        if (t->keys[i].is_map_key) {
            return &t->keys[i];
        }
    }
    return NULL;
}

static void copy_list(const cfg__key_t *k, void *dst, const void *src);

/* Deep copy of a list, map or list-of-structs value; dst is empty. */
static void copy_container(const cfg__key_t *k, void *dst, const void *src)
{
    const void *f = (const char *)src + k->offset;
    if (k->type == CFG__STRLIST) {
        const cfg_strlist_t *l = f;
        for (size_t i = 0; i < l->n; i++) {
            cfg__strlist_push((cfg_strlist_t *)FIELD(dst, k), l->items[i]);
        }
    } else if (k->type == CFG__DURLIST) {
        const cfg_durlist_t *l = f;
        cfg_durlist_t *out = (cfg_durlist_t *)FIELD(dst, k);
        out->ms = xcalloc(l->n + 1, sizeof(int64_t));
        memcpy(out->ms, l->ms, l->n * sizeof(int64_t));
        out->n = l->n;
    } else if (k->type == CFG__STRMAP) {
        const cfg_strmap_t *m = f;
        for (size_t i = 0; i < m->n; i++) {
            cfg__strmap_put((cfg_strmap_t *)FIELD(dst, k), m->keys[i], m->values[i]);
        }
    } else {
        copy_list(k, dst, src);
    }
}

static void copy_list(const cfg__key_t *k, void *dst, const void *src)
{
    char *items = *(char *const *)((const char *)src + k->offset);
    size_t n = *(const size_t *)((const char *)src + k->count_offset);
    for (size_t i = 0; i < n; i++) {
        void *elem = cfg__list_push(k, dst);
        for (size_t j = 0; j < k->sub->n_keys; j++) {
            cfg__copy_value(&k->sub->keys[j], elem, items + i * k->sub->elem_size);
        }
    }
}

void cfg__copy_value(const cfg__key_t *k, void *dst, const void *src)
{
    void *d = FIELD(dst, k);
    const void *f = (const char *)src + k->offset;
    cfg__fini_value(k, dst);
    switch (k->type) {
    case CFG__STRING:
        *(char **)d = xstrdup(*(char *const *)f != NULL ? *(char *const *)f : "");
        break;
    case CFG__STRLIST:
    case CFG__DURLIST:
    case CFG__STRMAP:
    case CFG__LIST:
        copy_container(k, dst, src);
        break;
    case CFG__BOOL:
    case CFG__INT:
        *(int *)d = *(const int *)f;
        break;
    case CFG__FLOAT:
        *(double *)d = *(const double *)f;
        break;
    case CFG__INT64:
    case CFG__DURATION:
    case CFG__SIZE:
        *(int64_t *)d = *(const int64_t *)f;
        break;
    case CFG__IGNORED:
        break;
    }
}

void cfg__init_struct(const cfg__table_t *t, unsigned mask, void *base)
{
    err_t err = {0};
    for (size_t i = 0; i < t->n_keys; i++) {
        const cfg__key_t *k = &t->keys[i];
        if ((k->programs & mask) != 0 && k->def != NULL && k->type != CFG__IGNORED) {
            if (cfg__set_text(k, base, k->def, &err) != 0) {
                abort(); /* a default that does not parse is a bug in the table */
            }
        }
    }
    for (size_t i = 0; i < t->n_keys; i++) {
        const cfg__key_t *k = &t->keys[i];
        char **s = (char **)FIELD(base, k);
        if (k->type == CFG__STRING && *s == NULL) {
            *s = xstrdup("");
        }
    }
}

static void fini_list(const cfg__key_t *k, void *base)
{
    void **items = (void **)FIELD(base, k);
    size_t *count = (size_t *)((char *)base + k->count_offset);
    for (size_t j = 0; j < *count; j++) {
        cfg__fini_struct(k->sub, (char *)*items + j * k->sub->elem_size);
    }
    free(*items);
    *items = NULL;
    *count = 0;
}

void cfg__fini_value(const cfg__key_t *k, void *base)
{
    void *f = FIELD(base, k);
    switch (k->type) {
    case CFG__STRING:
        free(*(char **)f);
        *(char **)f = NULL; /* several rows may share a field */
        break;
    case CFG__STRLIST:
        cfg__strlist_clear(f);
        break;
    case CFG__DURLIST:
        free(((cfg_durlist_t *)f)->ms);
        memset(f, 0, sizeof(cfg_durlist_t));
        break;
    case CFG__STRMAP:
        strmap_clear(f);
        break;
    case CFG__LIST:
        fini_list(k, base);
        break;
    default:
        break;
    }
}

void cfg__fini_struct(const cfg__table_t *t, void *base)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        cfg__fini_value(&t->keys[i], base);
    }
}
