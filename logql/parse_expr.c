/* logql/parse_expr.c - the metric half of the LogQL parser (range and vector aggregations,
 * binary operators by precedence climbing, label_replace, vector, literals), Loki's
 * deferred semantic checks (run after parsing, outermost node first, as its
 * validateSampleExpr does), and the public logql_parse entry point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logql/parse_int.h"

#define LQ_MAX_INPUT 131072

static logql_expr_t *parse_expr(lq_parser_t *p, int min_prec);

static logql_expr_t *new_expr(lq_parser_t *p, lq_kind_t kind)
{
    logql_expr_t *e = arena_calloc(p->a, sizeof(*e));
    if (e != NULL) {
        e->kind = kind;
    }
    return e;
}

/* ---- range aggregations ------------------------------------------------------------------ */

/* RANGE [offset DURATION] after a selector. */
static int parse_range_tail(lq_parser_t *p, logql_expr_t *e)
{
    if (p->tok.kind != TK_RANGE) {
        logql__p_unexpected(p, NULL);
        return -1;
    }
    e->range_ns = p->tok.dur_ns;
    logql__p_next(p);
    if (p->tok.kind == TK_OFFSET) {
        logql__p_next(p);
        if (p->tok.kind != TK_DURATION) {
            logql__p_unexpected(p, "DURATION");
            return -1;
        }
        e->offset_ns = p->tok.dur_ns;
        logql__p_next(p);
    }
    return 0;
}

/* selector [pipeline] [unwrap] RANGE [offset], or selector RANGE [offset] [pipeline] [unwrap]. */
static int parse_bare_log_range(lq_parser_t *p, logql_expr_t *e)
{
    e->sel = logql__parse_selector(p, 1);
    if (e->sel == NULL || parse_range_tail(p, e) != 0) {
        return -1;
    }
    if (e->sel->n_stages == 0 && e->sel->unwrap == NULL) {
        return logql__parse_pipeline(p, e->sel, 1);
    }
    return 0;
}

/* The log range inside a range aggregation, with all of Loki's parenthesised forms. */
static int parse_log_range(lq_parser_t *p, logql_expr_t *e)
{
    if (p->tok.kind == TK_LBRACE) {
        return parse_bare_log_range(p, e);
    }
    if (p->tok.kind != TK_LPAREN) {
        logql__p_unexpected(p, "NUMBER or { or (");
        return -1;
    }
    logql__p_next(p);
    if (p->tok.kind == TK_LPAREN) {
        if (parse_log_range(p, e) != 0) {
            return -1;
        }
        return logql__p_expect(p, TK_RPAREN, NULL);
    }
    e->sel = logql__parse_selector(p, 1);
    if (e->sel == NULL) {
        return -1;
    }
    if (p->tok.kind == TK_RANGE) { /* `( selector ... [5m] )` */
        if (parse_range_tail(p, e) != 0 || (e->sel->n_stages == 0 && e->sel->unwrap == NULL &&
                                            logql__parse_pipeline(p, e->sel, 1) != 0)) {
            return -1;
        }
        return logql__p_expect(p, TK_RPAREN, NULL);
    }
    if (logql__p_expect(p, TK_RPAREN, NULL) != 0) {
        return -1;
    }
    return parse_range_tail(p, e);
}

static int parse_grouping(lq_parser_t *p, lq_grouping_t *g)
{
    g->present = 1;
    g->without = p->tok.kind == TK_WITHOUT;
    logql__p_next(p);
    g->labels = logql__parse_labels(p, &g->n_labels);
    return g->labels != NULL ? 0 : -1;
}

static int range_allows_grouping(logql_range_op_t op)
{
    switch (op) {
    case LOGQL_AVG_OVER_TIME:
    case LOGQL_STDDEV_OVER_TIME:
    case LOGQL_STDVAR_OVER_TIME:
    case LOGQL_QUANTILE_OVER_TIME:
    case LOGQL_MAX_OVER_TIME:
    case LOGQL_MIN_OVER_TIME:
    case LOGQL_FIRST_OVER_TIME:
    case LOGQL_LAST_OVER_TIME: return 1;
    default: return 0;
    }
}

