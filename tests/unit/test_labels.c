/* tests/unit/test_labels.c - label sets: construction, order, hashing, interning, builder,
 * quoting, parsing and formatting. */
#include <pthread.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/labels.h"
#include "test.h"

/* Formats ls with labels_format into a static buffer (tests only). */
static const char *fmt(const labels_t *ls)
{
    static char out[1024];
    buf_t b;
    buf_init(&b);
    labels_format(ls, &b);
    snprintf(out, sizeof(out), "%s", b.data);
    buf_fini(&b);
    return out;
}

static const char *quote(const char *s, size_t n)
{
    static char out[1024];
    buf_t b;
    buf_init(&b);
    labels_quote(&b, s, n);
    snprintf(out, sizeof(out), "%s", b.data);
    buf_fini(&b);
    return out;
}

TEST(labels_new_sorts_and_drops_empty_values)
{
    err_t err = {0};
    label_t in[] = {{"job", "api"}, {"__name__", "up"}, {"env", ""}, {"az", "b"}};
    labels_t *ls = labels_new(in, 4, &err);
    ASSERT_NOT_NULL(ls);
    ASSERT_EQ(labels_len(ls), 3);
    ASSERT_STR_EQ(labels_at(ls, 0).name, "__name__");
    ASSERT_STR_EQ(labels_at(ls, 1).name, "az");
    ASSERT_STR_EQ(labels_at(ls, 2).value, "api");
    ASSERT_STR_EQ(labels_get(ls, "job"), "api");
    ASSERT_NULL(labels_get(ls, "env"));
    ASSERT_NULL(labels_get(ls, "zzz"));
    ASSERT_STR_EQ(fmt(ls), "{__name__=\"up\", az=\"b\", job=\"api\"}");
    labels_unref(ls);
}

TEST(labels_rejects_duplicate_names)
{
    err_t err = {0};
    label_t in[] = {{"job", "api"}, {"a", "1"}, {"job", "db"}};
    ASSERT_NULL(labels_new(in, 3, &err));
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    ASSERT_STR_EQ(err.msg, "label set has duplicate label name: \"job\"");
}

TEST(labels_empty_set_is_shared)
{
    err_t err = {0};
    label_t in[] = {{"a", ""}};
    labels_t *ls = labels_new(in, 1, &err);
    ASSERT_TRUE(ls == labels_empty());
    ASSERT_EQ(labels_len(ls), 0);
    ASSERT_STR_EQ(fmt(ls), "{}");
    labels_unref(ls); /* no-op on the shared empty set */
    ASSERT_EQ(labels_len(labels_empty()), 0);
}

TEST(labels_get_binary_search_on_large_sets)
{
    err_t err = {0};
    label_t in[40];
    char names[40][8], values[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "n%02d", 39 - i);
        snprintf(values[i], sizeof(values[i]), "v%d", 39 - i);
        in[i] = (label_t){names[i], values[i]};
    }
    labels_t *ls = labels_new(in, 40, &err);
    ASSERT_NOT_NULL(ls);
    for (int i = 0; i < 40; i++) {
        char n[8], v[8];
        snprintf(n, sizeof(n), "n%02d", i);
        snprintf(v, sizeof(v), "v%d", i);
        ASSERT_STR_EQ(labels_get(ls, n), v);
        ASSERT_STR_EQ(labels_at(ls, (size_t)i).name, n);
    }
    ASSERT_NULL(labels_get(ls, "n40"));
    ASSERT_NULL(labels_get(ls, "a"));
    labels_unref(ls);
}

/* Prometheus labels.Compare: names, then values, pairwise; then length. */
TEST(labels_cmp_matches_prometheus_order)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    const char *sorted[] = {
        "{a=\"1\"}",
        "{a=\"1\", b=\"1\"}",
        "{a=\"1\", b=\"2\"}",
        "{a=\"10\"}",
        "{a=\"2\"}",
        "{aa=\"0\"}",
        "{b=\"0\"}",
    };
    size_t n = sizeof(sorted) / sizeof(sorted[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            labels_t *x = labels_parse(a, sorted[i], &err);
            labels_t *y = labels_parse(a, sorted[j], &err);
            ASSERT_NOT_NULL(x);
            ASSERT_NOT_NULL(y);
            int want = (i > j) - (i < j);
            ASSERT_EQ(labels_cmp(x, y), want);
            ASSERT_EQ(labels_equal(x, y), i == j);
        }
    }
    arena_free(a);
}

