/* ruler/rulesync_obj.c - Kubernetes objects (PrometheusRule, Namespace) read from manifest
 * files (multi-document YAML, JSON, kind List) and from API server JSON, into immutable
 * rulesync_obj_t values. libyaml's document API reads both YAML and JSON.
 *
 * Only the fields herald-rulesync uses are kept; unknown fields are ignored, as the API
 * server prunes fields a CRD does not declare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/mem.h"
#include "ruler/rulesync_int.h"

/* An object's arena has no budget (allocations never fail); the document it comes from is
 * bounded instead, to DOC_MAX_BYTES of expanded weight. */
#define OBJ_ARENA_BYTES 0
#define DOC_MAX_BYTES (16u << 20)
#define NODE_WEIGHT 128

/* ---- small helpers over a libyaml document -------------------------------------------- */

static yaml_node_t *node_at(yaml_document_t *d, int id)
{
    return yaml_document_get_node(d, id);
}

yaml_node_t *rulesync__yaml_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(d, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            return node_at(d, p->value);
        }
    }
    return NULL;
}

/* A YAML null (plain ``, `~`, `null`) reads as absent, as Go's decoders treat it. */
static int is_null(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE) {
        return n == NULL;
    }
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    const char *s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *rulesync__yaml_text(yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE || is_null(n)) {
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

static const char *scalar_dup(arena_t *a, yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE || is_null(n)) {
        return NULL;
    }
    return arena_strdup(a, (const char *)n->data.scalar.value);
}

static const char *get_str(arena_t *a, yaml_document_t *d, yaml_node_t *map, const char *key)
{
    return scalar_dup(a, rulesync__yaml_get(d, map, key));
}

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const rulesync_kv_t *)x)->key, ((const rulesync_kv_t *)y)->key);
}

/* A map of strings; non-scalar values are skipped. Later duplicates win, as in Go. */
static rulesync_kvs_t get_kvs(arena_t *a, yaml_document_t *d, yaml_node_t *map)
{
    rulesync_kvs_t out = {0};
    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        return out;
    }
    size_t cap = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    out.items = arena_calloc(a, (cap + 1) * sizeof(*out.items));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar_dup(a, node_at(d, p->key));
        yaml_node_t *vn = node_at(d, p->value);
        const char *v =
            vn != NULL && vn->type == YAML_SCALAR_NODE
                ? arena_strdup(a, is_null(vn) ? "" : (const char *)vn->data.scalar.value)
                : NULL;
        if (k != NULL && v != NULL) {
            out.items[out.n++] = (rulesync_kv_t){k, v};
        }
    }
    qsort(out.items, out.n, sizeof(*out.items), kv_cmp);
    size_t w = 0;
    for (size_t i = 0; i < out.n; i++) {
        if (w > 0 && strcmp(out.items[w - 1].key, out.items[i].key) == 0) {
            w--; /* qsort is not stable; duplicate keys are rare enough to accept either */
        }
        out.items[w++] = out.items[i];
    }
    out.n = w;
    return out;
}

/* Pushes the children of n on the walk stack. */
static void push_children(yaml_node_t *n, int **stack, size_t *len, size_t *cap)
{
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            xgrow((void **)stack, cap, *len + 1, sizeof(**stack));
            (*stack)[(*len)++] = *it;
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            xgrow((void **)stack, cap, *len + 2, sizeof(**stack));
            (*stack)[(*len)++] = p->key;
            (*stack)[(*len)++] = p->value;
        }
    }
}

int rulesync__yaml_check(yaml_document_t *d, size_t max_bytes, err_t *err)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    int *stack = NULL;
    size_t len = 0, cap = 0, weight = 0;
    if (root != NULL) {
        push_children(root, &stack, &len, &cap);
    }
    while (len > 0 && weight <= max_bytes) {
        yaml_node_t *n = node_at(d, stack[--len]);
        if (n == NULL) {
            continue;
        }
        weight += NODE_WEIGHT + (n->type == YAML_SCALAR_NODE ? n->data.scalar.length : 0);
        push_children(n, &stack, &len, &cap);
    }
    free(stack);
    if (weight > max_bytes) {
        return err_set(err, ERR_BAD_DATA, "document too large once its aliases are expanded");
    }
    return 0;
}

const char *rulesync__kvs_get(const rulesync_kvs_t *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++) {
        if (strcmp(kv->items[i].key, key) == 0) {
            return kv->items[i].value;
        }
    }
    return NULL;
}

/* ---- objects ------------------------------------------------------------------------------ */

void rulesync__obj_free(rulesync_obj_t *o)
{
    if (o != NULL) {
        arena_free(o->arena);
        free(o);
    }
}

void rulesync__objs_push(rulesync_objs_t *l, rulesync_obj_t *o)
{
    xgrow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items));
    l->items[l->n++] = o;
}