static int range_allows_unwrap(logql_range_op_t op)
{
    return op != LOGQL_COUNT_OVER_TIME && op != LOGQL_BYTES_OVER_TIME && op != LOGQL_BYTES_RATE;
}

static int range_allows_plain(logql_range_op_t op)
{
    return op == LOGQL_COUNT_OVER_TIME || op == LOGQL_RATE || op == LOGQL_BYTES_OVER_TIME ||
           op == LOGQL_BYTES_RATE || op == LOGQL_ABSENT_OVER_TIME;
}

/* Loki's newRangeAggregationExpr checks, kept as the node's deferred error. */
static void check_range(lq_parser_t *p, logql_expr_t *e, const char *param)
{
    const char *name = logql__range_op_name(e->rop);
    if (param != NULL && e->rop != LOGQL_QUANTILE_OVER_TIME) {
        e->deferred =
            arena_sprintf(p->a, "parameter %s not supported for operation %s", param, name);
    } else if (param == NULL && e->rop == LOGQL_QUANTILE_OVER_TIME) {
        e->deferred = arena_sprintf(p->a, "parameter required for operation %s", name);
    } else if (e->grouping.present && !range_allows_grouping(e->rop)) {
        e->deferred = arena_sprintf(p->a, "grouping not allowed for %s aggregation", name);
    } else if (e->sel->unwrap != NULL && !range_allows_unwrap(e->rop)) {
        e->deferred = arena_sprintf(p->a, "invalid aggregation %s with unwrap", name);
    } else if (e->sel->unwrap == NULL && !range_allows_plain(e->rop)) {
        e->deferred = arena_sprintf(p->a, "invalid aggregation %s without unwrap", name);
    }
}

static logql_expr_t *parse_range_agg(lq_parser_t *p)
{
    logql_expr_t *e = new_expr(p, LQ_RANGE);
    if (e == NULL) {
        return NULL;
    }
    e->rop = (logql_range_op_t)p->tok.sub;
    logql__p_next(p);
    if (logql__p_expect(p, TK_LPAREN, "(") != 0) {
        return NULL;
    }
    const char *param = NULL;
    if (p->tok.kind == TK_NUMBER) {
        param = p->tok.text;
        e->has_param = 1;
        e->param = strtod(param, NULL);
        logql__p_next(p);
        if (logql__p_expect(p, TK_COMMA, ",") != 0) {
            return NULL;
        }
    }
    if (parse_log_range(p, e) != 0 || logql__p_expect(p, TK_RPAREN, NULL) != 0) {
        return NULL;
    }
    if ((p->tok.kind == TK_BY || p->tok.kind == TK_WITHOUT) &&
        parse_grouping(p, &e->grouping) != 0) {
        return NULL;
    }
    check_range(p, e, param);
    return e;
}

/* ---- vector aggregations ----------------------------------------------------------------- */

static int is_k_op(lq_vec_op_t op)
{
    return op == VEC_TOPK || op == VEC_BOTTOMK || op == VEC_APPROX_TOPK;
}

static void check_vec_param(lq_parser_t *p, logql_expr_t *e, const char *param)
{
    const char *name = logql__vec_op_name(e->vop);
    if (!is_k_op(e->vop)) {
        if (param != NULL) {
            e->deferred =
                arena_sprintf(p->a, "unsupported parameter for operation %s(%s,", name, param);
        }
        return;
    }
    if (param == NULL) {
        e->deferred = arena_sprintf(p->a, "parameter required for operation %s", name);
        return;
    }
    char *end = NULL;
    long k = strtol(param, &end, 10);
    if (end == param || *end != '\0') {
        e->deferred = arena_sprintf(p->a, "invalid parameter %s(%s,", name, param);
    } else if (k <= 0) {
        e->deferred =
            arena_sprintf(p->a, "invalid parameter (must be greater than 0) %s(%s", name, param);
    } else if (e->vop == VEC_APPROX_TOPK && e->grouping.present) {
        e->deferred = arena_sprintf(p->a, "grouping not allowed for %s aggregation", name);
    }
    e->k = k;
}

