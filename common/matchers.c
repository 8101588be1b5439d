/* common/matchers.c - label matchers: construction, fast paths, pcre2 matching, formatting.
 * Parsing of selectors lives in matchers_parse.c, RE2 translation in matchers_re.c.
 *
 * DESIGN: a matcher is analysed once at construction. Equality and regexes that are a
 * literal or an alternation of literals become a sorted set (binary search); `.*`, `.+`,
 * `lit.*`, `lit.+`, `.*lit` and `.*lit.*` become string tests; only the rest runs pcre2, with
 * the pattern translated from RE2 and compiled anchored at both ends, `.` matching newline
 * and `$` only at the end, as Go's `^(?s:re)$`. pcre2 match data is per thread (a
 * pthread key frees it when the thread exits), so one compiled matcher serves all threads.
 * Subjects with invalid UTF-8 are matched as Go reads them: each bad byte as U+FFFD.
 * If pcre2's backtracking engine hits a resource limit, the match is retried with
 * pcre2_dfa_match, which does not backtrack, since RE2 never gives up on a match.
 *
 * A heap matcher records its allocations in `owned` and frees them in matcher_free; an
 * arena matcher allocates from the arena and registers the pcre2 code for arena_free. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/matchers.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/labels_int.h"
#include "common/matchers_int.h"
#include "common/mem.h"

#define DFA_WORKSPACE_INTS 4096
#define DFA_BIG_WORKSPACE_INTS (1 << 18)
/* Backtracking steps before the DFA matcher takes over (pcre2's default is 10 million). */
#define PCRE_MATCH_LIMIT 200000

struct matcher {
    match_type_t type;
    unsigned flags; /* MATCHER_* */
    re_fast_t fast;
    const char *name, *value;
    const char *lit; /* PREFIX, PREFIX1, SUFFIX, CONTAINS */
    size_t lit_len;
    const char **set; /* SET: sorted, distinct */
    size_t n_set;
    const char *prefix;
    pcre2_code *code; /* RE_FAST_NONE; with MATCHER_AM_REGEX also the `.` fast paths */
    int matches_empty;
    arena_t *arena; /* NULL: heap matcher */
    void **owned;   /* heap matcher: allocations freed by matcher_free */
    size_t n_owned, cap_owned;
};

static const char *const type_ops[] = {[MATCH_EQ] = "=", [MATCH_NEQ] = "!=", [MATCH_RE] = "=~",
                                       [MATCH_NRE] = "!~"};

/* ---- storage (heap or arena) ----------------------------------------------------------- */

static void *m_alloc(matcher_t *m, size_t n)
{
    if (m->arena != NULL) {
        return arena_alloc(m->arena, n);
    }
    void *p = xmalloc(n);
    xgrow((void **)&m->owned, &m->cap_owned, m->n_owned + 1, sizeof(void *));
    m->owned[m->n_owned++] = p;
    return p;
}

