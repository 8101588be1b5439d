/* common/template_parse.c - recursive-descent parser for Go's text/template language, giving
 * the same trees (and positions, used by execution errors) as Go's text/template/parse.
 *
 * DESIGN: one parser per tmpl_parse call; nodes, names and unquoted strings are allocated
 * in the template set's arena and never change afterwards. Errors use setjmp-free early
 * returns: every function returns NULL (or -1) once p->failed is set, and the first error
 * wins, worded "template: NAME:LINE: MSG" as Go's parser words it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/template_int.h"

#define MAX_VARS 256
#define MAX_PEEK 3
#define MAX_DEPTH 200

typedef struct {
    tmpl_t *set;
    arena_t *a;
    const char *parse_name; /* name for error texts: the template being parsed */
    const char *src;
    tlex_t lx;
    titem_t tok[MAX_PEEK];
    int peek;  /* items pushed back */
    int line;  /* line of the last item read */
    const char *vars[MAX_VARS];
    int n_vars;
    int range_depth;
    int depth; /* nesting of parentheses and control structures (bounds the C stack) */
    int failed;
    err_t *err;
    /* definitions found, installed only when the whole text parsed */
    tmpl_def_t **defs;
    size_t n_defs, cap_defs;
} tparser_t;

static tnode_t *parse_pipeline(tparser_t *p, const char *context, titem_type_t end);
static tnode_t *parse_pipeline_body(tparser_t *p, const char *context, titem_type_t end);
static tnode_t *parse_control_body(tparser_t *p, tnode_type_t type, const char *context);
static tnode_t *parse_list_until(tparser_t *p, tnode_t **end_node);

/* ---- errors and items ----------------------------------------------------------------- */

static void *perr(tparser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *perr(tparser_t *p, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(p->err, ERR_BAD_DATA, "template: %s:%d: %s", p->parse_name, p->line, msg);
        p->failed = 1;
    }
    return NULL;
}

static titem_t next_item(tparser_t *p)
{
    titem_t it;
    if (p->peek > 0) {
        it = p->tok[--p->peek];
    } else {
        do {
            it = tlex_next(&p->lx);
        } while (it.type == ITEM_COMMENT);
    }
    p->line = it.line;
    return it;
}

static void backup(tparser_t *p, titem_t it)
{
    p->tok[p->peek++] = it;
}

static titem_t peek_item(tparser_t *p)
{
    titem_t it = next_item(p);
    backup(p, it);
    return it;
}

static titem_t next_non_space(tparser_t *p)
{
    titem_t it;
    do {
        it = next_item(p);
    } while (it.type == ITEM_SPACE);
    return it;
}

static titem_t peek_non_space(tparser_t *p)
{
    titem_t it = next_non_space(p);
    backup(p, it);
    return it;
}

/* Go's item.String() as used in "unexpected X in Y". */
static void item_string(const titem_t *it, char *out, size_t n)
{
    if (it->type == ITEM_EOF) {
        snprintf(out, n, "EOF");
    } else if (it->type == ITEM_ERROR) {
        snprintf(out, n, "%.*s", (int)it->n, it->p);
    } else if (it->type >= ITEM_BLOCK) {
        snprintf(out, n, "<%.*s>", (int)it->n, it->p);
    } else if (it->n > 10) {
        buf_t b;
        buf_init(&b);
        buf_putc(&b, '"');
        buf_append(&b, it->p, 10);
        snprintf(out, n, "%s\"...", b.data);
        buf_fini(&b);
    } else {
        snprintf(out, n, "\"%.*s\"", (int)it->n, it->p);
    }
    /* Go quotes with %q: escape embedded quotes the simple way it does for ASCII */
}

static void *unexpected(tparser_t *p, titem_t it, const char *context)
{
    char s[64];
    item_string(&it, s, sizeof(s));
    if (it.type == ITEM_ERROR) {
        return perr(p, "%s", s);
    }
    return perr(p, "unexpected %s in %s", s, context);
}

static titem_t expect(tparser_t *p, titem_type_t type, const char *context)
{
    titem_t it = next_non_space(p);
    if (it.type != type) {
        unexpected(p, it, context);
    }
    return it;
}

