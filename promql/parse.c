/* promql/parse.c - recursive-descent PromQL parser producing the AST of promql_int.h.
 * Binary operators use precedence climbing with Prometheus' table (or < and/unless <
 * comparisons < +- < * / % atan2 < ^, ^ right-associative); unary minus binds like `*`.
 * Type checks follow Prometheus' checkAST and word their errors the same way. The first
 * error wins (err_set semantics), so callers just unwind with NULL. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/timeutil.h"
#include "promql/promql_int.h"

typedef struct {
    arena_t *a;
    err_t *err;
    const char *q;
    promql__lexer_t lx;
    promql__tok_t tok; /* current token */
    unsigned flags;
    int depth;
} parser_t;

#define MAX_DEPTH 2000

static promql_expr_t *parse_expr(parser_t *p, int min_prec);
static promql_expr_t *parse_postfix(parser_t *p);

static void *perr(parser_t *p, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *perr(parser_t *p, int pos, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line, col;
    promql__pos_linecol(p->q, pos, &line, &col);
    err_set(p->err, ERR_BAD_DATA, "%d:%d: parse error: %s", line, col, msg);
    return NULL;
}

static void advance(parser_t *p)
{
    p->tok = promql__lex_next(&p->lx);
}

static const char *tok_desc(parser_t *p, const promql__tok_t *t, char *buf, size_t n)
{
    switch (t->kind) {
    case TOK_EOF:
        return "end of input";
    case TOK_IDENT:
        snprintf(buf, n, "identifier \"%.*s\"", t->len, t->text);
        return buf;
    case TOK_NUMBER:
        snprintf(buf, n, "number \"%.*s\"", t->len, t->text);
        return buf;
    case TOK_DURATION:
        snprintf(buf, n, "duration \"%.*s\"", t->len, t->text);
        return buf;
    case TOK_STRING:
        snprintf(buf, n, "string %.*s", t->len, t->text);
        return buf;
    default:
        snprintf(buf, n, "\"%.*s\"", t->len, t->text);
        return buf;
    }
}

static void *unexpected(parser_t *p, const char *ctx)
{
    char b[200];
    if (p->tok.kind == TOK_ERROR) {
        return perr(p, p->tok.pos, "%s", p->lx.errmsg);
    }
    if (ctx != NULL) {
        return perr(p, p->tok.pos, "unexpected %s in %s", tok_desc(p, &p->tok, b, sizeof(b)), ctx);
    }
    return perr(p, p->tok.pos, "unexpected %s", tok_desc(p, &p->tok, b, sizeof(b)));
}

static int tok_is_word(const promql__tok_t *t, const char *w)
{
    return t->kind == TOK_IDENT && (size_t)t->len == strlen(w) && strncasecmp(t->text, w, (size_t)t->len) == 0;
}

static int expect(parser_t *p, promql__tok_kind_t k, const char *ctx)
{
    if (p->tok.kind != k) {
        unexpected(p, ctx);
        return -1;
    }
    advance(p);
    return 0;
}

static promql_expr_t *node_new(parser_t *p, promql__node_kind_t kind, int pos, int end)
{
    promql_expr_t *e = arena_calloc(p->a, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->kind = kind;
    e->src = p->q;
    e->pos = pos;
    e->end = end;
    return e;
}

static const char *tok_dup(parser_t *p, const promql__tok_t *t)
{
    return arena_strndup(p->a, t->text, (size_t)t->len);
}

/* ---- durations and numbers ------------------------------------------------------------- */

static int parse_duration_tok(parser_t *p, const promql__tok_t *t, int64_t *ms)
{
    char *s = (char *)tok_dup(p, t);
    err_t e = {0};
    if (s == NULL || duration_parse(s, ms, &e) < 0) {
        perr(p, t->pos, "%s", e.msg[0] ? e.msg : "bad duration");
        return -1;
    }
    return 0;
}

static double tok_number(parser_t *p, const promql__tok_t *t)
{
    const char *s = tok_dup(p, t); /* full length: subnormals print with 300+ digits */
    if (s == NULL) {
        return NAN;
    }
    if (strncasecmp(s, "0x", 2) == 0) {
        return (double)strtoull(s + 2, NULL, 16);
    }
    return strtod(s, NULL);
}

/* A duration in brackets/offset: duration token, or a number of seconds. */
static int parse_duration_value(parser_t *p, int64_t *ms, const char *ctx)
{
    if (p->tok.kind == TOK_DURATION) {
        if (parse_duration_tok(p, &p->tok, ms) < 0) {
            return -1;
        }
    } else if (p->tok.kind == TOK_NUMBER) {
        double v = tok_number(p, &p->tok);
        if (!isfinite(v) || fabs(v) * 1e9 > 9.2e18) {
            perr(p, p->tok.pos, "duration out of range");
            return -1;
        }
        *ms = (int64_t)llround(v * 1000.0);
    } else {
        unexpected(p, ctx);
        return -1;
    }
    advance(p);
    return 0;
}

/* ---- duration expressions (experimental: PROMQL_PARSE_DURATION_EXPR) ------------------- */

static int is_dur_func(const promql_expr_t *e)
{
    const char *n = e->u.call.fn->name;
    return strcmp(n, "step") == 0 || strcmp(n, "range") == 0 || strcmp(n, "min_of") == 0 ||
           strcmp(n, "max_of") == 0;
}

/* 0 if e is a valid duration expression: literals, + - * / % ^, parentheses, unary signs,
 * step(), range(), min_of(), max_of(). */
static int dur_check(parser_t *p, const promql_expr_t *e)
{
    switch (e->kind) {
    case NODE_NUMBER:
        return 0;
    case NODE_PAREN:
        return dur_check(p, e->u.inner);
    case NODE_UNARY:
        return dur_check(p, e->u.un.expr);
    case NODE_BINARY:
        if (promql__is_comparison(e->u.bin.op) || promql__is_setop(e->u.bin.op) ||
            e->u.bin.op == TOK_ATAN2) {
            break;
        }
        return dur_check(p, e->u.bin.lhs) < 0 ? -1 : dur_check(p, e->u.bin.rhs);
    case NODE_CALL:
        if (!is_dur_func(e)) {
            break;
        }
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            if (dur_check(p, e->u.call.args[i]) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        break;
    }
    perr(p, e->pos, "invalid duration expression");
    return -1;
}

/* Value in seconds of a duration expression without step()/range(); 0 if not constant. */
static int dur_const(const promql_expr_t *e, double *v)
{
    double a, b;
    int keep;
    switch (e->kind) {
    case NODE_NUMBER:
        *v = e->u.num;
        return 1;
    case NODE_PAREN:
        return dur_const(e->u.inner, v);
    case NODE_UNARY:
        if (!dur_const(e->u.un.expr, v)) {
            return 0;
        }
        *v = e->u.un.op == TOK_SUB ? -*v : *v;
        return 1;
    case NODE_BINARY:
        if (!dur_const(e->u.bin.lhs, &a) || !dur_const(e->u.bin.rhs, &b)) {
            return 0;
        }
        *v = promql__binop_scalar(e->u.bin.op, a, b, &keep);
        return 1;
    case NODE_CALL:
        if (e->u.call.n_args != 2 || !dur_const(e->u.call.args[0], &a) ||
            !dur_const(e->u.call.args[1], &b)) {
            return 0;
        }
        *v = isnan(a) || isnan(b) ? NAN : strcmp(e->u.call.fn->name, "min_of") == 0 ? fmin(a, b) : fmax(a, b);
        return 1;
    default:
        return 0;
    }
}

/* A duration slot: a literal, or (with the flag) a duration expression. Constant ones fold
 * into *ms; ones using step()/range() go to *expr, resolved when a query starts. In offset
 * position only a (signed) literal, parenthesised expression or function call is taken, so
 * `x offset 1m + 2` stays `(x offset 1m) + 2`. */
static int parse_dur_slot(parser_t *p, int64_t *ms, promql_expr_t **expr, int in_offset,
                          const char *ctx)
{
    promql__lexer_t la = p->lx;
    promql__tok_kind_t next = promql__lex_next(&la).kind;
    int literal = p->tok.kind == TOK_DURATION || p->tok.kind == TOK_NUMBER;
    if (!(p->flags & PROMQL_PARSE_DURATION_EXPR) ||
        (literal && (in_offset || next == TOK_RBRACKET || next == TOK_COLON))) {
        return parse_duration_value(p, ms, ctx);
    }
    promql_expr_t *x = in_offset ? parse_postfix(p) : parse_expr(p, 0);
    double v;
    if (x == NULL || dur_check(p, x) < 0) {
        return -1;
    }
    if (dur_const(x, &v)) {
        if (!isfinite(v) || fabs(v) * 1e9 > 9.2e18) {
            perr(p, x->pos, "duration out of range");
            return -1;
        }
        *ms = (int64_t)llround(v * 1000.0);
        return 0;
    }
    *expr = x;
    *ms = 0;
    return 0;
}

/* ---- selectors ------------------------------------------------------------------------- */

static int match_op(promql__tok_kind_t k, match_type_t *t)
{
    switch (k) {
    case TOK_ASSIGN:
        *t = MATCH_EQ;
        return 0;
    case TOK_NEQ:
        *t = MATCH_NEQ;
        return 0;
    case TOK_EQL_REGEX:
        *t = MATCH_RE;
        return 0;
    case TOK_NEQ_REGEX:
        *t = MATCH_NRE;
        return 0;
    default:
        return -1;
    }
}

static const char *string_tok_value(parser_t *p, const promql__tok_t *t)
{
    const char *msg = NULL;
    char *s = promql__unquote(p->a, t->text, (size_t)t->len, &msg);
    if (s == NULL) {
        perr(p, t->pos, "%s", msg);
    }
    return s;
}

typedef struct {
    matcher_t **ms;
    size_t n, cap;
} mvec_t;

static int mvec_push(parser_t *p, mvec_t *v, matcher_t *m)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 4;
        matcher_t **nm = arena_realloc(p->a, v->ms, v->cap * sizeof(*nm), nc * sizeof(*nm));
        if (nm == NULL) {
            return -1;
        }
        v->ms = nm;
        v->cap = nc;
    }
    v->ms[v->n++] = m;
    return 0;
}

static int add_matcher(parser_t *p, mvec_t *v, int pos, match_type_t t, const char *name,
                       const char *val)
{
    err_t e = {0};
    matcher_t *m = matcher_new_arena(p->a, t, name, val, &e);
    if (m == NULL) {
        perr(p, pos, "%s", e.msg);
        return -1;
    }
    return mvec_push(p, v, m);
}

/* One `name op "value"` or a lone quoted metric name inside braces. */
static int parse_one_matcher(parser_t *p, mvec_t *v, const char **name_out)
{
    promql__tok_t nt = p->tok;
    const char *name;
    if (nt.kind == TOK_IDENT) {
        name = tok_dup(p, &nt);
    } else if (nt.kind == TOK_STRING) {
        name = string_tok_value(p, &nt);
    } else {
        unexpected(p, "label matching");
        return -1;
    }
    if (name == NULL) {
        return -1;
    }
    if (!labels_is_valid_utf8(name, strlen(name)) || *name == '\0') {
        perr(p, nt.pos, "invalid label name %.*s", nt.len, nt.text);
        return -1;
    }
    advance(p);
    match_type_t mt;
    if (match_op(p->tok.kind, &mt) < 0) {
        if (nt.kind == TOK_STRING && (p->tok.kind == TOK_COMMA || p->tok.kind == TOK_RBRACE)) {
            if (*name_out != NULL) {
                perr(p, nt.pos, "metric name must not be set twice: %s or %s", *name_out, name);
                return -1;
            }
            *name_out = name;
            return add_matcher(p, v, nt.pos, MATCH_EQ, "__name__", name);
        }
        char b[200];
        perr(p, p->tok.pos, "unexpected %s in label matching, expected label matching operator",
             tok_desc(p, &p->tok, b, sizeof(b)));
        return -1;
    }
    advance(p);
    if (p->tok.kind != TOK_STRING) {
        char b[200];
        perr(p, p->tok.pos, "unexpected %s in label matching, expected string",
             tok_desc(p, &p->tok, b, sizeof(b)));
        return -1;
    }
    const char *val = string_tok_value(p, &p->tok);
    if (val == NULL) {
        return -1;
    }
    advance(p);
    return add_matcher(p, v, nt.pos, mt, name, val);
}

static int parse_matchers(parser_t *p, mvec_t *v, const char **name)
{
    advance(p); /* { */
    while (p->tok.kind != TOK_RBRACE) {
        if (parse_one_matcher(p, v, name) < 0) {
            return -1;
        }
        if (p->tok.kind == TOK_COMMA) {
            advance(p);
        } else if (p->tok.kind != TOK_RBRACE) {
            unexpected(p, "label matching");
            return -1;
        }
    }
    advance(p);
    return 0;
}

static int check_selector(parser_t *p, promql_expr_t *e, const char *metric)
{
    int nonempty = 0;
    for (size_t i = 0; i < e->u.vs.n_ms; i++) {
        const matcher_t *m = e->u.vs.ms[i];
        if (!matcher_matches_empty(m)) {
            nonempty = 1;
        }
        if (metric != NULL && i > 0 && strcmp(matcher_name(m), "__name__") == 0) {
            perr(p, e->pos, "metric name must not be set twice: \"%s\" or \"%s\"", metric,
                 matcher_value(m));
            return -1;
        }
    }
    if (!nonempty) {
        perr(p, e->pos, "vector selector must contain at least one non-empty matcher");
        return -1;
    }
    return 0;
}

/* `metric`, `metric{...}` or `{...}`; the current token is the name or `{`. */
static promql_expr_t *parse_selector(parser_t *p)
{
    promql_expr_t *e = node_new(p, NODE_VSEL, p->tok.pos, 0);
    mvec_t v = {0};
    const char *metric = NULL;
    if (e == NULL) {
        return NULL;
    }
    if (p->tok.kind == TOK_IDENT) {
        metric = tok_dup(p, &p->tok);
        if (add_matcher(p, &v, p->tok.pos, MATCH_EQ, "__name__", metric) < 0) {
            return NULL;
        }
        e->end = p->tok.pos + p->tok.len;
        advance(p);
    }
    if (p->tok.kind == TOK_LBRACE) {
        const char *qname = NULL;
        if (parse_matchers(p, &v, metric != NULL ? &metric : &qname) < 0) {
            return NULL;
        }
        if (metric == NULL && qname != NULL) {
            metric = qname;
        }
        e->end = p->lx.pos;
    }
    e->u.vs.name = metric;
    e->u.vs.ms = v.ms;
    e->u.vs.n_ms = v.n;
    e->type = PROMQL_TYPE_VECTOR;
    return check_selector(p, e, metric) < 0 ? NULL : e;
}

/* ---- grouping labels ------------------------------------------------------------------- */

static int parse_label_list(parser_t *p, const char ***out, size_t *n_out)
{
    size_t cap = 0, n = 0;
    const char **ls = NULL;
    if (expect(p, TOK_LPAREN, "grouping opts") < 0) {
        return -1;
    }
    while (p->tok.kind != TOK_RPAREN) {
        const char *name;
        if (p->tok.kind == TOK_IDENT) {
            name = tok_dup(p, &p->tok);
        } else if (p->tok.kind == TOK_STRING) {
            name = string_tok_value(p, &p->tok);
        } else {
            unexpected(p, "grouping opts");
            return -1;
        }
        if (name == NULL) {
            return -1;
        }
        if (!labels_is_valid_utf8(name, strlen(name)) || *name == '\0' ||
            (p->tok.kind == TOK_IDENT && !labels_is_valid_name(name, strlen(name)))) {
            perr(p, p->tok.pos, "invalid label name %.*s", p->tok.len, p->tok.text);
            return -1;
        }
        advance(p);
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            ls = arena_realloc(p->a, ls, cap * sizeof(*ls), nc * sizeof(*ls));
            if (ls == NULL) {
                return -1;
            }
            cap = nc;
        }
        ls[n++] = name;
        if (p->tok.kind == TOK_COMMA) {
            advance(p);
        } else if (p->tok.kind != TOK_RPAREN) {
            unexpected(p, "grouping opts");
            return -1;
        }
    }
    advance(p);
    *out = ls;
    *n_out = n;
    return 0;
}

