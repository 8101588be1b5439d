/* logql/logql_int.h - internals shared by the LogQL parser, printer, planner and pipeline
 * files (logql/lex.c, parse*.c, format.c, plan.c, pipeline*.c): tokens, the AST and the
 * compiled pipeline stages. Only logql/ includes it.
 *
 * Ownership: every node lives in the arena given to logql_parse. A parsed tree and its
 * compiled pipelines are immutable afterwards (logql_set_matcher is the one exception: it
 * edits selectors before the tree is shared). */
#ifndef HERALD_LOGQL_LOGQL_INT_H
#define HERALD_LOGQL_LOGQL_INT_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/matchers.h"
#include "common/template.h"
#include "logql/logql.h"

/* ---- tokens ---------------------------------------------------------------------------- */

typedef enum {
    TK_EOF,
    TK_IDENT,
    TK_STRAY, /* any other character (or a Go char literal): an IDENTIFIER that names nothing */
    TK_STRING,
    TK_NUMBER,
    TK_DURATION,
    TK_BYTES,
    TK_RANGE,
    TK_FLAG,
    /* punctuation and operators */
    TK_LBRACE,
    TK_RBRACE,
    TK_LPAREN,
    TK_RPAREN,
    TK_RBRACKET,
    TK_COMMA,
    TK_DOT,
    TK_EQ,
    TK_NEQ,
    TK_RE,
    TK_NRE,
    TK_PIPE_EXACT,
    TK_PIPE_MATCH,
    TK_PIPE_PATTERN,
    TK_NPA,
    TK_PIPE,
    TK_CMP_EQ,
    TK_GT,
    TK_GTE,
    TK_LT,
    TK_LTE,
    TK_ADD,
    TK_SUB,
    TK_MUL,
    TK_DIV,
    TK_MOD,
    TK_POW,
    /* keywords (always reserved, case-insensitive) */
    TK_OR,
    TK_AND,
    TK_UNLESS,
    TK_BY,
    TK_WITHOUT,
    TK_BOOL,
    TK_ON,
    TK_IGNORING,
    TK_GROUP_LEFT,
    TK_GROUP_RIGHT,
    TK_OFFSET,
    TK_JSON,
    TK_LOGFMT,
    TK_REGEXP,
    TK_UNPACK,
    TK_PATTERN,
    TK_LINE_FMT,
    TK_LABEL_FMT,
    TK_UNWRAP,
    TK_DECOLORIZE,
    TK_DROP,
    TK_KEEP,
    TK_IP_KW, /* ip( : only before a call, else an identifier */
    /* function names: keywords only before `(` (or `by (` / `without (`) */
    TK_FN_RANGE,      /* count_over_time, rate, ... (value: logql_range_op_t) */
    TK_FN_VECTOR_AGG, /* sum, avg, ... (value: lq_vec_op_t) */
    TK_FN_VECTOR,     /* vector( */
    TK_FN_LABEL_REPLACE,
    TK_FN_CONV, /* bytes(, duration(, duration_seconds( (value: lq_conv_t) */
} lq_tok_kind_t;

typedef struct {
    lq_tok_kind_t kind;
    int sub;          /* TK_FN_*: which function */
    const char *text; /* source text (arena, NUL-terminated); STRING: the unquoted value */
    size_t len;       /* length of text (STRING: of the value, may hold NULs) */
    int64_t dur_ns;   /* DURATION, RANGE */
    uint64_t bytes;   /* BYTES */
    int line, col;    /* where it starts; RANGE reports line 0 as Loki does */
} lq_tok_t;

typedef struct {
    arena_t *a;
    const char *src;
    size_t pos, n;
    int line, col;
    err_t *err;
    int failed;
} lq_lexer_t;

void logql__lex_init(lq_lexer_t *lx, arena_t *a, const char *src, err_t *err);
/* Next token; on a lexical error sets err (Loki's text and position) and returns TK_EOF
 * with lx->failed set. */
int logql__lex_next(lq_lexer_t *lx, lq_tok_t *tok);
/* The name a token has in yacc error messages ("IDENTIFIER", "{", "$end", "RATE"...). */
const char *logql__tok_name(const lq_tok_t *tok);

/* ---- the AST --------------------------------------------------------------------------- */

