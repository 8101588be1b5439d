/* tests/unit/test_gofloat.c - strconv.FormatFloat forms against outputs of Go 1.20, and a
 * randomized check that shortest forms parse back and have no shorter form that does. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/gofloat.h"
#include "test.h"

static const char *fmtf(double v, char fmt, int prec)
{
    static char out[2][1200];
    static int which;
    char *o = out[which ^= 1];
    size_t len = gofloat_format(v, fmt, prec, o, sizeof(out[0]));
    if (len != strlen(o)) {
        return "<length mismatch>";
    }
    return o;
}

typedef struct {
    double v;
    char fmt;
    int prec;
    const char *want;
} go_case_t;

/* Outputs of strconv.FormatFloat(v, fmt, prec, 64). */
static const go_case_t go_cases[] = {
    {0, 'g', -1, "0"},
    {0, 'e', -1, "0e+00"},
    {0, 'f', -1, "0"},
    {-0.0, 'g', -1, "-0"},
    {-0.0, 'f', 2, "-0.00"},
    {0, 'e', 3, "0.000e+00"},
    {0, 'g', 3, "0"},
    {1e21, 'g', -1, "1e+21"},
    {1e21, 'G', -1, "1E+21"},
    {1e21, 'e', -1, "1e+21"},
    {1e21, 'f', -1, "1000000000000000000000"},
    {1e20, 'g', -1, "1e+20"},
    {1e20, 'f', -1, "100000000000000000000"},
    {123456789.123, 'g', -1, "1.23456789123e+08"},
    {123456789.123, 'e', -1, "1.23456789123e+08"},
    {123456789.123, 'f', -1, "123456789.123"},
    {123456789.123, 'g', 0, "1e+08"},
    {123456789.123, 'g', 5, "1.2346e+08"},
    {123456789.123, 'g', 9, "123456789"},
    {123456789.123, 'g', 10, "123456789.1"},
    {123456789.123, 'g', 12, "123456789.123"},
    {123456789.123, 'f', 2, "123456789.12"},
    {123456789.123, 'e', 3, "1.235e+08"},
    {0.1, 'g', -1, "0.1"},
    {0.1, 'e', -1, "1e-01"},
    {0.1, 'f', -1, "0.1"},
    {0.1, 'g', 20, "0.10000000000000000555"},
    {1.0 / 3, 'g', -1, "0.3333333333333333"},
    {1.0 / 3, 'e', -1, "3.333333333333333e-01"},
    {1.0 / 3, 'g', 0, "0.3"},
    {5e-324, 'g', -1, "5e-324"},
    {5e-324, 'e', -1, "5e-324"},
    {5e-324, 'g', 17, "4.9406564584124654e-324"},
    {1.7976931348623157e308, 'g', -1, "1.7976931348623157e+308"},
    {1.7976931348623157e308, 'E', -1, "1.7976931348623157E+308"},
    {100, 'g', -1, "100"},
    {100, 'e', -1, "1e+02"},
    {100, 'g', 1, "1e+02"},
    {100, 'g', 2, "1e+02"},
    {100, 'g', 3, "100"},
    {100, 'G', 2, "1E+02"},
    {1e-5, 'g', -1, "1e-05"},
    {1e-5, 'f', -1, "0.00001"},
    {1e-5, 'e', -1, "1e-05"},
    {1e-7, 'g', -1, "1e-07"},
    {1e-7, 'f', -1, "0.0000001"},
    {2.5e-5, 'g', -1, "2.5e-05"},
    {2.5e-5, 'f', -1, "0.000025"},
    {2.5e-5, 'e', -1, "2.5e-05"},
    {0.0001, 'g', -1, "0.0001"},
    {1e6, 'g', -1, "1e+06"},
    {123456, 'g', -1, "123456"},
    {1234567, 'g', -1, "1.234567e+06"},
    {123456, 'g', 3, "1.23e+05"},
    {1e23, 'g', -1, "1e+23"},
    {1e23, 'g', 17, "9.9999999999999992e+22"},
    {9007199254740992.0, 'g', -1, "9.007199254740992e+15"},
    {9007199254740992.0, 'f', -1, "9007199254740992"},
    {2.2250738585072014e-308, 'g', -1, "2.2250738585072014e-308"},
    /* 2^-24: the interval below a power of two is half as wide; 16 digits, rounded up */
    {5.9604644775390625e-08, 'g', -1, "5.960464477539063e-08"},
    {1.5, 'g', 0, "2"},
    {2.5, 'g', 0, "2"},
    {2.5, 'f', 0, "2"},
    {0.5, 'f', 0, "0"},
    {1.5, 'E', 2, "1.50E+00"},
    {-1.5, 'e', -1, "-1.5e+00"},
    {3, 'g', 5, "3"},
    {NAN, 'g', -1, "NaN"},
    {INFINITY, 'f', 3, "+Inf"},
    {-INFINITY, 'e', -1, "-Inf"},
};

