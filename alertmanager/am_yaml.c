/* alertmanager/am_yaml.c - libyaml events into a small node tree (scalars, maps, sequences)
 * that the config decoders walk. Anchors and aliases are resolved by sharing nodes. The tree
 * lives in the caller's arena. */
#include <string.h>
#include <yaml.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

typedef struct {
    const char *name;
    am_ynode_t *node;
} anchor_t;

typedef struct {
    arena_t *a;
    yaml_parser_t p;
    anchor_t *anchors;
    size_t n_anchors, cap_anchors;
    err_t *err;
    int depth;
} yctx_t;

static int yaml_fail(yctx_t *c)
{
    const char *problem = c->p.problem != NULL ? c->p.problem : "unknown error";
    return err_set(c->err, ERR_BAD_DATA, "yaml: line %d: %s", (int)c->p.problem_mark.line + 1,
                   problem);
}

static am_ynode_t *node_new(yctx_t *c, am_ykind_t kind, const yaml_mark_t *m)
{
    am_ynode_t *n = arena_calloc(c->a, sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

static void anchor_add(yctx_t *c, const yaml_char_t *name, am_ynode_t *n)
{
    if (name == NULL) {
        return;
    }
    xgrow((void **)&c->anchors, &c->cap_anchors, c->n_anchors + 1, sizeof(anchor_t));
    c->anchors[c->n_anchors].name = arena_strdup(c->a, (const char *)name);
    c->anchors[c->n_anchors++].node = n;
}

static am_ynode_t *anchor_find(yctx_t *c, const yaml_char_t *name)
{
    for (size_t i = c->n_anchors; i > 0; i--) {
        if (strcmp(c->anchors[i - 1].name, (const char *)name) == 0) {
            return c->anchors[i - 1].node;
        }
    }
    return NULL;
}

static am_ynode_t *parse_node(yctx_t *c, yaml_event_t *ev);

/* Appends a child (and, for maps, its key) to a collection node. */
static void node_push(yctx_t *c, am_ynode_t *n, size_t *cap, const char *key, am_ynode_t *v)
{
    if (n->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        n->vals = arena_realloc(c->a, n->vals, *cap * sizeof(*n->vals), ncap * sizeof(*n->vals));
        if (n->kind == AM_Y_MAP) {
            n->keys =
                arena_realloc(c->a, n->keys, *cap * sizeof(*n->keys), ncap * sizeof(*n->keys));
        }
        *cap = ncap;
    }
    if (n->vals == NULL || (n->kind == AM_Y_MAP && n->keys == NULL)) {
        return; /* arena over budget: err already set */
    }
    if (n->kind == AM_Y_MAP) {
        n->keys[n->n] = key;
    }
    n->vals[n->n++] = v;
}

static int next_event(yctx_t *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->p, ev)) {
        return yaml_fail(c);
    }
    return 0;
}

/* Reads children until the end event of a map or sequence. */
static am_ynode_t *parse_collection(yctx_t *c, yaml_event_t *start, am_ykind_t kind)
{
    am_ynode_t *n = node_new(c, kind, &start->start_mark);
    yaml_event_type_t end = kind == AM_Y_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    size_t cap = 0;
    if (n == NULL) {
        return NULL;
    }
    anchor_add(c, kind == AM_Y_MAP ? start->data.mapping_start.anchor
                                   : start->data.sequence_start.anchor,
               n);
    for (;;) {
        yaml_event_t ev;
        if (next_event(c, &ev) < 0) {
            return NULL;
        }
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return n;
        }
        am_ynode_t *k = parse_node(c, &ev);
        if (k == NULL) {
            return NULL;
        }
        if (kind == AM_Y_SEQ) {
            node_push(c, n, &cap, NULL, k);
            continue;
        }
        if (next_event(c, &ev) < 0) {
            return NULL;
        }
        am_ynode_t *v = parse_node(c, &ev);
        if (v == NULL) {
            return NULL;
        }
        node_push(c, n, &cap, k->kind == AM_Y_SCALAR ? k->str : "", v);
    }
}

