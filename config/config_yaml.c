/* config/config_yaml.c - YAML into a cfg_t (libyaml document API, so every node keeps its
 * line for error messages) and a cfg_t back to YAML (libyaml emitter, which quotes).
 *
 * DESIGN: the reader walks a mapping with a path prefix relative to a key table: a key is
 * either a row (decode the value), a section some rows lie under (recurse), an ignored
 * section, or an error. Aliases may make a small document describe a huge tree, so the
 * walk has a node budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/mem.h"
#include "config/config_int.h"

#define NODE_BUDGET 200000

typedef struct {
    yaml_document_t *doc;
    const char *file;
    err_t *err;
    long budget; /* node visits left */
} reader_t;

typedef struct {
    const cfg__table_t *t;
    unsigned mask;
    void *base;
    const char *prefix;  /* table-relative path of this mapping, "" or "ruler." */
    const char *display; /* absolute path of the table's struct, "" or "mimir_rules[0]." */
    size_t hidden;       /* leading bytes of prefix that messages leave out */
} section_t;

/* Parameters of the reader functions below, in this order when present:
 *   r    the reader (document, file name for messages, err, node budget)
 *   map  a mapping node being walked; v/vn: the value node of one key; kn: its key node
 *   s    the section the key lies in (table, program mask, struct base, path prefix)
 *   key  the key's own name in that mapping (messages prepend s->display and s->prefix)
 *   k    the key's table row
 * All return 0, or -1 with r->err set to one line naming file, line and key. */

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE    ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a sequence"
                                           : "a scalar";
}

static const char *scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain null (``, ~, null) leaves the default, as an absent key does. */
static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE) {
        return 0;
    }
    if (n->tag != NULL && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0) {
        return 1;
    }
    const char *s = scalar_text(n);
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (s[0] == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}

static yaml_node_t *node(reader_t *r, yaml_node_item_t id)
{
    r->budget--;
    return yaml_document_get_node(r->doc, id);
}

static int fail_key(reader_t *r, const yaml_node_t *n, const section_t *s, const char *key,
                    const char *msg)
{
    return err_set(r->err, ERR_BAD_DATA, "%s:%d: key \"%s%s%s\": %s", r->file, line_of(n),
                   s->display, s->prefix + s->hidden, key, msg);
}

static int fail_type(reader_t *r, const yaml_node_t *n, const section_t *s, const char *key,
                     const char *want)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "cannot unmarshal %s into %s", kind_name(n), want);
    return fail_key(r, n, s, key, msg);
}

static const cfg__key_t *find_row(const section_t *s, const char *rel)
{
    for (size_t i = 0; i < s->t->n_keys; i++) {
        const cfg__key_t *k = &s->t->keys[i];
        if ((k->programs & s->mask) != 0 && !k->is_map_key && strcmp(k->path, rel) == 0) {
            return k;
        }
    }
    return NULL;
}

static int is_section(const section_t *s, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < s->t->n_keys; i++) {
        const cfg__key_t *k = &s->t->keys[i];
        if ((k->programs & s->mask) != 0 && strncmp(k->path, rel, n) == 0 && k->path[n] == '.') {
            return 1;
        }
    }
    return 0;
}

static int read_mapping(reader_t *r, const yaml_node_t *map, const section_t *s);

static int check_duplicate(reader_t *r, const yaml_node_t *map, const yaml_node_pair_t *pair,
                           const char *key, const section_t *s)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        const yaml_node_t *kn = node(r, p->key);
        if (kn != NULL && kn->type == YAML_SCALAR_NODE && strcmp(scalar_text(kn), key) == 0) {
            char msg[96];
            snprintf(msg, sizeof(msg), "mapping key already defined at line %d", line_of(kn));
            return fail_key(r, node(r, pair->key), s, key, msg);
        }
    }
    return 0;
}

/* The key of one pair of mapping `map` in section s: a string not seen before in the
 * mapping. NULL with r->err set otherwise. */
