/* alertmanager/am_config.c - the Alertmanager YAML (global, route tree, inhibit_rules,
 * time intervals, templates) into an immutable am_config_t, validated as Alertmanager
 * validates it and with its error wording. Receivers are decoded in am_config_recv.c.
 *
 * DESIGN: the YAML is first parsed into a tree (am_yaml.c), then decoded section by section
 * into structs allocated in the config's arena; one arena_free releases a whole config once
 * its last reference goes. Unknown keys fail as Go's yaml.UnmarshalStrict fails. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"
#include "common/timeutil.h"

#define DEFAULT_GROUP_WAIT (30 * AM_NS_PER_S)
#define DEFAULT_GROUP_INTERVAL (5 * 60 * AM_NS_PER_S)
#define DEFAULT_REPEAT_INTERVAL (4 * 3600 * AM_NS_PER_S)
#define DEFAULT_RESOLVE_TIMEOUT (5 * 60 * AM_NS_PER_S)

/* ---- scalar decoders ---------------------------------------------------------------- */

static int type_error(const am_ynode_t *n, const char *want, err_t *err)
{
    return err_set(err, ERR_BAD_DATA,
                   "yaml: unmarshal errors:\n  line %d: cannot unmarshal !!%s `%s` into %s",
                   n->line, n->kind == AM_Y_MAP ? "map" : n->kind == AM_Y_SEQ ? "seq" : "str",
                   n->str != NULL ? n->str : "", want);
}

int am__y_str(arena_t *a, const am_ynode_t *n, const char **out, err_t *err)
{
    if (n == NULL || n->kind == AM_Y_NULL) {
        *out = NULL;
        return 0;
    }
    if (n->kind != AM_Y_SCALAR) {
        return type_error(n, "string", err);
    }
    *out = n->str;
    (void)a;
    return 0;
}

int am__y_bool(const am_ynode_t *n, int *out, err_t *err)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", "y", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off", "n", NULL};
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    for (int i = 0; n->kind == AM_Y_SCALAR && yes[i] != NULL; i++) {
        if (strcmp(n->str, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(n->str, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return type_error(n, "bool", err);
}

int am__y_int(const am_ynode_t *n, int *out, err_t *err)
{
    char *end;
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_SCALAR) {
        return type_error(n, "int", err);
    }
    long v = strtol(n->str, &end, 10);
    if (*n->str == '\0' || *end != '\0') {
        return type_error(n, "int", err);
    }
    *out = (int)v;
    return 0;
}

int am__y_duration(const am_ynode_t *n, int64_t *ns, err_t *err)
{
    int64_t ms;
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_SCALAR) {
        return type_error(n, "model.Duration", err);
    }
    err_t e = {0};
    if (duration_parse(n->str, &ms, &e) < 0) {
        return err_set(err, ERR_BAD_DATA, "not a valid duration string: \"%s\"", n->str);
    }
    *ns = ms * AM_NS_PER_MS;
    return 0;
}

int am__y_strlist(arena_t *a, const am_ynode_t *n, const char ***out, size_t *cnt, err_t *err)
{
    *out = NULL;
    *cnt = 0;
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_SEQ) {
        return type_error(n, "[]string", err);
    }
    *out = arena_calloc(a, (n->n + 1) * sizeof(char *));
    for (size_t i = 0; *out != NULL && i < n->n; i++) {
        if (am__y_str(a, n->vals[i], &(*out)[i], err) < 0) {
            return -1;
        }
        if ((*out)[i] == NULL) {
            (*out)[i] = "";
        }
    }
    *cnt = n->n;
    return 0;
}

int am__y_unknown(const am_ynode_t *n, const char *const *known, const char *type, err_t *err)
{
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_MAP) {
        return type_error(n, type, err);
    }
    for (size_t i = 0; i < n->n; i++) {
        size_t k = 0;
        while (known[k] != NULL && strcmp(known[k], n->keys[i]) != 0) {
            k++;
        }
        if (known[k] == NULL) {
            return err_set(err, ERR_BAD_DATA,
                           "yaml: unmarshal errors:\n  line %d: field %s not found in type %s",
                           n->vals[i]->line, n->keys[i], type);
        }
    }
    return 0;
}