typedef enum {
    LQ_LINE_EQ,       /* |= */
    LQ_LINE_NEQ,      /* != */
    LQ_LINE_RE,       /* |~ */
    LQ_LINE_NRE,      /* !~ */
    LQ_LINE_PATTERN,  /* |> */
    LQ_LINE_NPATTERN, /* !> */
} lq_line_op_t;

/* One operand of a line filter: a string, or ip("...") when is_ip. */
typedef struct {
    const char *match;
    size_t len;
    int is_ip;
} lq_line_arg_t;

typedef enum { LF_MATCHER, LF_NUMERIC, LF_DURATION, LF_BYTES, LF_IP, LF_AND, LF_OR } lq_lf_kind_t;
typedef enum { CMP_EQ, CMP_NEQ, CMP_GT, CMP_GTE, CMP_LT, CMP_LTE } lq_cmp_t;

/* A label filter tree (`| a="b" and x > 5 or (d > 10ms)`). */
typedef struct lq_lf {
    lq_lf_kind_t kind;
    const char *name;
    lq_cmp_t cmp;        /* NUMERIC/DURATION/BYTES; IP: CMP_EQ or CMP_NEQ */
    const matcher_t *m;  /* MATCHER */
    double num;          /* NUMERIC */
    int64_t dur_ns;      /* DURATION */
    uint64_t bytes;      /* BYTES */
    const char *ip;      /* IP: the pattern */
    struct lq_ip *ipm;   /* IP: compiled */
    struct lq_lf *l, *r; /* AND / OR */
} lq_lf_t;

typedef enum { LQ_CONV_NONE, LQ_CONV_BYTES, LQ_CONV_DURATION, LQ_CONV_DURATION_SECONDS } lq_conv_t;

typedef struct {
    const char *name, *value; /* label_format: value is a label name when rename */
    int rename;
    const matcher_t *m; /* drop/keep: `name="v"` form; NULL for a bare name */
} lq_named_t;

typedef enum {
    ST_LINE_FILTER,
    ST_LOGFMT,
    ST_JSON,
    ST_REGEXP,
    ST_PATTERN,
    ST_UNPACK,
    ST_LABEL_FILTER,
    ST_LINE_FMT,
    ST_LABEL_FMT,
    ST_DROP,
    ST_KEEP,
    ST_DECOLORIZE,
} lq_stage_kind_t;

/* One pipeline stage as written. */
typedef struct {
    lq_stage_kind_t kind;
    /* LINE_FILTER: op and the `or` alternatives (n_args >= 1) */
    lq_line_op_t op;
    lq_line_arg_t *args;
    size_t n_args;
    /* LOGFMT flags */
    int strict, keep_empty;
    /* JSON / LOGFMT parameters, LABEL_FMT / DROP / KEEP items */
    lq_named_t *items;
    size_t n_items;
    /* REGEXP / PATTERN / LINE_FMT text */
    const char *text;
    /* LABEL_FILTER */
    lq_lf_t *lf;
} lq_stage_t;

typedef struct {
    const char *name;
    lq_conv_t conv;
    lq_lf_t **post; /* label filters after the unwrap */
    size_t n_post;
} lq_unwrap_t;

/* A stream selector with its pipeline. */
typedef struct {
    matcher_t **matchers;
    size_t n_matchers;
    lq_stage_t *stages;
    size_t n_stages;
    lq_unwrap_t *unwrap;        /* range aggregations only */
    logql_pipeline_t *pipeline; /* compiled stages + unwrap */
} lq_sel_t;

typedef enum {
    VEC_SUM,
    VEC_AVG,
    VEC_COUNT,
    VEC_MAX,
    VEC_MIN,
    VEC_STDDEV,
    VEC_STDVAR,
    VEC_BOTTOMK,
    VEC_TOPK,
    VEC_SORT,
    VEC_SORT_DESC,
    VEC_APPROX_TOPK,
} lq_vec_op_t;

typedef enum {
    BIN_OR,
    BIN_AND,
    BIN_UNLESS,
    BIN_ADD,
    BIN_SUB,
    BIN_MUL,
    BIN_DIV,
    BIN_MOD,
    BIN_POW,
    BIN_EQ,
    BIN_NEQ,
    BIN_GT,
    BIN_GTE,
    BIN_LT,
    BIN_LTE,
} lq_bin_op_t;

