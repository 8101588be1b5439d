/* common/template.h - Go text/template engine for Prometheus alert annotations, Alertmanager
 * notifications and Loki line_format/label_format, with each upstream's function set and
 * herald's own copy of Alertmanager's default notification templates.
 *
 * Ownership: a tmpl_t is a set of named templates (Go's *template.Template with its
 * associated templates). It is built single-threaded (tmpl_new, tmpl_parse*, tmpl_add_*),
 * then shared read-only: tmpl_execute* may run on many threads at once. It is refcounted
 * (atomic): tmpl_ref/tmpl_unref; tmpl_new returns one reference.
 * Execution allocates temporaries in a private arena per call and writes into the caller's
 * buf_t; bounded by tmpl_limits_t (output bytes, steps, nesting depth), so a hostile template
 * ends with an error, never a hang.
 * Errors are worded as Go's: `template: NAME:1:12: executing "NAME" at <.Foo>: ...`,
 * `template: NAME:1: function "x" not defined`; code ERR_BAD_DATA (parse) or
 * ERR_EXECUTION (execute). */
#ifndef HERALD_COMMON_TEMPLATE_H
#define HERALD_COMMON_TEMPLATE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/labels.h"

typedef struct tmpl tmpl_t; /* opaque */

/* Function sets, OR-able; the Go built-ins (and, or, not, len, index, slice, print, printf,
 * println, eq, ne, lt, le, gt, ge, html, js, urlquery, call) are always present. */
enum {
    TMPL_FUNCS_PROMETHEUS = 1 << 0,   /* Prometheus rule annotations/labels */
    TMPL_FUNCS_ALERTMANAGER = 1 << 1, /* Alertmanager notification templates */
    TMPL_FUNCS_LOKI = 1 << 2,         /* Loki line_format / label_format */
};

/* Execution bounds; a zero field takes the default shown. */
typedef struct {
    size_t max_output_bytes; /* 1 MiB: more -> ERR_EXECUTION "output too large" */
    size_t max_steps;        /* 1,000,000 nodes evaluated */
    int max_depth;           /* 1000 nested template/range/if levels (Go: 100000) */
    size_t max_arena_bytes;  /* 64 MiB of temporaries */
} tmpl_limits_t;

/* ---- building ------------------------------------------------------------------------- */

/* An empty set named `name` (the name used by tmpl_execute with name NULL and in error texts)
 * with the function sets `funcs`. Never NULL. */
tmpl_t *tmpl_new(const char *name, unsigned funcs);
tmpl_t *tmpl_ref(tmpl_t *t);
void tmpl_unref(tmpl_t *t); /* NULL is a no-op */

/* Parses `text` into the set as Go's t.New(name).Parse(text) does: the top level becomes
 * template `name` (unless it is empty/whitespace only and `name` is already defined), each
 * {{define}} / {{block}} a template of its own, redefinition replaces. Parse error: -1 with
 * ERR_BAD_DATA `template: NAME:LINE: ...`; the set is then unchanged. Not thread-safe: only
 * before the set is shared. */
int tmpl_parse(tmpl_t *t, const char *name, const char *text, err_t *err);
/* Adds herald's copy of Alertmanager 0.25's default.tmpl (`__subject`, `__description`,
 * `__text_alert_list`, `slack.default.*`, `pagerduty.default.*`, `email.default.subject`,
 * `opsgenie.default.*`, `wechat.default.*`, `victorops.default.*`, `pushover.default.*`,
 * `sns.default.*`, `telegram.default.*`, `discord.default.*`, `webex.default.*`, ...), and
 * herald's own `email.default.html` (not Alertmanager's markup).
 * Call it before the user's files, as Alertmanager does, so user definitions win. */
int tmpl_add_am_defaults(tmpl_t *t, err_t *err);
/* 1 if a template called `name` is defined (with a non-empty body or by {{define}}). */
int tmpl_has(const tmpl_t *t, const char *name);

/* ---- generic execution ---------------------------------------------------------------- */

/* Executes template `name` (NULL: the set's own name) with `data` as dot. JSON objects are
 * maps (field syntax `.key` and `index` both work, range in key order), arrays are lists,
 * integers are Go int, reals float64, null is nil. `limits` may be NULL. On error the output
 * written so far stays in `out` (as Go leaves it in the writer) and -1 is returned. */
int tmpl_execute_json(const tmpl_t *t, const char *name, const json_t *data,
                      const tmpl_limits_t *limits, buf_t *out, err_t *err);

/* ---- Alertmanager --------------------------------------------------------------------- */