/* ---- nodes ---------------------------------------------------------------------------- */

static tnode_t *new_node(tparser_t *p, tnode_type_t type, int pos)
{
    tnode_t *n = arena_calloc(p->a, sizeof(*n));
    if (n == NULL) {
        return perr(p, "out of memory");
    }
    n->type = (uint8_t)type;
    n->pos = pos;
    return n;
}

static void append_node(tparser_t *p, tnode_t ***items, int *n, tnode_t *node)
{
    tnode_t **grown = arena_realloc(p->a, *items, (size_t)*n * sizeof(**items),
                                    (size_t)(*n + 1) * sizeof(**items));
    if (grown == NULL) {
        perr(p, "out of memory");
        return;
    }
    grown[(*n)++] = node;
    *items = grown;
}

/* Splits ".A.B" / "$x.A" into identifiers (with the '$' kept on a variable's first). */
static int split_idents(tparser_t *p, const char *s, size_t n, tnode_t *node)
{
    const char *end = s + n;
    int is_var = *s == '$';
    const char *q = is_var ? s : s + 1;
    while (q <= end) {
        const char *dot = memchr(q, '.', (size_t)(end - q));
        const char *stop = dot != NULL ? dot : end;
        const char **grown = arena_realloc(p->a, node->u.field.idents,
                                           (size_t)node->u.field.n * sizeof(char *),
                                           (size_t)(node->u.field.n + 1) * sizeof(char *));
        if (grown == NULL) {
            return -1;
        }
        grown[node->u.field.n++] = arena_strndup(p->a, q, (size_t)(stop - q));
        node->u.field.idents = grown;
        if (dot == NULL) {
            break;
        }
        q = dot + 1;
    }
    return 0;
}

static tnode_t *new_field(tparser_t *p, tnode_type_t type, int pos, const char *s, size_t n)
{
    tnode_t *f = new_node(p, type, pos);
    if (f != NULL && split_idents(p, s, n, f) < 0) {
        return perr(p, "out of memory");
    }
    return f;
}

/* One backslash escape at s[*i] (just after the '\'), appended to b; -1 if invalid. */
static int put_escape(const char *s, size_t end, size_t *i, buf_t *b)
{
    static const char names[] = "abfnrtv\\'\"", values[] = "\a\b\f\n\r\t\v\\'\"";
    char c = s[*i];
    const char *simple = c != 0 ? strchr(names, c) : NULL;
    if (simple != NULL) {
        buf_putc(b, values[simple - names]);
        return 0;
    }
    int octal = c >= '0' && c <= '7';
    if (c != 'x' && c != 'u' && c != 'U' && !octal) {
        return -1;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 3;
    size_t start = octal ? *i : *i + 1;
    if (start + (size_t)digits > end) {
        return -1;
    }
    char tmp[9] = {0};
    memcpy(tmp, s + start, (size_t)digits);
    char *endp;
    unsigned long v = strtoul(tmp, &endp, octal ? 8 : 16);
    if (*endp != 0 || (!octal && c != 'x' && v > 0x10FFFF)) {
        return -1;
    }
    *i = start + (size_t)digits - 1;
    if (c == 'x' || octal) {
        buf_putc(b, (char)v); /* a byte, not a code point */
    } else {
        tmpl__utf8_encode((uint32_t)v, b);
    }
    return 0;
}

/* Go's strconv.Unquote for "..." and `...` and '.'. Returns the bytes in the arena. */
static int unquote(tparser_t *p, const char *s, size_t n, const char **out, size_t *out_n)
{
    if (s[0] == '`') {
        *out = arena_strndup(p->a, s + 1, n - 2);
        *out_n = n - 2;
        return 0;
    }
    buf_t b;
    buf_init(&b);
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '\\') {
            buf_putc(&b, s[i]);
        } else if (++i >= n - 1 || put_escape(s, n - 1, &i, &b) < 0) {
            buf_fini(&b);
            perr(p, "invalid syntax");
            return -1;
        }
    }
    *out_n = b.len;
    *out = arena_strndup(p->a, b.data != NULL ? b.data : "", b.len);
    buf_fini(&b);
    return 0;
}

