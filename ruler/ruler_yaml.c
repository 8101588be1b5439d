/* ruler/ruler_yaml.c - writing rule groups: YAML laid out as Mimir's yaml.v3
 * encoder with a 4-space indent lays it out (so diffs against Mimir's answers
 * are empty), and JSON with the same structure (the default answer of herald's
 * listings, see contract.md §2).
 *
 * Layout model: a block at level L writes its keys at column L; a mapping that
 * is a sequence item writes "- " at column L and its keys at L+2; anything
 * nested under a key goes to level L+4. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/timeutil.h"
#include "ruler/ruler_int.h"

static void pad(buf_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        buf_putc(out, ' ');
    }
}

/* Words YAML 1.1/1.2 would read as something other than a string. */
static int looks_special(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off",
                                        "null", "y",     "n",   "~",  NULL};
    for (const char *const *w = words; *w != NULL; w++) {
        if (strcasecmp(s, *w) == 0) {
            return 1;
        }
    }
    char *end = NULL;
    strtod(s, &end);
    return end != s && *end == '\0';
}

/* Unicode line breaks YAML 1.1 also breaks lines on (NEL, LS, PS): 0 or their escape. */
static char unicode_break(const unsigned char *p)
{
    if (p[0] == 0xc2 && p[1] == 0x85) {
        return 'N';
    }
    if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
        return p[2] == 0xa8 ? 'L' : 'P';
    }
    return 0;
}

static int needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || looks_special(s) || isspace((unsigned char)s[0]) ||
        isspace((unsigned char)s[n - 1])) {
        return 1;
    }
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) != NULL) {
        return 1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || (c == ':' && (p[1] == ' ' || p[1] == '\0')) ||
            (c == '#' && p > s && p[-1] == ' ') || unicode_break((const unsigned char *)p)) {
            return 1;
        }
    }
    return 0;
}

static void double_quoted(buf_t *out, const char *s)
{
    buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '\n':
            buf_puts(out, "\\n");
            break;
        case '\t':
            buf_puts(out, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                buf_printf(out, "\\x%02x", *p);
            } else if (unicode_break(p)) {
                buf_printf(out, "\\%c", unicode_break(p));
                p += p[0] == 0xc2 ? 1 : 2;
            } else {
                buf_putc(out, (char)*p);
            }
        }
    }
    buf_putc(out, '"');
}

/* Multi-line text as a literal block when every line survives it unchanged. */
static int literal_ok(const char *s)
{
    size_t n = strlen(s);
    if (strchr(s, '\n') == NULL || s[0] == ' ' || s[0] == '\n' ||
        (n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\n')) {
        return 0; /* "|" keeps one final newline only: more must be quoted */
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f || unicode_break(p)) {
            return 0;
        }
        if (*p == ' ' && (p[1] == '\n' || p[1] == '\0')) {
            return 0; /* trailing spaces would be kept but are easy to lose: quote */
        }
    }
    return 1;
}

/* YAML allows at most 1024 characters in an implicit key; longer ones take the explicit
 * "? key" form. */
#define YAML_IMPLICIT_KEY_MAX 1000

void ruler__yaml_key(buf_t *out, const char *s)
{
    if (needs_quotes(s)) {
        double_quoted(out, s);
    } else {
        buf_puts(out, s);
    }
}

void ruler__yaml_kv(buf_t *out, int col, const char *key, const char *value, int indent)
{
    pad(out, col);
    size_t at = out->len;
    ruler__yaml_key(out, key);
    if (out->len - at > YAML_IMPLICIT_KEY_MAX) { /* as written: escapes count */
        buf_t k;
        buf_init(&k);
        buf_append(&k, out->data + at, out->len - at);
        out->len = at;
        buf_puts(out, "? ");
        buf_append(out, k.data, k.len);
        buf_putc(out, '\n');
        pad(out, col);
        buf_fini(&k);
    }
    buf_puts(out, ": ");
    ruler__yaml_scalar(out, value, indent);
    buf_putc(out, '\n');
}

void ruler__yaml_scalar(buf_t *out, const char *s, int indent)
{
    if (literal_ok(s)) {
        size_t n = strlen(s);
        int keep = n > 0 && s[n - 1] == '\n';
        buf_puts(out, keep ? "|" : "|-");
        for (const char *line = s; *line != '\0';) {
            const char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            buf_putc(out, '\n');
            if (len > 0) {
                pad(out, indent);
                buf_append(out, line, len);
            }
            line += len + (nl != NULL ? 1 : 0);
        }
        return;
    }
    ruler__yaml_key(out, s);
}

/* "key: value\n" at column col; nested (block literal) text indented at level
 * + 4. */
static void kv_line(buf_t *out, int col, int level, const char *key, const char *value)
{
    ruler__yaml_kv(out, col, key, value, level + 4);
}

static void dur_line(buf_t *out, int col, int level, const char *key, int64_t ms)
{
    char tmp[64];
    duration_format(ms, tmp, sizeof(tmp));
    kv_line(out, col, level, key, tmp);
}

static void map_block(buf_t *out, int col, int level, const char *key, const ruler_kv_t *kv,
                      size_t n)
{
    if (n == 0) {
        return;
    }
    pad(out, col);
    buf_puts(out, key);
    buf_puts(out, ":\n");
    for (size_t i = 0; i < n; i++) {
        kv_line(out, level + 4, level + 4, kv[i].key, kv[i].value);
    }
}

