/* common/template_int.h - internals shared by common/template_*.c: the parse tree, the value
 * model, the execution state and the function tables. Only common/template_*.c include it.
 *
 * DESIGN: a tmpl_t owns one arena holding every parse tree it ever parsed (trees are
 * immutable once built, so executions on many threads read them freely). Values (tv_t) are
 * small by-value structs; anything they point to during execution lives in the execution's
 * own arena, so an execution allocates nothing per node beyond that arena and the output. */
#ifndef HERALD_COMMON_TEMPLATE_INT_H
#define HERALD_COMMON_TEMPLATE_INT_H
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/hashmap.h"
#include "common/template.h"

/* ---- values ------------------------------------------------------------------------------ */

typedef enum {
    TV_NIL, /* Go's untyped nil / missing interface value: prints "<no value>" */
    TV_BOOL,
    TV_INT,    /* Go int */
    TV_UINT8,  /* a byte, as `index "abc" 0` gives */
    TV_FLOAT,  /* float64 */
    TV_STRING, /* also html/template-free "safe" strings (sub TVS_*) */
    TV_LIST,
    TV_MAP,
    TV_TIME,     /* time.Time */
    TV_DURATION, /* time.Duration, nanoseconds */
} tv_kind_t;

/* Go type a value stands for, when it matters for methods, printing or error texts. */
typedef enum {
    TVT_PLAIN,       /* interface{} / untyped: JSON data, literals */
    TVT_STRMAP,      /* map[string]string: missing key gives "" */
    TVT_KV,          /* Alertmanager template.KV (map[string]string with methods) */
    TVT_PAIRS,       /* template.Pairs (list of TVT_PAIR) */
    TVT_PAIR,        /* template.Pair {Name, Value} */
    TVT_DATA,        /* *template.Data (struct) */
    TVT_ALERT,       /* template.Alert (struct) */
    TVT_ALERTS,      /* template.Alerts ([]Alert with Firing/Resolved) */
    TVT_STRSLICE,    /* []string */
    TVT_PROMSAMPLE,  /* Prometheus *sample {Labels, Value} */
    TVT_PROMRESULT,  /* Prometheus queryResult ([]*sample) */
    TVT_PROMDATA,    /* Prometheus' struct {Labels, ExternalLabels, ExternalURL, Value} */
    TVT_SAFEHTML,    /* html/template.HTML (string) */
    TVT_SAFEURL,     /* html/template.URL (string) */
    TVT_COUNT_
} tv_type_t;

typedef struct tv_list tv_list_t;
typedef struct tv_map tv_map_t;

typedef struct {
    uint8_t kind; /* tv_kind_t */
    uint8_t type; /* tv_type_t */
    union {
        int b;
        int64_t i; /* TV_INT, TV_UINT8, TV_DURATION (ns) */
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        const tv_list_t *list;
        const tv_map_t *map;
        struct {
            int64_t sec;      /* since the epoch, UTC (Go's zero time is year 1) */
            int32_t nsec;     /* 0..999999999 */
            int32_t off_sec;  /* zone offset east of UTC */
            const char *zone; /* zone abbreviation; NULL is "UTC" */
        } t;
    } u;
} tv_t;

struct tv_list {
    size_t n;
    tv_t items[];
};

/* Map keys are sorted byte-wise (Go's range order for string keys). Structs (typed values
 * standing for Go structs) keep their fields in declaration order instead, which is how Go
 * prints them; lookup is linear up to 8 entries, else binary search. */
struct tv_map {
    size_t n;
    struct tv_map_entry {
        const char *key;
        size_t key_n;
        tv_t val;
    } e[];
};

