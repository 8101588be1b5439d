/* tests/unit/test_matchers.c - matchers: RE2 semantics on pcre2, fast paths against the
 * regex engine, set values and prefixes, selector parsing (PromQL and Alertmanager forms). */
#include <pthread.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/matchers.h"
#include "test.h"

/* Expected Go regexp results of `^(?s:re)$` for a table of patterns and inputs. */
static const struct {
    const char *re, *in;
    int want;
} re_table[] = {
    {"foo", "foo", 1},         {"foo", "foox", 0},       {"foo", "", 0},
    {"", "", 1},               {"", "x", 0},             {"foo|bar", "bar", 1},
    {"foo|bar", "foobar", 0},  {"foo|bar|", "", 1},      {"(foo|bar)", "foo", 1},
    {"(?:a|b|c)", "c", 1},     {"(?:a|b|c)", "d", 0},    {"a\\.b", "a.b", 1},
    {"a\\.b", "axb", 0},       {"a.b", "axb", 1},        {"a.b", "a\nb", 1},
    {".*", "", 1},             {".*", "any\nthing", 1},  {".+", "", 0},
    {".+", "x", 1},            {"foo.*", "foo", 1},      {"foo.*", "foobar\n", 1},
    {"foo.*", "xfoo", 0},      {"foo.+", "foo", 0},      {"foo.+", "food", 1},
    {".*bar", "foobar", 1},    {".*bar", "barx", 0},     {".*oo.*", "foo", 1},
    {".*oo.*", "fo", 0},       {"a$", "a\n", 0},         {"a\\z", "a", 1},
    {"a|ab", "ab", 1},         {"ab|a", "ab", 1},        {"(a|ab)(c|bcd)", "abcd", 1},
    {"[a-c]+", "abcabc", 1},   {"[a-c]+", "abd", 0},     {"[^a]", "\n", 1},
    {"\\d+", "123", 1},        {"\\d+", "12a", 0},       {"\\s", "\v", 0},
    {"\\s", "\t", 1},          {"[\\s]", "\v", 0},       {"\\S", "\v", 1},
    {"\\v", "\v", 1},          {"\\v", "\n", 0},         {"\\x41", "A", 1},
    {"\\x{e9}", "\xc3\xa9", 1}, {"\\101", "A", 1},       {"\\0", "", 0},
    {"\\Qa.b\\E", "a.b", 1},   {"\\Qa.b\\E", "axb", 0},  {"(?i)foo", "FoO", 1},
    {"(?i:f)oo", "Foo", 1},    {"(?i:f)oo", "FOO", 0},   {"(?-s:.)", "\n", 0},
    {"(?-s:.)", "x", 1},       {"(?m)^a$", "a", 1},      {"a{2}", "aa", 1},
    {"a{2}", "aaa", 0},        {"a{2,}", "aaaa", 1},     {"a{,2}", "a{,2}", 1},
    {"a{", "a{", 1},           {"x{1000}", "x", 0},      {"\\pL+", "h\xc3\xa9", 1},
    {"\\p{Greek}", "\xce\xb1", 1}, {".", "\xc3\xa9", 1}, {"..", "\xc3\xa9", 0},
    {"[[:alpha:]]+", "abc", 1}, {"[[:^digit:]]", "a", 1}, {"[]a]", "]", 1},
    {"[a-]", "-", 1},          {"[[]", "[", 1},          {"a}", "a}", 1},
    {"(?P<n>a)b", "ab", 1},    {"(?<n>a)b", "ab", 1},    {"\\bfoo\\b", "foo", 1},
    {"a*?", "aa", 1},          {"a+?b", "aab", 1},       {"(?U)a+", "aa", 1},
    {"foo\\.*", "foo..", 1},   {"foo\\.*", "fooxx", 0},  {"fo*", "f", 1},
    {"x|.*y", "zzy", 1},       {".*(a|b)", "xb", 1},     {"(a)|b", "b", 1},
    /* Checked against Go's regexp (Prometheus 2.42 via promtool): */
    {"\\D", "\xc3\xa9", 1},    {"\\W", "\xce\xb1", 1},   {"[\\S]", "\v", 1},
    {"[^\\s]", "\v", 1},       {"[\\d-z]", "-", 1},      {"[\\w-.]", ".", 1},
    {"[[:^alpha:][:digit:]]", "\xce\xb1", 1}, {"[[:^alpha:][:digit:]]", "a", 0},
    {"[[:word:]]", "_", 1},    {"[[:space:]]", "\v", 1},  {"(?)a", "a", 1},
    {"(?i)k", "\xe2\x84\xaa", 1}, {"(?i)\xc3\x9f", "\xe1\xba\x9e", 1},
    {"(?i)\xcf\x83", "\xcf\x82", 1}, {"[\\x41-\\x43]", "B", 1}, {"\\pZ", "\xe2\x80\xa8", 1},
    {"a{1,2,3}", "a{1,2,3}", 1}, {"\\Qa\\Eb", "ab", 1},
    {"(?im-s:a.)", "ab", 1},   {"[\\p{Lu}]", "\xc3\x89", 1}, {"\\x{10FFFF}", "\xf4\x8f\xbf\xbf", 1},
    /* Invalid UTF-8 bytes read as U+FFFD, one per byte, as Go does. */
    {"a.b", "a\xff" "b", 1},   {"a..b", "a\xc3" "b", 0},     {"\\x{FFFD}", "\xff", 1},
    {"(?s)(?:.*)", "\xff\xfe", 1}, {"[^a]+", "\xc3\xa9\xff", 1},
    /* RE2 lets assertions take quantifiers. */
    {"^*", "", 1},             {"a\\b*", "a", 1},         {"$+", "", 1},
    {"\\A?a\\z*", "a", 1},     {"(?:^)*a", "a", 1},       {"[^\\x00-\\x{10FFFF}]", "a", 0},
};