/* The first key of a sequence item is preceded by "- " at column level. */
static int item_col(buf_t *out, int level, int *first)
{
    if (*first) {
        pad(out, level);
        buf_puts(out, "- ");
        *first = 0;
        return 0;
    }
    return level + 2;
}

static void rule_yaml(const ruler_rule_def_t *r, buf_t *out, int level)
{
    int first = 1;
    if (r->record != NULL) {
        kv_line(out, item_col(out, level, &first), level, "record", r->record);
    }
    if (r->alert != NULL) {
        kv_line(out, item_col(out, level, &first), level, "alert", r->alert);
    }
    kv_line(out, item_col(out, level, &first), level, "expr", r->expr != NULL ? r->expr : "");
    if (r->for_ms != 0) {
        dur_line(out, level + 2, level, "for", r->for_ms);
    }
    if (r->keep_firing_for_ms != 0) {
        dur_line(out, level + 2, level, "keep_firing_for", r->keep_firing_for_ms);
    }
    map_block(out, level + 2, level, "labels", r->labels, r->n_labels);
    map_block(out, level + 2, level, "annotations", r->annotations, r->n_annotations);
}

/* in_seq: the group is an item of a list (namespace map or file form). */
static void group_yaml(const ruler_group_def_t *g, buf_t *out, int level, int in_seq)
{
    int first = in_seq;
    int col = in_seq ? level + 2 : level;
    kv_line(out, in_seq ? item_col(out, level, &first) : col, level, "name", g->name);
    if (g->interval_ms != 0) {
        dur_line(out, col, level, "interval", g->interval_ms);
    }
    if (g->query_offset_ms >= 0) {
        dur_line(out, col, level, "query_offset", g->query_offset_ms);
    }
    if (g->limit != 0) {
        pad(out, col);
        buf_printf(out, "limit: %lld\n", (long long)g->limit);
    }
    map_block(out, col, level, "labels", g->labels, g->n_labels);
    if (g->n_source_tenants > 0) {
        pad(out, col);
        buf_puts(out, "source_tenants:\n");
        for (size_t i = 0; i < g->n_source_tenants; i++) {
            pad(out, level + 4);
            buf_puts(out, "- ");
            ruler__yaml_scalar(out, g->source_tenants[i], level + 8);
            buf_putc(out, '\n');
        }
    }
    pad(out, col);
    buf_puts(out, g->n_rules > 0 ? "rules:\n" : "rules: []\n");
    for (size_t i = 0; i < g->n_rules; i++) {
        rule_yaml(&g->rules[i], out, level + 4);
    }
}

void ruler__group_yaml(const ruler_group_def_t *g, buf_t *out, int indent)
{
    group_yaml(g, out, indent, indent > 0);
}

void ruler__file_yaml(const ruler_ns_t *ns, buf_t *out)
{
    buf_puts(out, "groups:\n");
    for (size_t i = 0; i < ns->n; i++) {
        group_yaml(ns->groups[i], out, 4, 1);
    }
}

/* ---- JSON
 * -------------------------------------------------------------------------------
 */

static void json_map(jsonw_t *w, const char *key, const ruler_kv_t *kv, size_t n)
{
    if (n == 0) {
        return;
    }
    jsonw_key(w, key);
    jsonw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_key(w, kv[i].key);
        jsonw_str(w, kv[i].value);
    }
    jsonw_obj_end(w);
}

static void json_dur(jsonw_t *w, const char *key, int64_t ms)
{
    char tmp[64];
    duration_format(ms, tmp, sizeof(tmp));
    jsonw_key(w, key);
    jsonw_str(w, tmp);
}

static void rule_json(jsonw_t *w, const ruler_rule_def_t *r)
{
    jsonw_obj_begin(w);
    if (r->record != NULL) {
        jsonw_key(w, "record");
        jsonw_str(w, r->record);
    }
    if (r->alert != NULL) {
        jsonw_key(w, "alert");
        jsonw_str(w, r->alert);
    }
    jsonw_key(w, "expr");
    jsonw_str(w, r->expr != NULL ? r->expr : "");
    if (r->for_ms != 0) {
        json_dur(w, "for", r->for_ms);
    }
    if (r->keep_firing_for_ms != 0) {
        json_dur(w, "keep_firing_for", r->keep_firing_for_ms);
    }
    json_map(w, "labels", r->labels, r->n_labels);
    json_map(w, "annotations", r->annotations, r->n_annotations);
    jsonw_obj_end(w);
}

static void group_json(jsonw_t *w, const ruler_group_def_t *g)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "name");
    jsonw_str(w, g->name);
    if (g->interval_ms != 0) {
        json_dur(w, "interval", g->interval_ms);
    }
    if (g->query_offset_ms >= 0) {
        json_dur(w, "query_offset", g->query_offset_ms);
    }
    if (g->limit != 0) {
        jsonw_key(w, "limit");
        jsonw_int(w, g->limit);
    }
    json_map(w, "labels", g->labels, g->n_labels);
    if (g->n_source_tenants > 0) {
        jsonw_key(w, "source_tenants");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < g->n_source_tenants; i++) {
            jsonw_str(w, g->source_tenants[i]);
        }
        jsonw_arr_end(w);
    }
    jsonw_key(w, "rules");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < g->n_rules; i++) {
        rule_json(w, &g->rules[i]);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

void ruler__group_json(const ruler_group_def_t *g, buf_t *out)
{
    jsonw_t *w = jsonw_new(out);
    group_json(w, g);
    jsonw_free(w);
}
