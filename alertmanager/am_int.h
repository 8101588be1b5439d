/* alertmanager/am_int.h - internals shared by the alertmanager/ files only.
 *
 * Ownership: an am_config_t is an immutable, refcounted snapshot (everything inside lives in
 * its arena). An am_tenant_t owns its alerts, aggregation groups, silences and notification
 * log entries, all guarded by tenant->mu. Lock order: registry, then one tenant. No libcurl or
 * sqlite call is made while a tenant lock is held.
 * Times are int64 nanoseconds since the Unix epoch; 0 means Go's zero time. */
#ifndef HERALD_ALERTMANAGER_AM_INT_H
#define HERALD_ALERTMANAGER_AM_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "alertmanager/alertmanager.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/hashmap.h"
#include "common/jsonw.h"
#include "common/labels.h"
#include "common/matchers.h"
#include "common/template.h"

#define AM_NS_PER_MS 1000000LL
#define AM_NS_PER_S 1000000000LL

/* ---- YAML tree (am_yaml.c) ------------------------------------------------------------- */
typedef enum { AM_Y_NULL, AM_Y_SCALAR, AM_Y_MAP, AM_Y_SEQ } am_ykind_t;
typedef struct am_ynode am_ynode_t;
struct am_ynode {
    am_ykind_t kind;
    int line, col;   /* 1-based */
    const char *str; /* scalar text */
    int quoted;      /* scalar was quoted */
    size_t n;        /* map pairs or sequence items */
    const char **keys;
    am_ynode_t **vals;
};
/* Parses one YAML document into a tree in `a`. An empty document gives an AM_Y_NULL node.
 * Errors: ERR_BAD_DATA "yaml: line N: ..." as Go's yaml.v2 words them where practical. */
am_ynode_t *am__yaml_parse(arena_t *a, const char *text, size_t len, err_t *err);
const am_ynode_t *am__ymap_get(const am_ynode_t *map, const char *key);
/* Writes a string as a YAML block literal whose lines are indented `indent` spaces, `step`
 * more than the key that owns it (or "" for the empty string). Round-trips exactly. */
void am__yaml_put_str(buf_t *out, const char *s, int indent, int step);

/* ---- configuration (am_config.c, am_config_recv.c) ------------------------------------- */
typedef struct {
    const char *username, *password, *bearer_token, *proxy_url;
    int insecure_skip_verify;
    int follow_redirects;
} am_http_cfg_t;

typedef enum {
    AM_RECV_WEBHOOK,
    AM_RECV_SLACK,
    AM_RECV_PAGERDUTY,
    AM_RECV_EMAIL,
    AM_RECV_KIND_COUNT_
} am_recv_kind_t;

/* Templated and plain string settings of one integration, by index per kind. */
#define AM_FIELDS_MAX 24
typedef struct {
    const char *key, *value;
} am_kv_t;

typedef struct am_integration {
    am_recv_kind_t kind;
    int index; /* position among the receiver's configs of this kind */
    int send_resolved;
    int max_alerts;
    int64_t timeout_ns;
    const char *url;
    am_http_cfg_t http;
    const char *fields[AM_FIELDS_MAX]; /* by am__recv_field(kind, name) */
    am_kv_t *map; /* pagerduty details, email headers */
    size_t n_map;
    const am_ynode_t *node; /* the raw section, for lists (slack fields, pagerduty links) */
} am_integration_t;

typedef struct {
    const char *name;
    am_integration_t *ints;
    size_t n_ints;
} am_receiver_t;

typedef struct am_route am_route_t;
struct am_route {
    const char *receiver;
    const char **group_by;
    size_t n_group_by;
    int group_by_all;
    matcher_t **matchers; /* sorted as Alertmanager sorts them */
    size_t n_matchers;
    int cont;
    int64_t group_wait_ns, group_interval_ns, repeat_interval_ns;
    const char **mute_ti, **active_ti;
    size_t n_mute_ti, n_active_ti;
    am_route_t **routes;
    size_t n_routes;
    am_route_t *parent;
    const char *key; /* Alertmanager Route.Key() */
    const char *id;  /* Route.ID(): key plus sibling index when needed */
};