static matcher_t *must_new(match_type_t t, const char *name, const char *value)
{
    err_t err = {0};
    matcher_t *m = matcher_new(t, name, value, &err);
    if (m == NULL) {
        fprintf(stderr, "matcher_new(%s): %s\n", value, err.msg);
    }
    return m;
}

TEST(matchers_regex_table)
{
    for (size_t i = 0; i < sizeof(re_table) / sizeof(re_table[0]); i++) {
        matcher_t *m = must_new(MATCH_RE, "l", re_table[i].re);
        matcher_t *n = must_new(MATCH_NRE, "l", re_table[i].re);
        ASSERT_NOT_NULL(m);
        ASSERT_NOT_NULL(n);
        int got = matcher_matches(m, re_table[i].in);
        if (got != re_table[i].want) {
            TEST_FAIL_("%s =~ \"%s\": got %d, want %d", re_table[i].re, re_table[i].in, got,
                       re_table[i].want);
        }
        ASSERT_EQ(matcher_matches(n, re_table[i].in), !re_table[i].want);
        matcher_free(m);
        matcher_free(n);
    }
}

/* The same pattern behind a leading (?s) defeats every fast path, so pcre2 decides; both
 * must agree on every table input. */
TEST(matchers_fast_paths_agree_with_pcre2)
{
    for (size_t i = 0; i < sizeof(re_table) / sizeof(re_table[0]); i++) {
        char slow_re[256];
        snprintf(slow_re, sizeof(slow_re), "(?s)(?:%s)", re_table[i].re);
        matcher_t *fast = must_new(MATCH_RE, "l", re_table[i].re);
        matcher_t *slow = must_new(MATCH_RE, "l", slow_re);
        ASSERT_NOT_NULL(fast);
        ASSERT_NOT_NULL(slow);
        for (size_t j = 0; j < sizeof(re_table) / sizeof(re_table[0]); j++) {
            const char *in = re_table[j].in;
            if (matcher_matches(fast, in) != matcher_matches(slow, in)) {
                TEST_FAIL_("fast/slow disagree: %s on \"%s\"", re_table[i].re, in);
            }
        }
        matcher_free(fast);
        matcher_free(slow);
    }
}