/* A metric expression argument: a bare log query there is a syntax error at the token
 * that follows it (yacc wanted a range or an operator). */
static logql_expr_t *parse_metric_arg(lq_parser_t *p)
{
    logql_expr_t *e = parse_expr(p, 0);
    if (e != NULL && e->kind == LQ_LOG) {
        return logql__p_unexpected(p, NULL);
    }
    return e;
}

static logql_expr_t *parse_vector_agg(lq_parser_t *p)
{
    logql_expr_t *e = new_expr(p, LQ_VECAGG);
    if (e == NULL) {
        return NULL;
    }
    e->vop = (lq_vec_op_t)p->tok.sub;
    logql__p_next(p);
    int before = p->tok.kind == TK_BY || p->tok.kind == TK_WITHOUT;
    if (before && parse_grouping(p, &e->grouping) != 0) {
        return NULL;
    }
    if (logql__p_expect(p, TK_LPAREN, "(") != 0) {
        return NULL;
    }
    const char *param = NULL;
    lq_tok_t next;
    logql__p_peek(p, &next);
    if (p->tok.kind == TK_NUMBER && next.kind == TK_COMMA) {
        param = p->tok.text;
        logql__p_next(p);
        logql__p_next(p);
    }
    if ((e->lhs = parse_metric_arg(p)) == NULL || logql__p_expect(p, TK_RPAREN, NULL) != 0) {
        return NULL;
    }
    if (!before && (p->tok.kind == TK_BY || p->tok.kind == TK_WITHOUT) &&
        parse_grouping(p, &e->grouping) != 0) {
        return NULL;
    }
    check_vec_param(p, e, param);
    return e;
}

/* ---- label_replace, vector, literals ----------------------------------------------------- */

static int parse_comma_string(lq_parser_t *p, const char **out)
{
    if (logql__p_expect(p, TK_COMMA, ",") != 0) {
        return -1;
    }
    if (p->tok.kind != TK_STRING) {
        logql__p_unexpected(p, "STRING");
        return -1;
    }
    *out = p->tok.text;
    logql__p_next(p);
    return 0;
}

static logql_expr_t *parse_label_replace(lq_parser_t *p)
{
    logql_expr_t *e = new_expr(p, LQ_LABEL_REPLACE);
    logql__p_next(p);
    if (e == NULL || logql__p_expect(p, TK_LPAREN, "(") != 0 ||
        (e->lhs = parse_metric_arg(p)) == NULL) {
        return NULL;
    }
    if (parse_comma_string(p, &e->dst) != 0 || parse_comma_string(p, &e->repl) != 0 ||
        parse_comma_string(p, &e->src) != 0 || parse_comma_string(p, &e->regex) != 0 ||
        logql__p_expect(p, TK_RPAREN, ")") != 0) {
        return NULL;
    }
    err_t me = {0};
    if (matcher_new_arena(p->a, MATCH_RE, "x", e->regex, &me) == NULL) {
        e->deferred = arena_sprintf(p->a, "invalid regex in label_replace: %s", me.msg);
    }
    return e;
}

static const char *float_error(lq_parser_t *p, const char *what, const char *t)
{
    return arena_sprintf(
        p->a, "unable to parse %s as a float: strconv.ParseFloat: parsing \"%s\": invalid syntax",
        what, t);
}

