/* logql/format.c - the LogQL printer: the canonical text Loki's Expr.String() gives (used
 * by /loki/api/v1/format_query and rule listings), byte for byte, including its quirks
 * (binary operators fully parenthesised, `vector(1.000000)`, label filters without spaces,
 * `( a , b )` for joined label filters, line filters re-quoted with Go's strconv.Quote). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/gofloat.h"
#include "common/labels.h"
#include "common/timeutil.h"
#include "logql/logql_int.h"

const char *logql__range_op_name(logql_range_op_t op)
{
    static const char *names[] = {
        [LOGQL_COUNT_OVER_TIME] = "count_over_time",
        [LOGQL_RATE] = "rate",
        [LOGQL_BYTES_OVER_TIME] = "bytes_over_time",
        [LOGQL_BYTES_RATE] = "bytes_rate",
        [LOGQL_ABSENT_OVER_TIME] = "absent_over_time",
        [LOGQL_RATE_COUNTER] = "rate_counter",
        [LOGQL_SUM_OVER_TIME] = "sum_over_time",
        [LOGQL_AVG_OVER_TIME] = "avg_over_time",
        [LOGQL_MIN_OVER_TIME] = "min_over_time",
        [LOGQL_MAX_OVER_TIME] = "max_over_time",
        [LOGQL_STDDEV_OVER_TIME] = "stddev_over_time",
        [LOGQL_STDVAR_OVER_TIME] = "stdvar_over_time",
        [LOGQL_QUANTILE_OVER_TIME] = "quantile_over_time",
        [LOGQL_FIRST_OVER_TIME] = "first_over_time",
        [LOGQL_LAST_OVER_TIME] = "last_over_time",
    };
    return names[op];
}

const char *logql__vec_op_name(lq_vec_op_t op)
{
    static const char *names[] = {
        [VEC_SUM] = "sum",
        [VEC_AVG] = "avg",
        [VEC_COUNT] = "count",
        [VEC_MAX] = "max",
        [VEC_MIN] = "min",
        [VEC_STDDEV] = "stddev",
        [VEC_STDVAR] = "stdvar",
        [VEC_BOTTOMK] = "bottomk",
        [VEC_TOPK] = "topk",
        [VEC_SORT] = "sort",
        [VEC_SORT_DESC] = "sort_desc",
        [VEC_APPROX_TOPK] = "approx_topk",
    };
    return names[op];
}

const char *logql__bin_op_name(lq_bin_op_t op)
{
    static const char *names[] = {
        [BIN_OR] = "or",  [BIN_AND] = "and", [BIN_UNLESS] = "unless", [BIN_ADD] = "+",
        [BIN_SUB] = "-",  [BIN_MUL] = "*",   [BIN_DIV] = "/",         [BIN_MOD] = "%",
        [BIN_POW] = "^",  [BIN_EQ] = "==",   [BIN_NEQ] = "!=",        [BIN_GT] = ">",
        [BIN_GTE] = ">=", [BIN_LT] = "<",    [BIN_LTE] = "<=",
    };
    return names[op];
}

const char *logql__line_op_name(lq_line_op_t op)
{
    static const char *names[] = {
        [LQ_LINE_EQ] = "|=",  [LQ_LINE_NEQ] = "!=",     [LQ_LINE_RE] = "|~",
        [LQ_LINE_NRE] = "!~", [LQ_LINE_PATTERN] = "|>", [LQ_LINE_NPATTERN] = "!>",
    };
    return names[op];
}

const char *logql__cmp_name(lq_cmp_t c)
{
    static const char *names[] = {
        [CMP_EQ] = "==",  [CMP_NEQ] = "!=", [CMP_GT] = ">",
        [CMP_GTE] = ">=", [CMP_LT] = "<",   [CMP_LTE] = "<=",
    };
    return names[c];
}

const char *logql__conv_name(lq_conv_t c)
{
    static const char *names[] = {
        [LQ_CONV_NONE] = "",
        [LQ_CONV_BYTES] = "bytes",
        [LQ_CONV_DURATION] = "duration",
        [LQ_CONV_DURATION_SECONDS] = "duration_seconds",
    };
    return names[c];
}

void logql__quote(buf_t *b, const char *s, size_t n)
{
    labels_quote(b, s, n);
}

/* humanize.Bytes: SI units, one decimal below 10 of a unit. */
void logql__format_bytes(buf_t *b, uint64_t v)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    if (v < 10) {
        buf_printf(b, "%lluB", (unsigned long long)v);
        return;
    }
    int e = (int)floor(log((double)v) / log(1000.0));
    double val = floor((double)v / pow(1000.0, e) * 10 + 0.5) / 10;
    buf_printf(b, val < 10 ? "%.1f%s" : "%.0f%s", val, units[e]);
}