/* Appends the matchers of one `matchers:` string. */
static int parse_matcher_string(arena_t *a, const char *s, matcher_t ***out, size_t *cnt,
                                size_t *cap, err_t *err)
{
    size_t n = 0;
    const char *text = s[0] == '{' ? s : arena_sprintf(a, "{%s}", s);
    matcher_t **ms = matchers_parse(a, text, &n, 1, err);
    if (ms == NULL && n != 0) {
        return -1;
    }
    if (ms == NULL && err_is_set(err)) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (*cnt == *cap) {
            size_t ncap = *cap ? *cap * 2 : 4;
            *out = arena_realloc(a, *out, *cap * sizeof(**out), ncap * sizeof(**out));
            *cap = ncap;
        }
        (*out)[(*cnt)++] = ms[i];
    }
    return 0;
}

int am__y_matchers(arena_t *a, const am_ynode_t *n, matcher_t ***out, size_t *cnt, err_t *err)
{
    const char **strs;
    size_t ns, cap = *cnt;
    if (am__y_strlist(a, n, &strs, &ns, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ns; i++) {
        if (parse_matcher_string(a, strs[i], out, cnt, &cap, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Legacy match / match_re maps. */
static int parse_legacy(arena_t *a, const am_ynode_t *n, int is_re, matcher_t ***out,
                        size_t *cnt, err_t *err)
{
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_MAP) {
        return type_error(n, "map[string]string", err);
    }
    *out = arena_realloc(a, *out, *cnt * sizeof(**out), (*cnt + n->n) * sizeof(**out));
    for (size_t i = 0; i < n->n; i++) {
        const char *v = n->vals[i]->str != NULL ? n->vals[i]->str : "";
        if (!labels_is_valid_name(n->keys[i], strlen(n->keys[i]))) {
            return err_set(err, ERR_BAD_DATA, "invalid label name %s", n->keys[i]);
        }
        matcher_t *m = matcher_new_arena_flags(a, is_re ? MATCH_RE : MATCH_EQ, n->keys[i], v,
                                               MATCHER_AM_REGEX, err);
        if (m == NULL) {
            return -1;
        }
        (*out)[(*cnt)++] = m;
    }
    return 0;
}

/* ---- route -------------------------------------------------------------------------- */

static const char *const route_keys[] = {
    "receiver",       "group_by",       "match",           "match_re",
    "matchers",       "continue",       "routes",          "group_wait",
    "group_interval", "repeat_interval", "mute_time_intervals", "active_time_intervals",
    NULL};

static int route_group_by(arena_t *a, const am_ynode_t *n, am_route_t *r, err_t *err)
{
    const am_ynode_t *gb = am__ymap_get(n, "group_by");
    if (gb == NULL) {
        return 0;
    }
    if (am__y_strlist(a, gb, &r->group_by, &r->n_group_by, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < r->n_group_by; i++) {
        const char *ln = r->group_by[i];
        if (strcmp(ln, "...") == 0) {
            r->group_by_all = 1;
            continue;
        }
        if (!labels_is_valid_name(ln, strlen(ln))) {
            return err_set(err, ERR_BAD_DATA, "invalid label name \"%s\" in group_by list", ln);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->group_by[j], ln) == 0) {
                return err_set(err, ERR_BAD_DATA, "duplicated label \"%s\" in group_by", ln);
            }
        }
    }
    if (r->group_by_all && r->n_group_by > 1) {
        return err_set(err, ERR_BAD_DATA,
                       "cannot have wildcard group_by (`...`) and other other labels at the "
                       "same time");
    }
    if (r->group_by_all) {
        r->n_group_by = 0;
    }
    return 0;
}

static int route_timers(const am_ynode_t *n, am_route_t *r, err_t *err)
{
    const am_ynode_t *gi = am__ymap_get(n, "group_interval");
    const am_ynode_t *ri = am__ymap_get(n, "repeat_interval");
    if (am__y_duration(am__ymap_get(n, "group_wait"), &r->group_wait_ns, err) < 0 ||
        am__y_duration(gi, &r->group_interval_ns, err) < 0 ||
        am__y_duration(ri, &r->repeat_interval_ns, err) < 0) {
        return -1;
    }
    if (gi != NULL && gi->kind != AM_Y_NULL && r->group_interval_ns == 0) {
        return err_set(err, ERR_BAD_DATA, "group_interval cannot be zero");
    }
    if (ri != NULL && ri->kind != AM_Y_NULL && r->repeat_interval_ns == 0) {
        return err_set(err, ERR_BAD_DATA, "repeat_interval cannot be zero");
    }
    return 0;
}

static am_route_t *route_parse(arena_t *a, const am_ynode_t *n, am_route_t *parent,
                               err_t *err);

static int route_children(arena_t *a, const am_ynode_t *n, am_route_t *r, err_t *err)
{
    const am_ynode_t *rs = am__ymap_get(n, "routes");
    if (rs == NULL || rs->kind == AM_Y_NULL) {
        return 0;
    }
    if (rs->kind != AM_Y_SEQ) {
        return type_error(rs, "[]*config.Route", err);
    }
    r->routes = arena_calloc(a, (rs->n + 1) * sizeof(*r->routes));
    for (size_t i = 0; r->routes != NULL && i < rs->n; i++) {
        r->routes[i] = route_parse(a, rs->vals[i], r, err);
        if (r->routes[i] == NULL) {
            return -1;
        }
    }
    r->n_routes = rs->n;
    return 0;
}

/* Unset options inherit from the parent (or the defaults for the root). */
static void route_inherit(am_route_t *r, const am_route_t *p, const am_ynode_t *n)
{
    if (r->receiver == NULL && p != NULL) {
        r->receiver = p->receiver;
    }
    if (am__ymap_get(n, "group_by") == NULL && p != NULL) {
        r->group_by = p->group_by;
        r->n_group_by = p->n_group_by;
        r->group_by_all = p->group_by_all;
    }
    if (r->group_wait_ns < 0) {
        r->group_wait_ns = p != NULL ? p->group_wait_ns : DEFAULT_GROUP_WAIT;
    }
    if (r->group_interval_ns < 0) {
        r->group_interval_ns = p != NULL ? p->group_interval_ns : DEFAULT_GROUP_INTERVAL;
    }
    if (r->repeat_interval_ns < 0) {
        r->repeat_interval_ns = p != NULL ? p->repeat_interval_ns : DEFAULT_REPEAT_INTERVAL;
    }
}

static am_route_t *route_parse(arena_t *a, const am_ynode_t *n, am_route_t *parent, err_t *err)
{
    am_route_t *r = arena_calloc(a, sizeof(*r));
    if (r == NULL || am__y_unknown(n, route_keys, "config.plain", err) < 0) {
        return NULL;
    }
    r->parent = parent;
    r->group_wait_ns = r->group_interval_ns = r->repeat_interval_ns = -1;
    if (am__y_str(a, am__ymap_get(n, "receiver"), &r->receiver, err) < 0 ||
        route_group_by(a, n, r, err) < 0 ||
        parse_legacy(a, am__ymap_get(n, "match"), 0, &r->matchers, &r->n_matchers, err) < 0 ||
        parse_legacy(a, am__ymap_get(n, "match_re"), 1, &r->matchers, &r->n_matchers, err) < 0 ||
        am__y_matchers(a, am__ymap_get(n, "matchers"), &r->matchers, &r->n_matchers, err) < 0 ||
        am__y_bool(am__ymap_get(n, "continue"), &r->cont, err) < 0 ||
        route_timers(n, r, err) < 0 ||
        am__y_strlist(a, am__ymap_get(n, "mute_time_intervals"), &r->mute_ti, &r->n_mute_ti,
                      err) < 0 ||
        am__y_strlist(a, am__ymap_get(n, "active_time_intervals"), &r->active_ti,
                      &r->n_active_ti, err) < 0) {
        return NULL;
    }
    route_inherit(r, parent, n);
    am__route_finish(a, r);
    if (route_children(a, n, r, err) < 0) {
        return NULL;
    }
    return r;
}

static int route_check_refs(const am_config_t *c, const am_route_t *r, err_t *err)
{
    if (r->receiver != NULL && am__config_receiver(c, r->receiver) == NULL) {
        return err_set(err, ERR_BAD_DATA, "undefined receiver \"%s\" used in route",
                       r->receiver);
    }
    for (size_t i = 0; i < r->n_mute_ti + r->n_active_ti; i++) {
        const char *name = i < r->n_mute_ti ? r->mute_ti[i] : r->active_ti[i - r->n_mute_ti];
        if (am__config_timeint(c, name) == NULL) {
            return err_set(err, ERR_BAD_DATA, "undefined time interval \"%s\" used in route",
                           name);
        }
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        if (route_check_refs(c, r->routes[i], err) < 0) {
            return -1;
        }
    }
    return 0;
}

static int root_route(am_config_t *c, const am_ynode_t *n, err_t *err)
{
    if (n == NULL || n->kind == AM_Y_NULL) {
        return err_set(err, ERR_BAD_DATA, "no routes provided");
    }
    c->route = route_parse(c->arena, n, NULL, err);
    if (c->route == NULL) {
        return -1;
    }
    if (c->route->receiver == NULL || c->route->receiver[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "root route must specify a default receiver");
    }
    if (c->route->n_matchers > 0) {
        return err_set(err, ERR_BAD_DATA, "root route must not have any matchers");
    }
    if (c->route->cont) {
        return err_set(err, ERR_BAD_DATA, "cannot have continue in root route");
    }
    if (c->route->n_mute_ti > 0) {
        return err_set(err, ERR_BAD_DATA, "root route must not have any mute time intervals");
    }
    if (c->route->n_active_ti > 0) {
        return err_set(err, ERR_BAD_DATA,
                       "root route must not have any active time intervals");
    }
    return 0;
}

/* ---- global ------------------------------------------------------------------------- */

static const char *const global_keys[] = {
    "resolve_timeout",   "http_config",        "smtp_from",          "smtp_hello",
    "smtp_smarthost",    "smtp_auth_username", "smtp_auth_password", "smtp_auth_password_file",
    "smtp_auth_secret",  "smtp_auth_identity", "smtp_require_tls",   "smtp_tls_config",
    "slack_api_url",     "slack_api_url_file", "pagerduty_url",      "opsgenie_api_url",
    "opsgenie_api_key",  "opsgenie_api_key_file", "wechat_api_url",  "wechat_api_secret",
    "wechat_api_corp_id", "victorops_api_url", "victorops_api_key",  "victorops_api_key_file",
    "telegram_api_url",  "webex_api_url",      NULL};

static int global_parse(am_config_t *c, const am_ynode_t *n, err_t *err)
{
    am_global_t *g = &c->global;
    arena_t *a = c->arena;
    g->resolve_timeout_ns = DEFAULT_RESOLVE_TIMEOUT;
    g->smtp_hello = "localhost";
    g->smtp_require_tls = 1;
    g->pagerduty_url = "https://events.pagerduty.com/v2/enqueue";
    g->http.follow_redirects = 1;
    if (am__y_unknown(n, global_keys, "config.plain", err) < 0) {
        return -1;
    }
    const char *pd = NULL;
    if (am__y_duration(am__ymap_get(n, "resolve_timeout"), &g->resolve_timeout_ns, err) < 0 ||
        am__http_cfg_parse(a, am__ymap_get(n, "http_config"), &g->http, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_from"), &g->smtp_from, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_smarthost"), &g->smtp_smarthost, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_auth_username"), &g->smtp_auth_username, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_auth_password"), &g->smtp_auth_password, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_auth_identity"), &g->smtp_auth_identity, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "smtp_auth_secret"), &g->smtp_auth_secret, err) < 0 ||
        am__y_bool(am__ymap_get(n, "smtp_require_tls"), &g->smtp_require_tls, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "slack_api_url"), &g->slack_api_url, err) < 0 ||
        am__y_str(a, am__ymap_get(n, "pagerduty_url"), &pd, err) < 0) {
        return -1;
    }
    if (pd != NULL) {
        g->pagerduty_url = pd;
    }
    const char *hello = NULL;
    if (am__y_str(a, am__ymap_get(n, "smtp_hello"), &hello, err) < 0) {
        return -1;
    }
    if (hello != NULL) {
        g->smtp_hello = hello;
    }
    return 0;
}

/* ---- inhibit rules, time intervals, receivers --------------------------------------- */

static const char *const inhibit_keys[] = {"source_match", "source_match_re", "source_matchers",
                                           "target_match", "target_match_re", "target_matchers",
                                           "equal",        NULL};

static int inhibit_parse(arena_t *a, const am_ynode_t *n, am_inhibit_rule_t *r, err_t *err)
{
    if (am__y_unknown(n, inhibit_keys, "config.plain", err) < 0 ||
        parse_legacy(a, am__ymap_get(n, "source_match"), 0, &r->source, &r->n_source, err) < 0 ||
        parse_legacy(a, am__ymap_get(n, "source_match_re"), 1, &r->source, &r->n_source, err) <
            0 ||
        am__y_matchers(a, am__ymap_get(n, "source_matchers"), &r->source, &r->n_source, err) <
            0 ||
        parse_legacy(a, am__ymap_get(n, "target_match"), 0, &r->target, &r->n_target, err) < 0 ||
        parse_legacy(a, am__ymap_get(n, "target_match_re"), 1, &r->target, &r->n_target, err) <
            0 ||
        am__y_matchers(a, am__ymap_get(n, "target_matchers"), &r->target, &r->n_target, err) <
            0 ||
        am__y_strlist(a, am__ymap_get(n, "equal"), &r->equal, &r->n_equal, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < r->n_equal; i++) {
        if (!labels_is_valid_name(r->equal[i], strlen(r->equal[i]))) {
            return err_set(err, ERR_BAD_DATA, "invalid label name \"%s\" in equal list",
                           r->equal[i]);
        }
    }
    return 0;
}

/* Decodes a sequence section with one decoder per item into an arena array. */
typedef int (*item_fn)(am_config_t *c, const am_ynode_t *n, void *out, err_t *err);

static int seq_parse(am_config_t *c, const am_ynode_t *n, size_t elem, void **out, size_t *cnt,
                     item_fn fn, err_t *err)
{
    *cnt = 0;
    if (n == NULL || n->kind == AM_Y_NULL) {
        return 0;
    }
    if (n->kind != AM_Y_SEQ) {
        return type_error(n, "[]config.plain", err);
    }
    char *arr = arena_calloc(c->arena, (n->n + 1) * elem);
    if (arr == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (fn(c, n->vals[i], arr + i * elem, err) < 0) {
            return -1;
        }
    }
    *out = arr;
    *cnt = n->n;
    return 0;
}

static int inhibit_item(am_config_t *c, const am_ynode_t *n, void *out, err_t *err)
{
    return inhibit_parse(c->arena, n, out, err);
}

static int receiver_item(am_config_t *c, const am_ynode_t *n, void *out, err_t *err)
{
    return am__recv_parse(c->arena, &c->global, n, out, err);
}

static const char *const tiset_keys[] = {"name", "time_intervals", NULL};

static int timeint_item(am_config_t *c, const am_ynode_t *n, void *out, err_t *err)
{
    am_timeint_set_t *s = out;
    const am_ynode_t *list = am__ymap_get(n, "time_intervals");
    if (am__y_unknown(n, tiset_keys, "config.plain", err) < 0 ||
        am__y_str(c->arena, am__ymap_get(n, "name"), &s->name, err) < 0) {
        return -1;
    }
    if (s->name == NULL || s->name[0] == '\0') {
        return err_set(err, ERR_BAD_DATA, "missing name in time interval");
    }
    if (list == NULL || list->kind == AM_Y_NULL) {
        return 0;
    }
    if (list->kind != AM_Y_SEQ) {
        return type_error(list, "[]timeinterval.TimeInterval", err);
    }
    s->ints = arena_calloc(c->arena, (list->n + 1) * sizeof(*s->ints));
    for (size_t i = 0; s->ints != NULL && i < list->n; i++) {
        if (am__timeint_parse(c->arena, list->vals[i], &s->ints[i], err) < 0) {
            return -1;
        }
    }
    s->n_ints = list->n;
    return 0;
}

/* Appends time_intervals and the legacy mute_time_intervals into one list. */
static int timeints_parse(am_config_t *c, const am_ynode_t *root, err_t *err)
{
    am_timeint_set_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (seq_parse(c, am__ymap_get(root, "time_intervals"), sizeof(*a), (void **)&a, &na,
                  timeint_item, err) < 0 ||
        seq_parse(c, am__ymap_get(root, "mute_time_intervals"), sizeof(*b), (void **)&b, &nb,
                  timeint_item, err) < 0) {
        return -1;
    }
    c->timeints = arena_calloc(c->arena, (na + nb + 1) * sizeof(*c->timeints));
    if (c->timeints == NULL) {
        return -1;
    }
    for (size_t i = 0; i < na + nb; i++) {
        c->timeints[i] = i < na ? a[i] : b[i - na];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->timeints[j].name, c->timeints[i].name) == 0) {
                return err_set(err, ERR_BAD_DATA, "time interval \"%s\" is not unique",
                               c->timeints[i].name);
            }
        }
    }
    c->n_timeints = na + nb;
    return 0;
}