tv_t tv_nil(void);
tv_t tv_bool(int b);
tv_t tv_int(int64_t i);
tv_t tv_float(double f);
tv_t tv_str(const char *p, size_t n); /* borrowed bytes */
tv_t tv_cstr(const char *s);
tv_t tv_time(int64_t ns);
tv_t tv_time_sec(int64_t sec, int32_t nsec);
#define TV_ZERO_TIME_SEC (-62135596800LL) /* 0001-01-01T00:00:00Z, Go's time.Time{} */
tv_t tv_typed(tv_t v, tv_type_t type);
tv_list_t *tv_list_new(arena_t *a, size_t n);
tv_map_t *tv_map_new(arena_t *a, size_t n);
void tv_map_sort(tv_map_t *m);                          /* after filling entries */
const tv_t *tv_map_get(const tv_map_t *m, const char *key, size_t n); /* NULL if absent */
int tv_truth(tv_t v);                                   /* Go's template truth */
const char *tv_type_name(tv_t v);                       /* Go type text: "int", "string" */
/* json_t -> value (objects become TVT_PLAIN maps). */
tv_t tv_from_json(arena_t *a, const json_t *j);
/* Go fmt's %v of `v` (fmt.Sprint for one operand). */
void tv_print(tv_t v, buf_t *out);
/* fmt.Sprint / fmt.Sprintln of several operands. */
void tv_sprint(const tv_t *args, size_t n, int ln, buf_t *out);
/* fmt.Sprintf: Go verbs, flags, width, precision, %!x(...) for misuse. */
void tv_sprintf(const char *fmt, size_t fmt_n, const tv_t *args, size_t n, buf_t *out);
/* gofloat_append (Go's strconv.FormatFloat(f, fmtc, prec, 64)), for template_util.c. */
void tv_format_float(double f, char fmtc, int prec, buf_t *out);
/* time.Time.String() / Format(layout) with Go reference-time layouts. */
void tv_time_format(tv_t t, const char *layout, buf_t *out);
/* Go's time.Parse(layout, value) (UTC unless the value has an offset). Error: -1 and, if
 * msg is not NULL, Go's message in *msg (static or arena storage of `a`). */
int tv_time_parse(const char *layout, const char *value, tv_t *out, const char **msg);
/* time.Duration.String(). */
void tv_duration_format(int64_t ns, buf_t *out);

/* ---- lexer (template_lex.c) --------------------------------------------------------------- */

typedef enum {
    ITEM_ERROR, ITEM_EOF, ITEM_TEXT, ITEM_COMMENT, ITEM_LEFT_DELIM, ITEM_RIGHT_DELIM,
    ITEM_SPACE, ITEM_STRING, ITEM_RAW_STRING, ITEM_CHAR_CONSTANT, ITEM_NUMBER, ITEM_BOOL,
    ITEM_IDENTIFIER, ITEM_FIELD, ITEM_VARIABLE, ITEM_DOT, ITEM_ASSIGN, ITEM_DECLARE,
    ITEM_PIPE, ITEM_LEFT_PAREN, ITEM_RIGHT_PAREN, ITEM_CHAR,
    /* keywords */
    ITEM_BLOCK, ITEM_BREAK, ITEM_CONTINUE, ITEM_DEFINE, ITEM_ELSE, ITEM_END, ITEM_IF,
    ITEM_RANGE, ITEM_NIL, ITEM_TEMPLATE, ITEM_WITH,
} titem_type_t;

typedef struct {
    titem_type_t type;
    int pos, line;
    const char *p; /* text (points into the source, or a message for ITEM_ERROR) */
    size_t n;
} titem_t;

typedef struct {
    const char *src;
    size_t len, pos;
    int line, start_line;
    int in_action, paren_depth, trim_next, done;
    char errbuf[96];
} tlex_t;

void tlex_init(tlex_t *lx, const char *src);
titem_t tlex_next(tlex_t *lx);

/* ---- parse tree -------------------------------------------------------------------------- */

typedef enum {
    TN_LIST,
    TN_TEXT,
    TN_ACTION,
    TN_IF,
    TN_RANGE,
    TN_WITH,
    TN_TEMPLATE,
    TN_BREAK,
    TN_CONTINUE,
    TN_PIPE,
    TN_CMD,
    TN_FIELD,  /* .A.B */
    TN_VAR,    /* $x.A.B */
    TN_CHAIN,  /* (pipe).A.B */
    TN_DOT,
    TN_NIL,
    TN_BOOL,
    TN_NUMBER,
    TN_STRING,
    TN_IDENT, /* function name */
} tnode_type_t;

typedef struct tnode tnode_t;
typedef struct tfunc tfunc_t;

struct tnode {
    uint8_t type;
    int pos; /* byte offset of the node in its source text */
    union {
        struct {
            tnode_t **items;
            int n;
        } list; /* TN_LIST */
        struct {
            const char *p;
            size_t n;
        } text; /* TN_TEXT; TN_STRING (unquoted value) */
        tnode_t *action; /* TN_ACTION: its pipe */
        struct {
            tnode_t *pipe, *list, *else_list;
        } branch; /* TN_IF TN_RANGE TN_WITH */
        struct {
            const char *name;
            tnode_t *pipe; /* may be NULL */
        } tmpl;
        struct {
            const char **decl; /* variable names, with '$' */
            int n_decl, is_assign;
            tnode_t **cmds;
            int n_cmds;
        } pipe;
        struct {
            tnode_t **args;
            int n;
        } cmd;
        struct {
            tnode_t *node; /* TN_CHAIN base; NULL for TN_FIELD/TN_VAR */
            const char **idents; /* TN_VAR: idents[0] is "$x" */
            int n;
        } field;
        int b; /* TN_BOOL */
        struct {
            const char *text;
            int is_int, is_float;
            int64_t i;
            double f;
        } num;
        struct {
            const char *name;
            const tfunc_t *fn;
        } ident;
    } u;
    const char *lit; /* TN_STRING: quoted source; TN_NUMBER: literal text */
};