TEST(labels_hash_equal_sets_equal_hashes)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    label_t in1[] = {{"b", "2"}, {"a", "1"}};
    label_t in2[] = {{"a", "1"}, {"b", "2"}};
    label_t in3[] = {{"a", "1"}, {"b", "3"}};
    label_t in4[] = {{"a", "1b"}, {"", "2"}};
    labels_t *x = labels_new(in1, 2, &err);
    labels_t *y = labels_new_arena(a, in2, 2, &err);
    labels_t *z = labels_new(in3, 2, &err);
    labels_t *w = labels_new(in4, 2, &err);
    ASSERT_EQ(labels_hash(x), labels_hash(y));
    ASSERT_TRUE(labels_equal(x, y));
    ASSERT_NE(labels_hash(x), labels_hash(z));
    ASSERT_NE(labels_hash(x), labels_hash(w)); /* separators keep "a"+"1b" apart */
    ASSERT_FALSE(labels_equal(x, w));
    labels_unref(x);
    labels_unref(z);
    labels_unref(w);
    labels_unref(y); /* arena set: no-op */
    arena_free(a);
}

TEST(labels_hash_subset)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    labels_t *x = labels_parse(a, "up{job=\"a\", instance=\"i1\", env=\"prod\"}", &err);
    labels_t *y = labels_parse(a, "up{job=\"a\", instance=\"i2\", env=\"prod\"}", &err);
    labels_t *z = labels_parse(a, "{job=\"a\", env=\"prod\"}", &err);
    const char *by[] = {"env", "job"};
    const char *inst[] = {"instance", "__name__"};
    ASSERT_EQ(labels_hash_subset(x, by, 2, 1), labels_hash_subset(y, by, 2, 1));
    ASSERT_EQ(labels_hash_subset(x, by, 2, 1), labels_hash(z));
    ASSERT_EQ(labels_hash_subset(x, inst, 2, 0), labels_hash(z));
    ASSERT_EQ(labels_hash_subset(x, inst, 1, 0), labels_hash_subset(y, inst, 1, 0));
    ASSERT_NE(labels_hash_subset(x, inst, 1, 1), labels_hash_subset(y, inst, 1, 1));
    ASSERT_EQ(labels_hash_subset(x, NULL, 0, 0), labels_hash(x));
    ASSERT_EQ(labels_hash_subset(x, NULL, 0, 1), labels_hash(labels_empty()));
    arena_free(a);
}

TEST(labels_intern_refcounts)
{
    err_t err = {0};
    size_t before = labels_intern_count();
    label_t in[] = {{"job", "intern-test"}, {"x", "1"}};
    labels_t *tmp = labels_new(in, 2, &err);
    labels_t *i1 = labels_intern(tmp);
    labels_t *i2 = labels_intern(tmp);
    ASSERT_TRUE(i1 == i2);
    ASSERT_TRUE(i1 != tmp);
    ASSERT_EQ(labels_intern_count(), before + 1);
    ASSERT_TRUE(labels_intern(i1) == i1); /* interning an interned set is a ref */
    labels_unref(tmp);
    labels_unref(i1);
    labels_unref(i2);
    ASSERT_EQ(labels_intern_count(), before + 1);
    ASSERT_STR_EQ(labels_get(i1, "job"), "intern-test");
    labels_unref(i1); /* last reference: leaves the table */
    ASSERT_EQ(labels_intern_count(), before);
    arena_t *a = arena_new(0, NULL);
    labels_t *from_arena = labels_parse(a, "{job=\"intern-test\", x=\"1\"}", &err);
    labels_t *i3 = labels_intern(from_arena);
    arena_free(a);
    ASSERT_STR_EQ(labels_get(i3, "x"), "1"); /* the interned copy outlives the arena */
    ASSERT_EQ(labels_intern_count(), before + 1);
    labels_unref(i3);
    ASSERT_EQ(labels_intern_count(), before);
    ASSERT_TRUE(labels_intern(labels_empty()) == labels_empty());
}