/* ---- aggregations and calls ------------------------------------------------------------ */

static const struct {
    const char *name;
    promql__agg_op_t op;
    int has_param;
    int experimental;
} aggs[] = {
    {"sum", AGG_SUM, 0, 0},           {"avg", AGG_AVG, 0, 0},
    {"count", AGG_COUNT, 0, 0},       {"min", AGG_MIN, 0, 0},
    {"max", AGG_MAX, 0, 0},           {"group", AGG_GROUP, 0, 0},
    {"stddev", AGG_STDDEV, 0, 0},     {"stdvar", AGG_STDVAR, 0, 0},
    {"topk", AGG_TOPK, 1, 0},         {"bottomk", AGG_BOTTOMK, 1, 0},
    {"count_values", AGG_COUNT_VALUES, 1, 0}, {"quantile", AGG_QUANTILE, 1, 0},
    {"limitk", AGG_LIMITK, 1, 1},     {"limit_ratio", AGG_LIMIT_RATIO, 1, 1},
};

const char *promql__agg_name(promql__agg_op_t op)
{
    for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
        if (aggs[i].op == op) {
            return aggs[i].name;
        }
    }
    return "?";
}

static int agg_lookup(const promql__tok_t *t)
{
    for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
        if (tok_is_word(t, aggs[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

static const char *type_doc(promql_type_t t)
{
    switch (t) {
    case PROMQL_TYPE_SCALAR:
        return "scalar";
    case PROMQL_TYPE_VECTOR:
        return "instant vector";
    case PROMQL_TYPE_MATRIX:
        return "range vector";
    case PROMQL_TYPE_STRING:
        return "string";
    default:
        return "none";
    }
}

static int parse_grouping_clause(parser_t *p, promql_expr_t *e)
{
    e->u.agg.without = tok_is_word(&p->tok, "without");
    e->u.agg.has_grouping = 1;
    advance(p);
    return parse_label_list(p, &e->u.agg.grouping, &e->u.agg.n_grouping);
}

static int check_agg(parser_t *p, promql_expr_t *e, int has_param)
{
    promql_expr_t *x = e->u.agg.expr;
    if (x->type != PROMQL_TYPE_VECTOR) {
        perr(p, x->pos, "expected type instant vector in aggregation expression, got %s",
             type_doc(x->type));
        return -1;
    }
    if (has_param) {
        promql_type_t want =
            e->u.agg.op == AGG_COUNT_VALUES ? PROMQL_TYPE_STRING : PROMQL_TYPE_SCALAR;
        if (e->u.agg.param->type != want) {
            perr(p, e->u.agg.param->pos, "expected type %s in aggregation parameter, got %s",
                 type_doc(want), type_doc(e->u.agg.param->type));
            return -1;
        }
    }
    return 0;
}

static promql_expr_t *parse_aggregation(parser_t *p, int idx)
{
    promql_expr_t *e = node_new(p, NODE_AGG, p->tok.pos, 0);
    if (e == NULL) {
        return NULL;
    }
    if (aggs[idx].experimental && !(p->flags & PROMQL_PARSE_EXPERIMENTAL_FUNCS)) {
        return perr(p, p->tok.pos, "limitk() and limit_ratio() are experimental and must be "
                                   "enabled with --enable-feature=promql-experimental-functions");
    }
    e->u.agg.op = aggs[idx].op;
    e->type = PROMQL_TYPE_VECTOR;
    advance(p);
    if (tok_is_word(&p->tok, "by") || tok_is_word(&p->tok, "without")) {
        if (parse_grouping_clause(p, e) < 0) {
            return NULL;
        }
    }
    int lpos = p->tok.pos;
    if (expect(p, TOK_LPAREN, "aggregation") < 0) {
        return NULL;
    }
    promql_expr_t *args[2] = {NULL, NULL};
    int n = 0;
    while (p->tok.kind != TOK_RPAREN) {
        if (n == 2) {
            return perr(p, p->tok.pos, "unexpected \",\" in aggregation");
        }
        if ((args[n++] = parse_expr(p, 0)) == NULL) {
            return NULL;
        }
        if (p->tok.kind == TOK_COMMA) {
            advance(p);
        } else if (p->tok.kind != TOK_RPAREN) {
            return unexpected(p, "aggregation");
        }
    }
    e->end = p->tok.pos + 1;
    advance(p);
    int want = aggs[idx].has_param ? 2 : 1;
    if (n != want) {
        if (n == 0) {
            return perr(p, lpos, "no arguments for aggregate expression provided");
        }
        return perr(p, e->pos, "wrong number of arguments for aggregate expression provided, "
                               "expected %d, got %d", want, n);
    }
    e->u.agg.param = want == 2 ? args[0] : NULL;
    e->u.agg.expr = args[want - 1];
    if (!e->u.agg.has_grouping && (tok_is_word(&p->tok, "by") || tok_is_word(&p->tok, "without"))) {
        if (parse_grouping_clause(p, e) < 0) {
            return NULL;
        }
        e->end = p->lx.pos;
    }
    return check_agg(p, e, want == 2) < 0 ? NULL : e;
}

static int check_call(parser_t *p, promql_expr_t *e)
{
    const promql__func_t *f = e->u.call.fn;
    int n = (int)e->u.call.n_args;
    if (n < f->n_args || (f->variadic >= 0 && n > f->n_args + f->variadic)) {
        if (f->variadic == 0) {
            perr(p, e->pos, "expected %d argument(s) in call to \"%s\", got %d", f->n_args,
                 f->name, n);
        } else if (n < f->n_args) {
            perr(p, e->pos, "expected at least %d argument(s) in call to \"%s\", got %d",
                 f->n_args, f->name, n);
        } else {
            perr(p, e->pos, "expected at most %d argument(s) in call to \"%s\", got %d",
                 f->n_args + f->variadic, f->name, n);
        }
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int last = 5;
        while (last > 0 && f->arg_types[last] == PROMQL_TYPE_NONE) {
            last--;
        }
        promql_type_t want = f->arg_types[i < last ? i : last];
        promql_expr_t *arg = e->u.call.args[i];
        if (arg->type != want) {
            perr(p, arg->pos, "expected type %s in call to function \"%s\", got %s",
                 type_doc(want), f->name, type_doc(arg->type));
            return -1;
        }
    }
    return 0;
}

static promql_expr_t *parse_call(parser_t *p, const promql__func_t *f)
{
    promql_expr_t *e = node_new(p, NODE_CALL, p->tok.pos, 0);
    size_t cap = 0;
    if (e == NULL) {
        return NULL;
    }
    if (f->experimental && !(p->flags & PROMQL_PARSE_EXPERIMENTAL_FUNCS)) {
        return perr(p, p->tok.pos, "function \"%s\" is not enabled", f->name);
    }
    e->u.call.fn = f;
    e->type = f->ret;
    advance(p);
    advance(p); /* ( */
    while (p->tok.kind != TOK_RPAREN) {
        promql_expr_t *arg = parse_expr(p, 0);
        if (arg == NULL) {
            return NULL;
        }
        if (e->u.call.n_args == cap) {
            size_t nc = cap ? cap * 2 : 4;
            e->u.call.args = arena_realloc(p->a, e->u.call.args, cap * sizeof(arg), nc * sizeof(arg));
            if (e->u.call.args == NULL) {
                return NULL;
            }
            cap = nc;
        }
        e->u.call.args[e->u.call.n_args++] = arg;
        if (p->tok.kind == TOK_COMMA) {
            advance(p);
            if (p->tok.kind == TOK_RPAREN) {
                return unexpected(p, "function call arguments");
            }
        } else if (p->tok.kind != TOK_RPAREN) {
            return unexpected(p, "function call arguments");
        }
    }
    e->end = p->tok.pos + 1;
    advance(p);
    return check_call(p, e) < 0 ? NULL : e;
}

/* ---- primary expressions and postfix modifiers ---------------------------------------- */

static promql_expr_t *number_node(parser_t *p, double v, int is_duration)
{
    promql_expr_t *e = node_new(p, NODE_NUMBER, p->tok.pos, p->tok.pos + p->tok.len);
    if (e == NULL) {
        return NULL;
    }
    e->u.num = v;
    e->type = PROMQL_TYPE_SCALAR;
    (void)is_duration;
    advance(p);
    return e;
}

static promql_expr_t *parse_ident_expr(parser_t *p)
{
    int ai = agg_lookup(&p->tok);
    promql__lexer_t save = p->lx;
    promql__tok_t next = promql__lex_next(&save);
    if (ai >= 0 && (next.kind == TOK_LPAREN || tok_is_word(&next, "by") ||
                    tok_is_word(&next, "without"))) {
        return parse_aggregation(p, ai);
    }
    if (next.kind == TOK_LPAREN) {
        const promql__func_t *f = promql__func_lookup(p->tok.text, (size_t)p->tok.len);
        if (f == NULL && (tok_is_word(&p->tok, "step") || tok_is_word(&p->tok, "range"))) {
            /* keywords in upstream's lexer, hence case-insensitive */
            f = promql__func_lookup(tok_is_word(&p->tok, "step") ? "step" : "range", p->tok.len);
        }
        if (f == NULL) {
            return perr(p, p->tok.pos, "unknown function with name \"%.*s\"", p->tok.len,
                        p->tok.text);
        }
        return parse_call(p, f);
    }
    if (tok_is_word(&p->tok, "inf")) {
        return number_node(p, INFINITY, 0);
    }
    if (tok_is_word(&p->tok, "nan")) {
        return number_node(p, NAN, 0);
    }
    static const char *const kw[] = {"by", "without", "on", "ignoring", "group_left",
                                     "group_right", "bool", "offset", "and", "or", "unless",
                                     "atan2"};
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
        if (tok_is_word(&p->tok, kw[i])) {
            return unexpected(p, NULL);
        }
    }
    if (ai >= 0) {
        return perr(p, next.pos, "unexpected %s in aggregation",
                    next.kind == TOK_EOF ? "end of input" : "token");
    }
    return parse_selector(p);
}

static promql_expr_t *parse_primary(parser_t *p)
{
    promql_expr_t *e;
    switch (p->tok.kind) {
    case TOK_NUMBER:
        return number_node(p, tok_number(p, &p->tok), 0);
    case TOK_DURATION: {
        int64_t ms;
        if (parse_duration_tok(p, &p->tok, &ms) < 0) {
            return NULL;
        }
        return number_node(p, (double)ms / 1000.0, 1);
    }
    case TOK_STRING:
        e = node_new(p, NODE_STRING, p->tok.pos, p->tok.pos + p->tok.len);
        if (e == NULL || (e->u.str = string_tok_value(p, &p->tok)) == NULL) {
            return NULL;
        }
        e->type = PROMQL_TYPE_STRING;
        advance(p);
        return e;
    case TOK_LPAREN:
        e = node_new(p, NODE_PAREN, p->tok.pos, 0);
        if (e == NULL) {
            return NULL;
        }
        advance(p);
        if ((e->u.inner = parse_expr(p, 0)) == NULL) {
            return NULL;
        }
        e->type = e->u.inner->type;
        e->end = p->tok.pos + 1;
        if (p->tok.kind != TOK_RPAREN) {
            return p->tok.kind == TOK_EOF ? perr(p, p->tok.pos, "unclosed left parenthesis")
                                          : unexpected(p, "paren expression");
        }
        advance(p);
        return e;
    case TOK_LBRACE:
    case TOK_IDENT:
        return p->tok.kind == TOK_IDENT ? parse_ident_expr(p) : parse_selector(p);
    case TOK_RPAREN:
        return perr(p, p->tok.pos, "unexpected right parenthesis ')'");
    default:
        return unexpected(p, NULL);
    }
}

static promql__tmod_t *tmod_of(promql_expr_t *e)
{
    switch (e->kind) {
    case NODE_VSEL:
        return &e->u.vs.tm;
    case NODE_MSEL:
        return &e->u.ms.vs->u.vs.tm;
    case NODE_SUBQUERY:
        return &e->u.sq.tm;
    default:
        return NULL;
    }
}

static int parse_offset(parser_t *p, promql_expr_t *e)
{
    promql__tmod_t *tm = tmod_of(e);
    if (tm == NULL) {
        perr(p, p->tok.pos, "offset modifier must be preceded by an instant vector selector or "
                            "range vector selector or a subquery");
        return -1;
    }
    if (tm->offset_ms != 0 || tm->offset_expr != NULL) {
        perr(p, p->tok.pos, "offset may not be set multiple times");
        return -1;
    }
    advance(p);
    int neg = 0;
    if (p->tok.kind == TOK_SUB || p->tok.kind == TOK_ADD) {
        neg = p->tok.kind == TOK_SUB;
        advance(p);
    }
    int64_t ms;
    int sign_pos = p->tok.pos;
    if (parse_dur_slot(p, &ms, &tm->offset_expr, 1, "offset") < 0) {
        return -1;
    }
    tm->offset_ms = neg ? -ms : ms;
    if (neg && tm->offset_expr != NULL) {
        promql_expr_t *u = node_new(p, NODE_UNARY, sign_pos, tm->offset_expr->end);
        if (u == NULL) {
            return -1;
        }
        u->u.un.op = TOK_SUB;
        u->u.un.expr = tm->offset_expr;
        u->type = PROMQL_TYPE_SCALAR;
        tm->offset_expr = u;
    }
    e->end = p->tok.pos;
    return 0;
}

static int parse_at(parser_t *p, promql_expr_t *e)
{
    promql__tmod_t *tm = tmod_of(e);
    if (tm == NULL) {
        perr(p, p->tok.pos, "@ modifier must be preceded by an instant vector selector or "
                            "range vector selector or a subquery");
        return -1;
    }
    if (tm->at != AT_NONE) {
        perr(p, p->tok.pos, "@ <timestamp> may not be set multiple times");
        return -1;
    }
    advance(p);
    if (tok_is_word(&p->tok, "start") || tok_is_word(&p->tok, "end")) {
        tm->at = tok_is_word(&p->tok, "start") ? AT_START : AT_END;
        advance(p);
        if (expect(p, TOK_LPAREN, "@") < 0 || expect(p, TOK_RPAREN, "@") < 0) {
            return -1;
        }
        return 0;
    }
    int neg = 0;
    if (p->tok.kind == TOK_SUB || p->tok.kind == TOK_ADD) {
        neg = p->tok.kind == TOK_SUB;
        advance(p);
    }
    double v;
    if (p->tok.kind == TOK_DURATION) {
        int64_t ms;
        if (parse_duration_tok(p, &p->tok, &ms) < 0) {
            return -1;
        }
        v = (double)ms / 1000.0;
    } else if (p->tok.kind == TOK_NUMBER) {
        v = tok_number(p, &p->tok);
    } else if (tok_is_word(&p->tok, "inf") || tok_is_word(&p->tok, "nan")) {
        v = tok_is_word(&p->tok, "inf") ? INFINITY : NAN;
    } else {
        unexpected(p, "@");
        return -1;
    }
    v = neg ? -v : v;
    if (!isfinite(v) || fabs(v) > 9.2e15) {
        perr(p, p->tok.pos, "timestamp out of bounds for @ modifier: %g", v);
        return -1;
    }
    tm->at = AT_TIME;
    tm->at_ms = (int64_t)llround(v * 1000.0);
    advance(p);
    return 0;
}

static promql_expr_t *parse_brackets(parser_t *p, promql_expr_t *e)
{
    int lpos = p->tok.pos;
    int64_t range, step = 0;
    promql_expr_t *range_expr = NULL, *step_expr = NULL;
    advance(p);
    if (parse_dur_slot(p, &range, &range_expr, 0, "range") < 0) {
        return NULL;
    }
    if (p->tok.kind == TOK_RBRACKET) {
        if (e->kind != NODE_VSEL) {
            return perr(p, e->pos, "ranges only allowed for vector selectors");
        }
        if (e->u.vs.tm.offset_ms != 0 || e->u.vs.tm.offset_expr != NULL || e->u.vs.tm.at != AT_NONE) {
            return perr(p, lpos, "no offset or @ modifiers allowed before range");
        }
        if (range <= 0 && range_expr == NULL) {
            return perr(p, lpos, "range duration must be greater than 0");
        }
        promql_expr_t *m = node_new(p, NODE_MSEL, e->pos, p->tok.pos + 1);
        if (m == NULL) {
            return NULL;
        }
        advance(p);
        m->u.ms.vs = e;
        m->u.ms.range_ms = range;
        m->u.ms.range_expr = range_expr;
        m->type = PROMQL_TYPE_MATRIX;
        return m;
    }
    if (p->tok.kind != TOK_COLON) {
        return unexpected(p, "subquery or range");
    }
    advance(p);
    if (p->tok.kind != TOK_RBRACKET && parse_dur_slot(p, &step, &step_expr, 0, "subquery") < 0) {
        return NULL;
    }
    if (p->tok.kind != TOK_RBRACKET) {
        return unexpected(p, "subquery");
    }
    if (e->type != PROMQL_TYPE_VECTOR) {
        return perr(p, e->pos, "subquery is only allowed on instant vector, got %s instead",
                    type_doc(e->type));
    }
    promql_expr_t *s = node_new(p, NODE_SUBQUERY, e->pos, p->tok.pos + 1);
    if (s == NULL) {
        return NULL;
    }
    advance(p);
    s->u.sq.expr = e;
    s->u.sq.range_ms = range;
    s->u.sq.step_ms = step;
    s->u.sq.range_expr = range_expr;
    s->u.sq.step_expr = step_expr;
    s->type = PROMQL_TYPE_MATRIX;
    return s;
}

static promql_expr_t *parse_postfix(parser_t *p)
{
    promql_expr_t *e = parse_primary(p);
    while (e != NULL) {
        if (p->tok.kind == TOK_LBRACKET) {
            e = parse_brackets(p, e);
        } else if (tok_is_word(&p->tok, "offset")) {
            if (parse_offset(p, e) < 0) {
                return NULL;
            }
        } else if (p->tok.kind == TOK_AT) {
            if (parse_at(p, e) < 0) {
                return NULL;
            }
        } else {
            break;
        }
    }
    return e;
}

static promql_expr_t *parse_unary(parser_t *p)
{
    if (p->tok.kind != TOK_SUB && p->tok.kind != TOK_ADD) {
        return parse_postfix(p);
    }
    promql__tok_t op = p->tok;
    advance(p);
    promql_expr_t *x = parse_expr(p, 6);
    if (x == NULL) {
        return NULL;
    }
    if (x->kind == NODE_NUMBER) {
        x->u.num = op.kind == TOK_SUB ? -x->u.num : x->u.num;
        x->pos = op.pos;
        return x;
    }
    if (x->type != PROMQL_TYPE_SCALAR && x->type != PROMQL_TYPE_VECTOR) {
        return perr(p, x->pos, "unary expression only allowed on expressions of type scalar or "
                               "instant vector, got \"%s\"", type_doc(x->type));
    }
    promql_expr_t *u = node_new(p, NODE_UNARY, op.pos, x->end);
    if (u == NULL) {
        return NULL;
    }
    u->u.un.op = op.kind;
    u->u.un.expr = x;
    u->type = x->type;
    return u;
}

/* ---- binary operators ------------------------------------------------------------------ */

/* Precedence of the binary operator at the current token (0: none); sets *op. */
static int binop_prec(const promql__tok_t *t, promql__tok_kind_t *op)
{
    *op = t->kind;
    switch (t->kind) {
    case TOK_EQLC:
    case TOK_NEQ:
    case TOK_LSS:
    case TOK_GTR:
    case TOK_LTE:
    case TOK_GTE:
        return 3;
    case TOK_ADD:
    case TOK_SUB:
        return 4;
    case TOK_MUL:
    case TOK_DIV:
    case TOK_MOD:
        return 5;
    case TOK_POW:
        return 6;
    case TOK_IDENT:
        if (tok_is_word(t, "or")) {
            *op = TOK_OR;
            return 1;
        }
        if (tok_is_word(t, "and") || tok_is_word(t, "unless")) {
            *op = tok_is_word(t, "and") ? TOK_AND : TOK_UNLESS;
            return 2;
        }
        if (tok_is_word(t, "atan2")) {
            *op = TOK_ATAN2;
            return 5;
        }
        return 0;
    default:
        return 0;
    }
}

/* `fill(v)`, `fill_left(v)`, `fill_right(v)` (experimental binop fill modifiers). */
static int parse_fill(parser_t *p, promql_expr_t *b)
{
    for (;;) {
        promql__lexer_t la = p->lx;
        int is_fill = tok_is_word(&p->tok, "fill") || tok_is_word(&p->tok, "fill_left") ||
                      tok_is_word(&p->tok, "fill_right");
        /* without a '(' it is a metric called fill */
        if (!is_fill || promql__lex_next(&la).kind != TOK_LPAREN) {
            break;
        }
        int side = tok_is_word(&p->tok, "fill") ? 3 : tok_is_word(&p->tok, "fill_left") ? 1 : 2;
        if (!(p->flags & PROMQL_PARSE_EXPERIMENTAL_FUNCS)) {
            perr(p, p->tok.pos, "binary operator fill modifiers are experimental and not enabled");
            return -1;
        }
        advance(p);
        if (expect(p, TOK_LPAREN, "fill modifier") < 0) {
            return -1;
        }
        int neg = 0;
        if (p->tok.kind == TOK_SUB || p->tok.kind == TOK_ADD) {
            neg = p->tok.kind == TOK_SUB;
            advance(p);
        }
        double v;
        if (p->tok.kind == TOK_NUMBER) {
            v = tok_number(p, &p->tok);
        } else if (tok_is_word(&p->tok, "inf") || tok_is_word(&p->tok, "nan")) {
            v = tok_is_word(&p->tok, "inf") ? INFINITY : NAN;
        } else {
            unexpected(p, "fill modifier");
            return -1;
        }
        advance(p);
        if (expect(p, TOK_RPAREN, "fill modifier") < 0) {
            return -1;
        }
        v = neg ? -v : v;
        if (side & 1) {
            b->u.bin.has_fill_l = 1;
            b->u.bin.fill_l = v;
        }
        if (side & 2) {
            b->u.bin.has_fill_r = 1;
            b->u.bin.fill_r = v;
        }
    }
    return 0;
}

static int parse_bin_modifiers(parser_t *p, promql_expr_t *b)
{
    if (tok_is_word(&p->tok, "bool")) {
        b->u.bin.return_bool = 1;
        advance(p);
    }
    if (tok_is_word(&p->tok, "on") || tok_is_word(&p->tok, "ignoring")) {
        b->u.bin.has_matching = 1;
        b->u.bin.on = tok_is_word(&p->tok, "on");
        advance(p);
        if (parse_label_list(p, &b->u.bin.labels, &b->u.bin.n_labels) < 0) {
            return -1;
        }
        if (tok_is_word(&p->tok, "group_left") || tok_is_word(&p->tok, "group_right")) {
            b->u.bin.card = tok_is_word(&p->tok, "group_left") ? CARD_MANY_TO_ONE : CARD_ONE_TO_MANY;
            advance(p);
            if (p->tok.kind == TOK_LPAREN &&
                parse_label_list(p, &b->u.bin.include, &b->u.bin.n_include) < 0) {
                return -1;
            }
        }
    }
    return parse_fill(p, b);
}

static int check_binary(parser_t *p, promql_expr_t *b, int oppos)
{
    promql__tok_kind_t op = b->u.bin.op;
    promql_type_t lt = b->u.bin.lhs->type, rt = b->u.bin.rhs->type;
    const char *opt = promql__tok_op_text(op);
    if ((lt != PROMQL_TYPE_SCALAR && lt != PROMQL_TYPE_VECTOR) ||
        (rt != PROMQL_TYPE_SCALAR && rt != PROMQL_TYPE_VECTOR)) {
        perr(p, (lt != PROMQL_TYPE_SCALAR && lt != PROMQL_TYPE_VECTOR) ? b->u.bin.lhs->pos : b->u.bin.rhs->pos,
             "binary expression must contain only scalar and instant vector types");
        return -1;
    }
    if (b->u.bin.return_bool && !promql__is_comparison(op)) {
        perr(p, oppos, "bool modifier can only be used on comparison operators");
        return -1;
    }
    if (promql__is_comparison(op) && !b->u.bin.return_bool && lt == PROMQL_TYPE_SCALAR &&
        rt == PROMQL_TYPE_SCALAR) {
        perr(p, b->pos, "comparisons between scalars must use BOOL modifier");
        return -1;
    }
    if (promql__is_setop(op)) {
        if (lt == PROMQL_TYPE_SCALAR || rt == PROMQL_TYPE_SCALAR) {
            perr(p, b->pos, "set operator \"%s\" not allowed in binary scalar expression", opt);
            return -1;
        }
        if (b->u.bin.card == CARD_MANY_TO_ONE || b->u.bin.card == CARD_ONE_TO_MANY) {
            perr(p, b->pos, "no grouping allowed for \"%s\" operation", opt);
            return -1;
        }
        b->u.bin.card = CARD_MANY_TO_MANY;
    }
    if (b->u.bin.has_matching && (lt != PROMQL_TYPE_VECTOR || rt != PROMQL_TYPE_VECTOR)) {
        perr(p, b->pos, "vector matching only allowed between instant vectors");
        return -1;
    }
    if (b->u.bin.on) {
        for (size_t i = 0; i < b->u.bin.n_include; i++) {
            for (size_t j = 0; j < b->u.bin.n_labels; j++) {
                if (strcmp(b->u.bin.include[i], b->u.bin.labels[j]) == 0) {
                    perr(p, b->pos, "label \"%s\" must not occur in ON and GROUP clause at once",
                         b->u.bin.include[i]);
                    return -1;
                }
            }
        }
    }
    b->type = lt == PROMQL_TYPE_SCALAR && rt == PROMQL_TYPE_SCALAR ? PROMQL_TYPE_SCALAR
                                                                   : PROMQL_TYPE_VECTOR;
    return 0;
}

static promql_expr_t *parse_expr(parser_t *p, int min_prec)
{
    if (++p->depth > MAX_DEPTH) {
        return perr(p, p->tok.pos, "expression nesting too deep");
    }
    promql_expr_t *lhs = parse_unary(p);
    for (;;) {
        promql__tok_kind_t op;
        int prec = lhs != NULL ? binop_prec(&p->tok, &op) : 0;
        if (prec == 0 || prec < min_prec) {
            break;
        }
        int oppos = p->tok.pos;
        promql_expr_t *b = node_new(p, NODE_BINARY, lhs->pos, 0);
        if (b == NULL) {
            return NULL;
        }
        advance(p);
        b->u.bin.op = op;
        b->u.bin.lhs = lhs;
        if (parse_bin_modifiers(p, b) < 0) {
            return NULL;
        }
        /* ^ is right-associative: the right side may hold operators of equal precedence. */
        b->u.bin.rhs = parse_expr(p, op == TOK_POW ? prec : prec + 1);
        if (b->u.bin.rhs == NULL) {
            return NULL;
        }
        b->end = b->u.bin.rhs->end;
        if (check_binary(p, b, oppos) < 0) {
            return NULL;
        }
        lhs = b;
    }
    p->depth--;
    return lhs;
}

promql_expr_t *promql_parse_flags(arena_t *a, const char *query, unsigned flags, err_t *err)
{
    parser_t p = {.a = a, .err = err, .q = query, .flags = flags};
    promql__lex_init(&p.lx, query);
    advance(&p);
    if (p.tok.kind == TOK_EOF) {
        return perr(&p, 0, "no expression found in input");
    }
    promql_expr_t *e = parse_expr(&p, 0);
    if (e == NULL) {
        if (!err_is_set(err)) {
            err_set(err, ERR_EXECUTION, "query exceeds the memory budget");
        }
        return NULL;
    }
    if (p.tok.kind != TOK_EOF) {
        return unexpected(&p, NULL);
    }
    return e;
}

promql_expr_t *promql_parse(arena_t *a, const char *query, err_t *err)
{
    return promql_parse_flags(a, query, 0, err);
}

promql_type_t promql_expr_type(const promql_expr_t *e)
{
    return e->type;
}

const char *promql_type_name(promql_type_t t)
{
    static const char *const names[] = {"none", "scalar", "vector", "matrix", "string"};
    return names[t];
}
