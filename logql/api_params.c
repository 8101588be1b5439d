/* logql/api_params.c - request parameters of Loki's query API (pkg/loghttp/params.go and
 * query.go): timestamps, bounds, step, interval, limit and direction, with Loki's defaults,
 * checks and error texts (Go's strconv messages included). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "logql/api_int.h"

#define DEFAULT_LIMIT 100
#define DEFAULT_SINCE_NS (3600LL * 1000000000LL)
#define MAX_POINTS 11000

/* Go's strconv error: `strconv.ParseInt: parsing "x": invalid syntax`. */
static int strconv_error(const char *fn, const char *v, int range, err_t *err)
{
    buf_t q;
    buf_init(&q);
    labels_quote(&q, v, strlen(v));
    err_set(err, ERR_BAD_DATA, "strconv.%s: parsing %s: %s", fn, q.data,
            range ? "value out of range" : "invalid syntax");
    buf_fini(&q);
    return -1;
}

/* strconv.ParseInt(v, 10, 64): optional sign, digits only. */
static int parse_int64(const char *fn, const char *v, int64_t *out, err_t *err)
{
    const char *p = v + (v[0] == '+' || v[0] == '-');
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        return strconv_error(fn, v, 0, err);
    }
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno == ERANGE) {
        return strconv_error(fn, v, 1, err);
    }
    *out = n;
    return 0;
}

/* strconv.ParseFloat accepts what strtod does, minus hex and surrounding space. */
static int parse_float(const char *v, double *out)
{
    char *end;
    if (v[0] == '\0' || v[0] == ' ' || strchr(v, 'x') != NULL || strchr(v, 'X') != NULL) {
        return -1;
    }
    errno = 0;
    *out = strtod(v, &end);
    return *end == '\0' && errno != ERANGE ? 0 : -1;
}

int logql__api_param_time(const char *v, int64_t def_ns, int64_t *out_ns, err_t *err)
{
    if (v == NULL || v[0] == '\0') {
        *out_ns = def_ns;
        return 0;
    }
    double f;
    if (strchr(v, '.') != NULL && parse_float(v, &f) == 0) {
        double s = trunc(f), frac = round((f - s) * 1000) / 1000; /* Loki keeps ms only */
        *out_ns = (int64_t)s * 1000000000LL + (int64_t)(frac * 1e9);
        return 0;
    }
    err_t e = {0};
    int64_t n;
    if (parse_int64("ParseInt", v, &n, &e) < 0) {
        if (rfc3339_parse_ns(v, out_ns, NULL) == 0) {
            return 0;
        }
        return err_set(err, ERR_BAD_DATA, "%s", e.msg);
    }
    *out_ns = strlen(v) <= 10 ? n * 1000000000LL : n;
    return 0;
}

int logql__api_param_bounds(http_req_t *req, int64_t now_ns, int64_t *start_ns, int64_t *end_ns,
                            err_t *err)
{
    int64_t since_ns = DEFAULT_SINCE_NS;
    const char *since = http_req_arg(req, "since");
    err_t e = {0};
    if (since != NULL && since[0] != '\0') {
        int64_t ms;
        if (duration_parse(since, &ms, &e) < 0) {
            return err_set(err, ERR_BAD_DATA, "could not parse 'since' parameter: %s", e.msg);
        }
        since_ns = ms * 1000000;
    }
    if (logql__api_param_time(http_req_arg(req, "end"), now_ns, end_ns, &e) < 0) {
        return err_set(err, ERR_BAD_DATA, "could not parse 'end' parameter: %s", e.msg);
    }
    /* a future end does not push the default start into the future */
    int64_t end_or_now = *end_ns > now_ns ? now_ns : *end_ns;
    if (logql__api_param_time(http_req_arg(req, "start"), end_or_now - since_ns, start_ns, &e) <
        0) {
        return err_set(err, ERR_BAD_DATA, "could not parse 'start' parameter: %s", e.msg);
    }
    return 0;
}

