/* tests/fuzz/fuzz_jsonw.c - libFuzzer target for the JSON writer. The first input byte picks
 * a mode, the rest is the data:
 *   0: jsonw_strn(data); invariant: jansson parses the output back to a string, equal to the
 *      input whenever the input is valid UTF-8 (jansson's own check is the oracle).
 *   1: the first 8 bytes as a double; invariant: prom_float_format and jsonw_double output
 *      parse back to the same value (NaN and infinities spelled as Prometheus does). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonw.h"

static void check_string(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_strn(w, s, n);
    jsonw_free(w);
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL || !json_is_string(v)) {
        abort();
    }
    json_t *oracle = json_stringn(s, n); /* NULL: not valid UTF-8 */
    if (oracle != NULL && (json_string_length(v) != n || memcmp(json_string_value(v), s, n))) {
        abort();
    }
    json_decref(oracle);
    json_decref(v);
    buf_fini(&b);
}

static void check_float(double v)
{
    char out[400];
    size_t n = prom_float_format(v, out, sizeof(out));
    if (n >= sizeof(out)) {
        abort();
    }
    if (isnan(v)) { /* any NaN, whatever its sign and payload, is "NaN" */
        if (strcmp(out, "NaN") != 0) {
            abort();
        }
        return;
    }
    double back = strcmp(out, "+Inf") == 0 ? INFINITY : strtod(out, NULL);
    if (back != v || signbit(back) != signbit(v)) {
        abort();
    }
    if (!isfinite(v)) {
        return;
    }
    buf_t b;
    buf_init(&b);
    jsonw_t *w = jsonw_new(&b);
    jsonw_double(w, v);
    jsonw_free(w);
    if (strtod(b.data, NULL) != v) {
        abort();
    }
    buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        check_string((const char *)data + 1, size - 1);
    } else if (size >= 9) {
        double v;
        memcpy(&v, data + 1, sizeof(v));
        check_float(v);
    }
    return 0;
}
