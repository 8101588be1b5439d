/* common/matchers_int.h - internals shared by common/matchers*.c: the RE2-to-pcre2 pattern
 * translation and the fast-path analysis of a regex. Pure functions, thread-safe. */
#ifndef HERALD_COMMON_MATCHERS_INT_H
#define HERALD_COMMON_MATCHERS_INT_H
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* How a regex can be matched without running pcre2. */
typedef enum {
    RE_FAST_NONE,     /* pcre2 needed */
    RE_FAST_SET,      /* one of a set of literals (a single literal is a set of one) */
    RE_FAST_ANY,      /* .* */
    RE_FAST_NONEMPTY, /* .+ */
    RE_FAST_PREFIX,   /* lit.* */
    RE_FAST_PREFIX1,  /* lit.+ (something must follow the prefix) */
    RE_FAST_SUFFIX,   /* .*lit */
    RE_FAST_CONTAINS, /* .*lit.* */
} re_fast_t;

/* The analysis of one pattern. Strings are heap-owned by the caller (free them, and each
 * element of set, then set). */
typedef struct {
    re_fast_t fast;
    char *lit;        /* PREFIX, PREFIX1, SUFFIX, CONTAINS: the literal */
    char **set;       /* SET: the literals, unsorted, possibly repeated */
    size_t n_set;
    char *prefix;     /* literal prefix every match starts with ("" if none) */
} re_analysis_t;

/* Translates an RE2 pattern into pcre2 syntax with the same meaning (appended to out), or
 * fails with Go's "error parsing regexp: ..." wording for what RE2 rejects. */
int matchers__re_translate(const char *re, buf_t *out, err_t *err);
/* Fills *an for a pattern that matchers__re_translate accepted. */
void matchers__re_analyse(const char *re, re_analysis_t *an);
void matchers__re_analysis_fini(re_analysis_t *an);

#endif