/* 'x': the rune's value, an int (and float) constant. */
static tnode_t *parse_char(tparser_t *p, tnode_t *n, titem_t it)
{
    const char *v;
    size_t vn, len = 1;
    if (unquote(p, it.p, it.n, &v, &vn) < 0) {
        return NULL;
    }
    int64_t r = (unsigned char)v[0];
    if (r >= 0x80 && (r = tmpl__utf8_decode((const unsigned char *)v, vn, &len)) < 0) {
        return perr(p, "malformed character constant: %.*s", (int)it.n, it.p);
    }
    n->u.num.is_int = n->u.num.is_float = 1;
    n->u.num.i = r;
    n->u.num.f = (double)r;
    return n;
}

/* Integer literal (decimal, 0x, 0o, 0b, leading-0 octal); 0 if `tmp` is not one. */
static int parse_int_literal(const char *tmp, int64_t *out)
{
    const char *digits = tmp + (tmp[0] == '-' || tmp[0] == '+');
    int base = 0;
    if (digits[0] == '0' && strchr("oObB", digits[1]) != NULL && digits[1] != 0) {
        base = digits[1] == 'o' || digits[1] == 'O' ? 8 : 2;
        digits += 2;
    }
    char *end;
    errno = 0;
    long long iv = base != 0 ? strtoll(digits, &end, base) : strtoll(tmp, &end, 0);
    if (*end != 0 || errno == ERANGE || end == digits) {
        return 0;
    }
    *out = base != 0 && tmp[0] == '-' ? -iv : iv;
    return 1;
}

static tnode_t *parse_number(tparser_t *p, titem_t it)
{
    tnode_t *n = new_node(p, TN_NUMBER, it.pos);
    if (n == NULL) {
        return NULL;
    }
    n->lit = arena_strndup(p->a, it.p, it.n);
    if (it.type == ITEM_CHAR_CONSTANT) {
        return parse_char(p, n, it);
    }
    char tmp[128];
    size_t k = 0;
    for (size_t i = 0; i < it.n && k + 1 < sizeof(tmp); i++) {
        if (it.p[i] != '_') {
            tmp[k++] = it.p[i];
        }
    }
    tmp[k] = 0;
    if (parse_int_literal(tmp, &n->u.num.i)) {
        n->u.num.is_int = n->u.num.is_float = 1;
        n->u.num.f = (double)n->u.num.i;
        return n;
    }
    char *end;
    errno = 0;
    double fv = strtod(tmp, &end);
    if (*end != 0 || strpbrk(tmp, "xX") != NULL || errno == ERANGE) {
        return perr(p, "illegal number syntax: \"%.*s\"", (int)it.n, it.p);
    }
    n->u.num.is_float = 1;
    n->u.num.f = fv;
    return n;
}

static tnode_t *use_var(tparser_t *p, titem_t it)
{
    tnode_t *v = new_field(p, TN_VAR, it.pos, it.p, it.n);
    if (v == NULL) {
        return NULL;
    }
    for (int i = p->n_vars - 1; i >= 0; i--) {
        if (strcmp(p->vars[i], v->u.field.idents[0]) == 0) {
            return v;
        }
    }
    return perr(p, "undefined variable \"%s\"", v->u.field.idents[0]);
}

static tnode_t *parse_string(tparser_t *p, titem_t it)
{
    tnode_t *n = new_node(p, TN_STRING, it.pos);
    if (n == NULL || unquote(p, it.p, it.n, &n->u.text.p, &n->u.text.n) < 0) {
        return NULL;
    }
    n->lit = arena_strndup(p->a, it.p, it.n);
    return n;
}

static tnode_t *parse_ident(tparser_t *p, titem_t it)
{
    const char *name = arena_strndup(p->a, it.p, it.n);
    const tfunc_t *fn = tmpl__func_lookup(p->set->funcs, name);
    if (fn == NULL) {
        return perr(p, "function \"%s\" not defined", name);
    }
    tnode_t *n = new_node(p, TN_IDENT, it.pos);
    if (n != NULL) {
        n->u.ident.name = name;
        n->u.ident.fn = fn;
    }
    return n;
}