typedef struct {
    int lo, hi; /* inclusive ranges */
} am_range_t;

/* A time zone as UTC transitions and their offsets (am_tz.c); n = 0 with first_off 0: UTC. */
typedef struct {
    int64_t *times;
    int32_t *offs;
    size_t n;
    int32_t first_off;
} am_tz_t;
/* Loads /usr/share/zoneinfo/<name> ("UTC": no table). Error: "unknown time zone <name>". */
int am__tz_load(arena_t *a, const char *name, am_tz_t *tz, err_t *err);
int32_t am__tz_offset(const am_tz_t *tz, int64_t unix_s); /* seconds east of UTC */

typedef struct {
    am_range_t *times; /* minutes of day, [start, end) stored as lo, hi-1 */
    size_t n_times;
    am_range_t *weekdays, *days, *months, *years;
    size_t n_weekdays, n_days, n_months, n_years;
    const char *location; /* TZ name, NULL = UTC */
    am_tz_t tz;
} am_timeint_t;

typedef struct {
    const char *name;
    am_timeint_t *ints;
    size_t n_ints;
} am_timeint_set_t;

typedef struct {
    matcher_t **source, **target;
    size_t n_source, n_target;
    const char **equal;
    size_t n_equal;
} am_inhibit_rule_t;

typedef struct {
    int64_t resolve_timeout_ns;
    const char *smtp_from, *smtp_smarthost, *smtp_hello, *smtp_auth_username,
        *smtp_auth_password, *smtp_auth_identity, *smtp_auth_secret;
    int smtp_require_tls;
    const char *slack_api_url, *pagerduty_url;
    am_http_cfg_t http;
} am_global_t;

typedef struct am_config {
    atomic_int refs;
    arena_t *arena;
    char *original; /* the Alertmanager YAML as given */
    am_global_t global;
    am_route_t *route;
    am_receiver_t *receivers;
    size_t n_receivers;
    am_inhibit_rule_t *inhibit;
    size_t n_inhibit;
    am_timeint_set_t *timeints;
    size_t n_timeints;
    const char **templates;
    size_t n_templates;
    tmpl_t *tmpl; /* default templates + the config's template files */
} am_config_t;

/* Parses and validates an Alertmanager YAML config. NULL + ERR_BAD_DATA with the message
 * Alertmanager gives. Caller owns one reference. */
am_config_t *am__config_parse(const char *yaml, size_t len, err_t *err);
am_config_t *am__config_ref(am_config_t *c);
void am__config_unref(am_config_t *c);
const am_receiver_t *am__config_receiver(const am_config_t *c, const char *name);
const am_timeint_set_t *am__config_timeint(const am_config_t *c, const char *name);

/* Receiver sections (am_config_recv.c). `n` is a receiver map node. */
int am__recv_parse(arena_t *a, const am_global_t *g, const am_ynode_t *n, am_receiver_t *out,
                   err_t *err);
int am__http_cfg_parse(arena_t *a, const am_ynode_t *n, am_http_cfg_t *out, err_t *err);
/* Field index of `name` for `kind`, or -1. */
int am__recv_field(am_recv_kind_t kind, const char *name);
const char *am__recv_kind_name(am_recv_kind_t kind); /* "webhook", "slack", ... */

/* Shared YAML decoding helpers (am_config.c). */
int am__y_str(arena_t *a, const am_ynode_t *n, const char **out, err_t *err);
int am__y_bool(const am_ynode_t *n, int *out, err_t *err);
int am__y_int(const am_ynode_t *n, int *out, err_t *err);
int am__y_duration(const am_ynode_t *n, int64_t *ns, err_t *err);
int am__y_strlist(arena_t *a, const am_ynode_t *n, const char ***out, size_t *cnt, err_t *err);
int am__y_unknown(const am_ynode_t *n, const char *const *known, const char *type, err_t *err);
/* Parses one Alertmanager matchers string list (`matchers:` / `*_matchers:`). */
int am__y_matchers(arena_t *a, const am_ynode_t *n, matcher_t ***out, size_t *cnt, err_t *err);

