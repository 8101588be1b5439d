/* promql/promql_int.h - internals shared by the promql/ files only: tokens, AST, engine
 * values and the function table. Everything lives in the query's arena. */
#ifndef HERALD_PROMQL_PROMQL_INT_H
#define HERALD_PROMQL_PROMQL_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/matchers.h"
#include "promql/promql.h"

/* ---- tokens ---------------------------------------------------------------------------- */
typedef enum {
    TOK_EOF,
    TOK_ERROR,
    TOK_IDENT,
    TOK_NUMBER,
    TOK_DURATION,
    TOK_STRING,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_COMMA,
    TOK_COLON,
    TOK_AT,
    TOK_ASSIGN, /* = */
    TOK_EQLC,   /* == */
    TOK_NEQ,
    TOK_EQL_REGEX,
    TOK_NEQ_REGEX,
    TOK_LSS,
    TOK_GTR,
    TOK_LTE,
    TOK_GTE,
    TOK_ADD,
    TOK_SUB,
    TOK_MUL,
    TOK_DIV,
    TOK_MOD,
    TOK_POW,
    /* keyword operators (lexed as identifiers, classified by the parser) */
    TOK_ATAN2,
    TOK_AND,
    TOK_OR,
    TOK_UNLESS,
} promql__tok_kind_t;

typedef struct {
    promql__tok_kind_t kind;
    int pos; /* byte offset */
    int len;
    const char *text; /* points into the query */
} promql__tok_t;

typedef struct {
    const char *q;
    int pos;
    const char *errmsg; /* lexer error text, set with TOK_ERROR */
    int brackets;       /* inside [...] a ':' separates range and step */
} promql__lexer_t;

void promql__lex_init(promql__lexer_t *lx, const char *q);
promql__tok_t promql__lex_next(promql__lexer_t *lx);
/* Go-style unquoting of a "..." '...' or `...` literal; NULL + *msg on a bad escape. */
char *promql__unquote(arena_t *a, const char *s, size_t n, const char **msg);
void promql__pos_linecol(const char *q, int pos, int *line, int *col);

/* ---- AST ------------------------------------------------------------------------------- */
typedef enum {
    NODE_NUMBER,
    NODE_STRING,
    NODE_VSEL,
    NODE_MSEL,
    NODE_SUBQUERY,
    NODE_CALL,
    NODE_AGG,
    NODE_BINARY,
    NODE_UNARY,
    NODE_PAREN,
    NODE_STEP_INVARIANT, /* engine-inserted wrapper; never printed */
} promql__node_kind_t;

typedef enum { AT_NONE, AT_TIME, AT_START, AT_END } promql__at_kind_t;

typedef enum {
    AGG_SUM,
    AGG_AVG,
    AGG_COUNT,
    AGG_MIN,
    AGG_MAX,
    AGG_GROUP,
    AGG_STDDEV,
    AGG_STDVAR,
    AGG_TOPK,
    AGG_BOTTOMK,
    AGG_COUNT_VALUES,
    AGG_QUANTILE,
    AGG_LIMITK,
    AGG_LIMIT_RATIO,
} promql__agg_op_t;

typedef enum { CARD_ONE_TO_ONE, CARD_MANY_TO_ONE, CARD_ONE_TO_MANY, CARD_MANY_TO_MANY } promql__card_t;

typedef struct promql__func promql__func_t;
typedef struct promql__sel_cache promql__sel_cache_t;

/* Time modifiers of selectors and subqueries. */
typedef struct {
    int64_t offset_ms;
    int64_t at_ms;
    promql__at_kind_t at;
    promql_expr_t *offset_expr; /* duration expression using step()/range(), or NULL */
} promql__tmod_t;

