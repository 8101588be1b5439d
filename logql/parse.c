/* logql/parse.c - recursive-descent parser for the log half of LogQL: stream selectors,
 * line filters (with `or` chains), parsers, label filters, formatters, drop/keep and unwrap.
 * Grammar and error texts follow Loki's syntax.y; where yacc resolves a conflict by
 * shifting (label filters joined by `,` or by juxtaposition take everything to their
 * right), the parser does the same. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "logql/parse_int.h"

void logql__p_next(lq_parser_t *p)
{
    if (p->failed) {
        p->tok.kind = TK_EOF;
        return;
    }
    logql__lex_next(&p->lx, &p->tok);
    if (p->lx.failed) {
        p->failed = 1;
    }
}

void logql__p_peek(lq_parser_t *p, lq_tok_t *out)
{
    lq_lexer_t save = p->lx;
    err_t quiet = {0};
    save.err = &quiet;
    logql__lex_next(&save, out);
}

void *logql__p_unexpected(lq_parser_t *p, const char *expecting)
{
    if (!p->failed) {
        err_set(p->err, ERR_BAD_DATA,
                "parse error at line %d, col %d: syntax error: unexpected %s%s%s", p->tok.line,
                p->tok.col, logql__tok_name(&p->tok), expecting != NULL ? ", expecting " : "",
                expecting != NULL ? expecting : "");
        p->failed = 1;
    }
    return NULL;
}

int logql__p_expect(lq_parser_t *p, lq_tok_kind_t kind, const char *expecting)
{
    if (p->failed || p->tok.kind != kind) {
        logql__p_unexpected(p, expecting);
        return -1;
    }
    logql__p_next(p);
    return 0;
}

void *logql__p_fail(lq_parser_t *p, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(p->err, ERR_BAD_DATA, "parse error : %s", msg);
        p->failed = 1;
    }
    return NULL;
}

/* Grows an arena array of `size`-byte elements by one; returns the new slot. */
static void *push(arena_t *a, void **arr, size_t *n, size_t size)
{
    void *grown = arena_realloc(a, *arr, *n * size, (*n + 1) * size);
    if (grown == NULL) {
        return NULL;
    }
    *arr = grown;
    return (char *)grown + (*n)++ * size;
}

static int match_type_of(lq_tok_kind_t k, match_type_t *t)
{
    switch (k) {
    case TK_EQ: *t = MATCH_EQ; return 1;
    case TK_NEQ: *t = MATCH_NEQ; return 1;
    case TK_RE: *t = MATCH_RE; return 1;
    case TK_NRE: *t = MATCH_NRE; return 1;
    default: return 0;
    }
}

/* `name op "value"` with the name already consumed; `expecting` names the operators in a
 * syntax error where yacc lists them (stream selectors). */
static matcher_t *parse_matcher_rest(lq_parser_t *p, const char *name, const char *expecting)
{
    match_type_t mt;
    if (!match_type_of(p->tok.kind, &mt)) {
        return logql__p_unexpected(p, expecting);
    }
    logql__p_next(p);
    if (p->tok.kind != TK_STRING) {
        return logql__p_unexpected(p, "STRING");
    }
    err_t e = {0};
    matcher_t *m = matcher_new_arena(p->a, mt, name, p->tok.text, &e);
    if (m == NULL) {
        return logql__p_fail(p, "%s", e.msg);
    }
    logql__p_next(p);
    return m;
}

static int parse_matchers(lq_parser_t *p, lq_sel_t *s)
{
    if (p->tok.kind == TK_RBRACE) {
        logql__p_next(p);
        return 0;
    }
    for (;;) {
        if (p->tok.kind != TK_IDENT) {
            logql__p_unexpected(p, s->n_matchers == 0 ? "IDENTIFIER or }" : "IDENTIFIER");
            return -1;
        }
        const char *name = p->tok.text;
        logql__p_next(p);
        matcher_t *m = parse_matcher_rest(p, name, "= or =~ or !~ or !=");
        matcher_t **slot =
            m != NULL ? push(p->a, (void **)&s->matchers, &s->n_matchers, sizeof(*slot)) : NULL;
        if (slot == NULL) {
            return -1;
        }
        *slot = m;
        if (p->tok.kind == TK_RBRACE) {
            logql__p_next(p);
            return 0;
        }
        if (logql__p_expect(p, TK_COMMA, "} or ,") != 0) {
            return -1;
        }
    }
}