/* strtod, refusing what Go's ParseFloat refuses (hex without exponent, underscores). */
static int go_parse_float(const char *t, double *v)
{
    char *end = NULL;
    if (strpbrk(t, "xX_") != NULL) {
        return -1;
    }
    *v = strtod(t, &end);
    return end != NULL && *end == '\0' ? 0 : -1;
}

static logql_expr_t *parse_vector(lq_parser_t *p)
{
    logql_expr_t *e = new_expr(p, LQ_VECTOR);
    logql__p_next(p);
    if (e == NULL || logql__p_expect(p, TK_LPAREN, "(") != 0) {
        return NULL;
    }
    if (p->tok.kind != TK_NUMBER) {
        return logql__p_unexpected(p, "NUMBER");
    }
    if (go_parse_float(p->tok.text, &e->value) != 0) {
        e->deferred = float_error(p, "vectorExpr", p->tok.text);
    }
    logql__p_next(p);
    return logql__p_expect(p, TK_RPAREN, ")") == 0 ? e : NULL;
}

static logql_expr_t *parse_literal(lq_parser_t *p)
{
    int neg = p->tok.kind == TK_SUB;
    if (p->tok.kind == TK_ADD || p->tok.kind == TK_SUB) {
        logql__p_next(p);
        if (p->tok.kind != TK_NUMBER) {
            return logql__p_unexpected(p, "NUMBER");
        }
    }
    logql_expr_t *e = new_expr(p, LQ_LITERAL);
    if (e == NULL) {
        return NULL;
    }
    if (go_parse_float(p->tok.text, &e->value) != 0) {
        e->deferred = float_error(p, "literal", p->tok.text);
    }
    if (neg) {
        e->value = -e->value;
    }
    logql__p_next(p);
    return e;
}

static logql_expr_t *parse_primary(lq_parser_t *p)
{
    switch (p->tok.kind) {
    case TK_LBRACE: {
        logql_expr_t *e = new_expr(p, LQ_LOG);
        if (e == NULL || (e->sel = logql__parse_selector(p, 0)) == NULL) {
            return NULL;
        }
        return e;
    }
    case TK_LPAREN: {
        logql__p_next(p);
        logql_expr_t *e = parse_expr(p, 0);
        if (e == NULL || logql__p_expect(p, TK_RPAREN, NULL) != 0) {
            return NULL;
        }
        return e;
    }
    case TK_NUMBER:
    case TK_ADD:
    case TK_SUB: return parse_literal(p);
    case TK_FN_RANGE: return parse_range_agg(p);
    case TK_FN_VECTOR_AGG: return parse_vector_agg(p);
    case TK_FN_LABEL_REPLACE: return parse_label_replace(p);
    case TK_FN_VECTOR: return parse_vector(p);
    default: return logql__p_unexpected(p, NULL);
    }
}

/* ---- binary operators -------------------------------------------------------------------- */

static int bin_op_of(lq_tok_kind_t k, lq_bin_op_t *op, int *prec)
{
    static const struct {
        lq_tok_kind_t tok;
        lq_bin_op_t op;
        int prec;
    } map[] = {
        {TK_OR, BIN_OR, 1},     {TK_AND, BIN_AND, 2}, {TK_UNLESS, BIN_UNLESS, 2},
        {TK_CMP_EQ, BIN_EQ, 3}, {TK_NEQ, BIN_NEQ, 3}, {TK_GT, BIN_GT, 3},
        {TK_GTE, BIN_GTE, 3},   {TK_LT, BIN_LT, 3},   {TK_LTE, BIN_LTE, 3},
        {TK_ADD, BIN_ADD, 4},   {TK_SUB, BIN_SUB, 4}, {TK_MUL, BIN_MUL, 5},
        {TK_DIV, BIN_DIV, 5},   {TK_MOD, BIN_MOD, 5}, {TK_POW, BIN_POW, 6},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].tok == k) {
            *op = map[i].op;
            *prec = map[i].prec;
            return 1;
        }
    }
    return 0;
}

