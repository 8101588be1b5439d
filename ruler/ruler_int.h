/* ruler/ruler_int.h - shared between the ruler's files only (ruler/ruler_*.c).
 *
 * DESIGN. A rule group exists twice: as a *definition* (ruler_group_def_t: what
 * the YAML says, immutable, owned by its own arena) and as a *running group*
 * (ruler_group_t: the definition plus per-rule evaluation state and active
 * alerts). The store reads and writes definitions; the scheduler builds running
 * groups from them. Lock order: ruler.mu (tenant registry), then tenant.mu (its
 * group list), then group.mu (rule state). An evaluation holds a group
 * reference and takes group.mu only to read or publish state, never while
 * querying or sending. */
#ifndef HERALD_RULER_RULER_INT_H
#define HERALD_RULER_RULER_INT_H
#include <pthread.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/hashmap.h"
#include "common/template.h"
#include "common/workpool.h"
#include "ruler/ruler.h"

/* ---- definitions (ruler_rulefmt.c)
 * ------------------------------------------------------ */

typedef struct {
    const char *key, *value;
} ruler_kv_t;

typedef struct {
    const char *record, *alert; /* exactly one non-NULL once validated */
    const char *expr;
    int64_t for_ms, keep_firing_for_ms;
    ruler_kv_t *labels; /* sorted by key */
    size_t n_labels;
    ruler_kv_t *annotations; /* sorted by key */
    size_t n_annotations;
    int line, col;           /* of the rule, for messages */
    int expr_line, expr_col; /* of expr */
} ruler_rule_def_t;

typedef struct {
    arena_t *arena; /* owns everything below */
    const char *name;
    int64_t interval_ms;     /* 0: ruler default */
    int64_t query_offset_ms; /* -1: unset */
    int64_t limit;
    ruler_kv_t *labels;
    size_t n_labels;
    const char **source_tenants;
    size_t n_source_tenants;
    ruler_rule_def_t *rules;
    size_t n_rules;
    int line, col;
} ruler_group_def_t;

/* A namespace: the groups of one rule file, in file order. Heap array of heap
 * defs. */
typedef struct {
    ruler_group_def_t **groups;
    size_t n, cap;
} ruler_ns_t;

/* Parses one group (POST body). NULL + ERR_BAD_DATA "unable to decode rule
 * group" style. */
/* The tenant's limits: the options', then its overrides (ruler_opts_t.limits). */
void ruler__tenant_limits(const ruler_t *r, const char *tenant, ruler_limits_t *out);
ruler_group_def_t *ruler__group_parse(const char *yaml, size_t len, err_t *err);
/* Parses a rule file `groups: [...]` into ns (appending). -1 + err naming the
 * problem. */
int ruler__file_parse(const char *yaml, size_t len, ruler_ns_t *ns, err_t *err);
void ruler__group_def_free(ruler_group_def_t *g); /* NULL is a no-op */
void ruler__ns_fini(ruler_ns_t *ns);
void ruler__ns_put(ruler_ns_t *ns, ruler_group_def_t *g); /* steals g; replaces same name */
ruler_group_def_t *ruler__ns_find(const ruler_ns_t *ns, const char *name);

/* Validation as the flavor's upstream words it; every problem joined with ", ".
 */
int ruler__group_validate(const ruler_group_def_t *g, ruler_flavor_t flavor,
                          const ruler_evaluator_t *ev, err_t *err);

/* Writers. YAML as Mimir writes it (4-space indent); JSON with the same
 * structure. */
void ruler__group_yaml(const ruler_group_def_t *g, buf_t *out, int indent);
void ruler__file_yaml(const ruler_ns_t *ns, buf_t *out); /* `groups:` file form */
void ruler__group_json(const ruler_group_def_t *g, buf_t *out);
void ruler__yaml_scalar(buf_t *out, const char *s, int indent);
/* A mapping key: plain or double-quoted, never a block (keys cannot be blocks). */
void ruler__yaml_key(buf_t *out, const char *s);
/* "key: value\n" with `col` spaces first; a key too long for YAML's implicit form is
 * written "? key" with ": value" on the next line at `col`. Block text goes at `indent`. */
void ruler__yaml_kv(buf_t *out, int col, const char *key, const char *value, int indent);

/* ---- filesystem store (ruler_store.c)
 * ---------------------------------------------------- */