static const char *pair_key(reader_t *r, const yaml_node_t *map, const yaml_node_pair_t *pair,
                            const section_t *s)
{
    const yaml_node_t *kn = node(r, pair->key), *vn = node(r, pair->value);
    if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE) {
        err_set(r->err, ERR_BAD_DATA, "%s:%d: mapping keys must be strings", r->file,
                line_of(kn != NULL ? kn : map));
        return NULL;
    }
    const char *key = scalar_text(kn);
    return check_duplicate(r, map, pair, key, s) == 0 ? key : NULL;
}

/* Scalar value into a scalar row, or comma-separated text into a list row. */
static int read_text(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                     const cfg__key_t *k)
{
    err_t e = {0};
    if (cfg__set_text(k, s->base, scalar_text(v), &e) != 0) {
        return fail_key(r, v, s, key, e.msg);
    }
    return 0;
}

static int read_seq_items(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                          const cfg__key_t *k)
{
    cfg_strlist_t items = {0};
    int rc = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         rc == 0 && it < v->data.sequence.items.top; it++) {
        const yaml_node_t *item = node(r, *it);
        if (item == NULL || item->type != YAML_SCALAR_NODE) {
            rc = fail_type(r, item != NULL ? item : v, s, key, cfg__type_name(k->type));
        } else {
            cfg__strlist_push(&items, scalar_text(item));
        }
    }
    err_t e = {0};
    if (rc == 0 && cfg__set_list(k, s->base, &items, &e) != 0) {
        rc = fail_key(r, v, s, key, e.msg);
    }
    cfg__strlist_clear(&items);
    return rc;
}

static int read_strmap(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                       cfg_strmap_t *m)
{
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = node(r, p->key), *vn = node(r, p->value);
        if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE ||
            vn->type != YAML_SCALAR_NODE) {
            return fail_type(r, v, s, key, "map of strings");
        }
        cfg__strmap_put(m, scalar_text(kn), scalar_text(vn));
    }
    return 0;
}

/* Appends one element to list row k of section s: the element defaults, then the keys of
 * `item` (a mapping, or null for the defaults alone). `display` is the element's path in
 * messages, ending with a dot. The new element, or NULL with r->err set. */
static void *read_elem(reader_t *r, const yaml_node_t *item, const section_t *s,
                       const cfg__key_t *k, const char *display)
{
    unsigned mask = k->sub_programs != 0 ? k->sub_programs : s->mask;
    void *elem = cfg__list_push(k, s->base);
    cfg__init_struct(k->sub, mask, elem);
    section_t sub = {k->sub, mask, elem, "", display, 0};
    return is_null(item) || read_mapping(r, item, &sub) == 0 ? elem : NULL;
}

/* A sequence of mappings: elements named by their index, `key[0]`. */
static int read_seq_elems(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                          const cfg__key_t *k)
{
    size_t n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, n++) {
        const yaml_node_t *item = node(r, *it);
        if (item == NULL || item->type != YAML_MAPPING_NODE) {
            return fail_type(r, item != NULL ? item : v, s, key, "a list of mappings");
        }
        char display[512];
        snprintf(display, sizeof(display), "%s%s%s[%zu].", s->display, s->prefix + s->hidden, key,
                 n);
        if (read_elem(r, item, s, k, display) == NULL) {
            return -1;
        }
    }
    return 0;
}

/* A mapping from names to mappings: elements named by their key, `key.name`; the name goes
 * into the element's is_map_key row. */
