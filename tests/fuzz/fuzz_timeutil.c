/* tests/fuzz/fuzz_timeutil.c - libFuzzer target for the duration and timestamp parsers.
 * Invariant: whatever parses formats back to text that parses to the same value
 * (Prometheus durations, Go durations, RFC 3339 times); the API parsers never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

static void check_round_trips(const char *s)
{
    err_t err = {0};
    int64_t v, back;
    char out[128];
    if (duration_parse(s, &v, &err) == 0) {
        duration_format(v, out, sizeof(out));
        if (duration_parse(out, &back, &err) != 0 || back != v) {
            abort();
        }
    }
    err_clear(&err);
    if (go_duration_parse(s, &v, &err) == 0) {
        go_duration_format(v, out, sizeof(out));
        if (go_duration_parse(out, &back, &err) != 0 || back != v) {
            abort();
        }
    }
    err_clear(&err);
    if (rfc3339_parse_ns(s, &v, &err) == 0) {
        timestamp_format_rfc3339nano(v, out, sizeof(out));
        if (rfc3339_parse_ns(out, &back, &err) != 0 || back != v) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    check_round_trips(s);
    err_t err = {0};
    int64_t v;
    timestamp_parse(s, &v, &err);
    err_clear(&err);
    api_duration_parse(s, &v, &err);
    free(s);
    return 0;
}
