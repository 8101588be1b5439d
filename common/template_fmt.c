/* common/template_fmt.c - Go's fmt.Sprintf verbs (flags, width, precision, %!v(...) for
 * misuse) and time.Time.Format with Go's reference-time layouts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/gofloat.h"
#include "common/template_int.h"

/* ---- time layouts --------------------------------------------------------------------- */

static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};
static const char *const day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

/* Go's layout elements (time/format.go std* constants), in recognition order. */
typedef enum {
    STD_NONE, STD_LONG_MONTH, STD_MONTH, STD_LONG_WEEKDAY, STD_WEEKDAY, STD_ZONE_NAME,
    STD_LONG_YEAR, STD_ZERO_YDAY, STD_UNDER_YDAY, STD_ZERO_MONTH, STD_ZERO_DAY, STD_UNDER_DAY,
    STD_ZERO_HOUR12, STD_ZERO_MINUTE, STD_ZERO_SECOND, STD_YEAR, STD_HOUR, STD_NUM_MONTH,
    STD_DAY, STD_HOUR12, STD_MINUTE, STD_SECOND, STD_PM_UPPER, STD_PM_LOWER,
    STD_TZ_HHMMSS, STD_TZ_HH_MM_SS, STD_TZ_HHMM, STD_TZ_HH_MM, STD_TZ_HH, /* -0700 ... */
    STD_Z_HHMMSS, STD_Z_HH_MM_SS, STD_Z_HHMM, STD_Z_HH_MM, STD_Z_HH,       /* Z0700 ... */
    STD_FRAC_ZERO, STD_FRAC_NINE,
} std_t;

static const struct {
    const char *pat;
    std_t std;
} std_pats[] = {
    {"January", STD_LONG_MONTH}, {"Jan", STD_MONTH}, {"Monday", STD_LONG_WEEKDAY},
    {"Mon", STD_WEEKDAY}, {"MST", STD_ZONE_NAME}, {"2006", STD_LONG_YEAR},
    {"002", STD_ZERO_YDAY}, {"__2", STD_UNDER_YDAY}, {"01", STD_ZERO_MONTH},
    {"02", STD_ZERO_DAY}, {"_2", STD_UNDER_DAY}, {"03", STD_ZERO_HOUR12},
    {"04", STD_ZERO_MINUTE}, {"05", STD_ZERO_SECOND}, {"06", STD_YEAR}, {"15", STD_HOUR},
    {"1", STD_NUM_MONTH}, {"2", STD_DAY}, {"3", STD_HOUR12}, {"4", STD_MINUTE},
    {"5", STD_SECOND}, {"PM", STD_PM_UPPER}, {"pm", STD_PM_LOWER},
    {"-070000", STD_TZ_HHMMSS}, {"-07:00:00", STD_TZ_HH_MM_SS}, {"-0700", STD_TZ_HHMM},
    {"-07:00", STD_TZ_HH_MM}, {"-07", STD_TZ_HH}, {"Z070000", STD_Z_HHMMSS},
    {"Z07:00:00", STD_Z_HH_MM_SS}, {"Z0700", STD_Z_HHMM}, {"Z07:00", STD_Z_HH_MM},
    {"Z07", STD_Z_HH},
};

/* The layout element at l (its length in *len), or STD_NONE for a literal byte. */
static std_t next_std(const char *l, size_t *len)
{
    if (strncmp(l, "_2006", 5) == 0) {
        return STD_NONE; /* a literal '_' followed by the year */
    }
    if ((l[0] == '.' || l[0] == ',') && (l[1] == '0' || l[1] == '9')) {
        size_t j = 1;
        while (l[j] == l[1]) {
            j++;
        }
        if (!isdigit((unsigned char)l[j])) {
            *len = j;
            return l[1] == '0' ? STD_FRAC_ZERO : STD_FRAC_NINE;
        }
    }
    for (size_t i = 0; i < sizeof(std_pats) / sizeof(std_pats[0]); i++) {
        if (std_pats[i].pat[0] != l[0]) {
            continue; /* cheap filter: most layout bytes start no pattern */
        }
        size_t n = strlen(std_pats[i].pat);
        if (strncmp(l, std_pats[i].pat, n) == 0) {
            *len = n;
            return std_pats[i].std;
        }
    }
    return STD_NONE;
}