TEST(gofloat_known_go_outputs)
{
    for (size_t i = 0; i < sizeof(go_cases) / sizeof(go_cases[0]); i++) {
        const go_case_t *c = &go_cases[i];
        ASSERT_STR_EQ(fmtf(c->v, c->fmt, c->prec), c->want);
    }
}

/* v = d.ddd...e<exp> patterns: `rep` repeated after a lead digit, for every precision. */
static void expect_pattern(char *want, size_t n, const char *head, char rep, int count,
                           const char *tail)
{
    size_t len = (size_t)snprintf(want, n, "%s", head);
    for (int i = 0; i < count && len + 1 < n; i++) {
        want[len++] = rep;
    }
    snprintf(want + len, n - len, "%s", tail);
}

TEST(gofloat_precisions_0_to_17)
{
    char want[400];
    for (int p = 0; p <= 17; p++) {
        /* 100, 1e21 and 0 are exact: zeros at every precision */
        expect_pattern(want, sizeof(want), p > 0 ? "1." : "1", '0', p, "e+02");
        ASSERT_STR_EQ(fmtf(100, 'e', p), want);
        expect_pattern(want, sizeof(want), p > 0 ? "100." : "100", '0', p, "");
        ASSERT_STR_EQ(fmtf(100, 'f', p), want);
        ASSERT_STR_EQ(fmtf(100, 'g', p), p >= 3 ? "100" : "1e+02");
        expect_pattern(want, sizeof(want), p > 0 ? "1." : "1", '0', p, "e+21");
        ASSERT_STR_EQ(fmtf(1e21, 'e', p), want);
        expect_pattern(want, sizeof(want),
                       p > 0 ? "1000000000000000000000." : "1000000000000000000000", '0', p, "");
        ASSERT_STR_EQ(fmtf(1e21, 'f', p), want);
        ASSERT_STR_EQ(fmtf(1e21, 'g', p), "1e+21");
        expect_pattern(want, sizeof(want), p > 0 ? "0." : "0", '0', p, "e+00");
        ASSERT_STR_EQ(fmtf(0, 'e', p), want);
        expect_pattern(want, sizeof(want), p > 0 ? "0." : "0", '0', p, "");
        ASSERT_STR_EQ(fmtf(0, 'f', p), want);
        ASSERT_STR_EQ(fmtf(5e-324, 'f', p), want);
        ASSERT_STR_EQ(fmtf(0, 'g', p), "0");
        /* 1/3 = 0.333333333333333314829616256247...: 16 threes, then ...31 */
        expect_pattern(want, sizeof(want), p > 0 ? "3." : "3", '3', p, "e-01");
        ASSERT_STR_EQ(fmtf(1.0 / 3, 'e', p), p == 16   ? "3.3333333333333331e-01"
                                             : p == 17 ? "3.33333333333333315e-01"
                                                       : want);
        expect_pattern(want, sizeof(want), p > 0 ? "0." : "0", '3', p, "");
        ASSERT_STR_EQ(fmtf(1.0 / 3, 'f', p), p == 17 ? "0.33333333333333331" : want);
        if (p > 0) {
            ASSERT_STR_EQ(fmtf(1.0 / 3, 'g', p), p == 17 ? "0.33333333333333331" : want);
        }
        /* 0.1 = 0.1000000000000000055511151231257827... */
        expect_pattern(want, sizeof(want), p > 0 ? "1." : "1", '0', p, "e-01");
        ASSERT_STR_EQ(fmtf(0.1, 'e', p), p == 17   ? "1.00000000000000006e-01"
                                         : p == 16 ? "1.0000000000000001e-01"
                                                   : want);
        expect_pattern(want, sizeof(want), p > 0 ? "0.1" : "0", '0', p - 1, "");
        ASSERT_STR_EQ(fmtf(0.1, 'f', p), p == 17 ? "0.10000000000000001" : want);
        ASSERT_STR_EQ(fmtf(0.1, 'g', p), p == 17 ? "0.10000000000000001" : "0.1");
    }
}

