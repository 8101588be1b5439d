/* common/timeutil.h - Prometheus durations and timestamps. Pure functions, thread-safe.
 * Times are int64 milliseconds since the Unix epoch unless the name says otherwise. */
#ifndef HERALD_COMMON_TIMEUTIL_H
#define HERALD_COMMON_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Prometheus model.ParseDuration: `1h30m`, `500ms`, `2d`, `1w`, `1y`, `0`; units y w d h m s
 * ms, largest first, each at most once. Error text as Prometheus: `not a valid duration
 * string: "x"`. */
int duration_parse(const char *s, int64_t *ms, err_t *err);
/* model.Duration.String(): `1h30m`, `5m`, `0s`, `1d`, `1w`, `1y`, `1m30s500ms`. */
void duration_format(int64_t ms, char *out, size_t n);
/* Go time.ParseDuration (`1.5h`, `300ms`, `-2m`, `1h2m3.5s`, `µs`), into nanoseconds. */
int go_duration_parse(const char *s, int64_t *ns, err_t *err);
/* Go time.Duration.String() (`1h2m3.5s`, `0s`, `1.5µs`) from nanoseconds. */
void go_duration_format(int64_t ns, char *out, size_t n);

/* Prometheus API parseTime: unix seconds as float (`1700000000.123`), or RFC3339 / RFC3339Nano.
 * Error as Prometheus: `cannot parse "x" to a valid timestamp`. */
int timestamp_parse(const char *s, int64_t *ms, err_t *err);
/* Prometheus API parseDuration: float seconds (`15`, `0.5`) or a duration (`1m`). Error:
 * `cannot parse "x" to a valid duration`. */
int api_duration_parse(const char *s, int64_t *ms, err_t *err);
/* RFC3339 with milliseconds, UTC: `2025-03-02T10:04:05.123Z`. */
void timestamp_format_rfc3339(int64_t ms, char *out, size_t n);
/* RFC3339Nano as Go prints it (trailing zeros trimmed), UTC. */
void timestamp_format_rfc3339nano(int64_t ns, char *out, size_t n);
int rfc3339_parse_ns(const char *s, int64_t *ns, err_t *err);

int64_t time_now_ms(void);
int64_t time_now_ns(void);
int64_t time_mono_ms(void); /* CLOCK_MONOTONIC */

#endif