/* term: literal, dot, nil, variable, field, function name or parenthesised pipeline. */
static tnode_t *parse_term(tparser_t *p)
{
    titem_t it = next_non_space(p);
    tnode_t *n;
    switch (it.type) {
    case ITEM_IDENTIFIER:
        return parse_ident(p, it);
    case ITEM_DOT:
        return new_node(p, TN_DOT, it.pos);
    case ITEM_NIL:
        return new_node(p, TN_NIL, it.pos);
    case ITEM_VARIABLE:
        return use_var(p, it);
    case ITEM_FIELD:
        return new_field(p, TN_FIELD, it.pos, it.p, it.n);
    case ITEM_BOOL:
        n = new_node(p, TN_BOOL, it.pos);
        if (n != NULL) {
            n->u.b = it.p[0] == 't';
        }
        return n;
    case ITEM_CHAR_CONSTANT:
    case ITEM_NUMBER:
        return parse_number(p, it);
    case ITEM_LEFT_PAREN:
        return parse_pipeline(p, "parenthesized pipeline", ITEM_RIGHT_PAREN);
    case ITEM_STRING:
    case ITEM_RAW_STRING:
        return parse_string(p, it);
    default:
        backup(p, it);
        return NULL;
    }
}

/* operand: term followed by .Field chain. */
static tnode_t *parse_operand(tparser_t *p)
{
    tnode_t *node = parse_term(p);
    if (node == NULL || peek_item(p).type != ITEM_FIELD) {
        return node;
    }
    buf_t chain;
    buf_init(&chain);
    int chain_pos = peek_item(p).pos;
    while (peek_item(p).type == ITEM_FIELD) {
        titem_t f = next_item(p);
        buf_append(&chain, f.p, f.n);
    }
    tnode_t *out = NULL;
    if (node->type == TN_FIELD || node->type == TN_VAR) {
        buf_t whole;
        buf_init(&whole);
        buf_puts(&whole, node->type == TN_VAR ? node->u.field.idents[0] : "");
        for (int i = node->type == TN_VAR ? 1 : 0; i < node->u.field.n; i++) {
            buf_printf(&whole, ".%s", node->u.field.idents[i]);
        }
        buf_append(&whole, chain.data, chain.len);
        out = new_field(p, (tnode_type_t)node->type, chain_pos, whole.data, whole.len);
        buf_fini(&whole);
    } else if (node->type == TN_PIPE || node->type == TN_IDENT) {
        out = new_node(p, TN_CHAIN, chain_pos);
        if (out != NULL && split_idents(p, chain.data, chain.len, out) == 0) {
            out->u.field.node = node;
        }
    } else {
        buf_t s;
        buf_init(&s);
        tmpl__node_string(node, &s);
        buf_t q;
        buf_init(&q);
        for (size_t i = 0; i < s.len; i++) {
            if (s.data[i] == '"' || s.data[i] == '\\') {
                buf_putc(&q, '\\');
            }
            buf_putc(&q, s.data[i]);
        }
        perr(p, "unexpected . after term \"%s\"", q.data);
        buf_fini(&q);
        buf_fini(&s);
    }
    buf_fini(&chain);
    return out;
}

static tnode_t *parse_command(tparser_t *p)
{
    tnode_t *cmd = new_node(p, TN_CMD, peek_non_space(p).pos);
    while (cmd != NULL && !p->failed) {
        peek_non_space(p);
        tnode_t *operand = parse_operand(p);
        if (operand != NULL) {
            append_node(p, &cmd->u.cmd.args, &cmd->u.cmd.n, operand);
        }
        if (p->failed) {
            return NULL;
        }
        titem_t it = next_item(p);
        if (it.type == ITEM_SPACE) {
            continue;
        }
        if (it.type == ITEM_RIGHT_DELIM || it.type == ITEM_RIGHT_PAREN) {
            backup(p, it);
        } else if (it.type != ITEM_PIPE) {
            return unexpected(p, it, "operand");
        }
        break;
    }
    if (cmd != NULL && cmd->u.cmd.n == 0) {
        return perr(p, "empty command");
    }
    return p->failed ? NULL : cmd;
}