TEST(gofloat_precisions_of_extremes)
{
    /* 2^-1074 = 4.94065645841246544176568792868221...e-324 */
    static const char *const tiny_e[] = {"5e-324",
                                         "4.9e-324",
                                         "4.94e-324",
                                         "4.941e-324",
                                         "4.9407e-324",
                                         "4.94066e-324",
                                         "4.940656e-324",
                                         "4.9406565e-324",
                                         "4.94065646e-324",
                                         "4.940656458e-324",
                                         "4.9406564584e-324",
                                         "4.94065645841e-324",
                                         "4.940656458412e-324",
                                         "4.9406564584125e-324",
                                         "4.94065645841247e-324",
                                         "4.940656458412465e-324",
                                         "4.9406564584124654e-324",
                                         "4.94065645841246544e-324"};
    /* max = 1.79769313486231570814527423731704...e+308 */
    static const char *const max_e[] = {"2e+308",
                                        "1.8e+308",
                                        "1.80e+308",
                                        "1.798e+308",
                                        "1.7977e+308",
                                        "1.79769e+308",
                                        "1.797693e+308",
                                        "1.7976931e+308",
                                        "1.79769313e+308",
                                        "1.797693135e+308",
                                        "1.7976931349e+308",
                                        "1.79769313486e+308",
                                        "1.797693134862e+308",
                                        "1.7976931348623e+308",
                                        "1.79769313486232e+308",
                                        "1.797693134862316e+308",
                                        "1.7976931348623157e+308",
                                        "1.79769313486231571e+308"};
    for (int p = 0; p <= 17; p++) {
        ASSERT_STR_EQ(fmtf(5e-324, 'e', p), tiny_e[p]);
        ASSERT_STR_EQ(fmtf(DBL_MAX, 'e', p), max_e[p]);
    }
    ASSERT_STR_EQ(fmtf(DBL_MAX, 'g', 3), "1.8e+308");
    ASSERT_STR_EQ(fmtf(DBL_MAX, 'g', 4), "1.798e+308");
    ASSERT_STR_EQ(fmtf(5e-324, 'g', 8), "4.9406565e-324");
    const char *f = fmtf(5e-324, 'f', -1); /* 0. then 323 zeros then 5 */
    ASSERT_EQ(strlen(f), 2 + 323 + 1);
    ASSERT_EQ(strspn(f + 2, "0"), 323);
    ASSERT_STR_EQ(f + 325, "5");
    f = fmtf(DBL_MAX, 'f', -1); /* 17 digits then zeros: 309 in all */
    ASSERT_EQ(strlen(f), 309);
    ASSERT_TRUE(strncmp(f, "17976931348623157", 17) == 0);
    ASSERT_EQ(strspn(f + 17, "0"), 309 - 17);
}

TEST(gofloat_truncates_like_snprintf_and_appends)
{
    char small[5];
    ASSERT_EQ(gofloat_format(123456.5, 'f', -1, small, sizeof(small)), 8);
    ASSERT_STR_EQ(small, "1234");
    ASSERT_EQ(gofloat_format(0.25, 'g', -1, NULL, 0), 4);
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "x=");
    gofloat_append(&b, 2.5e-5, 'g', -1);
    gofloat_append(&b, 1, 'f', 500); /* longer than the stack buffer */
    ASSERT_EQ(b.len, 2 + 7 + 502);
    ASSERT_TRUE(strncmp(b.data, "x=2.5e-051.000", 14) == 0);
    ASSERT_EQ(strlen(b.data), b.len);
    buf_fini(&b);
}

