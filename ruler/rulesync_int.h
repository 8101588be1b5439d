/* ruler/rulesync_int.h - shared between herald-rulesync's files only (ruler/rulesync_*.c)
 * and its unit test.
 *
 * DESIGN. Kubernetes objects (PrometheusRule, Namespace) are read from manifests or from the
 * API server into rulesync_obj_t: immutable once built, each owning its arena. The object
 * store (rulesync_store_t) holds the current objects under one mutex and bumps a generation
 * number on every change; component threads (one per mimir_rules / loki_rules entry) wait
 * on the store's condition variable, then build their desired state under the store lock
 * (pure CPU: conversion, no I/O), release it, and talk to their ruler. Lock order: the
 * module's mutex (rulesync_module.c), then either a component's own mutex (status) or the
 * store mutex; those two are never held together, and no lock is held over HTTP. */
#ifndef HERALD_RULER_RULESYNC_INT_H
#define HERALD_RULER_RULESYNC_INT_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "config/config.h"

/* ---- objects (rulesync_obj.c) ---------------------------------------------------------- */

typedef struct {
    const char *key, *value;
} rulesync_kv_t;

typedef struct {
    rulesync_kv_t *items; /* sorted by key, unique */
    size_t n;
} rulesync_kvs_t;

const char *rulesync__kvs_get(const rulesync_kvs_t *kv, const char *key); /* NULL if absent */

/* One rule of a PrometheusRule spec, as written (strings NULL when absent). */
typedef struct {
    const char *record, *alert, *expr, *for_, *keep_firing_for;
    rulesync_kvs_t labels, annotations;
} rulesync_raw_rule_t;

typedef struct {
    const char *name, *interval, *query_offset, *limit, *partial_response_strategy;
    rulesync_kvs_t labels;
    rulesync_raw_rule_t *rules;
    size_t n_rules;
} rulesync_raw_group_t;

typedef enum { RULESYNC_OBJ_RULE, RULESYNC_OBJ_NAMESPACE } rulesync_obj_kind_t;

typedef struct {
    arena_t *arena; /* owns everything below */
    rulesync_obj_kind_t kind;
    const char *ns;   /* PrometheusRule: its namespace ("default" when absent); Namespace: "" */
    const char *name; /* metadata.name */
    const char *uid;  /* metadata.uid, or derived from namespace/name (rulesync__derive_uid) */
    const char *file; /* manifest file, or "" for API objects */
    const char *resource_version; /* "" when absent */
    rulesync_kvs_t labels, annotations;
    rulesync_raw_group_t *groups;
    size_t n_groups;
    const char *spec_error; /* a spec that is not a rule file (e.g. groups not a list) */
} rulesync_obj_t;

void rulesync__obj_free(rulesync_obj_t *o); /* NULL is a no-op */

/* A growable array of objects; the list owns them. */
typedef struct {
    rulesync_obj_t **items;
    size_t n, cap;
} rulesync_objs_t;

void rulesync__objs_push(rulesync_objs_t *l, rulesync_obj_t *o); /* steals o */
void rulesync__objs_fini(rulesync_objs_t *l);                    /* frees every object */

/* Parses a manifest file's text: YAML documents (or one JSON document) holding objects of
 * kind PrometheusRule, Namespace or List (its items); other kinds are skipped. Appends to
 * out. file names the objects' source. -1 + ERR_BAD_DATA ("file: line N: ...") on a YAML
 * syntax error, an object without metadata.name or a document too large once its aliases
 * are expanded; out is then left unchanged. */
int rulesync__manifest_parse(const char *text, size_t len, const char *file, rulesync_objs_t *out,
                             err_t *err);
/* One object from the JSON of a Kubernetes API answer (a list item or a watch event's
 * object) of the given kind. NULL + err when it is not an object with metadata.name. */
rulesync_obj_t *rulesync__obj_from_json(const char *json, size_t len, rulesync_obj_kind_t kind,
                                        err_t *err);