static am_ynode_t *parse_scalar(yctx_t *c, yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    am_ynode_t *n;
    /* Plain "~", "null", "Null", "NULL" and the empty plain scalar are YAML nulls. */
    if (!quoted && (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
                    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)) {
        n = node_new(c, AM_Y_NULL, &ev->start_mark);
    } else {
        n = node_new(c, AM_Y_SCALAR, &ev->start_mark);
    }
    if (n == NULL) {
        return NULL;
    }
    n->str = arena_strndup(c->a, s, len);
    n->quoted = quoted;
    anchor_add(c, ev->data.scalar.anchor, n);
    return n;
}

/* Consumes `ev` (deleting it) and everything below it. */
static am_ynode_t *parse_node(yctx_t *c, yaml_event_t *ev)
{
    am_ynode_t *n = NULL;
    if (++c->depth > 200) {
        err_set(c->err, ERR_BAD_DATA, "yaml: exceeded max depth of 200");
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = parse_scalar(c, ev);
        break;
    case YAML_MAPPING_START_EVENT:
        n = parse_collection(c, ev, AM_Y_MAP);
        break;
    case YAML_SEQUENCE_START_EVENT:
        n = parse_collection(c, ev, AM_Y_SEQ);
        break;
    case YAML_ALIAS_EVENT:
        n = anchor_find(c, ev->data.alias.anchor);
        if (n == NULL) {
            err_set(c->err, ERR_BAD_DATA, "yaml: unknown anchor '%s' referenced",
                    (const char *)ev->data.alias.anchor);
        }
        break;
    default:
        err_set(c->err, ERR_BAD_DATA, "yaml: unexpected event");
        break;
    }
    c->depth--;
    yaml_event_delete(ev);
    return n;
}

static am_ynode_t *parse_stream(yctx_t *c)
{
    yaml_event_t ev;
    am_ynode_t *root = NULL;
    for (;;) {
        if (next_event(c, &ev) < 0) {
            return NULL;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT ||
            type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            if (type == YAML_DOCUMENT_END_EVENT && root != NULL) {
                return root; /* only the first document counts, as in yaml.v2 */
            }
            continue;
        }
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        root = parse_node(c, &ev);
        if (root == NULL) {
            return NULL;
        }
    }
    if (root == NULL) {
        yaml_mark_t m = {0};
        root = node_new(c, AM_Y_NULL, &m);
    }
    return root;
}

am_ynode_t *am__yaml_parse(arena_t *a, const char *text, size_t len, err_t *err)
{
    yctx_t c = {.a = a, .err = err};
    if (!yaml_parser_initialize(&c.p)) {
        err_set(err, ERR_INTERNAL, "yaml: cannot initialise parser");
        return NULL;
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    am_ynode_t *root = parse_stream(&c);
    yaml_parser_delete(&c.p);
    free(c.anchors);
    return err_is_set(err) ? NULL : root;
}

const am_ynode_t *am__ymap_get(const am_ynode_t *map, const char *key)
{
    if (map == NULL || map->kind != AM_Y_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            return map->vals[i];
        }
    }
    return NULL;
}

void am__yaml_put_str(buf_t *out, const char *s, int indent, int step)
{
    size_t len = strlen(s);
    if (len == 0) {
        buf_puts(out, "\"\"\n");
        return;
    }
    /* A block literal keeps multi-line text (configs, templates) readable and exact: an
     * explicit indentation when the text starts with blanks, and the chomping that gives
     * back its trailing newlines (none: "-", one: clip, more: "+"). */
    buf_putc(out, '|');
    if (s[0] == ' ' || s[0] == '\n') {
        buf_printf(out, "%d", step);
    }
    if (s[len - 1] != '\n') {
        buf_putc(out, '-');
    } else if (len > 1 && s[len - 2] == '\n') {
        buf_putc(out, '+');
    }
    buf_putc(out, '\n');
    const char *p = s;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            buf_printf(out, "%*s", indent, "");
            buf_append(out, p, n);
        }
        buf_putc(out, '\n');
        p += n + (nl != NULL ? 1 : 0);
    }
}