static char *m_strndup(matcher_t *m, const char *s, size_t n)
{
    char *p = m_alloc(m, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *m_strdup(matcher_t *m, const char *s)
{
    return m_strndup(m, s, strlen(s));
}

/* ---- pcre2 ----------------------------------------------------------------------------- */

/* Per-thread pcre2 state: match data (one ovector pair: only success matters) and a match
 * context whose low match limit hands pathological patterns to the DFA matcher early. */
typedef struct {
    pcre2_match_data *md;
    pcre2_match_context *ctx;
} thread_pcre_t;

static pthread_key_t tp_key;
static pthread_once_t tp_once = PTHREAD_ONCE_INIT;

static void tp_free(void *arg)
{
    thread_pcre_t *tp = arg;
    pcre2_match_data_free(tp->md);
    pcre2_match_context_free(tp->ctx);
    free(tp);
}

static void tp_key_init(void)
{
    pthread_key_create(&tp_key, tp_free);
}

static thread_pcre_t *thread_pcre(void)
{
    pthread_once(&tp_once, tp_key_init);
    thread_pcre_t *tp = pthread_getspecific(tp_key);
    if (tp == NULL) {
        tp = xmalloc(sizeof(*tp));
        tp->md = pcre2_match_data_create(1, NULL);
        tp->ctx = pcre2_match_context_create(NULL);
        if (tp->md == NULL || tp->ctx == NULL) {
            abort();
        }
        pcre2_set_match_limit(tp->ctx, PCRE_MATCH_LIMIT);
        pthread_setspecific(tp_key, tp);
    }
    return tp;
}

/* pcre2_dfa_match never backtracks, so it answers where the backtracking matcher gives up;
 * a bigger workspace is tried once if the stack one is too small. */
static int dfa_match(const pcre2_code *code, const char *v, size_t len, thread_pcre_t *tp)
{
    int ws[DFA_WORKSPACE_INTS];
    int rc = pcre2_dfa_match(code, (PCRE2_SPTR)v, len, 0, PCRE2_NO_UTF_CHECK, tp->md, NULL, ws,
                             DFA_WORKSPACE_INTS);
    if (rc == PCRE2_ERROR_DFA_WSSIZE) {
        int *big = xmalloc(DFA_BIG_WORKSPACE_INTS * sizeof(int));
        rc = pcre2_dfa_match(code, (PCRE2_SPTR)v, len, 0, PCRE2_NO_UTF_CHECK, tp->md, NULL, big,
                             DFA_BIG_WORKSPACE_INTS);
        free(big);
    }
    return rc >= 0;
}

/* Matches a valid UTF-8 subject. */
static int pcre_match_utf8(const pcre2_code *code, const char *v, size_t len)
{
    thread_pcre_t *tp = thread_pcre();
    int rc = pcre2_match(code, (PCRE2_SPTR)v, len, 0, PCRE2_NO_UTF_CHECK, tp->md, tp->ctx);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
        return rc >= 0;
    }
    return dfa_match(code, v, len, tp);
}

/* Go's regexp reads each byte of an invalid UTF-8 sequence as U+FFFD; matching a copy with
 * exactly that substitution gives its answer. */
static int pcre_match(const pcre2_code *code, const char *v)
{
    size_t len = strlen(v);
    if (labels_is_valid_utf8(v, len)) {
        return pcre_match_utf8(code, v, len);
    }
    buf_t fixed;
    buf_init(&fixed);
    for (size_t i = 0; i < len;) {
        uint32_t r;
        int w = labels__utf8_decode((const unsigned char *)v + i, len - i, &r);
        buf_append(&fixed, w > 0 ? v + i : "\xef\xbf\xbd", w > 0 ? (size_t)w : 3);
        i += w > 0 ? (size_t)w : 1;
    }
    int rc = pcre_match_utf8(code, fixed.data, fixed.len);
    buf_fini(&fixed);
    return rc;
}

static void code_free(void *code)
{
    pcre2_code_free(code);
}

static int compile_regex(matcher_t *m, const char *pattern, size_t len, err_t *err)
{
    /* Not PCRE2_MATCH_INVALID_UTF: pcre_match hands pcre2 valid UTF-8 only (and 10.42's JIT
     * mismatches \D and \W on multibyte characters under that option). */
    const uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ANCHORED |
                          PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C |
                          (m->flags & MATCHER_AM_REGEX ? 0 : PCRE2_DOTALL);
    int code_err;
    PCRE2_SIZE off;
    m->code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &code_err, &off, NULL);
    if (m->code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code_err, msg, sizeof(msg));
        return err_set(err, ERR_BAD_DATA, "error parsing regexp: %s: `%s`", (char *)msg, m->value);
    }
    pcre2_jit_compile(m->code, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs */
    if (m->arena != NULL && arena_on_free(m->arena, code_free, m->code) != 0) {
        pcre2_code_free(m->code);
        m->code = NULL;
        return err_set(err, ERR_EXECUTION, "memory budget exceeded while compiling a regex");
    }
    return 0;
}