/* [bool] [on|ignoring (labels) [group_left|group_right [(labels)]]] */
static int parse_bin_modifiers(lq_parser_t *p, logql_expr_t *e)
{
    if (p->tok.kind == TK_BOOL) {
        e->ret_bool = 1;
        logql__p_next(p);
    }
    if (p->tok.kind != TK_ON && p->tok.kind != TK_IGNORING) {
        return 0;
    }
    e->on = p->tok.kind == TK_ON;
    logql__p_next(p);
    e->match_labels = logql__parse_labels(p, &e->n_match_labels);
    if (e->match_labels == NULL) {
        return -1;
    }
    e->has_match_labels = e->n_match_labels > 0;
    if (p->tok.kind != TK_GROUP_LEFT && p->tok.kind != TK_GROUP_RIGHT) {
        return 0;
    }
    e->card = p->tok.kind == TK_GROUP_LEFT ? 1 : 2;
    logql__p_next(p);
    if (p->tok.kind == TK_LPAREN) {
        e->include = logql__parse_labels(p, &e->n_include);
        if (e->include == NULL) {
            return -1;
        }
        e->has_include = e->n_include > 0;
    }
    return 0;
}

static int is_set_op(lq_bin_op_t op)
{
    return op == BIN_OR || op == BIN_AND || op == BIN_UNLESS;
}

static double fold(lq_bin_op_t op, double l, double r)
{
    switch (op) {
    case BIN_ADD: return l + r;
    case BIN_SUB: return l - r;
    case BIN_MUL: return l * r;
    case BIN_DIV: return r == 0 ? NAN : l / r;
    case BIN_MOD: return r == 0 ? NAN : fmod(l, r);
    case BIN_POW: return pow(l, r);
    case BIN_EQ: return l == r;
    case BIN_NEQ: return l != r;
    case BIN_GT: return l > r;
    case BIN_GTE: return l >= r;
    case BIN_LT: return l < r;
    default: return l <= r;
    }
}

/* Loki's mustNewBinOpExpr: leg types, literals on set operators, and folding of two
 * literals into one. */
static logql_expr_t *make_binop(lq_parser_t *p, logql_expr_t *e)
{
    const char *name = logql__bin_op_name(e->bop);
    const char *leg_type[] = {"*syntax.MatchersExpr", "*syntax.PipelineExpr"};
    if (e->lhs->kind == LQ_LOG) {
        e->deferred =
            arena_sprintf(p->a, "unexpected type for left leg of binary operation (%s): %s", name,
                          leg_type[e->lhs->sel->n_stages > 0]);
    } else if (e->rhs->kind == LQ_LOG) {
        e->deferred =
            arena_sprintf(p->a, "unexpected type for right leg of binary operation (%s): %s", name,
                          leg_type[e->rhs->sel->n_stages > 0]);
    } else if (is_set_op(e->bop) && e->lhs->kind == LQ_LITERAL) {
        e->deferred = arena_sprintf(
            p->a, "unexpected literal for left leg of logical/set binary operation (%s): %f", name,
            e->lhs->value);
    } else if (is_set_op(e->bop) && e->rhs->kind == LQ_LITERAL) {
        e->deferred = arena_sprintf(
            p->a, "unexpected literal for right leg of logical/set binary operation (%s): %f", name,
            e->rhs->value);
    } else if (e->lhs->kind == LQ_LITERAL && e->rhs->kind == LQ_LITERAL &&
               e->lhs->deferred == NULL && e->rhs->deferred == NULL) {
        logql_expr_t *lit = new_expr(p, LQ_LITERAL);
        if (lit != NULL) {
            lit->value = fold(e->bop, e->lhs->value, e->rhs->value);
        }
        return lit;
    }
    return e;
}