static void put_zone(buf_t *out, int32_t off, std_t std)
{
    int z = std >= STD_Z_HHMMSS;
    int k = z ? (int)(std - STD_Z_HHMMSS) : (int)(std - STD_TZ_HHMMSS); /* 0..4 */
    int colon = k == 1 || k == 3, secs = k <= 1, hours_only = k == 4;
    if (z && off == 0) {
        buf_putc(out, 'Z');
        return;
    }
    int32_t a = off < 0 ? -off : off;
    buf_printf(out, "%c%02d", off < 0 ? '-' : '+', a / 3600);
    if (!hours_only) {
        buf_printf(out, colon ? ":%02d" : "%02d", a / 60 % 60);
    }
    if (secs) {
        buf_printf(out, colon ? ":%02d" : "%02d", a % 60);
    }
}

static void put_frac(buf_t *out, const char *l, size_t len, int64_t nsec, std_t std)
{
    int digits = (int)len - 1 > 9 ? 9 : (int)len - 1;
    char frac[16];
    snprintf(frac, sizeof(frac), "%09lld", (long long)nsec);
    frac[digits] = 0;
    if (std == STD_FRAC_NINE) {
        while (digits > 0 && frac[digits - 1] == '0') {
            frac[--digits] = 0;
        }
        if (digits == 0) {
            return;
        }
    }
    buf_putc(out, l[0]);
    buf_puts(out, frac);
}

static void put_std(buf_t *out, std_t std, tv_t t, const struct tm *tm)
{
    int h12 = tm->tm_hour % 12 == 0 ? 12 : tm->tm_hour % 12;
    switch (std) {
    case STD_LONG_MONTH: buf_puts(out, month_names[tm->tm_mon]); break;
    case STD_MONTH: buf_printf(out, "%.3s", month_names[tm->tm_mon]); break;
    case STD_LONG_WEEKDAY: buf_puts(out, day_names[tm->tm_wday]); break;
    case STD_WEEKDAY: buf_printf(out, "%.3s", day_names[tm->tm_wday]); break;
    case STD_ZONE_NAME:
        if (t.u.t.zone != NULL) {
            buf_puts(out, t.u.t.zone);
        } else if (t.u.t.off_sec == 0) {
            buf_puts(out, "UTC");
        } else {
            put_zone(out, t.u.t.off_sec, STD_TZ_HHMM);
        }
        break;
    case STD_LONG_YEAR: buf_printf(out, "%04d", tm->tm_year + 1900); break;
    case STD_ZERO_YDAY: buf_printf(out, "%03d", tm->tm_yday + 1); break;
    case STD_UNDER_YDAY: buf_printf(out, "%3d", tm->tm_yday + 1); break;
    case STD_ZERO_MONTH: buf_printf(out, "%02d", tm->tm_mon + 1); break;
    case STD_ZERO_DAY: buf_printf(out, "%02d", tm->tm_mday); break;
    case STD_UNDER_DAY: buf_printf(out, "%2d", tm->tm_mday); break;
    case STD_ZERO_HOUR12: buf_printf(out, "%02d", h12); break;
    case STD_ZERO_MINUTE: buf_printf(out, "%02d", tm->tm_min); break;
    case STD_ZERO_SECOND: buf_printf(out, "%02d", tm->tm_sec); break;
    case STD_YEAR: buf_printf(out, "%02d", (tm->tm_year + 1900) % 100); break;
    case STD_HOUR: buf_printf(out, "%02d", tm->tm_hour); break;
    case STD_NUM_MONTH: buf_printf(out, "%d", tm->tm_mon + 1); break;
    case STD_DAY: buf_printf(out, "%d", tm->tm_mday); break;
    case STD_HOUR12: buf_printf(out, "%d", h12); break;
    case STD_MINUTE: buf_printf(out, "%d", tm->tm_min); break;
    case STD_SECOND: buf_printf(out, "%d", tm->tm_sec); break;
    case STD_PM_UPPER: buf_puts(out, tm->tm_hour >= 12 ? "PM" : "AM"); break;
    case STD_PM_LOWER: buf_puts(out, tm->tm_hour >= 12 ? "pm" : "am"); break;
    default: put_zone(out, t.u.t.off_sec, std); break;
    }
}