static void put_go_duration(buf_t *b, int64_t ns)
{
    char tmp[64];
    go_duration_format(ns, tmp, sizeof(tmp));
    buf_puts(b, tmp);
}

/* Loki prints an =~ label filter whose regex it cannot reduce to literal checks with
 * backquotes. Reducible: alternations of literals, optionally between `.*`, under (?i). */
static int regex_is_simple(const char *re)
{
    if (strncmp(re, "(?i)", 4) == 0) {
        re += 4;
    }
    if (strcmp(re, ".*") == 0 || strcmp(re, ".+") == 0) {
        return 1;
    }
    for (const char *t = re;;) {
        if (strncmp(t, ".*", 2) == 0) {
            t += 2;
        }
        while (*t != '\0' && *t != '|' && strchr("\\.+*?()[]{}^$", *t) == NULL) {
            t++;
        }
        if (strncmp(t, ".*", 2) == 0) {
            t += 2;
        }
        if (*t == '\0') {
            return 1;
        }
        if (*t != '|') {
            return 0;
        }
        t++;
    }
}

static void format_lf_matcher(buf_t *b, const lq_lf_t *lf)
{
    const char *v = matcher_value(lf->m);
    if (matcher_type(lf->m) != MATCH_RE || regex_is_simple(v)) {
        matcher_format(lf->m, b);
        return;
    }
    buf_puts(b, lf->name);
    buf_puts(b, "=~");
    if (strchr(v, '`') != NULL) {
        logql__quote(b, v, strlen(v));
    } else {
        buf_printf(b, "`%s`", v);
    }
}

void logql__format_lf(buf_t *b, const lq_lf_t *lf)
{
    switch (lf->kind) {
    case LF_MATCHER: format_lf_matcher(b, lf); return;
    case LF_NUMERIC:
        buf_printf(b, "%s%s", lf->name, logql__cmp_name(lf->cmp));
        gofloat_append(b, lf->num, 'f', -1);
        return;
    case LF_DURATION:
        buf_printf(b, "%s%s", lf->name, logql__cmp_name(lf->cmp));
        put_go_duration(b, lf->dur_ns);
        return;
    case LF_BYTES:
        buf_printf(b, "%s%s", lf->name, logql__cmp_name(lf->cmp));
        logql__format_bytes(b, lf->bytes);
        return;
    case LF_IP:
        buf_printf(b, "%s%sip(", lf->name, lf->cmp == CMP_NEQ ? "!=" : "=");
        logql__quote(b, lf->ip, strlen(lf->ip));
        buf_putc(b, ')');
        return;
    case LF_AND:
    case LF_OR:
        buf_puts(b, "( ");
        logql__format_lf(b, lf->l);
        buf_puts(b, lf->kind == LF_AND ? " , " : " or ");
        logql__format_lf(b, lf->r);
        buf_puts(b, " )");
        return;
    }
}