/* A stable UUID-shaped id (8-4-4-4-12 lower-case hex) for an object without metadata.uid,
 * from its namespace and name. In a. */
const char *rulesync__derive_uid(arena_t *a, const char *ns, const char *name);

/* A mapping's value for key (NULL when absent or map is not a mapping), and a scalar's text
 * (NULL for a YAML null or a non-scalar); both borrowed from the document. */
yaml_node_t *rulesync__yaml_get(yaml_document_t *d, yaml_node_t *map, const char *key);
const char *rulesync__yaml_text(yaml_node_t *n);

/* Refuses a document whose tree, with aliases expanded, weighs more than max_bytes (128 per
 * node plus scalar lengths) or loops: the readers walk aliases as copies and would otherwise
 * multiply a small input (billion laughs) or never end. -1 + ERR_BAD_DATA. */
int rulesync__yaml_check(yaml_document_t *d, size_t max_bytes, err_t *err);

/* ---- rule groups as a ruler sees them (rulesync_group.c) ----------------------------- */

typedef struct {
    const char *record, *alert, *expr;
    int64_t for_ms, keep_firing_for_ms; /* 0: unset */
    rulesync_kvs_t labels, annotations;
} rulesync_rule_t;

typedef struct {
    const char *name;
    int64_t interval_ms;     /* 0: unset */
    int64_t query_offset_ms; /* -1: unset */
    int64_t limit;           /* 0: unset */
    rulesync_kvs_t labels;
    const char **source_tenants;
    size_t n_source_tenants;
    rulesync_rule_t *rules;
    size_t n_rules;
} rulesync_group_t;

/* The groups of one ruler namespace. */
typedef struct {
    const char *name;
    rulesync_group_t *groups;
    size_t n_groups;
} rulesync_nsgroups_t;

/* Rule groups by ruler namespace, sorted by namespace name; all in one arena. */
typedef struct {
    rulesync_nsgroups_t *ns;
    size_t n;
} rulesync_state_t;

/* The group as YAML, as Alloy posts it (yaml.v3 layout, 4-space indent, maps sorted). Two
 * groups are equal for the diff when these bytes are equal. */
void rulesync__group_yaml(const rulesync_group_t *g, buf_t *out);
/* Parses a ruler listing (GET <base>): a map namespace -> list of groups, YAML or JSON,
 * decoded leniently (unknown keys ignored). Empty text: empty state. In a. */
int rulesync__listing_parse(arena_t *a, const char *text, size_t len, rulesync_state_t *out,
                            err_t *err);
rulesync_nsgroups_t *rulesync__state_find(const rulesync_state_t *s, const char *ns);
/* Adds (or replaces) a namespace's groups; keeps the state sorted. groups live in a. */
void rulesync__state_put(arena_t *a, rulesync_state_t *s, const char *ns, rulesync_group_t *groups,
                         size_t n_groups);

/* ---- selection, naming, conversion, diff (rulesync_convert.c) ------------------------- */

typedef enum { RULESYNC_MIMIR, RULESYNC_LOKI } rulesync_kind_t;

/* Kubernetes label selector semantics: every match_labels pair and every expression holds.
 * An empty selector matches everything. */
int rulesync__selector_matches(const cfg_label_selector_t *sel, const rulesync_kvs_t *labels);
/* <prefix><sep><namespace><sep><name><sep><uid>. In a. */
const char *rulesync__ns_name(arena_t *a, const cfg_rules_target_t *t, const rulesync_obj_t *o);
/* 1 if a ruler namespace is managed under `prefix`: ^<quoted prefix>.+<UUID>$. */
int rulesync__is_managed(const char *prefix, const char *ns);