static int read_map_elems(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                          const cfg__key_t *k)
{
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s%s.", s->prefix, key);
    section_t in = {s->t, s->mask, s->base, prefix, s->display, s->hidden}; /* for messages */
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const char *name = pair_key(r, v, p, &in);
        if (name == NULL) {
            return -1;
        }
        const yaml_node_t *vn = node(r, p->value);
        if (vn->type != YAML_MAPPING_NODE && !is_null(vn)) {
            return fail_type(r, vn, &in, name, "a section");
        }
        char display[1024];
        snprintf(display, sizeof(display), "%s%s%s.", in.display, in.prefix + in.hidden, name);
        void *elem = read_elem(r, vn, s, k, display);
        err_t e = {0};
        if (elem == NULL) {
            return -1;
        }
        if (cfg__set_text(cfg__map_key(k->sub), elem, name, &e) != 0) {
            return fail_key(r, vn, &in, name, e.msg);
        }
    }
    return 0;
}

static int read_value(reader_t *r, const yaml_node_t *v, const section_t *s, const char *key,
                      const cfg__key_t *k)
{
    void *f = (char *)s->base + k->offset;
    if (k->type == CFG__IGNORED || is_null(v)) {
        return 0;
    }
    switch (k->type) {
    case CFG__STRLIST:
    case CFG__DURLIST:
        if (v->type == YAML_SEQUENCE_NODE) {
            return read_seq_items(r, v, s, key, k);
        }
        break;
    case CFG__STRMAP:
        if (v->type == YAML_MAPPING_NODE) {
            cfg__fini_value(k, s->base); /* the file replaces the default map */
            return read_strmap(r, v, s, key, f);
        }
        return fail_type(r, v, s, key, "map of strings");
    case CFG__LIST:
        if (cfg__map_key(k->sub) != NULL) {
            if (v->type != YAML_MAPPING_NODE) {
                return fail_type(r, v, s, key, "a map of sections");
            }
            cfg__fini_value(k, s->base);
            return read_map_elems(r, v, s, key, k);
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            return fail_type(r, v, s, key, "a list of mappings");
        }
        cfg__fini_value(k, s->base);
        return read_seq_elems(r, v, s, key, k);
    default:
        break;
    }
    if (v->type != YAML_SCALAR_NODE) {
        return fail_type(r, v, s, key, cfg__type_name(k->type));
    }
    return read_text(r, v, s, key, k);
}

static int unknown_key(reader_t *r, const yaml_node_t *kn, const section_t *s, const char *key)
{
    char section[1024];
    snprintf(section, sizeof(section), "%s%s", s->display, s->prefix + s->hidden);
    size_t n = strlen(section);
    if (n == 0) {
        return err_set(r->err, ERR_BAD_DATA, "%s:%d: unknown key \"%s\" at top level", r->file,
                       line_of(kn), key);
    }
    section[n - 1] = '\0'; /* drop the trailing dot */
    return err_set(r->err, ERR_BAD_DATA, "%s:%d: unknown key \"%s\" in section \"%s\"", r->file,
                   line_of(kn), key, section);
}

static int read_pair(reader_t *r, const yaml_node_t *map, const yaml_node_pair_t *pair,
                     const section_t *s)
{
    const char *key = pair_key(r, map, pair, s);
    if (key == NULL) {
        return -1;
    }
    const yaml_node_t *kn = node(r, pair->key), *vn = node(r, pair->value);
    if (strchr(key, '.') != NULL) {
        return unknown_key(r, kn, s, key); /* paths are nested mappings, never dotted keys */
    }
    char rel[512];
    snprintf(rel, sizeof(rel), "%s%s", s->prefix, key);
    const cfg__key_t *k = find_row(s, rel);
    if (k != NULL) {
        return read_value(r, vn, s, key, k);
    }
    if (is_section(s, rel)) {
        if (is_null(vn)) {
            return 0;
        }
        if (vn->type != YAML_MAPPING_NODE) {
            return fail_type(r, vn, s, key, "a section");
        }
        char prefix[sizeof(rel) + 1];
        snprintf(prefix, sizeof(prefix), "%s.", rel);
        section_t sub = {s->t, s->mask, s->base, prefix, s->display, s->hidden};
        return read_mapping(r, vn, &sub);
    }
    return unknown_key(r, kn, s, key);
}