#define INTERN_THREADS 4
#define INTERN_ROUNDS 20000

static void *intern_worker(void *arg)
{
    err_t err = {0};
    char v[16];
    for (int i = 0; i < INTERN_ROUNDS; i++) {
        snprintf(v, sizeof(v), "%d", i % 37);
        label_t in[] = {{"k", v}};
        labels_t *tmp = labels_new(in, 1, &err);
        labels_t *s = labels_intern(tmp);
        labels_unref(tmp);
        if (strcmp(labels_get(s, "k"), v) != 0) {
            *(int *)arg = 1;
        }
        labels_unref(s);
    }
    return NULL;
}

TEST(labels_intern_concurrent)
{
    size_t before = labels_intern_count();
    pthread_t th[INTERN_THREADS];
    int bad = 0;
    for (int i = 0; i < INTERN_THREADS; i++) {
        pthread_create(&th[i], NULL, intern_worker, &bad);
    }
    for (int i = 0; i < INTERN_THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(labels_intern_count(), before);
}

TEST(labels_builder_set_del_keep)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    labels_t *base = labels_parse(a, "up{job=\"a\", instance=\"i\", env=\"prod\"}", &err);
    labels_builder_t *b = labels_builder_new(a, base);
    labels_builder_set(b, "job", "b");
    labels_builder_set(b, "zone", "z1");
    labels_builder_del(b, "instance");
    labels_builder_set(b, "env", ""); /* "" deletes */
    ASSERT_STR_EQ(fmt(labels_builder_build(b)), "{__name__=\"up\", job=\"b\", zone=\"z1\"}");
    const char *keep[] = {"zone", "job"};
    labels_builder_keep(b, keep, 2, 1);
    ASSERT_STR_EQ(fmt(labels_builder_build(b)), "{job=\"b\", zone=\"z1\"}");
    labels_builder_reset(b, base);
    const char *drop[] = {"__name__"};
    labels_builder_keep(b, drop, 1, 0);
    labels_t *h = labels_builder_build_heap(b);
    ASSERT_STR_EQ(fmt(h), "{env=\"prod\", instance=\"i\", job=\"a\"}");
    ASSERT_STR_EQ(fmt(base), "{__name__=\"up\", env=\"prod\", instance=\"i\", job=\"a\"}");
    labels_unref(h);
    labels_builder_reset(b, NULL);
    ASSERT_EQ(labels_len(labels_builder_build(b)), 0);
    arena_free(a);
}