lq_sel_t *logql__parse_selector(lq_parser_t *p, int allow_unwrap)
{
    lq_sel_t *s = arena_calloc(p->a, sizeof(*s));
    if (s == NULL || logql__p_expect(p, TK_LBRACE, NULL) != 0 || parse_matchers(p, s) != 0) {
        return NULL;
    }
    if (logql__parse_pipeline(p, s, allow_unwrap) != 0) {
        return NULL;
    }
    return s;
}

/* ---- line filters ------------------------------------------------------------------------ */

static int line_op_of(lq_tok_kind_t k, lq_line_op_t *op)
{
    static const struct {
        lq_tok_kind_t tok;
        lq_line_op_t op;
    } map[] = {
        {TK_PIPE_EXACT, LQ_LINE_EQ},        {TK_NEQ, LQ_LINE_NEQ},
        {TK_PIPE_MATCH, LQ_LINE_RE},        {TK_NRE, LQ_LINE_NRE},
        {TK_PIPE_PATTERN, LQ_LINE_PATTERN}, {TK_NPA, LQ_LINE_NPATTERN},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].tok == k) {
            *op = map[i].op;
            return 1;
        }
    }
    return 0;
}

/* A STRING or ip("...") operand. */
static int parse_line_arg(lq_parser_t *p, lq_line_arg_t *arg)
{
    memset(arg, 0, sizeof(*arg));
    if (p->tok.kind == TK_IP_KW) {
        logql__p_next(p);
        if (logql__p_expect(p, TK_LPAREN, "(") != 0) {
            return -1;
        }
        if (p->tok.kind != TK_STRING) {
            logql__p_unexpected(p, "STRING");
            return -1;
        }
        arg->is_ip = 1;
        arg->match = p->tok.text;
        arg->len = p->tok.len;
        logql__p_next(p);
        return logql__p_expect(p, TK_RPAREN, ")");
    }
    if (p->tok.kind != TK_STRING) {
        logql__p_unexpected(p, "STRING or ip");
        return -1;
    }
    arg->match = p->tok.text;
    arg->len = p->tok.len;
    logql__p_next(p);
    return 0;
}

static int is_negative(lq_line_op_t op)
{
    return op == LQ_LINE_NEQ || op == LQ_LINE_NRE || op == LQ_LINE_NPATTERN;
}

static lq_stage_t *new_stage(lq_parser_t *p, lq_sel_t *s, lq_stage_kind_t kind)
{
    lq_stage_t *st = push(p->a, (void **)&s->stages, &s->n_stages, sizeof(*st));
    if (st != NULL) {
        memset(st, 0, sizeof(*st));
        st->kind = kind;
    }
    return st;
}

/* One line filter with its `or` alternatives. A negated filter with alternatives becomes
 * one filter per alternative, as Loki rewrites !(a or b) into !a and !b. */
static int parse_line_filter(lq_parser_t *p, lq_sel_t *s)
{
    lq_line_op_t op = LQ_LINE_EQ;
    line_op_of(p->tok.kind, &op);
    logql__p_next(p);
    lq_line_arg_t *args = NULL;
    size_t n = 0;
    do {
        lq_line_arg_t *arg = push(p->a, (void **)&args, &n, sizeof(*arg));
        if (arg == NULL || parse_line_arg(p, arg) != 0) {
            return -1;
        }
    } while (p->tok.kind == TK_OR && (logql__p_next(p), 1));
    size_t per = is_negative(op) ? 1 : n;
    for (size_t i = 0; i < n; i += per) {
        lq_stage_t *st = new_stage(p, s, ST_LINE_FILTER);
        if (st == NULL) {
            return -1;
        }
        st->op = op;
        st->args = args + i;
        st->n_args = per;
    }
    return 0;
}

/* ---- label filters ----------------------------------------------------------------------- */

static lq_lf_t *parse_lf_or(lq_parser_t *p);

static lq_lf_t *new_lf(lq_parser_t *p, lq_lf_kind_t kind, const char *name)
{
    lq_lf_t *lf = arena_calloc(p->a, sizeof(*lf));
    if (lf != NULL) {
        lf->kind = kind;
        lf->name = name;
    }
    return lf;
}

static int cmp_of(lq_tok_kind_t k, lq_cmp_t *c)
{
    switch (k) {
    case TK_EQ:
    case TK_CMP_EQ: *c = CMP_EQ; return 1;
    case TK_NEQ: *c = CMP_NEQ; return 1;
    case TK_GT: *c = CMP_GT; return 1;
    case TK_GTE: *c = CMP_GTE; return 1;
    case TK_LT: *c = CMP_LT; return 1;
    case TK_LTE: *c = CMP_LTE; return 1;
    default: return 0;
    }
}