static int read_mapping(reader_t *r, const yaml_node_t *map, const section_t *s)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (r->budget <= 0) {
            return err_set(r->err, ERR_BAD_DATA, "%s:%d: document too large (aliases?)", r->file,
                           line_of(map));
        }
        if (read_pair(r, map, p, s) != 0) {
            return -1;
        }
    }
    return 0;
}

static int load_document(yaml_document_t *doc, const char *yaml, size_t len, const char *file_name,
                         err_t *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return err_set(err, ERR_INTERNAL, "%s: cannot initialize the YAML parser", file_name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        rc = err_set(err, ERR_BAD_DATA, "%s:%d: %s%s%s", file_name,
                     (int)parser.problem_mark.line + 1, parser.problem ? parser.problem : "error",
                     parser.context ? " " : "", parser.context ? parser.context : "");
    }
    yaml_parser_delete(&parser);
    return rc;
}

int cfg__yaml_read(cfg_t *c, const char *yaml, size_t len, const char *file_name, err_t *err)
{
    yaml_document_t doc;
    if (load_document(&doc, yaml, len, file_name, err) != 0) {
        return -1;
    }
    reader_t r = {&doc, file_name, err, NODE_BUDGET};
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root != NULL && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            rc = err_set(err, ERR_BAD_DATA, "%s:%d: the configuration must be a mapping, not %s",
                         file_name, line_of(root), kind_name(root));
        } else {
            section_t s = {&cfg__root, cfg__program_mask(c->program), c, "", "", 0};
            rc = read_mapping(&r, root, &s);
        }
    }
    yaml_document_delete(&doc);
    return rc;
}

/* ---- runtime overrides ----------------------------------------------------------------- */

static int read_tenant(reader_t *r, const yaml_node_t *kn, const yaml_node_t *vn,
                       cfg_program_t prog, cfg_t *(*new_tenant)(void *, const char *),
                       void *arg)
{
    if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE) {
        return err_set(r->err, ERR_BAD_DATA, "%s: tenant IDs must be strings", r->file);
    }
    const char *tenant = scalar_text(kn);
    if (is_null(vn)) {
        return 0;
    }
    if (vn->type != YAML_MAPPING_NODE) {
        return err_set(r->err, ERR_BAD_DATA,
                       "%s:%d: key \"overrides.%s\": cannot unmarshal %s into a section", r->file,
                       line_of(vn), tenant, kind_name(vn));
    }
    cfg_t *c = new_tenant(arg, tenant);
    if (c == NULL) {
        return -1;
    }
    char display[512];
    snprintf(display, sizeof(display), "overrides.%s.", tenant);
    const char *prefix = prog == CFG_LOGD ? "limits_config." : "limits.";
    section_t s = {&cfg__root, cfg__program_mask(prog), c, prefix, display, strlen(prefix)};
    return read_mapping(r, vn, &s);
}

