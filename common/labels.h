/* common/labels.h - immutable, sorted label sets.
 * Two ownerships: heap sets are refcounted (atomic) and may be interned (one shared instance
 * per distinct set, for stored series); arena sets live until their arena is freed and
 * labels_ref/unref on them are no-ops. Sets are immutable, hence thread-safe to read.
 * Order: by name, byte-wise. A set never holds two labels with the same name, nor an
 * empty value (an empty value means "absent", as in Prometheus). */
#ifndef HERALD_COMMON_LABELS_H
#define HERALD_COMMON_LABELS_H
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

typedef struct labels labels_t; /* opaque */
typedef struct {
    const char *name, *value;
} label_t;

/* Copies and sorts `pairs`, dropping empty values. Duplicate name: NULL + ERR_BAD_DATA
 * ("label set has duplicate label name: \"x\""-style message). Caller owns one reference. */
labels_t *labels_new(const label_t *pairs, size_t n, err_t *err);
/* Same, allocated in arena `a` (no refcount). */
labels_t *labels_new_arena(arena_t *a, const label_t *pairs, size_t n, err_t *err);
/* The canonical shared heap instance equal to `ls` (new reference); thread-safe. */
labels_t *labels_intern(const labels_t *ls);
labels_t *labels_ref(labels_t *ls);
void labels_unref(labels_t *ls); /* NULL is a no-op */
labels_t *labels_empty(void);    /* the shared empty set; never freed */

size_t labels_len(const labels_t *ls);
label_t labels_at(const labels_t *ls, size_t i);
const char *labels_get(const labels_t *ls, const char *name); /* borrowed; NULL if absent */
uint64_t labels_hash(const labels_t *ls);
/* Hash over only the labels named (keep=1) or all but those named (keep=0); `names`
 * need not be sorted. Used for grouping and vector matching. */
uint64_t labels_hash_subset(const labels_t *ls, const char *const *names, size_t n, int keep);
int labels_cmp(const labels_t *a, const labels_t *b); /* Prometheus labels.Compare order */
int labels_equal(const labels_t *a, const labels_t *b);

/* Builder: start from a set (or NULL), set/delete labels, then build. Arena-backed. */
typedef struct labels_builder labels_builder_t;
labels_builder_t *labels_builder_new(arena_t *a, const labels_t *base);
void labels_builder_reset(labels_builder_t *b, const labels_t *base);
void labels_builder_set(labels_builder_t *b, const char *name, const char *value); /* "" deletes */
void labels_builder_del(labels_builder_t *b, const char *name);
/* keep=1: keep only `names`; keep=0: drop `names`. */
void labels_builder_keep(labels_builder_t *b, const char *const *names, size_t n, int keep);
labels_t *labels_builder_build(labels_builder_t *b);        /* in the builder's arena */
labels_t *labels_builder_build_heap(labels_builder_t *b);   /* refcounted heap set */

/* Parses `{a="b", c="d"}`, `metric{a="b"}`, `metric` or `{"utf8.name"="v"}` with Go string
 * escapes; errors name the column. Result lives in `a`. */
labels_t *labels_parse(arena_t *a, const char *s, err_t *err);
/* Prometheus labels.String(): `{__name__="up", job="x"}` with Go %q escaping of values. */
void labels_format(const labels_t *ls, buf_t *out);
/* PromQL series notation: `up{job="x"}`; names that are not legacy-valid are quoted. */
void labels_format_series(const labels_t *ls, buf_t *out);

/* Go strconv.Quote of the n bytes at s, appended to out with the surrounding quotes:
 * non-printable runes and invalid bytes escaped (\n, \x00, \u00a0), printable UTF-8 kept.
 * Deviation: code points unassigned in Unicode are kept literal (Go escapes them). */
void labels_quote(buf_t *out, const char *s, size_t n);
/* Unquotes the PromQL string literal at s[0] (", ' or `) with Go escapes (\n \t \" \\ \xNN
 * \uNNNN \UNNNNNNNN \NNN). *consumed gets the literal's length with its quotes. Result in
 * `a`. Error: NULL + ERR_BAD_DATA ("unterminated quoted string", "unknown escape ..."). */
char *labels_unquote(arena_t *a, const char *s, size_t *consumed, err_t *err);
/* Distinct interned sets alive now (tests, metrics). Thread-safe. */
size_t labels_intern_count(void);

int labels_is_valid_name(const char *s, size_t n);        /* [a-zA-Z_][a-zA-Z0-9_]* */
int labels_is_valid_metric_name(const char *s, size_t n); /* [a-zA-Z_:][a-zA-Z0-9_:]* */
int labels_is_valid_utf8(const char *s, size_t n);

#endif