static int push_var(tparser_t *p, tnode_t *pipe, titem_t v)
{
    if (p->n_vars >= MAX_VARS) {
        perr(p, "too many variables");
        return -1;
    }
    const char *name = arena_strndup(p->a, v.p, v.n);
    const char **grown = arena_realloc(p->a, pipe->u.pipe.decl,
                                       (size_t)pipe->u.pipe.n_decl * sizeof(char *),
                                       (size_t)(pipe->u.pipe.n_decl + 1) * sizeof(char *));
    if (grown == NULL || name == NULL) {
        perr(p, "out of memory");
        return -1;
    }
    grown[pipe->u.pipe.n_decl++] = name;
    pipe->u.pipe.decl = grown;
    p->vars[p->n_vars++] = name;
    return 0;
}

/* Declarations at the start of a pipeline: `$x :=`, `$x =`, `$i, $e :=` (range only). */
static void parse_decls(tparser_t *p, tnode_t *pipe, const char *context)
{
    for (;;) {
        titem_t v = peek_non_space(p);
        if (v.type != ITEM_VARIABLE) {
            return;
        }
        v = next_non_space(p);
        titem_t after = next_item(p);
        titem_t nx = after.type == ITEM_SPACE ? next_non_space(p) : after;
        if (nx.type == ITEM_ASSIGN || nx.type == ITEM_DECLARE) {
            /* `$x = v` of an unknown $x parses; execution reports it, as Go does */
            pipe->u.pipe.is_assign = nx.type == ITEM_ASSIGN;
            push_var(p, pipe, v);
            return;
        }
        if (nx.type == ITEM_CHAR) {
            push_var(p, pipe, v);
            if (strcmp(context, "range") == 0 && pipe->u.pipe.n_decl < 2) {
                titem_t t = peek_non_space(p);
                if (t.type == ITEM_VARIABLE || t.type == ITEM_RIGHT_DELIM ||
                    t.type == ITEM_RIGHT_PAREN) {
                    continue;
                }
                perr(p, "range can only initialize variables");
                return;
            }
            perr(p, "too many declarations in %s", context);
            return;
        }
        backup(p, nx);
        if (after.type == ITEM_SPACE && nx.type != ITEM_SPACE) {
            backup(p, after);
        }
        backup(p, v);
        return;
    }
}

static void check_pipeline(tparser_t *p, tnode_t *pipe, const char *context)
{
    if (pipe->u.pipe.n_cmds == 0) {
        perr(p, "missing value for %s", context);
        return;
    }
    for (int i = 1; i < pipe->u.pipe.n_cmds; i++) {
        int t = pipe->u.pipe.cmds[i]->u.cmd.args[0]->type;
        if (t == TN_BOOL || t == TN_DOT || t == TN_NIL || t == TN_NUMBER || t == TN_STRING) {
            perr(p, "non executable command in pipeline stage %d", i + 1);
            return;
        }
    }
}

static tnode_t *parse_pipeline(tparser_t *p, const char *context, titem_type_t end)
{
    if (p->depth >= MAX_DEPTH) {
        return perr(p, "max expression depth exceeded");
    }
    p->depth++;
    tnode_t *pipe = parse_pipeline_body(p, context, end);
    p->depth--;
    return pipe;
}

static tnode_t *parse_pipeline_body(tparser_t *p, const char *context, titem_type_t end)
{
    tnode_t *pipe = new_node(p, TN_PIPE, peek_non_space(p).pos);
    if (pipe == NULL) {
        return NULL;
    }
    parse_decls(p, pipe, context);
    while (!p->failed) {
        titem_t it = next_non_space(p);
        if (it.type == end) {
            check_pipeline(p, pipe, context);
            return p->failed ? NULL : pipe;
        }
        switch (it.type) {
        case ITEM_BOOL: case ITEM_CHAR_CONSTANT: case ITEM_DOT: case ITEM_FIELD:
        case ITEM_IDENTIFIER: case ITEM_NUMBER: case ITEM_NIL: case ITEM_RAW_STRING:
        case ITEM_STRING: case ITEM_VARIABLE: case ITEM_LEFT_PAREN: {
            backup(p, it);
            tnode_t *cmd = parse_command(p);
            if (cmd != NULL) {
                append_node(p, &pipe->u.pipe.cmds, &pipe->u.pipe.n_cmds, cmd);
            }
            break;
        }
        default:
            return unexpected(p, it, context);
        }
    }
    return NULL;
}

