/* tests/unit/test_jsonw.c - streaming JSON writer: nesting, escaping, Go float forms. */
#include <jansson.h>
#include <math.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "test.h"

static const char *prom(double v)
{
    static char out[400];
    prom_float_format(v, out, sizeof(out));
    return out;
}

/* Runs one writer call on a fresh buffer and returns the bytes (static storage). */
static const char *str_json(const char *s, size_t n)
{
    static char out[256];
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_strn(w, s, n);
    jsonw_free(w);
    snprintf(out, sizeof(out), "%s", b.data);
    buf_fini(&b);
    return out;
}

static const char *double_json(double v)
{
    static char out[64];
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_double(w, v);
    jsonw_free(w);
    snprintf(out, sizeof(out), "%s", b.data);
    buf_fini(&b);
    return out;
}

static const char *time_json(int64_t ms)
{
    static char out[64];
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_prom_time(w, ms);
    jsonw_free(w);
    snprintf(out, sizeof(out), "%s", b.data);
    buf_fini(&b);
    return out;
}

TEST(jsonw_nesting_and_commas)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_obj_begin(w);
    jsonw_key(w, "a");
    jsonw_arr_begin(w);
    jsonw_int(w, 1);
    jsonw_int(w, -2);
    jsonw_obj_begin(w);
    jsonw_key(w, "b");
    jsonw_null(w);
    jsonw_obj_end(w);
    jsonw_arr_begin(w);
    jsonw_arr_end(w);
    jsonw_arr_end(w);
    jsonw_key(w, "c");
    jsonw_bool(w, 1);
    jsonw_key(w, "d");
    jsonw_str(w, "x");
    jsonw_key(w, "e");
    jsonw_raw(w, "{\"r\":1}");
    jsonw_key(w, "f");
    jsonw_obj_begin(w);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
    jsonw_free(w);
    ASSERT_STR_EQ(b.data, "{\"a\":[1,-2,{\"b\":null},[]],\"c\":true,\"d\":\"x\",\"e\":{\"r\":1},"
                          "\"f\":{}}");
    buf_fini(&b);
}

TEST(jsonw_top_level_sequence_has_no_commas)
{
    /* Several top-level values (e.g. one per stream line) are not separated. */
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_int(w, 1);
    jsonw_free(w);
    ASSERT_STR_EQ(b.data, "1");
    buf_fini(&b);
}