/* Converts one PrometheusRule into the groups the component posts (rulesync.md): strict
 * rulefmt checks and PromQL for Mimir, lenient with LogQL for Loki; then source_tenants
 * (Mimir), copy_object_labels, external_labels and extra_query_matchers.
 *   a     the arena of the result
 *   kind  the component's ruler
 *   t     the component's arguments
 *   o     the PrometheusRule
 *   out   OUT: groups in a;  n_out  OUT: their count
 * -1 + ERR_BAD_DATA with the reason (the caller adds "failed to convert rule group: "). */
int rulesync__convert(arena_t *a, rulesync_kind_t kind, const cfg_rules_target_t *t,
                      const rulesync_obj_t *o, rulesync_group_t **out, size_t *n_out, err_t *err);

/* Sets one extra query matcher in every selector of expr (PromQL or LogQL) and returns the
 * canonical text, in a; NULL + err when expr does not parse. */
const char *rulesync__set_matcher(arena_t *a, rulesync_kind_t kind, const char *expr,
                                  const char *name, const char *match_type, const char *value,
                                  err_t *err);

typedef enum { RULESYNC_ADD, RULESYNC_UPDATE, RULESYNC_REMOVE } rulesync_op_kind_t;

typedef struct {
    rulesync_op_kind_t kind;
    const char *ns;
    const rulesync_group_t *group; /* desired (add/update) or actual (remove) */
} rulesync_op_t;

/* The changes that turn `actual` into `desired`, namespace by namespace in name order, group
 * by group by name. *ops in a. */
size_t rulesync__diff(arena_t *a, const rulesync_state_t *desired, const rulesync_state_t *actual,
                      rulesync_op_t **ops);

/* ---- ruler client (rulesync_client.c) --------------------------------------------------- */

typedef struct {
    int status;      /* HTTP status; 0: the request failed before an answer */
    int recoverable; /* worth retrying (Mimir: network, 5xx, 429; Loki: always) */
} rulesync_result_t;

typedef struct rulesync_client rulesync_client_t;

/* Copies what it needs from t. component_id labels the request-duration histogram. */
rulesync_client_t *rulesync__client_new(rulesync_kind_t kind, const cfg_rules_target_t *t,
                                        const char *component_id);
void rulesync__client_free(rulesync_client_t *c); /* NULL is a no-op */
/* GET <base> within timeout_ms; the managed namespaces only into *out (in a). */
int rulesync__client_list(rulesync_client_t *c, arena_t *a, int64_t timeout_ms,
                          rulesync_state_t *out, rulesync_result_t *res, err_t *err);
/* POST <base>/<escaped ns> with the group YAML, no Content-Type. */
int rulesync__client_post(rulesync_client_t *c, const char *ns, const rulesync_group_t *g,
                          int64_t timeout_ms, rulesync_result_t *res, err_t *err);
/* DELETE <base>/<escaped ns>/<escaped group>. */
int rulesync__client_delete(rulesync_client_t *c, const char *ns, const char *group,
                            int64_t timeout_ms, rulesync_result_t *res, err_t *err);
const char *rulesync__client_base(const rulesync_client_t *c); /* "<address><base path>" */

/* ---- object store (rulesync_store.c) ---------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast on every change and on stop */
    rulesync_objs_t objs;   /* PrometheusRules and Namespaces */
    uint64_t gen;           /* bumped on every change */
    int ready;              /* the first full listing is in */
    int stopping;
} rulesync_store_t;

void rulesync__store_init(rulesync_store_t *s);
void rulesync__store_fini(rulesync_store_t *s);
/* Replaces every object of `kind` by those of `objs` (stolen; the list is emptied). */
void rulesync__store_replace(rulesync_store_t *s, rulesync_obj_kind_t kind, rulesync_objs_t *objs);
/* Replaces every object (manifest scans). Steals the list's objects. */
void rulesync__store_replace_all(rulesync_store_t *s, rulesync_objs_t *objs);
/* Adds or replaces one object with the same kind, namespace and name (steals o). */
void rulesync__store_put(rulesync_store_t *s, rulesync_obj_t *o);
void rulesync__store_delete(rulesync_store_t *s, rulesync_obj_kind_t kind, const char *ns,
                            const char *name);