static int read_overrides_root(reader_t *r, const yaml_node_t *root, cfg_program_t prog,
                               cfg_t *(*new_tenant)(void *, const char *), void *arg)
{
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = node(r, p->key), *vn = node(r, p->value);
        if (kn == NULL || kn->type != YAML_SCALAR_NODE ||
            strcmp(scalar_text(kn), "overrides") != 0) {
            return err_set(r->err, ERR_BAD_DATA, "%s:%d: unknown key \"%s\" at top level",
                           r->file, line_of(kn != NULL ? kn : root),
                           kn != NULL && kn->type == YAML_SCALAR_NODE ? scalar_text(kn) : "?");
        }
        if (vn == NULL || is_null(vn)) {
            continue;
        }
        if (vn->type != YAML_MAPPING_NODE) {
            return err_set(r->err, ERR_BAD_DATA,
                           "%s:%d: key \"overrides\": cannot unmarshal %s into a map of tenants",
                           r->file, line_of(vn), kind_name(vn));
        }
        for (yaml_node_pair_t *t = vn->data.mapping.pairs.start; t < vn->data.mapping.pairs.top;
             t++) {
            if (r->budget <= 0) {
                return err_set(r->err, ERR_BAD_DATA, "%s: document too large", r->file);
            }
            if (read_tenant(r, node(r, t->key), node(r, t->value), prog, new_tenant, arg) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

int cfg__yaml_read_overrides(cfg_program_t prog, const char *yaml, size_t len,
                             const char *file_name, cfg_t *(*new_tenant)(void *, const char *),
                             void *arg, err_t *err)
{
    yaml_document_t doc;
    if (load_document(&doc, yaml, len, file_name, err) != 0) {
        return -1;
    }
    reader_t r = {&doc, file_name, err, NODE_BUDGET};
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root != NULL && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            rc = err_set(err, ERR_BAD_DATA, "%s:%d: the runtime configuration must be a mapping",
                         file_name, line_of(root));
        } else {
            rc = read_overrides_root(&r, root, prog, new_tenant, arg);
        }
    }
    yaml_document_delete(&doc);
    return rc;
}

/* ---- dump ---------------------------------------------------------------------------- */

typedef struct {
    yaml_emitter_t em;
    int failed;
} writer_t;

static int write_handler(void *data, unsigned char *bytes, size_t size)
{
    buf_append(data, bytes, size);
    return 1;
}

static void emit(writer_t *w, yaml_event_t *ev)
{
    if (!w->failed && !yaml_emitter_emit(&w->em, ev)) {
        w->failed = 1;
    }
}

/* Strings another YAML reader would take for a bool, null or number get quotes. */
static int needs_quotes(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no",   "on",
                                        "off",  "y",     "n",   "null", "~"};
    if (*s == '\0') {
        return 1;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i]) == 0) {
            return 1;
        }
    }
    char *end;
    strtod(s, &end);
    return *end == '\0';
}

static void emit_scalar(writer_t *w, const char *s, int quoted)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    emit(w, &ev);
}

