/* common/template_util.c - small Go-library equivalents the function sets need:
 * strconv.ParseFloat, net.ParseIP, time.LoadLocation (TZif files) and encoding/json. */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/template_int.h"

int tmpl__parse_go_float(const char *s, double *f)
{
    if (*s == 0 || isspace((unsigned char)*s)) {
        return -1;
    }
    const char *body = (*s == '+' || *s == '-') ? s + 1 : s;
    if (strcasecmp(body, "inf") == 0 || strcasecmp(body, "infinity") == 0) {
        *f = *s == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (strcasecmp(body, "nan") == 0) {
        *f = NAN;
        return 0;
    }
    if (!isdigit((unsigned char)*body) && *body != '.') {
        return -1;
    }
    char *end;
    *f = strtod(s, &end);
    return *end == 0 ? 0 : -1;
}

int tmpl__is_ip(const char *s)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* One UTF-8 sequence at p (n bytes left): its code point and length, or -1 if invalid. */
int64_t tmpl__utf8_decode(const unsigned char *p, size_t n, size_t *len)
{
    int k = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (k == 0 || (size_t)k > n) {
        return -1;
    }
    int64_t r = p[0] & (0x7F >> k);
    for (int i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return -1;
        }
        r = r << 6 | (p[i] & 0x3F);
    }
    *len = (size_t)k;
    return r;
}

void tmpl__utf8_encode(uint32_t r, buf_t *out)
{
    if (r < 0x80) {
        buf_putc(out, (char)r);
    } else if (r < 0x800) {
        buf_putc(out, (char)(0xC0 | r >> 6));
        buf_putc(out, (char)(0x80 | (r & 0x3F)));
    } else if (r < 0x10000) {
        buf_putc(out, (char)(0xE0 | r >> 12));
        buf_putc(out, (char)(0x80 | (r >> 6 & 0x3F)));
        buf_putc(out, (char)(0x80 | (r & 0x3F)));
    } else {
        buf_putc(out, (char)(0xF0 | r >> 18));
        buf_putc(out, (char)(0x80 | (r >> 12 & 0x3F)));
        buf_putc(out, (char)(0x80 | (r >> 6 & 0x3F)));
        buf_putc(out, (char)(0x80 | (r & 0x3F)));
    }
}

/* ---- time zones ----------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the version-1 block of a TZif file: enough for offsets and abbreviations. */
static int tzif_lookup(const unsigned char *d, size_t n, int64_t sec, int32_t *off,
                       const char **abbr_p, size_t *abbr_n)
{
    if (n < 44 || memcmp(d, "TZif", 4) != 0) {
        return -1;
    }
    uint32_t timecnt = be32(d + 32), typecnt = be32(d + 36), charcnt = be32(d + 40);
    size_t need = 44 + (size_t)timecnt * 5 + (size_t)typecnt * 6 + charcnt;
    if (typecnt == 0 || need > n) {
        return -1;
    }
    const unsigned char *times = d + 44, *idx = times + timecnt * 4;
    const unsigned char *types = idx + timecnt, *chars = types + typecnt * 6;
    size_t type = 0;
    for (uint32_t i = 0; i < timecnt; i++) {
        if ((int64_t)(int32_t)be32(times + i * 4) > sec) {
            break;
        }
        type = idx[i] < typecnt ? idx[i] : 0;
    }
    const unsigned char *tt = types + type * 6;
    *off = (int32_t)be32(tt);
    size_t ai = tt[5] < charcnt ? tt[5] : 0;
    *abbr_p = (const char *)chars + ai;
    *abbr_n = strnlen(*abbr_p, charcnt - ai);
    return 0;
}

int tmpl__zone_offset(tstate_t *st, const char *name, int64_t sec, int32_t *off,
                      const char **abbr)
{
    if (strcmp(name, "UTC") == 0 || strcmp(name, "") == 0 || strcmp(name, "Local") == 0) {
        *off = 0;
        *abbr = NULL;
        return 0;
    }
    if (name[0] == '/' || strstr(name, "..") != NULL || strlen(name) > 100) {
        return -1;
    }
    char path[160];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    static const size_t max = 1 << 16;
    unsigned char *d = arena_alloc(st->arena, max);
    size_t n = d != NULL ? fread(d, 1, max, f) : 0;
    fclose(f);
    const char *ap;
    size_t an;
    if (d == NULL || tzif_lookup(d, n, sec, off, &ap, &an) < 0) {
        return -1;
    }
    *abbr = tstate_strdup(st, ap, an);
    return 0;
}