/* ---- routes (am_route.c) ----------------------------------------------------------------- */
/* Fills `out` (cap entries) with the routes matching `ls`, as Route.Match does. Returns the
 * count. */
size_t am__route_match(const am_route_t *r, const labels_t *ls, const am_route_t **out,
                       size_t cap);
void am__route_finish(arena_t *a, am_route_t *r); /* computes key/id and sorts matchers */
/* Group labels of `ls` for this route (heap reference). */
labels_t *am__route_group_labels(const am_route_t *r, const labels_t *ls);
/* Go %q quoting of s into out. */
/* model.LabelSet.String(): {a="b", c="d"} */
void am__lset_string(const labels_t *ls, buf_t *out);
/* Alertmanager matcher String(): name="value" */
void am__matcher_string(const matcher_t *m, buf_t *out);
/* Label-set fingerprint as Prometheus computes it (FNV-1a over sorted pairs). */
uint64_t am__fingerprint(const labels_t *ls);
/* 1 if every matcher matches. */
int am__matchers_match(matcher_t *const *ms, size_t n, const labels_t *ls);

/* ---- time intervals (am_timeint.c) ------------------------------------------------------ */
int am__timeint_parse(arena_t *a, const am_ynode_t *n, am_timeint_t *out, err_t *err);
int am__timeint_set_active(const am_timeint_set_t *s, int64_t now_ns);

/* ---- alerts ------------------------------------------------------------------------------ */
typedef struct am_alert {
    atomic_int refs; /* an alert is immutable once stored; updates replace it */
    labels_t *labels;
    labels_t *annotations;
    int64_t starts_ns, ends_ns, updated_ns;
    char *generator_url;
    int timeout;
    uint64_t fp;
} am_alert_t;

am_alert_t *am__alert_new(void);
am_alert_t *am__alert_ref(am_alert_t *a);
void am__alert_unref(am_alert_t *a);
int am__alert_resolved(const am_alert_t *a, int64_t now_ns);
/* types.Alert.Merge: a new alert combining the stored `old` and the incoming `in`. */
am_alert_t *am__alert_merge(const am_alert_t *old, const am_alert_t *in, int64_t now_ns);
/* types.AlertSlice order (job, instance, then label sets). */
int am__alert_cmp(const am_alert_t *a, const am_alert_t *b);
int am__lset_before(const labels_t *a, const labels_t *b);

/* ---- silences (am_silence.c) ------------------------------------------------------------- */
typedef struct {
    const char *name, *value;
    int is_regex, is_equal;
} am_smatcher_t;

typedef struct am_silence {
    char id[40];
    am_smatcher_t *matchers;
    size_t n_matchers;
    matcher_t **compiled;
    int64_t starts_ns, ends_ns, updated_ns;
    char *created_by, *comment;
} am_silence_t;

typedef enum { AM_SIL_ACTIVE, AM_SIL_PENDING, AM_SIL_EXPIRED } am_sil_state_t;

am_silence_t *am__silence_new(const am_smatcher_t *ms, size_t n, err_t *err); /* compiles */
am_silence_t *am__silence_dup(const am_silence_t *s);
void am__silence_free(am_silence_t *s);
am_sil_state_t am__silence_state(const am_silence_t *s, int64_t now_ns);
const char *am__silence_state_name(am_sil_state_t st);
int am__silence_matches(const am_silence_t *s, const labels_t *ls);
void am__uuid4(char out[37]);

/* ---- tenant instance -------------------------------------------------------------------- */
typedef struct am_group am_group_t;
typedef struct am_tenant am_tenant_t;
typedef struct am_nflog_entry am_nflog_entry_t;

struct am_nflog_entry {
    int64_t ts_ns;
    uint64_t *firing, *resolved; /* sorted alert hashes */
    size_t n_firing, n_resolved;
};