/* ---- control structures --------------------------------------------------------------- */

/* Marker nodes returned by parse_list_until for {{end}} and {{else}}. */
static tnode_t end_marker = {.type = TN_LIST};
static tnode_t else_marker = {.type = TN_LIST};
static tnode_t *parse_control(tparser_t *p, tnode_type_t type, const char *context);

static tnode_t *parse_else(tparser_t *p)
{
    titem_t pk = peek_non_space(p);
    if (pk.type == ITEM_IF || pk.type == ITEM_WITH) {
        return &else_marker; /* `else if` / `else with`: the caller reads the keyword */
    }
    expect(p, ITEM_RIGHT_DELIM, "else");
    return p->failed ? NULL : &else_marker;
}

static tnode_t *parse_else_chain(tparser_t *p, tnode_type_t type, const char *context,
                                 tnode_t **else_list)
{
    titem_t pk = peek_non_space(p);
    titem_type_t want = type == TN_IF ? ITEM_IF : ITEM_WITH;
    if ((type == TN_IF || type == TN_WITH) && pk.type == want) {
        titem_t kw = next_non_space(p);
        tnode_t *l = new_node(p, TN_LIST, kw.pos);
        tnode_t *inner = parse_control(p, type, context);
        if (l == NULL || inner == NULL) {
            return NULL;
        }
        append_node(p, &l->u.list.items, &l->u.list.n, inner);
        *else_list = l;
        return &end_marker;
    }
    tnode_t *next = NULL;
    *else_list = parse_list_until(p, &next);
    if (next != NULL && next != &end_marker) {
        return perr(p, "expected end; found {{else}}");
    }
    return next;
}

static tnode_t *parse_control(tparser_t *p, tnode_type_t type, const char *context)
{
    if (p->depth >= MAX_DEPTH) {
        return perr(p, "max expression depth exceeded");
    }
    p->depth++;
    tnode_t *n = parse_control_body(p, type, context);
    p->depth--;
    return n;
}

static tnode_t *parse_control_body(tparser_t *p, tnode_type_t type, const char *context)
{
    int saved_vars = p->n_vars;
    tnode_t *n = new_node(p, type, 0);
    tnode_t *pipe = n != NULL ? parse_pipeline(p, context, ITEM_RIGHT_DELIM) : NULL;
    if (pipe == NULL) {
        return NULL;
    }
    n->pos = pipe->pos;
    n->u.branch.pipe = pipe;
    p->range_depth += type == TN_RANGE;
    tnode_t *next = NULL;
    n->u.branch.list = parse_list_until(p, &next);
    p->range_depth -= type == TN_RANGE;
    if (next == &else_marker) {
        next = parse_else_chain(p, type, context, &n->u.branch.else_list);
    }
    p->n_vars = saved_vars;
    return p->failed || next == NULL ? NULL : n;
}

static const char *parse_template_name(tparser_t *p, titem_t it, const char *context)
{
    if (it.type != ITEM_STRING && it.type != ITEM_RAW_STRING) {
        unexpected(p, it, context);
        return NULL;
    }
    const char *s;
    size_t n;
    return unquote(p, it.p, it.n, &s, &n) == 0 ? s : NULL;
}

static tnode_t *parse_template_call(tparser_t *p, const char *context, titem_t *name_tok)
{
    titem_t it = next_non_space(p);
    const char *name = parse_template_name(p, it, context);
    if (name == NULL) {
        return NULL;
    }
    tnode_t *n = new_node(p, TN_TEMPLATE, it.pos);
    if (n == NULL) {
        return NULL;
    }
    n->u.tmpl.name = name;
    titem_t nx = next_non_space(p);
    if (nx.type != ITEM_RIGHT_DELIM) {
        backup(p, nx);
        n->u.tmpl.pipe = parse_pipeline(p, context, ITEM_RIGHT_DELIM);
    }
    if (name_tok != NULL) {
        *name_tok = it;
    }
    return p->failed ? NULL : n;
}