void rulesync__store_stop(rulesync_store_t *s); /* wakes every waiter for good */

/* ---- sources (rulesync_dir.c, rulesync_kube.c) ----------------------------------------- */

typedef struct rulesync_source rulesync_source_t;

/* What each source kind implements; its own struct starts with a rulesync_source_t. */
typedef struct {
    void (*rescan)(rulesync_source_t *src); /* NULL: nothing to do */
    void (*status)(rulesync_source_t *src, buf_t *out);
    void (*stop)(rulesync_source_t *src);
} rulesync_source_ops_t;

struct rulesync_source {
    const rulesync_source_ops_t *ops;
};

/* Reads manifest_dir now, then re-reads it in a thread whenever a file changes (mtime poll
 * every second) and when rulesync__source_rescan is called. */
rulesync_source_t *rulesync__dir_start(rulesync_store_t *st, const char *dir, err_t *err);
/* How to reach the Kubernetes API server (rulesync_kubecfg.c). Strings are heap-owned;
 * "" or NULL when unset. A PEM given inline (kubeconfig *-data) is decoded into the _pem
 * buffer, else the _file names a file. */
typedef struct {
    char *server;     /* https://host:port, no trailing slash */
    char *token;      /* a literal bearer token (kubeconfig `token`), or NULL */
    char *token_file; /* re-read on every request */
    char *ca_file, *cert_file, *key_file;
    buf_t ca_pem, cert_pem, key_pem;
    int insecure;
} rulesync_kubeconn_t;

/* The connection from the config: kubernetes.kubeconfig_file if set (its current context:
 * server, certificate-authority(-data), insecure-skip-tls-verify, token, tokenFile,
 * client-certificate(-data), client-key(-data); relative paths are relative to the file),
 * with kubernetes.api_server, bearer_token_file, ca_file and insecure_skip_verify
 * overriding it; else those keys alone; else in-cluster (KUBERNETES_SERVICE_HOST/PORT and
 * the service account files). -1 + ERR_BAD_DATA naming the problem. */
int rulesync__kubeconn_resolve(const cfg_rulesync_t *c, rulesync_kubeconn_t *out, err_t *err);
void rulesync__kubeconn_fini(rulesync_kubeconn_t *k);

/* LIST + WATCH of PrometheusRules and Namespaces (two threads). */
rulesync_source_t *rulesync__kube_start(rulesync_store_t *st, const cfg_rulesync_t *c, err_t *err);
void rulesync__source_rescan(rulesync_source_t *src); /* dir: re-read now; kube: no-op */
/* Appends the source's status as JSON object members ("source":..., ...) to out. */
void rulesync__source_status(rulesync_source_t *src, buf_t *out);
void rulesync__source_stop(rulesync_source_t *src); /* joins the threads and frees; NULL ok */

/* ---- components (rulesync_comp.c) -------------------------------------------------------- */

typedef struct rulesync_comp rulesync_comp_t;

/* Starts the component's thread. t is borrowed from a config snapshot the caller keeps. */
rulesync_comp_t *rulesync__comp_start(rulesync_kind_t kind, const cfg_rules_target_t *t,
                                      size_t index, rulesync_store_t *st);
void rulesync__comp_request_sync(rulesync_comp_t *c); /* queue a full sync now */
void rulesync__comp_count_update(rulesync_comp_t *c); /* *_config_updates_total + 1 */
/* Appends the component's status as one JSON object to out. */
void rulesync__comp_status(rulesync_comp_t *c, buf_t *out);
int rulesync__comp_healthy(rulesync_comp_t *c);
void rulesync__comp_id(const rulesync_comp_t *c, buf_t *out); /* appends "mimir_rules[0]" */
void rulesync__comp_stop(rulesync_comp_t *c); /* stops the thread, joins, frees; NULL ok */

#endif
