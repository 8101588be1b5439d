/* promql/format.c - the AST printer (Prometheus' Expr.String()), structural equality and
 * operator names. Output is one line, as /api/v1/format_query returns it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/gofloat.h"
#include "common/timeutil.h"
#include "promql/promql_int.h"

const char *promql__tok_op_text(promql__tok_kind_t k)
{
    switch (k) {
    case TOK_EQLC:
        return "==";
    case TOK_NEQ:
        return "!=";
    case TOK_LSS:
        return "<";
    case TOK_GTR:
        return ">";
    case TOK_LTE:
        return "<=";
    case TOK_GTE:
        return ">=";
    case TOK_ADD:
        return "+";
    case TOK_SUB:
        return "-";
    case TOK_MUL:
        return "*";
    case TOK_DIV:
        return "/";
    case TOK_MOD:
        return "%";
    case TOK_POW:
        return "^";
    case TOK_ATAN2:
        return "atan2";
    case TOK_AND:
        return "and";
    case TOK_OR:
        return "or";
    case TOK_UNLESS:
        return "unless";
    default:
        return "?";
    }
}

int promql__is_comparison(promql__tok_kind_t k)
{
    return k == TOK_EQLC || k == TOK_NEQ || k == TOK_LSS || k == TOK_GTR || k == TOK_LTE ||
           k == TOK_GTE;
}

int promql__is_setop(promql__tok_kind_t k)
{
    return k == TOK_AND || k == TOK_OR || k == TOK_UNLESS;
}

void promql__fmt_float(buf_t *out, double v)
{
    gofloat_append(out, v, 'f', -1);
}

static void fmt_duration(buf_t *out, int64_t ms)
{
    char d[64];
    if (ms < 0) {
        buf_putc(out, '-');
        ms = -ms;
    }
    duration_format(ms, d, sizeof(d));
    buf_puts(out, d);
}

static void fmt_duration_slot(buf_t *out, int64_t ms, const promql_expr_t *x)
{
    if (x != NULL) {
        promql__format_expr(out, x);
    } else {
        fmt_duration(out, ms);
    }
}

static void fmt_label_name(buf_t *out, const char *s)
{
    if (labels_is_valid_name(s, strlen(s))) {
        buf_puts(out, s);
    } else {
        labels_quote(out, s, strlen(s));
    }
}

static void fmt_label_list(buf_t *out, const char *const *ls, size_t n)
{
    buf_putc(out, '(');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            buf_puts(out, ", ");
        }
        fmt_label_name(out, ls[i]);
    }
    buf_putc(out, ')');
}

static void fmt_tmod(buf_t *out, const promql__tmod_t *tm)
{
    if (tm->at == AT_TIME) {
        buf_printf(out, " @ %.3f", (double)tm->at_ms / 1000.0);
    } else if (tm->at == AT_START) {
        buf_puts(out, " @ start()");
    } else if (tm->at == AT_END) {
        buf_puts(out, " @ end()");
    }
    if (tm->offset_expr != NULL) {
        buf_puts(out, " offset ");
        promql__format_expr(out, tm->offset_expr);
    } else if (tm->offset_ms != 0) {
        buf_puts(out, " offset ");
        fmt_duration(out, tm->offset_ms);
    }
}

static int strcmp_qsort(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Names that would not parse back as a bare metric name (numbers, keywords, aggregators). */
static int reserved_word(const char *name)
{
    static const char *const words[] = {
        "inf", "nan", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
        "offset", "and", "or", "unless", "atan2", "sum", "avg", "count", "min", "max", "group",
        "stddev", "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk",
        "limit_ratio"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(name, words[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void fmt_selector_body(buf_t *out, const promql_expr_t *e)
{
    const char *name = e->u.vs.name;
    char *strs[64];
    size_t n = 0;
    if (name != NULL && labels_is_valid_metric_name(name, strlen(name)) && !reserved_word(name)) {
        buf_puts(out, name);
    } else {
        name = NULL; /* printed as a __name__ matcher so that it parses back */
    }
    for (size_t i = 0; i < e->u.vs.n_ms && n < 64; i++) {
        const matcher_t *m = e->u.vs.ms[i];
        if (name != NULL && matcher_type(m) == MATCH_EQ &&
            strcmp(matcher_name(m), "__name__") == 0 && strcmp(matcher_value(m), name) == 0) {
            continue;
        }
        buf_t mb;
        buf_init(&mb);
        matcher_format(m, &mb);
        strs[n++] = mb.data != NULL ? mb.data : calloc(1, 1);
    }
    if (n > 0) {
        qsort(strs, n, sizeof(strs[0]), strcmp_qsort);
        buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            buf_puts(out, i > 0 ? "," : "");
            buf_puts(out, strs[i]);
            free(strs[i]);
        }
        buf_putc(out, '}');
    }
}

static void fmt_agg(buf_t *out, const promql_expr_t *e)
{
    buf_puts(out, promql__agg_name(e->u.agg.op));
    if (e->u.agg.without) {
        buf_puts(out, " without ");
        fmt_label_list(out, e->u.agg.grouping, e->u.agg.n_grouping);
        buf_putc(out, ' ');
    } else if (e->u.agg.n_grouping > 0) {
        buf_puts(out, " by ");
        fmt_label_list(out, e->u.agg.grouping, e->u.agg.n_grouping);
        buf_putc(out, ' ');
    }
    buf_putc(out, '(');
    if (e->u.agg.param != NULL) {
        promql__format_expr(out, e->u.agg.param);
        buf_puts(out, ", ");
    }
    promql__format_expr(out, e->u.agg.expr);
    buf_putc(out, ')');
}

static void fmt_binary(buf_t *out, const promql_expr_t *e)
{
    promql__format_expr(out, e->u.bin.lhs);
    buf_putc(out, ' ');
    buf_puts(out, promql__tok_op_text(e->u.bin.op));
    if (e->u.bin.return_bool) {
        buf_puts(out, " bool");
    }
    int grouped = e->u.bin.card == CARD_MANY_TO_ONE || e->u.bin.card == CARD_ONE_TO_MANY;
    if (e->u.bin.n_labels > 0 || e->u.bin.on || grouped) {
        buf_puts(out, e->u.bin.on ? " on " : " ignoring ");
        fmt_label_list(out, e->u.bin.labels, e->u.bin.n_labels);
    }
    if (grouped) {
        buf_puts(out, e->u.bin.card == CARD_MANY_TO_ONE ? " group_left " : " group_right ");
        fmt_label_list(out, e->u.bin.include, e->u.bin.n_include);
    }
    int same = e->u.bin.has_fill_l && e->u.bin.has_fill_r &&
               (e->u.bin.fill_l == e->u.bin.fill_r || (isnan(e->u.bin.fill_l) && isnan(e->u.bin.fill_r)));
    if (same) {
        buf_puts(out, " fill (");
        promql__fmt_float(out, e->u.bin.fill_l);
        buf_putc(out, ')');
    } else {
        if (e->u.bin.has_fill_l) {
            buf_puts(out, " fill_left (");
            promql__fmt_float(out, e->u.bin.fill_l);
            buf_putc(out, ')');
        }
        if (e->u.bin.has_fill_r) {
            buf_puts(out, " fill_right (");
            promql__fmt_float(out, e->u.bin.fill_r);
            buf_putc(out, ')');
        }
    }
    buf_putc(out, ' ');
    promql__format_expr(out, e->u.bin.rhs);
}

void promql__format_expr(buf_t *out, const promql_expr_t *e)
{
    switch (e->kind) {
    case NODE_NUMBER:
        /* "+Inf" would re-parse as a unary plus that can capture a following ^ */
        if (isinf(e->u.num) && e->u.num > 0) {
            buf_puts(out, "Inf");
        } else {
            promql__fmt_float(out, e->u.num);
        }
        break;
    case NODE_STRING:
        labels_quote(out, e->u.str, strlen(e->u.str));
        break;
    case NODE_VSEL:
        fmt_selector_body(out, e);
        fmt_tmod(out, &e->u.vs.tm);
        break;
    case NODE_MSEL:
        fmt_selector_body(out, e->u.ms.vs);
        buf_putc(out, '[');
        fmt_duration_slot(out, e->u.ms.range_ms, e->u.ms.range_expr);
        buf_putc(out, ']');
        fmt_tmod(out, &e->u.ms.vs->u.vs.tm);
        break;
    case NODE_SUBQUERY:
        promql__format_expr(out, e->u.sq.expr);
        buf_putc(out, '[');
        fmt_duration_slot(out, e->u.sq.range_ms, e->u.sq.range_expr);
        buf_putc(out, ':');
        if (e->u.sq.step_ms != 0 || e->u.sq.step_expr != NULL) {
            fmt_duration_slot(out, e->u.sq.step_ms, e->u.sq.step_expr);
        }
        buf_putc(out, ']');
        fmt_tmod(out, &e->u.sq.tm);
        break;
    case NODE_CALL:
        buf_puts(out, e->u.call.fn->name);
        buf_putc(out, '(');
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            buf_puts(out, i > 0 ? ", " : "");
            promql__format_expr(out, e->u.call.args[i]);
        }
        buf_putc(out, ')');
        break;
    case NODE_AGG:
        fmt_agg(out, e);
        break;
    case NODE_BINARY:
        fmt_binary(out, e);
        break;
    case NODE_UNARY:
        buf_puts(out, promql__tok_op_text(e->u.un.op));
        promql__format_expr(out, e->u.un.expr);
        break;
    case NODE_PAREN:
        buf_putc(out, '(');
        promql__format_expr(out, e->u.inner);
        buf_putc(out, ')');
        break;
    case NODE_STEP_INVARIANT:
        promql__format_expr(out, e->u.inner);
        break;
    }
}

const char *promql_format(arena_t *a, const promql_expr_t *e)
{
    buf_t b;
    buf_init(&b);
    promql__format_expr(&b, e);
    char *s = arena_strdup(a, b.data != NULL ? b.data : "");
    buf_fini(&b);
    return s;
}

static int strs_equal(const char *const *x, size_t nx, const char *const *y, size_t ny)
{
    if (nx != ny) {
        return 0;
    }
    for (size_t i = 0; i < nx; i++) {
        if (strcmp(x[i], y[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static int tmod_equal(const promql__tmod_t *x, const promql__tmod_t *y)
{
    return x->offset_ms == y->offset_ms && x->at == y->at && x->at_ms == y->at_ms &&
           promql_equal(x->offset_expr, y->offset_expr);
}

static int sel_equal(const promql_expr_t *x, const promql_expr_t *y)
{
    if (x->u.vs.n_ms != y->u.vs.n_ms || !tmod_equal(&x->u.vs.tm, &y->u.vs.tm)) {
        return 0;
    }
    /* the printer sorts matchers, so compare them as sets */
    for (size_t i = 0; i < x->u.vs.n_ms; i++) {
        const matcher_t *a = x->u.vs.ms[i];
        int found = 0;
        for (size_t j = 0; j < y->u.vs.n_ms && !found; j++) {
            const matcher_t *b = y->u.vs.ms[j];
            found = matcher_type(a) == matcher_type(b) &&
                    strcmp(matcher_name(a), matcher_name(b)) == 0 &&
                    strcmp(matcher_value(a), matcher_value(b)) == 0;
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

static int num_equal(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int bin_equal(const promql_expr_t *x, const promql_expr_t *y)
{
    return x->u.bin.has_fill_l == y->u.bin.has_fill_l &&
           x->u.bin.has_fill_r == y->u.bin.has_fill_r &&
           (!x->u.bin.has_fill_l || num_equal(x->u.bin.fill_l, y->u.bin.fill_l)) &&
           (!x->u.bin.has_fill_r || num_equal(x->u.bin.fill_r, y->u.bin.fill_r)) &&
           x->u.bin.op == y->u.bin.op && x->u.bin.return_bool == y->u.bin.return_bool &&
           x->u.bin.on == y->u.bin.on && x->u.bin.card == y->u.bin.card &&
           strs_equal(x->u.bin.labels, x->u.bin.n_labels, y->u.bin.labels, y->u.bin.n_labels) &&
           strs_equal(x->u.bin.include, x->u.bin.n_include, y->u.bin.include,
                      y->u.bin.n_include) &&
           promql_equal(x->u.bin.lhs, y->u.bin.lhs) && promql_equal(x->u.bin.rhs, y->u.bin.rhs);
}

int promql_equal(const promql_expr_t *x, const promql_expr_t *y)
{
    if (x == NULL || y == NULL || x->kind != y->kind) {
        return x == y;
    }
    switch (x->kind) {
    case NODE_NUMBER:
        return num_equal(x->u.num, y->u.num);
    case NODE_STRING:
        return strcmp(x->u.str, y->u.str) == 0;
    case NODE_VSEL:
        return sel_equal(x, y);
    case NODE_MSEL:
        return x->u.ms.range_ms == y->u.ms.range_ms &&
               promql_equal(x->u.ms.range_expr, y->u.ms.range_expr) &&
               sel_equal(x->u.ms.vs, y->u.ms.vs);
    case NODE_SUBQUERY:
        return x->u.sq.range_ms == y->u.sq.range_ms && x->u.sq.step_ms == y->u.sq.step_ms &&
               promql_equal(x->u.sq.range_expr, y->u.sq.range_expr) &&
               promql_equal(x->u.sq.step_expr, y->u.sq.step_expr) &&
               tmod_equal(&x->u.sq.tm, &y->u.sq.tm) && promql_equal(x->u.sq.expr, y->u.sq.expr);
    case NODE_CALL:
        if (x->u.call.fn != y->u.call.fn || x->u.call.n_args != y->u.call.n_args) {
            return 0;
        }
        for (size_t i = 0; i < x->u.call.n_args; i++) {
            if (!promql_equal(x->u.call.args[i], y->u.call.args[i])) {
                return 0;
            }
        }
        return 1;
    case NODE_AGG:
        return x->u.agg.op == y->u.agg.op && x->u.agg.without == y->u.agg.without &&
               strs_equal(x->u.agg.grouping, x->u.agg.n_grouping, y->u.agg.grouping,
                          y->u.agg.n_grouping) &&
               promql_equal(x->u.agg.param, y->u.agg.param) &&
               promql_equal(x->u.agg.expr, y->u.agg.expr);
    case NODE_BINARY:
        return bin_equal(x, y);
    case NODE_UNARY:
        return x->u.un.op == y->u.un.op && promql_equal(x->u.un.expr, y->u.un.expr);
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        return promql_equal(x->u.inner, y->u.inner);
    }
    return 0;
}

static int time_dependent(const promql_expr_t *e)
{
    static const char *const unsafe[] = {
        "time", "timestamp", "start", "end", "range", "step", "predict_linear", "minute", "hour",
        "day_of_week", "day_of_month", "day_of_year", "days_in_month", "month", "year"};
    int found = 0;
    switch (e->kind) {
    case NODE_CALL:
        for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
            found |= strcmp(e->u.call.fn->name, unsafe[i]) == 0;
        }
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            found |= time_dependent(e->u.call.args[i]);
        }
        return found;
    case NODE_AGG:
        return (e->u.agg.param != NULL && time_dependent(e->u.agg.param)) ||
               time_dependent(e->u.agg.expr);
    case NODE_BINARY:
        return time_dependent(e->u.bin.lhs) || time_dependent(e->u.bin.rhs);
    case NODE_UNARY:
        return time_dependent(e->u.un.expr);
    case NODE_SUBQUERY:
        return time_dependent(e->u.sq.expr);
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        return time_dependent(e->u.inner);
    default:
        return 0;
    }
}

static void pin(promql_expr_t *e, int64_t ms)
{
    promql__tmod_t *tm = NULL;
    switch (e->kind) {
    case NODE_VSEL:
        tm = &e->u.vs.tm;
        break;
    case NODE_MSEL:
        tm = &e->u.ms.vs->u.vs.tm;
        break;
    case NODE_SUBQUERY:
        /* the subquery gets the @; what runs inside it keeps its own times */
        tm = &e->u.sq.tm;
        break;
    case NODE_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            pin(e->u.call.args[i], ms);
        }
        return;
    case NODE_AGG:
        if (e->u.agg.param != NULL) {
            pin(e->u.agg.param, ms);
        }
        pin(e->u.agg.expr, ms);
        return;
    case NODE_BINARY:
        pin(e->u.bin.lhs, ms);
        pin(e->u.bin.rhs, ms);
        return;
    case NODE_UNARY:
        pin(e->u.un.expr, ms);
        return;
    case NODE_PAREN:
    case NODE_STEP_INVARIANT:
        pin(e->u.inner, ms);
        return;
    default:
        return;
    }
    if (tm->at == AT_NONE) {
        tm->at = AT_TIME;
        tm->at_ms = ms;
    }
}

int promql_pin_time(promql_expr_t *e, int64_t ms)
{
    if (time_dependent(e)) {
        return -1;
    }
    pin(e, ms);
    return 0;
}
