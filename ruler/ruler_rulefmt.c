/* ruler/ruler_rulefmt.c - Prometheus rule groups in YAML: parsing (libyaml
 * document API, so that every node keeps its line and column for messages) into
 * ruler_group_def_t. Validation lives in ruler_validate.c, writers in
 * ruler_yaml.c.
 *
 * Unknown keys are ignored, as Mimir's non-strict decoding of POST bodies does.
 */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/mem.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

typedef struct {
    yaml_document_t *doc;
    arena_t *a;
    err_t *err;
} parse_ctx_t;

static int node_is_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE;
}

static const char *node_str(parse_ctx_t *p, yaml_node_t *n)
{
    return arena_strndup(p->a, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* A scalar that YAML reads as null (`~`, `null`, empty plain): Go leaves the
 * field zero. */
static int node_is_null(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    const char *v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int fail_at(parse_ctx_t *p, const yaml_node_t *n, const char *what)
{
    return err_set(p->err, ERR_BAD_DATA, "%d:%d: %s", (int)n->start_mark.line + 1,
                   (int)n->start_mark.column + 1, what);
}

static int parse_string(parse_ctx_t *p, yaml_node_t *n, const char **out)
{
    if (node_is_null(n)) {
        *out = NULL;
        return 0;
    }
    if (!node_is_scalar(n)) {
        return fail_at(p, n, "expected a string");
    }
    *out = node_str(p, n);
    return 0;
}

static int parse_duration(parse_ctx_t *p, yaml_node_t *n, int64_t *out)
{
    if (node_is_null(n)) {
        return 0;
    }
    if (!node_is_scalar(n)) {
        return fail_at(p, n, "expected a duration");
    }
    err_t e = {0};
    if (duration_parse((const char *)n->data.scalar.value, out, &e) < 0) {
        return fail_at(p, n, e.msg);
    }
    return 0;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const ruler_kv_t *)a)->key, ((const ruler_kv_t *)b)->key);
}

/* A map of strings (labels, annotations), sorted by key as Go marshals maps. */
static int parse_map(parse_ctx_t *p, yaml_node_t *n, ruler_kv_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (node_is_null(n)) {
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE) {
        return fail_at(p, n, "expected a map");
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    ruler_kv_t *kv = arena_calloc(p->a, (cnt + 1) * sizeof(*kv));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
        if (!node_is_scalar(k) || !node_is_scalar(v)) {
            return fail_at(p, node_is_scalar(k) ? v : k, "expected a string");
        }
        kv[i].key = node_str(p, k);
        kv[i].value = node_is_null(v) ? "" : node_str(p, v);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(kv[j].key, kv[i].key) == 0) {
                return fail_at(p, k, "duplicate key in map");
            }
        }
    }
    qsort(kv, cnt, sizeof(*kv), kv_cmp);
    *out = kv;
    *n_out = cnt;
    return 0;
}

typedef int (*field_fn)(parse_ctx_t *p, yaml_node_t *v, void *obj);

typedef struct {
    const char *key;
    field_fn fn;
} field_t;

static int walk_mapping(parse_ctx_t *p, yaml_node_t *n, const field_t *fields, void *obj)
{
    if (n->type != YAML_MAPPING_NODE) {
        return fail_at(p, n, "expected a map");
    }
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
        if (!node_is_scalar(k)) {
            return fail_at(p, k, "expected a string key");
        }
        for (const field_t *f = fields; f->key != NULL; f++) {
            if (strcmp(f->key, (const char *)k->data.scalar.value) == 0) {
                if (f->fn(p, v, obj) < 0) {
                    return -1;
                }
                break;
            }
        }
    }
    return 0;
}

/* ---- rules
 * -------------------------------------------------------------------------------
 */

static int rule_record(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_string(p, v, &((ruler_rule_def_t *)o)->record);
}
static int rule_alert(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_string(p, v, &((ruler_rule_def_t *)o)->alert);
}
static int rule_expr(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_rule_def_t *r = o;
    r->expr_line = (int)v->start_mark.line + 1;
    r->expr_col = (int)v->start_mark.column + 1;
    return parse_string(p, v, &r->expr);
}
static int rule_for(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_duration(p, v, &((ruler_rule_def_t *)o)->for_ms);
}
static int rule_keep(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_duration(p, v, &((ruler_rule_def_t *)o)->keep_firing_for_ms);
}
static int rule_labels(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_rule_def_t *r = o;
    return parse_map(p, v, &r->labels, &r->n_labels);
}
static int rule_annotations(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_rule_def_t *r = o;
    return parse_map(p, v, &r->annotations, &r->n_annotations);
}

static const field_t rule_fields[] = {
    {.key = "record", .fn = rule_record},
    {.key = "alert", .fn = rule_alert},
    {.key = "expr", .fn = rule_expr},
    {.key = "for", .fn = rule_for},
    {.key = "keep_firing_for", .fn = rule_keep},
    {.key = "labels", .fn = rule_labels},
    {.key = "annotations", .fn = rule_annotations},
    {.key = NULL},
};

/* ---- groups
 * ------------------------------------------------------------------------------
 */