void rulesync__objs_fini(rulesync_objs_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        rulesync__obj_free(l->items[i]);
    }
    free(l->items);
    *l = (rulesync_objs_t){0};
}

/* FNV-1a, 64 bits, from a given basis: two bases give the 128 bits of the id. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

const char *rulesync__derive_uid(arena_t *a, const char *ns, const char *name)
{
    uint64_t h1 = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325ULL, ns), "/"), name);
    uint64_t h2 = fnv1a(fnv1a(fnv1a(0x84222325cbf29ce4ULL, name), "/"), ns);
    /* RFC 9562 version 8 ("custom") and variant bits, so it reads as a UUID. */
    h1 = (h1 & ~0xf000ULL) | 0x8000ULL;
    h2 = (h2 & ~(0xc000ULL << 48)) | (0x8000ULL << 48);
    return arena_sprintf(a, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(h1 >> 32),
                         (unsigned)((h1 >> 16) & 0xffff), (unsigned)(h1 & 0xffff),
                         (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffULL));
}

static void parse_rule(arena_t *a, yaml_document_t *d, yaml_node_t *n, rulesync_raw_rule_t *r)
{
    r->record = get_str(a, d, n, "record");
    r->alert = get_str(a, d, n, "alert");
    r->expr = get_str(a, d, n, "expr");
    r->for_ = get_str(a, d, n, "for");
    r->keep_firing_for = get_str(a, d, n, "keep_firing_for");
    r->labels = get_kvs(a, d, rulesync__yaml_get(d, n, "labels"));
    r->annotations = get_kvs(a, d, rulesync__yaml_get(d, n, "annotations"));
}

/* Returns an error text for a spec that cannot be a rule file, else NULL. */
static const char *parse_group(arena_t *a, yaml_document_t *d, yaml_node_t *n,
                               rulesync_raw_group_t *g)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        return "a rule group is not a mapping";
    }
    g->name = get_str(a, d, n, "name");
    g->interval = get_str(a, d, n, "interval");
    g->query_offset = get_str(a, d, n, "query_offset");
    g->limit = get_str(a, d, n, "limit");
    g->partial_response_strategy = get_str(a, d, n, "partial_response_strategy");
    g->labels = get_kvs(a, d, rulesync__yaml_get(d, n, "labels"));
    yaml_node_t *rules = rulesync__yaml_get(d, n, "rules");
    if (rules == NULL || is_null(rules)) {
        return NULL;
    }
    if (rules->type != YAML_SEQUENCE_NODE) {
        return "rules of a group is not a list";
    }
    size_t cap = (size_t)(rules->data.sequence.items.top - rules->data.sequence.items.start);
    g->rules = arena_calloc(a, (cap + 1) * sizeof(*g->rules));
    for (yaml_node_item_t *it = rules->data.sequence.items.start;
         it < rules->data.sequence.items.top; it++) {
        yaml_node_t *rn = node_at(d, *it);
        if (rn == NULL || rn->type != YAML_MAPPING_NODE) {
            return "a rule is not a mapping";
        }
        parse_rule(a, d, rn, &g->rules[g->n_rules++]);
    }
    return NULL;
}

static void parse_spec(rulesync_obj_t *o, yaml_document_t *d, yaml_node_t *spec)
{
    yaml_node_t *groups = rulesync__yaml_get(d, spec, "groups");
    if (groups == NULL || is_null(groups)) {
        return;
    }
    if (groups->type != YAML_SEQUENCE_NODE) {
        o->spec_error = "spec.groups is not a list";
        return;
    }
    size_t cap = (size_t)(groups->data.sequence.items.top - groups->data.sequence.items.start);
    o->groups = arena_calloc(o->arena, (cap + 1) * sizeof(*o->groups));
    for (yaml_node_item_t *it = groups->data.sequence.items.start;
         it < groups->data.sequence.items.top && o->spec_error == NULL; it++) {
        o->spec_error = parse_group(o->arena, d, node_at(d, *it), &o->groups[o->n_groups++]);
    }
}

/* One object node of a known kind into a new object; NULL + err when metadata.name is
 * missing. */