struct am_group {
    atomic_int refs; /* tenant map + scheduler entries + in-flight jobs */
    am_tenant_t *tenant;
    const am_route_t *route; /* of tenant->config at creation */
    am_config_t *config;     /* reference that keeps `route` alive */
    labels_t *labels;        /* group labels */
    char *key;               /* route key ":" group labels */
    char *map_key;           /* route id + group fingerprint */
    hashmap_t alerts;        /* fp hex -> am_alert_t* (reference) */
    int has_flushed;
    int in_flight;
    int dead;           /* removed from the tenant */
    int64_t next_ns;    /* scheduled flush (realtime ns) */
    uint64_t sched_gen; /* under the scheduler lock: bumped on each (re)schedule and on
                         * removal, so stale heap entries are ignored */
};

struct am_tenant {
    atomic_int refs;
    char *id;
    am_t *am;
    pthread_mutex_t mu; /* guards everything below */
    am_config_t *config;
    int from_fallback;
    hashmap_t alerts;   /* fp hex -> am_alert_t* */
    hashmap_t groups;   /* route id "\x1f" group fp -> am_group_t* */
    hashmap_t silences; /* id -> am_silence_t* */
    hashmap_t nflog;    /* receiver "/" integration "/" group key -> am_nflog_entry_t* */
    hashmap_t limiters; /* receiver "/" integration "/" index -> token bucket (am_ratelimit.c) */
    int64_t alerts_bytes; /* am__alert_size of every alert held (max_alerts_size_bytes) */
    int64_t last_gc_ns;
    int loaded_state;
};

am_tenant_t *am__tenant_ref(am_tenant_t *t);
void am__tenant_limits(const am_tenant_t *t, am_limits_t *out); /* zeros without a source */
/* notification_rate_limit of `integration` ("webhook", ...); 0 without a source. */
double am__tenant_rate_limit(const am_tenant_t *t, const char *integration);
void am__tenant_unref(am_tenant_t *t);

/* Alerts (am_alerts.c); tenant->mu held. */
int am__alerts_put(am_tenant_t *t, am_alert_t *in, int64_t now_ns); /* steals `in` */
void am__alerts_gc(am_tenant_t *t, int64_t now_ns);
/* Status of one alert now; fills silenced/inhibited ids into the buffers given (may be NULL). */
typedef struct {
    const char **silenced_by;
    size_t n_silenced;
    uint64_t *inhibited_by;
    size_t n_inhibited;
    const char **muted_by;
    size_t n_muted;
} am_status_t;
void am__alert_status(am_tenant_t *t, arena_t *a, const am_alert_t *al, int64_t now_ns,
                      am_status_t *st);
int am__inhibited(am_tenant_t *t, const labels_t *ls, int64_t now_ns, uint64_t *by);
int am__silenced(am_tenant_t *t, const labels_t *ls, int64_t now_ns, arena_t *a,
                 const char ***ids, size_t *n);
/* Time-interval muting of `route` now: the names of the intervals muting it. */
size_t am__route_muted(const am_config_t *c, const am_route_t *r, int64_t now_ns,
                       const char **names, size_t cap);

/* Silence store (am_silence.c); mu held. Changed silences are copied into `ch` so that
 * the caller persists them once unlocked (then am__changed_fini). `s` is stolen. */
typedef struct {
    am_silence_t *items[4];
    size_t n;
} am_changed_t;
int am__silence_set(am_tenant_t *t, am_silence_t *s, int64_t now_ns, am_changed_t *ch,
                    err_t *err);
int am__silence_expire(am_tenant_t *t, const char *id, int64_t now_ns, am_changed_t *ch,
                       err_t *err);
void am__silences_gc(am_tenant_t *t, int64_t now_ns, int64_t retention_ns);
void am__changed_fini(am_changed_t *ch);

/* Notification rate limits (am_ratelimit.c), Mimir's rateLimitedNotifier: one token bucket
 * per integration of the running config. mu held. */
/* 1 if one notification of `in` (of receiver `recv`) may go out now; 0: rate-limited. */
int am__ratelimit_allow(am_tenant_t *t, const char *recv, const am_integration_t *in,
                        int64_t now_ns);
