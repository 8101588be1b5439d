/* common/template_exec.c - executes parse trees as Go's text/template exec.go does: the
 * walk over control nodes, pipelines, commands, field chains, function and method calls
 * with Go's argument checks, and Go-worded errors with the node's line:col.
 *
 * DESIGN: the tree is read-only; all state is in tstate_t (one per execution): a variable
 * stack, the output buffer, and an arena for strings and lists built on the way. Every
 * walked node costs one step; steps, nesting depth and output size are bounded so hostile
 * templates stop with an error. walk() returns 0, -1 (error), or WALK_BREAK/WALK_CONTINUE. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/template_int.h"

#define WALK_BREAK 1
#define WALK_CONTINUE 2

/* A missing final value (Go's missingVal): the command is the first in its pipeline. */
typedef struct {
    int has;
    tv_t v;
} final_t;

static const final_t no_final = {0, {0}};

static int eval_pipeline(tstate_t *st, tv_t dot, const tnode_t *pipe, tv_t *out);
static int walk(tstate_t *st, tv_t dot, const tnode_t *n);
static int eval_arg(tstate_t *st, tv_t dot, tparam_t type, const tnode_t *n, tv_t *out);

/* ---- state and errors ----------------------------------------------------------------- */

void tstate_init(tstate_t *st, const tmpl_t *t, const tmpl_limits_t *lim, buf_t *out,
                 err_t *err)
{
    memset(st, 0, sizeof(*st));
    st->set = t;
    st->out = out;
    st->err = err;
    if (lim != NULL) {
        st->lim = *lim;
    }
    st->lim.max_output_bytes = st->lim.max_output_bytes ? st->lim.max_output_bytes : 1 << 20;
    st->lim.max_steps = st->lim.max_steps ? st->lim.max_steps : 1000000;
    st->lim.max_depth = st->lim.max_depth ? st->lim.max_depth : 1000;
    st->lim.max_arena_bytes = st->lim.max_arena_bytes ? st->lim.max_arena_bytes : 64u << 20;
    st->arena = arena_new(st->lim.max_arena_bytes, err);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    st->now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

void tstate_fini(tstate_t *st)
{
    arena_free(st->arena);
    free(st->vars);
    st->vars = NULL;
}

int tstate_fail(tstate_t *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st->fn_err = arena_vsprintf(st->arena, fmt, ap);
    va_end(ap);
    if (st->fn_err == NULL) {
        st->fn_err = "out of memory";
    }
    return -1;
}

/* Line (1-based) and column (byte offset in its line, 0-based) of a node, as Go's
 * ErrorContext counts them. */
static void node_line_col(const tmpl_def_t *d, const tnode_t *n, int *line, int *col)
{
    int last_nl = -1;
    *line = 1;
    for (int i = 0; i < n->pos && d->src[i] != 0; i++) {
        if (d->src[i] == '\n') {
            ++*line;
            last_nl = i;
        }
    }
    *col = last_nl >= 0 ? n->pos - (last_nl + 1) : n->pos;
}

/* html/template's error for a predefined escaper it cannot merge, at action `n`. */
static int predef_disallowed(err_t *err, const tmpl_def_t *d, const tnode_t *n, const char *esc)
{
    int line, col;
    node_line_col(d, n, &line, &col);
    return err_set(err, ERR_EXECUTION,
                   "html/template:%s:%d:%d: predefined escaper \"%s\" disallowed in template",
                   d->parse_name, line, col, esc);
}

/* Go's ErrorContext: "NAME:LINE:COL" and the node's text. */
int tstate_errorf(tstate_t *st, const char *fmt, ...)
{
    if (err_is_set(st->err)) {
        return -1;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const tmpl_def_t *d = st->def;
    if (d == NULL || st->node == NULL) {
        return err_set(st->err, ERR_EXECUTION, "template: %s: %s", d ? d->name : "", msg);
    }
    int line, col;
    node_line_col(d, st->node, &line, &col);
    buf_t ctx;
    buf_init(&ctx);
    tmpl__node_string(st->node, &ctx);
    err_set(st->err, ERR_EXECUTION, "template: %s:%d:%d: executing \"%s\" at <%s>: %s",
            d->parse_name, line, col, d->name, ctx.data ? ctx.data : "", msg);
    buf_fini(&ctx);
    return -1;
}

const char *tstate_strdup(tstate_t *st, const char *p, size_t n)
{
    const char *s = arena_strndup(st->arena, p != NULL ? p : "", n);
    return s != NULL ? s : "";
}

tv_t tstate_buf_value(tstate_t *st, buf_t *b)
{
    tv_t v = tv_str(tstate_strdup(st, b->data, b->len), b->len);
    buf_reset(b);
    return v;
}

static int step(tstate_t *st, const tnode_t *n)
{
    st->node = n;
    if (++st->steps > st->lim.max_steps) {
        return tstate_errorf(st, "template execution exceeded %zu steps", st->lim.max_steps);
    }
    if (err_is_set(st->err)) {
        return -1; /* the arena went over budget */
    }
    return 0;
}

/* ---- variables ------------------------------------------------------------------------ */

static void push_var(tstate_t *st, const char *name, tv_t v)
{
    if (st->n_vars == st->cap_vars) {
        size_t cap = (size_t)st->cap_vars;
        xgrow((void **)&st->vars, &cap, (size_t)st->n_vars + 1, sizeof(*st->vars));
        st->cap_vars = (int)cap;
    }
    st->vars[st->n_vars].name = name;
    st->vars[st->n_vars++].val = v;
}

static tvar_t *find_var(tstate_t *st, const char *name)
{
    for (int i = st->n_vars - 1; i >= 0; i--) {
        if (strcmp(st->vars[i].name, name) == 0) {
            return &st->vars[i];
        }
    }
    return NULL;
}

/* ---- argument checks as reflect.Call's ------------------------------------------------ */

static const char *param_name(tparam_t p)
{
    static const char *const names[] = {[TP_ANY] = "interface {}", [TP_STRING] = "string",
                                        [TP_INT] = "int",          [TP_FLOAT] = "float64",
                                        [TP_BOOL] = "bool",        [TP_STRLIST] = "[]string",
                                        [TP_TIME] = "time.Time"};
    return names[p];
}

static int assignable(tv_t v, tparam_t p)
{
    switch (p) {
    case TP_ANY:
        return 1;
    case TP_STRING:
        return v.kind == TV_STRING && v.type == TVT_PLAIN;
    case TP_INT:
        return v.kind == TV_INT;
    case TP_FLOAT:
        return v.kind == TV_FLOAT;
    case TP_BOOL:
        return v.kind == TV_BOOL;
    case TP_STRLIST:
        return v.kind == TV_LIST && v.type == TVT_STRSLICE;
    case TP_TIME:
        return v.kind == TV_TIME;
    }
    return 0;
}

static int validate(tstate_t *st, tv_t v, tparam_t p, tv_t *out)
{
    if (v.kind == TV_NIL && p != TP_ANY) {
        return p == TP_STRLIST ? (*out = v, 0)
                               : tstate_errorf(st, "invalid value; expected %s", param_name(p));
    }
    if (!assignable(v, p)) {
        return tstate_errorf(st, "wrong type for value; expected %s; got %s", param_name(p),
                             tv_type_name(v));
    }
    *out = v;
    return 0;
}

/* A literal converted to a parameter kind (Go's evalString/evalInteger/...). */
static int literal_arg(tstate_t *st, tparam_t p, const tnode_t *n, tv_t *out)
{
    buf_t s;
    buf_init(&s);
    tmpl__node_string(n, &s);
    int rc = -1;
    if (p == TP_STRING && n->type == TN_STRING) {
        *out = tv_str(n->u.text.p, n->u.text.n);
        rc = 0;
    } else if (p == TP_INT && n->type == TN_NUMBER && n->u.num.is_int) {
        *out = tv_int(n->u.num.i);
        rc = 0;
    } else if (p == TP_FLOAT && n->type == TN_NUMBER && n->u.num.is_float) {
        *out = tv_float(n->u.num.f);
        rc = 0;
    } else if (p == TP_BOOL && n->type == TN_BOOL) {
        *out = tv_bool(n->u.b);
        rc = 0;
    } else if (p == TP_STRING || p == TP_INT || p == TP_FLOAT || p == TP_BOOL) {
        static const char *const what[] = {[TP_STRING] = "string", [TP_INT] = "integer",
                                           [TP_FLOAT] = "float", [TP_BOOL] = "bool"};
        tstate_errorf(st, "expected %s; found %s", what[p], s.data);
    } else {
        tstate_errorf(st, "can't handle %s for arg of type %s", s.data, param_name(p));
    }
    buf_fini(&s);
    return rc;
}

/* Go's idealConstant: an untyped number literal as an interface{} argument. */
static int ideal_constant(tstate_t *st, const tnode_t *n, tv_t *out)
{
    const char *t = n->lit;
    int hex_or_rune = t[0] == '\'' || strstr(t, "0x") != NULL || strstr(t, "0X") != NULL;
    if (n->u.num.is_float && !hex_or_rune && strpbrk(t, ".eEpP") != NULL) {
        *out = tv_float(n->u.num.f);
        return 0;
    }
    if (n->u.num.is_int) {
        *out = tv_int(n->u.num.i);
        return 0;
    }
    return tstate_errorf(st, "%s overflows int", t);
}

/* ---- calls ---------------------------------------------------------------------------- */

static int call_and_or(tstate_t *st, tv_t dot, const tfunc_t *fn, const tnode_t *const *args,
                       int n, final_t final, tv_t *out)
{
    int is_or = fn->name[0] == 'o';
    tv_t v = tv_nil();
    for (int i = 0; i < n; i++) {
        if (eval_arg(st, dot, TP_ANY, args[i], &v) < 0) {
            return -1;
        }
        if (tv_truth(v) == is_or) {
            *out = v;
            return 0;
        }
    }
    *out = final.has ? final.v : v;
    return 0;
}

/* Calls fn (a function, or a method with its receiver in `recv`) with the command's
 * argument nodes args[0..n) plus the final value. Argument errors point at `at` (the
 * function's name or the field), a failing call at `cmd` (the whole command), as in Go. */
static int eval_call(tstate_t *st, tv_t dot, const tfunc_t *fn, const tv_t *recv,
                     const tnode_t *at, const tnode_t *cmd, const tnode_t *const *args, int n,
                     final_t final, tv_t *out)
{
    st->node = at;
    int n_in = n + final.has;
    if (fn->variadic && n_in < fn->n_params) {
        return tstate_errorf(st, "wrong number of args for %s: want at least %d got %d",
                             fn->name, fn->n_params, n);
    }
    if (!fn->variadic && n_in != fn->n_params) {
        return tstate_errorf(st, "wrong number of args for %s: want %d got %d", fn->name,
                             fn->n_params, n_in);
    }
    if (fn->raw_args == 2) {
        return call_and_or(st, dot, fn, args, n, final, out);
    }
    int off = recv != NULL;
    tv_t *argv = arena_calloc(st->arena, (size_t)(n_in + off + 1) * sizeof(tv_t));
    if (argv == NULL) {
        return -1;
    }
    if (recv != NULL) {
        argv[0] = *recv;
    }
    for (int i = 0; i < n_in; i++) {
        tparam_t p = i < fn->n_params ? fn->params[i] : fn->rest;
        if (i < n) {
            if (eval_arg(st, dot, p, args[i], &argv[off + i]) < 0) {
                return -1;
            }
        } else if (validate(st, final.v, p, &argv[off + i]) < 0) {
            return -1;
        }
    }
    st->node = at;
    st->fn_err = NULL;
    if (fn->fn(st, argv, n_in + off, out) < 0) {
        st->node = cmd;
        if (err_is_set(st->err)) {
            return -1;
        }
        return tstate_errorf(st, "error calling %s: %s", fn->name,
                             st->fn_err != NULL ? st->fn_err : "failed");
    }
    return 0;
}

/* ---- fields --------------------------------------------------------------------------- */

static int is_struct(tv_t v)
{
    return v.kind == TV_MAP && (v.type == TVT_DATA || v.type == TVT_ALERT ||
                                v.type == TVT_PAIR || v.type == TVT_PROMSAMPLE ||
                                v.type == TVT_PROMDATA);
}

static int eval_field(tstate_t *st, tv_t dot, const char *name, const tnode_t *node,
                      const tnode_t *const *args, int n, final_t final, tv_t recv, tv_t *out)
{
    if (recv.kind == TV_NIL) {
        *out = tv_nil();
        return 0;
    }
    int has_args = n > 1 || final.has;
    st->node = node;
    const tfunc_t *m = tmpl__method_lookup(recv, name);
    if (m != NULL) {
        return eval_call(st, dot, m, &recv, node, node, n > 1 ? args + 1 : NULL, n > 1 ? n - 1 : 0,
                         final, out);
    }
    if (recv.kind == TV_MAP) {
        const tv_t *v = tv_map_get(recv.u.map, name, strlen(name));
        if (is_struct(recv) && v == NULL) {
            return tstate_errorf(st, "can't evaluate field %s in type %s", name,
                                 tv_type_name(recv));
        }
        if (has_args) {
            return tstate_errorf(st, is_struct(recv)
                                         ? "%s has arguments but cannot be invoked as function"
                                         : "%s is not a method but has arguments",
                                 name);
        }
        int zero_str = recv.type == TVT_STRMAP || recv.type == TVT_KV;
        *out = v != NULL ? *v : zero_str ? tv_str("", 0) : tv_nil();
        return 0;
    }
    return tstate_errorf(st, "can't evaluate field %s in type %s", name, tv_type_name(recv));
}

static int eval_field_chain(tstate_t *st, tv_t dot, tv_t recv, const tnode_t *node,
                            const char *const *idents, int n_idents,
                            const tnode_t *const *args, int n, final_t final, tv_t *out)
{
    for (int i = 0; i < n_idents - 1; i++) {
        if (eval_field(st, dot, idents[i], node, NULL, 0, no_final, recv, &recv) < 0) {
            return -1;
        }
    }
    return eval_field(st, dot, idents[n_idents - 1], node, args, n, final, recv, out);
}

static int not_a_function(tstate_t *st, const tnode_t *const *args, int n, final_t final)
{
    if (n > 1 || final.has) {
        buf_t s;
        buf_init(&s);
        tmpl__node_string(args[0], &s);
        tstate_errorf(st, "can't give argument to non-function %s", s.data);
        buf_fini(&s);
        return -1;
    }
    return 0;
}

static int eval_variable(tstate_t *st, tv_t dot, const tnode_t *v, const tnode_t *const *args,
                         int n, final_t final, tv_t *out)
{
    st->node = v;
    tvar_t *var = find_var(st, v->u.field.idents[0]);
    if (var == NULL) {
        return tstate_errorf(st, "undefined variable: %s", v->u.field.idents[0]);
    }
    if (v->u.field.n == 1) {
        *out = var->val;
        return not_a_function(st, args, n, final);
    }
    return eval_field_chain(st, dot, var->val, v, v->u.field.idents + 1, v->u.field.n - 1,
                            args, n, final, out);
}

static int eval_chain(tstate_t *st, tv_t dot, const tnode_t *c, const tnode_t *const *args,
                      int n, final_t final, tv_t *out)
{
    tv_t base;
    st->node = c;
    if (c->u.field.node->type == TN_NIL) {
        return tstate_errorf(st, "indirection through explicit nil in (nil)");
    }
    if (eval_arg(st, dot, TP_ANY, c->u.field.node, &base) < 0) {
        return -1;
    }
    return eval_field_chain(st, dot, base, c, c->u.field.idents, c->u.field.n, args, n, final,
                            out);
}

/* ---- commands and pipelines ----------------------------------------------------------- */

static int eval_node_value(tstate_t *st, tv_t dot, const tnode_t *n, tv_t *out)
{
    switch (n->type) {
    case TN_DOT:
        *out = dot;
        return 0;
    case TN_BOOL:
        *out = tv_bool(n->u.b);
        return 0;
    case TN_STRING:
        *out = tv_str(n->u.text.p, n->u.text.n);
        return 0;
    case TN_NUMBER:
        return ideal_constant(st, n, out);
    case TN_NIL:
        return tstate_errorf(st, "nil is not a command");
    case TN_FIELD:
        return eval_field_chain(st, dot, dot, n, (const char *const *)n->u.field.idents,
                                n->u.field.n, &n, 1, no_final, out);
    case TN_VAR:
        return eval_variable(st, dot, n, &n, 1, no_final, out);
    case TN_CHAIN:
        return eval_chain(st, dot, n, &n, 1, no_final, out);
    case TN_PIPE:
        return eval_pipeline(st, dot, n, out);
    case TN_IDENT:
        return eval_call(st, dot, n->u.ident.fn, NULL, n, n, NULL, 0, no_final, out);
    default:
        return tstate_errorf(st, "can't evaluate node");
    }
}

static int eval_arg(tstate_t *st, tv_t dot, tparam_t type, const tnode_t *n, tv_t *out)
{
    if (step(st, n) < 0) {
        return -1;
    }
    if (n->type == TN_NIL) {
        if (type == TP_ANY || type == TP_STRLIST) {
            *out = tv_nil(); /* Go: the zero value of a type that can be nil */
            return 0;
        }
        return tstate_errorf(st, "cannot assign nil to %s", param_name(type));
    }
    if (n->type == TN_STRING || n->type == TN_NUMBER || n->type == TN_BOOL) {
        if (type == TP_ANY) {
            return eval_node_value(st, dot, n, out);
        }
        return literal_arg(st, type, n, out);
    }
    tv_t v;
    if (eval_node_value(st, dot, n, &v) < 0) {
        return -1;
    }
    st->node = n;
    return validate(st, v, type, out);
}

static int eval_command(tstate_t *st, tv_t dot, const tnode_t *cmd, final_t final, tv_t *out)
{
    const tnode_t *first = cmd->u.cmd.args[0];
    const tnode_t *const *args = (const tnode_t *const *)cmd->u.cmd.args;
    int n = cmd->u.cmd.n;
    if (step(st, first) < 0) {
        return -1;
    }
    switch (first->type) {
    case TN_FIELD:
        return eval_field_chain(st, dot, dot, first, (const char *const *)first->u.field.idents,
                                first->u.field.n, args, n, final, out);
    case TN_CHAIN:
        return eval_chain(st, dot, first, args, n, final, out);
    case TN_IDENT:
        return eval_call(st, dot, first->u.ident.fn, NULL, first, cmd, args + 1, n - 1, final,
                         out);
    case TN_PIPE:
        if (not_a_function(st, args, n, final) < 0) {
            return -1;
        }
        return eval_pipeline(st, dot, first, out);
    case TN_VAR:
        return eval_variable(st, dot, first, args, n, final, out);
    default:
        break;
    }
    if (not_a_function(st, args, n, final) < 0) {
        return -1;
    }
    return eval_node_value(st, dot, first, out);
}

/* Runs the first n_cmds commands of a pipeline, each given the previous one's value. */
static int eval_cmds(tstate_t *st, tv_t dot, const tnode_t *pipe, int n_cmds, final_t *f)
{
    st->node = pipe;
    for (int i = 0; i < n_cmds; i++) {
        tv_t v;
        if (eval_command(st, dot, pipe->u.pipe.cmds[i], *f, &v) < 0) {
            return -1;
        }
        f->has = 1;
        f->v = v;
    }
    return 0;
}

static int eval_pipeline(tstate_t *st, tv_t dot, const tnode_t *pipe, tv_t *out)
{
    final_t f = no_final;
    if (eval_cmds(st, dot, pipe, pipe->u.pipe.n_cmds, &f) < 0) {
        return -1;
    }
    for (int i = 0; i < pipe->u.pipe.n_decl; i++) {
        tvar_t *var = pipe->u.pipe.is_assign ? find_var(st, pipe->u.pipe.decl[i]) : NULL;
        if (var != NULL) {
            var->val = f.v;
        } else if (pipe->u.pipe.is_assign) {
            return tstate_errorf(st, "undefined variable: %s", pipe->u.pipe.decl[i]);
        } else {
            push_var(st, pipe->u.pipe.decl[i], f.v);
        }
    }
    *out = f.v;
    return 0;
}

/* ---- control structures --------------------------------------------------------------- */

static int emit(tstate_t *st, const char *p, size_t n)
{
    if (st->out->len + n > st->lim.max_output_bytes) {
        return tstate_errorf(st, "template output exceeds %zu bytes", st->lim.max_output_bytes);
    }
    buf_append(st->out, p, n);
    return 0;
}

static int emit_html_text(tstate_t *st, const tnode_t *n)
{
    buf_t b;
    buf_init(&b);
    tmpl__html_text(&st->html_ctx, n->u.text.p, n->u.text.n, &b);
    int rc = emit(st, b.data != NULL ? b.data : "", b.len);
    buf_fini(&b);
    return rc;
}

static int print_value(tstate_t *st, const tnode_t *n, tv_t v)
{
    st->node = n;
    if (v.kind == TV_STRING && !st->html) {
        return emit(st, v.u.s.p, v.u.s.n);
    }
    buf_t b, esc;
    buf_init(&b);
    buf_init(&esc);
    if (v.kind == TV_NIL) {
        /* html/template prints a missing value as the empty string */
        buf_puts(&b, st->html ? "" : "<no value>");
    } else {
        tv_print(v, &b);
    }
    if (st->html) {
        tmpl__html_escape_value(&st->html_ctx, v, b.data != NULL ? b.data : "", b.len, &esc);
    }
    buf_t *src = st->html ? &esc : &b;
    int rc = emit(st, src->data != NULL ? src->data : "", src->len);
    buf_fini(&b);
    buf_fini(&esc);
    return rc;
}

/* html/template's predefined escapers: 1 if the printing action's pipeline ends in a bare
 * `urlquery`, 0 if in `html`, else -1. */
static int predef_escaper(const tnode_t *pipe)
{
    if (pipe->u.pipe.n_decl > 0 || pipe->u.pipe.n_cmds == 0) {
        return -1;
    }
    const tnode_t *first = pipe->u.pipe.cmds[pipe->u.pipe.n_cmds - 1]->u.cmd.args[0];
    if (first->type != TN_IDENT) {
        return -1;
    }
    return strcmp(first->u.ident.name, "urlquery") == 0 ? 1
           : strcmp(first->u.ident.name, "html") == 0   ? 0
                                                          : -1;
}

/* HTML output of an action ending in a predefined escaper: html/template does not escape the
 * escaper's output again but merges the escaper with its own, so the escaper's operand,
 * printed as the escaper prints it (fmt.Sprint, i.e. `print`), goes to the HTML escaper. */
static int walk_predef_action(tstate_t *st, tv_t dot, const tnode_t *n, int urlquery)
{
    const tnode_t *pipe = n->u.action;
    const tnode_t *cmd = pipe->u.pipe.cmds[pipe->u.pipe.n_cmds - 1];
    const tnode_t *const *args = (const tnode_t *const *)cmd->u.cmd.args;
    if (!urlquery && tmpl__html_unquoted_value(&st->html_ctx)) {
        return predef_disallowed(st->err, st->def, n, "html"); /* Go: no escaper to merge with */
    }
    final_t f = no_final;
    tv_t x;
    if (eval_cmds(st, dot, pipe, pipe->u.pipe.n_cmds - 1, &f) < 0 || step(st, args[0]) < 0 ||
        eval_call(st, dot, tmpl__func_lookup(0, "print"), NULL, args[0], cmd, args + 1,
                  cmd->u.cmd.n - 1, f, &x) < 0) {
        return -1;
    }
    st->node = n;
    buf_t esc;
    buf_init(&esc);
    tmpl__html_escape_predef(&st->html_ctx, urlquery, x.u.s.p, x.u.s.n, &esc);
    int rc = emit(st, esc.data != NULL ? esc.data : "", esc.len);
    buf_fini(&esc);
    return rc;
}

static int walk_if_with(tstate_t *st, tv_t dot, const tnode_t *n)
{
    int mark = st->n_vars;
    tv_t v;
    int rc = eval_pipeline(st, dot, n->u.branch.pipe, &v);
    if (rc == 0) {
        if (tv_truth(v)) {
            rc = walk(st, n->type == TN_WITH ? v : dot, n->u.branch.list);
        } else if (n->u.branch.else_list != NULL) {
            rc = walk(st, dot, n->u.branch.else_list);
        }
    }
    st->n_vars = mark;
    return rc;
}

static int range_once(tstate_t *st, const tnode_t *n, int mark, tv_t key, tv_t elem)
{
    const tnode_t *pipe = n->u.branch.pipe;
    if (pipe->u.pipe.n_decl > 0) {
        st->vars[st->n_vars - 1].val = elem;
    }
    if (pipe->u.pipe.n_decl > 1) {
        st->vars[st->n_vars - 2].val = key;
    }
    int rc = walk(st, elem, n->u.branch.list);
    st->n_vars = mark; /* drop variables declared inside the body */
    return rc;
}

static int walk_range(tstate_t *st, tv_t dot, const tnode_t *n)
{
    int outer = st->n_vars;
    tv_t v;
    if (eval_pipeline(st, dot, n->u.branch.pipe, &v) < 0) {
        return -1;
    }
    int mark = st->n_vars, rc = 0;
    size_t count = 0;
    if (v.kind == TV_LIST) {
        count = v.u.list != NULL ? v.u.list->n : 0;
        for (size_t i = 0; i < count && rc >= 0 && rc != WALK_BREAK; i++) {
            rc = range_once(st, n, mark, tv_int((int64_t)i), v.u.list->items[i]);
        }
    } else if (v.kind == TV_MAP && !is_struct(v)) {
        count = v.u.map != NULL ? v.u.map->n : 0;
        for (size_t i = 0; i < count && rc >= 0 && rc != WALK_BREAK; i++) {
            const struct tv_map_entry *e = &v.u.map->e[i];
            rc = range_once(st, n, mark, tv_str(e->key, e->key_n), e->val);
        }
    } else if (v.kind != TV_NIL) {
        st->node = n->u.branch.pipe;
        buf_t s;
        buf_init(&s);
        tv_print(v, &s);
        tstate_errorf(st, "range can't iterate over %s", s.data);
        buf_fini(&s);
        rc = -1;
    }
    if (rc >= 0 && count == 0 && n->u.branch.else_list != NULL) {
        rc = walk(st, dot, n->u.branch.else_list);
    }
    st->n_vars = outer;
    return rc < 0 ? -1 : 0;
}

static int walk_template(tstate_t *st, tv_t dot, const tnode_t *n)
{
    const tmpl_def_t *d = tmpl__lookup(st->set, n->u.tmpl.name);
    if (d == NULL) {
        return tstate_errorf(st, "template \"%s\" not defined", n->u.tmpl.name);
    }
    tv_t v = tv_nil();
    if (n->u.tmpl.pipe != NULL && eval_pipeline(st, dot, n->u.tmpl.pipe, &v) < 0) {
        return -1;
    }
    st->node = n;
    if (st->depth >= st->lim.max_depth) {
        return tstate_errorf(st, "exceeded maximum template depth (%d)", st->lim.max_depth);
    }
    return tmpl__exec(st, d, v);
}

static int walk_list(tstate_t *st, tv_t dot, const tnode_t *n)
{
    for (int i = 0; i < n->u.list.n; i++) {
        int rc = walk(st, dot, n->u.list.items[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int walk(tstate_t *st, tv_t dot, const tnode_t *n)
{
    tv_t v;
    if (step(st, n) < 0) {
        return -1;
    }
    switch (n->type) {
    case TN_LIST:
        return walk_list(st, dot, n);
    case TN_TEXT:
        return st->html ? emit_html_text(st, n) : emit(st, n->u.text.p, n->u.text.n);
    case TN_ACTION:
        if (st->html && predef_escaper(n->u.action) >= 0) {
            return walk_predef_action(st, dot, n, predef_escaper(n->u.action));
        }
        if (eval_pipeline(st, dot, n->u.action, &v) < 0) {
            return -1;
        }
        return n->u.action->u.pipe.n_decl == 0 ? print_value(st, n, v) : 0;
    case TN_IF:
    case TN_WITH:
        return walk_if_with(st, dot, n);
    case TN_RANGE:
        return walk_range(st, dot, n);
    case TN_TEMPLATE:
        return walk_template(st, dot, n);
    case TN_BREAK:
        return WALK_BREAK;
    case TN_CONTINUE:
        return WALK_CONTINUE;
    default:
        return tstate_errorf(st, "unknown node");
    }
}

/* html/template rejects, before executing anything, an action that uses a predefined escaper
 * (html, urlquery) anywhere but at the end of its pipeline: it cannot merge such an escaper
 * with its own. Checked over the executed template and every template it calls, taken or
 * not, as Go's escaper walks them. `seen` bounds the walk (recursive templates). */
#define HTML_CHECK_MAX_DEFS 256
typedef struct {
    const tmpl_t *set;
    const tmpl_def_t *seen[HTML_CHECK_MAX_DEFS];
    int n_seen;
    err_t *err;
} html_check_t;

static int html_check_def(html_check_t *c, const tmpl_def_t *d);

static int html_check_action(html_check_t *c, const tmpl_def_t *d, const tnode_t *n)
{
    const tnode_t *pipe = n->u.action;
    if (pipe->u.pipe.n_decl > 0) {
        return 0;
    }
    for (int i = 0; i + 1 < pipe->u.pipe.n_cmds; i++) {
        const tnode_t *first = pipe->u.pipe.cmds[i]->u.cmd.args[0];
        if (first->type == TN_IDENT && (strcmp(first->u.ident.name, "html") == 0 ||
                                        strcmp(first->u.ident.name, "urlquery") == 0)) {
            return predef_disallowed(c->err, d, n, first->u.ident.name);
        }
    }
    return 0;
}

static int html_check_node(html_check_t *c, const tmpl_def_t *d, const tnode_t *n)
{
    if (n == NULL) {
        return 0;
    }
    switch (n->type) {
    case TN_LIST:
        for (int i = 0; i < n->u.list.n; i++) {
            if (html_check_node(c, d, n->u.list.items[i]) < 0) {
                return -1;
            }
        }
        return 0;
    case TN_ACTION:
        return html_check_action(c, d, n);
    case TN_IF:
    case TN_RANGE:
    case TN_WITH:
        return html_check_node(c, d, n->u.branch.list) < 0 ||
                       html_check_node(c, d, n->u.branch.else_list) < 0
                   ? -1
                   : 0;
    case TN_TEMPLATE: {
        const tmpl_def_t *callee = tmpl__lookup(c->set, n->u.tmpl.name);
        return callee != NULL ? html_check_def(c, callee) : 0;
    }
    default:
        return 0;
    }
}

static int html_check_def(html_check_t *c, const tmpl_def_t *d)
{
    for (int i = 0; i < c->n_seen; i++) {
        if (c->seen[i] == d) {
            return 0;
        }
    }
    if (c->n_seen == HTML_CHECK_MAX_DEFS) {
        return 0;
    }
    c->seen[c->n_seen++] = d;
    return html_check_node(c, d, d->root);
}

int tmpl__exec(tstate_t *st, const tmpl_def_t *def, tv_t data)
{
    if (st->html && st->depth == 0) {
        html_check_t c = {.set = st->set, .err = st->err};
        if (html_check_def(&c, def) < 0) {
            return -1;
        }
    }
    const tmpl_def_t *saved_def = st->def;
    tvar_t *saved_vars = st->vars;
    int saved_n = st->n_vars, saved_cap = st->cap_vars;
    /* a called template sees only its own "$" */
    st->vars = NULL;
    st->n_vars = st->cap_vars = 0;
    st->def = def;
    st->depth++;
    push_var(st, "$", data);
    int rc = walk(st, data, def->root);
    free(st->vars);
    st->vars = saved_vars;
    st->n_vars = saved_n;
    st->cap_vars = saved_cap;
    st->depth--;
    st->def = saved_def;
    return rc < 0 ? -1 : 0;
}
