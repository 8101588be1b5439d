/* common/metrics.h - self-metrics registry: counters, gauges, histograms, each a family
 * with optional labels, exposed in the Prometheus text format (version 0.0.4).
 * Families are registered once (usually at module init) in the process registry and live
 * until exit. Updates are lock-free for a resolved child and thread-safe everywhere.
 * The registry also exposes the Go client's process_* metrics (CPU, memory, fds, start
 * time), read from /proc at scrape time.
 *
 *   static metric_t *pushes;
 *   pushes = metric_counter("cortex_distributor_received_samples_total", "help", "user");
 *   metric_add(pushes, n, tenant);          // one label value per declared label name
 */
#ifndef HERALD_COMMON_METRICS_H
#define HERALD_COMMON_METRICS_H
#include <stddef.h>

#include "common/buf.h"

typedef struct metric metric_t; /* a family */

/* label_names: comma-separated ("user,reason") or NULL. Registering the same name twice
 * returns the existing family (same type required). */
metric_t *metric_counter(const char *name, const char *help, const char *label_names);
metric_t *metric_gauge(const char *name, const char *help, const char *label_names);
/* buckets: upper bounds ascending, without +Inf; NULL: Prometheus' default buckets. */
metric_t *metric_histogram(const char *name, const char *help, const char *label_names,
                           const double *buckets, size_t n_buckets);
/* A gauge (is_counter 0) or counter (1) named `name` with `help`, read at scrape time from
 * fn(arg) (no labels). */
void metric_func(const char *name, const char *help, int is_counter, double (*fn)(void *),
                 void *arg);

/* Variadic label values, as many as the family declares (const char *). */
void metric_add(metric_t *m, double v, ...);     /* counter/gauge += v */
void metric_set(metric_t *m, double v, ...);     /* gauge = v */
void metric_observe(metric_t *m, double v, ...); /* histogram */
/* Remove every child whose first label value equals `value` (e.g. a deleted tenant). */
void metric_delete_by_first_label(metric_t *m, const char *value);
double metric_get(metric_t *m, ...); /* current value (tests); histogram: count */

/* Writes every family, sorted by name, in the text exposition format. */
void metrics_write(buf_t *out);
/* A sample value as the exposition writes it: Go's strconv.FormatFloat(v, 'g', -1, 64) by
 * gofloat_format (1e+06, 0.25, 1.5e-05) and +Inf, -Inf, NaN. */
void metrics_format_float(double v, char *out, size_t n);

#endif
