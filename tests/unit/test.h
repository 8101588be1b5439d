/* tests/unit/test.h - the unit-test harness: each tests/unit/test_<module>.c is one program
 * that includes this header once. TEST(name) registers a test; ASSERT_* print both sides
 * and fail the current test. The program prints one line per failure and ends with
 * "N passed, N failed"; exit status 1 if any failed. Run one test: ./test_x name. */
#ifndef HERALD_TESTS_TEST_H
#define HERALD_TESTS_TEST_H
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
} test_case_t;

static test_case_t *test_list_, **test_tail_ = &test_list_;
static jmp_buf test_jmp_;
static const char *test_current_;

#define TEST(name)                                                                          \
    static void test_##name(void);                                                          \
    static test_case_t test_case_##name = {#name, test_##name, NULL};                       \
    __attribute__((constructor)) static void test_reg_##name(void)                          \
    {                                                                                       \
        *test_tail_ = &test_case_##name;                                                    \
        test_tail_ = &test_case_##name.next;                                                \
    }                                                                                       \
    static void test_##name(void)

#define TEST_FAIL_(...)                                                                     \
    do {                                                                                    \
        fprintf(stderr, "FAIL %s (%s:%d): ", test_current_, __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                                       \
        fputc('\n', stderr);                                                                \
        longjmp(test_jmp_, 1);                                                              \
    } while (0)

#define ASSERT_TRUE(c)                                                                      \
    do {                                                                                    \
        if (!(c)) TEST_FAIL_("expected true: %s", #c);                                      \
    } while (0)
#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))
#define ASSERT_NULL(p)                                                                      \
    do {                                                                                    \
        const void *p_ = (p);                                                               \
        if (p_ != NULL) TEST_FAIL_("expected NULL: %s", #p);                                \
    } while (0)
#define ASSERT_NOT_NULL(p)                                                                  \
    do {                                                                                    \
        const void *p_ = (p);                                                               \
        if (p_ == NULL) TEST_FAIL_("expected non-NULL: %s", #p);                            \
    } while (0)
#define ASSERT_EQ(a, b)                                                                     \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                 \
    } while (0)
#define ASSERT_NE(a, b)                                                                     \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ == b_) TEST_FAIL_("%s != %s: both %lld", #a, #b, a_);                        \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                 \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",            \
                       b_ ? b_ : "(null)");                                                 \
    } while (0)
#define ASSERT_DBL_EQ(a, b)                                                                 \
    do {                                                                                    \
        double a_ = (a), b_ = (b);                                                          \
        if (!(a_ == b_ || (isnan(a_) && isnan(b_)) || fabs(a_ - b_) <= 1e-9 * fabs(b_)))    \
            TEST_FAIL_("%s == %s: %.17g != %.17g", #a, #b, a_, b_);                         \
    } while (0)

int main(int argc, char **argv)
{
    volatile int passed = 0, failed = 0;
    for (test_case_t *volatile t = test_list_; t != NULL; t = t->next) {
        if (argc > 1 && strcmp(argv[1], t->name) != 0) {
            continue;
        }
        test_current_ = t->name;
        if (setjmp(test_jmp_) == 0) {
            t->fn();
            passed++;
        } else {
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