/* ---- construction ---------------------------------------------------------------------- */

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Copies the analysed literal set into the matcher, sorted and without repeats. */
static int take_set(matcher_t *m, char **set, size_t n)
{
    m->set = m_alloc(m, n * sizeof(char *));
    if (m->set == NULL) {
        return -1;
    }
    qsort(set, n, sizeof(char *), str_ptr_cmp);
    m->n_set = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(set[i], set[i - 1]) == 0) {
            continue;
        }
        if ((m->set[m->n_set++] = m_strdup(m, set[i])) == NULL) {
            return -1;
        }
    }
    return 0;
}

static int take_analysis(matcher_t *m, re_analysis_t *an)
{
    m->fast = an->fast;
    if (an->fast == RE_FAST_SET && take_set(m, an->set, an->n_set) != 0) {
        return -1;
    }
    if (an->lit != NULL) {
        m->lit_len = strlen(an->lit);
        if ((m->lit = m_strdup(m, an->lit)) == NULL) {
            return -1;
        }
    }
    m->prefix = m->type == MATCH_RE ? m_strdup(m, an->prefix) : "";
    return m->prefix != NULL ? 0 : -1;
}

static int build_regex(matcher_t *m, err_t *err)
{
    buf_t pattern;
    buf_init(&pattern);
    re_analysis_t an = {0};
    int rc = -1;
    if (matchers__re_translate(m->value, &pattern, err) != 0) {
        goto done;
    }
    matchers__re_analyse(m->value, &an);
    if (take_analysis(m, &an) != 0) {
        err_set(err, ERR_EXECUTION, "memory budget exceeded while building a matcher");
        goto done;
    }
    /* Without dotall the `.` fast paths only hold for values without a newline; pcre2
     * decides the others. */
    int need_code = m->fast == RE_FAST_NONE ||
                    (m->fast != RE_FAST_SET && (m->flags & MATCHER_AM_REGEX));
    rc = need_code ? compile_regex(m, pattern.data ? pattern.data : "", pattern.len, err) : 0;
done:
    matchers__re_analysis_fini(&an);
    buf_fini(&pattern);
    return rc;
}

static int build_equal(matcher_t *m)
{
    m->fast = RE_FAST_SET;
    m->set = m_alloc(m, sizeof(char *));
    if (m->set == NULL) {
        return -1;
    }
    m->set[0] = m->value;
    m->n_set = 1;
    m->prefix = m->type == MATCH_EQ ? m->value : "";
    return 0;
}

static int build(matcher_t *m, match_type_t type, const char *name, const char *value,
                 unsigned flags, err_t *err)
{
    m->type = type;
    m->flags = flags;
    m->name = m_strdup(m, name);
    m->value = m_strdup(m, value != NULL ? value : "");
    if (m->name == NULL || m->value == NULL) {
        return err_set(err, ERR_EXECUTION, "memory budget exceeded while building a matcher");
    }
    if (type == MATCH_RE || type == MATCH_NRE) {
        if (build_regex(m, err) != 0) {
            return -1;
        }
    } else if (build_equal(m) != 0) {
        return err_set(err, ERR_EXECUTION, "memory budget exceeded while building a matcher");
    }
    m->matches_empty = matcher_matches(m, "");
    return 0;
}

matcher_t *matcher_new_flags(match_type_t type, const char *name, const char *value,
                             unsigned flags, err_t *err)
{
    matcher_t *m = xcalloc(1, sizeof(*m));
    if (build(m, type, name, value, flags, err) != 0) {
        matcher_free(m);
        return NULL;
    }
    return m;
}

matcher_t *matcher_new(match_type_t type, const char *name, const char *value, err_t *err)
{
    return matcher_new_flags(type, name, value, 0, err);
}