/* One named template: its tree and the name of the source it came from (for errors). */
typedef struct {
    const char *name;
    const char *parse_name; /* Go's ParseName: the template whose text defined it */
    const char *src;
    tnode_t *root; /* TN_LIST */
} tmpl_def_t;

struct tmpl {
    int refs; /* atomic */
    char *name;
    unsigned funcs;
    arena_t *arena;     /* trees, names, source copies */
    hashmap_t defs;     /* name -> tmpl_def_t* */
    const tmpl_t *base; /* lookups fall back here (tmpl_am_expand overlays); referenced */
};

/* Parses `text` (copied into t's arena) and installs its templates. */
int tmpl__parse(tmpl_t *t, const char *name, const char *text, err_t *err);
const tmpl_def_t *tmpl__lookup(const tmpl_t *t, const char *name);

/* Node's canonical text as Go's Node.String() prints it (used in error contexts). */
void tmpl__node_string(const tnode_t *n, buf_t *out);

/* ---- functions --------------------------------------------------------------------------- */

typedef struct tstate tstate_t;

/* Parameter kinds checked/converted before the call, as Go's reflect call does. */
typedef enum {
    TP_ANY,    /* interface{} */
    TP_STRING, /* string */
    TP_INT,    /* int */
    TP_FLOAT,  /* float64 */
    TP_BOOL,
    TP_STRLIST, /* []string */
    TP_TIME,    /* time.Time */
} tparam_t;

/* Returns 0 and sets *out, or -1 with err set by tstate_fail (wrapped by the caller as Go's
 * `error calling NAME: ...`). */
typedef int (*tfunc_fn)(tstate_t *st, const tv_t *args, int n, tv_t *out);

struct tfunc {
    const char *name;
    tfunc_fn fn;
    int n_params;       /* fixed parameters */
    tparam_t params[4]; /* their kinds */
    int variadic;       /* 1: further args of kind `rest` */
    tparam_t rest;
    int raw_args;       /* 1: the function handles its own argument checks (and, or, ...) */
};

/* The function named `name` visible with function sets `funcs` (NULL if none). */
const tfunc_t *tmpl__func_lookup(unsigned funcs, const char *name);
extern const tfunc_t tmpl__builtin_funcs[];
extern const tfunc_t tmpl__am_funcs[];
extern const tfunc_t tmpl__prom_funcs[];
extern const tfunc_t tmpl__loki_funcs[];

/* ---- execution --------------------------------------------------------------------------- */

/* HTML context of the output so far, for html/template-style escaping (template_html.c). */
typedef struct {
    uint8_t state, url_attr, url_part; /* url_part: 0 start, 1 path, 2 query/fragment */
    char quote;
    char attr[24];
    size_t attr_n;
} thtml_t;

/* Writes template text to out, minus HTML comments, advancing the HTML context. */
void tmpl__html_text(thtml_t *h, const char *p, size_t n, buf_t *out);
/* 1 right after `attr=` (an unquoted attribute value starts here). */
int tmpl__html_unquoted_value(const thtml_t *h);
/* Appends the printed value s (of value v) escaped for the current context. */
void tmpl__html_escape_value(thtml_t *h, tv_t v, const char *s, size_t n, buf_t *out);
/* The same for an action ending in html/template's predefined escaper `html` (urlquery=0) or
 * `urlquery` (1): s is the escaper's operand as it prints it. Go merges the escaper with its
 * own context escapers instead of escaping its output again (ensurePipelineContains). */
void tmpl__html_escape_predef(thtml_t *h, int urlquery, const char *s, size_t n, buf_t *out);

typedef struct tvar {
    const char *name;
    tv_t val;
} tvar_t;

