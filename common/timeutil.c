/* common/timeutil.c - Prometheus and Go durations, API timestamps, RFC 3339.
 *
 * DESIGN: calendar arithmetic is done on days since the epoch with the proleptic Gregorian
 * civil-date conversions (no libc time zone state, valid for any year an int64 of
 * milliseconds can hold). Go's formats are reproduced exactly: model.Duration.String keeps
 * y and w only when exact; time.Duration.String switches to ms/µs/ns below one second and
 * prints trailing-zero-free fractions. */
#include "common/timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define MS_PER_DAY 86400000LL

/* Prometheus's MinTime and MaxTime as its API prints them (Go's Time cannot format them as
 * RFC 3339 with four-digit years, so they are matched literally). */
#define API_MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define API_MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"
#define API_MIN_TIME_MS (-9223309901257974000LL)
#define API_MAX_TIME_MS 9223309901257974999LL

/* ---- Prometheus model.Duration --------------------------------------------------------- */

static const struct {
    const char *name;
    int64_t ns;
} model_units[] = {
    {"y", 365 * 24 * 3600 * NS_PER_S}, {"w", 7 * 24 * 3600 * NS_PER_S},
    {"d", 24 * 3600 * NS_PER_S},       {"h", 3600 * NS_PER_S},
    {"m", 60 * NS_PER_S},              {"s", NS_PER_S},
    {"ms", NS_PER_MS},
};
#define N_MODEL_UNITS (sizeof(model_units) / sizeof(model_units[0]))

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int bad_duration(const char *s, err_t *err)
{
    return err_set(err, ERR_BAD_DATA, "not a valid duration string: \"%s\"", s);
}

/* Unit text at s (up to the next digit): its index in model_units, -1 if unknown. */
static int model_unit(const char *s, size_t n)
{
    for (size_t k = 0; k < N_MODEL_UNITS; k++) {
        if (strlen(model_units[k].name) == n && strncmp(s, model_units[k].name, n) == 0) {
            return (int)k;
        }
    }
    return -1;
}

int duration_parse(const char *s, int64_t *ms, err_t *err)
{
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    if (s[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "empty duration string");
    }
    uint64_t total_ns = 0;
    int last = -1;
    for (const char *p = s; *p != '\0';) {
        if (!is_digit(*p)) {
            return bad_duration(s, err);
        }
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        size_t n = 0;
        while (end[n] != '\0' && !is_digit(end[n])) {
            n++;
        }
        if (errno != 0 || n == 0) {
            return bad_duration(s, err);
        }
        int u = model_unit(end, n);
        if (u < 0) {
            return err_set(err, ERR_BAD_DATA, "unknown unit \"%.*s\" in duration \"%s\"", (int)n,
                           end, s);
        }
        if (u <= last) {
            return bad_duration(s, err); /* units largest first, each once */
        }
        last = u;
        if (v > (1ULL << 63) / (uint64_t)model_units[u].ns ||
            (total_ns += v * (uint64_t)model_units[u].ns) > (uint64_t)INT64_MAX) {
            return err_set(err, ERR_BAD_DATA, "duration out of range");
        }
        p = end + n;
    }
    *ms = (int64_t)(total_ns / NS_PER_MS);
    return 0;
}

void duration_format(int64_t ms, char *out, size_t n)
{
    if (ms == 0) {
        snprintf(out, n, "0s");
        return;
    }
    size_t len = 0;
    if (ms < 0) {
        len += (size_t)snprintf(out, n, "-");
        ms = -ms;
    }
    for (size_t k = 0; k < N_MODEL_UNITS; k++) {
        int64_t mult = model_units[k].ns / NS_PER_MS;
        int exact_only = k < 2; /* 90d reads better than 12w6d */
        if ((exact_only && ms % mult != 0) || ms / mult == 0) {
            continue;
        }
        if (len < n) {
            len += (size_t)snprintf(out + len, n - len, "%lld%s", (long long)(ms / mult),
                                    model_units[k].name);
        }
        ms %= mult;
    }
}