typedef struct {
    int present, without;
    const char **labels;
    size_t n_labels;
} lq_grouping_t;

typedef enum {
    LQ_LOG,
    LQ_RANGE,
    LQ_VECAGG,
    LQ_BINOP,
    LQ_LITERAL,
    LQ_LABEL_REPLACE,
    LQ_VECTOR
} lq_kind_t;

struct logql_expr {
    lq_kind_t kind;
    const char *deferred; /* Loki's deferred semantic error of this node (validation pass) */
    lq_sel_t *sel;        /* LOG, RANGE */
    /* RANGE */
    logql_range_op_t rop;
    int has_param;
    double param;
    int64_t range_ns, offset_ns;
    lq_grouping_t grouping; /* RANGE, VECAGG */
    /* VECAGG */
    lq_vec_op_t vop;
    long k;
    /* VECAGG, LABEL_REPLACE: child; BINOP: lhs, rhs */
    struct logql_expr *lhs, *rhs;
    /* BINOP */
    lq_bin_op_t bop;
    int ret_bool, on, card; /* card: 0 one-to-one, 1 group_left, 2 group_right */
    const char **match_labels;
    size_t n_match_labels;
    int has_match_labels; /* on(...)/ignoring(...) with labels, or on () */
    const char **include;
    size_t n_include;
    int has_include;
    /* LITERAL, VECTOR */
    double value;
    /* LABEL_REPLACE */
    const char *dst, *repl, *src, *regex;
};

/* ---- shared helpers -------------------------------------------------------------------- */

const char *logql__range_op_name(logql_range_op_t op);
const char *logql__vec_op_name(lq_vec_op_t op);
const char *logql__bin_op_name(lq_bin_op_t op);
const char *logql__line_op_name(lq_line_op_t op);
const char *logql__cmp_name(lq_cmp_t c);
const char *logql__conv_name(lq_conv_t c);
/* Go strconv.Quote of s[0..n). */
void logql__quote(buf_t *b, const char *s, size_t n);
/* Appends the selector and its stages (and unwrap) as Loki prints them. */
void logql__format_sel(buf_t *b, const lq_sel_t *s);
/* Appends the text of a label filter (without the leading `| `). */
void logql__format_lf(buf_t *b, const lq_lf_t *lf);
/* Appends the canonical text of `e` (Loki's String()). */
void logql__format_expr(buf_t *b, const logql_expr_t *e);

/* humanize.ParseBytes; 0 on success. */
int logql__parse_bytes(const char *s, size_t n, uint64_t *out);
/* humanize.Bytes without the space ("20MB", "1.5kB", "9B"). */
void logql__format_bytes(buf_t *b, uint64_t v);
/* Loki's duration parsing: Prometheus syntax, then Go's; 0 on success. */
int logql__parse_duration(const char *s, size_t n, int64_t *ns);

/* ---- pipelines ------------------------------------------------------------------------- */

/* An ip("...") matcher: a single address, a range a-b, or a CIDR, v4 or v6. */
typedef struct lq_ip lq_ip_t;
lq_ip_t *logql__ip_new(arena_t *a, const char *pattern, err_t *err);
/* 1 if any IP-looking word in s[0..n) matches (line filters, ip() label filters). */
int logql__ip_match_line(const lq_ip_t *ip, const char *s, size_t n);

/* A pattern (`<name> - <_> ...`): a list of literals and captures. */
typedef struct lq_pattern lq_pattern_t;
/* line_filter 1: no named captures allowed, empty allowed. Errors in Loki's words. */
lq_pattern_t *logql__pattern_new(arena_t *a, const char *text, int line_filter, err_t *err);
int logql__pattern_test(const lq_pattern_t *p, const char *s, size_t n);
const char *logql__pattern_name(const lq_pattern_t *p, size_t i);
/* Captures of a match: offsets/lengths into s; returns how many (named captures only). */
size_t logql__pattern_match(const lq_pattern_t *p, const char *s, size_t n, size_t *off,
                            size_t *len);

/* Compiles the selector's stages and unwrap into s->pipeline. */
int logql__pipeline_compile(arena_t *a, lq_sel_t *s, err_t *err);

#endif
