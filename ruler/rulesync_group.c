/* ruler/rulesync_group.c - rule groups as herald-rulesync exchanges them with a ruler: the
 * YAML it posts (and compares, byte for byte, to decide on updates) and the listing it
 * reads back (GET <base>, YAML or JSON).
 *
 * The layout is yaml.v3's, which Alloy uses: 4-space indent, list items under a key at
 * column +4, keys of an item at +2, maps sorted by key. Scalars are quoted by the ruler's
 * own writer (ruler__yaml_scalar), so herald's two sides agree on quoting. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/timeutil.h"
#include "ruler/ruler_int.h"
#include "ruler/rulesync_int.h"

/* The expanded weight a listing may have (its arena has no budget). */
#define LISTING_MAX_BYTES (64u << 20)

/* ---- writer --------------------------------------------------------------------------------- */

static void pad(buf_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        buf_putc(out, ' ');
    }
}

/* "key: value\n" for a key at column col, after `lead` spaces (0 when the key follows
 * "- " on the line); a block literal's lines go at col + 4. */
static void kv_at(buf_t *out, int lead, int col, const char *key, const char *value)
{
    ruler__yaml_kv(out, lead, key, value, col + 4);
}

static void kv_line(buf_t *out, int col, const char *key, const char *value)
{
    kv_at(out, col, col, key, value);
}

static void dur_line(buf_t *out, int col, const char *key, int64_t ms)
{
    char tmp[64];
    duration_format(ms, tmp, sizeof(tmp));
    kv_line(out, col, key, tmp);
}

static void map_block(buf_t *out, int col, int child_col, const char *key, const rulesync_kvs_t *kv)
{
    if (kv->n == 0) {
        return;
    }
    pad(out, col);
    buf_puts(out, key);
    buf_puts(out, ":\n");
    for (size_t i = 0; i < kv->n; i++) {
        kv_line(out, child_col, kv->items[i].key, kv->items[i].value);
    }
}

/* One rule as a list item at column 4: "    - alert: x", then keys at column 6. */
static void rule_yaml(const rulesync_rule_t *r, buf_t *out)
{
    buf_puts(out, "    - ");
    int lead = 0; /* the first key follows "- " on the same line */
    if (r->record != NULL) {
        kv_at(out, lead, 6, "record", r->record);
        lead = 6;
    }
    if (r->alert != NULL) {
        kv_at(out, lead, 6, "alert", r->alert);
        lead = 6;
    }
    kv_at(out, lead, 6, "expr", r->expr != NULL ? r->expr : "");
    if (r->for_ms != 0) {
        dur_line(out, 6, "for", r->for_ms);
    }
    if (r->keep_firing_for_ms != 0) {
        dur_line(out, 6, "keep_firing_for", r->keep_firing_for_ms);
    }
    map_block(out, 6, 8, "labels", &r->labels);
    map_block(out, 6, 8, "annotations", &r->annotations);
}

void rulesync__group_yaml(const rulesync_group_t *g, buf_t *out)
{
    kv_line(out, 0, "name", g->name != NULL ? g->name : "");
    if (g->interval_ms != 0) {
        dur_line(out, 0, "interval", g->interval_ms);
    }
    if (g->query_offset_ms >= 0) {
        dur_line(out, 0, "query_offset", g->query_offset_ms);
    }
    if (g->limit != 0) {
        buf_printf(out, "limit: %lld\n", (long long)g->limit);
    }
    if (g->n_rules == 0) {
        buf_puts(out, "rules: []\n");
    } else {
        buf_puts(out, "rules:\n");
    }
    for (size_t i = 0; i < g->n_rules; i++) {
        rule_yaml(&g->rules[i], out);
    }
    map_block(out, 0, 4, "labels", &g->labels);
    if (g->n_source_tenants > 0) {
        buf_puts(out, "source_tenants:\n");
        for (size_t i = 0; i < g->n_source_tenants; i++) {
            buf_puts(out, "    - ");
            ruler__yaml_scalar(out, g->source_tenants[i], 8);
            buf_putc(out, '\n');
        }
    }
}

/* ---- listing reader ------------------------------------------------------------------------- */

typedef struct {
    arena_t *a;
    yaml_document_t *d;
} rd_t;

static yaml_node_t *rd_node(const rd_t *r, int id)
{
    return yaml_document_get_node(r->d, id);
}

static const char *rd_scalar(const rd_t *r, yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE) {
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0)) {
        return NULL;
    }
    return arena_strdup(r->a, s);
}

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const rulesync_kv_t *)x)->key, ((const rulesync_kv_t *)y)->key);
}

static rulesync_kvs_t rd_kvs(const rd_t *r, yaml_node_t *n)
{
    rulesync_kvs_t out = {0};
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        return out;
    }
    size_t cap = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    out.items = arena_calloc(r->a, (cap + 1) * sizeof(*out.items));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = rd_scalar(r, rd_node(r, p->key));
        const char *v = rd_scalar(r, rd_node(r, p->value));
        if (k != NULL) {
            out.items[out.n++] = (rulesync_kv_t){k, v != NULL ? v : ""};
        }
    }
    qsort(out.items, out.n, sizeof(*out.items), kv_cmp);
    return out;
}

/* A duration as the ruler wrote it; an unreadable one reads as unset, as a lenient decode
 * leaves the zero value. */
static int64_t rd_duration(const rd_t *r, yaml_node_t *n, int64_t unset)
{
    const char *s = rd_scalar(r, n);
    int64_t ms = 0;
    err_t e = {0};
    if (s == NULL || duration_parse(s, &ms, &e) < 0) {
        return unset;
    }
    return ms;
}