static logql_expr_t *parse_expr(lq_parser_t *p, int min_prec)
{
    logql_expr_t *lhs = parse_primary(p);
    lq_bin_op_t op;
    int prec;
    while (lhs != NULL && bin_op_of(p->tok.kind, &op, &prec) && prec >= min_prec) {
        logql_expr_t *e = new_expr(p, LQ_BINOP);
        if (e == NULL) {
            return NULL;
        }
        e->bop = op;
        e->lhs = lhs;
        logql__p_next(p);
        if (parse_bin_modifiers(p, e) != 0) {
            return NULL;
        }
        /* ^ is right-associative; the rest bind left. */
        e->rhs = parse_expr(p, op == BIN_POW ? prec : prec + 1);
        if (e->rhs == NULL) {
            return NULL;
        }
        lhs = make_binop(p, e);
    }
    return lhs;
}

/* ---- validation -------------------------------------------------------------------------- */

/* Loki's validateMatchers: some matcher must reject the empty value. */
static const char *check_selector(const lq_sel_t *s)
{
    for (size_t i = 0; i < s->n_matchers; i++) {
        if (!matcher_matches_empty(s->matchers[i])) {
            return NULL;
        }
    }
    return "queries require at least one regexp or equality matcher that does not have an "
           "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, "
           "but app=~\".+\" will";
}

static const char *validate(const logql_expr_t *e)
{
    if (e->deferred != NULL) {
        return e->deferred;
    }
    switch (e->kind) {
    case LQ_BINOP: {
        const char *m = validate(e->lhs);
        return m != NULL ? m : validate(e->rhs);
    }
    case LQ_VECAGG:
        if ((e->vop == VEC_SORT || e->vop == VEC_SORT_DESC) && e->grouping.n_labels > 0) {
            return "sort and sort_desc doesn't allow grouping by ";
        }
        return validate(e->lhs);
    case LQ_LABEL_REPLACE: return validate(e->lhs);
    case LQ_LOG:
    case LQ_RANGE: return check_selector(e->sel);
    default: return NULL;
    }
}

/* Compiles every selector's pipeline (regexes, templates, patterns, ip ranges). */
static int compile_all(arena_t *a, logql_expr_t *e, err_t *err)
{
    if (e == NULL) {
        return 0;
    }
    if (e->sel != NULL && logql__pipeline_compile(a, e->sel, err) != 0) {
        return -1;
    }
    if (compile_all(a, e->lhs, err) != 0) {
        return -1;
    }
    return compile_all(a, e->rhs, err);
}

logql_expr_t *logql_parse(arena_t *a, const char *query, err_t *err)
{
    size_t n = strlen(query);
    if (n >= LQ_MAX_INPUT) {
        err_set(err, ERR_BAD_DATA, "parse error : input size too long (%zu > %d)", n, LQ_MAX_INPUT);
        return NULL;
    }
    lq_parser_t p = {.a = a, .err = err};
    logql__lex_init(&p.lx, a, query, err);
    logql__p_next(&p);
    logql_expr_t *e = parse_expr(&p, 0);
    if (e != NULL && p.tok.kind != TK_EOF) {
        e = logql__p_unexpected(&p, NULL);
    }
    if (e == NULL || p.failed) {
        if (!err_is_set(err)) {
            err_set(err, ERR_BAD_DATA, "parse error : out of memory");
        }
        return NULL;
    }
    const char *msg = validate(e);
    if (msg != NULL) {
        err_set(err, ERR_BAD_DATA, "parse error : %s", msg);
        return NULL;
    }
    return compile_all(a, e, err) == 0 ? e : NULL;
}

int logql_is_metric(const logql_expr_t *e)
{
    return e->kind != LQ_LOG;
}

int logql_log_selector(const logql_expr_t *e, logql_selector_t *out)
{
    if (e->kind != LQ_LOG) {
        return -1;
    }
    out->matchers = (const matcher_t *const *)e->sel->matchers;
    out->n_matchers = e->sel->n_matchers;
    out->pipeline = e->sel->pipeline;
    return 0;
}
