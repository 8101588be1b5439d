/* common/template.c - public API of the template engine: template sets (refcounted), the
 * flavour entry points (generic JSON, Alertmanager, Prometheus, Loki), the cache of compiled
 * templates, and Go's Node.String() used by error messages.
 *
 * DESIGN: the cache is a hashmap keyed by "funcs\0name\0text" under one mutex, with FIFO
 * eviction (insertion order kept in a ring of keys); entries hold one reference each. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/template_int.h"

/* ---- sets ------------------------------------------------------------------------------- */

tmpl_t *tmpl_new(const char *name, unsigned funcs)
{
    tmpl_t *t = xcalloc(1, sizeof(*t));
    t->refs = 1;
    t->name = xstrdup(name != NULL ? name : "");
    t->funcs = funcs;
    t->arena = arena_new(0, NULL);
    hashmap_init(&t->defs);
    return t;
}

tmpl_t *tmpl_ref(tmpl_t *t)
{
    if (t != NULL) {
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    }
    return t;
}

void tmpl_unref(tmpl_t *t)
{
    if (t == NULL || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    tmpl_unref((tmpl_t *)t->base);
    hashmap_fini(&t->defs, NULL);
    arena_free(t->arena);
    free(t->name);
    free(t);
}

int tmpl_parse(tmpl_t *t, const char *name, const char *text, err_t *err)
{
    return tmpl__parse(t, name != NULL ? name : t->name, text != NULL ? text : "", err);
}

const tmpl_def_t *tmpl__lookup(const tmpl_t *t, const char *name)
{
    for (; t != NULL; t = t->base) {
        const tmpl_def_t *d = hashmap_get(&t->defs, name);
        if (d != NULL) {
            return d;
        }
    }
    return NULL;
}

int tmpl_has(const tmpl_t *t, const char *name)
{
    return tmpl__lookup(t, name) != NULL;
}

/* ---- execution entry points ----------------------------------------------------------- */

static int run(tstate_t *st, const tmpl_t *t, const char *name, tv_t data)
{
    const char *n = name != NULL ? name : t->name;
    const tmpl_def_t *d = tmpl__lookup(t, n);
    if (d == NULL) {
        /* Go: `template: NAME: "NAME" is an incomplete or empty template` for the set's own
         * name, `template: no template "X" associated with template "NAME"` otherwise. */
        if (strcmp(n, t->name) == 0) {
            return err_set(st->err, ERR_EXECUTION,
                           "template: %s: \"%s\" is an incomplete or empty template", n, n);
        }
        return err_set(st->err, ERR_EXECUTION,
                       "template: no template \"%s\" associated with template \"%s\"", n,
                       t->name);
    }
    return tmpl__exec(st, d, data);
}

int tmpl_execute_json(const tmpl_t *t, const char *name, const json_t *data,
                      const tmpl_limits_t *limits, buf_t *out, err_t *err)
{
    tstate_t st;
    tstate_init(&st, t, limits, out, err);
    tv_t v = data != NULL ? tv_from_json(st.arena, data) : tv_nil();
    int rc = run(&st, t, name, v);
    tstate_fini(&st);
    return rc;
}

int tmpl_execute_am(const tmpl_t *t, const char *name, const json_t *payload,
                    const tmpl_limits_t *limits, buf_t *out, err_t *err)
{
    tstate_t st;
    tstate_init(&st, t, limits, out, err);
    int rc = run(&st, t, name, tmpl__am_data(st.arena, payload));
    tstate_fini(&st);
    return rc;
}

static int am_expand(const tmpl_t *t, const char *text, const json_t *payload,
                     const tmpl_limits_t *limits, int html, buf_t *out, err_t *err)
{
    if (text == NULL || text[0] == 0) {
        return 0;
    }
    /* Alertmanager clones the set and parses the text as template "" into the clone */
    tmpl_t *view = tmpl_new("", t->funcs);
    view->base = tmpl_ref((tmpl_t *)t);
    int rc = tmpl__parse(view, "", text, err);
    if (rc == 0) {
        tstate_t st;
        tstate_init(&st, view, limits, out, err);
        st.html = html;
        rc = run(&st, view, "", tmpl__am_data(st.arena, payload));
        tstate_fini(&st);
    }
    tmpl_unref(view);
    return rc;
}

int tmpl_am_expand(const tmpl_t *t, const char *text, const json_t *payload,
                   const tmpl_limits_t *limits, buf_t *out, err_t *err)
{
    return am_expand(t, text, payload, limits, 0, out, err);
}

int tmpl_am_expand_html(const tmpl_t *t, const char *text, const json_t *payload,
                        const tmpl_limits_t *limits, buf_t *out, err_t *err)
{
    return am_expand(t, text, payload, limits, 1, out, err);
}

int tmpl_execute_loki(const tmpl_t *t, const label_t *labels, size_t n_labels, const char *line,
                      int64_t ts_ns, const tmpl_limits_t *limits, buf_t *out, err_t *err)
{
    tstate_t st;
    tstate_init(&st, t, limits, out, err);
    st.loki_line = line != NULL ? line : "";
    st.loki_ts_ns = ts_ns;
    int rc = run(&st, t, NULL, tmpl__kv_from_labels(st.arena, labels, n_labels, TVT_STRMAP));
    tstate_fini(&st);
    return rc;
}

/* Prometheus' Expander data: struct {Labels, ExternalLabels, ExternalURL, Value}. */
static tv_t prom_data(arena_t *a, const tmpl_prom_data_t *d)
{
    tv_map_t *m = tv_map_new(a, 4);
    if (m == NULL) {
        return tv_nil();
    }
    /* the struct's fields in declaration order */
    m->e[0] = (struct tv_map_entry){"Labels", 6,
                                    tmpl__kv_from_labels(a, d->labels, d->n_labels, TVT_STRMAP)};
    m->e[1] = (struct tv_map_entry){"ExternalLabels", 14,
                                    tmpl__kv_from_labels(a, d->external_labels,
                                                         d->n_external_labels, TVT_STRMAP)};
    m->e[2] = (struct tv_map_entry){"ExternalURL", 11, tv_cstr(d->external_url)};
    m->e[3] = (struct tv_map_entry){"Value", 5, tv_float(d->value)};
    return tv_typed((tv_t){.kind = TV_MAP, .u.map = m}, TVT_PROMDATA);
}

static const char prom_defs[] = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                                "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

int tmpl_prom_expand(tmpl_cache_t *cache, const char *name, const char *text,
                     const tmpl_prom_data_t *data, buf_t *out, err_t *err)
{
    buf_t src;
    buf_init(&src);
    buf_puts(&src, prom_defs);
    buf_puts(&src, text != NULL ? text : "");
    err_t perr = {0};
    tmpl_t *t = cache != NULL ? tmpl_cache_get(cache, TMPL_FUNCS_PROMETHEUS, name, src.data, &perr)
                              : tmpl_new(name, TMPL_FUNCS_PROMETHEUS);
    if (t != NULL && cache == NULL && tmpl__parse(t, name, src.data, &perr) < 0) {
        tmpl_unref(t);
        t = NULL;
    }
    buf_fini(&src);
    size_t start = out->len;
    int rc = -1;
    if (t == NULL) {
        err_set(err, ERR_BAD_DATA, "error parsing template %s: %s", name, perr.msg);
    } else {
        tstate_t st;
        tstate_init(&st, t, NULL, out, &perr);
        st.prom = data;
        rc = run(&st, t, name, prom_data(st.arena, data));
        tstate_fini(&st);
        if (rc < 0) {
            err_set(err, ERR_EXECUTION, "error executing template %s: %s", name, perr.msg);
        }
    }
    if (rc < 0) {
        out->len = start;
        buf_printf(out, "<error expanding template: %s>", err->msg);
    }
    tmpl_unref(t);
    return rc;
}

/* ---- cache ---------------------------------------------------------------------------- */

struct tmpl_cache {
    pthread_mutex_t mu;
    hashmap_t by_key; /* key -> tmpl_t*, one reference each */
    char **ring;      /* keys in insertion order, for FIFO eviction */
    size_t cap, head, len;
};

tmpl_cache_t *tmpl_cache_new(size_t max_entries)
{
    tmpl_cache_t *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    hashmap_init(&c->by_key);
    c->cap = max_entries ? max_entries : 4096;
    c->ring = xcalloc(c->cap, sizeof(char *));
    return c;
}

static void unref_value(void *v)
{
    tmpl_unref(v);
}

void tmpl_cache_free(tmpl_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    hashmap_fini(&c->by_key, unref_value);
    for (size_t i = 0; i < c->cap; i++) {
        free(c->ring[i]);
    }
    free(c->ring);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void cache_insert(tmpl_cache_t *c, const char *key, tmpl_t *t)
{
    if (c->len == c->cap) {
        char *old = c->ring[c->head];
        tmpl_unref(hashmap_del(&c->by_key, old));
        free(old);
        c->ring[c->head] = NULL;
        c->head = (c->head + 1) % c->cap;
        c->len--;
    }
    c->ring[(c->head + c->len++) % c->cap] = xstrdup(key);
    hashmap_put(&c->by_key, key, tmpl_ref(t));
}

tmpl_t *tmpl_cache_get(tmpl_cache_t *c, unsigned funcs, const char *name, const char *text,
                       err_t *err)
{
    buf_t key;
    buf_init(&key);
    buf_printf(&key, "%u\x1f%s\x1f%s", funcs, name, text);
    pthread_mutex_lock(&c->mu);
    tmpl_t *t = tmpl_ref(hashmap_get(&c->by_key, key.data));
    pthread_mutex_unlock(&c->mu);
    if (t == NULL) {
        /* parse outside the lock; a racing parse of the same text is harmless */
        t = tmpl_new(name, funcs);
        if (tmpl__parse(t, name, text, err) < 0) {
            tmpl_unref(t);
            t = NULL;
        } else {
            pthread_mutex_lock(&c->mu);
            if (hashmap_get(&c->by_key, key.data) == NULL) {
                cache_insert(c, key.data, t);
            }
            pthread_mutex_unlock(&c->mu);
        }
    }
    buf_fini(&key);
    return t;
}

/* ---- Node.String() -------------------------------------------------------------------- */

static void node_list_string(const tnode_t *n, buf_t *out)
{
    for (int i = 0; n != NULL && i < n->u.list.n; i++) {
        tmpl__node_string(n->u.list.items[i], out);
    }
}

static void pipe_string(const tnode_t *n, buf_t *out)
{
    for (int i = 0; i < n->u.pipe.n_decl; i++) {
        buf_puts(out, i > 0 ? ", " : "");
        buf_puts(out, n->u.pipe.decl[i]);
    }
    if (n->u.pipe.n_decl > 0) {
        buf_puts(out, n->u.pipe.is_assign ? " = " : " := ");
    }
    for (int i = 0; i < n->u.pipe.n_cmds; i++) {
        buf_puts(out, i > 0 ? " | " : "");
        tmpl__node_string(n->u.pipe.cmds[i], out);
    }
}

static void branch_string(const tnode_t *n, const char *kw, buf_t *out)
{
    buf_printf(out, "{{%s ", kw);
    pipe_string(n->u.branch.pipe, out);
    buf_puts(out, "}}");
    node_list_string(n->u.branch.list, out);
    if (n->u.branch.else_list != NULL) {
        buf_puts(out, "{{else}}");
        node_list_string(n->u.branch.else_list, out);
    }
    buf_puts(out, "{{end}}");
}

static void field_string(const tnode_t *n, buf_t *out)
{
    if (n->type == TN_CHAIN) {
        int paren = n->u.field.node->type == TN_PIPE;
        buf_puts(out, paren ? "(" : "");
        tmpl__node_string(n->u.field.node, out);
        buf_puts(out, paren ? ")" : "");
    }
    for (int i = 0; i < n->u.field.n; i++) {
        if (n->type != TN_VAR || i > 0) {
            buf_putc(out, '.');
        }
        buf_puts(out, n->u.field.idents[i]);
    }
}

static void cmd_string(const tnode_t *n, buf_t *out)
{
    for (int i = 0; i < n->u.cmd.n; i++) {
        const tnode_t *a = n->u.cmd.args[i];
        buf_puts(out, i > 0 ? " " : "");
        buf_puts(out, a->type == TN_PIPE ? "(" : "");
        tmpl__node_string(a, out);
        buf_puts(out, a->type == TN_PIPE ? ")" : "");
    }
}

void tmpl__node_string(const tnode_t *n, buf_t *out)
{
    switch ((tnode_type_t)n->type) {
    case TN_LIST:
        node_list_string(n, out);
        break;
    case TN_TEXT:
        buf_append(out, n->u.text.p, n->u.text.n);
        break;
    case TN_ACTION:
        buf_puts(out, "{{");
        pipe_string(n->u.action, out);
        buf_puts(out, "}}");
        break;
    case TN_IF:
        branch_string(n, "if", out);
        break;
    case TN_RANGE:
        branch_string(n, "range", out);
        break;
    case TN_WITH:
        branch_string(n, "with", out);
        break;
    case TN_TEMPLATE:
        buf_printf(out, "{{template \"%s\"", n->u.tmpl.name);
        if (n->u.tmpl.pipe != NULL) {
            buf_putc(out, ' ');
            pipe_string(n->u.tmpl.pipe, out);
        }
        buf_puts(out, "}}");
        break;
    case TN_BREAK:
        buf_puts(out, "{{break}}");
        break;
    case TN_CONTINUE:
        buf_puts(out, "{{continue}}");
        break;
    case TN_PIPE:
        pipe_string(n, out);
        break;
    case TN_CMD:
        cmd_string(n, out);
        break;
    case TN_FIELD:
    case TN_VAR:
    case TN_CHAIN:
        field_string(n, out);
        break;
    case TN_DOT:
        buf_putc(out, '.');
        break;
    case TN_NIL:
        buf_puts(out, "nil");
        break;
    case TN_BOOL:
        buf_puts(out, n->u.b ? "true" : "false");
        break;
    case TN_NUMBER:
    case TN_STRING:
        buf_puts(out, n->lit);
        break;
    case TN_IDENT:
        buf_puts(out, n->u.ident.name);
        break;
    }
}