/* Burst as Mimir derives it from a rate (0 or +inf: no limit, negative: none allowed). */
double am__ratelimit_burst(double rate);
void am__ratelimit_reset(am_tenant_t *t); /* a new config starts with full buckets */
void am__ratelimit_fini(am_tenant_t *t);

/* Dispatch (am_dispatch.c). */
void am__dispatch_alert(am_tenant_t *t, am_alert_t *a, int64_t now_ns); /* mu held */
void am__dispatch_reset(am_tenant_t *t);                                /* mu held */
void am__dispatch_maintain(am_tenant_t *t);                             /* mu held */
void am__group_schedule(am_group_t *g, int64_t due_ns); /* mu held */
void am__group_kill(am_group_t *g);                      /* mu held; drops the map's ref */
void am__group_flush(am_group_t *g); /* am_flush.c; takes mu itself */
void am__tenants_maintain(am_t *am, int64_t now_ns);  /* am_tenant.c */
int am__sched_start(am_t *am, err_t *err);
void am__sched_stop(am_t *am);
void am__group_unref(am_group_t *g);

/* Notifications (am_notify.c). */
typedef struct {
    const char *receiver, *group_key, *external_url, *status;
    labels_t *group_labels;
    am_alert_t **alerts; /* sorted, ends zeroed when firing */
    size_t n_alerts;
    int64_t now_ns;
} am_notice_t;
typedef struct {
    buf_t body;
    const char *url;
    const char *content_type;
} am_request_t;
/* Formats the request body of one integration without I/O (templates expanded). */
int am__notify_format(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                      am_request_t *req, err_t *err);
/* Formats and sends. Retryable failures: -1 with ERR_UNAVAILABLE; permanent: other codes. */
int am__notify(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
               err_t *err);
/* POSTs body to url with the integration's http_config (am_http.c). */
int am__http_post(const am_http_cfg_t *hc, const char *url, const char *content_type,
                  const buf_t *body, int64_t timeout_ns, err_t *err);
void am__metrics_notify(const char *tenant, const am_integration_t *in, int ok, double secs);
void am__metrics_received(const char *tenant, int firing, int resolved, int invalid);
void am__metrics_limited(const char *tenant); /* an alert refused by the tenant's limits */
void am__metrics_rate_limited(const char *tenant, const am_integration_t *in);
void am__metrics_group_limited(const char *tenant); /* an aggregation group not created */
void am__metrics_alerts(const char *tenant, int active, int suppressed);
/* Go time.Time JSON text (RFC 3339 with trimmed nanoseconds, UTC); 0 -> Go's zero time. */
void am__time_format(int64_t ns, char *out, size_t n);
void am__time_format_ms(int64_t ns, char *out, size_t n); /* v2 API: .000 millis */
const char *am__notice_status(const am_notice_t *n); /* "firing" / "resolved" */
/* The template.Data of a notice as JSON (the webhook payload without its extra fields). */
void am__notice_data_json(const am_notice_t *n, buf_t *out);
/* Slack and PagerDuty bodies (am_notify_tmpl.c). */
int am__notify_format_tmpl(const am_integration_t *in, const am_config_t *c,
                           const am_notice_t *n, am_request_t *req, err_t *err);
/* Go encoding/json compatible writers (am_gojson.c). */
typedef struct {
    buf_t *b;
    int first;
} am_gobj_t;
void am__gojson_str(buf_t *out, const char *s);
void am__gj_begin(am_gobj_t *o, buf_t *b);
void am__gj_end(am_gobj_t *o);
void am__gj_key(am_gobj_t *o, const char *k);
void am__gj_str(am_gobj_t *o, const char *k, const char *v, int omitempty);
void am__gj_lset(buf_t *b, const labels_t *ls); /* map[string]string: sorted keys */
void am__sha256_hex(const char *s, char out[65]);
/* Email: renders and sends over SMTP (am_email.c). */
int am__email_format(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                     buf_t *msg, err_t *err);
void am__curl_init(void);
int am__email_send(const am_integration_t *in, const am_config_t *c, const am_notice_t *n,
                   err_t *err);