/* ---- Go time.Duration ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int64_t ns;
} go_units[] = {
    {"ns", 1},         {"us", 1000},           {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
    {"ms", NS_PER_MS}, {"s", NS_PER_S},        {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S},
};

static int go_bad(const char *s, err_t *err)
{
    return err_set(err, ERR_BAD_DATA, "time: invalid duration \"%s\"", s);
}

/* One `12.5h` component at *pp; adds its value to *total (in ns, as a non-negative). */
static int go_component(const char *s, const char **pp, uint64_t *total, err_t *err)
{
    const char *p = *pp;
    uint64_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    for (; is_digit(*p); p++, digits++) {
        if (whole > (UINT64_MAX - 9) / 10) {
            return go_bad(s, err);
        }
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; is_digit(*p); p++, digits++) {
            if (scale < 1000000000000000000ULL) { /* extra digits beyond ns precision drop */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    if (digits == 0) {
        return go_bad(s, err);
    }
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '.' && !is_digit(p[n])) {
        n++;
    }
    if (n == 0) {
        return err_set(err, ERR_BAD_DATA, "time: missing unit in duration \"%s\"", s);
    }
    int64_t unit = 0;
    for (size_t k = 0; k < sizeof(go_units) / sizeof(go_units[0]); k++) {
        if (strlen(go_units[k].name) == n && strncmp(p, go_units[k].name, n) == 0) {
            unit = go_units[k].ns;
        }
    }
    if (unit == 0) {
        return err_set(err, ERR_BAD_DATA, "time: unknown unit \"%.*s\" in duration \"%s\"",
                       (int)n, p, s);
    }
    if (whole > (uint64_t)INT64_MAX / (uint64_t)unit) {
        return go_bad(s, err);
    }
    uint64_t v = whole * (uint64_t)unit +
                 (uint64_t)((long double)frac * (long double)unit / (long double)scale);
    if ((*total += v) > (uint64_t)INT64_MAX + 1) {
        return go_bad(s, err);
    }
    *pp = p + n;
    return 0;
}

int go_duration_parse(const char *s, int64_t *ns, err_t *err)
{
    const char *p = s;
    int neg = *p == '-';
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*p == '\0') {
        return go_bad(s, err);
    }
    uint64_t total = 0;
    while (*p != '\0') {
        if (go_component(s, &p, &total, err) != 0) {
            return -1;
        }
    }
    if (!neg && total > (uint64_t)INT64_MAX) {
        return go_bad(s, err);
    }
    *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

/* Appends "." and the prec-digit fraction v % 10^prec without trailing zeros (nothing if 0);
 * returns v / 10^prec. */
static uint64_t put_frac(char *buf, size_t *len, uint64_t v, int prec)
{
    char digits[16];
    int last = -1;
    for (int i = prec - 1; i >= 0; i--) {
        digits[i] = (char)('0' + v % 10);
        if (last < 0 && digits[i] != '0') {
            last = i;
        }
        v /= 10;
    }
    if (last >= 0) {
        buf[(*len)++] = '.';
        memcpy(buf + *len, digits, (size_t)last + 1);
        *len += (size_t)last + 1;
    }
    return v;
}

void go_duration_format(int64_t ns, char *out, size_t n)
{
    char buf[64];
    size_t len = 0;
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    if (ns < 0) {
        buf[len++] = '-';
    }
    if (u < (uint64_t)NS_PER_S) {
        if (u == 0) {
            snprintf(out, n, "0s");
            return;
        }
        static const struct {
            int prec;
            const char *unit;
        } small[] = {{0, "ns"}, {3, "\xc2\xb5s"}, {6, "ms"}};
        int k = u < 1000 ? 0 : u < 1000000 ? 1 : 2;
        char frac[32];
        size_t flen = 0;
        uint64_t whole = put_frac(frac, &flen, u, small[k].prec);
        snprintf(buf + len, sizeof(buf) - len, "%llu%.*s%s", (unsigned long long)whole,
                 (int)flen, frac, small[k].unit);
        snprintf(out, n, "%s", buf);
        return;
    }
    char frac[32];
    size_t flen = 0;
    uint64_t secs = put_frac(frac, &flen, u, 9);
    uint64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
    if (h > 0) {
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%lluh", (unsigned long long)h);
    }
    if (h > 0 || m > 0) {
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%llum", (unsigned long long)m);
    }
    snprintf(buf + len, sizeof(buf) - len, "%llu%.*ss", (unsigned long long)s, (int)flen, frac);
    snprintf(out, n, "%s", buf);
}

/* ---- calendar -------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Floor division and modulo for negative times. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* "YYYY-MM-DDTHH:MM:SS" of a second count since the epoch into buf. */
static size_t put_date_time(char *buf, size_t n, int64_t secs)
{
    int64_t days = floor_div(secs, 86400), rem = secs - days * 86400, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    return (size_t)snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
                            (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

void timestamp_format_rfc3339(int64_t ms, char *out, size_t n)
{
    char buf[64];
    int64_t secs = floor_div(ms, 1000);
    size_t len = put_date_time(buf, sizeof(buf), secs);
    snprintf(buf + len, sizeof(buf) - len, ".%03dZ", (int)(ms - secs * 1000));
    snprintf(out, n, "%s", buf);
}

void timestamp_format_rfc3339nano(int64_t ns, char *out, size_t n)
{
    char buf[64];
    int64_t secs = floor_div(ns, NS_PER_S);
    size_t len = put_date_time(buf, sizeof(buf), secs);
    put_frac(buf, &len, (uint64_t)(ns - secs * NS_PER_S), 9);
    snprintf(buf + len, sizeof(buf) - len, "Z");
    snprintf(out, n, "%s", buf);
}

/* ---- RFC 3339 parsing ------------------------------------------------------------------ */

/* n decimal digits at s into *v; 0 if any is not a digit. */
static int fixed_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return 0;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* ".123456789" at *pp: nanoseconds; advances *pp. -1 if malformed. */
static int64_t parse_frac_ns(const char **pp)
{
    const char *p = *pp;
    if (*p != '.') {
        return 0;
    }
    int64_t ns = 0;
    int digits = 0;
    for (p++; is_digit(*p); p++, digits++) {
        if (digits < 9) {
            ns = ns * 10 + (*p - '0');
        }
    }
    if (digits == 0 || digits > 9) {
        return -1;
    }
    for (int i = digits; i < 9; i++) {
        ns *= 10;
    }
    *pp = p;
    return ns;
}

/* "Z" or "+hh:mm"/"-hh:mm" at p (the rest of the string): offset in seconds, or -1 error. */
static int parse_zone(const char *p, int64_t *offset)
{
    if (strcmp(p, "Z") == 0) {
        *offset = 0;
        return 0;
    }
    int hh, mm;
    if ((p[0] != '+' && p[0] != '-') || !fixed_digits(p + 1, 2, &hh) || p[3] != ':' ||
        !fixed_digits(p + 4, 2, &mm) || p[6] != '\0' || hh > 23 || mm > 59) {
        return -1;
    }
    *offset = (p[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
    return 0;
}

int rfc3339_parse_ns(const char *s, int64_t *ns, err_t *err)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || !fixed_digits(s, 4, &y) || s[4] != '-' ||
        !fixed_digits(s + 5, 2, &mo) || s[7] != '-' || !fixed_digits(s + 8, 2, &d) ||
        s[10] != 'T' || !fixed_digits(s + 11, 2, &h) || s[13] != ':' ||
        !fixed_digits(s + 14, 2, &mi) || s[16] != ':' || !fixed_digits(s + 17, 2, &sec)) {
        goto bad;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59) {
        goto bad;
    }
    const char *p = s + 19;
    int64_t frac = parse_frac_ns(&p), offset;
    if (frac < 0 || parse_zone(p, &offset) != 0) {
        goto bad;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *ns = secs * NS_PER_S + frac;
    return 0;
bad:
    return err_set(err, ERR_BAD_DATA, "cannot parse \"%s\" as RFC 3339 time", s);
}

/* ---- Prometheus API parameters --------------------------------------------------------- */

/* strconv.ParseFloat-like: the whole string, no leading space; finite values only. */
static int parse_float(const char *s, double *v)
{
    if (s[0] == '\0' || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) {
        return -1;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v) ? 0 : -1;
}

int timestamp_parse(const char *s, int64_t *ms, err_t *err)
{
    double f;
    int64_t ns;
    err_t ignored = {0};
    if (parse_float(s, &f) == 0 && fabs(f) < 9.2e15) {
        double whole, frac = modf(f, &whole);
        *ms = (int64_t)whole * 1000 + (int64_t)llround(frac * 1000);
        return 0;
    }
    if (rfc3339_parse_ns(s, &ns, &ignored) == 0) {
        *ms = floor_div(ns, NS_PER_MS);
        return 0;
    }
    if (strcmp(s, API_MIN_TIME_TEXT) == 0 || strcmp(s, API_MAX_TIME_TEXT) == 0) {
        *ms = s[0] == '-' ? API_MIN_TIME_MS : API_MAX_TIME_MS;
        return 0;
    }
    return err_set(err, ERR_BAD_DATA, "cannot parse \"%s\" to a valid timestamp", s);
}

int api_duration_parse(const char *s, int64_t *ms, err_t *err)
{
    double f;
    err_t ignored = {0};
    if (parse_float(s, &f) == 0) {
        double ns = f * (double)NS_PER_S;
        if (ns >= 9223372036854775807.0 || ns < -9223372036854775808.0) {
            return err_set(err, ERR_BAD_DATA,
                           "cannot parse \"%s\" to a valid duration. It overflows int64", s);
        }
        *ms = (int64_t)ns / NS_PER_MS;
        return 0;
    }
    if (duration_parse(s, ms, &ignored) == 0) {
        return 0;
    }
    return err_set(err, ERR_BAD_DATA, "cannot parse \"%s\" to a valid duration", s);
}

/* ---- clocks ---------------------------------------------------------------------------- */

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t time_now_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / NS_PER_MS;
}

int64_t time_now_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t time_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / NS_PER_MS;
}