static int add_def(tparser_t *p, const char *name, tnode_t *root)
{
    tmpl_def_t *d = arena_calloc(p->a, sizeof(*d));
    if (d == NULL) {
        perr(p, "out of memory");
        return -1;
    }
    d->name = name;
    d->parse_name = p->parse_name;
    d->src = p->src;
    d->root = root;
    xgrow((void **)&p->defs, &p->cap_defs, p->n_defs + 1, sizeof(*p->defs));
    p->defs[p->n_defs++] = d;
    return 0;
}

/* A body for {{define}}/{{block}}: its own variable scope starting at "$". */
static tnode_t *parse_body(tparser_t *p, const char *context)
{
    if (p->depth >= MAX_DEPTH) {
        return perr(p, "max expression depth exceeded");
    }
    int saved_vars = p->n_vars, saved_range = p->range_depth;
    p->vars[p->n_vars++] = "$";
    p->range_depth = 0;
    tnode_t *end = NULL;
    p->depth++;
    tnode_t *root = parse_list_until(p, &end);
    p->depth--;
    p->n_vars = saved_vars;
    p->range_depth = saved_range;
    if (!p->failed && end != &end_marker) {
        return perr(p, "unexpected {{else}} in %s", context);
    }
    return p->failed ? NULL : root;
}

static tnode_t *parse_block(tparser_t *p)
{
    titem_t name_tok;
    tnode_t *call = parse_template_call(p, "block clause", &name_tok);
    tnode_t *root = call != NULL ? parse_body(p, "block clause") : NULL;
    if (root == NULL || add_def(p, call->u.tmpl.name, root) < 0) {
        return NULL;
    }
    return call;
}

static int parse_define(tparser_t *p)
{
    titem_t it = next_non_space(p);
    const char *name = parse_template_name(p, it, "define clause");
    if (name == NULL) {
        return -1;
    }
    expect(p, ITEM_RIGHT_DELIM, "define clause");
    tnode_t *root = p->failed ? NULL : parse_body(p, "define clause");
    return root != NULL ? add_def(p, name, root) : -1;
}

static tnode_t *parse_loop_ctl(tparser_t *p, titem_t kw, tnode_type_t type, const char *word)
{
    if (p->range_depth == 0) {
        return perr(p, "{{%s}} outside {{range}}", word);
    }
    char ctx[32];
    snprintf(ctx, sizeof(ctx), "{{%s}}", word);
    expect(p, ITEM_RIGHT_DELIM, ctx);
    return p->failed ? NULL : new_node(p, type, kw.pos);
}

static tnode_t *parse_action(tparser_t *p)
{
    titem_t it = next_non_space(p);
    switch (it.type) {
    case ITEM_BLOCK:
        return parse_block(p);
    case ITEM_BREAK:
        return parse_loop_ctl(p, it, TN_BREAK, "break");
    case ITEM_CONTINUE:
        return parse_loop_ctl(p, it, TN_CONTINUE, "continue");
    case ITEM_ELSE:
        return parse_else(p);
    case ITEM_END:
        expect(p, ITEM_RIGHT_DELIM, "end");
        return p->failed ? NULL : &end_marker;
    case ITEM_IF:
        return parse_control(p, TN_IF, "if");
    case ITEM_RANGE:
        return parse_control(p, TN_RANGE, "range");
    case ITEM_TEMPLATE:
        return parse_template_call(p, "template clause", NULL);
    case ITEM_WITH:
        return parse_control(p, TN_WITH, "with");
    default:
        break;
    }
    backup(p, it);
    tnode_t *pipe = parse_pipeline(p, "command", ITEM_RIGHT_DELIM);
    tnode_t *n = pipe != NULL ? new_node(p, TN_ACTION, pipe->pos) : NULL;
    if (n != NULL) {
        n->u.action = pipe;
    }
    return n;
}