struct promql_expr {
    promql__node_kind_t kind;
    int pos, end; /* byte range in the query */
    const char *src; /* the query text, for annotation positions */
    /* Engine: this node's output buffer, reused at every step (a node's output is consumed
     * by its parent before the node runs again). Reset when an evaluation starts. */
    void *ev_buf;
    size_t ev_buf_size;
    promql_type_t type;
    union {
        double num;
        const char *str;
        struct {
            const char *name; /* metric name from `name{...}`, or NULL */
            matcher_t **ms;
            size_t n_ms;
            promql__tmod_t tm;
            promql__sel_cache_t *cache; /* engine: loaded series */
        } vs;
        struct {
            promql_expr_t *vs; /* NODE_VSEL */
            int64_t range_ms;
            promql_expr_t *range_expr;
        } ms;
        struct {
            promql_expr_t *expr;
            int64_t range_ms, step_ms; /* step 0: default */
            promql__tmod_t tm;
            promql_expr_t *range_expr, *step_expr; /* duration expressions (or NULL) */
        } sq;
        struct {
            const promql__func_t *fn;
            promql_expr_t **args;
            size_t n_args;
        } call;
        struct {
            promql__agg_op_t op;
            promql_expr_t *expr;
            promql_expr_t *param;
            const char **grouping;
            size_t n_grouping;
            int without;
            int has_grouping; /* `by ()` printed even when empty */
        } agg;
        struct {
            promql__tok_kind_t op;
            promql_expr_t *lhs, *rhs;
            int return_bool;
            int has_matching; /* on/ignoring given */
            int on;
            const char **labels;
            size_t n_labels;
            promql__card_t card;
            const char **include;
            size_t n_include;
            /* experimental fill modifiers: values for a missing left/right operand */
            int has_fill_l, has_fill_r;
            double fill_l, fill_r;
        } bin;
        struct {
            promql__tok_kind_t op;
            promql_expr_t *expr;
        } un;
        promql_expr_t *inner; /* PAREN, STEP_INVARIANT */
    } u;
};

const char *promql__agg_name(promql__agg_op_t op);
const char *promql__tok_op_text(promql__tok_kind_t k);
int promql__is_comparison(promql__tok_kind_t k);
int promql__is_setop(promql__tok_kind_t k);
void promql__format_expr(buf_t *out, const promql_expr_t *e);
/* Go strconv.FormatFloat(v, 'f', -1, 64) by common/gofloat.c; NaN, +Inf, -Inf. */
void promql__fmt_float(buf_t *out, double v);

/* Open-addressing map from 64-bit keys to indexes, arena-backed (grouping, matching). */
typedef struct {
    uint64_t *keys;
    size_t *vals; /* index + 1; 0 = empty slot */
    size_t n, n_slots;
} promql__u64map_t;
/* Index stored for key, or -1. */
long promql__u64map_get(const promql__u64map_t *m, uint64_t key);
/* Stores key -> val unless present; returns the index now stored, -1 on OOM. */
long promql__u64map_put(arena_t *a, promql__u64map_t *m, uint64_t key, size_t val);
/* Signature of `ls` for vector matching / grouping: only `names` (on=1) or all but `names`
 * and __name__ (on=0). */
uint64_t promql__signature(const labels_t *ls, const char *const *names, size_t n, int on);

/* ---- engine values --------------------------------------------------------------------- */
typedef struct {
    const labels_t *ls;
    double f;
    int64_t t; /* sample time (vector selectors) or evaluation time */
    uint8_t drop_name;
    /* Stable id of the label set ls for this query (0: none): selector series and label sets
     * derived from them once per query get one, so per-step work on labels (name removal,
     * signatures) is memoized by plain array lookups. */
    uint32_t sid;
} promql__elem_t;

typedef struct {
    promql__elem_t *e;
    size_t n;
} promql__vec_t;

typedef struct {
    const labels_t *ls;
    const sample_t *pts;
    size_t n;
    uint8_t drop_name;
    uint32_t sid; /* as promql__elem_t.sid */
} promql__ser_t;

typedef struct {
    promql__ser_t *s;
    size_t n;
    int64_t rstart, rend, range_ms; /* window (rstart, rend] the matrix was read from */
} promql__mat_t;

typedef struct {
    promql_type_t type;
    double scalar;
    const char *str;
    promql__vec_t vec;
    promql__mat_t mat;
} promql__val_t;

typedef struct promql__annot {
    const char *text;
    int is_warning;
    struct promql__annot *next;
} promql__annot_t;

/* One evaluation: shared by the whole instant or range query. */
typedef struct {
    arena_t *a;    /* current arena: per-step scratch during range queries */
    arena_t *perm; /* the query arena: selector data, results, annotations */
    arena_t *scratch;
    labels_builder_t *perm_lb;
    err_t *err;
    queryable_t *qb;
    querier_t *qr;
    int64_t start, end, interval; /* query range (ms) */
    int64_t lookback;
    int64_t sq_step;
    int delayed_names; /* 0: operators drop __name__ at once */
    int range_depth;   /* nesting of range evaluations (subqueries) */
    size_t max_samples, cur_samples, total_samples;
    int64_t deadline_mono; /* ms */
    unsigned tick;
    promql__annot_t *annots;
    labels_builder_t *lb;
    promql_expr_t *cur_node; /* node whose output is being built */
    /* Memo tables of values derived from stable label sets, one per AST node (signatures,
     * counter checks), so range queries do not recompute them at every step. */
    uint32_t n_sids;
    promql__u64map_t memo_idx; /* node pointer -> index in memos */
    struct promql__memo *memos;
    size_t n_memos, cap_memos;
    const labels_t **drop_ls; /* by sid: labels without __name__, and their sid */
    uint32_t *drop_sid;
    size_t drop_cap;
} promql__ev_t;

