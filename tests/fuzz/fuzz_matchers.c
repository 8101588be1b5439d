/* tests/fuzz/fuzz_matchers.c - libFuzzer target for label-set and matcher parsing.
 * The first input byte picks a mode, the rest is the text:
 *   0: labels_parse; invariant: format -> parse gives an equal set.
 *   1: PromQL selector, 2: Alertmanager UTF-8 matchers; invariant: formatting the parsed
 *      matchers as `{m1,m2}` and parsing that again gives the same matchers.
 *   3: Alertmanager fallback mode (classic, then UTF-8): parsed without a crash or leak
 *      (its classic half does not read Go's escapes, so formatting does not round-trip).
 *   4: "regex\0subject"; invariant: the fast-path matcher and the same pattern forced
 *      through pcre2 (behind a leading (?s)) agree on the subject. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/labels.h"
#include "common/matchers.h"

static void check_labels(arena_t *a, const char *s)
{
    err_t err = {0};
    labels_t *ls = labels_parse(a, s, &err);
    if (ls == NULL) {
        return;
    }
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    err_clear(&err);
    labels_t *again = labels_parse(a, b.data, &err);
    if (again == NULL || !labels_equal(ls, again)) {
        abort();
    }
    buf_fini(&b);
}

static void format_all(matcher_t **ms, size_t n, buf_t *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            buf_putc(out, ',');
        }
        matcher_format(ms[i], out);
    }
    buf_putc(out, '}');
}

static void check_matchers(arena_t *a, const char *s, int syntax)
{
    err_t err = {0};
    size_t n = 0, n2 = 0;
    matcher_t **ms = matchers_parse(a, s, &n, syntax, &err);
    if (ms == NULL || syntax == MATCHERS_AM) {
        return;
    }
    buf_t first, second;
    buf_init(&first);
    buf_init(&second);
    format_all(ms, n, &first);
    err_clear(&err);
    matcher_t **again = matchers_parse(a, first.data, &n2, syntax, &err);
    if (again == NULL) {
        abort();
    }
    format_all(again, n2, &second);
    if (n != n2 || strcmp(first.data, second.data) != 0) {
        abort();
    }
    buf_fini(&first);
    buf_fini(&second);
}

static void check_regex(arena_t *a, const char *data, size_t size)
{
    size_t re_len = strnlen(data, size);
    if (re_len == size || re_len > 200) {
        return;
    }
    const char *re = data;
    char *subject = arena_strndup(a, data + re_len + 1, size - re_len - 1);
    err_t err = {0};
    matcher_t *fast = matcher_new_arena(a, MATCH_RE, "l", re, &err);
    char *slow_re = arena_sprintf(a, "(?s)(?:%s)", re);
    err_clear(&err);
    matcher_t *slow = matcher_new_arena(a, MATCH_RE, "l", slow_re, &err);
    if (fast != NULL && slow != NULL &&
        matcher_matches(fast, subject) != matcher_matches(slow, subject)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    arena_t *a = arena_new(1u << 22, NULL);
    const char *text = (const char *)data + 1;
    char *s = arena_strndup(a, text, size - 1);
    static const int syntaxes[] = {0, MATCHERS_PROMQL, MATCHERS_AM_UTF8, MATCHERS_AM};
    switch (data[0] % 5) {
    case 0:
        check_labels(a, s);
        break;
    case 1:
    case 2:
    case 3:
        check_matchers(a, s, syntaxes[data[0] % 5]);
        break;
    default:
        check_regex(a, text, size - 1);
        break;
    }
    arena_free(a);
    return 0;
}