TEST(labels_quote_like_go)
{
    ASSERT_STR_EQ(quote("abc", 3), "\"abc\"");
    ASSERT_STR_EQ(quote("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    ASSERT_STR_EQ(quote("\n\t\r\a\b\f\v", 7), "\"\\n\\t\\r\\a\\b\\f\\v\"");
    ASSERT_STR_EQ(quote("\x01\x7f", 2), "\"\\x01\\x7f\"");
    ASSERT_STR_EQ(quote("\0", 1), "\"\\x00\"");
    ASSERT_STR_EQ(quote("h\xc3\xa9llo \xe2\x9c\x93", 10), "\"h\xc3\xa9llo \xe2\x9c\x93\"");
    ASSERT_STR_EQ(quote("\xff", 1), "\"\\xff\"");
    ASSERT_STR_EQ(quote("\xc3", 1), "\"\\xc3\"");         /* truncated sequence */
    ASSERT_STR_EQ(quote("\xc0\xaf", 2), "\"\\xc0\\xaf\""); /* overlong */
    ASSERT_STR_EQ(quote("\xed\xa0\x80", 3), "\"\\xed\\xa0\\x80\""); /* surrogate */
    ASSERT_STR_EQ(quote("\xc2\xa0", 2), "\"\\u00a0\"");     /* no-break space */
    ASSERT_STR_EQ(quote("\xc2\x85", 2), "\"\\u0085\"");     /* C1 control */
    ASSERT_STR_EQ(quote("\xe2\x80\xa8", 3), "\"\\u2028\""); /* line separator */
    ASSERT_STR_EQ(quote("\xef\xbb\xbf", 3), "\"\\ufeff\""); /* BOM */
    ASSERT_STR_EQ(quote("\xf3\xa0\x80\x81", 4), "\"\\U000e0001\"");
    ASSERT_STR_EQ(quote("\xf0\x9f\x98\x80", 4), "\"\xf0\x9f\x98\x80\""); /* emoji printable */
    ASSERT_STR_EQ(quote("\xef\xbf\xbd", 3), "\"\xef\xbf\xbd\"");         /* U+FFFD printable */
    ASSERT_STR_EQ(quote("\xef\xbf\xbf", 3), "\"\\uffff\"");
}

TEST(labels_unquote_escapes)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    size_t used = 0;
    struct {
        const char *in, *out;
        size_t used;
    } ok[] = {
        {"\"abc\" rest", "abc", 5},
        {"'a\"b'", "a\"b", 5},
        {"\"a\\\"b\"", "a\"b", 6},
        {"'a\\'b'", "a'b", 6},
        {"`raw\\n\"`", "raw\\n\"", 8},
        {"\"\\n\\t\\r\\a\\b\\f\\v\\\\\"", "\n\t\r\a\b\f\v\\", 18},
        {"\"\\x41\\101\\u00e9\\U0001F600\"", "AA\xc3\xa9\xf0\x9f\x98\x80", 26},
        {"\"\\377\"", "\xff", 6},
        {"\"\"", "", 2},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *v = labels_unquote(a, ok[i].in, &used, &err);
        ASSERT_STR_EQ(v, ok[i].out);
        ASSERT_EQ(used, ok[i].used);
    }
    const char *bad[][2] = {
        {"\"abc", "unterminated quoted string"},
        {"\"a\nb\"", "unterminated quoted string"},
        {"`abc", "unterminated quoted string"},
        {"\"\\q\"", "unknown escape sequence"},
        {"'\\\"'", "unknown escape sequence"},
        {"\"\\400\"", "escape sequence is an invalid Unicode code point"},
        {"\"\\ud800\"", "escape sequence is an invalid Unicode code point"},
        {"\"\\U00110000\"", "escape sequence is an invalid Unicode code point"},
        {"\"\\x4\"", "illegal character in escape sequence"},
        {"\"\\", "escape sequence not terminated"},
        {"abc", "string literal must start with a quote"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&err);
        ASSERT_NULL(labels_unquote(a, bad[i][0], &used, &err));
        ASSERT_STR_EQ(err.msg, bad[i][1]);
    }
    arena_free(a);
}

TEST(labels_parse_forms)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    const char *cases[][2] = {
        {"up", "{__name__=\"up\"}"},
        {"  up  ", "{__name__=\"up\"}"},
        {"up{}", "{__name__=\"up\"}"},
        {"{}", "{}"},
        {"ns:rate5m{job='x'}", "{__name__=\"ns:rate5m\", job=\"x\"}"},
        {"{b=\"2\" , a = \"1\",}", "{a=\"1\", b=\"2\"}"},
        {"{\"my.metric\", \"ünï\"=`v`}", "{__name__=\"my.metric\", \"ünï\"=\"v\"}"},
        {"{a=\"x\\ny\\\"\"}", "{a=\"x\\ny\\\"\"}"},
        {"{a=\"\"}", "{}"},
        {"{a=\"\\u00a0\"}", "{a=\"\\u00a0\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        labels_t *ls = labels_parse(a, cases[i][0], &err);
        ASSERT_TRUE(!err_is_set(&err) || (fprintf(stderr, "%s\n", err.msg), 0));
        ASSERT_NOT_NULL(ls);
        ASSERT_STR_EQ(fmt(ls), cases[i][1]);
        /* format -> parse is the identity */
        labels_t *again = labels_parse(a, fmt(ls), &err);
        ASSERT_NOT_NULL(again);
        ASSERT_TRUE(labels_equal(ls, again));
    }
    arena_free(a);
}