TEST(jsonw_escapes_like_go)
{
    ASSERT_STR_EQ(str_json("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    ASSERT_STR_EQ(str_json("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    ASSERT_STR_EQ(str_json("\x01\x1f", 2), "\"\\u0001\\u001f\"");
    ASSERT_STR_EQ(str_json("<a&b>", 5), "\"\\u003ca\\u0026b\\u003e\"");
    ASSERT_STR_EQ(str_json("nul\0x", 5), "\"nul\\u0000x\"");
    ASSERT_STR_EQ(str_json("\x7f", 1), "\"\x7f\"");
}

TEST(jsonw_keeps_valid_utf8)
{
    ASSERT_STR_EQ(str_json("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
    ASSERT_STR_EQ(str_json("\xe2\x82\xac", 3), "\"\xe2\x82\xac\"");
    ASSERT_STR_EQ(str_json("\xf0\x9f\x94\xa5", 4), "\"\xf0\x9f\x94\xa5\"");
    /* Go escapes the JavaScript line separators. */
    ASSERT_STR_EQ(str_json("\xe2\x80\xa8", 3), "\"\\u2028\"");
    ASSERT_STR_EQ(str_json("\xe2\x80\xa9", 3), "\"\\u2029\"");
}

TEST(jsonw_replaces_invalid_utf8_per_byte)
{
    ASSERT_STR_EQ(str_json("a\xff"
                           "b",
                           3),
                  "\"a\\ufffdb\"");
    /* truncated 3-byte sequence: each byte replaced */
    ASSERT_STR_EQ(str_json("\xe2\x82", 2), "\"\\ufffd\\ufffd\"");
    /* overlong '/' */
    ASSERT_STR_EQ(str_json("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
    /* UTF-16 surrogate half */
    ASSERT_STR_EQ(str_json("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    /* above U+10FFFF */
    ASSERT_STR_EQ(str_json("\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* lone continuation byte followed by valid text */
    ASSERT_STR_EQ(str_json("\x80\xc3\xa9", 3), "\"\\ufffd\xc3\xa9\"");
}

TEST(prom_float_fixed_range)
{
    ASSERT_STR_EQ(prom(0.1), "0.1");
    ASSERT_STR_EQ(prom(0.3), "0.3");
    ASSERT_STR_EQ(prom(1.0 / 3.0), "0.3333333333333333");
    ASSERT_STR_EQ(prom(123456789.123), "123456789.123");
    ASSERT_STR_EQ(prom(100), "100");
    ASSERT_STR_EQ(prom(2.5), "2.5");
    ASSERT_STR_EQ(prom(-42.25), "-42.25");
    ASSERT_STR_EQ(prom(0), "0");
    ASSERT_STR_EQ(prom(-0.0), "-0");
    ASSERT_STR_EQ(prom(1e-6), "0.000001");
    ASSERT_STR_EQ(prom(1.5e-6), "0.0000015");
    ASSERT_STR_EQ(prom(1e20), "100000000000000000000");
    ASSERT_STR_EQ(prom(9007199254740993.0), "9007199254740992");
    ASSERT_STR_EQ(prom(1234567890123456789.0), "1234567890123456800");
    ASSERT_STR_EQ(prom(0.1 + 0.2), "0.30000000000000004");
}

TEST(prom_float_never_uses_exponents)
{
    /* Checked against Prometheus 2.42's /api/v1/query output. */
    ASSERT_STR_EQ(prom(1e21), "1000000000000000000000");
    ASSERT_STR_EQ(prom(1e-7), "0.0000001");
    ASSERT_STR_EQ(prom(-2.5e-9), "-0.0000000025");
    char want[400] = "179769313486231570";
    for (int i = 0; i < 291; i++) {
        strcat(want, "0");
    }
    ASSERT_STR_EQ(prom(1.7976931348623157e308), want);
    strcpy(want, "0.");
    for (int i = 0; i < 323; i++) {
        strcat(want, "0");
    }
    strcat(want, "5");
    ASSERT_STR_EQ(prom(5e-324), want);
    ASSERT_EQ(strlen(prom(-5e-324)), 327);
    ASSERT_STR_EQ(prom(NAN), "NaN");
    ASSERT_STR_EQ(prom(INFINITY), "+Inf");
    ASSERT_STR_EQ(prom(-INFINITY), "-Inf");
}

TEST(prom_float_truncates_to_buffer_and_reports_length)
{
    char small[4];
    ASSERT_EQ(prom_float_format(123456.5, small, sizeof(small)), 8);
    ASSERT_STR_EQ(small, "123");
}

TEST(jsonw_prom_float_is_a_string)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_arr_begin(w);
    jsonw_prom_time(w, 1435781451781);
    jsonw_prom_float(w, 1.5);
    jsonw_prom_float(w, NAN);
    jsonw_arr_end(w);
    jsonw_free(w);
    ASSERT_STR_EQ(b.data, "[1435781451.781,\"1.5\",\"NaN\"]");
    buf_fini(&b);
}

TEST(jsonw_double_like_encoding_json)
{
    ASSERT_STR_EQ(double_json(1.5), "1.5");
    ASSERT_STR_EQ(double_json(1e21), "1e+21");
    ASSERT_STR_EQ(double_json(1e-7), "1e-7");
    ASSERT_STR_EQ(double_json(1.25e-10), "1.25e-10");
    ASSERT_STR_EQ(double_json(300), "300");
    ASSERT_STR_EQ(double_json(NAN), "null");
    ASSERT_STR_EQ(double_json(-INFINITY), "null");
}

TEST(jsonw_prom_time_like_prometheus)
{
    ASSERT_STR_EQ(time_json(1435781451781), "1435781451.781");
    ASSERT_STR_EQ(time_json(1500), "1.500");
    ASSERT_STR_EQ(time_json(1050), "1.050");
    ASSERT_STR_EQ(time_json(1001), "1.001");
    ASSERT_STR_EQ(time_json(100000), "100");
    ASSERT_STR_EQ(time_json(1000), "1");
    ASSERT_STR_EQ(time_json(5), "0.005");
    ASSERT_STR_EQ(time_json(0), "0");
    ASSERT_STR_EQ(time_json(-1500), "-1.500");
    ASSERT_STR_EQ(time_json(-500), "-0.500");
    ASSERT_STR_EQ(time_json(-2000), "-2");
    ASSERT_STR_EQ(time_json(INT64_MIN), "-9223372036854775.808");
}

TEST(jsonw_json_from_jansson_keeps_order_and_go_forms)
{
    json_t *v = json_pack("{s:i,s:f,s:[s,b,n],s:s}", "z", 3, "a", 0.1, "list", "<x>", 1, "s",
                          "caf\xc3\xa9");
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_json(w, v);
    jsonw_free(w);
    ASSERT_STR_EQ(
        b.data,
        "{\"z\":3,\"a\":0.1,\"list\":[\"\\u003cx\\u003e\",true,null],\"s\":\"caf\xc3\xa9\"}");
    buf_fini(&b);
    json_decref(v);
}

TEST(jsonw_quote_go_versions)
{
    buf_t b;
    buf_init(&b);
    jsonw_quote(&b, "a\b<\xff\xe2\x80\xa8", 7, 0);
    ASSERT_STR_EQ(b.data, "\"a\\b\\u003c\\ufffd\\u2028\"");
    buf_reset(&b);
    jsonw_quote(&b, "\b\f\n", 3, JSONW_QUOTE_GO_LEGACY);
    ASSERT_STR_EQ(b.data, "\"\\u0008\\u000c\\n\"");
    buf_fini(&b);
}
