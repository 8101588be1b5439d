/* common/matchers.h - label matchers (=, !=, =~, !~). Regexes are RE2 syntax, fully
 * anchored with `.` matching newlines, as Prometheus's ^(?s:re)$, compiled with pcre2 JIT,
 * with fast paths for literals, prefixes (`foo.*`), `.*`, `.+` and alternations of literals
 * (`a|b|c`). A compiled matcher is immutable and may be used from many threads at once
 * (match data is per thread). */
#ifndef HERALD_COMMON_MATCHERS_H
#define HERALD_COMMON_MATCHERS_H
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/labels.h"

typedef enum { MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE } match_type_t;
typedef struct matcher matcher_t; /* opaque */

/* Heap matcher; free with matcher_free. Bad regex: NULL + ERR_BAD_DATA with
 * "error parsing regexp: ..." wording as Go gives it where practical. */
matcher_t *matcher_new(match_type_t type, const char *name, const char *value, err_t *err);
void matcher_free(matcher_t *m); /* NULL is a no-op */
/* Arena matcher: freed (pcre2 code included) with the arena. */
matcher_t *matcher_new_arena(arena_t *a, match_type_t type, const char *name, const char *value,
                             err_t *err);
/* Flags of the _flags constructors. */
enum {
    /* Alertmanager's regex semantics, `^(?:re)$`: `.` does not match a newline (Prometheus
     * compiles `^(?s:re)$`). matchers_parse sets it for the Alertmanager syntaxes. */
    MATCHER_AM_REGEX = 1u << 0,
};
matcher_t *matcher_new_flags(match_type_t type, const char *name, const char *value,
                             unsigned flags, err_t *err);
matcher_t *matcher_new_arena_flags(arena_t *a, match_type_t type, const char *name,
                                   const char *value, unsigned flags, err_t *err);

match_type_t matcher_type(const matcher_t *m);
const char *matcher_name(const matcher_t *m);
const char *matcher_value(const matcher_t *m);
int matcher_matches(const matcher_t *m, const char *value);       /* value "" = absent */
int matcher_matches_labels(const matcher_t *m, const labels_t *ls); /* uses labels_get */
/* 1 if the matcher matches the empty string (so it also selects series lacking the label). */
int matcher_matches_empty(const matcher_t *m);
/* For postings lookups: if the matcher accepts only a finite set of values (=, or =~ an
 * alternation of literals), sets *vals (borrowed, valid for the matcher's life) and returns
 * their count; else returns -1. */
int matcher_set_values(const matcher_t *m, const char *const **vals);
/* For postings lookups: literal prefix every match must start with ("" if none). */
const char *matcher_prefix(const matcher_t *m);

/* `name="value"` with Go quoting; names that are not legacy-valid are quoted. */
void matcher_format(const matcher_t *m, buf_t *out);

/* Values of matchers_parse's am_syntax. */
enum {
    MATCHERS_PROMQL = 0,      /* `metric{a="b", c=~"d"}`, PromQL quoting */
    MATCHERS_AM = 1,          /* Alertmanager's default (fallback) mode: the classic parser's
                               * result when it accepts the input, else the UTF-8 parser's;
                               * the classic error when both reject it */
    MATCHERS_AM_UTF8 = 2,     /* Alertmanager UTF-8 strict mode (`{foo=bar, "a.b"!~"x"}`) */
    MATCHERS_AM_CLASSIC = 3,  /* Alertmanager classic parser (`foo=bar baz`, `{a=~"x\.y"}`) */
};

/* Parses a selector `{a="b", c=~"d"}` or `metric{...}` (am_syntax MATCHERS_PROMQL), or
 * Alertmanager `matchers` (braces optional, unquoted values) in one of its modes above.
 * Matchers are arena-owned; *n gets the count. */
matcher_t **matchers_parse(arena_t *a, const char *s, size_t *n, int am_syntax, err_t *err);

#endif