typedef struct ruler_store ruler_store_t;
ruler_store_t *ruler__store_new(const char *dir, err_t *err);
void ruler__store_free(ruler_store_t *s);
/* Sorted tenant ids that have a directory. Heap strings in a heap array. */
char **ruler__store_tenants(ruler_store_t *s, size_t *n);
/* Sorted namespaces of a tenant (decoded names). */
char **ruler__store_namespaces(ruler_store_t *s, const char *tenant, size_t *n);
/* Loads one namespace. Missing file: 0 with ns empty. */
int ruler__store_load(ruler_store_t *s, const char *tenant, const char *ns_name, ruler_ns_t *ns,
                      err_t *err);
/* Writes the namespace (atomically); an empty ns deletes the file. */
int ruler__store_save(ruler_store_t *s, const char *tenant, const char *ns_name,
                      const ruler_ns_t *ns, err_t *err);
/* Serialises read-modify-write cycles of one store. */
void ruler__store_lock(ruler_store_t *s);
void ruler__store_unlock(ruler_store_t *s);
void ruler__strv_free(char **v, size_t n);

/* ---- alerts and their state machine (ruler_alert.c)
 * -------------------------------------- */

typedef enum { RULER_INACTIVE, RULER_PENDING, RULER_FIRING } ruler_alert_state_t;
const char *ruler__state_name(ruler_alert_state_t s);

typedef struct {
    labels_t *labels;        /* heap reference */
    ruler_kv_t *annotations; /* heap: one allocation holding the strings too */
    size_t n_annotations;
    double value;
    ruler_alert_state_t state;
    int64_t active_at_ms, fired_at_ms, resolved_at_ms; /* 0: unset */
    int64_t last_sent_at_ms, valid_until_ms, keep_firing_since_ms;
} ruler_alert_t;

/* What one evaluation produced for one output series, before the state machine.
 */
typedef struct {
    labels_t *labels; /* arena */
    ruler_kv_t *annotations;
    size_t n_annotations;
    double value;
} ruler_candidate_t;

/* Active alerts of one alerting rule, keyed by label hash. */
typedef struct {
    hashmap_t by_key; /* hex hash -> ruler_alert_t* */
} ruler_alerts_t;

void ruler__alerts_init(ruler_alerts_t *as);
void ruler__alerts_fini(ruler_alerts_t *as);
/* Prometheus' AlertingRule.Eval transition step at ts for the candidates of
 * this evaluation. hold_ms = `for`. limit > 0: more alerts than that is an
 * error and clears the alerts. Returns the number of pending + firing alerts,
 * or -1 + err. */
int ruler__alerts_update(ruler_alerts_t *as, const ruler_candidate_t *c, size_t n, int64_t ts,
                         int64_t hold_ms, int64_t keep_firing_for_ms, int64_t limit, err_t *err);
/* The alerts sorted by labels (borrowed pointers into as), into a heap array.
 */
ruler_alert_t **ruler__alerts_sorted(ruler_alerts_t *as, size_t *n);
/* Would Prometheus send this alert now (needsSending)? */
int ruler__alert_needs_sending(const ruler_alert_t *a, int64_t ts, int64_t resend_delay_ms);
ruler_kv_t *ruler__kv_dup(const ruler_kv_t *kv, size_t n); /* one heap block */

/* ---- notifier (ruler_notify.c)
 * ----------------------------------------------------------- */

typedef struct ruler_notifier ruler_notifier_t;
typedef struct {
    const char *alertmanager_url; /* comma-separated */
    size_t queue_capacity;
    int64_t timeout_ms;
    const label_t *external_labels;
    size_t n_external_labels;
    const char *tenant_label_name;
    const char *external_url;
} ruler_notifier_opts_t;

/* One alert as sent (POST /api/v2/alerts); everything heap, freed by the
 * notifier. */
typedef struct {
    labels_t *labels;
    ruler_kv_t *annotations;
    size_t n_annotations;
    int64_t starts_at_ms, ends_at_ms;
    char *generator_url;
} ruler_sent_alert_t;

ruler_notifier_t *ruler__notifier_new(const ruler_notifier_opts_t *o);
void ruler__notifier_free(ruler_notifier_t *n);
/* Queues the alerts of one tenant (steals each alert's contents). Over capacity
 * the oldest are dropped and counted. */
void ruler__notifier_send(ruler_notifier_t *n, const char *tenant, ruler_sent_alert_t *alerts,
                          size_t count);
/* The JSON body Prometheus' notifier posts, with the tenant and external labels
 * added. */
void ruler__notifier_format(const ruler_notifier_opts_t *o, const char *tenant,
                            const ruler_sent_alert_t *alerts, size_t count, buf_t *out);