static rulesync_obj_t *obj_from_node(yaml_document_t *d, yaml_node_t *n, rulesync_obj_kind_t kind,
                                     const char *file, err_t *err)
{
    rulesync_obj_t *o = xcalloc(1, sizeof(*o));
    o->arena = arena_new(OBJ_ARENA_BYTES, NULL);
    o->kind = kind;
    yaml_node_t *meta = rulesync__yaml_get(d, n, "metadata");
    o->name = get_str(o->arena, d, meta, "name");
    if (o->name == NULL || o->name[0] == '\0') {
        err_set(err, ERR_BAD_DATA, "%s: line %d: object without metadata.name", file,
                (int)n->start_mark.line + 1);
        rulesync__obj_free(o);
        return NULL;
    }
    const char *ns = get_str(o->arena, d, meta, "namespace");
    o->ns = kind == RULESYNC_OBJ_NAMESPACE ? "" : (ns != NULL && ns[0] != '\0' ? ns : "default");
    o->uid = get_str(o->arena, d, meta, "uid");
    if (o->uid == NULL || o->uid[0] == '\0') {
        o->uid = rulesync__derive_uid(o->arena, o->ns, o->name);
    }
    const char *rv = get_str(o->arena, d, meta, "resourceVersion");
    o->resource_version = rv != NULL ? rv : "";
    o->file = arena_strdup(o->arena, file);
    o->labels = get_kvs(o->arena, d, rulesync__yaml_get(d, meta, "labels"));
    o->annotations = get_kvs(o->arena, d, rulesync__yaml_get(d, meta, "annotations"));
    if (kind == RULESYNC_OBJ_RULE) {
        parse_spec(o, d, rulesync__yaml_get(d, n, "spec"));
    }
    return o;
}

/* The kind of an object node: 1 and *kind set for PrometheusRule / Namespace, 2 for List,
 * 0 for anything else (skipped). */
static int node_kind(yaml_document_t *d, yaml_node_t *n, rulesync_obj_kind_t *kind)
{
    yaml_node_t *k = rulesync__yaml_get(d, n, "kind");
    const char *s =
        k != NULL && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    if (strcmp(s, "PrometheusRule") == 0) {
        *kind = RULESYNC_OBJ_RULE;
        return 1;
    }
    if (strcmp(s, "Namespace") == 0) {
        *kind = RULESYNC_OBJ_NAMESPACE;
        return 1;
    }
    return strcmp(s, "List") == 0 || strcmp(s, "PrometheusRuleList") == 0 ||
                   strcmp(s, "NamespaceList") == 0
               ? 2
               : 0;
}

static int collect(yaml_document_t *d, yaml_node_t *n, const char *file, int depth,
                   rulesync_objs_t *out, err_t *err)
{
    rulesync_obj_kind_t kind;
    switch (node_kind(d, n, &kind)) {
    case 1: {
        rulesync_obj_t *o = obj_from_node(d, n, kind, file, err);
        if (o == NULL) {
            return -1;
        }
        rulesync__objs_push(out, o);
        return 0;
    }
    case 2: {
        yaml_node_t *items = rulesync__yaml_get(d, n, "items");
        if (items == NULL || items->type != YAML_SEQUENCE_NODE || depth > 4) {
            return 0;
        }
        for (yaml_node_item_t *it = items->data.sequence.items.start;
             it < items->data.sequence.items.top; it++) {
            if (collect(d, node_at(d, *it), file, depth + 1, out, err) < 0) {
                return -1;
            }
        }
        return 0;
    }
    default: return 0;
    }
}

static int parser_error(const yaml_parser_t *p, const char *file, err_t *err)
{
    return err_set(err, ERR_BAD_DATA, "%s: line %d: %s", file, (int)p->problem_mark.line + 1,
                   p->problem != NULL ? p->problem : "invalid YAML");
}

int rulesync__manifest_parse(const char *text, size_t len, const char *file, rulesync_objs_t *out,
                             err_t *err)
{
    yaml_parser_t p;
    rulesync_objs_t got = {0};
    int rc = 0;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t d;
        if (!yaml_parser_load(&p, &d)) {
            rc = parser_error(&p, file, err);
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&d);
        if (root == NULL) {
            yaml_document_delete(&d);
            break; /* end of the stream */
        }
        err_t big = {0};
        rc = rulesync__yaml_check(&d, DOC_MAX_BYTES, &big);
        if (rc < 0) {
            err_set(err, ERR_BAD_DATA, "%s: line %d: %s", file, (int)root->start_mark.line + 1,
                    big.msg);
        } else {
            rc = collect(&d, root, file, 0, &got, err);
        }
        yaml_document_delete(&d);
        if (rc < 0) {
            break;
        }
    }
    yaml_parser_delete(&p);
    if (rc < 0) {
        rulesync__objs_fini(&got);
        return -1;
    }
    for (size_t i = 0; i < got.n; i++) {
        rulesync__objs_push(out, got.items[i]);
    }
    free(got.items);
    return 0;
}

rulesync_obj_t *rulesync__obj_from_json(const char *json, size_t len, rulesync_obj_kind_t kind,
                                        err_t *err)
{
    yaml_parser_t p;
    yaml_document_t d;
    rulesync_obj_t *o = NULL;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)json, len);
    if (!yaml_parser_load(&p, &d)) {
        parser_error(&p, "api", err);
        yaml_parser_delete(&p);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        err_set(err, ERR_BAD_DATA, "api: object is not a JSON object");
    } else if (rulesync__yaml_check(&d, DOC_MAX_BYTES, err) == 0) {
        o = obj_from_node(&d, root, kind, "", err);
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    return o;
}
