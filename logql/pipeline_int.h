/* logql/pipeline_int.h - compiled pipeline stages and the per-thread processor state, shared
 * by logql/pipeline.c (compile, run loop, label state, output interning),
 * logql/pipeline_parsers.c (json, logfmt, regexp, pattern, unpack) and
 * logql/pipeline_util.c (ip ranges, patterns, decolorize).
 *
 * DESIGN: a processor keeps the entry's label state without allocating: stream and
 * metadata labels are borrowed and masked by "deleted" flags, parsed labels are offsets
 * into one string buffer reset per entry, and the line lives in the caller's memory or in
 * one of two swap buffers. Output label sets are interned in a per-processor hash table,
 * so equal sets are one pointer and allocation happens only for a new distinct set. */
#ifndef HERALD_LOGQL_PIPELINE_INT_H
#define HERALD_LOGQL_PIPELINE_INT_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "logql/logql_int.h"

/* A json/logfmt parameter: label `id` from the path `expr`. */
typedef struct {
    const char *id;
    const char **path; /* json: keys, or "[N]" for array indexes */
    size_t n_path;
} lq_extract_t;

typedef struct {
    lq_stage_kind_t kind;
    const lq_stage_t *src;
    /* LINE_FILTER: per alternative */
    const matcher_t **re;
    lq_pattern_t **pat;
    lq_ip_t **ip;
    /* REGEXP */
    pcre2_code *code;
    const char **group_names; /* by group number; NULL for unnamed groups */
    uint32_t n_groups;
    /* PATTERN */
    lq_pattern_t *pattern;
    /* JSON / LOGFMT parameters */
    lq_extract_t *ex;
    size_t n_ex;
    /* LINE_FMT: tmpl; LABEL_FMT: tmpls[i] per item (NULL for renames) */
    tmpl_t *tmpl;
    tmpl_t **tmpls;
} lq_cstage_t;

struct logql_pipeline {
    lq_cstage_t *stages;
    size_t n_stages;
    const lq_unwrap_t *unwrap;
    int filter_only;
};

typedef struct {
    size_t name, value; /* offsets into pr->strs */
    int is_parsed;      /* 0: a renamed stream/metadata label keeps its category */
} lq_plabel_t;

typedef struct {
    uint64_t hash;
    labels_t *ls;
} lq_slot_t;

struct logql_proc {
    arena_t *a;
    const logql_pipeline_t *p;
    /* the entry */
    const labels_t *stream;
    const label_t *md;
    size_t n_md, n_stream;
    int64_t ts_ns;
    uint8_t *del_stream, *del_md;
    size_t cap_del_stream, cap_del_md;
    /* parsed labels and the error labels */
    buf_t strs;
    lq_plabel_t *parsed;
    size_t n_parsed, cap_parsed;
    long err_off, det_off; /* -1: not set */
    /* the line: the caller's bytes, or one of two buffers */
    const char *line;
    size_t len;
    int line_buf; /* -1 caller's, else 0/1 */
    int line_is_cstr;
    buf_t lines[2];
    buf_t scratch;
    buf_t keybuf, unqbuf; /* parsers' key and unquoted-value scratch */
    /* output */
    label_t *pairs;
    size_t cap_pairs;
    lq_slot_t *slots;
    size_t n_slots, used_slots;
    pcre2_match_data *match;
};

/* ---- label state (pipeline.c) ---------------------------------------------------------- */

/* Current value of `name` (parsed, then metadata, then stream); NULL if absent. The pointer
 * is valid until the next set. */
const char *logql__get(logql_proc_t *pr, const char *name);
/* Sets a parsed label; name/value may point into the processor's own buffers. */
void logql__set(logql_proc_t *pr, const char *name, size_t nlen, const char *val, size_t vlen);
void logql__del(logql_proc_t *pr, const char *name);
/* 1 if the stream or the structured metadata has `name` (Loki's clash test). */
int logql__base_has(const logql_proc_t *pr, const char *name, size_t nlen);
/* __error__ / __error_details__ (the first error wins, as Loki's SetErr). */
void logql__set_err(logql_proc_t *pr, const char *err, const char *details);
/* The current line as a NUL-terminated string. */
const char *logql__line_cstr(logql_proc_t *pr);
/* Starts writing a new line; the result replaces the current line at logql__line_commit. */
buf_t *logql__line_begin(logql_proc_t *pr);
void logql__line_commit(logql_proc_t *pr);
/* Every current label (deleted ones excluded, parsed overriding), unsorted, in pr->pairs;
 * returns the count. Strings valid until the next set. */
size_t logql__current_labels(logql_proc_t *pr, int with_errors);

/* ---- parser stages (pipeline_parsers.c) ------------------------------------------------ */

int logql__compile_regexp(arena_t *a, lq_cstage_t *cs, err_t *err);
int logql__compile_extractions(arena_t *a, lq_cstage_t *cs, err_t *err);
void logql__run_json(logql_proc_t *pr, const lq_cstage_t *cs);
void logql__run_logfmt(logql_proc_t *pr, const lq_cstage_t *cs);
void logql__run_regexp(logql_proc_t *pr, const lq_cstage_t *cs);
void logql__run_pattern(logql_proc_t *pr, const lq_cstage_t *cs);
int logql__run_unpack(logql_proc_t *pr);
/* Appends Loki's sanitised form of a key (non [A-Za-z0-9_] runes become `_`); a leading
 * digit gets a `_` prefix when `to` is empty. */
void logql__sanitize_append(buf_t *to, const char *key, size_t n);

/* ---- util (pipeline_util.c) ------------------------------------------------------------ */

void logql__decolorize(logql_proc_t *pr);

#endif