struct tstate {
    const tmpl_t *set;
    const tmpl_def_t *def; /* template being executed (for error texts) */
    const tnode_t *node;   /* node being evaluated (for error texts) */
    arena_t *arena;
    buf_t *out;
    err_t *err;
    char *fn_err; /* message of the failing function, before wrapping */
    tmpl_limits_t lim;
    size_t steps;
    int depth;
    tvar_t *vars;
    int n_vars, cap_vars;
    /* per-flavour context */
    const tmpl_prom_data_t *prom;
    const char *loki_line;
    int64_t loki_ts_ns;
    int64_t now_ns;
    int html;       /* escape printed values as html/template would */
    thtml_t html_ctx;
};

/* Records a function failure message (printf-style); returns -1. */
int tstate_fail(tstate_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets an execution error at the current node, Go-worded; returns -1. */
int tstate_errorf(tstate_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies bytes into the execution arena (NUL-terminated). */
const char *tstate_strdup(tstate_t *st, const char *p, size_t n);
tv_t tstate_buf_value(tstate_t *st, buf_t *b); /* string value from b's bytes; resets b */

/* Runs template `def` with dot `data`. */
int tmpl__exec(tstate_t *st, const tmpl_def_t *def, tv_t data);
void tstate_init(tstate_t *st, const tmpl_t *t, const tmpl_limits_t *lim, buf_t *out,
                 err_t *err);
void tstate_fini(tstate_t *st);

/* Value-producing helpers used by several function sets. */
int tmpl__regex_compile(tstate_t *st, const char *re, void **code); /* pcre2, arena-freed */
/* Go's strings.Title (word starts upper-cased). */
void tmpl__title(const char *s, size_t n, buf_t *out);
/* Value as a float for Prometheus' convertToFloat (string, int, float, ...). */
int tmpl__to_float(tstate_t *st, tv_t v, double *f);
/* Alertmanager types from a webhook-shaped payload. */
tv_t tmpl__am_data(arena_t *a, const json_t *payload);
tv_t tmpl__kv_from_labels(arena_t *a, const label_t *ls, size_t n, tv_type_t type);

/* Go's int64(f) on amd64: NaN and out-of-range values give math.MinInt64 (no C UB). */
static inline int64_t tmpl__f2i(double f)
{
    return f == f && f > -9223372036854775808.0 && f < 9223372036854775808.0 ? (int64_t)f
                                                                            : INT64_MIN;
}

/* Shared function implementations (template_funcs.c, template_funcs_prom.c). */
int tmpl__f_to_upper(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_to_lower(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_title(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_match(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_re_replace_all(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_safe_html(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_trim_space(tstate_t *st, const tv_t *a, int n, tv_t *out);
int tmpl__f_humanize_duration(tstate_t *st, const tv_t *a, int n, tv_t *out);
/* Go regexp ReplaceAllString (literal=0, $1/${name} expanded) / ReplaceAllLiteralString. */
int tmpl__re_replace(tstate_t *st, const char *pattern, const char *text, size_t text_n,
                     const char *repl, size_t repl_n, int literal, tv_t *out);
/* Count of non-overlapping matches (first_only: stop at 1). */
int tmpl__re_count(tstate_t *st, const char *pattern, const char *text, size_t n, int first_only,
                   int64_t *count);
/* url.QueryUnescape (plus=1) / url.PathUnescape (plus=0). */
int tmpl__url_unescape(tstate_t *st, tv_t s, int plus, tv_t *out);
/* url.QueryEscape. */
void tmpl__query_escape(const char *s, size_t n, buf_t *out);
/* strconv.ParseFloat(s, 64): 0 or -1. */
int tmpl__parse_go_float(const char *s, double *f);
/* One UTF-8 sequence at p (n bytes left): code point and *len, or -1 if invalid. */
int64_t tmpl__utf8_decode(const unsigned char *p, size_t n, size_t *len);
void tmpl__utf8_encode(uint32_t r, buf_t *out);
/* net.ParseIP succeeds. */
int tmpl__is_ip(const char *s);
/* Offset and abbreviation of IANA zone `name` at unix time `sec` (TZif files). */
int tmpl__zone_offset(tstate_t *st, const char *name, int64_t sec, int32_t *off,
                      const char **abbr);
/* encoding/json Marshal of a value (Go field names or json tags for typed structs). */
void tmpl__json_encode(tv_t v, buf_t *out);

/* The method `name` of recv's type (Alertmanager types, time.Time, time.Duration), or NULL.
 * Its function gets the receiver as args[0]; n_params excludes the receiver. */
const tfunc_t *tmpl__method_lookup(tv_t recv, const char *name);

#endif