void tv_time_format(tv_t t, const char *layout, buf_t *out)
{
    time_t local = (time_t)(t.u.t.sec + t.u.t.off_sec);
    struct tm tm;
    gmtime_r(&local, &tm);
    for (const char *l = layout; *l != 0;) {
        size_t n = 1;
        std_t std = next_std(l, &n);
        if (std == STD_NONE) {
            buf_putc(out, *l);
        } else if (std == STD_FRAC_ZERO || std == STD_FRAC_NINE) {
            put_frac(out, l, n, t.u.t.nsec, std);
        } else {
            put_std(out, std, t, &tm);
        }
        l += n;
    }
}

/* ---- time parsing --------------------------------------------------------------------- */

typedef struct {
    int year, mon, day, hour, min, sec, pm, has_pm, has_zone;
    int32_t nsec, off;
} ptime_t;

static int take_num(const char **v, int min_digits, int max_digits, int *out)
{
    int n = 0, val = 0;
    while (n < max_digits && isdigit((unsigned char)(*v)[n])) {
        val = val * 10 + ((*v)[n] - '0');
        n++;
    }
    if (n < min_digits) {
        return -1;
    }
    *v += n;
    *out = val;
    return 0;
}

static int take_name(const char **v, const char *const *names, int n, int abbrev, int *out)
{
    for (int i = 0; i < n; i++) {
        size_t len = abbrev ? 3 : strlen(names[i]);
        if (strncasecmp(*v, names[i], len) == 0) {
            *v += len;
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int take_frac(const char **v, ptime_t *p)
{
    if ((**v != '.' && **v != ',') || !isdigit((unsigned char)(*v)[1])) {
        return 0;
    }
    (*v)++;
    int32_t scale = 100000000;
    while (isdigit((unsigned char)**v)) {
        p->nsec += (**v - '0') * scale;
        scale /= 10;
        (*v)++;
    }
    return 0;
}

static int take_zone(const char **v, std_t std, ptime_t *p)
{
    p->has_zone = 1;
    if (std >= STD_Z_HHMMSS && **v == 'Z') {
        (*v)++;
        return 0;
    }
    int sign = **v == '-' ? -1 : **v == '+' ? 1 : 0;
    int k = std >= STD_Z_HHMMSS ? (int)(std - STD_Z_HHMMSS) : (int)(std - STD_TZ_HHMMSS);
    int hh = 0, mm = 0, ss = 0, colon = k == 1 || k == 3;
    if (sign == 0) {
        return -1;
    }
    (*v)++;
    if (take_num(v, 2, 2, &hh) < 0) {
        return -1;
    }
    if (k != 4 && ((colon && *(*v)++ != ':') || take_num(v, 2, 2, &mm) < 0)) {
        return -1;
    }
    if (k <= 1 && ((colon && *(*v)++ != ':') || take_num(v, 2, 2, &ss) < 0)) {
        return -1;
    }
    p->off = sign * (hh * 3600 + mm * 60 + ss);
    return 0;
}

static int parse_std(const char **v, std_t std, ptime_t *p)
{
    int ignored;
    switch (std) {
    case STD_LONG_MONTH: case STD_MONTH:
        if (take_name(v, month_names, 12, std == STD_MONTH, &p->mon) < 0) return -1;
        p->mon++;
        return 0;
    case STD_LONG_WEEKDAY: case STD_WEEKDAY:
        return take_name(v, day_names, 7, std == STD_WEEKDAY, &ignored);
    case STD_ZONE_NAME:
        while (isupper((unsigned char)**v)) (*v)++;
        return 0;
    case STD_LONG_YEAR: return take_num(v, 4, 4, &p->year);
    case STD_YEAR:
        if (take_num(v, 2, 2, &p->year) < 0) return -1;
        p->year += p->year >= 69 ? 1900 : 2000;
        return 0;
    case STD_ZERO_MONTH: return take_num(v, 2, 2, &p->mon);
    case STD_NUM_MONTH: return take_num(v, 1, 2, &p->mon);
    case STD_ZERO_DAY: return take_num(v, 2, 2, &p->day);
    case STD_UNDER_DAY: if (**v == ' ') (*v)++; return take_num(v, 1, 2, &p->day);
    case STD_DAY: return take_num(v, 1, 2, &p->day);
    case STD_HOUR: return take_num(v, 2, 2, &p->hour);
    case STD_ZERO_HOUR12: return take_num(v, 2, 2, &p->hour);
    case STD_HOUR12: return take_num(v, 1, 2, &p->hour);
    case STD_ZERO_MINUTE: return take_num(v, 2, 2, &p->min);
    case STD_MINUTE: return take_num(v, 1, 2, &p->min);
    case STD_ZERO_SECOND: case STD_SECOND:
        if (take_num(v, std == STD_SECOND ? 1 : 2, 2, &p->sec) < 0) return -1;
        return take_frac(v, p); /* Go accepts fractional seconds after a seconds field */
    case STD_PM_UPPER: case STD_PM_LOWER:
        p->has_pm = 1;
        if (strncasecmp(*v, "PM", 2) == 0) p->pm = 1;
        else if (strncasecmp(*v, "AM", 2) != 0) return -1;
        *v += 2;
        return 0;
    case STD_FRAC_ZERO: case STD_FRAC_NINE:
        return take_frac(v, p);
    case STD_ZERO_YDAY: case STD_UNDER_YDAY:
        return take_num(v, 1, 3, &ignored);
    default:
        return take_zone(v, std, p);
    }
}

int tv_time_parse(const char *layout, const char *value, tv_t *out, const char **msg)
{
    ptime_t p = {.year = 0, .mon = 1, .day = 1};
    const char *v = value;
    for (const char *l = layout; *l != 0;) {
        size_t n = 1;
        std_t std = next_std(l, &n);
        if (std == STD_NONE ? *v++ != *l : parse_std(&v, std, &p) < 0) {
            if (msg != NULL) {
                *msg = "cannot parse";
            }
            return -1;
        }
        l += n;
    }
    if (*v != 0) {
        if (msg != NULL) {
            *msg = "extra text";
        }
        return -1;
    }
    if (p.has_pm && p.hour < 12 && p.pm) {
        p.hour += 12;
    } else if (p.has_pm && p.hour == 12 && !p.pm) {
        p.hour = 0;
    }
    struct tm tm = {.tm_year = p.year - 1900, .tm_mon = p.mon - 1, .tm_mday = p.day,
                    .tm_hour = p.hour, .tm_min = p.min, .tm_sec = p.sec};
    *out = tv_time_sec((int64_t)timegm(&tm) - p.off, p.nsec);
    out->u.t.off_sec = p.off;
    if (p.has_zone && p.off == 0) {
        out->u.t.off_sec = 0;
    }
    return 0;
}

/* ---- Sprintf ---------------------------------------------------------------------------- */

typedef struct {
    int minus, plus, sharp, zero, space;
    int width, prec; /* -1: absent */
    char verb;
} spec_t;

static void pad(buf_t *out, const spec_t *sp, const char *s, size_t n, int numeric)
{
    size_t w = sp->width > 0 ? (size_t)sp->width : 0;
    size_t chars = 0; /* Go pads by runes */
    for (size_t i = 0; i < n; i++) {
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    if (chars >= w) {
        buf_append(out, s, n);
        return;
    }
    size_t fill = w - chars;
    if (sp->minus) {
        buf_append(out, s, n);
        while (fill-- > 0) {
            buf_putc(out, ' ');
        }
        return;
    }
    if (sp->zero && numeric && n > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
        buf_putc(out, s[0]);
        s++;
        n--;
    }
    while (fill-- > 0) {
        buf_putc(out, sp->zero && numeric ? '0' : ' ');
    }
    buf_append(out, s, n);
}

/* Go's strconv.Quote: ASCII printable kept, \a\b\f\n\r\t\v, \xNN, valid UTF-8 kept. */
static void go_quote(const char *s, size_t n, buf_t *out)
{
    buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '\a' ? "\\a" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                        : c == '\v' ? "\\v" : c == '\\' ? "\\\\" : c == '"' ? "\\\"" : NULL;
        if (esc != NULL) {
            buf_puts(out, esc);
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(out, "\\x%02x", c);
        } else {
            buf_putc(out, (char)c);
        }
    }
    buf_putc(out, '"');
}

static void fmt_int(buf_t *out, const spec_t *sp, int64_t v)
{
    char tmp[160];
    const char *f = sp->verb == 'x' ? "%llx" : sp->verb == 'X' ? "%llX" : sp->verb == 'o' ? "%llo"
                  : "%llu";
    unsigned long long a = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
    char digits[70];
    if (sp->verb == 'b') {
        int k = 0;
        char rev[70];
        do {
            rev[k++] = (char)('0' + (a & 1));
            a >>= 1;
        } while (a != 0);
        for (int i = 0; i < k; i++) {
            digits[i] = rev[k - 1 - i];
        }
        digits[k] = 0;
    } else {
        snprintf(digits, sizeof(digits), f, a);
    }
    int dl = (int)strlen(digits);
    int zeros = sp->prec > dl ? sp->prec - dl : 0;
    zeros = zeros > 38 ? 38 : zeros;
    if (sp->prec == 0 && v == 0) {
        dl = 0;
        digits[0] = 0;
    }
    const char *prefix = !sp->sharp ? "" : sp->verb == 'x' ? "0x" : sp->verb == 'X' ? "0X"
                       : sp->verb == 'o' ? "0" : "";
    snprintf(tmp, sizeof(tmp), "%s%s%.*s%s", v < 0 ? "-" : sp->plus ? "+" : sp->space ? " " : "",
             prefix, zeros, "00000000000000000000000000000000000000", digits);
    spec_t s2 = *sp;
    s2.zero = sp->zero && sp->prec < 0;
    pad(out, &s2, tmp, strlen(tmp), 1);
}

static void fmt_float(buf_t *out, const spec_t *sp, double f)
{
    buf_t b;
    buf_init(&b);
    char verb = sp->verb == 'v' ? 'g' : sp->verb == 'F' ? 'f' : sp->verb;
    int prec = sp->prec;
    if (prec < 0 && (verb == 'e' || verb == 'E' || verb == 'f')) {
        prec = 6;
    }
    if (f >= 0 && !(f != f) && (sp->plus || sp->space)) {
        buf_putc(&b, sp->plus ? '+' : ' ');
    }
    gofloat_append(&b, f, verb, prec);
    if (b.data[0] == '+' && b.data[1] == 'I' && !sp->plus) {
        memmove(b.data, b.data + 1, b.len--); /* +Inf prints as "+Inf" only with '+' */
    }
    spec_t s2 = *sp;
    s2.zero = sp->zero && isdigit((unsigned char)b.data[b.len - 1]);
    pad(out, &s2, b.data, b.len, 1);
    buf_fini(&b);
}

static void bad_verb(buf_t *out, const spec_t *sp, tv_t v)
{
    buf_printf(out, "%%!%c(", sp->verb);
    if (v.kind == TV_NIL) {
        buf_puts(out, "<nil>");
    } else {
        buf_printf(out, "%s=", tv_type_name(v));
        tv_print(v, out);
    }
    buf_putc(out, ')');
}

static void fmt_string(buf_t *out, const spec_t *sp, const char *s, size_t n)
{
    if (sp->prec >= 0 && (size_t)sp->prec < n) {
        size_t k = 0, runes = 0;
        while (k < n && runes < (size_t)sp->prec) {
            k++;
            while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80) {
                k++;
            }
            runes++;
        }
        n = k;
    }
    buf_t b;
    buf_init(&b);
    if (sp->verb == 'q') {
        go_quote(s, n, &b);
    } else if (sp->verb == 'x' || sp->verb == 'X') {
        for (size_t i = 0; i < n; i++) {
            if (sp->space && i > 0) {
                buf_putc(&b, ' ');
            }
            buf_printf(&b, sp->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
        }
    } else {
        buf_append(&b, s, n);
    }
    pad(out, sp, b.data != NULL ? b.data : "", b.len, 0);
    buf_fini(&b);
}

static void fmt_value(buf_t *out, const spec_t *sp, tv_t v);

static void fmt_composite(buf_t *out, const spec_t *sp, tv_t v)
{
    int is_map = v.kind == TV_MAP;
    int is_struct = is_map && v.type != TVT_PLAIN && v.type != TVT_STRMAP && v.type != TVT_KV;
    size_t n = is_map ? (v.u.map ? v.u.map->n : 0) : (v.u.list ? v.u.list->n : 0);
    buf_puts(out, is_struct ? "{" : is_map ? "map[" : "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            buf_putc(out, ' ');
        }
        if (is_map && !is_struct) {
            spec_t ks = *sp;
            ks.width = -1;
            fmt_string(out, &ks, v.u.map->e[i].key, v.u.map->e[i].key_n);
            buf_putc(out, ':');
        }
        fmt_value(out, sp, is_map ? v.u.map->e[i].val : v.u.list->items[i]);
    }
    buf_putc(out, is_struct ? '}' : ']');
}

static void fmt_value(buf_t *out, const spec_t *sp, tv_t v)
{
    char c = sp->verb;
    switch ((tv_kind_t)v.kind) {
    case TV_NIL:
        if (c == 'v') {
            pad(out, sp, "<nil>", 5, 0);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case TV_BOOL:
        if (c == 'v' || c == 't') {
            pad(out, sp, v.u.b ? "true" : "false", v.u.b ? 4 : 5, 0);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case TV_INT:
    case TV_UINT8:
        if (c == 'c') {
            char ch[2] = {(char)v.u.i, 0};
            pad(out, sp, ch, 1, 0);
        } else if (c == 'q') {
            buf_printf(out, "'%c'", (char)v.u.i);
        } else if (strchr("vdxXob", c) != NULL) {
            fmt_int(out, sp, v.u.i);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case TV_FLOAT:
        if (strchr("veEfFgG", c) != NULL) {
            fmt_float(out, sp, v.u.f);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case TV_STRING:
        if (strchr("vsqxX", c) != NULL) {
            fmt_string(out, sp, v.u.s.p, v.u.s.n);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case TV_LIST:
    case TV_MAP:
        fmt_composite(out, sp, v);
        return;
    case TV_TIME:
    case TV_DURATION:
        if (v.kind == TV_DURATION && strchr("dxXob", c) != NULL) {
            fmt_int(out, sp, v.u.i);
            return;
        }
        if (c == 'v' || c == 's' || c == 'q') {
            buf_t b;
            buf_init(&b);
            tv_print(v, &b);
            fmt_string(out, sp, b.data, b.len);
            buf_fini(&b);
            return;
        }
        bad_verb(out, sp, v);
        return;
    }
}

static int parse_num(const char *f, size_t n, size_t *i, int *out)
{
    if (*i >= n || !isdigit((unsigned char)f[*i])) {
        return 0;
    }
    int v = 0;
    while (*i < n && isdigit((unsigned char)f[*i])) {
        v = v <= 1000000 ? v * 10 + (f[*i] - '0') : v;
        (*i)++;
    }
    *out = v;
    return v <= 1000000 ? 1 : -1; /* Go's tooLarge: more is BADWIDTH/BADPREC */
}

/* width or precision from `*`: the next argument, which must be an int. */
static int star_arg(const tv_t *args, size_t n, size_t *argi, int *out, buf_t *o, int is_prec)
{
    if (*argi >= n || args[*argi].kind != TV_INT || args[*argi].u.i > 1000000 ||
        args[*argi].u.i < -1000000) {
        buf_puts(o, is_prec ? "%!(BADPREC)" : "%!(BADWIDTH)");
        (*argi)++;
        return 0;
    }
    *out = (int)args[(*argi)++].u.i;
    return 1;
}

static size_t parse_spec(const char *f, size_t n, size_t i, spec_t *sp, const tv_t *args,
                         size_t nargs, size_t *argi, buf_t *out)
{
    memset(sp, 0, sizeof(*sp));
    sp->width = sp->prec = -1;
    for (; i < n; i++) {
        char c = f[i];
        if (c == '-') {
            sp->minus = 1;
            sp->zero = 0;
        } else if (c == '+') {
            sp->plus = 1;
        } else if (c == '#') {
            sp->sharp = 1;
        } else if (c == '0') {
            sp->zero = !sp->minus;
        } else if (c == ' ') {
            sp->space = 1;
        } else {
            break;
        }
    }
    if (i < n && f[i] == '*') {
        i++;
        if (star_arg(args, nargs, argi, &sp->width, out, 0) && sp->width < 0) {
            sp->minus = 1;
            sp->width = -sp->width;
        }
    } else if (parse_num(f, n, &i, &sp->width) < 0) {
        buf_puts(out, "%!(BADWIDTH)");
        sp->width = -1;
    }
    if (i < n && f[i] == '.') {
        i++;
        if (i < n && f[i] == '*') {
            i++;
            if (!star_arg(args, nargs, argi, &sp->prec, out, 1) || sp->prec < 0) {
                sp->prec = -1;
            }
        } else {
            int r = parse_num(f, n, &i, &sp->prec);
            if (r < 0) {
                buf_puts(out, "%!(BADPREC)");
                sp->prec = -1;
            } else if (r == 0) {
                sp->prec = 0;
            }
        }
    }
    return i;
}

void tv_sprintf(const char *f, size_t n, const tv_t *args, size_t nargs, buf_t *out)
{
    size_t argi = 0;
    for (size_t i = 0; i < n;) {
        if (f[i] != '%') {
            buf_putc(out, f[i++]);
            continue;
        }
        spec_t sp;
        i = parse_spec(f, n, i + 1, &sp, args, nargs, &argi, out);
        if (i >= n) {
            buf_puts(out, "%!(NOVERB)");
            break;
        }
        sp.verb = f[i++];
        if (sp.verb == 'v') {
            sp.plus = sp.sharp = 0; /* Go turns them into %+v / %#v forms, not signs */
        }
        if (sp.verb == '%') {
            buf_putc(out, '%');
            continue;
        }
        if (argi >= nargs) {
            buf_printf(out, "%%!%c(MISSING)", sp.verb);
            continue;
        }
        tv_t v = args[argi++];
        if (sp.verb == 'T') {
            const char *tn = tv_type_name(v);
            pad(out, &sp, tn, strlen(tn), 0);
        } else {
            fmt_value(out, &sp, v);
        }
    }
    if (argi < nargs) {
        buf_puts(out, "%!(EXTRA ");
        for (size_t k = argi; k < nargs; k++) {
            buf_printf(out, "%s%s=", k > argi ? ", " : "", tv_type_name(args[k]));
            tv_print(args[k], out);
        }
        buf_putc(out, ')');
    }
}