/* A literal: NUMBER, +NUMBER or -NUMBER. */
static int parse_number(lq_parser_t *p, double *v)
{
    int neg = 0;
    if (p->tok.kind == TK_ADD || p->tok.kind == TK_SUB) {
        neg = p->tok.kind == TK_SUB;
        logql__p_next(p);
    }
    if (p->tok.kind != TK_NUMBER) {
        logql__p_unexpected(p, NULL);
        return -1;
    }
    char *end = NULL;
    const char *t = p->tok.text;
    double d = strtod(t, &end);
    if (end == NULL || *end != '\0' || strchr(t, 'x') != NULL || strchr(t, 'X') != NULL ||
        strchr(t, '_') != NULL) {
        logql__p_fail(p,
                      "unable to parse literal as a float: strconv.ParseFloat: parsing \"%s\": "
                      "invalid syntax",
                      t);
        return -1;
    }
    *v = neg ? -d : d;
    logql__p_next(p);
    return 0;
}

static lq_lf_t *parse_lf_ip(lq_parser_t *p, const char *name, lq_cmp_t c)
{
    lq_lf_t *lf = new_lf(p, LF_IP, name);
    logql__p_next(p);
    if (lf == NULL || logql__p_expect(p, TK_LPAREN, "(") != 0) {
        return NULL;
    }
    if (p->tok.kind != TK_STRING) {
        return logql__p_unexpected(p, "STRING");
    }
    lf->cmp = c;
    lf->ip = p->tok.text;
    logql__p_next(p);
    return logql__p_expect(p, TK_RPAREN, ")") == 0 ? lf : NULL;
}

/* `name op value` for every kind of value. */
static lq_lf_t *parse_lf_leaf(lq_parser_t *p)
{
    const char *name = p->tok.text;
    logql__p_next(p);
    lq_tok_kind_t opk = p->tok.kind;
    lq_tok_t next;
    logql__p_peek(p, &next);
    lq_cmp_t c;
    if ((opk == TK_RE || opk == TK_NRE) ||
        ((opk == TK_EQ || opk == TK_NEQ) && next.kind == TK_STRING)) {
        lq_lf_t *lf = new_lf(p, LF_MATCHER, name);
        if (lf == NULL || (lf->m = parse_matcher_rest(p, name, NULL)) == NULL) {
            return NULL;
        }
        return lf;
    }
    if (!cmp_of(opk, &c)) {
        return logql__p_unexpected(p, NULL);
    }
    logql__p_next(p);
    if (p->tok.kind == TK_IP_KW && (opk == TK_EQ || opk == TK_NEQ)) {
        return parse_lf_ip(p, name, c);
    }
    lq_lf_t *lf = new_lf(p, LF_NUMERIC, name);
    if (lf == NULL) {
        return NULL;
    }
    lf->cmp = c;
    if (p->tok.kind == TK_DURATION) {
        lf->kind = LF_DURATION;
        lf->dur_ns = p->tok.dur_ns;
        logql__p_next(p);
        return lf;
    }
    if (p->tok.kind == TK_BYTES) {
        lf->kind = LF_BYTES;
        lf->bytes = p->tok.bytes;
        logql__p_next(p);
        return lf;
    }
    return parse_number(p, &lf->num) == 0 ? lf : NULL;
}

static int lf_starts(lq_tok_kind_t k)
{
    return k == TK_IDENT || k == TK_LPAREN;
}

static lq_lf_t *lf_join(lq_parser_t *p, lq_lf_kind_t kind, lq_lf_t *l, lq_lf_t *r)
{
    if (l == NULL || r == NULL) {
        return NULL;
    }
    lq_lf_t *lf = new_lf(p, kind, NULL);
    if (lf != NULL) {
        lf->l = l;
        lf->r = r;
    }
    return lf;
}

/* A leaf or a parenthesised filter, extended by `, rest` or `rest` (juxtaposition): yacc
 * shifts there, so the right side is the whole remaining filter. */
static lq_lf_t *parse_lf_operand(lq_parser_t *p)
{
    lq_lf_t *lf;
    if (p->tok.kind == TK_LPAREN) {
        logql__p_next(p);
        lf = parse_lf_or(p);
        if (lf == NULL || logql__p_expect(p, TK_RPAREN, NULL) != 0) {
            return NULL;
        }
    } else if (p->tok.kind == TK_IDENT) {
        lf = parse_lf_leaf(p);
    } else {
        return logql__p_unexpected(p, NULL);
    }
    if (lf == NULL) {
        return NULL;
    }
    if (p->tok.kind == TK_COMMA) {
        logql__p_next(p);
        return lf_join(p, LF_AND, lf, parse_lf_or(p));
    }
    if (lf_starts(p->tok.kind)) {
        return lf_join(p, LF_AND, lf, parse_lf_or(p));
    }
    return lf;
}