static int receivers_check(const am_config_t *c, err_t *err)
{
    for (size_t i = 0; i < c->n_receivers; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->receivers[i].name, c->receivers[j].name) == 0) {
                return err_set(err, ERR_BAD_DATA, "notification config name \"%s\" is not unique",
                               c->receivers[i].name);
            }
        }
    }
    return 0;
}

static const char *const config_keys[] = {"global",          "route",     "inhibit_rules",
                                          "receivers",       "templates", "time_intervals",
                                          "mute_time_intervals", NULL};

static int config_decode(am_config_t *c, const am_ynode_t *root, err_t *err)
{
    if (root->kind == AM_Y_NULL) {
        return err_set(err, ERR_BAD_DATA, "no route provided in config");
    }
    if (am__y_unknown(root, config_keys, "config.plain", err) < 0 ||
        global_parse(c, am__ymap_get(root, "global"), err) < 0 ||
        seq_parse(c, am__ymap_get(root, "receivers"), sizeof(am_receiver_t),
                  (void **)&c->receivers, &c->n_receivers, receiver_item, err) < 0 ||
        receivers_check(c, err) < 0 ||
        seq_parse(c, am__ymap_get(root, "inhibit_rules"), sizeof(am_inhibit_rule_t),
                  (void **)&c->inhibit, &c->n_inhibit, inhibit_item, err) < 0 ||
        timeints_parse(c, root, err) < 0 ||
        am__y_strlist(c->arena, am__ymap_get(root, "templates"), &c->templates, &c->n_templates,
                      err) < 0 ||
        root_route(c, am__ymap_get(root, "route"), err) < 0 ||
        route_check_refs(c, c->route, err) < 0) {
        return -1;
    }
    return 0;
}

am_config_t *am__config_parse(const char *yaml, size_t len, err_t *err)
{
    am_config_t *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->arena = arena_new(0, err);
    c->original = xstrndup(yaml, len);
    am_ynode_t *root = am__yaml_parse(c->arena, c->original, len, err);
    if (root == NULL || config_decode(c, root, err) < 0) {
        am__config_unref(c);
        return NULL;
    }
    return c;
}

am_config_t *am__config_ref(am_config_t *c)
{
    if (c != NULL) {
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    }
    return c;
}

void am__config_unref(am_config_t *c)
{
    if (c == NULL ||
        atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    tmpl_unref(c->tmpl);
    arena_free(c->arena);
    free(c->original);
    free(c);
}

const am_receiver_t *am__config_receiver(const am_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_receivers; i++) {
        if (strcmp(c->receivers[i].name, name) == 0) {
            return &c->receivers[i];
        }
    }
    return NULL;
}

const am_timeint_set_t *am__config_timeint(const am_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_timeints; i++) {
        if (strcmp(c->timeints[i].name, name) == 0) {
            return &c->timeints[i];
        }
    }
    return NULL;
}
