/* common/jsonw.h - streaming JSON writer into a buf_t, for large responses (query results,
 * series lists) without building a jansson tree. Commas and nesting are tracked for the
 * caller. Single owner, not thread-safe. Floats are written as Prometheus writes sample
 * values when asked (jsonw_prom_float: a JSON string, "NaN", "+Inf", "-Inf", shortest
 * round-trip form as Go's strconv.FormatFloat(v, 'f', -1, 64)). */
#ifndef HERALD_COMMON_JSONW_H
#define HERALD_COMMON_JSONW_H
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct jsonw jsonw_t;

jsonw_t *jsonw_new(buf_t *out); /* writes into out (borrowed) */
void jsonw_free(jsonw_t *w);
void jsonw_obj_begin(jsonw_t *w);
void jsonw_obj_end(jsonw_t *w);
void jsonw_arr_begin(jsonw_t *w);
void jsonw_arr_end(jsonw_t *w);
void jsonw_key(jsonw_t *w, const char *key); /* inside an object, before each value */
void jsonw_str(jsonw_t *w, const char *s);   /* escaped; invalid UTF-8 replaced by U+FFFD */
void jsonw_strn(jsonw_t *w, const char *s, size_t n);
void jsonw_int(jsonw_t *w, int64_t v);
void jsonw_double(jsonw_t *w, double v);     /* JSON number; NaN/Inf written as null */
void jsonw_prom_float(jsonw_t *w, double v); /* "1.5", "NaN", "+Inf" as a string */
void jsonw_bool(jsonw_t *w, int v);
void jsonw_null(jsonw_t *w);
void jsonw_raw(jsonw_t *w, const char *json); /* pre-encoded value */
/* Prometheus sample timestamp: unix seconds with up to 3 decimals, as a JSON number
 * (1435781451.781). */
void jsonw_prom_time(jsonw_t *w, int64_t ms);

/* Formats v as Go's strconv.FormatFloat(v, 'f', -1, 64) would for sample values, except
 * NaN -> "NaN", +Inf -> "+Inf", -Inf -> "-Inf". Returns length. */
size_t prom_float_format(double v, char *out, size_t n);

#endif