static lq_lf_t *parse_lf_and(lq_parser_t *p)
{
    lq_lf_t *lf = parse_lf_operand(p);
    while (lf != NULL && p->tok.kind == TK_AND) {
        logql__p_next(p);
        lf = lf_join(p, LF_AND, lf, parse_lf_operand(p));
    }
    return lf;
}

static lq_lf_t *parse_lf_or(lq_parser_t *p)
{
    lq_lf_t *lf = parse_lf_and(p);
    while (lf != NULL && p->tok.kind == TK_OR) {
        logql__p_next(p);
        lf = lf_join(p, LF_OR, lf, parse_lf_and(p));
    }
    return lf;
}

/* ---- parsers and formatters -------------------------------------------------------------- */

/* `a="expr", b` (json / logfmt parameters); a bare name extracts itself. */
static int parse_extractions(lq_parser_t *p, lq_stage_t *st)
{
    while (p->tok.kind == TK_IDENT) {
        lq_named_t *it = push(p->a, (void **)&st->items, &st->n_items, sizeof(*it));
        if (it == NULL) {
            return -1;
        }
        memset(it, 0, sizeof(*it));
        it->name = it->value = p->tok.text;
        logql__p_next(p);
        if (p->tok.kind == TK_EQ) {
            logql__p_next(p);
            if (p->tok.kind != TK_STRING) {
                logql__p_unexpected(p, "STRING");
                return -1;
            }
            it->value = p->tok.text;
            logql__p_next(p);
        }
        if (p->tok.kind != TK_COMMA) {
            return 0;
        }
        logql__p_next(p);
        if (p->tok.kind != TK_IDENT) {
            logql__p_unexpected(p, "IDENTIFIER");
            return -1;
        }
    }
    return 0;
}

static int parse_logfmt(lq_parser_t *p, lq_stage_t *st)
{
    while (p->tok.kind == TK_FLAG) {
        if (strcmp(p->tok.text, "--strict") == 0) {
            st->strict = 1;
        } else {
            st->keep_empty = 1;
        }
        logql__p_next(p);
    }
    return parse_extractions(p, st);
}

/* label_format `a=b, c="{{.x}}"` or drop/keep `a, b="v"`. */
static int parse_named_list(lq_parser_t *p, lq_stage_t *st, int label_fmt)
{
    do {
        if (p->tok.kind != TK_IDENT) {
            logql__p_unexpected(p, "IDENTIFIER");
            return -1;
        }
        lq_named_t *it = push(p->a, (void **)&st->items, &st->n_items, sizeof(*it));
        if (it == NULL) {
            return -1;
        }
        memset(it, 0, sizeof(*it));
        it->name = p->tok.text;
        logql__p_next(p);
        if (label_fmt) {
            if (logql__p_expect(p, TK_EQ, "=") != 0) {
                return -1;
            }
            if (p->tok.kind != TK_IDENT && p->tok.kind != TK_STRING) {
                logql__p_unexpected(p, "IDENTIFIER or STRING");
                return -1;
            }
            it->rename = p->tok.kind == TK_IDENT;
            it->value = p->tok.text;
            logql__p_next(p);
        } else if (p->tok.kind == TK_EQ || p->tok.kind == TK_NEQ || p->tok.kind == TK_RE ||
                   p->tok.kind == TK_NRE) {
            if ((it->m = parse_matcher_rest(p, it->name, NULL)) == NULL) {
                return -1;
            }
        }
    } while (p->tok.kind == TK_COMMA && (logql__p_next(p), 1));
    return 0;
}

static int parse_string_arg(lq_parser_t *p, lq_stage_t *st)
{
    if (p->tok.kind != TK_STRING) {
        logql__p_unexpected(p, "STRING");
        return -1;
    }
    st->text = p->tok.text;
    logql__p_next(p);
    return 0;
}

static const struct {
    lq_tok_kind_t tok;
    lq_stage_kind_t kind;
} stage_kinds[] = {
    {TK_LOGFMT, ST_LOGFMT},         {TK_JSON, ST_JSON},     {TK_REGEXP, ST_REGEXP},
    {TK_PATTERN, ST_PATTERN},       {TK_UNPACK, ST_UNPACK}, {TK_LINE_FMT, ST_LINE_FMT},
    {TK_LABEL_FMT, ST_LABEL_FMT},   {TK_DROP, ST_DROP},     {TK_KEEP, ST_KEEP},
    {TK_DECOLORIZE, ST_DECOLORIZE},
};