typedef struct promql__memo {
    uint64_t *vals;
    uint8_t *have;
    size_t cap;
} promql__memo_t;

/* An evaluation frame: the time at which an instant expression is computed. */
void promql__annotate(promql__ev_t *ev, int is_warning, const promql_expr_t *at, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
int promql__eval(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out);
/* The memo table of `node` (created empty); NULL on OOM (callers then just compute). */
promql__memo_t *promql__memo_for(promql__ev_t *ev, const void *node);
int promql__memo_get(const promql__memo_t *m, uint32_t sid, uint64_t *val); /* 1 if known */
void promql__memo_put(promql__ev_t *ev, promql__memo_t *m, uint32_t sid, uint64_t val);
uint32_t promql__new_sids(promql__ev_t *ev, uint32_t n); /* first of n fresh ids */
/* Removes __name__ (and __type__/__unit__) from el's labels, memoized by sid. */
void promql__drop_name_el(promql__ev_t *ev, promql__elem_t *el);
/* Matrix value of a range-vector argument at ts (matrix selector or subquery). */
int promql__eval_range_arg(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__mat_t *out);
/* Vector results by operator family. */
int promql__eval_binary(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out);
int promql__eval_agg(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out);
int promql__eval_call(promql__ev_t *ev, promql_expr_t *e, int64_t ts, promql__val_t *out);
double promql__binop_scalar(promql__tok_kind_t op, double l, double r, int *keep);
int promql__check_samples(promql__ev_t *ev, size_t add);
const labels_t *promql__drop_name(promql__ev_t *ev, const labels_t *ls);
int promql__vec_push(promql__ev_t *ev, promql__vec_t *v, size_t *cap, promql__elem_t el);
/* Makes room for n elements in an empty vector (outputs sized from their input). */
int promql__vec_reserve(promql__ev_t *ev, promql__vec_t *v, size_t *cap, size_t n);
/* At least `bytes` of the current node's reusable output buffer (query arena). */
void *promql__node_buf(promql__ev_t *ev, size_t bytes);
int promql__labels_cmp_qsort(const void *x, const void *y);
double promql__quantile(double q, double *vals, size_t n); /* sorts vals */
int promql__is_stale(double v);

/* ---- functions ------------------------------------------------------------------------- */
typedef int (*promql__fn_impl_t)(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                                 int64_t ts, promql__val_t *out);
struct promql__func {
    const char *name;
    promql_type_t arg_types[6];
    int n_args;     /* required */
    int variadic;   /* extra optional args: -1 unlimited, else max extra */
    promql_type_t ret;
    int experimental;
    promql__fn_impl_t impl;
    int kind; /* selects the variant inside a shared implementation */
};
const promql__func_t *promql__func_lookup(const char *name, size_t n);
/* Implementations shared by the function table (functions.c, fn_range.c). */
int promql__fn_rate(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                    promql__val_t *out);
int promql__fn_over_time(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out);
int promql__fn_regression(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args,
                          int64_t ts, promql__val_t *out);
int promql__fn_counts(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                      promql__val_t *out);
int promql__fn_smoothing(promql__ev_t *ev, promql_expr_t *call, promql__val_t *args, int64_t ts,
                         promql__val_t *out);
void promql__kahan_inc(double inc, double *sum, double *c);
enum { /* kinds of promql__fn_rate / over_time / counts */
    FK_RATE, FK_INCREASE, FK_DELTA, FK_IRATE, FK_IDELTA,
    FK_AVG, FK_SUM, FK_COUNT, FK_MIN, FK_MAX, FK_LAST, FK_FIRST, FK_PRESENT, FK_STDDEV,
    FK_STDVAR, FK_QUANTILE, FK_MAD, FK_TS_MIN, FK_TS_MAX, FK_TS_LAST, FK_TS_FIRST,
    FK_DERIV, FK_PREDICT, FK_CHANGES, FK_RESETS,
};

#endif