int logql__api_param_limit(http_req_t *req, uint32_t *out, err_t *err)
{
    const char *v = http_req_arg(req, "limit");
    int64_t n = DEFAULT_LIMIT;
    if (v != NULL && v[0] != '\0' && parse_int64("Atoi", v, &n, err) < 0) {
        return -1;
    }
    if (n <= 0) {
        return err_set(err, ERR_BAD_DATA, "limit must be a positive value");
    }
    if (n > (int64_t)UINT32_MAX) {
        return err_set(err, ERR_BAD_DATA, "limit value %lld is out of range [0, %u]", (long long)n,
                       UINT32_MAX);
    }
    *out = (uint32_t)n;
    return 0;
}

int logql__api_param_direction(http_req_t *req, logql_direction_t *out, err_t *err)
{
    const char *v = http_req_arg(req, "direction");
    if (v == NULL || v[0] == '\0' || strcasecmp(v, "backward") == 0) {
        *out = LOGQL_BACKWARD;
        return 0;
    }
    if (strcasecmp(v, "forward") == 0) {
        *out = LOGQL_FORWARD;
        return 0;
    }
    return err_set(err, ERR_BAD_DATA, "invalid direction '%s'", v);
}

int logql__api_param_seconds_or_duration(const char *v, int64_t def_ns, int64_t *out_ns, err_t *err)
{
    if (v == NULL || v[0] == '\0') {
        *out_ns = def_ns;
        return 0;
    }
    double f;
    int64_t ms;
    if (parse_float(v, &f) == 0) {
        double ns = f * 1e9;
        if (ns > 9.2e18 || ns < -9.2e18) {
            return err_set(err, ERR_BAD_DATA,
                           "cannot parse \"%s\" to a valid duration. It overflows int64", v);
        }
        *out_ns = (int64_t)ns;
        return 0;
    }
    if (duration_parse(v, &ms, NULL) == 0) {
        *out_ns = ms * 1000000;
        return 0;
    }
    return err_set(err, ERR_BAD_DATA, "cannot parse \"%s\" to a valid duration", v);
}

/* Loki's defaultQueryRangeStep: max(1, floor((end - start) / 250)) seconds. */
static int64_t default_step_ns(int64_t start_ns, int64_t end_ns)
{
    double s = floor((double)(end_ns - start_ns) / 1e9 / 250);
    return (int64_t)(s > 1 ? s : 1) * 1000000000LL;
}

int logql__api_range_args(http_req_t *req, logql__api_range_t *ra, err_t *err)
{
    if (logql__api_param_bounds(req, time_now_ns(), &ra->start_ns, &ra->end_ns, err) < 0) {
        return -1;
    }
    if (ra->end_ns < ra->start_ns) {
        return err_set(err, ERR_BAD_DATA,
                       "end timestamp must not be before or equal to start time");
    }
    if (logql__api_param_limit(req, &ra->limit, err) < 0 ||
        logql__api_param_direction(req, &ra->dir, err) < 0 ||
        logql__api_param_seconds_or_duration(http_req_arg(req, "step"),
                                             default_step_ns(ra->start_ns, ra->end_ns),
                                             &ra->step_ns, err) < 0) {
        return -1;
    }
    if (ra->step_ns <= 0) {
        return err_set(err, ERR_BAD_DATA,
                       "zero or negative query resolution step widths are "
                       "not accepted. Try a positive integer");
    }
    if ((ra->end_ns - ra->start_ns) / ra->step_ns > MAX_POINTS) {
        return err_set(err, ERR_BAD_DATA,
                       "exceeded maximum resolution of 11,000 points per time series. Try "
                       "increasing the value of the step parameter");
    }
    if (logql__api_param_seconds_or_duration(http_req_arg(req, "interval"), 0, &ra->interval_ns,
                                             err) < 0) {
        return -1;
    }
    if (ra->interval_ns < 0) {
        return err_set(err, ERR_BAD_DATA, "interval must be >= 0");
    }
    return 0;
}
