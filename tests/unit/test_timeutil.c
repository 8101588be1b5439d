/* tests/unit/test_timeutil.c - durations (Prometheus and Go), API timestamps, RFC 3339. */
#include <stdint.h>

#include "common/timeutil.h"
#include "test.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)

TEST(duration_parse_valid)
{
    struct {
        const char *in;
        int64_t ms;
    } cases[] = {
        {"0", 0},           {"0s", 0},           {"1ms", 1},
        {"500ms", 500},     {"15s", 15 * S},     {"5m", 5 * M},
        {"1h30m", H + 30 * M}, {"2d", 2 * D},    {"1w", 7 * D},
        {"1y", 365 * D},
        {"1y2w3d4h5m6s7ms", 365 * D + 14 * D + 3 * D + 4 * H + 5 * M + 6 * S + 7},
        {"90d", 90 * D},    {"0y0s", 0},         {"106751d", 106751 * D},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ms = -1;
        ASSERT_EQ(duration_parse(cases[i].in, &ms, &err), 0);
        ASSERT_EQ(ms, cases[i].ms);
    }
}

TEST(duration_parse_errors)
{
    const char *cases[][2] = {
        {"", "empty duration string"},
        {"1", "not a valid duration string: \"1\""},
        {"1.5h", "unknown unit \".\" in duration \"1.5h\""},
        {"h", "not a valid duration string: \"h\""},
        {"1m1h", "not a valid duration string: \"1m1h\""},
        {"1s1s", "not a valid duration string: \"1s1s\""},
        {"-1s", "not a valid duration string: \"-1s\""},
        {"1x", "unknown unit \"x\" in duration \"1x\""},
        {"1 s", "unknown unit \" s\" in duration \"1 s\""},
        {"300y", "duration out of range"},
        {"106752d", "duration out of range"},
        {"99999999999999999999s", "not a valid duration string: \"99999999999999999999s\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ms;
        ASSERT_EQ(duration_parse(cases[i][0], &ms, &err), -1);
        ASSERT_EQ(err.code, ERR_BAD_DATA);
        ASSERT_STR_EQ(err.msg, cases[i][1]);
    }
}

TEST(duration_format_like_prometheus)
{
    struct {
        int64_t ms;
        const char *out;
    } cases[] = {
        {0, "0s"},          {1, "1ms"},           {1500, "1s500ms"},
        {5 * M, "5m"},      {H + 30 * M, "1h30m"}, {D, "1d"},
        {7 * D, "1w"},      {8 * D, "8d"},        {90 * D, "90d"},
        {365 * D, "1y"},    {366 * D, "366d"},    {14 * D, "2w"},
        {M + 30 * S + 500, "1m30s500ms"},         {-5 * M, "-5m"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        duration_format(cases[i].ms, out, sizeof(out));
        ASSERT_STR_EQ(out, cases[i].out);
        if (cases[i].ms >= 0) { /* format -> parse round trip */
            err_t err = {0};
            int64_t back;
            ASSERT_EQ(duration_parse(out, &back, &err), 0);
            ASSERT_EQ(back, cases[i].ms);
        }
    }
}

TEST(go_duration_parse_cases)
{
    struct {
        const char *in;
        int64_t ns;
    } cases[] = {
        {"0", 0},
        {"1.5h", 5400000000000LL},
        {"300ms", 300000000LL},
        {"-2m", -120000000000LL},
        {"+2m", 120000000000LL},
        {"1h2m3.5s", 3723500000000LL},
        {"1\xc2\xb5s", 1000},
        {"1\xce\xbcs", 1000},
        {"1us", 1000},
        {"10ns", 10},
        {".5s", 500000000LL},
        {"1.s", 1000000000LL},
        {"1s1s", 2000000000LL},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"-2562047h47m16.854775808s", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ns = -1;
        if (go_duration_parse(cases[i].in, &ns, &err) != 0) {
            TEST_FAIL_("%s: %s", cases[i].in, err.msg);
        }
        ASSERT_EQ(ns, cases[i].ns);
    }
    const char *bad[][2] = {
        {"", "time: invalid duration \"\""},
        {"1", "time: missing unit in duration \"1\""},
        {"1x", "time: unknown unit \"x\" in duration \"1x\""},
        {".s", "time: invalid duration \".s\""},
        {"-", "time: invalid duration \"-\""},
        {"2562047h47m16.854775808s", "time: invalid duration \"2562047h47m16.854775808s\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err = {0};
        int64_t ns;
        ASSERT_EQ(go_duration_parse(bad[i][0], &ns, &err), -1);
        ASSERT_STR_EQ(err.msg, bad[i][1]);
    }
}

TEST(go_duration_format_cases)
{
    struct {
        int64_t ns;
        const char *out;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {2200000, "2.2ms"},
        {3300000000LL, "3.3s"},
        {60000000000LL, "1m0s"},
        {3600000000000LL, "1h0m0s"},
        {3723500000000LL, "1h2m3.5s"},
        {-4000000000LL, "-4s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        go_duration_format(cases[i].ns, out, sizeof(out));
        ASSERT_STR_EQ(out, cases[i].out);
        err_t err = {0};
        int64_t back;
        ASSERT_EQ(go_duration_parse(out, &back, &err), 0);
        ASSERT_EQ(back, cases[i].ns);
    }
}

TEST(rfc3339_parse_cases)
{
    struct {
        const char *in;
        int64_t ns;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2025-03-02T10:04:05Z", 1740909845000000000LL},
        {"2025-03-02T10:04:05.123Z", 1740909845123000000LL},
        {"2025-03-02T10:04:05.123456789Z", 1740909845123456789LL},
        {"2025-03-02T12:04:05.5+02:00", 1740909845500000000LL},
        {"2025-03-02T05:34:05-04:30", 1740909845000000000LL},
        {"1969-12-31T23:59:59.9Z", -100000000LL},
        {"2024-02-29T00:00:00Z", 1709164800000000000LL},
        {"2000-02-29T00:00:00Z", 951782400000000000LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ns = 0;
        if (rfc3339_parse_ns(cases[i].in, &ns, &err) != 0) {
            TEST_FAIL_("%s: %s", cases[i].in, err.msg);
        }
        ASSERT_EQ(ns, cases[i].ns);
    }
    const char *bad[] = {
        "2025-03-02 10:04:05Z", "2025-03-02T10:04:05",      "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2025-13-01T00:00:00Z",     "2025-03-02T24:00:00Z",
        "2025-03-02T10:60:00Z", "2025-03-02T10:04:60Z",     "2025-03-02T10:04:05.Z",
        "2025-03-02T10:04:05+0200", "2025-03-02T10:04:05.1234567891Z", "25-03-02T10:04:05Z",
        "2025-03-02T10:04:05Zjunk",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err = {0};
        int64_t ns;
        if (rfc3339_parse_ns(bad[i], &ns, &err) == 0) {
            TEST_FAIL_("accepted %s", bad[i]);
        }
        ASSERT_EQ(err.code, ERR_BAD_DATA);
    }
}

TEST(timestamp_format_cases)
{
    char out[64];
    timestamp_format_rfc3339(1740909845123LL, out, sizeof(out));
    ASSERT_STR_EQ(out, "2025-03-02T10:04:05.123Z");
    timestamp_format_rfc3339(0, out, sizeof(out));
    ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
    timestamp_format_rfc3339(-1, out, sizeof(out));
    ASSERT_STR_EQ(out, "1969-12-31T23:59:59.999Z");
    timestamp_format_rfc3339nano(1740909845123400000LL, out, sizeof(out));
    ASSERT_STR_EQ(out, "2025-03-02T10:04:05.1234Z");
    timestamp_format_rfc3339nano(1740909845000000000LL, out, sizeof(out));
    ASSERT_STR_EQ(out, "2025-03-02T10:04:05Z");
    timestamp_format_rfc3339nano(1740909845000000001LL, out, sizeof(out));
    ASSERT_STR_EQ(out, "2025-03-02T10:04:05.000000001Z");
    timestamp_format_rfc3339nano(-1, out, sizeof(out));
    ASSERT_STR_EQ(out, "1969-12-31T23:59:59.999999999Z");
    /* Every week over five centuries round-trips through format and parse. */
    for (int64_t day = -106000; day < 106000; day += 7) {
        int64_t ns = day * 86400LL * 1000000000LL + 123456789;
        int64_t back;
        err_t err = {0};
        timestamp_format_rfc3339nano(ns, out, sizeof(out));
        if (rfc3339_parse_ns(out, &back, &err) != 0 || back != ns) {
            TEST_FAIL_("round trip of %lld via %s", (long long)ns, out);
        }
    }
}

TEST(timestamp_parse_api)
{
    struct {
        const char *in;
        int64_t ms;
    } cases[] = {
        {"1700000000", 1700000000000LL},
        {"1700000000.123", 1700000000123LL},
        {"1700000000.1235", 1700000000124LL},
        {"-1.5", -1500},
        {"1e3", 1000000},
        {"2025-03-02T10:04:05.123Z", 1740909845123LL},
        {"2025-03-02T10:04:05.1239Z", 1740909845123LL},
        {"-292273086-05-16T16:47:06Z", -9223309901257974000LL},
        {"292277025-08-18T07:12:54.999999999Z", 9223309901257974999LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ms = 0;
        ASSERT_EQ(timestamp_parse(cases[i].in, &ms, &err), 0);
        ASSERT_EQ(ms, cases[i].ms);
    }
    const char *bad[] = {"", "abc", " 1", "NaN", "Inf", "1700000000x", "2025-03-02"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err = {0};
        int64_t ms;
        ASSERT_EQ(timestamp_parse(bad[i], &ms, &err), -1);
        char want[128];
        snprintf(want, sizeof(want), "cannot parse \"%s\" to a valid timestamp", bad[i]);
        ASSERT_STR_EQ(err.msg, want);
    }
}

TEST(api_duration_parse_cases)
{
    struct {
        const char *in;
        int64_t ms;
    } cases[] = {
        {"15", 15000}, {"0.5", 500}, {"1m", 60000}, {"1h30m", 5400000}, {"0", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t err = {0};
        int64_t ms = -1;
        ASSERT_EQ(api_duration_parse(cases[i].in, &ms, &err), 0);
        ASSERT_EQ(ms, cases[i].ms);
    }
    err_t err = {0};
    int64_t ms;
    ASSERT_EQ(api_duration_parse("1x", &ms, &err), -1);
    ASSERT_STR_EQ(err.msg, "cannot parse \"1x\" to a valid duration");
    err_clear(&err);
    ASSERT_EQ(api_duration_parse("1e10", &ms, &err), -1);
    ASSERT_STR_EQ(err.msg, "cannot parse \"1e10\" to a valid duration. It overflows int64");
}

TEST(clocks_are_sane)
{
    int64_t now = time_now_ms();
    ASSERT_TRUE(now > 1700000000000LL);
    ASSERT_TRUE(time_now_ns() / 1000000 >= now);
    int64_t m1 = time_mono_ms(), m2 = time_mono_ms();
    ASSERT_TRUE(m2 >= m1);
}
