/* alertmanager/am_timeint.c - time intervals (`time_intervals`, `mute_time_intervals`):
 * times of day, weekdays, days of month (negative counts from the month's end), months,
 * years; an interval set is active when any of its intervals contains the instant, read in
 * the interval's `location` (a zoneinfo name, "Local", or UTC by default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alertmanager/am_int.h"

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday", NULL};
static const char *const month_names[] = {"january", "february", "march",     "april",
                                          "may",     "june",     "july",      "august",
                                          "september", "october", "november", "december",
                                          NULL};

static const char *const ti_keys[] = {"times",  "weekdays", "days_of_month", "months",
                                      "years",  "location", NULL};
static const char *const times_keys[] = {"start_time", "end_time", NULL};

/* "HH:MM" into minutes of day; 24:00 allowed as an end. */
static int parse_hhmm(const char *s, int *out, err_t *err)
{
    int h, m;
    char tail;
    if (s == NULL || sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || m < 0 || m > 59 ||
        h > 24 || (h == 24 && m != 0)) {
        return err_set(err, ERR_BAD_DATA, "couldn't parse timestamp %s, invalid format",
                       s != NULL ? s : "");
    }
    *out = h * 60 + m;
    return 0;
}

static int times_parse(arena_t *a, const am_ynode_t *n, am_timeint_t *out, err_t *err)
{
    if (n == NULL || n->kind != AM_Y_SEQ) {
        return 0;
    }
    out->times = arena_calloc(a, (n->n + 1) * sizeof(*out->times));
    for (size_t i = 0; out->times != NULL && i < n->n; i++) {
        const char *st = NULL, *en = NULL;
        int lo, hi;
        if (am__y_unknown(n->vals[i], times_keys, "timeinterval.TimeRange", err) < 0 ||
            am__y_str(a, am__ymap_get(n->vals[i], "start_time"), &st, err) < 0 ||
            am__y_str(a, am__ymap_get(n->vals[i], "end_time"), &en, err) < 0 ||
            parse_hhmm(st, &lo, err) < 0 || parse_hhmm(en, &hi, err) < 0) {
            return -1;
        }
        if (lo >= hi) {
            return err_set(err, ERR_BAD_DATA,
                           "start time cannot be equal or greater than end time");
        }
        out->times[i] = (am_range_t){lo, hi - 1};
    }
    out->n_times = n->n;
    return 0;
}

/* One bound: a number, or a name from `names` (1-based when base is 1). */
static int parse_bound(const char *s, const char *const *names, int base, int *out)
{
    char *end;
    for (int i = 0; names != NULL && names[i] != NULL; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i + base;
            return 0;
        }
    }
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        return -1;
    }
    *out = (int)v;
    return 0;
}

typedef struct {
    const char *what;
    const char *const *names;
    int base, min, max;
} range_kind_t;

static const range_kind_t rk_weekday = {"weekday", weekday_names, 0, 0, 6};
static const range_kind_t rk_day = {"day of month", NULL, 0, -31, 31};
static const range_kind_t rk_month = {"month", month_names, 1, 1, 12};
static const range_kind_t rk_year = {"year", NULL, 0, 0, 9999};

static int range_one(const char *s, const range_kind_t *k, am_range_t *r, err_t *err)
{
    char lo[64], hi[64];
    const char *colon = strchr(s, ':');
    size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);
    if (n >= sizeof(lo) || (colon != NULL && strlen(colon + 1) >= sizeof(hi))) {
        return err_set(err, ERR_BAD_DATA, "invalid %s range: %s", k->what, s);
    }
    memcpy(lo, s, n);
    lo[n] = '\0';
    snprintf(hi, sizeof(hi), "%s", colon != NULL ? colon + 1 : lo);
    if (parse_bound(lo, k->names, k->base, &r->lo) < 0 ||
        parse_bound(hi, k->names, k->base, &r->hi) < 0) {
        return err_set(err, ERR_BAD_DATA, "%s is not a valid %s", s, k->what);
    }
    if (r->lo < k->min || r->hi > k->max || (r->lo == 0 && k == &rk_day)) {
        return err_set(err, ERR_BAD_DATA, "%s is out of range for %s", s, k->what);
    }
    if (k != &rk_day && r->lo > r->hi) {
        return err_set(err, ERR_BAD_DATA, "start %s cannot be after end %s", k->what, k->what);
    }
    return 0;
}