TEST(labels_parse_errors)
{
    arena_t *a = arena_new(0, NULL);
    const char *cases[][2] = {
        {"", "1:1: parse error: expected metric name or \"{\""},
        {"{a=\"1\"", "1:7: parse error: expected \",\" or \"}\" after label"},
        {"{a=1}", "1:4: parse error: expected quoted string"},
        {"{a}", "1:3: parse error: expected \"=\" after label name"},
        {"{a=\"x} ", "1:4: parse error: unterminated quoted string"},
        {"{a=\"\\z\"}", "1:5: parse error: unknown escape sequence"},
        {"up{} x", "1:6: parse error: unexpected character after label set"},
        {"{a=\"1\",a=\"2\"}", "label set has duplicate label name: \"a\""},
        {"{", "1:2: parse error: unexpected end of input inside braces"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        ASSERT_NULL(labels_parse(a, cases[i][0], &err));
        ASSERT_EQ(err.code, ERR_BAD_DATA);
        ASSERT_STR_EQ(err.msg, cases[i][1]);
    }
    arena_free(a);
}

TEST(labels_format_series_notation)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    const char *cases[][2] = {
        {"up", "up"},
        {"up{job=\"x\", a=\"b\"}", "up{a=\"b\", job=\"x\"}"},
        {"{job=\"x\"}", "{job=\"x\"}"},
        {"{\"my.metric\", job=\"x\"}", "{\"my.metric\", job=\"x\"}"},
        {"{\"my.metric\"}", "{\"my.metric\"}"},
        {"{}", "{}"},
        {"m{\"a b\"=\"1\"}", "m{\"a b\"=\"1\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        labels_t *ls = labels_parse(a, cases[i][0], &err);
        ASSERT_NOT_NULL(ls);
        buf_t b;
        buf_init(&b);
        labels_format_series(ls, &b);
        ASSERT_STR_EQ(b.data, cases[i][1]);
        labels_t *again = labels_parse(a, b.data, &err);
        buf_fini(&b);
        ASSERT_NOT_NULL(again);
        ASSERT_TRUE(labels_equal(ls, again));
    }
    arena_free(a);
}

TEST(labels_validity)
{
    ASSERT_TRUE(labels_is_valid_name("job_1", 5));
    ASSERT_TRUE(labels_is_valid_name("_x", 2));
    ASSERT_FALSE(labels_is_valid_name("1x", 2));
    ASSERT_FALSE(labels_is_valid_name("a:b", 3));
    ASSERT_FALSE(labels_is_valid_name("", 0));
    ASSERT_TRUE(labels_is_valid_metric_name("a:b_c", 5));
    ASSERT_TRUE(labels_is_valid_metric_name(":x", 2));
    ASSERT_FALSE(labels_is_valid_metric_name("a.b", 3));
    ASSERT_TRUE(labels_is_valid_utf8("h\xc3\xa9", 3));
    ASSERT_FALSE(labels_is_valid_utf8("\xc3", 1));
    ASSERT_FALSE(labels_is_valid_utf8("\xe0\x80\x80", 3));
    ASSERT_FALSE(labels_is_valid_utf8("\xf4\x90\x80\x80", 4));
    ASSERT_TRUE(labels_is_valid_utf8("\xf4\x8f\xbf\xbf", 4));
}

TEST(labels_arena_budget_fails_cleanly)
{
    err_t aerr = {0}, err = {0};
    arena_t *a = arena_new(64, &aerr);
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    label_t in[] = {{"a", big}};
    ASSERT_NULL(labels_new_arena(a, in, 1, &err));
    ASSERT_EQ(err.code, ERR_EXECUTION);
    arena_free(a);
}