void am__nflog_entry_free(void *e);
void am__webhook_json(const am_notice_t *n, int max_alerts, buf_t *out);

/* Persistence (am_store.c): one sqlite file per tenant under data_dir. No lock held. */
int am__store_load(am_tenant_t *t, err_t *err);
int am__store_silence(am_t *am, const char *tenant, const am_silence_t *s, err_t *err);
int am__store_nflog(am_t *am, const char *tenant, const char *key, const am_nflog_entry_t *e,
                    err_t *err);
void am__store_gc(am_t *am, const char *tenant, int64_t now_ns);

/* ---- API (am_api*.c) --------------------------------------------------------------- */
typedef struct {
    matcher_t **ms; /* `filter` matchers */
    size_t n;
    matcher_t *receiver; /* `receiver` regex or NULL */
} am_filter_t;
void am__reply_jstr(http_req_t *r, int status, const char *msg); /* a JSON string body */
void am__reply_code(http_req_t *r, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5))); /* {"code":…,"message":…} */
void am__reply_raw(http_req_t *r, int status, buf_t *body); /* steals a JSON body */
/* The request's tenant instance; on failure the reply (412/500) is already sent. */
am_tenant_t *am__api_tenant(http_req_t *r, am_t *am);
int am__api_bool(http_req_t *r, const char *name, int *out); /* -1: replied 400 */
int am__api_filter(http_req_t *r, am_filter_t *f);            /* -1: replied 400 */
int am__filter_match(const am_filter_t *f, const labels_t *ls);
int am__api_register(http_server_t *s, am_t *am, err_t *err);
int am__cfgapi_register(http_server_t *s, am_t *am, err_t *err);
int am__h_alerts(http_req_t *r, void *ctx, err_t *err);
int am__h_alert_groups(http_req_t *r, void *ctx, err_t *err);
int am__h_silences(http_req_t *r, void *ctx, err_t *err);
int am__h_silence(http_req_t *r, void *ctx, err_t *err);
/* Top-level object. */
struct am {
    am_opts_t opts;
    char *prefix; /* path of external_url */
    am_config_t *fallback; /* under mu */
    pthread_rwlock_t mu;   /* guards tenants and fallback */
    hashmap_t tenants;
    void *sched;         /* am_dispatch.c scheduler */
    void *pool;          /* workpool for sends */
    atomic_int stopping; /* set by am_free: retries give up */
    int64_t start_ns;
};

/* Registry (am_tenant.c). New reference, or NULL: ERR_PRECONDITION when no config exists. */
am_tenant_t *am__tenant_get(am_t *am, const char *id, err_t *err);
/* Replaces the tenant's running config (steals c; NULL: back to the fallback, or stop). */
int am__tenant_apply(am_t *am, const char *id, am_config_t *c, err_t *err);
void am__tenants_free(am_t *am); /* shutdown, after the scheduler stopped */
void am__tenants_refallback(am_t *am); /* after am_reload */
am_config_t *am__fallback_ref(am_t *am); /* new reference or NULL */
/* Stored config (filesystem backend). */
char *am__cfgstore_read(am_t *am, const char *tenant); /* heap text or NULL */
int am__cfgstore_write(am_t *am, const char *tenant, const char *text, err_t *err);
int am__cfgstore_delete(am_t *am, const char *tenant, err_t *err);
/* Parses and validates Mimir's {alertmanager_config, template_files} YAML (am_usercfg.c).
 * An empty alertmanager_config: NULL + ERR_PRECONDITION with Mimir's message. */
am_config_t *am__user_config_parse(am_t *am, const char *text, size_t len, err_t *err);
/* Loads `templates:` of a config: from `files` (Mimir template_files, name -> text), or
 * when files is NULL by globbing relative to `dir`. */
int am__config_templates(am_config_t *c, const am_ynode_t *files, const char *dir, err_t *err);
/* Renders a stored user config for GET /api/v1/alerts, as YAML or JSON. */
int am__user_config_render(const char *text, int as_yaml, buf_t *out, err_t *err);

#endif