static int ranges_parse(arena_t *a, const am_ynode_t *n, const range_kind_t *k,
                        am_range_t **out, size_t *cnt, err_t *err)
{
    const char **strs;
    size_t ns;
    if (am__y_strlist(a, n, &strs, &ns, err) < 0) {
        return -1;
    }
    *out = arena_calloc(a, (ns + 1) * sizeof(**out));
    for (size_t i = 0; *out != NULL && i < ns; i++) {
        if (range_one(strs[i], k, &(*out)[i], err) < 0) {
            return -1;
        }
    }
    *cnt = ns;
    return 0;
}

int am__timeint_parse(arena_t *a, const am_ynode_t *n, am_timeint_t *out, err_t *err)
{
    if (am__y_unknown(n, ti_keys, "timeinterval.TimeInterval", err) < 0 ||
        times_parse(a, am__ymap_get(n, "times"), out, err) < 0 ||
        ranges_parse(a, am__ymap_get(n, "weekdays"), &rk_weekday, &out->weekdays,
                     &out->n_weekdays, err) < 0 ||
        ranges_parse(a, am__ymap_get(n, "days_of_month"), &rk_day, &out->days, &out->n_days,
                     err) < 0 ||
        ranges_parse(a, am__ymap_get(n, "months"), &rk_month, &out->months, &out->n_months,
                     err) < 0 ||
        ranges_parse(a, am__ymap_get(n, "years"), &rk_year, &out->years, &out->n_years, err) <
            0 ||
        am__y_str(a, am__ymap_get(n, "location"), &out->location, err) < 0) {
        return -1;
    }
    if (out->location != NULL && strcmp(out->location, "Local") != 0 &&
        am__tz_load(a, out->location, &out->tz, err) < 0) {
        return -1;
    }
    return 0;
}

static int in_ranges(const am_range_t *r, size_t n, int v)
{
    if (n == 0) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v >= r[i].lo && v <= r[i].hi) {
            return 1;
        }
    }
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return dm[month - 1] + (month == 2 && leap);
}

/* Negative days count from the end of the month (-1 = last day). */
static int in_days(const am_timeint_t *ti, const struct tm *tm)
{
    int dim = days_in_month(tm->tm_year + 1900, tm->tm_mon + 1);
    if (ti->n_days == 0) {
        return 1;
    }
    for (size_t i = 0; i < ti->n_days; i++) {
        int lo = ti->days[i].lo, hi = ti->days[i].hi;
        lo = lo < 0 ? dim + lo + 1 : lo;
        hi = hi < 0 ? dim + hi + 1 : hi;
        if (tm->tm_mday >= lo && tm->tm_mday <= hi) {
            return 1;
        }
    }
    return 0;
}

static int contains(const am_timeint_t *ti, int64_t now_ns)
{
    time_t secs = (time_t)(now_ns / AM_NS_PER_S);
    struct tm tm;
    if (ti->location != NULL && strcmp(ti->location, "Local") == 0) {
        localtime_r(&secs, &tm);
    } else {
        time_t local = secs + am__tz_offset(&ti->tz, (int64_t)secs);
        gmtime_r(&local, &tm);
    }
    int minute = tm.tm_hour * 60 + tm.tm_min;
    return in_ranges(ti->times, ti->n_times, minute) &&
           in_ranges(ti->weekdays, ti->n_weekdays, tm.tm_wday) && in_days(ti, &tm) &&
           in_ranges(ti->months, ti->n_months, tm.tm_mon + 1) &&
           in_ranges(ti->years, ti->n_years, tm.tm_year + 1900);
}

int am__timeint_set_active(const am_timeint_set_t *s, int64_t now_ns)
{
    for (size_t i = 0; i < s->n_ints; i++) {
        if (contains(&s->ints[i], now_ns)) {
            return 1;
        }
    }
    return 0;
}
