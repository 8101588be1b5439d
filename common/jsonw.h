/* common/jsonw.h - streaming JSON writer into a buf_t, for large responses (query results,
 * series lists) without building a jansson tree. Commas and nesting are tracked for the
 * caller. Single owner, not thread-safe. Strings are escaped as Go's encoding/json escapes
 * them (<, >, & as \u003c..., invalid UTF-8 as \ufffd), so bytes match upstream's. Floats
 * are written as Prometheus writes sample values when asked (jsonw_prom_float). */
#ifndef HERALD_COMMON_JSONW_H
#define HERALD_COMMON_JSONW_H
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/labels.h"

typedef struct jsonw jsonw_t;

jsonw_t *jsonw_new(buf_t *out); /* writes into out (borrowed) */
void jsonw_free(jsonw_t *w);
/* A JSON string literal (with its quotes) as Go's encoding/json writes it: < > & and control
 * characters as \u00XX, U+2028/U+2029 escaped, invalid UTF-8 as \ufffd. Go 1.22+ writes \b
 * and \f; JSONW_QUOTE_GO_LEGACY writes \u0008 and \u000c as older Go (Alertmanager 0.25). */
#define JSONW_QUOTE_GO_LEGACY 0x1u
void jsonw_quote(buf_t *out, const char *s, size_t n, unsigned flags);
void jsonw_obj_begin(jsonw_t *w);
void jsonw_obj_end(jsonw_t *w);
void jsonw_arr_begin(jsonw_t *w);
void jsonw_arr_end(jsonw_t *w);
void jsonw_key(jsonw_t *w, const char *key); /* inside an object, before each value */
void jsonw_str(jsonw_t *w, const char *s);   /* escaped; invalid UTF-8 replaced by U+FFFD */
void jsonw_strn(jsonw_t *w, const char *s, size_t n);
/* A label set as an object {"name":"value",...} in label order; NULL writes {}. */
void jsonw_labels(jsonw_t *w, const labels_t *ls);
void jsonw_int(jsonw_t *w, int64_t v);
void jsonw_double(jsonw_t *w, double v);     /* JSON number; NaN/Inf written as null */
void jsonw_prom_float(jsonw_t *w, double v); /* "1.5", "NaN", "+Inf" as a string */
void jsonw_bool(jsonw_t *w, int v);
void jsonw_null(jsonw_t *w);
void jsonw_raw(jsonw_t *w, const char *json); /* pre-encoded value */
/* A jansson value (borrowed), written as Go's encoding/json would: keys in the object's
 * insertion order, reals with jsonw_double, strings escaped as jsonw_str. */
struct json_t;
void jsonw_json(jsonw_t *w, const struct json_t *v);
/* Prometheus sample timestamp as jsonutil.MarshalTimestamp writes it: unix seconds, then
 * '.' and the milliseconds padded to 3 digits unless they are 0, as a JSON number
 * (1435781451.781, 1.500, 1.050, 100, -1.500). */
void jsonw_prom_time(jsonw_t *w, int64_t ms);

/* Formats a sample value as Prometheus 2.x's API does: gofloat_prom (common/gofloat.h), i.e.
 * Go's strconv.FormatFloat(v, 'f', -1, 64) (1e21 -> "1000000000000000000000", 1e-7 ->
 * "0.0000001", -0 -> "-0"); NaN -> "NaN", +Inf -> "+Inf", -Inf -> "-Inf". Writes at most
 * n-1 bytes plus NUL; returns the full length (at most 330: size `out` for that). */
size_t prom_float_format(double v, char *out, size_t n);

#endif