static void format_line_filter(buf_t *b, const lq_stage_t *st)
{
    buf_puts(b, logql__line_op_name(st->op));
    buf_putc(b, ' ');
    for (size_t i = 0; i < st->n_args; i++) {
        if (i > 0) {
            buf_puts(b, " or ");
        }
        if (st->args[i].is_ip) {
            buf_puts(b, "ip(");
        }
        logql__quote(b, st->args[i].match, st->args[i].len);
        if (st->args[i].is_ip) {
            buf_putc(b, ')');
        }
    }
}

static void format_items(buf_t *b, const lq_stage_t *st)
{
    for (size_t i = 0; i < st->n_items; i++) {
        const lq_named_t *it = &st->items[i];
        if (i > 0) {
            buf_putc(b, ',');
        }
        if (st->kind == ST_DROP || st->kind == ST_KEEP) {
            if (it->m != NULL) {
                matcher_format(it->m, b);
            } else {
                buf_puts(b, it->name);
            }
            continue;
        }
        buf_printf(b, "%s=", it->name);
        if (it->rename) {
            buf_puts(b, it->value);
        } else {
            logql__quote(b, it->value, strlen(it->value));
        }
    }
}

static void format_logfmt(buf_t *b, const lq_stage_t *st)
{
    buf_puts(b, "| logfmt");
    if (st->n_items == 0) {
        buf_puts(b, st->strict ? " --strict" : "");
        buf_puts(b, st->keep_empty ? " --keep-empty" : "");
        return;
    }
    buf_putc(b, ' ');
    buf_puts(b, st->strict ? "--strict " : "");
    buf_puts(b, st->keep_empty ? "--keep-empty " : "");
    format_items(b, st);
}

static void format_stage(buf_t *b, const lq_stage_t *st)
{
    static const char *words[] = {
        [ST_JSON] = "json",
        [ST_REGEXP] = "regexp",
        [ST_PATTERN] = "pattern",
        [ST_UNPACK] = "unpack",
        [ST_LINE_FMT] = "line_format",
        [ST_LABEL_FMT] = "label_format",
        [ST_DROP] = "drop",
        [ST_KEEP] = "keep",
        [ST_DECOLORIZE] = "decolorize",
    };
    switch (st->kind) {
    case ST_LINE_FILTER: format_line_filter(b, st); return;
    case ST_LOGFMT: format_logfmt(b, st); return;
    case ST_LABEL_FILTER:
        buf_puts(b, "| ");
        logql__format_lf(b, st->lf);
        return;
    case ST_REGEXP:
    case ST_PATTERN:
    case ST_LINE_FMT:
        buf_printf(b, "| %s ", words[st->kind]);
        logql__quote(b, st->text, strlen(st->text));
        return;
    case ST_JSON:
    case ST_LABEL_FMT:
    case ST_DROP:
    case ST_KEEP:
        buf_printf(b, "| %s", words[st->kind]);
        if (st->n_items > 0 || st->kind != ST_JSON) {
            buf_putc(b, ' ');
            format_items(b, st);
        }
        return;
    default: buf_printf(b, "| %s", words[st->kind]); return;
    }
}

void logql__format_sel(buf_t *b, const lq_sel_t *s)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < s->n_matchers; i++) {
        if (i > 0) {
            buf_puts(b, ", ");
        }
        matcher_format(s->matchers[i], b);
    }
    buf_putc(b, '}');
    for (size_t i = 0; i < s->n_stages; i++) {
        buf_putc(b, ' ');
        format_stage(b, &s->stages[i]);
    }
    const lq_unwrap_t *u = s->unwrap;
    if (u == NULL) {
        return;
    }
    if (u->conv != LQ_CONV_NONE) {
        buf_printf(b, " | unwrap %s(%s)", logql__conv_name(u->conv), u->name);
    } else {
        buf_printf(b, " | unwrap %s", u->name);
    }
    for (size_t i = 0; i < u->n_post; i++) {
        buf_puts(b, " | ");
        logql__format_lf(b, u->post[i]);
    }
}