static int group_name(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_string(p, v, &((ruler_group_def_t *)o)->name);
}
static int group_interval(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_duration(p, v, &((ruler_group_def_t *)o)->interval_ms);
}
static int group_query_offset(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    return parse_duration(p, v, &((ruler_group_def_t *)o)->query_offset_ms);
}
static int group_limit(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    if (node_is_null(v)) {
        return 0;
    }
    char *end = NULL;
    const char *s = node_is_scalar(v) ? (const char *)v->data.scalar.value : "";
    long long n = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0') {
        return fail_at(p, v, "expected an integer");
    }
    ((ruler_group_def_t *)o)->limit = n;
    return 0;
}
static int group_labels(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_group_def_t *g = o;
    return parse_map(p, v, &g->labels, &g->n_labels);
}
static int group_source_tenants(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_group_def_t *g = o;
    if (node_is_null(v)) {
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        return fail_at(p, v, "expected a list");
    }
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    g->source_tenants = arena_calloc(p->a, (cnt + 1) * sizeof(char *));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
        if (parse_string(p, it, &g->source_tenants[i]) < 0) {
            return -1;
        }
    }
    g->n_source_tenants = cnt;
    return 0;
}

static int group_rules(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_group_def_t *g = o;
    if (node_is_null(v)) {
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        return fail_at(p, v, "expected a list of rules");
    }
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    g->rules = arena_calloc(p->a, (cnt + 1) * sizeof(*g->rules));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
        ruler_rule_def_t *r = &g->rules[i];
        r->line = (int)it->start_mark.line + 1;
        r->col = (int)it->start_mark.column + 1;
        if (walk_mapping(p, it, rule_fields, r) < 0) {
            return -1;
        }
    }
    g->n_rules = cnt;
    return 0;
}

static const field_t group_fields[] = {
    {.key = "name", .fn = group_name},
    {.key = "interval", .fn = group_interval},
    {.key = "query_offset", .fn = group_query_offset},
    {.key = "evaluation_delay", .fn = group_query_offset}, /* Mimir's deprecated alias */
    {.key = "limit", .fn = group_limit},
    {.key = "labels", .fn = group_labels},
    {.key = "source_tenants", .fn = group_source_tenants},
    {.key = "rules", .fn = group_rules},
    {.key = NULL},
};

static ruler_group_def_t *group_from_node(parse_ctx_t *p, yaml_node_t *n)
{
    ruler_group_def_t *g = arena_calloc(p->a, sizeof(*g));
    g->arena = p->a;
    g->query_offset_ms = -1;
    g->line = (int)n->start_mark.line + 1;
    g->col = (int)n->start_mark.column + 1;
    if (walk_mapping(p, n, group_fields, g) < 0) {
        return NULL;
    }
    if (g->name == NULL) {
        g->name = "";
    }
    return g;
}

static int load_doc(yaml_document_t *doc, const char *yaml, size_t len, err_t *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return err_set(err, ERR_INTERNAL, "yaml parser init failed");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    int ok = yaml_parser_load(&parser, doc);
    if (!ok) {
        err_set(err, ERR_BAD_DATA, "%d:%d: %s", (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1,
                parser.problem != NULL ? parser.problem : "invalid YAML");
    }
    yaml_parser_delete(&parser);
    return ok ? 0 : -1;
}

ruler_group_def_t *ruler__group_parse(const char *yaml, size_t len, err_t *err)
{
    yaml_document_t doc;
    if (load_doc(&doc, yaml, len, err) < 0) {
        return NULL;
    }
    ruler_group_def_t *g = NULL;
    parse_ctx_t p = {.doc = &doc, .a = arena_new(0, NULL), .err = err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        err_set(err, ERR_BAD_DATA, "expected one rule group (a YAML map)");
    } else {
        g = group_from_node(&p, root);
    }
    yaml_document_delete(&doc);
    if (g == NULL) {
        arena_free(p.a);
    }
    return g;
}

static int file_groups(parse_ctx_t *p, yaml_node_t *v, void *o)
{
    ruler_ns_t *ns = o;
    if (node_is_null(v)) {
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        return fail_at(p, v, "expected a list of groups");
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        p->a = arena_new(0, NULL);
        ruler_group_def_t *g = group_from_node(p, yaml_document_get_node(p->doc, *it));
        if (g == NULL) {
            arena_free(p->a);
            return -1;
        }
        ruler__ns_put(ns, g);
    }
    return 0;
}

static const field_t file_fields[] = {{.key = "groups", .fn = file_groups}, {.key = NULL}};

int ruler__file_parse(const char *yaml, size_t len, ruler_ns_t *ns, err_t *err)
{
    yaml_document_t doc;
    if (load_doc(&doc, yaml, len, err) < 0) {
        return -1;
    }
    parse_ctx_t p = {.doc = &doc, .a = NULL, .err = err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root != NULL && !node_is_null(root)) {
        rc = walk_mapping(&p, root, file_fields, ns);
    }
    yaml_document_delete(&doc);
    return rc;
}

void ruler__group_def_free(ruler_group_def_t *g)
{
    if (g != NULL) {
        arena_free(g->arena);
    }
}

void ruler__ns_fini(ruler_ns_t *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        ruler__group_def_free(ns->groups[i]);
    }
    free(ns->groups);
    memset(ns, 0, sizeof(*ns));
}

ruler_group_def_t *ruler__ns_find(const ruler_ns_t *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (strcmp(ns->groups[i]->name, name) == 0) {
            return ns->groups[i];
        }
    }
    return NULL;
}

void ruler__ns_put(ruler_ns_t *ns, ruler_group_def_t *g)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (strcmp(ns->groups[i]->name, g->name) == 0) {
            ruler__group_def_free(ns->groups[i]);
            ns->groups[i] = g;
            return;
        }
    }
    xgrow((void **)&ns->groups, &ns->cap, ns->n + 1, sizeof(*ns->groups));
    ns->groups[ns->n++] = g;
}