static tnode_t *parse_text_or_action(tparser_t *p)
{
    titem_t it = next_non_space(p);
    if (it.type == ITEM_TEXT) {
        tnode_t *n = new_node(p, TN_TEXT, it.pos);
        if (n != NULL) {
            n->u.text.p = it.p;
            n->u.text.n = it.n;
        }
        return n;
    }
    if (it.type == ITEM_LEFT_DELIM) {
        return parse_action(p);
    }
    return unexpected(p, it, "input");
}

/* Items up to {{end}} / {{else}} (returned through *end_node). */
static tnode_t *parse_list_until(tparser_t *p, tnode_t **end_node)
{
    tnode_t *list = new_node(p, TN_LIST, peek_non_space(p).pos);
    while (list != NULL && !p->failed) {
        if (peek_non_space(p).type == ITEM_EOF) {
            return perr(p, "unexpected EOF");
        }
        tnode_t *n = parse_text_or_action(p);
        if (n == &end_marker || n == &else_marker) {
            *end_node = n;
            return list;
        }
        if (n != NULL) {
            append_node(p, &list->u.list.items, &list->u.list.n, n);
        }
    }
    return NULL;
}

/* Top level: text, actions and {{define}}s until EOF. */
static tnode_t *parse_top(tparser_t *p)
{
    tnode_t *root = new_node(p, TN_LIST, 0);
    p->vars[p->n_vars++] = "$";
    while (root != NULL && !p->failed && peek_item(p).type != ITEM_EOF) {
        titem_t it = peek_item(p);
        if (it.type == ITEM_LEFT_DELIM) {
            titem_t d = next_item(p);
            titem_t kw = next_non_space(p);
            if (kw.type == ITEM_DEFINE) {
                parse_define(p);
                continue;
            }
            backup(p, kw);
            backup(p, d);
        }
        tnode_t *n = parse_text_or_action(p);
        if (n == &end_marker) {
            return perr(p, "unexpected {{end}}");
        }
        if (n == &else_marker) {
            return perr(p, "unexpected {{else}}");
        }
        if (n != NULL) {
            append_node(p, &root->u.list.items, &root->u.list.n, n);
        }
    }
    return p->failed ? NULL : root;
}

/* Go's parse.IsEmptyTree: only whitespace text (and nothing else). */
static int is_empty_tree(const tnode_t *root)
{
    for (int i = 0; i < root->u.list.n; i++) {
        const tnode_t *n = root->u.list.items[i];
        if (n->type != TN_TEXT) {
            return 0;
        }
        for (size_t k = 0; k < n->u.text.n; k++) {
            if (!strchr(" \t\r\n", n->u.text.p[k])) {
                return 0;
            }
        }
    }
    return 1;
}

static void install(tparser_t *p, const char *name, tnode_t *top)
{
    for (size_t i = 0; i < p->n_defs; i++) {
        tmpl_def_t *d = p->defs[i];
        tmpl_def_t *old = hashmap_get(&p->set->defs, d->name);
        if (old == NULL || !is_empty_tree(d->root)) {
            hashmap_put(&p->set->defs, d->name, d);
        }
    }
    p->n_defs = 0;
    add_def(p, name, top);
    tmpl_def_t *d = p->defs[0];
    tmpl_def_t *old = hashmap_get(&p->set->defs, name);
    if (old == NULL || !is_empty_tree(top)) {
        hashmap_put(&p->set->defs, name, d);
    }
}

int tmpl__parse(tmpl_t *t, const char *name, const char *text, err_t *err)
{
    tparser_t p = {.set = t, .a = t->arena, .err = err};
    p.parse_name = arena_strdup(t->arena, name);
    p.src = arena_strdup(t->arena, text);
    if (p.parse_name == NULL || p.src == NULL) {
        return err_set(err, ERR_EXECUTION, "template: out of memory");
    }
    tlex_init(&p.lx, p.src);
    tnode_t *top = parse_top(&p);
    if (top != NULL) {
        install(&p, p.parse_name, top);
    }
    free(p.defs);
    return top != NULL ? 0 : -1;
}