static void emit_start(writer_t *w, int is_map, int empty)
{
    yaml_event_t ev;
    if (is_map) {
        yaml_mapping_start_event_initialize(
            &ev, NULL, NULL, 1, empty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    } else {
        yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, empty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    }
    emit(w, &ev);
}

static void emit_end(writer_t *w, int is_map)
{
    yaml_event_t ev;
    if (is_map) {
        yaml_mapping_end_event_initialize(&ev);
    } else {
        yaml_sequence_end_event_initialize(&ev);
    }
    emit(w, &ev);
}

/* Emits the keys of table t (rows of `mask`) found under path `prefix` of struct `base`. */
static void emit_section(writer_t *w, const cfg__table_t *t, unsigned mask, const void *base,
                         const char *prefix);

/* A scalar row's value; secrets are masked. */
static void emit_text(writer_t *w, const cfg__key_t *k, const void *base)
{
    buf_t b;
    buf_init(&b);
    cfg__format_scalar(k, base, &b);
    const char *s = b.data != NULL ? b.data : "";
    if (k->is_secret && *s != '\0') {
        s = "********";
    }
    emit_scalar(w, s, k->type == CFG__STRING && needs_quotes(s));
    buf_fini(&b);
}

/* A list row: a sequence of mappings, or a mapping keyed by the elements' names. */
static void emit_list(writer_t *w, const cfg__key_t *k, unsigned mask, const void *base)
{
    const char *items = *(char *const *)((const char *)base + k->offset);
    size_t n = *(const size_t *)((const char *)base + k->count_offset);
    unsigned sub_mask = k->sub_programs != 0 ? k->sub_programs : mask;
    const cfg__key_t *name = cfg__map_key(k->sub);
    emit_start(w, name != NULL, n == 0);
    for (size_t i = 0; i < n; i++) {
        const char *elem = items + i * k->sub->elem_size;
        if (name != NULL) {
            emit_text(w, name, elem);
        }
        emit_start(w, 1, 0);
        emit_section(w, k->sub, sub_mask, elem, "");
        emit_end(w, 1);
    }
    emit_end(w, name != NULL);
}

static void emit_value(writer_t *w, const cfg__key_t *k, unsigned mask, const void *base)
{
    const char *f = (const char *)base + k->offset;
    char tmp[64];
    if (k->type == CFG__STRLIST || k->type == CFG__DURLIST) {
        const cfg_strlist_t *sl = (const cfg_strlist_t *)f;
        const cfg_durlist_t *dl = (const cfg_durlist_t *)f;
        size_t n = k->type == CFG__STRLIST ? sl->n : dl->n;
        emit_start(w, 0, n == 0);
        for (size_t i = 0; i < n; i++) {
            if (k->type == CFG__DURLIST) {
                cfg__format_duration(dl->ms[i], tmp, sizeof(tmp));
            }
            const char *s = k->type == CFG__STRLIST ? sl->items[i] : tmp;
            emit_scalar(w, s, k->type == CFG__STRLIST && needs_quotes(s));
        }
        emit_end(w, 0);
    } else if (k->type == CFG__STRMAP) {
        const cfg_strmap_t *m = (const cfg_strmap_t *)f;
        emit_start(w, 1, m->n == 0);
        for (size_t i = 0; i < m->n; i++) {
            emit_scalar(w, m->keys[i], needs_quotes(m->keys[i]));
            emit_scalar(w, m->values[i], needs_quotes(m->values[i]));
        }
        emit_end(w, 1);
    } else if (k->type == CFG__LIST) {
        emit_list(w, k, mask, base);
    } else {
        emit_text(w, k, base);
    }
}

/* Length of the next path component of `path` after `prefix`, or 0 if not under it. */
static size_t component_len(const cfg__key_t *k, unsigned mask, const char *prefix, size_t plen)
{
    if ((k->programs & mask) == 0 || k->type == CFG__IGNORED || k->is_map_key ||
        strncmp(k->path, prefix, plen) != 0) {
        return 0;
    }
    const char *rest = k->path + plen;
    const char *dot = strchr(rest, '.');
    return dot != NULL ? (size_t)(dot - rest) : strlen(rest);
}

/* Emits the keys under `prefix` in table order, each section once, where it first appears. */
static void emit_section(writer_t *w, const cfg__table_t *t, unsigned mask, const void *base,
                         const char *prefix)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < t->n_keys; i++) {
        const cfg__key_t *k = &t->keys[i];
        size_t n = component_len(k, mask, prefix, plen);
        int seen = n == 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = component_len(&t->keys[j], mask, prefix, plen) == n &&
                   strncmp(t->keys[j].path + plen, k->path + plen, n) == 0;
        }
        if (seen) {
            continue;
        }
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)n, k->path + plen);
        emit_scalar(w, name, 0);
        if (k->path[plen + n] == '\0') {
            emit_value(w, k, mask, base);
            continue;
        }
        char sub[512];
        snprintf(sub, sizeof(sub), "%s%s.", prefix, name);
        emit_start(w, 1, 0);
        emit_section(w, t, mask, base, sub);
        emit_end(w, 1);
    }
}

void cfg__yaml_dump(const cfg_t *c, buf_t *out)
{
    writer_t w = {.failed = 0};
    yaml_event_t ev;
    yaml_emitter_initialize(&w.em);
    yaml_emitter_set_output(&w.em, write_handler, out);
    yaml_emitter_set_width(&w.em, -1);
    yaml_emitter_set_unicode(&w.em, 1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&w, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(&w, &ev);
    emit_start(&w, 1, 0);
    emit_section(&w, &cfg__root, cfg__program_mask(c->program), c, "");
    emit_end(&w, 1);
    yaml_document_end_event_initialize(&ev, 1);
    emit(&w, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(&w, &ev);
    yaml_emitter_delete(&w.em);
}