TEST(gofloat_prom_and_json_forms)
{
    char o[GOFLOAT_SHORTEST_MAX];
    gofloat_prom(1e21, o, sizeof(o));
    ASSERT_STR_EQ(o, "1000000000000000000000");
    gofloat_prom(-INFINITY, o, sizeof(o));
    ASSERT_STR_EQ(o, "-Inf");
    gofloat_prom(-0.0, o, sizeof(o));
    ASSERT_STR_EQ(o, "-0");
    gofloat_json(1e-7, o, sizeof(o));
    ASSERT_STR_EQ(o, "1e-7");
    gofloat_json(1.25e-10, o, sizeof(o));
    ASSERT_STR_EQ(o, "1.25e-10");
    gofloat_json(1e21, o, sizeof(o));
    ASSERT_STR_EQ(o, "1e+21");
    gofloat_json(1e-6, o, sizeof(o));
    ASSERT_STR_EQ(o, "0.000001");
}

/* Digits of a shortest 'e' form: count of significant digits and the mantissa digits. */
static int sig_digits(const char *e_form)
{
    int n = 0;
    for (const char *c = e_form; *c != 'e'; c++) {
        n += *c >= '0' && *c <= '9';
    }
    return n;
}

/* No p-digit decimal parses back to v: the two p-digit decimals around v (truncation and
 * one unit above it) are the only candidates. */
static int no_form_with(double v, int p)
{
    char t[64];
    snprintf(t, sizeof(t), "%.*e", p + 2, v); /* enough to truncate from */
    char digits[40];
    int nd = 0;
    char *e = strchr(t, 'e');
    for (char *c = t; c < e; c++) {
        if (*c >= '0' && *c <= '9') {
            digits[nd++] = *c;
        }
    }
    int exp = atoi(e + 1);
    for (int up = 0; up <= 1; up++) {
        unsigned long long m = 0;
        for (int i = 0; i < p; i++) {
            m = m * 10 + (unsigned long long)(digits[i] - '0');
        }
        m += (unsigned long long)up;
        char cand[64];
        snprintf(cand, sizeof(cand), "%llue%d", m, exp - p + 1);
        if (strtod(cand, NULL) == v) {
            return 0;
        }
    }
    return 1;
}

TEST(gofloat_random_shortest_round_trips_and_is_minimal)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double v;
        uint64_t bits = s & 0x7fffffffffffffffULL;
        if (i % 4 == 1) {
            bits &= ~0x000fffffffffffffULL; /* powers of two: the lopsided intervals */
        }
        memcpy(&v, &bits, sizeof(v));
        if (i % 4 == 2) {
            v = (double)(s % 1000000) / 1000; /* short decimals */
        }
        if (!isfinite(v) || v == 0) {
            continue;
        }
        char e[32];
        gofloat_format(v, 'e', -1, e, sizeof(e));
        ASSERT_TRUE(strtod(e, NULL) == v);
        ASSERT_TRUE(strtod(fmtf(v, 'f', -1), NULL) == v);
        ASSERT_TRUE(strtod(fmtf(v, 'g', -1), NULL) == v);
        int p = sig_digits(e);
        if (p > 1 && !no_form_with(v, p - 1)) {
            TEST_FAIL_("%.17g has a %d-digit form; got %s", v, p - 1, e);
        }
    }
}

TEST(gofloat_every_power_of_two_is_shortest)
{
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1, e);
        char out[32];
        gofloat_format(v, 'e', -1, out, sizeof(out));
        ASSERT_TRUE(strtod(out, NULL) == v);
        int p = sig_digits(out);
        if (p > 1 && !no_form_with(v, p - 1)) {
            TEST_FAIL_("2^%d has a %d-digit form; got %s", e, p - 1, out);
        }
    }
}