static void format_labels(buf_t *b, const char *const *names, size_t n)
{
    buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            buf_putc(b, ',');
        }
        buf_puts(b, names[i]);
    }
    buf_putc(b, ')');
}

static void format_grouping(buf_t *b, const lq_grouping_t *g)
{
    buf_puts(b, g->without ? " without " : " by ");
    format_labels(b, g->labels, g->n_labels);
}

static void format_range(buf_t *b, const logql_expr_t *e)
{
    char d[64];
    buf_printf(b, "%s(", logql__range_op_name(e->rop));
    if (e->has_param) {
        gofloat_append(b, e->param, 'f', -1);
        buf_putc(b, ',');
    }
    logql__format_sel(b, e->sel);
    duration_format(e->range_ns / 1000000, d, sizeof(d));
    buf_printf(b, "[%s]", d);
    if (e->offset_ns != 0) {
        buf_puts(b, " offset ");
        put_go_duration(b, e->offset_ns);
    }
    buf_putc(b, ')');
    if (e->grouping.present) {
        format_grouping(b, &e->grouping);
    }
}

static void format_vecagg(buf_t *b, const logql_expr_t *e)
{
    buf_puts(b, logql__vec_op_name(e->vop));
    if (e->grouping.present && (e->grouping.without || e->grouping.n_labels > 0)) {
        format_grouping(b, &e->grouping);
    }
    buf_putc(b, '(');
    if (e->vop == VEC_TOPK || e->vop == VEC_BOTTOMK || e->vop == VEC_APPROX_TOPK) {
        buf_printf(b, "%ld,", e->k);
    }
    logql__format_expr(b, e->lhs);
    buf_putc(b, ')');
}

static void format_binop(buf_t *b, const logql_expr_t *e)
{
    buf_putc(b, '(');
    logql__format_expr(b, e->lhs);
    buf_printf(b, " %s", logql__bin_op_name(e->bop));
    if (e->ret_bool) {
        buf_puts(b, " bool");
    }
    if (e->on || e->has_match_labels) {
        buf_puts(b, e->on ? " on " : " ignoring ");
        format_labels(b, e->match_labels, e->n_match_labels);
        buf_putc(b, ' ');
        buf_puts(b, e->card == 1 ? "group_left" : e->card == 2 ? "group_right" : "");
        if (e->has_include) {
            buf_putc(b, ' ');
            format_labels(b, e->include, e->n_include);
        }
    }
    buf_putc(b, ' ');
    logql__format_expr(b, e->rhs);
    buf_putc(b, ')');
}

static void format_label_replace(buf_t *b, const logql_expr_t *e)
{
    const char *args[] = {e->dst, e->repl, e->src, e->regex};
    buf_puts(b, "label_replace(");
    logql__format_expr(b, e->lhs);
    for (size_t i = 0; i < 4; i++) {
        buf_putc(b, ',');
        logql__quote(b, args[i], strlen(args[i]));
    }
    buf_putc(b, ')');
}

void logql__format_expr(buf_t *b, const logql_expr_t *e)
{
    switch (e->kind) {
    case LQ_LOG: logql__format_sel(b, e->sel); return;
    case LQ_RANGE: format_range(b, e); return;
    case LQ_VECAGG: format_vecagg(b, e); return;
    case LQ_BINOP: format_binop(b, e); return;
    case LQ_LITERAL: gofloat_append(b, e->value, 'g', -1); return;
    case LQ_VECTOR:
        buf_puts(b, "vector(");
        gofloat_append(b, e->value, 'f', 6);
        buf_putc(b, ')');
        return;
    case LQ_LABEL_REPLACE: format_label_replace(b, e); return;
    }
}

const char *logql_format(arena_t *a, const logql_expr_t *e)
{
    buf_t b;
    buf_init(&b);
    logql__format_expr(&b, e);
    char *s = arena_strndup(a, b.data != NULL ? b.data : "", b.len);
    buf_fini(&b);
    return s;
}