void ruler__sent_alert_fini(ruler_sent_alert_t *a);
/* Graph link Prometheus puts in generatorURL:
 * <base>/graph?g0.expr=...&g0.tab=1; NULL (no generatorURL sent) when base is
 * empty. */
char *ruler__generator_url(const char *base, const char *expr);

/* ---- running groups (ruler_group.c, ruler_eval.c)
 * ---------------------------------------- */

typedef enum { RULER_HEALTH_UNKNOWN, RULER_HEALTH_OK, RULER_HEALTH_ERR } ruler_health_t;

typedef struct {
    const ruler_rule_def_t *def; /* into the group's def */
    char *query;                 /* formatted expression (heap), or NULL: def->expr */
    ruler_health_t health;
    char *last_error;     /* heap, NULL when healthy */
    int64_t last_eval_ms; /* wall clock of the evaluation, 0: never */
    double eval_seconds;
    ruler_alerts_t alerts; /* alerting rules only */
    hashmap_t prev_series; /* hex hash -> labels_t* written last time (stale markers) */
} ruler_rule_t;

typedef struct ruler_group {
    int refs;           /* atomic */
    pthread_mutex_t mu; /* rule state, timing fields */
    char *tenant, *ns;
    ruler_group_def_t *def; /* owned */
    int64_t interval_ms;
    ruler_rule_t *rules;
    size_t n_rules;
    int running;          /* an evaluation job is queued or running */
    int should_restore;   /* restore ALERTS_FOR_STATE at the first evaluation */
    int64_t next_eval_ms; /* next aligned evaluation timestamp */
    int64_t last_eval_ms; /* timestamp of the last evaluation, 0: never */
    double eval_seconds;
} ruler_group_t;

typedef struct {
    pthread_mutex_t mu;
    char *id;
    ruler_group_t **groups; /* sorted by namespace, then file order */
    size_t n_groups;
} ruler_tenant_t;

struct ruler {
    ruler_opts_t opts; /* strings copied below */
    ruler_evaluator_t ev;
    ruler_store_t *store;
    ruler_notifier_t *notifier;
    workpool_t *pool;
    pthread_mutex_t sync_mu; /* serialises ruler_sync_tenant; taken before mu */
    pthread_mutex_t mu;      /* guards tenants, stopping */
    pthread_cond_t wake;
    hashmap_t tenants; /* id -> ruler_tenant_t* */
    int stopping;
    pthread_t sched;
    int sched_started;
    int restore_on_load; /* 1 until the first load completes */
    arena_t *opts_arena; /* copies of the option strings */
    tmpl_cache_t *tmpl_cache;
};

ruler_group_t *ruler__group_new(ruler_t *r, const char *tenant, const char *ns,
                                ruler_group_def_t *def); /* steals def */
void ruler__group_ref(ruler_group_t *g);
void ruler__group_unref(ruler_group_t *g);
/* Carries alert state over from old (same tenant/namespace/name) by rule name
 * and type. */
void ruler__group_copy_state(ruler_group_t *dst, ruler_group_t *src);
/* Prometheus' EvalTimestamp: the aligned slot at or before now. */
int64_t ruler__group_eval_ts(const ruler_group_t *g, int64_t now_ms);

/* Evaluates every rule of g at ts (ruler_eval.c). */
void ruler__group_eval(ruler_t *r, ruler_group_t *g, int64_t ts);

/* Scheduler (ruler_sched.c). */
int ruler__sched_start(ruler_t *r, err_t *err);
void ruler__sched_stop(ruler_t *r);
ruler_tenant_t *ruler__tenant_get(ruler_t *r, const char *id); /* borrowed; registry lock */
/* Snapshot of a tenant's groups (new references). Caller unrefs each, frees the
 * array. */
ruler_group_t **ruler__tenant_groups(ruler_t *r, const char *tenant, size_t *n);

/* HTTP (ruler_api.c, ruler_api_read.c). */
int ruler__want_yaml(http_req_t *req);
void ruler__reply_envelope(http_req_t *req, int status, const char *error_type, const char *msg);
int ruler__h_rules(http_req_t *req, void *ctx, err_t *err);  /* /prometheus/api/v1/rules */
int ruler__h_alerts(http_req_t *req, void *ctx, err_t *err); /* /prometheus/api/v1/alerts */

/* Self-metrics (ruler_metrics.c). */
void ruler__metrics_init(ruler_flavor_t flavor);
void ruler__metric_eval(const ruler_group_t *g, int failed);
void ruler__metric_group(const ruler_group_t *g, double seconds, int64_t missed);
/* what: "sent", "errors" or "dropped". */
void ruler__metric_notify(const char *what, const char *tenant, double n);

#endif