TEST(matchers_regex_errors_like_go)
{
    const char *cases[][2] = {
        {"(a", "error parsing regexp: missing closing ): `(a`"},
        {"a)", "error parsing regexp: unexpected ): `a)`"},
        {"[a", "error parsing regexp: missing closing ]: `[a`"},
        {"*a", "error parsing regexp: missing argument to repetition operator: `*`"},
        {"a|*", "error parsing regexp: missing argument to repetition operator: `*`"},
        {"a**", "error parsing regexp: invalid nested repetition operator: `**`"},
        {"a*+", "error parsing regexp: invalid nested repetition operator: `*+`"},
        {"a{2}{3}", "error parsing regexp: invalid nested repetition operator: `{2}{3}`"},
        {"a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"},
        {"a{3,2}", "error parsing regexp: invalid repeat count: `{3,2}`"},
        {"(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
        {"(?!a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"},
        {"(?<=a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<`"},
        {"(?>a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?>`"},
        {"(?x)a", "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"},
        {"(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`"},
        {"\\8", "error parsing regexp: invalid escape sequence: `\\8`"},
        {"\\Z", "error parsing regexp: invalid escape sequence: `\\Z`"},
        {"\\h", "error parsing regexp: invalid escape sequence: `\\h`"},
        {"\\C", "error parsing regexp: invalid escape sequence: `\\C`"},
        {"[\\b]", "error parsing regexp: invalid escape sequence: `\\b`"},
        {"a\\", "error parsing regexp: trailing backslash at end of expression: ``"},
        {"(?P<>a)", "error parsing regexp: invalid named capture: `(?P<>`"},
        {"[[:foo:]]", "error parsing regexp: invalid character class range: `[:foo:]`"},
        {"[z-a]", "error parsing regexp: invalid character class range: `z-a`"},
        {"[\xc3\xa9-a]", "error parsing regexp: invalid character class range: `\xc3\xa9-a`"},
        {"\xff", "error parsing regexp: invalid UTF-8: `\xff`"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        ASSERT_NULL(matcher_new(MATCH_RE, "l", cases[i][0], &err));
        ASSERT_EQ(err.code, ERR_BAD_DATA);
        ASSERT_STR_EQ(err.msg, cases[i][1]);
    }
    /* Errors only pcre2 finds still use Go's prefix. */
    err_t err = {0};
    ASSERT_NULL(matcher_new(MATCH_RE, "l", "\\p{Foo}", &err));
    ASSERT_TRUE(strncmp(err.msg, "error parsing regexp: ", 22) == 0);
}

TEST(matchers_equality_and_empty)
{
    matcher_t *eq = must_new(MATCH_EQ, "job", "api");
    matcher_t *ne = must_new(MATCH_NEQ, "job", "api");
    matcher_t *eq_empty = must_new(MATCH_EQ, "job", "");
    matcher_t *re_any = must_new(MATCH_RE, "job", ".*");
    matcher_t *re_plus = must_new(MATCH_RE, "job", ".+");
    ASSERT_TRUE(matcher_matches(eq, "api"));
    ASSERT_FALSE(matcher_matches(eq, "api2"));
    ASSERT_FALSE(matcher_matches(eq, NULL));
    ASSERT_TRUE(matcher_matches(ne, NULL));
    ASSERT_FALSE(matcher_matches(ne, "api"));
    ASSERT_FALSE(matcher_matches_empty(eq));
    ASSERT_TRUE(matcher_matches_empty(ne));
    ASSERT_TRUE(matcher_matches_empty(eq_empty));
    ASSERT_TRUE(matcher_matches_empty(re_any));
    ASSERT_FALSE(matcher_matches_empty(re_plus));
    err_t err = {0};
    label_t in[] = {{"job", "api"}};
    labels_t *ls = labels_new(in, 1, &err);
    ASSERT_TRUE(matcher_matches_labels(eq, ls));
    ASSERT_FALSE(matcher_matches_labels(eq_empty, ls));
    matcher_t *other = must_new(MATCH_EQ, "env", "");
    ASSERT_TRUE(matcher_matches_labels(other, ls)); /* absent label == "" */
    labels_unref(ls);
    ASSERT_EQ(matcher_type(ne), MATCH_NEQ);
    ASSERT_STR_EQ(matcher_name(ne), "job");
    ASSERT_STR_EQ(matcher_value(ne), "api");
    matcher_free(eq);
    matcher_free(ne);
    matcher_free(eq_empty);
    matcher_free(re_any);
    matcher_free(re_plus);
    matcher_free(other);
    matcher_free(NULL);
}

TEST(matchers_set_values_and_prefix)
{
    const char *const *vals;
    matcher_t *eq = must_new(MATCH_EQ, "a", "x");
    ASSERT_EQ(matcher_set_values(eq, &vals), 1);
    ASSERT_STR_EQ(vals[0], "x");
    ASSERT_STR_EQ(matcher_prefix(eq), "x");
    matcher_t *alt = must_new(MATCH_RE, "a", "c|a|b|a");
    ASSERT_EQ(matcher_set_values(alt, &vals), 3);
    ASSERT_STR_EQ(vals[0], "a");
    ASSERT_STR_EQ(vals[2], "c");
    matcher_t *grp = must_new(MATCH_RE, "a", "(?:api-1|api-2)");
    ASSERT_EQ(matcher_set_values(grp, &vals), 2);
    ASSERT_STR_EQ(matcher_prefix(grp), "api-");
    matcher_t *nre = must_new(MATCH_NRE, "a", "x|y");
    ASSERT_EQ(matcher_set_values(nre, &vals), -1);
    ASSERT_STR_EQ(matcher_prefix(nre), "");
    struct {
        const char *re, *prefix;
        int n_set;
    } cases[] = {
        {"foo.*", "foo", -1},      {"foo.+", "foo", -1},    {"foo\\.bar.*", "foo.bar", -1},
        {"fo*", "f", -1},          {"fo+x", "fo", -1},      {"fo?", "f", -1},
        {"foo(bar|baz)", "foo", -1}, {"foo|bar.*", "", -1}, {"(?i)foo", "", -1},
        {".*foo", "", -1},         {"foo", "foo", 1},       {"h\xc3\xa9*", "h", -1},
        {"", "", 1},               {"a\\.b", "a.b", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        matcher_t *m = must_new(MATCH_RE, "a", cases[i].re);
        ASSERT_NOT_NULL(m);
        ASSERT_STR_EQ(matcher_prefix(m), cases[i].prefix);
        ASSERT_EQ(matcher_set_values(m, &vals), cases[i].n_set);
        matcher_free(m);
    }
    matcher_free(eq);
    matcher_free(alt);
    matcher_free(grp);
    matcher_free(nre);
}

TEST(matchers_arena_matchers_free_with_arena)
{
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    matcher_t *m = matcher_new_arena(a, MATCH_RE, "job", "(?i)api-[0-9]+", &err);
    ASSERT_NOT_NULL(m);
    ASSERT_TRUE(matcher_matches(m, "API-12"));
    ASSERT_FALSE(matcher_matches(m, "API-"));
    matcher_free(m); /* no-op on arena matchers */
    ASSERT_NULL(matcher_new_arena(a, MATCH_RE, "job", "(", &err));
    arena_free(a); /* also frees the pcre2 code (LeakSanitizer checks) */
}

TEST(matchers_format)
{
    struct {
        match_type_t t;
        const char *name, *value, *want;
    } cases[] = {
        {MATCH_EQ, "job", "a\"b", "job=\"a\\\"b\""},
        {MATCH_NEQ, "job", "x", "job!=\"x\""},
        {MATCH_RE, "a.b", "x\n", "\"a.b\"=~\"x\\n\""},
        {MATCH_NRE, "j", ".*", "j!~\".*\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        matcher_t *m = must_new(cases[i].t, cases[i].name, cases[i].value);
        buf_t b;
        buf_init(&b);
        matcher_format(m, &b);
        ASSERT_STR_EQ(b.data, cases[i].want);
        buf_fini(&b);
        matcher_free(m);
    }
}

/* Formats parsed matchers as "name op value;..." for comparison. */
static const char *dump(matcher_t **ms, size_t n)
{
    static char out[1024];
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        matcher_format(ms[i], &b);
        buf_putc(&b, ';');
    }
    snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
    buf_fini(&b);
    return out;
}

TEST(matchers_parse_promql)
{
    const char *cases[][2] = {
        {"up", "__name__=\"up\";"},
        {"up{job=\"a\"}", "__name__=\"up\";job=\"a\";"},
        {" { a = 'x' , b !~ `y.*` , c=~\"z\", d!=\"\" , } ",
         "a=\"x\";b!~\"y.*\";c=~\"z\";d!=\"\";"},
        {"{\"my.metric\", \"a-b\"=\"1\"}", "__name__=\"my.metric\";\"a-b\"=\"1\";"},
        {"ns:x{on=\"1\",bool=\"2\"}", "__name__=\"ns:x\";on=\"1\";bool=\"2\";"},
        {"{}", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        arena_t *a = arena_new(0, &err);
        size_t n = 99;
        matcher_t **ms = matchers_parse(a, cases[i][0], &n, 0, &err);
        if (ms == NULL) {
            TEST_FAIL_("%s: %s", cases[i][0], err.msg);
        }
        ASSERT_STR_EQ(dump(ms, n), cases[i][1]);
        arena_free(a);
    }
}

TEST(matchers_parse_promql_errors)
{
    const char *cases[][2] = {
        {"", "1:1: parse error: unexpected end of input"},
        {"{a=\"b\"", "1:7: parse error: unexpected end of input inside braces"},
        {"{a=b}", "1:4: parse error: unexpected character in label matching, expected string"},
        {"{a==\"b\"}", "1:4: parse error: unexpected character in label matching, expected "
                       "string"},
        {"{a}", "1:3: parse error: unexpected character in label matching, expected label "
                "matching operator"},
        {"{a=~\"(\"}", "error parsing regexp: missing closing ): `(`"},
        {"up{\"x\"}", "1:4: parse error: metric name must not be set twice: \"up\" or \"x\""},
        {"{a=\"b\" c=\"d\"}", "1:8: parse error: unexpected character inside braces, expected "
                              "\",\" or \"}\""},
        {"up x", "1:4: parse error: unexpected character after selector"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        arena_t *a = arena_new(0, &err);
        size_t n;
        ASSERT_NULL(matchers_parse(a, cases[i][0], &n, 0, &err));
        ASSERT_EQ(err.code, ERR_BAD_DATA);
        ASSERT_STR_EQ(err.msg, cases[i][1]);
        arena_free(a);
    }
}

TEST(matchers_parse_alertmanager)
{
    const char *cases[][2] = {
        {"foo=bar", "foo=\"bar\";"},
        {"{foo=bar}", "foo=\"bar\";"},
        {"{foo=\"bar\", baz!~\"q.*\"}", "foo=\"bar\";baz!~\"q.*\";"},
        {"foo=bar,baz=qux,", "foo=\"bar\";baz=\"qux\";"},
        {"  foo  =~  ba.r  ", "foo=~\"ba.r\";"},
        {"foo.bar=\xf0\x9f\x99\x82", "\"foo.bar\"=\"\xf0\x9f\x99\x82\";"},
        {"\"quoted name\"=\"v,w\"", "\"quoted name\"=\"v,w\";"},
        {"foo=", "foo=\"\";"},
        {"{foo=,bar!=}", "foo=\"\";bar!=\"\";"},
        {"{}", ""},
        {"", ""},
        {"a=\"\\\"q\\\"\"", "a=\"\\\"q\\\"\";"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        arena_t *a = arena_new(0, &err);
        size_t n = 99;
        matcher_t **ms = matchers_parse(a, cases[i][0], &n, MATCHERS_AM_UTF8, &err);
        if (ms == NULL) {
            TEST_FAIL_("%s: %s", cases[i][0], err.msg);
        }
        ASSERT_STR_EQ(dump(ms, n), cases[i][1]);
        /* The default (fallback) mode agrees on all of these. */
        ms = matchers_parse(a, cases[i][0], &n, MATCHERS_AM, &err);
        ASSERT_NOT_NULL(ms);
        ASSERT_STR_EQ(dump(ms, n), cases[i][1]);
        arena_free(a);
    }
}

TEST(matchers_parse_alertmanager_errors)
{
    const char *cases[][2] = {
        {"{foo=bar", "0:8: end of input: expected close brace"},
        {"foo=bar}", "0:8: }: expected opening brace"},
        {"{foo=bar}}", "9:10: }: expected end of input"},
        {"foo", "end of input: expected an operator such as '=', '!=', '=~' or '!~'"},
        {"foo bar", "4:7: unexpected bar: expected an operator such as '=', '!=', '=~' or '!~'"},
        {"foo=bar baz", "8:11: unexpected baz: expected a comma or close brace"},
        {"foo!bar", "3:5: !b: expected one of '=~'"},
        {"foo=\"bar", "4:8: \"bar: missing end \""},
        {"foo=~\"(\"", "error parsing regexp: missing closing ): `(`"},
        {"'foo'=bar", "0:1: ': invalid input"},
        {"{,}", "1:2: unexpected ,: expected label name"},
        {"a=b,,", "4:5: unexpected ,: expected a matcher or close brace after comma"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        arena_t *a = arena_new(0, &err);
        size_t n;
        ASSERT_NULL(matchers_parse(a, cases[i][0], &n, MATCHERS_AM_UTF8, &err));
        ASSERT_EQ(err.code, ERR_BAD_DATA);
        ASSERT_STR_EQ(err.msg, cases[i][1]);
        arena_free(a);
    }
}

/* Alertmanager's classic parser, and the default mode that prefers it when it accepts. */
TEST(matchers_parse_alertmanager_classic_and_fallback)
{
    const char *ok[][3] = {
        /* input, classic result, fallback result */
        {"foo=bar baz", "foo=\"bar baz\";", "foo=\"bar baz\";"},
        {"{foo=bar", "foo=\"bar\";", "foo=\"bar\";"},
        {"foo=~\"a\\.b\"", "foo=~\"a\\\\.b\";", "foo=~\"a\\\\.b\";"},
        {"a=\"x\\ny\\\"z\"", "a=\"x\\ny\\\"z\";", "a=\"x\\ny\\\"z\";"},
        {" job = api , env!=\"a,b\" ,", "job=\"api\";env!=\"a,b\";", "job=\"api\";env!=\"a,b\";"},
        {"a==b", "a=\"=b\";", "a=\"=b\";"},
        {"a=b\\", "a=\"b\\\\\";", "a=\"b\\\\\";"},
        {"{}", "", ""},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        for (int mode = 0; mode < 2; mode++) {
            err_t err = {0};
            arena_t *a = arena_new(0, &err);
            size_t n = 99;
            matcher_t **ms = matchers_parse(a, ok[i][0], &n,
                                            mode ? MATCHERS_AM : MATCHERS_AM_CLASSIC, &err);
            if (ms == NULL) {
                TEST_FAIL_("%s (mode %d): %s", ok[i][0], mode, err.msg);
            }
            ASSERT_STR_EQ(dump(ms, n), ok[i][1 + mode]);
            arena_free(a);
        }
    }
    const char *bad[][2] = {
        {"a=b,,c=d", "bad matcher format: "},
        {"foo.bar=x", "bad matcher format: foo.bar=x"},
        {"a=\"x", "matcher value contains unescaped double quote: \"x"},
        {"a=x\"y", "matcher value contains unescaped double quote: x\"y"},
        {"a=\xff", "matcher value not valid UTF-8: \xff"},
        {"1a=b", "bad matcher format: 1a=b"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err = {0};
        arena_t *a = arena_new(0, &err);
        size_t n;
        ASSERT_NULL(matchers_parse(a, bad[i][0], &n, MATCHERS_AM_CLASSIC, &err));
        ASSERT_STR_EQ(err.msg, bad[i][1]);
        arena_free(a);
    }
    /* Fallback: the UTF-8 parser rescues what the classic one rejects... */
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    size_t n;
    matcher_t **ms = matchers_parse(a, "foo.bar=x", &n, MATCHERS_AM, &err);
    ASSERT_NOT_NULL(ms);
    ASSERT_STR_EQ(dump(ms, n), "\"foo.bar\"=\"x\";");
    /* ...and when both reject the input, the classic error is reported. */
    ASSERT_NULL(matchers_parse(a, "foo bar", &n, MATCHERS_AM, &err));
    ASSERT_STR_EQ(err.msg, "bad matcher format: foo bar");
    err_clear(&err);
    ASSERT_NULL(matchers_parse(a, "x", &n, 7, &err));
    ASSERT_EQ(err.code, ERR_INTERNAL);
    arena_free(a);
}

/* Alertmanager compiles `^(?:re)$`: `.` does not cross a newline there, fast paths included. */
TEST(matchers_alertmanager_regex_semantics)
{
    const struct {
        const char *re, *in;
        int want_am, want_prom;
    } cases[] = {
        {".*", "a\nb", 0, 1},      {".+", "a\nb", 0, 1},   {"a.*", "a\nb", 0, 1},
        {"a.+", "a\nb", 0, 1},     {".*b", "a\nb", 0, 1},  {".*x.*", "x\ny", 0, 1},
        {"a.b", "a\nb", 0, 1},     {"(?s:a.b)", "a\nb", 1, 1}, {"a.*", "abc", 1, 1},
        {".*x.*", "axb", 1, 1},    {"a|b", "b", 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        matcher_t *am = matcher_new_flags(MATCH_RE, "l", cases[i].re, MATCHER_AM_REGEX, &err);
        matcher_t *prom = must_new(MATCH_RE, "l", cases[i].re);
        ASSERT_NOT_NULL(am);
        if (matcher_matches(am, cases[i].in) != cases[i].want_am ||
            matcher_matches(prom, cases[i].in) != cases[i].want_prom) {
            TEST_FAIL_("%s on \"%s\"", cases[i].re, cases[i].in);
        }
        matcher_free(am);
        matcher_free(prom);
    }
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    size_t n;
    matcher_t **ms = matchers_parse(a, "foo=~\".*\"", &n, MATCHERS_AM, &err);
    ASSERT_NOT_NULL(ms);
    ASSERT_FALSE(matcher_matches(ms[0], "x\ny"));
    ASSERT_TRUE(matcher_matches(ms[0], "xy"));
    ms = matchers_parse(a, "{foo=~\".*\"}", &n, MATCHERS_PROMQL, &err);
    ASSERT_TRUE(matcher_matches(ms[0], "x\ny"));
    arena_free(a);
}

/* Patterns that make a backtracking engine give up (pcre2's match limit) still get RE2's
 * answer: the first alternative explodes before the second, which matches, is tried. */
TEST(matchers_catastrophic_pattern_falls_back)
{
    matcher_t *m = must_new(MATCH_RE, "l", "(a|a)*b|.*c");
    char in[64];
    memset(in, 'a', 40);
    strcpy(in + 40, "xc");
    ASSERT_TRUE(matcher_matches(m, in));
    in[41] = 'b';
    ASSERT_FALSE(matcher_matches(m, in));
    strcpy(in + 40, "b");
    ASSERT_TRUE(matcher_matches(m, in));
    matcher_free(m);
}

static void *thread_match(void *arg)
{
    matcher_t *m = arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        char v[32];
        snprintf(v, sizeof(v), "api-%d", i);
        bad += !matcher_matches(m, v);
        bad += matcher_matches(m, "db-1");
    }
    return (void *)bad;
}

TEST(matchers_shared_between_threads)
{
    matcher_t *m = must_new(MATCH_RE, "job", "(?i)API-\\d+");
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, thread_match, m);
    }
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    ASSERT_EQ(bad, 0);
    matcher_free(m);
}