void matcher_free(matcher_t *m)
{
    if (m == NULL || m->arena != NULL) {
        return;
    }
    pcre2_code_free(m->code);
    for (size_t i = 0; i < m->n_owned; i++) {
        free(m->owned[i]);
    }
    free(m->owned);
    free(m);
}

matcher_t *matcher_new_arena_flags(arena_t *a, match_type_t type, const char *name,
                                   const char *value, unsigned flags, err_t *err)
{
    matcher_t *m = arena_calloc(a, sizeof(*m));
    if (m == NULL) {
        err_set(err, ERR_EXECUTION, "memory budget exceeded while building a matcher");
        return NULL;
    }
    m->arena = a;
    return build(m, type, name, value, flags, err) == 0 ? m : NULL;
}

matcher_t *matcher_new_arena(arena_t *a, match_type_t type, const char *name, const char *value,
                             err_t *err)
{
    return matcher_new_arena_flags(a, type, name, value, 0, err);
}

/* ---- matching -------------------------------------------------------------------------- */

static int set_contains(const matcher_t *m, const char *v)
{
    if (m->n_set == 1) {
        return strcmp(m->set[0], v) == 0;
    }
    size_t lo = 0, hi = m->n_set;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->set[mid], v);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

static int has_suffix(const char *v, const char *lit, size_t lit_len)
{
    size_t len = strlen(v);
    return len >= lit_len && memcmp(v + len - lit_len, lit, lit_len) == 0;
}

/* Whether v matches, ignoring the negation of != and !~. */
static int raw_match(const matcher_t *m, const char *v)
{
    if (m->code != NULL && m->fast != RE_FAST_NONE && strchr(v, '\n') != NULL) {
        return pcre_match(m->code, v); /* MATCHER_AM_REGEX: `.` stops at newlines */
    }
    switch (m->fast) {
    case RE_FAST_SET:
        return set_contains(m, v);
    case RE_FAST_ANY:
        return 1;
    case RE_FAST_NONEMPTY:
        return v[0] != '\0';
    case RE_FAST_PREFIX:
        return strncmp(v, m->lit, m->lit_len) == 0;
    case RE_FAST_PREFIX1:
        return strncmp(v, m->lit, m->lit_len) == 0 && v[m->lit_len] != '\0';
    case RE_FAST_SUFFIX:
        return has_suffix(v, m->lit, m->lit_len);
    case RE_FAST_CONTAINS:
        return strstr(v, m->lit) != NULL;
    case RE_FAST_NONE:
        break;
    }
    return pcre_match(m->code, v);
}

int matcher_matches(const matcher_t *m, const char *value)
{
    int r = raw_match(m, value != NULL ? value : "");
    return m->type == MATCH_NEQ || m->type == MATCH_NRE ? !r : r;
}

int matcher_matches_labels(const matcher_t *m, const labels_t *ls)
{
    return matcher_matches(m, labels_get(ls, m->name));
}

int matcher_matches_empty(const matcher_t *m)
{
    return m->matches_empty;
}

/* ---- accessors ------------------------------------------------------------------------- */

match_type_t matcher_type(const matcher_t *m)
{
    return m->type;
}

const char *matcher_name(const matcher_t *m)
{
    return m->name;
}

const char *matcher_value(const matcher_t *m)
{
    return m->value;
}

int matcher_set_values(const matcher_t *m, const char *const **vals)
{
    if ((m->type != MATCH_EQ && m->type != MATCH_RE) || m->fast != RE_FAST_SET) {
        return -1;
    }
    *vals = m->set;
    return (int)m->n_set;
}

const char *matcher_prefix(const matcher_t *m)
{
    return m->prefix;
}

void matcher_format(const matcher_t *m, buf_t *out)
{
    labels__put_name(out, m->name);
    buf_puts(out, type_ops[m->type]);
    labels_quote(out, m->value, strlen(m->value));
}