/* The stage after `|` (the pipe already consumed). */
static int parse_pipe_stage(lq_parser_t *p, lq_sel_t *s)
{
    if (lf_starts(p->tok.kind)) {
        lq_stage_t *st = new_stage(p, s, ST_LABEL_FILTER);
        return st != NULL && (st->lf = parse_lf_or(p)) != NULL ? 0 : -1;
    }
    for (size_t i = 0; i < sizeof(stage_kinds) / sizeof(stage_kinds[0]); i++) {
        if (stage_kinds[i].tok != p->tok.kind) {
            continue;
        }
        lq_stage_t *st = new_stage(p, s, stage_kinds[i].kind);
        if (st == NULL) {
            return -1;
        }
        logql__p_next(p);
        switch (st->kind) {
        case ST_LOGFMT: return parse_logfmt(p, st);
        case ST_JSON: return parse_extractions(p, st);
        case ST_REGEXP:
        case ST_PATTERN:
        case ST_LINE_FMT: return parse_string_arg(p, st);
        case ST_LABEL_FMT: return parse_named_list(p, st, 1);
        case ST_DROP:
        case ST_KEEP: return parse_named_list(p, st, 0);
        default: return 0;
        }
    }
    logql__p_unexpected(p, NULL);
    return -1;
}

/* `| unwrap x` / `| unwrap duration(x)`, then `| labelfilter`s (the unwrap already seen). */
static int parse_unwrap(lq_parser_t *p, lq_sel_t *s)
{
    lq_unwrap_t *u = arena_calloc(p->a, sizeof(*u));
    if (u == NULL) {
        return -1;
    }
    logql__p_next(p);
    if (p->tok.kind == TK_FN_CONV) {
        u->conv = (lq_conv_t)p->tok.sub;
        logql__p_next(p);
        if (logql__p_expect(p, TK_LPAREN, "(") != 0 || p->tok.kind != TK_IDENT) {
            logql__p_unexpected(p, "IDENTIFIER");
            return -1;
        }
        u->name = p->tok.text;
        logql__p_next(p);
        if (logql__p_expect(p, TK_RPAREN, ")") != 0) {
            return -1;
        }
    } else if (p->tok.kind == TK_IDENT) {
        u->name = p->tok.text;
        logql__p_next(p);
    } else {
        logql__p_unexpected(p,
                            "IDENTIFIER or BYTES_CONV or DURATION_CONV or DURATION_SECONDS_CONV");
        return -1;
    }
    s->unwrap = u;
    while (p->tok.kind == TK_PIPE) {
        logql__p_next(p);
        lq_lf_t **slot = push(p->a, (void **)&u->post, &u->n_post, sizeof(*slot));
        if (slot == NULL || !lf_starts(p->tok.kind)) {
            logql__p_unexpected(p, NULL);
            return -1;
        }
        if ((*slot = parse_lf_or(p)) == NULL) {
            return -1;
        }
    }
    return 0;
}

int logql__parse_pipeline(lq_parser_t *p, lq_sel_t *s, int allow_unwrap)
{
    lq_line_op_t op;
    for (;;) {
        if (p->failed) {
            return -1;
        }
        if (line_op_of(p->tok.kind, &op)) {
            if (parse_line_filter(p, s) != 0) {
                return -1;
            }
            continue;
        }
        if (p->tok.kind != TK_PIPE) {
            return 0;
        }
        logql__p_next(p);
        if (p->tok.kind == TK_UNWRAP && allow_unwrap) {
            return parse_unwrap(p, s);
        }
        if (parse_pipe_stage(p, s) != 0) {
            return -1;
        }
    }
}

const char **logql__parse_labels(lq_parser_t *p, size_t *n_out)
{
    const char **names = NULL;
    size_t n = 0;
    *n_out = 0;
    if (logql__p_expect(p, TK_LPAREN, "(") != 0) {
        return NULL;
    }
    if (p->tok.kind == TK_RPAREN) {
        logql__p_next(p);
        return arena_calloc(p->a, sizeof(char *));
    }
    for (;;) {
        if (p->tok.kind != TK_IDENT) {
            return logql__p_unexpected(p, n == 0 ? "IDENTIFIER or )" : "IDENTIFIER");
        }
        const char **slot = push(p->a, (void **)&names, &n, sizeof(*slot));
        if (slot == NULL) {
            return NULL;
        }
        *slot = p->tok.text;
        logql__p_next(p);
        if (p->tok.kind == TK_RPAREN) {
            logql__p_next(p);
            *n_out = n;
            return names;
        }
        if (logql__p_expect(p, TK_COMMA, ", or )") != 0) {
            return NULL;
        }
    }
}