/* Executes with Alertmanager's template.Data built from `payload`, an object in the webhook
 * payload shape: {"receiver","status","alerts":[{"status","labels","annotations","startsAt",
 * "endsAt","generatorURL","fingerprint"}],"groupLabels","commonLabels","commonAnnotations",
 * "externalURL"} (missing keys are empty). Fields are then seen with Go's names (.Receiver,
 * .Alerts.Firing, .CommonLabels.SortedPairs, .StartsAt as time.Time, ...). `payload` is
 * borrowed. Use tmpl_t built with TMPL_FUNCS_ALERTMANAGER. */
int tmpl_execute_am(const tmpl_t *t, const char *name, const json_t *payload,
                    const tmpl_limits_t *limits, buf_t *out, err_t *err);
/* Alertmanager's tmpl.ExecuteTextString: parses `text` as an extra template of a private
 * copy-on-use view of `t` and runs it with `payload` (as above). Empty text gives "". */
int tmpl_am_expand(const tmpl_t *t, const char *text, const json_t *payload,
                   const tmpl_limits_t *limits, buf_t *out, err_t *err);

/* Alertmanager's tmpl.ExecuteHTMLString (e-mail bodies): as tmpl_am_expand, but printed values
 * are escaped for their HTML context the way Go's html/template escapes them (element text,
 * quoted attributes, URL attributes), HTML comments are dropped, and safeHtml values are not
 * escaped in element text. <script>/<style> contents are not modelled. */
int tmpl_am_expand_html(const tmpl_t *t, const char *text, const json_t *payload,
                        const tmpl_limits_t *limits, buf_t *out, err_t *err);

/* ---- Prometheus ----------------------------------------------------------------------- */

typedef struct {
    const label_t *labels; /* borrowed */
    size_t n_labels;
    double value;
} tmpl_sample_t;

/* The ruler's query callback for the `query` function: evaluates PromQL `query` (instant,
 * at ts_ms) and returns its vector (a scalar as one sample without labels). Results live in
 * arena `a` (freed after execution). Error: -1 with err set (becomes the template error). */
typedef int (*tmpl_query_fn)(void *arg, const char *query, int64_t ts_ms, arena_t *a,
                             tmpl_sample_t **out, size_t *n_out, err_t *err);

typedef struct {
    const label_t *labels; /* $labels: the alert's labels (borrowed) */
    size_t n_labels;
    const label_t *external_labels; /* $externalLabels */
    size_t n_external_labels;
    const char *external_url; /* $externalURL, also externalURL/pathPrefix functions */
    double value;             /* $value */
    int64_t ts_ms;            /* evaluation time: passed to query */
    tmpl_query_fn query;      /* NULL: query fails with an error */
    void *query_arg;
} tmpl_prom_data_t;

/* Prometheus' template.Expander.Expand for an alerting rule's annotation or label `text`:
 * defines $labels, $externalLabels, $externalURL, $value, parses `text` as template `name`
 * (the ruler passes "__alert_" + alertname) with the Prometheus function set and runs it.
 * On success returns 0 with the text in `out`. On failure returns -1, err holds
 * `error parsing template NAME: ...` or `error executing template NAME: ...`, and `out`
 * holds what Prometheus stores instead: `<error expanding template: ...>`. Uses `cache`
 * when not NULL. Thread-safe. */
typedef struct tmpl_cache tmpl_cache_t;
int tmpl_prom_expand(tmpl_cache_t *cache, const char *name, const char *text,
                     const tmpl_prom_data_t *data, buf_t *out, err_t *err);

/* ---- Loki ----------------------------------------------------------------------------- */

/* Loki line_format / label_format: dot is the entry's labels (a map of strings); functions
 * __line__ and __timestamp__ give the line and its time (ts_ns). `t` is built with
 * TMPL_FUNCS_LOKI. */
int tmpl_execute_loki(const tmpl_t *t, const label_t *labels, size_t n_labels, const char *line,
                      int64_t ts_ns, const tmpl_limits_t *limits, buf_t *out, err_t *err);

/* ---- cache of compiled templates ------------------------------------------------------ */

/* A bounded, thread-safe map (funcs, name, text) -> compiled tmpl_t, so rules re-evaluated
 * every interval parse their annotations once. `max_entries` 0 means 4096; when full, the
 * oldest entry is dropped. */
tmpl_cache_t *tmpl_cache_new(size_t max_entries);
void tmpl_cache_free(tmpl_cache_t *c); /* NULL is a no-op; cached sets are unref'd */
/* Compiled set for `text` parsed as template `name` with `funcs` (new reference, caller
 * unrefs). Parse error: NULL + ERR_BAD_DATA (not cached). */
tmpl_t *tmpl_cache_get(tmpl_cache_t *c, unsigned funcs, const char *name, const char *text,
                       err_t *err);

/* ---- helpers shared with callers ------------------------------------------------------ */

/* Go's html/template-free HTML escaping as text/template's `html` function does it. */
void tmpl_html_escape(const char *s, size_t n, buf_t *out);

#endif