/* ---- encoding/json -------------------------------------------------------------------- */

static void put_json_string(const char *s, size_t n, buf_t *out)
{
    jsonw_quote(out, s, n, JSONW_QUOTE_GO_LEGACY); /* toJson as Alertmanager 0.25 */
}

static void json_float(double f, buf_t *out)
{
    double a = fabs(f);
    buf_t b;
    buf_init(&b);
    int e_fmt = a != 0 && (a < 1e-6 || a >= 1e21);
    tv_format_float(f, e_fmt ? 'e' : 'f', -1, &b);
    if (e_fmt && b.len >= 4 && b.data[b.len - 4] == 'e' && b.data[b.len - 3] == '-' &&
        b.data[b.len - 2] == '0') {
        b.data[b.len - 2] = b.data[b.len - 1]; /* e-07 -> e-7, as Go does */
        b.data[--b.len] = 0;
    }
    buf_append(out, b.data, b.len);
    buf_fini(&b);
}

/* JSON names of Alertmanager's struct fields (their `json:` tags). */
static const char *json_field_name(tv_type_t type, const char *go_name)
{
    static const char *const tags[][2] = {
        {"Receiver", "receiver"},       {"Status", "status"},
        {"Alerts", "alerts"},           {"GroupLabels", "groupLabels"},
        {"CommonLabels", "commonLabels"}, {"CommonAnnotations", "commonAnnotations"},
        {"ExternalURL", "externalURL"}, {"Labels", "labels"},
        {"Annotations", "annotations"}, {"StartsAt", "startsAt"},
        {"EndsAt", "endsAt"},           {"GeneratorURL", "generatorURL"},
        {"Fingerprint", "fingerprint"},
    };
    if (type != TVT_DATA && type != TVT_ALERT) {
        return go_name;
    }
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        if (strcmp(tags[i][0], go_name) == 0) {
            return tags[i][1];
        }
    }
    return go_name;
}

void tmpl__json_encode(tv_t v, buf_t *out)
{
    switch ((tv_kind_t)v.kind) {
    case TV_NIL:
        buf_puts(out, "null");
        return;
    case TV_BOOL:
        buf_puts(out, v.u.b ? "true" : "false");
        return;
    case TV_INT:
    case TV_UINT8:
    case TV_DURATION:
        buf_printf(out, "%lld", (long long)v.u.i);
        return;
    case TV_FLOAT:
        json_float(v.u.f, out);
        return;
    case TV_STRING:
        put_json_string(v.u.s.p, v.u.s.n, out);
        return;
    case TV_TIME: {
        buf_t b;
        buf_init(&b);
        tv_time_format(v, "2006-01-02T15:04:05.999999999Z07:00", &b);
        put_json_string(b.data, b.len, out);
        buf_fini(&b);
        return;
    }
    case TV_LIST:
        buf_putc(out, '[');
        for (size_t i = 0; v.u.list != NULL && i < v.u.list->n; i++) {
            buf_puts(out, i > 0 ? "," : "");
            tmpl__json_encode(v.u.list->items[i], out);
        }
        buf_putc(out, ']');
        return;
    case TV_MAP:
        buf_putc(out, '{');
        for (size_t i = 0; v.u.map != NULL && i < v.u.map->n; i++) {
            const struct tv_map_entry *e = &v.u.map->e[i];
            buf_puts(out, i > 0 ? "," : "");
            const char *k = json_field_name((tv_type_t)v.type, e->key);
            put_json_string(k, k == e->key ? e->key_n : strlen(k), out);
            buf_putc(out, ':');
            tmpl__json_encode(e->val, out);
        }
        buf_putc(out, '}');
        return;
    }
}