typedef void (*rd_pair_fn)(const rd_t *r, const char *key, yaml_node_t *v, void *dst);

static void rd_map(const rd_t *r, yaml_node_t *n, rd_pair_fn fn, void *dst)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        return;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = rd_node(r, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE) {
            fn(r, (const char *)k->data.scalar.value, rd_node(r, p->value), dst);
        }
    }
}

static void rule_pair(const rd_t *r, const char *key, yaml_node_t *v, void *dst)
{
    rulesync_rule_t *rule = dst;
    if (strcmp(key, "record") == 0) {
        rule->record = rd_scalar(r, v);
    } else if (strcmp(key, "alert") == 0) {
        rule->alert = rd_scalar(r, v);
    } else if (strcmp(key, "expr") == 0) {
        rule->expr = rd_scalar(r, v);
    } else if (strcmp(key, "for") == 0) {
        rule->for_ms = rd_duration(r, v, 0);
    } else if (strcmp(key, "keep_firing_for") == 0) {
        rule->keep_firing_for_ms = rd_duration(r, v, 0);
    } else if (strcmp(key, "labels") == 0) {
        rule->labels = rd_kvs(r, v);
    } else if (strcmp(key, "annotations") == 0) {
        rule->annotations = rd_kvs(r, v);
    }
}

static size_t rd_len(yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
               : 0;
}

static void group_pair(const rd_t *r, const char *key, yaml_node_t *v, void *dst)
{
    rulesync_group_t *g = dst;
    if (strcmp(key, "name") == 0) {
        g->name = rd_scalar(r, v);
    } else if (strcmp(key, "interval") == 0) {
        g->interval_ms = rd_duration(r, v, 0);
    } else if (strcmp(key, "query_offset") == 0) {
        g->query_offset_ms = rd_duration(r, v, -1);
    } else if (strcmp(key, "limit") == 0) {
        const char *s = rd_scalar(r, v);
        g->limit = s != NULL ? strtoll(s, NULL, 10) : 0;
    } else if (strcmp(key, "labels") == 0) {
        g->labels = rd_kvs(r, v);
    } else if (strcmp(key, "rules") == 0) { /* a repeated key replaces the earlier one */
        g->n_rules = 0;
        g->rules = arena_calloc(r->a, (rd_len(v) + 1) * sizeof(*g->rules));
        for (size_t i = 0; i < rd_len(v); i++) {
            rd_map(r, rd_node(r, v->data.sequence.items.start[i]), rule_pair,
                   &g->rules[g->n_rules++]);
        }
    } else if (strcmp(key, "source_tenants") == 0) {
        g->n_source_tenants = 0;
        g->source_tenants = arena_calloc(r->a, (rd_len(v) + 1) * sizeof(char *));
        for (size_t i = 0; i < rd_len(v); i++) {
            const char *s = rd_scalar(r, rd_node(r, v->data.sequence.items.start[i]));
            if (s != NULL) {
                g->source_tenants[g->n_source_tenants++] = s;
            }
        }
    }
}

static void ns_pair(const rd_t *r, const char *key, yaml_node_t *v, void *dst)
{
    rulesync_state_t *st = dst;
    size_t n = rd_len(v);
    rulesync_group_t *groups = arena_calloc(r->a, (n + 1) * sizeof(*groups));
    for (size_t i = 0; i < n; i++) {
        groups[i].query_offset_ms = -1;
        rd_map(r, rd_node(r, v->data.sequence.items.start[i]), group_pair, &groups[i]);
    }
    rulesync__state_put(r->a, st, arena_strdup(r->a, key), groups, n);
}

int rulesync__listing_parse(arena_t *a, const char *text, size_t len, rulesync_state_t *out,
                            err_t *err)
{
    yaml_parser_t p;
    yaml_document_t d;
    *out = (rulesync_state_t){0};
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &d)) {
        err_set(err, ERR_BAD_DATA, "yaml: line %d: %s", (int)p.problem_mark.line + 1,
                p.problem != NULL ? p.problem : "invalid YAML");
        yaml_parser_delete(&p);
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (root != NULL && root->type != YAML_MAPPING_NODE && rd_scalar(&(rd_t){a, &d}, root)) {
        rc = err_set(err, ERR_BAD_DATA, "yaml: cannot unmarshal the rule listing into a map");
    } else if (rulesync__yaml_check(&d, LISTING_MAX_BYTES, err) < 0) {
        rc = -1;
    } else {
        rd_map(&(rd_t){a, &d}, root, ns_pair, out);
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    return rc;
}

/* ---- state ---------------------------------------------------------------------------------- */

rulesync_nsgroups_t *rulesync__state_find(const rulesync_state_t *s, const char *ns)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->ns[mid].name, ns);
        if (c == 0) {
            return &s->ns[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

void rulesync__state_put(arena_t *a, rulesync_state_t *s, const char *ns, rulesync_group_t *groups,
                         size_t n_groups)
{
    rulesync_nsgroups_t *have = rulesync__state_find(s, ns);
    if (have != NULL) {
        *have = (rulesync_nsgroups_t){ns, groups, n_groups};
        return;
    }
    rulesync_nsgroups_t *grown = arena_alloc(a, (s->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        return; /* over the arena budget: the caller's arena error is reported */
    }
    size_t at = 0;
    while (at < s->n && strcmp(s->ns[at].name, ns) < 0) {
        at++;
    }
    if (s->n > 0) {
        memcpy(grown, s->ns, at * sizeof(*grown));
        memcpy(grown + at + 1, s->ns + at, (s->n - at) * sizeof(*grown));
    }
    grown[at] = (rulesync_nsgroups_t){ns, groups, n_groups};
    s->ns = grown;
    s->n++;
}
