/* ruler/ruler_metrics.c - the ruler's self-metrics, named as Mimir exports
 * Prometheus' rule manager metrics per tenant:
 * `cortex_prometheus_rule_evaluations_total{user,rule_group}` (herald-logd:
 * prefix `loki_`). rule_group is "<namespace>;<group>" as Prometheus' group
 * key. The families are registered once per process; the struct is written only
 * under its lock at init and read-only afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "ruler/ruler_int.h"

static struct {
    pthread_mutex_t mu;
    int ready;
    metric_t *evals, *eval_failures, *missed, *iterations, *last_duration, *last_eval_ts, *rules,
        *sent, *errors, *dropped;
} rm = {.mu = PTHREAD_MUTEX_INITIALIZER};

static metric_t *fam(const char *prefix, const char *name, const char *help, int counter,
                     const char *labels)
{
    char full[200];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    return counter ? metric_counter(full, help, labels) : metric_gauge(full, help, labels);
}

void ruler__metrics_init(ruler_flavor_t flavor)
{
    const char *p = flavor == RULER_FLAVOR_LOKI ? "loki_" : "cortex_";
    pthread_mutex_lock(&rm.mu);
    if (!rm.ready) {
        rm.evals = fam(p, "prometheus_rule_evaluations_total",
                       "The total number of rule evaluations.", 1, "user,rule_group");
        rm.eval_failures =
            fam(p, "prometheus_rule_evaluation_failures_total",
                "The total number of rule evaluation failures.", 1, "user,rule_group");
        rm.missed = fam(p, "prometheus_rule_group_iterations_missed_total",
                        "The total number of rule group evaluations missed due to slow rule "
                        "group evaluation.",
                        1, "user,rule_group");
        rm.iterations = fam(p, "prometheus_rule_group_iterations_total",
                            "The total number of scheduled rule group evaluations, whether "
                            "executed or missed.",
                            1, "user,rule_group");
        rm.last_duration =
            fam(p, "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.", 0, "user,rule_group");
        rm.last_eval_ts = fam(p, "prometheus_rule_group_last_evaluation_timestamp_seconds",
                              "The timestamp of the last rule group evaluation in seconds.", 0,
                              "user,rule_group");
        rm.rules =
            fam(p, "prometheus_rule_group_rules", "The number of rules.", 0, "user,rule_group");
        rm.sent = fam(p, "prometheus_notifications_sent_total", "Total number of alerts sent.", 1,
                      "user");
        rm.errors = fam(p, "prometheus_notifications_errors_total",
                        "Total number of errors sending alert notifications.", 1, "user");
        rm.dropped = fam(p, "prometheus_notifications_dropped_total",
                         "Total number of alerts dropped due to errors when sending to "
                         "Alertmanager.",
                         1, "user");
        rm.ready = 1;
    }
    pthread_mutex_unlock(&rm.mu);
}

static void group_key(const ruler_group_t *g, char *out, size_t n)
{
    snprintf(out, n, "%s;%s", g->ns, g->def->name);
}

void ruler__metric_eval(const ruler_group_t *g, int failed)
{
    char key[1024];
    group_key(g, key, sizeof(key));
    metric_add(rm.evals, 1, g->tenant, key);
    if (failed) {
        metric_add(rm.eval_failures, 1, g->tenant, key);
    }
}

void ruler__metric_group(const ruler_group_t *g, double seconds, int64_t missed)
{
    char key[1024];
    group_key(g, key, sizeof(key));
    metric_add(rm.iterations, (double)(missed + 1), g->tenant, key);
    if (missed > 0) {
        metric_add(rm.missed, (double)missed, g->tenant, key);
    }
    metric_set(rm.last_duration, seconds, g->tenant, key);
    metric_set(rm.last_eval_ts, (double)g->last_eval_ms / 1000.0, g->tenant, key);
    metric_set(rm.rules, (double)g->n_rules, g->tenant, key);
}

void ruler__metric_notify(const char *what, const char *tenant, double n)
{
    metric_t *m = strcmp(what, "sent") == 0     ? rm.sent
                  : strcmp(what, "errors") == 0 ? rm.errors
                                                : rm.dropped;
    metric_add(m, n, tenant);
}
